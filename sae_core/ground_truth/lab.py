"""The ground-truth lab: train SAEs on synthetic data and measure whether they found the true features.

Each architecture is trained with the one ``Trainer`` on fresh streamed batches (step i
trains on batch i of the generator), for the same budget of training seconds, one after
the other. Every 1/CURVE_POINTS of the budget the lab records MMCS and the Hungarian
cosine of the decoder so far (the recovery-over-time curve); at the end it measures every
metric on held-out samples and labels each true feature (recovered, split, merged, missed).
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from .. import limits, memory
from ..architectures import ARCHITECTURES, get_architecture
from ..device import resolve_device
from ..errors import ConfigError, SAEInputError
from ..options import Option
from .recovery import (RecoveryMetrics, chance_level, cosine_matrix, decoder_rows, feature_labels,
                      hungarian_cosine, hungarian_matching, mmcs, recovery_metrics)
from .generators import (EVAL, GENERATORS, GroundTruthData, Hierarchical, HierarchicalConfig, SparseCombination,
                         SparseCombinationConfig, ToySuperposition, ToySuperpositionConfig)
from .hierarchy import mean_absorption, parent_absorption
from ..training import TrainConfig, Trainer

EVAL_SAMPLES = 4096  # held-out samples for explained variance, L0 and dead fraction
LAB_BATCH_SIZE = 192  # samples per step: more small steps beat fewer large ones within a time budget
CURVE_POINTS = 40  # points on each recovery-over-time line

def lab_config(architecture: str, data: GroundTruthData, width: float = 2.0, seed: int = 0,
               **overrides) -> TrainConfig:
    """The TrainConfig the lab uses for ``architecture``: hidden = width x true features, the
    architecture's lab recipe (``SAE.lab_settings``: e.g. k = the data's mean active count), then
    ``overrides``. Each step trains on ``batch_size`` fresh samples; steps are capped only by the
    engine's work limit (unless ``epochs`` is overridden), so the time budget is what stops a run."""
    arch = get_architecture(architecture)
    hidden = max(1, round(width * data.features))
    if hidden > limits.MAX_HIDDEN:
        raise ConfigError(f"width x true features = {hidden} features is over the limit of {limits.MAX_HIDDEN}")
    settings = {"architecture": architecture, "hidden_dim": hidden, "seed": seed, "batch_size": LAB_BATCH_SIZE,
                **arch.lab_settings(data.mean_active), **overrides}  # e.g. epochs=300: a step budget (tests)
    settings.setdefault("epochs", max(1, min(limits.MAX_EPOCHS,
                                             limits.MAX_TRAINING_WORK // (settings["batch_size"] * hidden))))
    return TrainConfig(**settings).validate(n_rows=settings["batch_size"])


@dataclass
class LabRun:
    """One architecture trained on the lab's data, and what it recovered."""

    config: TrainConfig
    label: str  # the architecture's menu text
    metrics: RecoveryMetrics  # on held-out samples
    curve: pd.DataFrame  # seconds, step, mmcs, hungarian: recovery over training time
    decoder_HD: np.ndarray  # learned directions (decoder rows)
    cosines_FH: np.ndarray  # cos(true i, learned j)
    labels: list[str]  # per true feature: recovered / split / merged / missed
    steps: int
    seconds: float
    model: torch.nn.Module  # one member, for saving
    stopped: bool = False  # stopped before its time budget was used
    absorption: pd.DataFrame | None = None  # per parent, on hierarchical data (``hierarchy.parent_absorption``)

    @property
    def architecture(self) -> str:
        return self.config.architecture

    def feature_table(self) -> pd.DataFrame:
        """One row per true feature: its label, its best learned match and its Hungarian partner."""
        cos = self.cosines_FH
        best_F = cos.argmax(axis=1)
        rows, cols = hungarian_matching(torch.as_tensor(cos))
        partner = dict(zip(rows.tolist(), cols.tolist()))
        return pd.DataFrame({
            "true feature": [f"T{i}" for i in range(cos.shape[0])],
            "label": self.labels,
            "best learned": [f"L{j}" for j in best_F],
            "best cosine": cos[np.arange(cos.shape[0]), best_F].round(3),
            "matched learned": [f"L{partner[i]}" if i in partner else "" for i in range(cos.shape[0])],
            "matched cosine": [round(float(cos[i, partner[i]]), 3) if i in partner else np.nan
                               for i in range(cos.shape[0])],
        })

    def summary(self) -> dict:
        """The CLI's JSON: metrics (on hierarchical data also absorption, missed_alone and child_lean, means
        over the parents), seconds and steps."""
        absorption = mean_absorption(self.absorption) if self.absorption is not None else {}
        return {**{k: round(v, 6) for k, v in {**self.metrics.to_dict(), **absorption}.items()},
                "seconds": round(self.seconds, 3), "steps": self.steps}


@dataclass
class LabResult:
    data: GroundTruthData
    runs: list[LabRun]
    chance: RecoveryMetrics  # random directions, as many as the widest dictionary
    seconds_budget: float
    settings: dict = field(default_factory=dict)  # what the page chose (kept with the result)

    def metric_table(self) -> pd.DataFrame:
        """One row per architecture, plus the chance-level row (random directions)."""
        rows = [{"model": run.label, **run.metrics.to_dict(), "steps": run.steps, "seconds": run.seconds}
                for run in self.runs]
        rows.append({"model": "chance (random directions)", **self.chance.to_dict(), "steps": np.nan,
                     "seconds": np.nan})
        return pd.DataFrame(rows)

    def absorption_table(self) -> pd.DataFrame:
        """One row per architecture: absorption, missed_alone and child_lean averaged over the parents
        (empty unless the data are hierarchical)."""
        return pd.DataFrame([{"model": run.label, **mean_absorption(run.absorption)} for run in self.runs
                             if run.absorption is not None], columns=["model", "absorption", "missed_alone",
                                                                       "child_lean"])

    def curves(self) -> pd.DataFrame:
        """Long format: model, seconds, step, metric (MMCS / Hungarian), value."""
        frames = [run.curve.assign(model=run.label) for run in self.runs]
        if not frames:
            return pd.DataFrame(columns=["model", "seconds", "step", "metric", "value"])
        wide = pd.concat(frames, ignore_index=True)
        return wide.melt(id_vars=["model", "seconds", "step"], value_vars=["mmcs", "hungarian"],
                         var_name="metric", value_name="value")

    def label_counts(self) -> pd.DataFrame:
        """model, label, count: how many true features each architecture recovered, split, merged, missed."""
        from .recovery import FEATURE_LABELS
        rows = [{"model": run.label, "label": name, "count": run.labels.count(name)}
                for run in self.runs for name in FEATURE_LABELS]
        return pd.DataFrame(rows, columns=["model", "label", "count"])


def recovery_point(model, true_FD: torch.Tensor, step: int, seconds: float) -> dict:
    """One point of the recovery curve: MMCS and Hungarian cosine of the decoder now."""
    cos_FH = cosine_matrix(true_FD, decoder_rows(model, 0))
    return {"seconds": seconds, "step": step, "mmcs": mmcs(cos_FH), "hungarian": hungarian_cosine(cos_FH)}


@dataclass(frozen=True)
class LabProgress:
    """What ``GroundTruthLab.fit`` reports at a recovery-curve point (the app's progress bar)."""

    config: TrainConfig  # the architecture in training
    point: dict  # seconds, step, mmcs, hungarian
    fraction: float  # of the whole lab's time budget (every architecture)
    text: str  # the point in words, for a person


class GroundTruthLab:
    """Trains each config on ``data`` for ``seconds`` of training time, one after the other.

    Keeps every finished run in ``runs`` and the one in flight in ``trainer``, so a run
    interrupted by the app's Stop (or by a raised exception) still yields ``result()``.
    ``fit``, ``epoch``, ``finished`` and ``progress_every`` are the protocol the app's Stop drives
    (``sae_core.stoppable``), the same as a Trainer's. ``device``: where the SAEs train
    (``sae_core.device``); the data are generated on the CPU and moved.
    """

    progress_every = 1  # fit reports at each recovery-curve point: CURVE_POINTS per architecture

    def __init__(self, data: GroundTruthData, configs: list[TrainConfig], seconds: float,
                 settings: dict | None = None, device=None):
        if not configs:
            raise ConfigError("choose at least one architecture")
        if not 0 < seconds <= limits.MAX_SYNTH_SECONDS:
            raise ConfigError(f"training time must be from 0 to {limits.MAX_SYNTH_SECONDS:g} seconds (got {seconds})")
        self.data, self.configs, self.seconds = data, list(configs), float(seconds)
        self.settings = dict(settings or {})
        self.device = resolve_device(device)
        self.true_FD = data.directions_FD
        self.predicted_bytes = 0  # the largest architecture's (they train one after the other)
        for config in self.configs:  # the true directions, held-out samples and cosines on top of the run
            (features, dims), arch = self.true_FD.shape, get_architecture(config.architecture)
            predicted = memory.synth(dims, features, config.hidden_dim, config.batch_size, EVAL_SAMPLES,
                                     arch.step_copies)
            self.predicted_bytes = max(self.predicted_bytes, predicted - memory.BASELINE)
            memory.refuse_over_budget(
                predicted,
                f"{arch.label} on {features:,} true features in {dims:,} dims ({config.hidden_dim:,} learned, batches "
                f"of {config.batch_size:,})", "use fewer true features, dims, a narrower SAE or smaller batches")
        codes_NF, x_ND = data.batch_with_codes(0, EVAL_SAMPLES, stream=EVAL)  # = data.eval_batch(EVAL_SAMPLES)
        self.x_eval_ND = x_ND.to(self.device)
        self.on_eval_NF = codes_NF > 0 if data.children_of else None  # kept only to measure absorption
        self.runs: list[LabRun] = []
        self.trainer: Trainer | None = None
        self._curve: list[dict] = []

    def run(self, on_point: Callable[[TrainConfig, dict], None] | None = None,
            stop: threading.Event | Callable[[], bool] | None = None) -> "GroundTruthLab":
        """Train every config; ``on_point(config, point)`` at each curve point (a dict with
        seconds, step, mmcs, hungarian). A callback that raises leaves the lab resumable."""
        user_stop = stop.is_set if isinstance(stop, threading.Event) else (stop or (lambda: False))
        for config in self.configs[len(self.runs):]:
            size = config.batch_size
            trainer = Trainer(self.data.batch(0, size), config, batches=lambda i, size=size: self.data.batch(i, size),
                              device=self.device)
            self.trainer, self._curve = trainer, [recovery_point(trainer.model, self.true_FD, 0, 0.0)]
            interval = self.seconds / CURVE_POINTS
            next_point = [interval]

            def record(log, trainer=trainer, config=config) -> None:
                if log.seconds >= next_point[0] or log.seconds >= self.seconds:
                    next_point[0] = log.seconds + interval
                    point = recovery_point(trainer.model, self.true_FD, log.epoch, log.seconds)
                    self._curve.append(point)
                    if on_point is not None:
                        on_point(config, point)

            trainer.fit(on_step=record, every=1,
                        stop=lambda trainer=trainer: trainer.seconds >= self.seconds or user_stop())
            self.runs.append(self._finish(trainer, stopped=user_stop()))
            self.trainer = None
            if user_stop():
                break
        return self

    def fit(self, on_step: Callable[[LabProgress], None] | None = None, every: int = 0,
            stop: threading.Event | Callable[[], bool] | None = None) -> "GroundTruthLab":
        """``run`` with the Trainer's protocol: ``on_step(LabProgress)`` at every ``every``-th
        recovery-curve point (default: each; CURVE_POINTS per architecture)."""
        every = every or 1
        budget = self.seconds * len(self.configs)
        points = [0]

        def report(config: TrainConfig, point: dict) -> None:
            points[0] += 1
            if on_step is None or points[0] % every:
                return
            done = len(self.runs) * self.seconds + point["seconds"]  # the one in flight is runs' next
            on_step(LabProgress(config, point, min(1.0, done / budget),
                                f"{ARCHITECTURES[config.architecture].label}: {point['seconds']:.1f} of "
                                f"{self.seconds:g} s, MMCS {point['mmcs']:.3f}"))

        return self.run(on_point=report, stop=stop)

    @property
    def epoch(self) -> int:
        """Training steps taken so far, every architecture together (0: nothing learned yet)."""
        return sum(run.steps for run in self.runs) + (self.trainer.epoch if self.trainer is not None else 0)

    @property
    def finished(self) -> bool:
        """True when every architecture used its whole time budget (no stop came before)."""
        return len(self.runs) == len(self.configs) and not any(run.stopped for run in self.runs)

    def _finish(self, trainer: Trainer, stopped: bool) -> LabRun:
        config = trainer.config
        if not self._curve or self._curve[-1]["step"] != trainer.epoch:
            self._curve.append(recovery_point(trainer.model, self.true_FD, trainer.epoch, trainer.seconds))
        cos_FH = cosine_matrix(self.true_FD, decoder_rows(trainer.model, 0))
        with torch.no_grad():
            f_SNH = trainer.model.encode(self.x_eval_ND)  # once, for the metrics and absorption
        absorption = None
        if self.on_eval_NF is not None:
            fires_NH = f_SNH[0, :, :cos_FH.shape[1]].cpu() > 0
            absorption = parent_absorption(fires_NH, self.on_eval_NF, cos_FH, self.data.children_of)
        return LabRun(
            config=config,
            label=ARCHITECTURES[config.architecture].label,
            metrics=recovery_metrics(trainer.model, self.true_FD, self.x_eval_ND, f_SNH)[0],
            curve=pd.DataFrame(self._curve, columns=["seconds", "step", "mmcs", "hungarian"]),
            decoder_HD=decoder_rows(trainer.model, 0).numpy().copy(),
            cosines_FH=cos_FH.numpy(),
            labels=feature_labels(cos_FH),
            steps=trainer.epoch,
            seconds=trainer.seconds,
            model=trainer.model.member(0),
            stopped=stopped,
            absorption=absorption,
        )

    def result(self) -> LabResult:
        """The finished runs, plus the interrupted one (if it took a step)."""
        runs = list(self.runs)
        if self.trainer is not None and self.trainer.epoch > 0:
            runs.append(self._finish(self.trainer, stopped=True))
        widest = max(c.hidden_dim for c in self.configs)
        chance = chance_level(self.true_FD, widest, seed=self.data.seed)
        return LabResult(self.data, runs, chance, self.seconds, self.settings)


@dataclass(frozen=True)
class LabSettings:
    """What a person chose on the Superposition page (kept in the app's settings as ``lab_<field>`` and
    in the link: ``sae_core.state``; the numeric fields are declared in ``LAB_OPTIONS``)."""

    generator: str = "toy"  # "sparse" (Sharkey-style), "toy" (Toy Models of Superposition) or "hierarchical"
    # sparse combinations (dims: also the hierarchical generator's)
    dims: int = 64
    features: int = 128
    active: float = 4.0
    frequency_decay: float = 0.0
    group_size: int = 1
    group_correlation: float = 0.0
    # toy model
    toy_features: int = 5
    toy_dims: int = 2
    sparsity: float = 0.9
    importance_decay: float = 1.0
    # hierarchy (SAELens' synthetic hierarchy)
    parents: int = HierarchicalConfig.parents
    children: int = HierarchicalConfig.children
    independent: int = HierarchicalConfig.independent
    parent_probability: float = HierarchicalConfig.parent_probability
    child_probability: float = HierarchicalConfig.child_probability
    independent_probability: float = HierarchicalConfig.independent_probability
    exclusive: bool = HierarchicalConfig.exclusive
    # the SAEs
    architectures: tuple[str, ...] = ("standard", "topk")  # the article's SAE beside the field's default
    width: float = 2.0  # learned features per true feature
    seconds: float = 3.0  # training time per architecture
    seed: int = 0

    def data(self) -> GroundTruthData:
        if self.generator == "toy":
            return ToySuperposition(ToySuperpositionConfig(
                features=self.toy_features, dims=self.toy_dims, sparsity=self.sparsity,
                importance_decay=self.importance_decay, seed=self.seed))
        if self.generator == "sparse":
            return SparseCombination(SparseCombinationConfig(
                dims=self.dims, features=self.features, active=self.active, frequency_decay=self.frequency_decay,
                group_size=self.group_size, group_correlation=self.group_correlation, seed=self.seed))
        if self.generator == "hierarchical":
            return Hierarchical(HierarchicalConfig(
                dims=self.dims, parents=self.parents, children=self.children, independent=self.independent,
                parent_probability=self.parent_probability, child_probability=self.child_probability,
                independent_probability=self.independent_probability, exclusive=self.exclusive, seed=self.seed))
        raise ConfigError(f"unknown generator '{self.generator}' (known: {', '.join(GENERATORS)})")

    def lab(self, device=None) -> "GroundTruthLab":
        """The lab these settings describe (builds the data; the toy model trains here)."""
        if not self.architectures:
            raise ConfigError("choose at least one architecture")
        data = self.data()
        configs = [lab_config(a, data, self.width, self.seed) for a in self.architectures]
        return GroundTruthLab(data, configs, self.seconds, asdict(self), device=device)


# The Superposition page's numeric choices, declared once: the page's widgets (label, range,
# step, help) and the link's parsing (``sae_core.state``) are generated from these.
LAB_OPTIONS: dict[str, Option] = {o.name: o for o in (
    Option("toy_features", int, LabSettings.toy_features, "True features (n)", "", low=2,
           high=limits.MAX_TOY_FEATURES, step=1),
    Option("toy_dims", int, LabSettings.toy_dims, "Dimensions (m)",
           "2 dimensions show the classic picture: true and learned directions as arrows.", low=2,
           high=limits.MAX_TOY_DIMS, step=1),
    Option("sparsity", float, LabSettings.sparsity, "Sparsity (chance a feature is off)",
           "Sparse features can share dimensions: the toy model packs more features than dimensions.",
           low=0.0, high=0.99, step=0.01),
    Option("importance_decay", float, LabSettings.importance_decay, "Importance decay",
           "Feature i matters decay^i to the toy model: unimportant features get squeezed out.",
           low=0.1, high=1.0, step=0.05),
    Option("dims", int, LabSettings.dims, "Dimensions (D)", "", low=2, high=limits.MAX_DIMS, step=8),
    Option("features", int, LabSettings.features, "True features (F)", "", low=2,
           high=limits.MAX_SYNTH_FEATURES, step=16),
    Option("active", float, LabSettings.active, "Active per sample (k)",
           "Mean number of true features on in a sample, each with a magnitude from U[0, 1].",
           low=0.1, high=float(limits.MAX_SYNTH_ACTIVE), step=1.0),
    Option("frequency_decay", float, LabSettings.frequency_decay, "Frequency decay",
           "0: every feature equally common; higher: feature i fires in proportion to (i + 1)^-decay.",
           low=0.0, high=2.0, step=0.1),
    Option("group_size", int, LabSettings.group_size, "Correlated group size",
           "Features 0..g-1, g..2g-1, ... form groups that tend to fire together (1: none).", low=1,
           high=limits.MAX_SYNTH_FEATURES, step=1),
    Option("group_correlation", float, LabSettings.group_correlation, "Group correlation", "",
           low=0.0, high=0.99, step=0.05),
    Option("parents", int, LabSettings.parents, "Parents (P)", "Parent features, each with its own children.",
           low=1, high=limits.MAX_HIERARCHY_PARENTS, step=1),
    Option("children", int, LabSettings.children, "Children per parent (C)",
           "A child fires only when its parent fires.", low=1, high=limits.MAX_HIERARCHY_CHILDREN, step=1),
    Option("independent", int, LabSettings.independent, "Independent features",
           "Features outside the hierarchy.", low=0, high=limits.MAX_SYNTH_FEATURES, step=8),
    Option("parent_probability", float, LabSettings.parent_probability, "Parent probability",
           "Chance that a parent fires in a sample.", low=0.01, high=1.0, step=0.01),
    Option("child_probability", float, LabSettings.child_probability, "Child probability (given its parent)",
           "Chance that a child fires when its parent fires (never without it).", low=0.01, high=1.0, step=0.01),
    Option("independent_probability", float, LabSettings.independent_probability, "Independent probability",
           "Chance that an independent feature fires in a sample.", low=0.0, high=1.0, step=0.01),
    Option("exclusive", bool, LabSettings.exclusive, "Children exclusive",
           "At most one child per parent fires (of those drawn, one at random stays)."),
    Option("width", float, LabSettings.width, "Width (learned per true feature)", "", low=0.5, high=16.0,
           step=0.5),
    Option("seconds", float, LabSettings.seconds, "Seconds per architecture", "", low=0.5,
           high=limits.MAX_SYNTH_SECONDS, step=1.0),
    Option("seed", int, LabSettings.seed, "Random seed",
           "Sets the true directions, the samples and the SAEs' initial weights.", low=0, high=limits.MAX_SEED,
           step=1),
)}


def matched_order(cos_FH: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(true order, learned order) for the sorted cosine matrix: true features in index order,
    learned features in the order of their Hungarian partners, then the unmatched ones by
    their best cosine (so a good recovery is a bright diagonal)."""
    rows, cols = hungarian_matching(torch.as_tensor(cos_FH))
    partner = dict(zip(rows.tolist(), cols.tolist()))
    matched = [partner[i] for i in range(cos_FH.shape[0]) if i in partner]
    taken = set(matched)
    rest = [j for j in np.argsort(-cos_FH.max(axis=0), kind="stable").tolist() if j not in taken]
    return np.arange(cos_FH.shape[0]), np.array(matched + rest, dtype=int)




GROUND_TRUTH_FILE = "ground_truth.safetensors"
SAE_FOLDER = "sae"


def save_lab_run(folder, data: GroundTruthData, run: LabRun) -> Path:
    """Write FOLDER/ground_truth.safetensors (tensor ``directions``, [F, D], unit rows; the
    generator's settings in its metadata) and FOLDER/sae/ (the trained SAE as a SAELens folder)."""
    from safetensors.torch import save_file

    from ..saelens_format import save_saelens
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        save_file({"directions": data.directions_FD.contiguous()}, str(folder / GROUND_TRUTH_FILE),
                  metadata={"generator": data.key, "settings": json.dumps(data.config.to_dict())})
    except OSError as error:
        raise SAEInputError(f"cannot write the ground truth: {error.strerror}") from None
    save_saelens(run.model, folder / SAE_FOLDER, {
        "playground_config": run.config.to_dict(),
        "ground_truth": {"generator": data.key, **data.config.to_dict()},
        "recovery": run.summary(),
    })
    return folder
