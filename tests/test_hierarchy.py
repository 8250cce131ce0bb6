"""The hierarchical generator (children fire only with their parent) and absorption against the true
parent directions, checked against counts made sample by sample here."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sae_core import limits
from sae_core.errors import ConfigError
from sae_core.ground_truth import generators
from sae_core.ground_truth.generators import EVAL, Hierarchical, HierarchicalConfig, make_data
from sae_core.ground_truth.hierarchy import mean_absorption, parent_absorption
from sae_core.ground_truth.lab import GroundTruthLab, lab_config
from sae_core.ground_truth.recovery import cosine_matrix

N = 40_000  # samples for the frequency checks


def on_of(config: HierarchicalConfig, n: int = N) -> np.ndarray:
    return Hierarchical(config).batch_with_codes(0, n)[0].numpy() > 0


def test_features_are_laid_out_parents_children_independent():
    data = Hierarchical(HierarchicalConfig(dims=8, parents=3, children=2, independent=5))
    assert data.features == 3 + 3 * 2 + 5 and data.dims == 8
    assert data.children_of == {0: [3, 4], 1: [5, 6], 2: [7, 8]}
    torch.testing.assert_close(data.directions_FD.norm(dim=1), torch.ones(14))


@pytest.mark.parametrize("exclusive", [False, True])
def test_children_never_fire_without_their_parent(exclusive):
    config = HierarchicalConfig(dims=8, parents=4, children=3, independent=2, parent_probability=0.3,
                                child_probability=0.6, exclusive=exclusive)
    on = on_of(config)
    for p in range(4):
        children = on[:, 4 + 3 * p: 4 + 3 * p + 3]
        assert children[~on[:, p]].sum() == 0  # not once in 40,000 samples
        assert children[on[:, p]].sum() > 1000  # and they do fire with it
        if exclusive:
            assert children.sum(axis=1).max() == 1


def within(observed: float, p: float, n: int, sigmas: float = 5.0) -> bool:
    return abs(observed - p) <= sigmas * math.sqrt(p * (1 - p) / n)


def test_frequencies_match_the_declared_probabilities():
    config = HierarchicalConfig(dims=8, parents=2, children=3, independent=4, parent_probability=0.2,
                                child_probability=0.3, independent_probability=0.05)
    on = on_of(config)
    parent = on[:, :2]
    assert within(parent.mean(), 0.2, parent.size)
    child_given_parent = np.concatenate([on[on[:, p], 2 + 3 * p: 5 + 3 * p].ravel() for p in range(2)])
    assert within(child_given_parent.mean(), 0.3, child_given_parent.size)
    assert within(on[:, 8:].mean(), 0.05, on[:, 8:].size)
    # the mean active count the lab sets k from: 2 * 0.2 * (1 + 3 * 0.3) + 4 * 0.05 = 0.96
    assert Hierarchical(config).mean_active == pytest.approx(0.96)
    assert on.sum(axis=1).mean() == pytest.approx(0.96, abs=0.03)


def test_exclusive_children_share_one_slot_equally():
    """Each child drawn with q, then one of those drawn stays: P(a child | parent) = 1 - (1 - q)^C, equal shares."""
    q, C = 0.4, 4
    config = HierarchicalConfig(dims=8, parents=1, children=C, independent=0, parent_probability=0.5,
                                child_probability=q, exclusive=True)
    on = on_of(config)
    with_parent = on[on[:, 0], 1:]
    any_child = 1 - (1 - q) ** C
    assert within(with_parent.any(axis=1).mean(), any_child, len(with_parent))
    for c in range(C):
        assert within(with_parent[:, c].mean(), any_child / C, len(with_parent))
    assert Hierarchical(config).mean_active == pytest.approx(0.5 * (1 + any_child))


def test_batches_are_reproducible_and_streams_differ():
    config = HierarchicalConfig(dims=8, parents=3, children=2, independent=3, seed=5, batch_size=64)
    a, b = Hierarchical(config), Hierarchical(config)
    torch.testing.assert_close(a.batch(7), b.batch(7))
    assert not torch.equal(a.batch(7), a.batch(8))
    assert not torch.equal(a.batch(0), a.batch(0, stream=EVAL))
    codes, x = a.batch_with_codes(3)
    torch.testing.assert_close(x, codes @ a.embedding_FD)  # x = codes @ embedding, features on only
    assert make_data("hierarchical", dims=8, parents=3, children=2, independent=3, seed=5,
                     batch_size=64).batch(7).equal(a.batch(7))


def test_a_batch_is_summed_in_chunks_to_the_same_activations(monkeypatch):
    data = Hierarchical(HierarchicalConfig(dims=8, parents=3, children=2, independent=3, parent_probability=0.5))
    codes, x = data.batch_with_codes(0, 256)
    monkeypatch.setattr(generators, "CHUNK_CELLS", 8 * 5)  # 5 on entries at a time: many chunks
    codes_chunked, x_chunked = data.batch_with_codes(0, 256)
    assert torch.equal(codes, codes_chunked) and (codes > 0).sum() > 100
    torch.testing.assert_close(x_chunked, x)


def test_settings_are_checked_with_one_line_each_at_the_exact_caps():
    cap = limits.MAX_SYNTH_FEATURES
    rare = {"parent_probability": 0.01, "independent_probability": 0.01}
    HierarchicalConfig(parents=cap // 8, children=7, independent=0, **rare).validate()  # 512 x 8 = 4,096: allowed
    with pytest.raises(ConfigError, match=r"^parents x \(1 \+ children\) \+ independent = 4,097 true features is "
                                          r"over the limit of 4,096$"):
        HierarchicalConfig(parents=cap // 8, children=7, independent=1, **rare).validate()
    HierarchicalConfig(parents=1, children=limits.MAX_HIERARCHY_CHILDREN).validate()
    HierarchicalConfig(parents=64, parent_probability=0.5, children=2, child_probability=0.5, independent=0).validate()  # 64
    for kwargs, message in [
        ({"children": limits.MAX_HIERARCHY_CHILDREN + 1}, "children per parent must be a whole number from 1 to 16 (got 17)"),
        ({"parents": limits.MAX_HIERARCHY_PARENTS + 1, "children": 1, "independent": 0},
         "parents must be a whole number from 1 to 512 (got 513)"),
        ({"child_probability": 0.0}, "child probability must be a number from 0.001 to 1 (got 0.0)"),
        ({"exclusive": 1}, "exclusive must be true or false (got 1)"),
        ({"parents": 64, "parent_probability": 0.5, "children": 2, "child_probability": 0.5, "independent": 1,
          "independent_probability": 0.5}, "these counts and probabilities put 64.5 true features on per sample on "
                                           "average, over the limit of 64"),
    ]:
        with pytest.raises(ConfigError) as error:
            HierarchicalConfig(**kwargs).validate()
        assert str(error.value) == message


# ---- absorption on hand-built models -----------------------------------------------------------


def hand_built(absorbing: set[int], seed: int = 0):
    """Samples of a hierarchy in 256 dims, and a model with one latent per true feature whose activations are the
    true codes, except that each parent in ``absorbing`` is silent whenever one of its children fires; the
    absorbing parents' children's decoder rows are child + parent directions (they took over the parent's part)."""
    data = Hierarchical(HierarchicalConfig(dims=256, parents=4, children=3, independent=8, parent_probability=0.3,
                                           child_probability=0.4, seed=seed))
    codes, _ = data.batch_with_codes(0, 4096, stream=EVAL)
    activations = codes.clone()
    decoder = data.directions_FD.clone()
    for p in absorbing:
        kids = data.children_of[p]
        activations[(codes[:, kids] > 0).any(dim=1), p] = 0
        decoder[kids] = data.directions_FD[kids] + data.directions_FD[p]
    return data, codes, activations, decoder


def count_by_hand(codes, activations, parent, children, latent):
    """(share silent with a child, share silent alone), sample by sample."""
    with_child = alone = silent_with = silent_alone = 0
    for code, act in zip(codes.tolist(), activations.tolist()):
        if code[parent] <= 0:
            continue
        if any(code[c] > 0 for c in children):
            with_child += 1
            silent_with += act[latent] <= 0
        else:
            alone += 1
            silent_alone += act[latent] <= 0
    return silent_with / with_child, silent_alone / alone


def test_true_directions_give_no_absorption_and_the_children_lean_as_the_truth_does():
    data, codes, activations, decoder = hand_built(absorbing=set())
    table = parent_absorption(activations, codes, cosine_matrix(data.directions_FD, decoder), data.children_of)
    assert table["latent"].tolist() == [0, 1, 2, 3] and np.allclose(table["cosine"], 1.0)
    assert table["absorption"].tolist() == [0.0] * 4 and table["missed_alone"].tolist() == [0.0] * 4
    d = data.directions_FD.numpy()
    for p, kids in data.children_of.items():  # the true directions' own cosines: random, small in 256 dims
        assert table["child_lean"][p] == pytest.approx(np.mean([d[p] @ d[c] for c in kids]), abs=1e-5)
        assert abs(table["child_lean"][p]) < 0.2
    with_child = [int(((codes[:, p] > 0) & (codes[:, kids] > 0).any(dim=1)).sum()) for p, kids in data.children_of.items()]
    assert table["with_child"].tolist() == with_child and min(with_child) > 200


def test_a_parent_silent_with_its_children_is_fully_absorbed():
    data, codes, activations, decoder = hand_built(absorbing={1, 3})
    table = parent_absorption(activations, codes, cosine_matrix(data.directions_FD, decoder), data.children_of)
    assert table["absorption"].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert table["missed_alone"].tolist() == [0.0] * 4  # alone, the parent's latent still fires
    d = data.directions_FD.numpy()
    for p in (1, 3):  # each child's latent (child + parent) leans on the parent: about cos 45 degrees
        lean = np.mean([d[p] @ (d[c] + d[p]) / np.linalg.norm(d[c] + d[p]) for c in data.children_of[p]])
        assert table["child_lean"][p] == pytest.approx(lean, abs=1e-5) and 0.6 < lean < 0.8
    assert mean_absorption(table) == pytest.approx({"absorption": 0.5, "missed_alone": 0.0,
                                                    "child_lean": table["child_lean"].mean()})


def test_partial_absorption_and_a_moved_parent_latent_match_counts_made_by_hand():
    data, codes, activations, decoder = hand_built(absorbing=set(), seed=2)
    first_child = data.children_of[0][0]
    activations[codes[:, first_child] > 0, 0] = 0  # silent only with its first child
    activations[::3, 0] = 0  # and on every third sample
    # parent 2's latent is latent 20 (an independent feature's slot now points along parent 2)
    activations[:, 20], decoder[20] = activations[:, 2], data.directions_FD[2]
    decoder[2] = data.directions_FD[2] + data.directions_FD[5]
    table = parent_absorption(activations, codes, cosine_matrix(data.directions_FD, decoder), data.children_of)
    assert table["latent"].tolist() == [0, 1, 20, 3]
    for p, kids in data.children_of.items():
        expected = count_by_hand(codes, activations, p, kids, table["latent"][p])
        assert (table["absorption"][p], table["missed_alone"][p]) == pytest.approx(expected)
    assert 0.4 < table["absorption"][0] < 0.9 and 0.2 < table["missed_alone"][0] < 0.45


def test_no_sample_of_a_kind_is_nan_and_skipped_by_the_mean():
    codes = torch.tensor([[1.0, 0.0], [1.0, 0.0]])  # parent 0 on, its child 1 never
    table = parent_absorption(codes, codes, torch.eye(2), {0: [1]})
    assert math.isnan(table["absorption"][0]) and table["missed_alone"][0] == 0.0
    assert math.isnan(mean_absorption(table)["absorption"])


def test_the_lab_reports_absorption_per_architecture_as_its_model_encodes():
    data = Hierarchical(HierarchicalConfig(dims=16, parents=3, children=2, independent=4, parent_probability=0.3,
                                           seed=1))
    configs = [lab_config(a, data, 2.0, 1, epochs=10) for a in ("standard", "topk")]
    result = GroundTruthLab(data, configs, 60.0).run().result()
    assert result.absorption_table()["model"].tolist() == [run.label for run in result.runs]
    codes, x = data.batch_with_codes(0, 4096, stream=EVAL)
    for run, row in zip(result.runs, result.absorption_table().to_dict("records")):
        acts = run.model.encode(x)[0].detach()
        cos = cosine_matrix(data.directions_FD, torch.as_tensor(run.decoder_HD))
        for p, kids in data.children_of.items():
            latent = int(cos[p].argmax())
            assert run.absorption["latent"][p] == latent
            assert (run.absorption["absorption"][p], run.absorption["missed_alone"][p]) == pytest.approx(
                count_by_hand(codes, acts, p, kids, latent))
        assert row["absorption"] == pytest.approx(run.absorption["absorption"].mean())
        assert run.summary()["absorption"] == pytest.approx(row["absorption"], abs=1e-6)
    # other generators report none
    sparse = make_data("sparse", dims=8, features=8, active=2.0)
    other = GroundTruthLab(sparse, [lab_config("topk", sparse, 1.0, epochs=2)], 60.0).run().result()
    assert other.runs[0].absorption is None and other.absorption_table().empty
    assert "absorption" not in other.runs[0].summary()
