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

import math
import threading
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from . import limits
from .architectures import ARCHITECTURES, get_architecture
from .architectures.base import SAE
from .errors import ConfigError
from .metrics import Metrics, evaluate, feature_density
from .optim import Adam


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run; same config + same data = same bits."""

    hidden_dim: int = 8
    sparsity_weight: float = 0.01
    lr: float = 0.01
    epochs: int = 1000
    seed: int = 0
    architecture: str = "standard"
    unit_norm_decoder: bool = False  # keep each feature's decoder row at length 1
    tied_init: bool = False  # start the encoder as the decoder's transpose
    init_decoder_bias_to_mean: bool = False  # start b_dec at the mean activation
    resample_dead_every: int = 0  # every N epochs, re-initialise features that never fired (0: off)
    # Sparsity cost of a feature times its decoder row's length (Anthropic, Apr 2024): stops the
    # model dodging the penalty by shrinking activations and growing decoder rows.
    decoder_norm_penalty: bool = False
    init_decoder_norm: float = 0.0  # start each decoder row at this length, e.g. 0.1 (0: off): small, even start
    # Tokens per Adam step: a table larger than this trains in shuffled mini-batches (an epoch is
    # one pass); a batch at least the table's size is one full-batch step per epoch.
    batch_size: int = limits.DEFAULT_BATCH_SIZE
    # Architecture settings: each architecture declares which of these it reads (``settings()``).
    k: int = 4  # TopK / BatchTopK: active features per token (BatchTopK: on average over the batch)
    auxk_weight: float = 1 / 32  # TopK family: weight of the auxiliary loss that revives dead features
    jumprelu_threshold: float = 0.01  # JumpReLU: every feature's starting threshold
    jumprelu_bandwidth: float = 0.05  # JumpReLU: width of the straight-through estimator's window

    def validate(self, n_rows: int = 1, n_members: int = 1) -> "TrainConfig":
        """Raise ConfigError naming the first absurd value; return self when all is well."""
        if not isinstance(self.hidden_dim, int) or not 1 <= self.hidden_dim <= limits.MAX_HIDDEN:
            raise ConfigError(f"hidden size must be a whole number from 1 to {limits.MAX_HIDDEN} (got {self.hidden_dim})")
        if not _finite(self.sparsity_weight) or not 0 <= self.sparsity_weight <= limits.MAX_SPARSITY_WEIGHT:
            raise ConfigError(f"sparsity weight must be between 0 and {limits.MAX_SPARSITY_WEIGHT:g} (got {self.sparsity_weight})")
        if not _finite(self.lr) or not limits.MIN_LR <= self.lr <= limits.MAX_LR:
            raise ConfigError(f"learning rate must be from {limits.MIN_LR:g} to {limits.MAX_LR:g} (got {self.lr})")
        if not isinstance(self.epochs, int) or not 1 <= self.epochs <= limits.MAX_EPOCHS:
            raise ConfigError(f"epochs must be a whole number from 1 to {limits.MAX_EPOCHS:,} (got {self.epochs})")
        if not isinstance(self.seed, int) or not 0 <= self.seed <= limits.MAX_SEED:
            raise ConfigError(f"seed must be a whole number from 0 to 2^31-1 = {limits.MAX_SEED:,} (got {self.seed})")
        if self.architecture not in ARCHITECTURES:
            raise ConfigError(f"unknown architecture '{self.architecture}' (known: {', '.join(sorted(ARCHITECTURES))})")
        if not isinstance(self.resample_dead_every, int) or not 0 <= self.resample_dead_every <= limits.MAX_EPOCHS:
            raise ConfigError(f"resample_dead_every must be 0 (off) or a number of epochs (got {self.resample_dead_every})")
        if not _finite(self.init_decoder_norm) or not 0 <= self.init_decoder_norm <= limits.MAX_INIT_DECODER_NORM:
            raise ConfigError(f"init_decoder_norm must be 0 (off) or a length up to "
                              f"{limits.MAX_INIT_DECODER_NORM:g} (got {self.init_decoder_norm})")
        if not isinstance(self.batch_size, int) or not 1 <= self.batch_size <= limits.MAX_ROWS:
            raise ConfigError(f"batch size must be a whole number from 1 to {limits.MAX_ROWS:,} "
                              f"(got {self.batch_size})")
        if not isinstance(self.k, int) or not 1 <= self.k <= limits.MAX_HIDDEN:
            raise ConfigError(f"k must be a whole number from 1 to {limits.MAX_HIDDEN} (got {self.k})")
        if not _finite(self.auxk_weight) or not 0 <= self.auxk_weight <= limits.MAX_SPARSITY_WEIGHT:
            raise ConfigError(f"auxk_weight must be between 0 and {limits.MAX_SPARSITY_WEIGHT:g} "
                              f"(got {self.auxk_weight})")
        for name in ("jumprelu_threshold", "jumprelu_bandwidth"):
            value = getattr(self, name)
            if not _finite(value) or not limits.MIN_JUMPRELU_VALUE <= value <= limits.MAX_JUMPRELU_VALUE:
                raise ConfigError(f"{name} must be from {limits.MIN_JUMPRELU_VALUE:g} to "
                                  f"{limits.MAX_JUMPRELU_VALUE:g} (got {value})")
        get_architecture(self.architecture).validate_settings(self)
        work = n_rows * self.hidden_dim * self.epochs * n_members
        if work > limits.MAX_TRAINING_WORK:
            raise ConfigError(
                f"this run is too large: tokens x hidden x epochs{' x seeds' if n_members > 1 else ''} = "
                f"{work:,} is over the limit of {limits.MAX_TRAINING_WORK:,}; lower the epochs or the hidden size"
            )
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        """Build from a dict, refusing unknown keys and wrong types (config files, JSON)."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"unknown training setting(s): {', '.join(unknown)}")
        values = {}
        for key, value in data.items():
            kind = type(getattr(cls(), key))
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ConfigError(f"training setting '{key}' must be {kind.__name__} (got {value!r})")
            values[key] = value
        return cls(**values)


