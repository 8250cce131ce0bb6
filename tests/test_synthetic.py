"""sae_core.ground_truth.generators: the generators' statistics, determinism and streaming."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sae_core.errors import ConfigError
from sae_core.ground_truth.generators import (EVAL, SparseCombination, SparseCombinationConfig, ToySuperposition,
                                ToySuperpositionConfig, feature_probabilities, make_data)
from torch_threads import one_thread  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


def sparse(**settings) -> SparseCombination:
    return SparseCombination(SparseCombinationConfig(**{"dims": 32, "features": 64, "active": 4.0, **settings}))


def test_sparse_directions_are_unit_vectors_and_x_is_their_combination():
    data = sparse()
    assert data.embedding_FD.shape == (64, 32)
    np.testing.assert_allclose(data.embedding_FD.norm(dim=1).numpy(), 1.0, rtol=1e-5)
    codes_NF, x_ND = data.batch_with_codes(0, 500)
    torch.testing.assert_close(x_ND, codes_NF @ data.embedding_FD)
    assert 0 <= codes_NF.min() and codes_NF.max() <= 1


def test_sparse_mean_active_count_is_k_and_magnitudes_are_uniform():
    codes_NF, _ = sparse().batch_with_codes(0, 20_000)
    active_N = (codes_NF > 0).sum(dim=1).float()
    assert active_N.mean().item() == pytest.approx(4.0, abs=0.05)  # std of the mean ~ 2/141
    on = codes_NF[codes_NF > 0]
    assert on.mean().item() == pytest.approx(0.5, abs=0.01)
    assert (on < 0.25).float().mean().item() == pytest.approx(0.25, abs=0.01)


@pytest.mark.parametrize("decay", [0.5, 1.0, 2.0])
def test_frequency_decay_is_monotone_and_keeps_k(decay):
    p_F = feature_probabilities(64, 4.0, decay)
    assert p_F.sum().item() == pytest.approx(4.0, rel=1e-5)
    assert (p_F.diff() <= 1e-7).all() and p_F.max() <= 1.0
    codes_NF, _ = sparse(frequency_decay=decay).batch_with_codes(0, 20_000)
    observed_F = (codes_NF > 0).float().mean(dim=0)
    np.testing.assert_allclose(observed_F.numpy(), p_F.numpy(), atol=0.015)
    assert observed_F[:8].mean() > observed_F[8:16].mean() > observed_F[-16:].mean()


def test_a_probability_above_one_is_capped_and_the_rest_rescaled():
    p_F = feature_probabilities(10, 5.0, 3.0)  # 1/1^3 would get most of the mass
    assert p_F[0].item() == 1.0 and p_F.sum().item() == pytest.approx(5.0, rel=1e-5)
    assert (p_F <= 1.0).all()


def test_correlated_groups_fire_together_and_keep_their_frequencies():
    independent, _ = sparse().batch_with_codes(0, 20_000)
    grouped, _ = sparse(group_size=4, group_correlation=0.9).batch_with_codes(0, 20_000)

    def same_group_co_firing(codes_NF):
        on = (codes_NF > 0).float()
        return (on[:, 0] * on[:, 1]).mean().item()

    assert (grouped > 0).float().mean().item() == pytest.approx(4 / 64, rel=0.05)
    # independent: p^2 = 1/256; strongly correlated: several times that
    assert same_group_co_firing(independent) == pytest.approx(1 / 256, abs=0.002)
    assert same_group_co_firing(grouped) > 5 / 256
    # features of different groups stay independent
    on = (grouped > 0).float()
    assert (on[:, 0] * on[:, 4]).mean().item() == pytest.approx(1 / 256, abs=0.002)


def test_batches_are_deterministic_per_seed_and_index_and_streams_differ():
    a, b, c = sparse(seed=3), sparse(seed=3), sparse(seed=4)
    torch.testing.assert_close(a.embedding_FD, b.embedding_FD, rtol=0, atol=0)
    assert torch.equal(a.batch(7), b.batch(7))
    assert not torch.equal(a.batch(7), a.batch(8))
    assert not torch.equal(a.batch(7), c.batch(7))
    assert not torch.equal(a.batch(0), a.batch(0, stream=EVAL))
    stream = a.batches(start=5)
    assert torch.equal(next(stream), a.batch(5)) and torch.equal(next(stream), a.batch(6))


def test_toy_model_puts_five_sparse_features_in_two_dims_as_a_pentagon():
    data = ToySuperposition(ToySuperpositionConfig(features=5, dims=2, sparsity=0.9, toy_steps=600))
    assert data.embedding_FD.shape == (5, 2)
    lengths = data.embedding_FD.norm(dim=1)
    assert (lengths > 0.8).all()  # every feature represented
    angles = sorted(math.degrees(math.atan2(y, x)) % 360 for x, y in data.embedding_FD.tolist())
    gaps = np.diff(angles + [angles[0] + 360])
    np.testing.assert_allclose(gaps, 72, atol=6)
    codes_NF, x_ND = data.batch_with_codes(0, 20_000)
    assert (codes_NF == 0).float().mean().item() == pytest.approx(0.9, abs=0.01)
    torch.testing.assert_close(x_ND, codes_NF @ data.embedding_FD)


def test_toy_model_drops_unimportant_features_when_dense():
    # dense features, 4 in 2 dims, importance 0.5^i: only the two most important fit
    data = ToySuperposition(ToySuperpositionConfig(features=4, dims=2, sparsity=0.0, importance_decay=0.5,
                                                   toy_steps=600))
    lengths = data.embedding_FD.norm(dim=1).tolist()
    assert lengths[0] > 0.8 and lengths[1] > 0.8
    assert lengths[2] < 0.3 and lengths[3] < 0.3


def test_toy_model_is_deterministic_per_seed():
    a = ToySuperposition(ToySuperpositionConfig(toy_steps=100, seed=1))
    b = ToySuperposition(ToySuperpositionConfig(toy_steps=100, seed=1))
    assert torch.equal(a.embedding_FD, b.embedding_FD) and torch.equal(a.batch(2), b.batch(2))


@pytest.mark.parametrize("settings, message", [
    ({"dims": 1}, "dims must be a whole number from 2"),
    ({"active": 100.0, "features": 10}, "active features per sample must be a number from 0.01 to 10"),
    ({"group_correlation": 1.0}, "group correlation must be a number from 0 to 0.99"),
    ({"features": 0}, "features must be a whole number from 1"),
])
def test_bad_settings_name_the_problem(settings, message):
    with pytest.raises(ConfigError, match=message):
        sparse(**settings)


def test_make_data_by_key_and_unknown_key():
    assert isinstance(make_data("sparse", dims=8, features=16, active=2.0), SparseCombination)
    with pytest.raises(ConfigError, match="unknown generator 'nope'"):
        make_data("nope")
    with pytest.raises(ConfigError, match="unknown setting for generator 'toy'"):
        make_data("toy", colour=3)
