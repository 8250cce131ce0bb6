"""What longer training does to the concepts: one batched run of seeds, measured at checkpoints.

``over_training`` trains the seeds once (one ``Trainer``) and, at each checkpoint epoch, counts
in how many seeds every named concept is recovered exactly (``features.recovered_by``) and
measures the mean absorption of every nested pair (``absorption.mean_absorption``). Nothing in
the trainer's arithmetic depends on the total number of epochs, so checkpoint E of a longer run
holds the same models as a run of E epochs (full-batch and mini-batch alike; tests check it).
One exception: with dead-feature resampling, a run skips the resample on its own last epoch, so
a checkpoint that falls on a resampling epoch is measured just after a resample that a run of
exactly that length would not do.

On the founding table the nested pair is robot/AI inside "not an animal": trained longer, the
sparsity penalty prefers flat clusters (one feature per token) to a hierarchy (two features on
robot and AI assistant), so "not an animal" loses robot and AI assistant to the robot/AI
feature and is recovered in ever fewer seeds (README, "Over training time").
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .absorption import absorption_by_pair, nested_pairs, pair_name
from .errors import ConfigError
from .features import ConceptMatch, ReferenceFeature, closest_features, recovered_by
from .training import StepLog, TrainConfig, Trainer, seed_members

RECOVERED, ABSORPTION = "recovered", "absorption"  # the two kinds of row in ``OverTraining.table``
COLUMNS = ["epoch", "kind", "what", "value"]


def checkpoint_epochs(epochs: int, checkpoints: int | Sequence[int] = 10) -> list[int]:
    """The epochs to measure at: ``checkpoints`` (a count) evenly spaced up to ``epochs`` (every
    1/checkpoints of the run, rounded; the last is ``epochs``), or the listed epochs themselves."""
    if isinstance(checkpoints, int):
        if checkpoints < 1:
            raise ConfigError(f"checkpoints must be at least 1, got {checkpoints}")
        return sorted({max(1, round(i * epochs / checkpoints)) for i in range(1, checkpoints + 1)})
    listed = sorted({int(e) for e in checkpoints})
    if not listed or listed[0] < 1 or listed[-1] > epochs:
        raise ConfigError(f"checkpoint epochs must lie between 1 and the run's {epochs:,} epochs")
    return listed


@dataclass
class OverTraining:
    """Recovered concepts and absorption at each checkpoint of one run of ``seeds``."""

    config: TrainConfig  # its epochs: the whole run's
    seeds: list[int]
    tokens: list[str]
    concepts: list[str]  # the named concepts, in the references' order
    pairs: list[str]  # the nested pairs, "parent > child"
    checkpoints: list[int]  # the epochs planned
    table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=COLUMNS))  # long: epoch, kind, what, value
    matches: dict[int, list[list[ConceptMatch]]] = field(default_factory=dict)  # epoch -> seed -> concept's closest
    absorbed: dict[int, list[dict[str, float]]] = field(default_factory=dict)  # epoch -> seed -> pair -> absorption
    train_seconds: float = 0.0

    @property
    def epochs(self) -> list[int]:
        """The checkpoints reached (all of them, unless the run was stopped)."""
        return sorted(self.matches)

    @property
    def finished(self) -> bool:
        return self.epochs == self.checkpoints

    def recovered(self, epoch: int) -> dict[str, int]:
        """Concept -> how many seeds recovered it exactly at ``epoch`` (a checkpoint)."""
        rows = self.table[(self.table["epoch"] == epoch) & (self.table["kind"] == RECOVERED)]
        return {c: int(v) for c, v in zip(rows["what"], rows["value"])}

    def absorption(self, epoch: int) -> dict[str, float]:
        """Nested pair -> absorption averaged over the seeds at ``epoch``."""
        rows = self.table[(self.table["epoch"] == epoch) & (self.table["kind"] == ABSORPTION)]
        return dict(zip(rows["what"], rows["value"].astype(float)))

    def seed_match(self, seed: int, epoch: int, concept: str) -> ConceptMatch:
        """The closest feature to ``concept`` in ``seed``'s model at ``epoch``: ``.exact``, ``.difference()``."""
        return self.matches[epoch][self.seeds.index(seed)][self.concepts.index(concept)]

    def seed_absorption(self, seed: int, epoch: int) -> dict[str, float]:
        """Nested pair -> ``seed``'s absorption at ``epoch`` (1: the parent's feature lost every child token)."""
        return self.absorbed[epoch][self.seeds.index(seed)]

    def commonest_miss(self, epoch: int, concept: str) -> tuple[str, int]:
        """Among the seeds that missed ``concept`` at ``epoch``: the commonest near miss ("-robot, -AI
        assistant", or "no feature overlaps") and how many seeds missed it that way (("", 0): none missed)."""
        i = self.concepts.index(concept)
        misses = Counter(seed[i].difference() or "no feature overlaps"
                         for seed in self.matches[epoch] if not seed[i].exact)
        return misses.most_common(1)[0] if misses else ("", 0)

    def wide(self) -> pd.DataFrame:
        """One row per checkpoint: epoch, each concept's recovered count, each pair's absorption."""
        if self.table.empty:
            return pd.DataFrame(columns=["epoch", *self.concepts, *(f"absorption {p}" for p in self.pairs)])
        counts = self.table[self.table["kind"] == RECOVERED].pivot(index="epoch", columns="what", values="value")
        out = counts.reindex(columns=self.concepts).astype(int)
        if self.pairs:
            absorbed = self.table[self.table["kind"] == ABSORPTION].pivot(index="epoch", columns="what", values="value")
            for p in self.pairs:
                out[f"absorption {p}"] = absorbed[p].astype(float)
        return out.reset_index().rename_axis(columns=None)

    def to_dict(self) -> dict:
        return {
            "seeds": self.seeds,
            "config": self.config.to_dict(),
            "checkpoints": [
                {"epoch": e, "recovered": self.recovered(e),
                 "absorption": {p: round(v, 6) for p, v in self.absorption(e).items()}}
                for e in self.epochs
            ],
            "train_seconds": round(self.train_seconds, 4),
        }


