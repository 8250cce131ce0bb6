"""sae_core.features: active sets, recovery of reference features, sidecar files, top tokens."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from sae_core import stability
from sae_core.errors import TableError
from sae_core.features import (
    ACTIVE_FLOOR, ACTIVE_FRACTION, MATCH_COSINE, ReferenceFeature, active_sets, feature_summary, group_duplicates,
    load_references, recovered_by, reference_path, top_tokens,
)
from sae_core.training import RECOMMENDED, train

TOKENS = ["a", "b", "c", "d"]
ACTS = np.array([
    # F0: peak 2.0 -> threshold 0.5 (0.5 itself counts)
    # F1: dead; F2: peak at the floor (not above) -> empty; F3: peak just above the floor
    # F4: only the single peak token
    [2.0, 0.0, 1e-3, 0.0, 1.0],
    [0.5, 0.0, 0.0, 2e-3, 0.2],
    [0.49, 0.0, 5e-4, 4e-4, 0.0],
    [1.0, 0.0, 0.0, 5e-4, 0.0],
])


def test_rule_constants():
    assert ACTIVE_FRACTION == 0.25 and ACTIVE_FLOOR == 1e-3


def test_active_sets_follow_the_rule():
    sets = active_sets(ACTS, TOKENS)
    assert sets == [
        frozenset({"a", "b", "d"}),  # 0.49 < 0.25 * 2.0
        frozenset(),
        frozenset(),  # max == 1e-3 is not > 1e-3
        frozenset({"b", "d"}),  # 5e-4 >= 0.25 * 2e-3; 4e-4 is not
        frozenset({"a"}),  # 0.2 < 0.25
    ]


def test_active_sets_of_negative_and_empty_inputs():
    assert active_sets(-np.ones((3, 2)), ["x", "y", "z"]) == [frozenset(), frozenset()]
    assert active_sets(np.zeros((3, 0)), ["x", "y", "z"]) == []
    assert active_sets([[1.0], [0.3]], ["x", "y"]) == [frozenset({"x", "y"})]  # plain lists work


REFS = [
    ReferenceFeature("abd", frozenset({"a", "b", "d"})),
    ReferenceFeature("bd", frozenset({"b", "d"})),
    ReferenceFeature("ab", frozenset({"a", "b"})),  # a subset of F0's set is not a match
    ReferenceFeature("a", frozenset({"a"})),
]


def test_recovered_by_needs_an_exact_match():
    found = recovered_by(ACTS, TOKENS, REFS)
    assert found == {"abd": 0, "bd": 3, "ab": None, "a": 4}
    assert recovered_by(ACTS, TOKENS, []) == {}


def test_recovered_by_returns_the_first_matching_feature():
    acts = np.array([[0.0, 1.0, 3.0], [0.0, 1.0, 2.0]])
    assert recovered_by(acts, ["x", "y"], [ReferenceFeature("xy", frozenset({"x", "y"}))]) == {"xy": 1}


def test_the_founding_table_features_can_be_recovered(seed_csv, seed_tokens):
    refs = load_references(seed_csv, seed_tokens)
    animal = [1.0 if t in ("cat", "happy cat", "dog", "loyal dog") else 0.0 for t in seed_tokens]
    robot = [0.9 if t in ("robot", "AI assistant") else 0.1 for t in seed_tokens]  # 0.1 < 0.25 * 0.9
    acts = np.array([animal, robot]).T
    assert recovered_by(acts, seed_tokens, refs) == {"animal": 0, "robot/AI": 1, "not an animal": None}


def test_reference_path():
    assert reference_path("data/seed_tokens.csv").name == "seed_tokens.features.json"
    assert reference_path("/x/y/t.csv").as_posix() == "/x/y/t.features.json"


def test_load_references_of_the_founding_table(seed_csv, seed_tokens):
    refs = load_references(seed_csv)
    assert [r.name for r in refs] == ["animal", "robot/AI", "not an animal"]
    assert refs[0].tokens == frozenset({"cat", "happy cat", "dog", "loyal dog"})
    assert load_references(seed_csv, seed_tokens) == refs


def _write(tmp_path, payload, name="mine") -> object:
    csv_path = tmp_path / f"{name}.csv"
    csv_path.write_text("token,a,b\nx,1,2\ny,3,4\n", encoding="utf-8")
    text = payload if isinstance(payload, str) else json.dumps(payload)
    (tmp_path / f"{name}.features.json").write_text(text, encoding="utf-8")
    return csv_path


def test_load_references_drops_references_naming_missing_tokens(tmp_path):
    path = _write(tmp_path, {"features": [
        {"name": "xy", "tokens": ["x", "y"]},
        {"name": "xz", "tokens": ["x", "z"]},
        {"name": "numbers", "tokens": [1]},
    ]})
    assert [r.name for r in load_references(path)] == ["xy", "xz", "numbers"]
    assert [r.name for r in load_references(path, ["x", "y"])] == ["xy"]
    assert [r.name for r in load_references(path, ["x", "y", "z", "1"])] == ["xy", "xz", "numbers"]
    assert load_references(path, []) == []


def test_load_references_without_a_sidecar(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("token,a,b\nx,1,2\ny,3,4\n", encoding="utf-8")
    assert load_references(path) == []


@pytest.mark.parametrize("payload", [
    "{not json",
    "",
    json.dumps([1, 2]),
    json.dumps({"feature": []}),
    json.dumps({"features": [{"name": "x"}]}),
    json.dumps({"features": [{"tokens": ["x"]}]}),
    json.dumps({"features": [{"name": "x", "tokens": 5}]}),
    json.dumps({"features": 3}),
])
def test_bad_reference_files_raise_table_error(tmp_path, payload):
    path = _write(tmp_path, payload, name="refs")
    with pytest.raises(TableError) as info:
        load_references(path)
    message = str(info.value)
    assert message.startswith("refs.features.json: not a valid reference-feature file")
    assert "\n" not in message and str(tmp_path) not in message


def test_non_utf8_reference_file_raises_table_error(tmp_path):
    path = _write(tmp_path, "{}", name="bin")
    (tmp_path / "bin.features.json").write_bytes(b'{"features": [{"name": "\xff", "tokens": []}]}')
    with pytest.raises(TableError, match="bin.features.json"):
        load_references(path)


def test_top_tokens():
    assert top_tokens(ACTS, TOKENS, 0) == [("a", 2.0), ("d", 1.0), ("b", 0.5)]
    assert top_tokens(ACTS, TOKENS, 0, k=1) == [("a", 2.0)]
    assert top_tokens(ACTS, TOKENS, 0, k=10) == [("a", 2.0), ("d", 1.0), ("b", 0.5), ("c", 0.49)]
    assert top_tokens(ACTS, TOKENS, 1) == []  # dead: nothing fires
    assert top_tokens(ACTS, TOKENS, 4, k=4) == [("a", 1.0), ("b", 0.2)]  # only firing tokens
    values = top_tokens(ACTS, TOKENS, 3)
    assert [t for t, _ in values] == ["b", "d", "c"] and all(isinstance(v, float) for _, v in values)


def test_top_tokens_breaks_ties_by_token_order():
    acts = np.array([[1.0], [2.0], [2.0], [1.0]])
    assert top_tokens(acts, TOKENS, 0, k=3) == [("b", 2.0), ("c", 2.0), ("a", 1.0)]


# ---- near-duplicate features in one model ---------------------------------------------------

GROUP_TOKENS = ["cat", "dog", "robot", "AI"]


def test_copies_with_the_same_active_set_are_one_group_led_by_the_strongest():
    acts = np.array([[1.0, 0.0, 2.0], [1.0, 0.0, 2.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])  # F0 and F2: same set
    directions = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.2]])  # F0, F2 point apart: the set decides
    groups = group_duplicates(acts, directions, GROUP_TOKENS)
    assert [g.features for g in groups] == [(2, 0), (1,)]
    assert groups[0].representative == 2 and groups[0].label() == "2 copies: F0, F2" and groups[1].label() == ""


def test_copies_by_decoder_direction_use_the_stability_threshold():
    assert MATCH_COSINE == stability.MATCH_COSINE == 0.9
    acts = np.array([[1.0, 0.9, 0.8], [0.0, 0.5, 0.0], [0.0, 0.0, 0.7], [0.0, 0.0, 0.0]])  # three different sets
    angle = np.arccos(MATCH_COSINE)
    directions = np.array([[1.0, 0.0], [np.cos(angle * 0.99), np.sin(angle * 0.99)],  # just inside
                           [np.cos(angle * 1.01), -np.sin(angle * 1.01)]])  # just outside
    assert [g.features for g in group_duplicates(acts, directions, GROUP_TOKENS)] == [(0, 1), (2,)]


def test_grouping_only_the_features_asked_for():
    acts = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    directions = np.eye(3)[:, :2]
    assert [g.features for g in group_duplicates(acts, directions, GROUP_TOKENS, [1, 2])] == [(1,), (2,)]
    assert group_duplicates(acts, directions, GROUP_TOKENS, []) == []


def test_a_wide_model_groups_its_copies_of_animal(seed_x, seed_tokens):
    # 32 features with a weak sparsity penalty learn several copies of "animal" (the old defaults)
    result = train(seed_x, replace(RECOMMENDED, hidden_dim=32, sparsity_weight=0.03, lr=0.003, epochs=1000, seed=0))
    live = [j for j in range(result.feature_activations.shape[1]) if (result.feature_activations[:, j] > 0).any()]
    groups = group_duplicates(result.feature_activations, result.decoder_directions, seed_tokens, live)
    assert sorted(j for g in groups for j in g.features) == live  # every live feature in exactly one group
    sets = active_sets(result.feature_activations, seed_tokens)
    animal = frozenset({"cat", "happy cat", "dog", "loyal dog"})
    assert sum(sets[g.representative] == animal for g in groups) <= 1  # one card for "animal"
    assert max(len(g.features) for g in groups) >= 2


def test_feature_summary_rows():
    acts = np.array([[2.0, 0.0], [1.0, 0.0], [0.0, 0.0], [3.0, 0.0]])
    summary = feature_summary(acts, GROUP_TOKENS, [1, 0], k=2)
    assert list(summary["feature"]) == ["F1", "F0"]
    assert list(summary["density"]) == [0.0, 0.75] and list(summary["max activation"]) == [0.0, 3.0]
    assert list(summary["top tokens"]) == ["", "AI (3.00), cat (2.00)"]
