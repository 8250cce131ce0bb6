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
    refs = _parse_references(path.read_bytes(), path.name)
    if tokens is not None:
        refs = [r for r in refs if r.tokens <= set(tokens)]
    return refs


def _parse_references(text: str | bytes, source: str) -> list[ReferenceFeature]:
    """``{"features": [{"name": ..., "tokens": [...]}, ...]}`` -> references; TableError naming ``source``."""
    try:
        data = json.loads(text)
        refs = [ReferenceFeature(str(f["name"]), frozenset(map(str, f["tokens"]))) for f in data["features"]]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise TableError(f"{source}: not a valid reference-feature file ({error})") from None
    names = [r.name for r in refs]
    if len(set(names)) != len(names):
        raise TableError(f"{source}: two named features share a name")
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


# ---- how close did the SAE come? ------------------------------------------------------------------


@dataclass(frozen=True)
class ConceptMatch:
    """A named concept and the learned feature whose active set is closest to it (best Jaccard)."""

    name: str
    feature: int | None  # None when no feature's active set shares a token with the concept
    jaccard: float  # |both| / |either|, 1.0 = recovered exactly
    extra: tuple[str, ...]  # tokens the feature fires on that the concept does not name ("+kitten")
    missing: tuple[str, ...]  # tokens the concept names that the feature misses ("-loyal dog")

    @property
    def exact(self) -> bool:
        return self.feature is not None and not self.extra and not self.missing

    def difference(self) -> str:
        """'exact', or '+kitten, -loyal dog' (empty string when no feature overlaps the concept)."""
        if self.feature is None:
            return ""
        if self.exact:
            return "exact"
        return ", ".join([f"+{t}" for t in self.extra] + [f"-{t}" for t in self.missing])


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def closest_features(feature_activations_NH: np.ndarray, tokens: list[str],
                     references: list[ReferenceFeature]) -> list[ConceptMatch]:
    """For each named concept, the learned feature with the most similar active set.

    "Recovered" asks for an exact match; this says how near a miss was, so a feature that fires
    on the animals *and* kitten reads "+kitten" rather than "not found". Ties go to the lowest
    feature index; the extra and missing tokens are listed in table order.
    """
    sets = active_sets(feature_activations_NH, tokens)
    matches = []
    for ref in references:
        scores = [jaccard(s, ref.tokens) for s in sets]
        if not scores or max(scores) == 0:  # no feature shares a token with the concept
            matches.append(ConceptMatch(ref.name, None, 0.0, (), tuple(t for t in tokens if t in ref.tokens)))
            continue
        j = int(np.argmax(scores))
        matches.append(ConceptMatch(
            ref.name, j, float(scores[j]),
            extra=tuple(t for t in tokens if t in sets[j] and t not in ref.tokens),
            missing=tuple(t for t in tokens if t in ref.tokens and t not in sets[j]),
        ))
    return matches


# ---- concepts the user edits ------------------------------------------------------------------------


def references_to_json(references: list[ReferenceFeature], tokens: list[str] | None = None) -> str:
    """The sidecar format bundled examples use (NAME.features.json); tokens in table order if given."""
    order = {t: i for i, t in enumerate(tokens or [])}
    features = [{"name": r.name, "tokens": sorted(r.tokens, key=lambda t: (order.get(t, len(order)), t))}
                for r in references]
    return json.dumps({"features": features}, indent=2, ensure_ascii=False) + "\n"


def references_from_json(text: str | bytes, source: str = "concepts file",
                         tokens: list[str] | None = None) -> list[ReferenceFeature]:
    """Parse a concepts sidecar; a bad file raises TableError naming it, tokens not in the table are dropped."""
    refs = _parse_references(text, source)
    if tokens is not None:
        refs = [ReferenceFeature(r.name, r.tokens & set(tokens)) for r in refs]
        refs = [r for r in refs if r.tokens]
    return refs


def follow_table(references: list[ReferenceFeature], old_tokens: list[str],
                 new_tokens: list[str]) -> list[ReferenceFeature]:
    """Concepts after a table edit: renamed tokens are renamed in them, deleted tokens dropped.

    A rename is a row whose token changed while the number of rows stayed the same (the data
    editor's double-click rename). A concept left with no token is dropped.
    """
    renames = {}
    if len(old_tokens) == len(new_tokens):
        renames = {old: new for old, new in zip(old_tokens, new_tokens) if old != new and old not in new_tokens}
    kept = set(new_tokens)
    out = []
    for ref in references:
        members = frozenset(renames.get(t, t) for t in ref.tokens) & kept
        if members:
            out.append(ReferenceFeature(ref.name, members))
    return out


def set_concept(references: list[ReferenceFeature], name: str, tokens: list[str]) -> list[ReferenceFeature]:
    """Add a concept, or replace the tokens of the one with this name (kept in its place)."""
    name = name.strip()
    if not name:
        raise TableError("a concept needs a name")
    if not tokens:
        raise TableError(f"concept '{name}' needs at least one token")
    new = ReferenceFeature(name, frozenset(tokens))
    if any(r.name == name for r in references):
        return [new if r.name == name else r for r in references]
    return [*references, new]


def remove_concept(references: list[ReferenceFeature], name: str) -> list[ReferenceFeature]:
    return [r for r in references if r.name != name]
