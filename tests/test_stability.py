"""Stability across seeds: batched seeds equal separate runs; recovery counts and consensus."""

from dataclasses import replace

import numpy as np
import pytest

from test_recovery import recovered_plainly

from sae_core.features import ReferenceFeature, load_references
from sae_core.stability import match_features, stability
from sae_core.training import ARTICLE, RECOMMENDED, train, train_seeds

SEEDS = [0, 1, 2, 3]


@pytest.fixture(scope="module")
def seed_refs(seed_csv_path):
    return load_references(seed_csv_path)


@pytest.fixture(scope="module")
def seed_csv_path():
    from sae_core.examples import DATA_DIR
    return DATA_DIR / "seed_tokens.csv"


@pytest.mark.parametrize("config", [replace(ARTICLE, epochs=300), replace(RECOMMENDED, epochs=300)],
                         ids=["article", "recommended"])
def test_batched_seeds_equal_each_seed_trained_alone(seed_x, config):
    batched = train_seeds(seed_x, config, SEEDS)
    for seed, together in zip(SEEDS, batched):
        alone = train(seed_x, replace(config, seed=seed))
        np.testing.assert_allclose(together.feature_activations, alone.feature_activations, atol=1e-5)
        np.testing.assert_allclose(together.decoder_directions, alone.decoder_directions, atol=1e-5)
        assert together.metrics.mse == pytest.approx(alone.metrics.mse, rel=1e-4, abs=1e-8)


def test_recovery_counts_agree_with_per_seed_checks(seed_x, seed_tokens, seed_refs):
    config = replace(ARTICLE, epochs=400)
    run = stability(seed_x, config, seed_tokens, seed_refs, SEEDS)
    assert run.seeds == SEEDS and len(run.results) == 4
    for ref in seed_refs:
        expected = sum(recovered_plainly(r.feature_activations, seed_tokens, set(ref.tokens))
                       for r in run.results)  # an independent implementation (test_recovery.py)
        assert run.recovered[ref.name] == expected
    data = run.to_dict()
    assert data["seeds"] == 4 and set(data["recovered"]) == {"animal", "robot/AI", "not an animal"}
    assert all(set(c) >= {"seeds", "active_tokens", "activation", "decoder_direction"} for c in data["consensus"])


def test_recommended_defaults_recover_all_three_features_in_every_of_8_seeds(seed_x, seed_tokens, seed_refs):
    run = stability(seed_x, RECOMMENDED, seed_tokens, seed_refs, 8)
    assert run.recovered == {"animal": 8, "robot/AI": 8, "not an animal": 8}
    named = {c.reference: c.seeds for c in run.consensus if c.reference}
    assert named == {"animal": 8, "robot/AI": 8, "not an animal": 8}


class _Result:
    def __init__(self, acts, directions):
        self.feature_activations = np.asarray(acts, dtype=float)
        self.decoder_directions = np.asarray(directions, dtype=float)


def test_match_features_groups_by_active_set_and_by_direction():
    tokens = ["a", "b", "c"]
    seed0 = _Result([[1, 0, 0], [1, 0, 0], [0, 1, 0]], [[1, 0], [0, 1], [5, 5]])  # F2 dead
    seed1 = _Result([[0, 2], [0, 2], [1, 0]], [[0.1, 1], [1, 0.05]])  # same two features, swapped
    seed2 = _Result([[0.0], [0.0], [0.0]], [[1, 0]])  # only a dead feature
    groups = match_features([seed0, seed1, seed2], tokens)
    assert [(g.seeds, sorted(g.active_tokens)) for g in groups] == [(2, ["a", "b"]), (2, ["c"])]
    assert sorted(groups[0].members) == [(0, 0), (1, 1)]
    np.testing.assert_allclose(groups[0].activation, [1.5, 1.5, 0])


def test_duplicate_features_in_one_seed_count_that_seed_once():
    tokens = ["a", "b"]
    seed0 = _Result([[1, 2], [0, 0]], [[1, 0], [1, 0.01]])
    groups = match_features([seed0], tokens)
    assert len(groups) == 1 and groups[0].seeds == 1 and len(groups[0].members) == 2


def test_references_naming_tokens_not_in_the_table_are_ignored_by_recovery(seed_x, seed_tokens):
    refs = [ReferenceFeature("ghost", frozenset({"unicorn"}))]
    run = stability(seed_x, replace(ARTICLE, epochs=50), seed_tokens, refs, 2)
    assert run.recovered == {"ghost": 0}
