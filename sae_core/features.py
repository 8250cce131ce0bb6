"""Reading features: active sets, named reference features and whether they were recovered.

The shared test of "recovered" (see README): feature j's active set is the tokens where
a_j >= 0.25 * max(a_j), provided max(a_j) > 1e-3; a reference feature (a named token set)
is recovered when some learned feature's active set equals it exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import TableError

ACTIVE_FRACTION = 0.25
ACTIVE_FLOOR = 1e-3
MATCH_COSINE = 0.9  # decoder directions this similar are one feature (across seeds, or copies in one model)


def active_sets(feature_activations_NH: np.ndarray, tokens: list[str]) -> list[frozenset[str]]:
    """Each feature's active token set (empty for a feature that never clears the floor)."""
    sets = []
    for a_N in np.asarray(feature_activations_NH).T:
        peak = float(a_N.max()) if a_N.size else 0.0
        if peak <= ACTIVE_FLOOR:
            sets.append(frozenset())
        else:
            sets.append(frozenset(t for t, a in zip(tokens, a_N) if a >= ACTIVE_FRACTION * peak))
    return sets


@dataclass(frozen=True)
class ReferenceFeature:
    name: str
    tokens: frozenset[str]


def recovered_by(feature_activations_NH: np.ndarray, tokens: list[str],
                 references: list[ReferenceFeature]) -> dict[str, int | None]:
    """For each reference feature, the index of a learned feature that recovers it, or None."""
    sets = active_sets(feature_activations_NH, tokens)
    return {ref.name: next((j for j, s in enumerate(sets) if s == ref.tokens), None) for ref in references}


def reference_path(csv_path: str | Path) -> Path:
    """The sidecar file that names a table's reference features: NAME.features.json."""
    csv_path = Path(csv_path)
    return csv_path.with_name(csv_path.stem + ".features.json")


def load_references(csv_path: str | Path, tokens: list[str] | None = None) -> list[ReferenceFeature]:
    """Reference features shipped beside a bundled table ([] when there are none).

    The file is ``{"features": [{"name": ..., "tokens": [...]}, ...]}``. References naming
    tokens the table no longer has are dropped (the user may have edited the table).
    """
    path = reference_path(csv_path)
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        refs = [ReferenceFeature(str(f["name"]), frozenset(map(str, f["tokens"]))) for f in data["features"]]
    except (ValueError, KeyError, TypeError) as error:
        raise TableError(f"{path.name}: not a valid reference-feature file ({error})") from None
    if tokens is not None:
        refs = [r for r in refs if r.tokens <= set(tokens)]
    return refs


def top_tokens(feature_activations_NH: np.ndarray, tokens: list[str], feature: int,
               k: int = 3) -> list[tuple[str, float]]:
    """The k tokens on which a feature fires most, with their activations (firing only)."""
    a_N = np.asarray(feature_activations_NH)[:, feature]
    order = np.argsort(-a_N, kind="stable")[:k]
    return [(tokens[i], float(a_N[i])) for i in order if a_N[i] > 0]


# ---- near-duplicate features in one model ---------------------------------------------------


@dataclass(frozen=True)
class FeatureGroup:
    """Features of one model that are copies of each other; ``features[0]`` is the strongest."""

    features: tuple[int, ...]

    @property
    def representative(self) -> int:
        return self.features[0]

    def label(self) -> str:
        """"3 copies: F3, F10, F12" (empty for a feature without copies)."""
        if len(self.features) == 1:
            return ""
        return f"{len(self.features)} copies: " + ", ".join(f"F{j}" for j in sorted(self.features))


def group_duplicates(feature_activations_NH: np.ndarray, decoder_directions_HD: np.ndarray,
                     tokens: list[str], features: list[int] | None = None) -> list[FeatureGroup]:
    """Group near-duplicate features: the same (non-empty) active set, or decoder directions with
    cosine >= ``MATCH_COSINE``: the rules ``stability.match_features`` uses across seeds.

    Greedy, strongest feature (highest peak activation) first: a feature joins the group whose
    strongest member shares its active set or its direction, else starts a group. Groups come
    back in the order of their lowest feature index, so cards keep the model's order.
    Works on thousands of features (one cosine row per feature against the groups so far).
    """
    acts = np.asarray(feature_activations_NH)
    features = list(range(acts.shape[1])) if features is None else list(features)
    if not features:
        return []
    sets = active_sets(acts[:, features], tokens)
    set_of = dict(zip(features, sets))
    directions = np.asarray(decoder_directions_HD, dtype=np.float64)[features]
    directions = directions / np.maximum(np.linalg.norm(directions, axis=1, keepdims=True), 1e-12)
    direction_of = dict(zip(features, directions))
    peaks = acts[:, features].max(axis=0) if acts.shape[0] else np.zeros(len(features))
    order = [features[i] for i in np.argsort(-peaks, kind="stable")]
    members: list[list[int]] = []
    heads = np.zeros((len(features), directions.shape[1]))  # each group's strongest direction
    by_set: dict[frozenset[str], int] = {}
    for j in order:
        group = by_set.get(set_of[j]) if set_of[j] else None
        if group is None and members:
            cosines = heads[: len(members)] @ direction_of[j]
            best = int(np.argmax(cosines))
            group = best if cosines[best] >= MATCH_COSINE else None
        if group is None:
            group = len(members)
            members.append([])
            heads[group] = direction_of[j]
        members[group].append(j)
        if set_of[j]:
            by_set.setdefault(set_of[j], group)
    groups = [FeatureGroup(tuple(m)) for m in members]
    return sorted(groups, key=lambda g: min(g.features))


def feature_summary(feature_activations_NH: np.ndarray, tokens: list[str], features: list[int],
                    k: int = 3) -> pd.DataFrame:
    """One row per feature for a sortable table: density, max activation, top tokens as text.

    Vectorised over features, so it stays fast with thousands of them.
    """
    acts = np.asarray(feature_activations_NH)[:, features]
    k = min(k, acts.shape[0])
    top = np.argsort(-acts, axis=0, kind="stable")[:k].T  # (features, k) token indices
    texts = [", ".join(f"{tokens[i]} ({acts[i, n]:.2f})" for i in row if acts[i, n] > 0)
             for n, row in enumerate(top)]
    return pd.DataFrame({
        "feature": [f"F{j}" for j in features],
        "density": (acts > 0).mean(axis=0) if acts.shape[0] else np.zeros(len(features)),
        "max activation": acts.max(axis=0) if acts.shape[0] else np.zeros(len(features)),
        "top tokens": texts,
    })
