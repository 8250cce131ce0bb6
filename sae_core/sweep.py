"""Hyper-parameter sweeps: a grid of hidden sizes x sparsity weights x seeds, trained as one
batched model (smaller hidden sizes are padded and masked), summarised one row per model.
The sparsity (L0) vs reconstruction (explained variance) trade-off is how people pick an SAE.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import pandas as pd

from . import limits
from .errors import ConfigError
from .training import TrainConfig, TrainResult, Trainer

# the grid the Sweep page starts from (hidden sizes, sparsity weights, seeds per setting)
DEFAULT_GRID = {"sweep_hidden": [4, 8, 16], "sweep_weights": [0.003, 0.01, 0.03, 0.1], "sweep_seeds": 2}


@dataclass
class SweepResult:
    table: pd.DataFrame  # one row per model: hidden_dim, sparsity_weight, seed, metrics, point
    results: list[TrainResult]  # in the same order as the rows
    train_seconds: float


def sweep_members(base: TrainConfig, hidden_dims: list[int], sparsity_weights: list[float],
                  seeds: list[int]) -> list[TrainConfig]:
    if not hidden_dims or not sparsity_weights or not seeds:
        raise ConfigError("a sweep needs at least one hidden size, one sparsity weight and one seed")
    count = len(hidden_dims) * len(sparsity_weights) * len(seeds)
    if count > limits.MAX_GRID:
        raise ConfigError(f"this sweep has {count} models; the limit is {limits.MAX_GRID} (fewer values or seeds)")
    return [replace(base, hidden_dim=int(h), sparsity_weight=float(w), seed=int(s))
            for h, w, s in itertools.product(sorted(set(hidden_dims)), sorted(set(sparsity_weights)), seeds)]


def sweep(x, base: TrainConfig, hidden_dims: list[int], sparsity_weights: list[float],
          seeds: list[int] = (0,), on_step=None, every: int = 0, stop=None) -> SweepResult:
    """Train every grid point at once and tabulate its metrics."""
    return sweep_result(sweep_trainer(x, base, hidden_dims, sparsity_weights, seeds).fit(on_step, every, stop))


def sweep_trainer(x, base: TrainConfig, hidden_dims: list[int], sparsity_weights: list[float],
                  seeds: list[int] = (0,)) -> Trainer:
    """The batched trainer of the whole grid, not started."""
    return Trainer(x, sweep_members(base, list(hidden_dims), list(sparsity_weights), list(seeds)))


def sweep_result(trainer: Trainer) -> SweepResult:
    """One row per grid point with what the trainer learned so far (also after a Stop)."""
    results = trainer.results()
    rows = []
    for point, result in enumerate(results):
        cfg, m = result.config, result.metrics
        rows.append({"point": point, "hidden_dim": cfg.hidden_dim, "sparsity_weight": cfg.sparsity_weight,
                     "seed": cfg.seed, "mse": m.mse, "explained_variance": m.explained_variance,
                     "l0": m.l0, "dead_features": m.dead_features})
    return SweepResult(pd.DataFrame(rows), results, trainer.seconds)
