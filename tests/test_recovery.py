"""Recovery counts checked against an independent, deliberately plain implementation of the rule.

The rule (README, "Defaults"): a learned feature's active set is the tokens on which it reaches
at least 25% of its peak (a peak above 1e-3); a named feature is recovered when some learned
feature's active set equals its tokens exactly. Expected values here never come from
``sae_core.features``; a negative control (the article's recipe, seed 4, known to miss two of
the three named features) makes sure a rule that always says "recovered" fails.
"""

from __future__ import annotations

import pytest
from recovery_rule import recovered_independently

from sae_core.features import load_references
from sae_core.stability import stability
from sae_core.training import ARTICLE, RECOMMENDED

NAMED = {"animal", "robot/AI", "not an animal"}


@pytest.fixture(scope="module")
def refs(seed_csv):
    found = load_references(seed_csv)
    assert {r.name for r in found} == NAMED
    return found


@pytest.mark.parametrize("recipe, seeds, expected", [
    # negative control: seed 4 of the article's recipe recovers only "not an animal"
    (ARTICLE, [4], {"animal": 0, "robot/AI": 0, "not an animal": 1}),
    (ARTICLE, [4, 7], {"animal": 1, "robot/AI": 1, "not an animal": 2}),
    (RECOMMENDED, [100, 101, 102], {"animal": 3, "robot/AI": 3, "not an animal": 3}),
], ids=["article-seed-4-fails", "article-seeds-4-7", "recommended"])
def test_recovery_counts_match_the_plain_rule(seed_x, seed_tokens, refs, recipe, seeds, expected):
    run = stability(seed_x, recipe, seed_tokens, refs, seeds)
    plain = {r.name: sum(recovered_independently(res.feature_activations, seed_tokens, r.tokens)
                         for res in run.results) for r in refs}
    assert plain == expected  # the trained models themselves, judged by the plain rule
    assert run.recovered == expected  # what the app and the CLI report


def test_the_plain_rule_on_a_hand_made_table():
    tokens = ["cat", "dog", "robot"]
    acts = [[1.0, 0.0], [0.3, 0.0], [0.2, 0.0005]]  # F0: cat, dog (0.3 >= 0.25); robot below 25%
    assert recovered_independently(acts, tokens, {"cat", "dog"})
    assert not recovered_independently(acts, tokens, {"cat"})
    assert not recovered_independently(acts, tokens, {"robot"})  # F1's peak is under the 1e-3 floor
