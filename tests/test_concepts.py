"""sae_core.features: closest feature per concept (Jaccard, +/- tokens), concept files, concept edits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sae_core.errors import TableError
from sae_core.features import (ConceptMatch, ReferenceFeature, closest_features, follow_table, jaccard,
                               references_from_json, references_to_json, remove_concept, set_concept)

TOKENS = ["cat", "kitten", "dog", "loyal dog", "robot"]
ANIMAL = ReferenceFeature("animal", frozenset({"cat", "dog", "loyal dog"}))
ROBOT = ReferenceFeature("robot", frozenset({"robot"}))
ACTS = np.array([  # tokens x features
    # F0: cat, kitten, dog (misses loyal dog; its 0.2 is under 25% of 1.0); F1: dead; F2: robot only
    [1.0, 0.0, 0.0],
    [0.9, 0.0, 0.0],
    [0.8, 0.0, 0.1],
    [0.2, 0.0, 0.0],
    [0.0, 0.0, 2.0],
])


def test_jaccard():
    assert jaccard(frozenset("ab"), frozenset("bc")) == pytest.approx(1 / 3)
    assert jaccard(frozenset("ab"), frozenset("ab")) == 1.0
    assert jaccard(frozenset(), frozenset()) == 0.0


def test_closest_feature_reports_extra_and_missing_tokens_in_table_order():
    animal, robot = closest_features(ACTS, TOKENS, [ANIMAL, ROBOT])
    assert animal == ConceptMatch("animal", 0, 2 / 4, ("kitten",), ("loyal dog",))
    assert animal.difference() == "+kitten, -loyal dog" and not animal.exact
    assert robot.feature == 2 and robot.exact and robot.jaccard == 1.0 and robot.difference() == "exact"


def test_a_feature_on_the_concept_plus_kitten_is_a_near_miss_not_a_failure():
    acts = np.array([[1.0], [0.8], [0.9], [0.7], [0.0]])
    (match,) = closest_features(acts, TOKENS, [ANIMAL])
    assert (match.feature, match.extra, match.missing) == (0, ("kitten",), ())
    assert match.jaccard == pytest.approx(3 / 4) and match.difference() == "+kitten"
    with_kitten = ReferenceFeature("animal", ANIMAL.tokens | {"kitten"})
    assert closest_features(acts, TOKENS, [with_kitten])[0].exact  # add kitten to the concept: exact


def test_ties_go_to_the_lowest_feature_and_no_overlap_gives_none():
    acts = np.array([[1.0, 1.0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]])
    assert closest_features(acts, TOKENS, [ANIMAL])[0].feature == 0  # both on cat: Jaccard 1/3 each, the first
    (apart,) = closest_features(acts, TOKENS, [ROBOT])  # live features, none on robot
    assert apart.feature is None and apart.jaccard == 0.0 and apart.difference() == "" and apart.missing == ("robot",)
    (none,) = closest_features(np.zeros((5, 3)), TOKENS, [ANIMAL])
    assert none.feature is None and none.missing == ("cat", "dog", "loyal dog")
    assert closest_features(ACTS, TOKENS, []) == []


def test_concepts_json_round_trip_in_table_order():
    text = references_to_json([ANIMAL, ROBOT], TOKENS)
    assert json.loads(text) == {"features": [{"name": "animal", "tokens": ["cat", "dog", "loyal dog"]},
                                             {"name": "robot", "tokens": ["robot"]}]}
    assert references_from_json(text) == [ANIMAL, ROBOT]
    # tokens the table lacks are dropped, and a concept left empty with them
    assert references_from_json(text, tokens=["cat", "dog"]) == [ReferenceFeature("animal", frozenset({"cat", "dog"}))]


@pytest.mark.parametrize("text, problem", [
    ("not json", "not a valid reference-feature file"),
    ('{"features": [{"name": "a"}]}', "not a valid reference-feature file"),
    ('[1, 2]', "not a valid reference-feature file"),
    ('{"features": [{"name": "a", "tokens": ["x"]}, {"name": "a", "tokens": ["y"]}]}', "two named features share a name"),
])
def test_bad_concepts_file_names_the_problem(text, problem):
    with pytest.raises(TableError) as error:
        references_from_json(text, "mine.json")
    assert str(error.value).startswith("mine.json: ") and problem in str(error.value)


def test_concepts_follow_renames_and_deletions():
    old = ["cat", "dog", "robot"]
    refs = [ReferenceFeature("animal", frozenset({"cat", "dog"})), ReferenceFeature("robot", frozenset({"robot"}))]
    renamed = follow_table(refs, old, ["kitty", "dog", "robot"])
    assert renamed == [ReferenceFeature("animal", frozenset({"kitty", "dog"})), refs[1]]
    deleted = follow_table(refs, old, ["cat", "dog"])
    assert deleted == [refs[0]]  # robot lost its only token: the concept goes
    added = follow_table(refs, old, ["cat", "dog", "robot", "kitten"])
    assert added == refs  # a new row is not a rename
    assert follow_table(refs, old, old) == refs


def test_set_and_remove_concepts():
    refs = set_concept([ANIMAL], "robot", ["robot"])
    assert refs == [ANIMAL, ROBOT]
    refs = set_concept(refs, "animal", ["cat", "kitten", "dog", "loyal dog"])
    assert [r.name for r in refs] == ["animal", "robot"] and "kitten" in refs[0].tokens  # replaced in place
    assert remove_concept(refs, "animal") == [ROBOT]
    with pytest.raises(TableError, match="a concept needs a name"):
        set_concept(refs, "  ", ["cat"])
    with pytest.raises(TableError, match="concept 'x' needs at least one token"):
        set_concept(refs, "x", [])


# ---- each example's shipped settings --------------------------------------------------------------


def test_every_example_ships_valid_settings_and_the_founding_ones_are_the_defaults():
    from dataclasses import replace

    from sae_core.examples import example_names, example_settings
    from sae_core.training import RECOMMENDED

    for name in example_names():
        shipped = example_settings(name)
        assert shipped is not None, name
        assert shipped.why and shipped.teaches
    assert replace(example_settings("seed_tokens").config, seed=RECOMMENDED.seed) == RECOMMENDED
    colours = example_settings("colors_and_shapes").config
    assert (colours.hidden_dim, colours.sparsity_weight, colours.init_decoder_bias_to_mean) == (12, 0.1, False)
    assert example_settings("no such example") is None


def test_a_broken_settings_file_names_itself(tmp_path, monkeypatch):
    from sae_core import examples
    from sae_core.errors import ConfigError

    (tmp_path / "mine.csv").write_text("token,a,b\nx,1,2\ny,3,4\n")
    (tmp_path / "mine.settings.json").write_text('{"settings": {"hidden_dim": "eight"}, "why": "", "teaches": ""}')
    monkeypatch.setattr(examples, "DATA_DIR", tmp_path)
    with pytest.raises(ConfigError, match=r"^mine.settings.json: not a valid settings file"):
        examples.example_settings("mine")
