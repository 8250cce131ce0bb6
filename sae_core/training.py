"""One trainer for the app, the CLI and the benchmarks.

``Trainer`` trains S members at once (a leading member dimension: several seeds, or a grid
of hidden sizes x sparsity weights); ``train`` is the one-model shortcut. The loop, in
order, each epoch (one pass over the table: one full-batch Adam step, or shuffled
mini-batches when the table is larger than ``batch_size``):
[forward/backward -> Adam step -> architecture's after-update hook -> decoder renorm
(option)] per batch -> dead-feature resampling (option) -> log -> callback -> stop check.
The trainer never edits the model's tensors itself: it calls the architecture's hooks.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, fields, replace
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from . import limits, memory
from .allocator import release_freed_memory
from .architectures import ARCHITECTURES, OPTIONS, get_architecture
from .architectures.base import SAE
from .device import resolve_device
from .errors import ConfigError
from .metrics import Metrics, evaluate, feature_density
from .optim import Adam
from .options import Option


# The settings every architecture shares, declared once (each architecture declares its own in
# its file): pages, CLI flags, URL keys and validation messages are generated from these.
ARCHITECTURE = Option("architecture", str, "standard", "Architecture",
                      "Which SAE: how it picks the active features and what its loss penalises.")
HIDDEN_DIM = Option("hidden_dim", int, 8, "Hidden size (features)",
                    "How many features the SAE may use. More features than dimensions lets it untangle "
                    "superposition; too many leaves some dead.", low=1, high=limits.MAX_HIDDEN, noun="hidden size",
                    per_member=True, step=1)
LR = Option("lr", float, 0.01, "Learning rate", "Adam's step size. 0.001-0.03 works for small tables.",
            low=limits.MIN_LR, high=limits.MAX_LR, noun="learning rate", step=0.001, format="%.6g")
EPOCHS = Option("epochs", int, 1000, "Epochs",
                "Passes over the whole table (one Adam step each, or one per mini-batch on large tables).",
                low=1, high=limits.MAX_EPOCHS, step=100)
SEED = Option("seed", int, 0, "Random seed",
              "Sets the initial weights. Same seed + same settings + same table = the same model.",
              low=0, high=limits.MAX_SEED, range_text=f"a whole number from 0 to 2^31-1 = {limits.MAX_SEED:,}",
              per_member=True, step=1)
UNIT_NORM_DECODER = Option("unit_norm_decoder", bool, False, "Unit-norm decoder",
                           "Rescale each feature's decoder row to length 1 after every step, so the sparsity "
                           "penalty cannot be dodged by shrinking activations.", advanced=True)
TIED_INIT = Option("tied_init", bool, False, "Tied initialisation",
                   "Start the encoder as the transpose of the decoder.", advanced=True)
INIT_DECODER_BIAS_TO_MEAN = Option("init_decoder_bias_to_mean", bool, False, "Decoder bias starts at the data mean",
                                   "Features then only explain how tokens differ from the average token.",
                                   advanced=True)
RESAMPLE_DEAD_EVERY = Option("resample_dead_every", int, 0, "Resample dead features every N epochs (0 = off)",
                             "A feature that fired on no token during the last N epochs is restarted towards "
                             "the worst-reconstructed token.", low=0, high=limits.MAX_EPOCHS,
                             noun="dead-feature resampling interval", advanced=True, step=50)
INIT_DECODER_NORM = Option("init_decoder_norm", float, 0.0, "Initial decoder row length (0 = off)",
                           "Every feature's decoder row starts at this length: a small, even start.",
                           low=0.0, high=limits.MAX_INIT_DECODER_NORM, noun="initial decoder row length",
                           advanced=True, step=0.05, format="%.3g")
BATCH_SIZE = Option("batch_size", int, limits.DEFAULT_BATCH_SIZE, "Mini-batch size (tokens per Adam step)",
                    "A table with more tokens than this trains in shuffled mini-batches, one Adam step each (an "
                    "epoch is one pass); a smaller table trains in one full batch.", low=1, high=limits.MAX_ROWS,
                    noun="batch size", advanced=True, step=256)
SHARED_SETTINGS: tuple[Option, ...] = (HIDDEN_DIM, LR, EPOCHS, SEED, ARCHITECTURE, UNIT_NORM_DECODER, TIED_INIT,
                                       INIT_DECODER_BIAS_TO_MEAN, RESAMPLE_DEAD_EVERY, INIT_DECODER_NORM, BATCH_SIZE)


@dataclass(frozen=True, init=False, eq=False)
class TrainConfig:
    """Everything that determines a training run; same config + same data = same bits.

    The shared settings are fields; ``options`` holds the value of every registered
    architecture's options (name, value pairs), read as attributes (``config.k``) and given
    as keywords (``TrainConfig(architecture="topk", k=2)``, ``replace(config, k=2)``).
    """

    hidden_dim: int = HIDDEN_DIM.default
    lr: float = LR.default
    epochs: int = EPOCHS.default
    seed: int = SEED.default
    architecture: str = ARCHITECTURE.default
    unit_norm_decoder: bool = UNIT_NORM_DECODER.default  # keep each feature's decoder row at length 1
    tied_init: bool = TIED_INIT.default  # start the encoder as the decoder's transpose
    init_decoder_bias_to_mean: bool = INIT_DECODER_BIAS_TO_MEAN.default  # start b_dec at the mean activation
    resample_dead_every: int = RESAMPLE_DEAD_EVERY.default  # every N epochs, restart features that never fired
    init_decoder_norm: float = INIT_DECODER_NORM.default  # start each decoder row at this length (0: off)
    batch_size: int = BATCH_SIZE.default  # tokens per Adam step: larger tables train in mini-batches
    options: tuple[tuple[str, Any], ...] = ()  # every architecture option's value, sorted by name

    def __init__(self, options: tuple[tuple[str, Any], ...] | dict = (), **settings):
        values = dict(options)
        for name, value in settings.items():
            if name in SHARED_NAMES:
                object.__setattr__(self, name, value)
            elif name in OPTIONS:
                values[name] = value
            else:
                raise TypeError(f"TrainConfig has no setting '{name}'")
        for option in SHARED_SETTINGS:
            if option.name not in settings:
                object.__setattr__(self, option.name, option.default)
        object.__setattr__(self, "options", tuple(sorted(
            (name, values.get(name, option.default)) for name, option in OPTIONS.items())))

    def __getattr__(self, name: str):
        """An architecture option's value (only called when ``name`` is not a field); an option
        registered after this config was made has its default."""
        if name not in OPTIONS:
            raise AttributeError(f"TrainConfig has no setting '{name}'")
        return dict(object.__getattribute__(self, "options")).get(name, OPTIONS[name].default)

    def __eq__(self, other) -> bool:
        return isinstance(other, TrainConfig) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(tuple(self.to_dict().items()))

    def __repr__(self) -> str:
        return f"TrainConfig({', '.join(f'{k}={v!r}' for k, v in self.to_dict().items())})"

    def describe(self, seed: bool = True) -> str:
        """The settings in one line for a person: "ReLU + L1 (the article's), hidden 8, sparsity weight 0.07,
        lr 0.002, 1,000 epochs, seed 0" (the architecture's knob by its own name)."""
        arch = get_architecture(self.architecture)
        knob = f", {next(o.what for o in arch.options if o.name == arch.knob)} {getattr(self, arch.knob):g}" \
            if arch.knob else ""
        return (f"{arch.label}, hidden {self.hidden_dim}{knob}, lr {self.lr:g}, {self.epochs:,} epochs"
                + (f", seed {self.seed}" if seed else ""))

    def option_values(self) -> dict[str, Any]:
        """The values of this config's architecture's own options."""
        return {o.name: getattr(self, o.name) for o in get_architecture(self.architecture).options}

    def validate(self, n_rows: int = 1, n_members: int = 1) -> "TrainConfig":
        """Raise ConfigError naming the first absurd value; return self when all is well."""
        if self.architecture not in ARCHITECTURES:
            raise ConfigError(f"unknown architecture '{self.architecture}' (known: {', '.join(sorted(ARCHITECTURES))})")
        for option in SHARED_SETTINGS:
            if option is not ARCHITECTURE:
                option.check(getattr(self, option.name))
        for name, option in OPTIONS.items():
            option.check(getattr(self, name))
        get_architecture(self.architecture).validate_settings(self)
        work = n_rows * self.hidden_dim * self.epochs * n_members
        if work > limits.MAX_TRAINING_WORK:
            raise ConfigError(
                f"this run is too large: tokens x hidden x epochs{' x seeds' if n_members > 1 else ''} = "
                f"{work:,} is over the limit of {limits.MAX_TRAINING_WORK:,}; lower the epochs or the hidden size"
            )
        return self

    def to_dict(self) -> dict:
        """Every setting by name: the shared ones, then every architecture option."""
        return {**{o.name: getattr(self, o.name) for o in SHARED_SETTINGS}, **{name: getattr(self, name) for name in OPTIONS}}

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        """Build from a dict, refusing unknown keys and wrong types (config files, JSON)."""
        known = all_settings()
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"unknown training setting(s): {', '.join(unknown)}")
        return cls(**{key: known[key].coerce(value) for key, value in data.items()})


