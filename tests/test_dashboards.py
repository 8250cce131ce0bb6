"""Dashboards on a small hand-made extraction: tables, search, histogram, contexts, concept matching."""

from __future__ import annotations

import numpy as np

from sae_core.real_model.dashboards import (concept_matches, context_of, features_table, histogram, random_contexts,
                                 random_direction_f1, search_word, top_contexts, word_counts)
from sae_core.real_model.extraction import Extraction

DOCS = ["the cat sat", "the dog ran", "a robot <b>", "the cat sat"]


def make_extraction() -> Extraction:
    tokens = []
    for d, doc in enumerate(DOCS):
        start = 0
        for word in doc.split(" "):
            tokens.append({"token": word, "word": word.lower(), "doc": d, "start": start, "end": start + len(word)})
            start += len(word) + 1
    return Extraction(np.zeros((len(tokens), 2), np.float32), tokens, "m", 1, "pieces", DOCS)


EX = make_extraction()
WORDS = EX.words  # the cat sat the dog ran a robot <b> the cat sat
# feature 0: animals (cat 2.0 twice, dog 1.0); feature 1: "the"; feature 2: dead
ACTS = np.zeros((12, 3), np.float32)
ACTS[[1, 10], 0] = 2.0
ACTS[4, 0] = 1.0
ACTS[[0, 3, 9], 1] = [0.5, 0.7, 0.5]


def test_features_table_density_peak_and_top_words():
    table = features_table(ACTS, WORDS, k=3)
    assert table["feature"].tolist() == [0, 1, 2]
    np.testing.assert_allclose(table["density"], [3 / 12, 3 / 12, 0])
    np.testing.assert_allclose(table["max_activation"], [2.0, 0.7, 0.0])
    assert table["top_words"].tolist() == ["cat, dog", "the", ""]


def test_search_ranks_features_by_mean_activation_on_the_word():
    found = search_word(ACTS, WORDS, "  CAT ")
    assert found["feature"].tolist() == [0] and found["mean_on_word"].tolist() == [2.0]
    assert found["fires_on"].tolist() == [1.0]
    assert search_word(ACTS, WORDS, "zebra").empty


def test_histogram_counts_only_active_rows():
    hist = histogram(ACTS[:, 0], bins=2)
    assert hist["count"].tolist() == [0, 3] and hist["end"].iloc[-1] == 2.0
    assert histogram(ACTS[:, 2]).empty


def test_contexts_are_deduplicated_shaded_and_escaped():
    top = top_contexts(ACTS[:, 0], EX, k=5, window=1)
    assert [c.text for c in top] == ["the cat sat", "the dog ran"]  # the repeated sentence counts once
    assert top[0].activation == 2.0
    assert 'outline: 2px solid' in top[0].html and 'rgba(255, 140, 0, 1.00)' in top[0].html
    robot = context_of(EX, ACTS[:, 0], 8, peak=2.0, window=2)
    assert "&lt;b&gt;" in robot.html and "<b>" not in robot.html
    assert robot.text == "a robot <b>"


def test_random_contexts_cover_the_active_set_reproducibly():
    first = random_contexts(ACTS[:, 1], EX, k=10, seed=3, window=1)
    assert first == random_contexts(ACTS[:, 1], EX, k=10, seed=3, window=1)
    assert sorted(c.row for c in first) in ([0, 3], [3, 9])  # rows 0 and 9 read the same: one of them
    assert random_contexts(ACTS[:, 2], EX) == []
    assert word_counts(ACTS[:, 0], WORDS) == [("cat", 2), ("dog", 1)]


def test_concept_matching_finds_the_feature_and_a_chance_level():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((12, 6)).astype(np.float32)
    result = concept_matches(ACTS, x, WORDS, {"animal": frozenset({"cat", "dog"}), "colour": frozenset({"red"})})
    animal = result.iloc[0]
    assert animal["feature"] == 0 and animal["precision"] == 1.0 and animal["recall"] == 1.0 and animal["f1"] == 1.0
    assert 0 <= animal["chance_f1"] <= 1
    assert result.iloc[1]["rows"] == 0 and result.iloc[1]["f1"] == 0.0


def test_a_direction_that_separates_the_concept_scores_one():
    labels = np.array([1, 1, 0, 0, 0, 0], bool)
    x = np.zeros((6, 1), np.float32)
    x[:2] = 5.0
    assert random_direction_f1(x, labels, n_directions=4) == 1.0
    assert random_direction_f1(x, np.zeros(6, bool), n_directions=4) == 0.0