# The article's recipe is TrainConfig() itself; RECOMMENDED is what the app and the CLI
# start from, chosen by measurement on the founding table (README, "Defaults").
ARTICLE = TrainConfig()
RECOMMENDED = TrainConfig(hidden_dim=8, sparsity_weight=0.07, lr=0.002, epochs=1000, tied_init=True,
                          init_decoder_bias_to_mean=True, decoder_norm_penalty=True, init_decoder_norm=0.1)
# What the Real model page and `train DIR` start from on extracted activations (README, "Real model").
REAL_TABLE = TrainConfig(architecture="topk", k=16, hidden_dim=1536, batch_size=256, epochs=20, lr=0.001,
                         sparsity_weight=5.0, decoder_norm_penalty=True,  # used if you switch to ReLU + L1
                         tied_init=True, init_decoder_bias_to_mean=True, init_decoder_norm=0.1)


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


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


HISTORY_NAMES = {"mse": "reconstruction"}  # loss name -> history column, where they differ
DATA_ORDER_SEED = 0  # mini-batch order: the same for every member, so batched seeds equal separate runs


def history_columns(architecture: str) -> list[str]:
    """The loss history's columns: epoch, total, then the architecture's loss names."""
    names = get_architecture(architecture).loss_names
    return ["epoch", "total"] + [HISTORY_NAMES.get(name, name) for name in names]