SHARED_NAMES = frozenset(o.name for o in SHARED_SETTINGS)
assert [f.name for f in fields(TrainConfig)] == [*(o.name for o in SHARED_SETTINGS), "options"]


def all_settings() -> dict[str, Option]:
    """Every setting a TrainConfig holds, by name: the shared ones, then every registered option."""
    return {**{o.name: o for o in SHARED_SETTINGS}, **OPTIONS}


def settings_of(architecture: str) -> list[Option]:
    """What a person sets for ``architecture``: the shared settings, then its own options (its labels)."""
    return [o for o in SHARED_SETTINGS if o is not ARCHITECTURE] + list(get_architecture(architecture).options)


# The article's recipe is TrainConfig() itself; RECOMMENDED is what the app and the CLI
# start from, chosen by measurement on the founding table (README, "Defaults").
ARTICLE = TrainConfig()
RECOMMENDED = TrainConfig(hidden_dim=8, sparsity_weight=0.07, lr=0.002, epochs=1000, tied_init=True,
                          init_decoder_bias_to_mean=True, decoder_norm_penalty=True, init_decoder_norm=0.1)
# What the Real model page and `train DIR` start from on extracted activations, chosen by measurement for a
# readable lesson: few dead features, concepts well above chance (README, "Real model" and "Splitting on real text").
REAL_TABLE = TrainConfig(architecture="topk", k=4, hidden_dim=256, batch_size=256, epochs=20, lr=0.001,
                         sparsity_weight=5.0, decoder_norm_penalty=True,  # used if you switch to ReLU + L1
                         tied_init=True, init_decoder_bias_to_mean=True)


