"""Which features are stable across seeds, and which were luck.

Train K seeds of one configuration at once, then match their features: a *consensus
feature* is a group of features from different seeds with the same active tokens or
decoder directions that agree (cosine >= ``MATCH_COSINE``). Its support is the number of
seeds that found it. Each run also measures absorption per nested pair of named concepts
(``sae_core.absorption``), per seed and on average.

``ArchitecturesRun`` trains several architectures' recipes on the same seeds, one after the
other (stoppable like a Trainer); ``SideBySide`` and ``run_summary`` say how each did.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import memory
from .absorption import absorption_by_pair, nested_pairs, pair_name
from .architectures import get_architecture
from .errors import ConfigError
from .features import MATCH_COSINE, ReferenceFeature, active_sets, closest_features, recovered_by
from .training import PROGRESS_UPDATES, TrainConfig, TrainResult, Trainer, seed_members


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
    # nested pair ("not an animal > robot/AI") -> absorption, averaged over the seeds (sae_core.absorption)
    absorption: dict[str, float] = field(default_factory=dict)
    absorption_by_seed: list[dict[str, float]] = field(default_factory=list)  # per seed: pair -> absorption

    def to_dict(self) -> dict:
        return {
            "seeds": len(self.seeds),
            "config": self.config.to_dict(),
            "recovered": self.recovered,
            "absorption": _rounded(self.absorption),
            "absorption_per_seed": [_rounded(a) for a in self.absorption_by_seed],
            "consensus": [c.to_dict(self.tokens) for c in self.consensus],
            "train_seconds": round(self.train_seconds, 4),
        }


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {name: round(float(v), 6) for name, v in values.items()}


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
    first_with: dict[frozenset, int] = {}  # active set -> the first group holding it
    width = max((r.decoder_directions.shape[1] for r in results), default=0)
    units = np.zeros((sum(r.feature_activations.shape[1] for r in results), width))  # each group's mean direction
    for s, result in enumerate(results):
        acts = result.feature_activations
        sets = active_sets(acts, tokens)
        directions = unit_rows(result.decoder_directions)
        for j in (j for j in range(acts.shape[1]) if (acts[:, j] > 0).any()):
            g = first_with.get(sets[j]) if sets[j] else None
            if g is None and groups:
                cosines = units[: len(groups)] @ directions[j]
                if cosines.max() >= threshold:
                    g = int(np.argmax(cosines))
            if g is None:
                g = len(groups)
                groups.append({"seeds": set(), "members": [], "sets": Counter(), "sum": np.zeros_like(directions[j])})
            best = groups[g]
            best["seeds"].add(s)
            best["members"].append((s, j))
            best["sets"][sets[j]] += 1
            first_with.setdefault(sets[j], g)
            best["sum"] = best["sum"] + directions[j]
            units[g] = unit_rows(best["sum"][None])[0]
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
    trainer = Trainer(x, seed_members(config, seed_list), device=device)
    (rows, dims), arch = trainer.x_ND.shape, get_architecture(config.architecture)
    predicted = memory.stability(rows, dims, config.hidden_dim, len(seed_list), config.batch_size,
                                 step_copies=arch.step_copies)
    memory.refuse_over_budget(
        predicted, f"comparing {len(seed_list)} seeds x {config.hidden_dim:,} features on {rows:,} tokens x {dims:,} "
        "dims", "use fewer seeds, features or tokens")
    trainer.predicted_bytes = predicted - memory.BASELINE  # the training and the comparison of its seeds
    return trainer


def compare_seeds(trainer: Trainer, tokens: list[str], references: list[ReferenceFeature]) -> StabilityResult:
    """Match the features the trainer's seeds learned so far (also after a Stop)."""
    results = trainer.results()
    config, seed_list = trainer.config, [m.seed for m in trainer.members]
    by_seed = [recovered_by(r.feature_activations, tokens, references) for r in results]
    recovered = {ref.name: sum(found[ref.name] is not None for found in by_seed) for ref in references}
    consensus = match_features(results, tokens)
    for feature in consensus:
        feature.reference = next((r.name for r in references if r.tokens == feature.active_tokens), None)
    absorbed = [absorption_by_pair(r.feature_activations, tokens, references) for r in results]
    mean = {name: float(np.mean([a[name] for a in absorbed])) for name in (absorbed[0] if absorbed else {})}
    return StabilityResult(config, seed_list, tokens, results, recovered, by_seed, consensus, trainer.seconds,
                           mean, absorbed)


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


# ---- architectures side by side: every architecture's recipe on the same seeds ----------------


def run_summary(run: StabilityResult, references: list[ReferenceFeature]) -> dict:
    """One stability run in numbers (the CLI's per-architecture JSON, the page's table): exact
    recoveries per concept, median best Jaccard, commonest near miss, mean L0, live features
    (features that fire on some token), explained variance and absorption per nested pair."""
    rows = concept_stability(run, references)
    metrics = [r.metrics for r in run.results]
    live = [m.hidden_dim - m.dead_features for m in metrics]
    return {
        "config": run.config.to_dict(),
        "seeds": len(run.seeds),
        "recovered": dict(run.recovered),
        "recovered_per_seed": [sum(j is not None for j in found.values()) for found in run.recovered_by_seed],
        "median_jaccard": {r.name: round(r.median_jaccard, 6) for r in rows},
        "near_miss": {r.name: {"difference": r.commonest_miss, "seeds": r.miss_count} if r.commonest_miss else None
                      for r in rows},
        "l0": round(float(np.mean([m.l0 for m in metrics])), 6),
        "live_features": round(float(np.mean(live)), 6),
        "live_features_max": int(max(live)),
        "explained_variance": round(float(np.mean([m.explained_variance for m in metrics])), 6),
        "absorption": _rounded(run.absorption),
        "absorption_per_seed": [_rounded(a) for a in run.absorption_by_seed],
        "epochs_done": run.results[0].epochs_done,
        "train_seconds": round(run.train_seconds, 4),
    }


