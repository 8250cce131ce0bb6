"""Which features are stable across seeds, and which were luck.

Train K seeds of one configuration at once, then match their features: a *consensus
feature* is a group of features from different seeds with the same active tokens or
decoder directions that agree (cosine >= ``MATCH_COSINE``). Its support is the number of
seeds that found it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .features import MATCH_COSINE, ReferenceFeature, active_sets, closest_features, recovered_by
from .training import TrainConfig, TrainResult, Trainer, seed_members


@dataclass
class ConsensusFeature:
    seeds: int  # how many seeds have at least one feature in this group
    members: list[tuple[int, int]]  # (seed index, feature index) pairs
    decoder_direction: np.ndarray  # (D,) mean unit direction of the members
    activation: np.ndarray  # (N,) median activation over the members
    active_tokens: frozenset[str]  # the members' most common active set
    reference: str | None = None  # the named reference feature it equals, if any

    def to_dict(self, tokens: list[str]) -> dict:
        return {
            "seeds": self.seeds,
            "reference": self.reference,
            "active_tokens": [t for t in tokens if t in self.active_tokens],
            "activation": [round(float(a), 6) for a in self.activation],
            "decoder_direction": [round(float(w), 6) for w in self.decoder_direction],
        }


@dataclass
class StabilityResult:
    config: TrainConfig
    seeds: list[int]
    tokens: list[str]
    results: list[TrainResult]
    recovered: dict[str, int]  # reference name -> number of seeds that recovered it
    recovered_by_seed: list[dict[str, int | None]]  # per seed: reference -> feature index or None
    consensus: list[ConsensusFeature] = field(default_factory=list)
    train_seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "seeds": len(self.seeds),
            "config": self.config.to_dict(),
            "recovered": self.recovered,
            "consensus": [c.to_dict(self.tokens) for c in self.consensus],
            "train_seconds": round(self.train_seconds, 4),
        }


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def match_features(results: list[TrainResult], tokens: list[str],
                   threshold: float = MATCH_COSINE) -> list[ConsensusFeature]:
    """Group live features across seeds (greedy, visiting seeds in order).

    A feature joins the first group that already holds a feature with the same active token
    set, else the group whose mean decoder direction is most similar to its own (cosine >=
    threshold), else it starts a new group. Decoder directions alone split one concept into
    several groups on small tables, because each seed's decoder bias absorbs a different
    share of the mean; the active set is the same rule that defines "recovered". A seed that
    learned one feature twice counts once. Groups are returned most-supported first.
    """
    groups: list[dict] = []
    for s, result in enumerate(results):
        acts = result.feature_activations
        sets = active_sets(acts, tokens)
        directions = unit_rows(result.decoder_directions)
        for j in (j for j in range(acts.shape[1]) if (acts[:, j] > 0).any()):
            best = next((g for g in groups if sets[j] and sets[j] in g["sets"]), None)
            if best is None:
                cosines = [float(directions[j] @ unit_rows(g["sum"][None])[0]) for g in groups]
                if cosines and max(cosines) >= threshold:
                    best = groups[int(np.argmax(cosines))]
            if best is None:
                best = {"seeds": set(), "members": [], "sets": Counter(), "sum": np.zeros_like(directions[j])}
                groups.append(best)
            best["seeds"].add(s)
            best["members"].append((s, j))
            best["sets"][sets[j]] += 1
            best["sum"] = best["sum"] + directions[j]
    consensus = []
    for group in groups:
        members = group["members"]
        acts = np.stack([results[s].feature_activations[:, j] for s, j in members])
        consensus.append(ConsensusFeature(
            seeds=len(group["seeds"]), members=members,
            decoder_direction=group["sum"] / len(members),
            activation=np.median(acts, axis=0), active_tokens=group["sets"].most_common(1)[0][0],
        ))
    consensus.sort(key=lambda c: (-c.seeds, -float(c.activation.max())))
    return consensus


def stability(x, config: TrainConfig, tokens: list[str], references: list[ReferenceFeature],
              seeds: list[int] | int = 20, on_step=None, every: int = 0, stop=None, device=None) -> StabilityResult:
    """Train ``seeds`` (a count, meaning seeds 0..K-1, or a list) at once and compare their features."""
    trainer = seeds_trainer(x, config, seeds, device).fit(on_step, every, stop)
    return compare_seeds(trainer, tokens, references)


def seeds_trainer(x, config: TrainConfig, seeds: list[int] | int, device=None) -> Trainer:
    """The batched trainer of ``seeds`` (a count K, meaning seeds 0..K-1, or a list), not started."""
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    return Trainer(x, seed_members(config, seed_list), device=device)


def compare_seeds(trainer: Trainer, tokens: list[str], references: list[ReferenceFeature]) -> StabilityResult:
    """Match the features the trainer's seeds learned so far (also after a Stop)."""
    results = trainer.results()
    config, seed_list = trainer.config, [m.seed for m in trainer.members]
    by_seed = [recovered_by(r.feature_activations, tokens, references) for r in results]
    recovered = {ref.name: sum(found[ref.name] is not None for found in by_seed) for ref in references}
    consensus = match_features(results, tokens)
    for feature in consensus:
        feature.reference = next((r.name for r in references if r.tokens == feature.active_tokens), None)
    return StabilityResult(config, seed_list, tokens, results, recovered, by_seed, consensus, trainer.seconds)


@dataclass
class ConceptStability:
    """How one named concept fared over the seeds of a stability run."""

    name: str
    exact: int  # seeds in which some feature's active set equals the concept
    median_jaccard: float  # median over seeds of the best Jaccard (1.0 = exact)
    commonest_miss: str  # the commonest difference among the seeds that missed it ("-robot, -AI assistant"), or ""
    miss_count: int  # how many seeds missed it in exactly that way


def concept_stability(run: StabilityResult, references: list[ReferenceFeature]) -> list[ConceptStability]:
    """Per concept: exact recoveries, median best Jaccard and the commonest near miss over the run's seeds."""
    per_seed = [closest_features(r.feature_activations, run.tokens, references) for r in run.results]
    out = []
    for i, ref in enumerate(references):
        matches = [seed[i] for seed in per_seed]
        misses = Counter(m.difference() or "no feature overlaps" for m in matches if not m.exact)
        miss, count = misses.most_common(1)[0] if misses else ("", 0)
        out.append(ConceptStability(
            ref.name, sum(m.exact for m in matches),
            float(np.median([m.jaccard for m in matches])) if matches else 0.0, miss, count,
        ))
    return out