@dataclass(frozen=True)
class StepLog:
    """What a callback receives every few epochs (plain numbers; one entry per member)."""

    epoch: int
    epochs: int
    total: list[float]
    mse: list[float]
    sparsity: list[float]  # every term but the reconstruction, summed (sparsity, auxiliary losses)
    seconds: float

    @property
    def fraction(self) -> float:
        return self.epoch / self.epochs

    @property
    def text(self) -> str:
        """The step in words, for a progress bar."""
        return f"Epoch {self.epoch:,} of {self.epochs:,}"


@dataclass
class TrainResult:
    """One trained SAE and what it learned on the table it was trained on."""

    config: TrainConfig
    model: SAE  # one member (S = 1)
    history: pd.DataFrame  # epoch, total, then one column per loss term (reconstruction, sparsity, ...)
    metrics: Metrics
    feature_activations: np.ndarray  # (tokens, features)
    decoder_directions: np.ndarray  # (features, dims)
    feature_density: np.ndarray  # (features,) fraction of tokens each feature fires on
    epochs_done: int
    stopped_early: bool
    train_seconds: float

    @property
    def dead_features(self) -> list[int]:
        return [j for j, d in enumerate(self.feature_density) if d == 0]


PROGRESS_UPDATES = 40  # progress reports in one run, for the app's progress bar
DATA_ORDER_SEED = 0  # mini-batch order: the same for every member, so batched seeds equal separate runs


def history_columns(architecture: str) -> list[str]:
    """The loss history's columns: epoch, total, reconstruction, then the architecture's penalties."""
    return get_architecture(architecture).history_columns()


