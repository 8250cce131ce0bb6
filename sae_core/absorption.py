"""Feature absorption, measured: when a concept C lies inside a broader one P, does P's feature
still fire on C's tokens, or has a feature for C absorbed them?

For named concepts C inside P (every token of C is in P; the founding table has robot/AI inside
"not an animal"), with "fires on" meaning the active sets the app already uses (activation at
least 25% of the feature's peak, ``features.active_sets``):

- p* is the feature that fires on the most tokens of P minus C (ties: the highest Jaccard with
  P, then the lowest index);
- absorption is the share of C's tokens that p* does not fire on (1 when no feature fires on
  any token of P minus C: nothing is left of P to absorb into).

0 means P's feature covers C (the article's "not an animal" fires on robot and AI assistant);
1 means C's tokens went to other features (P's feature is left with {not cat, not dog}).
"""

from __future__ import annotations

import numpy as np

from .features import ReferenceFeature, active_sets, jaccard


def nested_pairs(references: list[ReferenceFeature]) -> list[tuple[ReferenceFeature, ReferenceFeature]]:
    """(P, C) for every named concept C strictly inside another, P (in the references' order)."""
    return [(p, c) for p in references for c in references if c is not p and c.tokens < p.tokens]


def pair_name(parent: ReferenceFeature, child: ReferenceFeature) -> str:
    """How a pair is named in tables and JSON: "not an animal > robot/AI"."""
    return f"{parent.name} > {child.name}"


def absorption(feature_activations_NH: np.ndarray, tokens: list[str], parent: ReferenceFeature,
               child: ReferenceFeature) -> float:
    """The share of the child's tokens that the parent's best feature (p*) does not fire on."""
    rest = parent.tokens - child.tokens
    sets = active_sets(feature_activations_NH, tokens)
    best, best_key = None, None
    for j, fires in enumerate(sets):
        covered = len(fires & rest)
        if covered == 0:
            continue
        key = (covered, jaccard(fires, parent.tokens), -j)
        if best_key is None or key > best_key:
            best, best_key = j, key
    if best is None:
        return 1.0
    return len(child.tokens - sets[best]) / len(child.tokens)


def absorption_by_pair(feature_activations_NH: np.ndarray, tokens: list[str],
                       references: list[ReferenceFeature]) -> dict[str, float]:
    """Absorption of one model, for every nested pair of named concepts."""
    return {pair_name(p, c): absorption(feature_activations_NH, tokens, p, c) for p, c in nested_pairs(references)}


def mean_absorption(runs_NH: list[np.ndarray], tokens: list[str],
                    references: list[ReferenceFeature]) -> dict[str, float]:
    """Absorption per nested pair, averaged over models (seeds)."""
    per_run = [absorption_by_pair(a, tokens, references) for a in runs_NH]
    return {name: float(np.mean([r[name] for r in per_run])) for name in (per_run[0] if per_run else {})}
