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

from .errors import TableError

ACTIVE_FRACTION = 0.25
ACTIVE_FLOOR = 1e-3


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