class Trainer:
    """Trains ``members`` (configs differing only in seed, hidden size and the architecture's per-member
    options, e.g. its sparsity knob) at once."""

    def __init__(self, x, members: list[TrainConfig] | TrainConfig,
                 batches: Callable[[int], Tensor] | None = None, device: str | torch.device | None = None):
        """``batches``: streamed data, step i trains on ``batches(i)`` (shape (n, D)) instead of x;
        x then only sets the dimensions and the data-dependent initialisation. ``device``: where
        the arithmetic runs (``sae_core.device``: cpu, cuda, mps, auto; default cpu); the model
        starts from the same draws on the CPU and results come back to the CPU."""
        self.device = resolve_device(device)
        members = [members] if isinstance(members, TrainConfig) else list(members)
        if not members:
            raise ConfigError("nothing to train: no configurations given")
        if len(members) > limits.MAX_MODELS_PER_RUN:
            raise ConfigError(f"too many models in one run ({len(members)}); the limit is {limits.MAX_MODELS_PER_RUN}")
        self.x_ND = as_matrix(x)
        first = members[0]
        arch = get_architecture(first.architecture)
        varying = [o for o in (*SHARED_SETTINGS, *arch.options) if o.per_member]
        same = [name for name in first.to_dict() if name not in {o.name for o in varying}]
        for m in members:
            m.validate(n_rows=self.x_ND.shape[0], n_members=1)
            if any(getattr(m, name) != getattr(first, name) for name in same):
                raise ConfigError(f"members of one run may differ only in {', '.join(o.what for o in varying)}")
        work = sum(self.x_ND.shape[0] * m.hidden_dim * m.epochs for m in members)
        if work > limits.MAX_TRAINING_WORK:
            raise ConfigError(
                f"this run is too large: tokens x hidden x epochs summed over {len(members)} models = {work:,} "
                f"is over the limit of {limits.MAX_TRAINING_WORK:,}; train fewer seeds or fewer epochs"
            )
        # what this run adds to a process while it trains (a server's line weighs it: sae_core.run_queue)
        self.predicted_bytes = check_memory(self.x_ND.shape[0], self.x_ND.shape[1], [m.hidden_dim for m in members],
                                            first.batch_size if batches is None else self.x_ND.shape[0],
                                            arch.step_copies) - memory.BASELINE
        self.members = members
        self.config = first
        self.batches = batches
        self.model: SAE = arch(
            self.x_ND.shape[1],
            [m.hidden_dim for m in members],
            [m.seed for m in members],
            **{o.name: [getattr(m, o.name) for m in members] if o.per_member else getattr(first, o.name)
               for o in arch.options},
        )
        self.model.to(self.device)
        self.x_ND = self.x_ND.to(self.device)
        self._initialise()
        self.optimizer = Adam(dict(self.model.named_parameters()), lr=first.lr)
        self.epoch = 0
        self.seconds = 0.0
        self._log_every = max(1, first.epochs // 500)
        self._history: list[tuple[int, Tensor]] = []  # (epoch, losses (1 + terms, S))
        self._fired_SH = torch.zeros_like(self.model.hidden_mask, dtype=torch.bool)
        self._order = torch.Generator().manual_seed(DATA_ORDER_SEED)

    @torch.no_grad()
    def _initialise(self) -> None:
        cfg, model = self.config, self.model
        if cfg.unit_norm_decoder:
            model.normalise_decoder()
        if cfg.init_decoder_norm:
            model.scale_decoder(cfg.init_decoder_norm)
        if cfg.tied_init:
            model.tie_encoder_to_decoder()
        if cfg.init_decoder_bias_to_mean:
            model.set_decoder_bias(self.x_ND.mean(dim=0))

    def step(self) -> Tensor:
        """One epoch; returns its losses, shape (1 + terms, S): total, then each loss term.

        A table no larger than ``batch_size`` is one full-batch update (the losses are those
        before it); a larger one is a pass of shuffled mini-batches (the losses are their
        token-weighted mean, each measured before its own update). With streamed ``batches``
        it is one update on batch ``epoch``.
        """
        n, batch = self.x_ND.shape[0], self.config.batch_size
        seen_ND = self.x_ND  # what dead-feature tracking looks at
        if self.batches is not None:  # streamed: a fresh batch every step
            seen_ND = self.batches(self.epoch).to(self.device)
            losses = self._update(seen_ND)
        elif batch >= n:
            losses = self._update(self.x_ND)
        else:
            order = torch.randperm(n, generator=self._order).to(self.device)
            losses = sum(self._update(self.x_ND[order[i : i + batch]]) * min(batch, n - i)
                         for i in range(0, n, batch)) / n
        if self.config.resample_dead_every:
            self._track_and_resample(seen_ND)
        self.epoch += 1
        return losses

    def _update(self, x_ND: Tensor) -> Tensor:
        """One Adam step on the rows x_ND; returns the losses before it, shape (1 + terms, S)."""
        terms = list(self.model.forward_backward(x_ND).values())
        self.optimizer.step()
        self.model.after_update()
        if self.config.unit_norm_decoder:
            self.model.normalise_decoder()
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return torch.stack([total, *terms])

    @torch.no_grad()
    def _track_and_resample(self, x_ND: Tensor) -> None:
        """Every ``resample_dead_every`` epochs, restart features that fired on no token since.

        x_ND: the table (or, when streamed, this step's batch). The architecture re-initialises
        them (``restart_features``); their Adam moments are reset here, so the restarted
        entries do not inherit the dead feature's momentum.
        """
        model = self.model
        self._fired_SH |= (model.encode(x_ND) > 0).any(dim=1)
        if (self.epoch + 1) % self.config.resample_dead_every or self.epoch + 1 >= self.config.epochs:
            return
        dead_SH = ~self._fired_SH & (model.hidden_mask > 0)
        self._fired_SH.zero_()
        if dead_SH.any():
            self.optimizer.reset(model.restart_features(dead_SH, x_ND))

    def fit(self, on_step: Callable[[StepLog], None] | None = None, every: int = 0,
            stop: threading.Event | Callable[[], bool] | None = None) -> "Trainer":
        """Train until ``epochs`` or until ``stop`` is set; call ``on_step`` every ``every`` epochs.

        The trainer keeps its state if a callback raises (the app's Stop button interrupts
        the script that way), so ``result()`` then returns what was learned so far.
        """
        epochs = self.config.epochs
        every = every or max(1, epochs // 100)
        should_stop = stop.is_set if isinstance(stop, threading.Event) else stop
        start = time.perf_counter()
        try:
            while self.epoch < epochs:
                losses = self.step()
                release_freed_memory()  # every few seconds (sae_core.allocator)
                if self.epoch % self._log_every == 0 or self.epoch == epochs or self.epoch == 1:
                    self._history.append((self.epoch, losses))
                if on_step is not None and (self.epoch % every == 0 or self.epoch == epochs):
                    self.seconds += time.perf_counter() - start
                    start = time.perf_counter()
                    on_step(self.step_log(losses))
                if should_stop is not None and self.epoch < epochs and should_stop():
                    break
        finally:
            self.seconds += time.perf_counter() - start
            release_freed_memory(force=True)  # the last steps' freed pages too, before the results are made
        return self

    def step_log(self, losses: Tensor) -> StepLog:
        penalties_S = losses[2:].sum(dim=0)  # sparsity and auxiliary terms; zero if there are none
        return StepLog(self.epoch, self.config.epochs, losses[0].tolist(), losses[1].tolist(),
                       penalties_S.tolist(), self.seconds)

    @property
    def finished(self) -> bool:
        return self.epoch >= self.config.epochs

    @property
    def progress_every(self) -> int:
        """``fit``'s ``every`` for about PROGRESS_UPDATES reports over the run (the app's progress bar)."""
        return max(1, self.config.epochs // PROGRESS_UPDATES)

    def history(self, member: int = 0) -> pd.DataFrame:
        columns = history_columns(self.config.architecture)
        if not self._history:
            return pd.DataFrame(columns=columns)
        epochs = [e for e, _ in self._history]
        losses = torch.stack([l[:, member] for _, l in self._history]).double().cpu().numpy()
        return pd.DataFrame({"epoch": epochs, **{name: losses[:, i] for i, name in enumerate(columns[1:])}})

    @torch.no_grad()
    def results(self) -> list[TrainResult]:
        """One result per member, with what was learned up to now (also after a stop)."""
        model, x = self.model, self.x_ND
        metrics = evaluate(model, x)
        f_SNH = model.encode(x).cpu()
        density_SH = feature_density(f_SNH)
        out = []
        for s, cfg in enumerate(self.members):
            h = cfg.hidden_dim
            out.append(TrainResult(
                config=cfg,
                model=model.member(s),
                history=self.history(s),
                metrics=metrics[s],
                feature_activations=f_SNH[s, :, :h].numpy().copy(),
                decoder_directions=model.decoder_directions(s).numpy().copy(),
                feature_density=density_SH[s, :h].numpy().copy(),
                epochs_done=self.epoch,
                stopped_early=self.epoch < cfg.epochs,
                train_seconds=self.seconds,
            ))
        return out

    def result(self) -> TrainResult:
        return self.results()[0]


def check_memory(n_rows: int, d_in: int, hidden_dims: list[int], batch: int | None = None,
                 step_copies: float | None = None) -> int:
    """Refuse a run whose tensors cannot fit: the caps bound memory, not only work; else return the
    predicted peak bytes of the whole process.

    Members are padded to the widest, so a run of S members holds (S, tokens, max(width, dims))
    activations at once (evaluation, results, dead-feature tracking; mini-batches hold fewer)
    and (S, width, dims) weights in each of encoder and decoder (each with gradient and two
    Adam moments). Within the caps, the memory model (``sae_core.memory``) has the last word:
    a run predicted over its budget is refused.
    """
    members, width = len(hidden_dims), max(hidden_dims)
    activations = n_rows * members * max(width, d_in)
    if activations > limits.MAX_ACTIVATION_CELLS:
        raise ConfigError(
            f"this run holds tokens x models x max(features, dims) = {activations:,} numbers at once, over the "
            f"memory limit of {limits.MAX_ACTIVATION_CELLS:,}; use fewer tokens, seeds or features")
    weights = members * width * d_in
    if weights > limits.MAX_WEIGHT_CELLS:
        raise ConfigError(
            f"this run's weights are models x features x dims = {weights:,}, over the memory limit of "
            f"{limits.MAX_WEIGHT_CELLS:,}; use fewer seeds, features or dimensions")
    predicted = memory.run(n_rows, d_in, hidden_dims, batch,
                           step_copies=step_copies or 0.0)  # no step_copies: no training (encoding a table)
    memory.refuse_over_budget(predicted, f"this run ({n_rows:,} tokens x {d_in:,} dims, {members} model(s) of up "
                              f"to {width:,} features)", "use fewer tokens, seeds, features or a smaller batch size")
    return predicted


def as_matrix(x) -> Tensor:
    """A 2-D float32 tensor from an array, tensor or table of finite numbers."""
    if isinstance(x, pd.DataFrame):
        from .table import values_of
        x = values_of(x)
    try:
        x_ND = torch.as_tensor(np.array(x, dtype=np.float32)) if not isinstance(x, Tensor) else x
    except (TypeError, ValueError):
        raise ConfigError("training data must be a 2-D array of numbers") from None
    x_ND = x_ND.to(torch.float32).contiguous()
    if x_ND.ndim != 2 or x_ND.shape[0] < 1 or x_ND.shape[1] < 1:
        raise ConfigError(f"training data must be a 2-D array (tokens x dims), got shape {tuple(x_ND.shape)}")
    if not torch.isfinite(x_ND).all():
        raise ConfigError("training data contains NaN or infinite values")
    return x_ND


def train(x, config: TrainConfig | None = None, on_step: Callable[[StepLog], None] | None = None,
          every: int = 0, stop=None, device: str | torch.device | None = None) -> TrainResult:
    """Train one SAE on x (tokens x dims) and return what it learned."""
    return Trainer(x, config or TrainConfig(), device=device).fit(on_step, every, stop).result()


def train_seeds(x, config: TrainConfig, seeds: list[int], on_step=None, every: int = 0,
                stop=None, device: str | torch.device | None = None) -> list[TrainResult]:
    """Train the same configuration under several seeds at once (one batched model)."""
    return Trainer(x, seed_members(config, seeds), device=device).fit(on_step, every, stop).results()


def seed_members(config: TrainConfig, seeds: list[int]) -> list[TrainConfig]:
    return [replace(config, seed=int(s)) for s in seeds]