class Trainer:
    """Trains ``members`` (configs differing only in seed, hidden_dim, sparsity_weight) at once."""

    SHARED = tuple(f.name for f in fields(TrainConfig) if f.name not in ("seed", "hidden_dim", "sparsity_weight"))

    def __init__(self, x, members: list[TrainConfig] | TrainConfig,
                 batches: Callable[[int], Tensor] | None = None):
        """``batches``: streamed data, step i trains on ``batches(i)`` (shape (n, D)) instead of x;
        x then only sets the dimensions and the data-dependent initialisation."""
        members = [members] if isinstance(members, TrainConfig) else list(members)
        if not members:
            raise ConfigError("nothing to train: no configurations given")
        if len(members) > limits.MAX_MODELS_PER_RUN:
            raise ConfigError(f"too many models in one run ({len(members)}); the limit is {limits.MAX_MODELS_PER_RUN}")
        self.x_ND = as_matrix(x)
        first = members[0]
        for m in members:
            m.validate(n_rows=self.x_ND.shape[0], n_members=1)
            if any(getattr(m, k) != getattr(first, k) for k in self.SHARED):
                raise ConfigError("members of one run may differ only in seed, hidden size and sparsity weight")
        work = sum(self.x_ND.shape[0] * m.hidden_dim * m.epochs for m in members)
        if work > limits.MAX_TRAINING_WORK:
            raise ConfigError(
                f"this run is too large: tokens x hidden x epochs summed over {len(members)} models = {work:,} "
                f"is over the limit of {limits.MAX_TRAINING_WORK:,}; train fewer seeds or fewer epochs"
            )
        check_memory(self.x_ND.shape[0], self.x_ND.shape[1], [m.hidden_dim for m in members])
        self.members = members
        self.config = first
        self.batches = batches
        arch = get_architecture(first.architecture)
        self.model: SAE = arch(
            self.x_ND.shape[1],
            [m.hidden_dim for m in members],
            [m.seed for m in members],
            [m.sparsity_weight for m in members],
            **{name: getattr(first, name) for name in arch.options},
        )
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
            seen_ND = self.batches(self.epoch)
            losses = self._update(seen_ND)
        elif batch >= n:
            losses = self._update(self.x_ND)
        else:
            order = torch.randperm(n, generator=self._order)
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
        return self

    def step_log(self, losses: Tensor) -> StepLog:
        penalties_S = losses[2:].sum(dim=0)  # sparsity and auxiliary terms; zero if there are none
        return StepLog(self.epoch, self.config.epochs, losses[0].tolist(), losses[1].tolist(),
                       penalties_S.tolist(), self.seconds)

    @property
    def finished(self) -> bool:
        return self.epoch >= self.config.epochs

    def history(self, member: int = 0) -> pd.DataFrame:
        columns = history_columns(self.config.architecture)
        if not self._history:
            return pd.DataFrame(columns=columns)
        epochs = [e for e, _ in self._history]
        losses = torch.stack([l[:, member] for _, l in self._history]).double().numpy()
        return pd.DataFrame({"epoch": epochs, **{name: losses[:, i] for i, name in enumerate(columns[1:])}})

    @torch.no_grad()
    def results(self) -> list[TrainResult]:
        """One result per member, with what was learned up to now (also after a stop)."""
        model, x = self.model, self.x_ND
        metrics = evaluate(model, x)
        f_SNH = model.encode(x)
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


def check_memory(n_rows: int, d_in: int, hidden_dims: list[int]) -> None:
    """Refuse a run whose tensors cannot fit: the caps bound memory, not only work.

    Members are padded to the widest, so a run of S members holds (S, tokens, max(width, dims))
    activations at once (evaluation, results, dead-feature tracking; mini-batches hold fewer)
    and (S, width, dims) weights in each of encoder and decoder (each with gradient and two
    Adam moments).
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
          every: int = 0, stop=None) -> TrainResult:
    """Train one SAE on x (tokens x dims) and return what it learned."""
    return Trainer(x, config or TrainConfig()).fit(on_step, every, stop).result()


def train_seeds(x, config: TrainConfig, seeds: list[int], on_step=None, every: int = 0,
                stop=None) -> list[TrainResult]:
    """Train the same configuration under several seeds at once (one batched model)."""
    return Trainer(x, seed_members(config, seeds)).fit(on_step, every, stop).results()


def seed_members(config: TrainConfig, seeds: list[int]) -> list[TrainConfig]:
    return [replace(config, seed=int(s)) for s in seeds]
