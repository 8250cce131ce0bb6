"""Sweeps: every grid point trained at once equals training it alone."""

from dataclasses import replace

import numpy as np
import pytest

from sae_core.errors import ConfigError
from sae_core.limits import MAX_GRID
from sae_core.sweep import sweep, sweep_members
from sae_core.training import ARTICLE, RECOMMENDED, TrainConfig, train


@pytest.mark.parametrize("base", [replace(ARTICLE, epochs=200), replace(RECOMMENDED, epochs=200)],
                         ids=["article", "recommended"])
def test_every_grid_point_equals_its_own_run(seed_x, base):
    result = sweep(seed_x, base, [3, 8], [0.01, 0.1], [0, 1])
    table = result.table
    assert len(table) == 8 and list(table["point"]) == list(range(8))
    assert sorted(set(zip(table.hidden_dim, table.sparsity_weight, table.seed))) == sorted(
        (h, w, s) for h in (3, 8) for w in (0.01, 0.1) for s in (0, 1))
    for row, trained in zip(table.itertuples(), result.results):
        alone = train(seed_x, replace(base, hidden_dim=row.hidden_dim, sparsity_weight=row.sparsity_weight, seed=row.seed))
        assert trained.feature_activations.shape == (8, row.hidden_dim)
        np.testing.assert_allclose(trained.feature_activations, alone.feature_activations, atol=1e-5)
        assert row.explained_variance == pytest.approx(alone.metrics.explained_variance, abs=1e-5)
        assert row.l0 == alone.metrics.l0 and row.dead_features == alone.metrics.dead_features


@pytest.mark.parametrize("architecture", ["topk", "batchtopk"])
def test_a_topk_sweep_sweeps_k_and_each_point_equals_its_own_run(seed_x, architecture):
    """The TopK family's knob is k: members with different k train as one batched model, and each
    equals the model trained alone with its k (the per-member ranks past k are dropped)."""
    base = TrainConfig(architecture=architecture, epochs=150, lr=0.01, auxk_weight=0.0)
    result = sweep(seed_x, base, [4, 8], [1, 2, 3], [0])
    assert result.knob.name == "k" and "sparsity_weight" not in result.table
    assert sorted(zip(result.table.hidden_dim, result.table.k)) == [(h, k) for h in (4, 8) for k in (1, 2, 3)]
    for row, trained in zip(result.table.to_dict(orient="records"), result.results):
        alone = train(seed_x, replace(base, hidden_dim=row["hidden_dim"], k=row["k"]))
        assert trained.config.k == row["k"]
        np.testing.assert_allclose(trained.feature_activations, alone.feature_activations, atol=1e-5)
        assert row["l0"] == pytest.approx(alone.metrics.l0)
    if architecture == "topk":  # each token keeps at most its member's k features
        assert all(r.metrics.l0 <= r.config.k for r in result.results)


def test_more_sparsity_means_fewer_active_features(seed_x):
    table = sweep(seed_x, replace(ARTICLE, epochs=500), [8], [0.0, 1.0]).table
    dense, sparse = table.sort_values("sparsity_weight").itertuples()
    assert sparse.l0 < dense.l0 and sparse.explained_variance < dense.explained_variance


def test_grid_limits_are_enforced():
    with pytest.raises(ConfigError, match="at least one hidden size, one sparsity weight and one seed"):
        sweep_members(ARTICLE, [], [0.1], [0])
    with pytest.raises(ConfigError, match=f"the limit is {MAX_GRID}"):
        sweep_members(ARTICLE, list(range(1, 20)), [0.1 * i for i in range(1, 5)], list(range(4)))
