"""Hyper-parameter sweeps: a grid of hidden sizes x values of the architecture's sparsity knob x
seeds, trained as one batched model (smaller hidden sizes are padded and masked), summarised one
row per model. The knob is what the architecture declares (``SAE.knob``): the L1 weight for ReLU,
the L0 weight for JumpReLU, k for the TopK family. The sparsity (L0) vs reconstruction
(explained variance) trade-off is how people pick an SAE.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import pandas as pd

from . import limits
from .architectures import ARCHITECTURES, get_architecture, option_of
from .errors import ConfigError
from .options import Option
from .training import TrainConfig, TrainResult, Trainer

# the hidden sizes and seeds per setting the Sweep page starts from (the knob's values: its declaration)
DEFAULT_HIDDEN, DEFAULT_SEEDS = [4, 8, 16], 2


def grid_settings() -> dict[str, object]:
    """The Sweep page's starting grid, as app settings: hidden sizes, seeds per setting, and each
    registered knob's values (``sweep_<knob name>``: switching architectures keeps each grid)."""
    knobs = {knob_of(key) for key, cls in ARCHITECTURES.items() if cls.knob}
    return {"sweep_hidden": list(DEFAULT_HIDDEN), "sweep_seeds": DEFAULT_SEEDS,
            **{grid_key(knob): list(knob.sweep_values) for knob in knobs}}


def grid_key(knob: Option) -> str:
    """The app setting that holds a knob's swept values."""
    return "sweep_" + knob.name


def knob_of(architecture: str) -> Option:
    """The option a sweep of ``architecture`` varies (its own declaration: label, range, values)."""
    return option_of(architecture, get_architecture(architecture).knob)


@dataclass
class SweepResult:
    table: pd.DataFrame  # one row per model: point, hidden_dim, <knob>, seed, metrics
    results: list[TrainResult]  # in the same order as the rows
    train_seconds: float
    knob: Option  # the setting swept beside the hidden size (its name is the table's column)


def sweep_members(base: TrainConfig, hidden_dims: list[int], knob_values: list, seeds: list[int]) -> list[TrainConfig]:
    knob = knob_of(base.architecture)
    if not hidden_dims or not knob_values or not seeds:
        raise ConfigError(f"a sweep needs at least one hidden size, one {knob.what} and one seed")
    count = len(hidden_dims) * len(knob_values) * len(seeds)
    if count > limits.MAX_GRID:
        raise ConfigError(f"this sweep has {count} models; the limit is {limits.MAX_GRID} (fewer values or seeds)")
    return [replace(base, hidden_dim=int(h), seed=int(s), **{knob.name: knob.kind(v)})
            for h, v, s in itertools.product(sorted(set(hidden_dims)), sorted(set(knob_values)), seeds)]


def sweep(x, base: TrainConfig, hidden_dims: list[int], knob_values: list, seeds: list[int] = (0,),
          on_step=None, every: int = 0, stop=None, device=None) -> SweepResult:
    """Train every grid point at once and tabulate its metrics."""
    return sweep_result(sweep_trainer(x, base, hidden_dims, knob_values, seeds, device).fit(on_step, every, stop))


def sweep_trainer(x, base: TrainConfig, hidden_dims: list[int], knob_values: list, seeds: list[int] = (0,),
                  device=None) -> Trainer:
    """The batched trainer of the whole grid, not started (``device``: see ``sae_core.device``)."""
    return Trainer(x, sweep_members(base, list(hidden_dims), list(knob_values), list(seeds)), device=device)


def sweep_result(trainer: Trainer) -> SweepResult:
    """One row per grid point with what the trainer learned so far (also after a Stop)."""
    knob = knob_of(trainer.config.architecture)
    results = trainer.results()
    rows = []
    for point, result in enumerate(results):
        cfg, m = result.config, result.metrics
        rows.append({"point": point, "hidden_dim": cfg.hidden_dim, knob.name: getattr(cfg, knob.name),
                     "seed": cfg.seed, "mse": m.mse, "explained_variance": m.explained_variance,
                     "l0": m.l0, "dead_features": m.dead_features})
    return SweepResult(pd.DataFrame(rows), results, trainer.seconds, knob)