@dataclass(frozen=True)
class ArchitecturesProgress:
    """What ``ArchitecturesRun.fit`` reports (the app's progress bar)."""

    architecture: str  # the one in training
    fraction: float  # of the whole run (every architecture)
    text: str


class ArchitecturesRun:
    """Several architectures' recipes, each trained on the same seeds (one batched Trainer each, one
    after the other). ``fit``, ``epoch``, ``finished`` and ``progress_every`` are the protocol the
    app's Stop drives (``sae_core.stoppable``); after a stop, ``results`` compares what each
    architecture trained so far learned (those not started are left out)."""

    def __init__(self, x, recipes: dict[str, TrainConfig], seeds: list[int] | int, tokens: list[str],
                 references: list[ReferenceFeature], device=None):
        if not recipes:
            raise ConfigError("choose at least one architecture")
        self.x, self.recipes, self.device = x, dict(recipes), device
        self.seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
        self.tokens, self.references = tokens, references
        # built up front: a recipe that cannot train here is refused before any training starts
        self.trainers: dict[str, Trainer] = {key: seeds_trainer(x, config, self.seeds, device)
                                             for key, config in self.recipes.items()}
        self.total_epochs = sum(t.config.epochs for t in self.trainers.values())
        self.predicted_bytes = sum(t.predicted_bytes for t in self.trainers.values())  # all built at once

    @property
    def epoch(self) -> int:
        """Epochs trained so far, every architecture together (0: nothing learned yet)."""
        return sum(t.epoch for t in self.trainers.values())

    @property
    def finished(self) -> bool:
        return all(t.finished for t in self.trainers.values())

    @property
    def progress_every(self) -> int:
        return max(1, self.total_epochs // PROGRESS_UPDATES)

    def fit(self, on_step=None, every: int = 0, stop=None) -> "ArchitecturesRun":
        should_stop = stop.is_set if hasattr(stop, "is_set") else stop
        keys = list(self.trainers)
        for n, key in enumerate(keys):
            trainer = self.trainers[key]
            if trainer.finished:
                continue
            if should_stop is not None and should_stop():
                break

            def report(log, key=key, n=n) -> None:
                if on_step is not None:
                    on_step(ArchitecturesProgress(
                        key, self.epoch / self.total_epochs,
                        f"{key} ({n + 1} of {len(keys)}): epoch {log.epoch:,} of {log.epochs:,}"))

            trainer.fit(report, every or self.progress_every, stop)
        return self

    def results(self) -> dict[str, StabilityResult]:
        """Per architecture that trained at least one epoch: its seeds compared (``compare_seeds``)."""
        return {key: compare_seeds(t, self.tokens, self.references) for key, t in self.trainers.items() if t.epoch > 0}

    def result(self) -> "SideBySide":
        return SideBySide(self.results(), list(self.references), self.seeds, list(self.tokens))


@dataclass
class SideBySide:
    """Architectures trained on the same seeds (``ArchitecturesRun``), and how each did."""

    runs: dict[str, StabilityResult]  # architecture -> its seeds compared
    references: list[ReferenceFeature]  # the named concepts they were judged by
    seeds: list[int]
    tokens: list[str]

    def summaries(self) -> dict[str, dict]:
        return {key: run_summary(run, self.references) for key, run in self.runs.items()}

    def table(self) -> pd.DataFrame:
        """One row per architecture: architecture (its key), each concept's exact recoveries (of the
        seeds), l0 (mean), live_features (mean) and, per nested pair, its mean absorption."""
        rows = []
        for key, data in self.summaries().items():
            rows.append({"architecture": key, **data["recovered"], "l0": data["l0"],
                         "live_features": data["live_features"], **data["absorption"]})
        columns = ["architecture", *(r.name for r in self.references), "l0", "live_features",
                   *(pair_name(p, c) for p, c in nested_pairs(self.references))]
        return pd.DataFrame(rows, columns=columns)

    def recovery_long(self) -> pd.DataFrame:
        """architecture, concept, seeds (exact recoveries): the side-by-side chart's rows."""
        rows = [{"architecture": key, "concept": name, "seeds": count}
                for key, run in self.runs.items() for name, count in run.recovered.items()]
        return pd.DataFrame(rows, columns=["architecture", "concept", "seeds"])


def architectures_side_by_side(x, recipes: dict[str, TrainConfig], tokens: list[str],
                               references: list[ReferenceFeature], seeds: list[int] | int,
                               device=None) -> SideBySide:
    """Train every recipe (architecture -> config) on the same seeds; the seeds compared, per architecture."""
    return ArchitecturesRun(x, recipes, seeds, tokens, references, device).fit().result()
