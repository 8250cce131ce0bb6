"""One trainer for the app, the CLI and the benchmarks.

``Trainer`` trains S members at once (a leading member dimension: several seeds, or a grid
of hidden sizes x sparsity weights); ``train`` is the one-model shortcut. The loop, in
order, each epoch (one full-batch Adam step over the whole table):
forward/backward -> Adam step -> decoder renorm (option) -> dead-feature resampling
(option) -> log -> callback -> stop check.
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
from .errors import ConfigError
from .metrics import Metrics, evaluate, feature_density


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

    def validate(self, n_rows: int = 1, n_members: int = 1) -> "TrainConfig":
        """Raise ConfigError naming the first absurd value; return self when all is well."""
        def bad(what: str) -> ConfigError:
            return ConfigError(what)

        if not isinstance(self.hidden_dim, int) or not 1 <= self.hidden_dim <= limits.MAX_HIDDEN:
            raise bad(f"hidden size must be a whole number from 1 to {limits.MAX_HIDDEN} (got {self.hidden_dim})")
        if not _finite(self.sparsity_weight) or not 0 <= self.sparsity_weight <= limits.MAX_SPARSITY_WEIGHT:
            raise bad(f"sparsity weight must be between 0 and {limits.MAX_SPARSITY_WEIGHT:g} (got {self.sparsity_weight})")
        if not _finite(self.lr) or not limits.MIN_LR <= self.lr <= limits.MAX_LR:
            raise bad(f"learning rate must be from {limits.MIN_LR:g} to {limits.MAX_LR:g} (got {self.lr})")
        if not isinstance(self.epochs, int) or not 1 <= self.epochs <= limits.MAX_EPOCHS:
            raise bad(f"epochs must be a whole number from 1 to {limits.MAX_EPOCHS:,} (got {self.epochs})")
        if not isinstance(self.seed, int) or not 0 <= self.seed <= limits.MAX_SEED:
            raise bad(f"seed must be a whole number from 0 to 2^63-1 (got {self.seed})")
        if self.architecture not in ARCHITECTURES:
            raise bad(f"unknown architecture '{self.architecture}' (known: {', '.join(sorted(ARCHITECTURES))})")
        if not isinstance(self.resample_dead_every, int) or not 0 <= self.resample_dead_every <= limits.MAX_EPOCHS:
            raise bad(f"resample_dead_every must be 0 (off) or a number of epochs (got {self.resample_dead_every})")
        if not _finite(self.init_decoder_norm) or not 0 <= self.init_decoder_norm <= limits.MAX_INIT_DECODER_NORM:
            raise bad(f"init_decoder_norm must be 0 (off) or a length up to 100 (got {self.init_decoder_norm})")
        work = n_rows * self.hidden_dim * self.epochs * n_members
        if work > limits.MAX_TRAINING_WORK:
            raise bad(
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


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class StepLog:
    """What a callback receives every few epochs (plain numbers; one entry per member)."""

    epoch: int
    epochs: int
    total: list[float]
    mse: list[float]
    sparsity: list[float]
    seconds: float

    @property
    def fraction(self) -> float:
        return self.epoch / self.epochs


@dataclass
class TrainResult:
    """One trained SAE and what it learned on the table it was trained on."""

    config: TrainConfig
    model: torch.nn.Module  # one member (S = 1)
    history: pd.DataFrame  # epoch, total, reconstruction, sparsity
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


class Trainer:
    """Trains ``members`` (configs differing only in seed, hidden_dim, sparsity_weight) at once."""

    SHARED = ("lr", "epochs", "architecture", "unit_norm_decoder", "tied_init",
              "init_decoder_bias_to_mean", "resample_dead_every", "decoder_norm_penalty",
              "init_decoder_norm")

    def __init__(self, x, members: list[TrainConfig] | TrainConfig):
        members = [members] if isinstance(members, TrainConfig) else list(members)
        if not members:
            raise ConfigError("nothing to train: no configurations given")
        if len(members) > limits.MAX_SEEDS * 16:
            raise ConfigError(f"too many models in one run ({len(members)})")
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
        self.members = members
        self.config = first
        arch = get_architecture(first.architecture)
        self.model = arch(
            self.x_ND.shape[1],
            [m.hidden_dim for m in members],
            [m.seed for m in members],
            [m.sparsity_weight for m in members],
            decoder_norm_penalty=first.decoder_norm_penalty,
        )
        self._initialise()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=first.lr)
        self.epoch = 0
        self.seconds = 0.0
        self.stopped_early = False
        self._log_every = max(1, first.epochs // 500)
        self._history: list[tuple[int, Tensor]] = []  # (epoch, losses (3, S))
        self._fired_SH = torch.zeros_like(self.model.hidden_mask, dtype=torch.bool)

    @torch.no_grad()
    def _initialise(self) -> None:
        cfg, model = self.config, self.model
        if cfg.unit_norm_decoder:
            self._normalise_decoder()
        if cfg.init_decoder_norm:
            self._normalise_decoder()
            model.W_dec.mul_(cfg.init_decoder_norm)
        if cfg.tied_init:
            model.W_enc.copy_(model.W_dec.transpose(1, 2))
        if cfg.init_decoder_bias_to_mean:
            model.b_dec.copy_(self.x_ND.mean(dim=0).expand_as(model.b_dec))

    @torch.no_grad()
    def _normalise_decoder(self) -> None:
        W = self.model.W_dec
        W.div_(W.norm(dim=2, keepdim=True).clamp_min(1e-8))

    def step(self) -> Tensor:
        """One full-batch update; returns the losses before it, shape (3, S): total, mse, sparsity."""
        losses = self.model.forward_backward(self.x_ND)
        self.optimizer.step()
        cfg = self.config
        if cfg.unit_norm_decoder:
            self._normalise_decoder()
        if cfg.resample_dead_every:
            self._track_and_resample()
        self.epoch += 1
        mse_S, sparsity_S = losses["mse"], losses["sparsity"]
        return torch.stack([mse_S + sparsity_S, mse_S, sparsity_S])

    @torch.no_grad()
    def _track_and_resample(self) -> None:
        """Re-initialise features that fired on no token during the last window.

        A dead feature gets the direction of the worst-reconstructed token (its residual,
        normalised) as decoder row, a scaled copy as encoder column, a zero encoder bias,
        and fresh Adam moments: the "resampling" remedy of Anthropic's Towards
        Monosemanticity, in a form that stays deterministic for a given seed.
        """
        model = self.model
        f_SNH = model.encode(self.x_ND)
        self._fired_SH |= (f_SNH > 0).any(dim=1)
        if (self.epoch + 1) % self.config.resample_dead_every or self.epoch + 1 >= self.config.epochs:
            return
        dead_SH = ~self._fired_SH & (model.hidden_mask > 0)
        self._fired_SH.zero_()
        if not dead_SH.any():
            return
        residual_SND = self.x_ND - model.decode(f_SNH)
        worst_SN = (residual_SND ** 2).sum(dim=2)
        for s, h in dead_SH.nonzero().tolist():
            n = int(torch.argmax(worst_SN[s]))
            direction_D = residual_SND[s, n]
            direction_D = direction_D / direction_D.norm().clamp_min(1e-8)
            model.W_dec[s, h] = direction_D
            model.W_enc[s, :, h] = direction_D * 0.2
            model.b_enc[s, h] = 0
            worst_SN[s, n] = 0  # give the next dead feature another token
            for param, index in ((model.W_dec, (s, h)), (model.W_enc, (s, slice(None), h)), (model.b_enc, (s, h))):
                state = self.optimizer.state.get(param)
                if state:
                    state["exp_avg"][index] = 0
                    state["exp_avg_sq"][index] = 0

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
                    self.stopped_early = True
                    break
        finally:
            self.seconds += time.perf_counter() - start
        return self

    def step_log(self, losses: Tensor) -> StepLog:
        total, mse_, sparsity = losses.tolist()
        return StepLog(self.epoch, self.config.epochs, total, mse_, sparsity, self.seconds)

    @property
    def finished(self) -> bool:
        return self.epoch >= self.config.epochs

    def history(self, member: int = 0) -> pd.DataFrame:
        if not self._history:
            return pd.DataFrame(columns=["epoch", "total", "reconstruction", "sparsity"])
        epochs = [e for e, _ in self._history]
        losses = torch.stack([l[:, member] for _, l in self._history]).double().numpy()
        return pd.DataFrame({"epoch": epochs, "total": losses[:, 0], "reconstruction": losses[:, 1],
                             "sparsity": losses[:, 2]})

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
                decoder_directions=model.W_dec[s, :h].detach().numpy().copy(),
                feature_density=density_SH[s, :h].numpy().copy(),
                epochs_done=self.epoch,
                stopped_early=self.epoch < cfg.epochs,
                train_seconds=self.seconds,
            ))
        return out

    def result(self) -> TrainResult:
        return self.results()[0]


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
    members = [replace(config, seed=int(s)) for s in seeds]
    return Trainer(x, members).fit(on_step, every, stop).results()