class OverTrainingRun:
    """The run in flight: a ``Trainer`` of the seeds that measures at each checkpoint. It follows
    ``sae_core.stoppable.StoppableRun``, so the app can run it with one progress bar and a Stop;
    ``result()`` returns the checkpoints reached so far."""

    def __init__(self, x, config: TrainConfig, tokens: list[str], references: list[ReferenceFeature],
                 seeds: Sequence[int] | int, checkpoints: int | Sequence[int] = 10, device=None):
        seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
        self.trainer = Trainer(x, seed_members(config, seed_list), device=device)
        self.tokens, self.references = list(tokens), list(references)
        self.pairs = nested_pairs(self.references)
        self.out = OverTraining(config, seed_list, self.tokens, [r.name for r in self.references],
                                [pair_name(p, c) for p, c in self.pairs], checkpoint_epochs(config.epochs, checkpoints))
        self._rows: list[tuple[int, str, str, float]] = []

    @property
    def epoch(self) -> int:
        return self.trainer.epoch

    @property
    def progress_every(self) -> int:
        return self.trainer.progress_every

    @property
    def predicted_bytes(self) -> int:
        return self.trainer.predicted_bytes

    @property
    def finished(self) -> bool:
        return self.trainer.finished

    def history(self):
        return self.trainer.history()

    def _measure(self) -> None:
        epoch = self.trainer.epoch
        if epoch in self.out.matches or epoch not in self.out.checkpoints:
            return
        acts = [r.feature_activations for r in self.trainer.results()]
        found = [recovered_by(a, self.tokens, self.references) for a in acts]
        self.out.matches[epoch] = [closest_features(a, self.tokens, self.references) for a in acts]
        for ref in self.references:
            self._rows.append((epoch, RECOVERED, ref.name, float(sum(f[ref.name] is not None for f in found))))
        # absorption.mean_absorption's mean, keeping each seed's value
        self.out.absorbed[epoch] = [absorption_by_pair(a, self.tokens, self.references) for a in acts]
        for name in self.out.pairs:
            self._rows.append((epoch, ABSORPTION, name, float(np.mean([s[name] for s in self.out.absorbed[epoch]]))))
        self.out.table = pd.DataFrame(self._rows, columns=COLUMNS)

    def fit(self, on_step: Callable[[StepLog], None] | None = None, every: int = 0,
            stop: threading.Event | Callable[[], bool] | None = None) -> "OverTrainingRun":
        """Train to the end (or until ``stop``), measuring at every checkpoint; ``on_step`` every
        ``every`` epochs (default about 100 reports), called after that epoch's measurement."""
        every = every or max(1, self.trainer.config.epochs // 100)
        tick = math.gcd(every, *self.out.checkpoints)

        def each(log: StepLog) -> None:
            self._measure()
            if on_step is not None and (log.epoch % every == 0 or log.epoch == log.epochs):
                on_step(log)

        self.trainer.fit(each, every=tick, stop=stop)
        return self

    def result(self) -> OverTraining:
        self.out.train_seconds = self.trainer.seconds
        return self.out


def over_training(x, config: TrainConfig, tokens: list[str], references: list[ReferenceFeature],
                  seeds: Sequence[int] | int, checkpoints: int | Sequence[int] = 10,
                  on_step: Callable[[StepLog], None] | None = None, stop=None, every: int = 0,
                  device=None) -> OverTraining:
    """Train ``seeds`` (a list, or a count K meaning seeds 0..K-1) of ``config`` once, to its epochs,
    measuring recovered concepts and absorption at ``checkpoints`` (a count, evenly spaced, or a
    list of epochs)."""
    return OverTrainingRun(x, config, tokens, references, seeds, checkpoints, device).fit(on_step, every, stop).result()
