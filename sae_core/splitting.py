"""Dictionary sizes on one table: the same SAE at several widths, and how concepts split as it grows.

``SplitRun`` trains one SAE per size (the same settings and seed otherwise; one ``Trainer`` each,
smallest first) and follows ``sae_core.stoppable``'s protocol, so the app runs and stops it like
any run. ``result()`` measures every size trained so far:

- explained variance, L0 and the dead share on the table;
- per concept (a row belongs to it when its lower-case whole word is in the concept's list):
  the best single feature's F1 (active = activation > 0), the chance level (the best F1 of
  2 x d random unit directions, seed 0, each at its best threshold:
  ``dashboards.random_direction_f1``), and the k-sparse probe F1 for k = 1, 2, 5 (SAEBench's
  sparse probing): on a fixed split of the rows (seed 0; 70% to fit, 30% held out), the k features
  whose mean activation differs most between the concept's rows and the others (fitting rows
  only), then a logistic regression on them (standardised, L2 as scikit-learn's default C = 1,
  L-BFGS); F1 of "probability > 0.5" on the held-out rows;
- the split tree: for each concept, its best feature at the smallest size, then at each next
  size the features whose decoder direction has cosine >= 0.5 with it, with their top words.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit

from . import limits, memory
from .architectures import get_architecture
from .errors import ConfigError
from .real_model.dashboards import (best_features, concept_labels, features_table, precision_recall_f1,
                                   random_direction_f1, sparse_activations)
from .training import PROGRESS_UPDATES, Trainer, TrainConfig, as_matrix, check_memory

PROBE_SIZES = (1, 2, 5)  # features a sparse probe may use
PROBE_HELD_OUT = 0.3  # share of rows the probes are scored on
PROBE_SEED = 0
RANDOM_SEED = 0  # the random directions of the chance level
SPLIT_COSINE = 0.5  # a feature of the next size is a child when its decoder cosine is at least this
MAX_CHILDREN = 6  # children shown per node (the rest are counted)
DEFAULT_SPLIT_SIZES = "64,256,1536"  # the Real model page's sizes (the issue's)
SPLIT_LINES = ("explained variance", "best feature F1", "best random direction F1")  # SplitResult.long's lines


@dataclass(frozen=True)
class ConceptScore:
    f1: float  # the best single feature's F1 (active > 0)
    feature: int | None  # that feature (None: the concept has no rows here)
    random_f1: float  # the best of 2 x d random directions, each at its best threshold
    probe_f1: dict[int, float]  # k -> the k-sparse probe's F1 on the held-out rows


@dataclass(frozen=True)
class SizeResult:
    """One dictionary size, measured on the table (activations are not kept)."""

    size: int
    config: TrainConfig
    model: object  # the trained SAE (one member), for saving
    metadata: dict  # its SAELens metadata (saelens_format.result_metadata)
    explained_variance: float
    l0: float
    dead_fraction: float
    epochs_done: int
    seconds: float
    concepts: dict[str, ConceptScore]
    f1_CH: np.ndarray  # every feature's F1 for every concept (the tree's nodes)
    top_words: list[str]  # per feature, its top words ("cat, dog, ...")
    decoder_HD: np.ndarray  # unit decoder directions


@dataclass(frozen=True)
class TreeNode:
    size: int
    feature: int
    words: str
    f1: float  # this feature's F1 for the concept
    cosine: float | None  # with its parent (None at the root)
    children: tuple["TreeNode", ...]
    more: int  # children beyond MAX_CHILDREN, not shown


@dataclass(frozen=True)
class SplitResult:
    sizes: list[SizeResult]  # those trained at least one epoch, smallest first
    concepts: list[str]
    rows: int

    def to_dict(self) -> dict:
        """The CLI's JSON: {"sizes": [{"size", "explained_variance", "l0", "dead_fraction", "concepts": {name:
        {"f1", "feature", "random_f1", "probe_f1": {"1", "2", "5"}}}}]}."""
        return {"sizes": [{"size": s.size, "explained_variance": round(s.explained_variance, 6), "l0": round(s.l0, 4),
                           "dead_fraction": round(s.dead_fraction, 6), "concepts": {
                               name: {"f1": round(c.f1, 6), "feature": c.feature, "random_f1": round(c.random_f1, 6),
                                      "probe_f1": {str(k): round(v, 6) for k, v in c.probe_f1.items()}}
                               for name, c in s.concepts.items()}} for s in self.sizes]}

    def table(self) -> pd.DataFrame:
        """Long: size, explained_variance, l0, dead_fraction, concept, f1, feature, random_f1, probe_1, ..."""
        rows = [{"size": s.size, "explained_variance": s.explained_variance, "l0": s.l0,
                 "dead_fraction": s.dead_fraction, "concept": name, "f1": c.f1, "feature": c.feature,
                 "random_f1": c.random_f1, **{f"probe_{k}": v for k, v in c.probe_f1.items()}}
                for s in self.sizes for name, c in s.concepts.items()]
        return pd.DataFrame(rows, columns=["size", "explained_variance", "l0", "dead_fraction", "concept", "f1",
                                           "feature", "random_f1", *(f"probe_{k}" for k in PROBE_SIZES)])

    def long(self) -> pd.DataFrame:
        """For ``charts.split_chart``: size, series (explained variance or a concept), line, value."""
        ev, best, chance = SPLIT_LINES
        rows = [(s.size, ev, ev, s.explained_variance) for s in self.sizes]
        rows += [row for s in self.sizes for name, c in s.concepts.items() if c.feature is not None
                 for row in ((s.size, name, best, c.f1), (s.size, name, chance, c.random_f1))]
        return pd.DataFrame(rows, columns=["size", "series", "line", "value"])

    def trees(self) -> dict[str, TreeNode]:
        """Per concept with rows: its split tree from the smallest size's best feature."""
        return {name: tree for name in self.concepts if (tree := split_tree(self.sizes, name)) is not None}


# ---- measuring ------------------------------------------------------------------------------------


def probe_split(n_rows: int, held_out: float = PROBE_HELD_OUT, seed: int = PROBE_SEED) -> np.ndarray:
    """(N,) True for the rows the probes are scored on (a fixed random share)."""
    test = np.zeros(n_rows, bool)
    test[np.random.default_rng(seed).permutation(n_rows)[: int(round(held_out * n_rows))]] = True
    return test


def logistic_fit(x_NK: np.ndarray, y_N: np.ndarray) -> np.ndarray:
    """Weights then bias of a logistic regression: sum of log-losses + |w|^2 / 2 (scikit-learn's C = 1), L-BFGS."""
    xb_NK = np.hstack([x_NK, np.ones((len(x_NK), 1))])
    y_N = y_N.astype(float)

    def loss(wb: np.ndarray):
        z_N = xb_NK @ wb
        grad = xb_NK.T @ (expit(z_N) - y_N)
        grad[:-1] += wb[:-1]
        return float(np.sum(np.logaddexp(0.0, z_N) - y_N * z_N) + 0.5 * wb[:-1] @ wb[:-1]), grad

    return minimize(loss, np.zeros(xb_NK.shape[1]), jac=True, method="L-BFGS-B").x


def probe_f1(acts_NH: np.ndarray, labels_N: np.ndarray, k: int, test_N: np.ndarray) -> float:
    """The k-sparse probe's F1 on the held-out rows: the k features with the largest |mean on the concept -
    mean off it| on the fitting rows, standardised, a logistic regression, "probability > 0.5"."""
    fit_N = ~test_N
    y_fit, y_test = labels_N[fit_N], labels_N[test_N]
    if y_fit.all() or not y_fit.any() or not y_test.any():
        return 0.0
    a_fit = acts_NH[fit_N]
    gap_H = np.abs(a_fit[y_fit].mean(axis=0) - a_fit[~y_fit].mean(axis=0))
    chosen = np.argsort(-gap_H, kind="stable")[:k]
    mean, std = a_fit[:, chosen].mean(axis=0), a_fit[:, chosen].std(axis=0)
    std[std == 0] = 1.0
    wb = logistic_fit((a_fit[:, chosen] - mean) / std, y_fit)
    z_N = ((acts_NH[test_N][:, chosen] - mean) / std) @ wb[:-1] + wb[-1]
    predicted_N = z_N > 0
    return float(precision_recall_f1((predicted_N & y_test).sum(), predicted_N.sum(), int(y_test.sum()))[2])


def measure(trainer: Trainer, labels_CN: np.ndarray, names: list[str], words: list[str],
            random_C: np.ndarray, test_N: np.ndarray) -> SizeResult:
    """One trained (or stopped) size: its metrics, concept scores, per-feature F1s, top words, directions."""
    from .saelens_format import result_metadata
    r = trainer.result()
    acts_NH = r.feature_activations
    active = sparse_activations(acts_NH)  # once, for the F1s and the top words
    _, _, f1_CH = best_features(active, labels_CN)
    concepts = {}
    for c, name in enumerate(names):
        has_rows = bool(labels_CN[c].any())
        j = int(np.argmax(f1_CH[c])) if has_rows else None
        concepts[name] = ConceptScore(float(f1_CH[c, j]) if has_rows else 0.0, j, float(random_C[c]),
                                      {k: probe_f1(acts_NH, labels_CN[c], k, test_N) for k in PROBE_SIZES})
    directions_HD = r.decoder_directions / np.maximum(np.linalg.norm(r.decoder_directions, axis=1, keepdims=True),
                                                      1e-12)
    m = r.metrics
    return SizeResult(r.config.hidden_dim, r.config, r.model,
                      result_metadata(r, [f"d{i}" for i in range(r.decoder_directions.shape[1])]),
                      m.explained_variance, m.l0, m.dead_features / m.hidden_dim, r.epochs_done, r.train_seconds,
                      concepts, f1_CH, features_table(active, words)["top_words"].tolist(), directions_HD)


def split_tree(sizes: list[SizeResult], concept: str, cosine: float = SPLIT_COSINE,
               max_children: int = MAX_CHILDREN) -> TreeNode | None:
    """The concept's best feature at the first size, and recursively its children at each next size:
    the features whose unit decoder direction has cosine >= ``cosine`` with it (highest first)."""
    if not sizes or sizes[0].concepts[concept].feature is None:
        return None
    c = list(sizes[0].concepts).index(concept)

    def node(level: int, j: int, cos: float | None) -> TreeNode:
        here = sizes[level]
        children, more = (), 0
        if level + 1 < len(sizes):
            below = sizes[level + 1]
            cos_H = below.decoder_HD @ here.decoder_HD[j]
            found = [int(i) for i in np.argsort(-cos_H, kind="stable") if cos_H[i] >= cosine]
            children = tuple(node(level + 1, i, float(cos_H[i])) for i in found[:max_children])
            more = max(0, len(found) - max_children)
        return TreeNode(here.size, j, here.top_words[j], float(here.f1_CH[c, j]), cos, children, more)

    return node(0, sizes[0].concepts[concept].feature, None)


def tree_lines(tree: TreeNode) -> list[str]:
    """The tree as indented text, one feature a line: "  256 F12 (cos 0.81, F1 0.62): cat, cats, kitten"."""
    def walk(n: TreeNode, depth: int) -> list[str]:
        cos = f"cos {n.cosine:.2f}, " if n.cosine is not None else ""
        lines = [f"{'  ' * depth}{n.size} F{n.feature} ({cos}F1 {n.f1:.2f}): {n.words or '(dead)'}"]
        for child in n.children:
            lines += walk(child, depth + 1)
        if n.more:
            lines.append(f"{'  ' * (depth + 1)}... and {n.more} more")
        return lines
    return walk(tree, 0)


# ---- the run --------------------------------------------------------------------------------------


def parse_sizes(text: str, d_in: int = 1) -> list[int]:
    """"64, 256,1536" -> [64, 256, 1536] (``check_sizes``); ConfigError naming what is wrong."""
    try:
        sizes = [int(item) for item in str(text).replace(" ", "").split(",") if item]
    except ValueError:
        raise ConfigError(f"dictionary sizes must be whole numbers separated by commas (got {str(text)[:40]!r})") from None
    return check_sizes(sizes, d_in)


def check_sizes(sizes, d_in: int) -> list[int]:
    """Distinct sizes, smallest first: at most MAX_SPLIT_SIZES, each 1..MAX_HIDDEN, and their weights together
    (sum of sizes x dims) no more than one largest model's (MAX_WEIGHT_CELLS); ConfigError otherwise."""
    sizes = sorted({int(s) for s in sizes})
    if not sizes:
        raise ConfigError("give at least one dictionary size")
    if len(sizes) > limits.MAX_SPLIT_SIZES:
        raise ConfigError(f"{len(sizes)} dictionary sizes is over the limit of {limits.MAX_SPLIT_SIZES}")
    bad = next((s for s in sizes if not 1 <= s <= limits.MAX_HIDDEN), None)
    if bad is not None:
        raise ConfigError(f"each dictionary size must be from 1 to {limits.MAX_HIDDEN:,} (got {bad:,})")
    cells = sum(sizes) * d_in
    if cells > limits.MAX_WEIGHT_CELLS:
        raise ConfigError(f"these sizes keep sum of sizes x dims = {cells:,} weights, over the memory limit of "
                          f"{limits.MAX_WEIGHT_CELLS:,}; use fewer or smaller sizes")
    return sizes


class SplitRun:
    """One SAE per dictionary size on the same table, one after the other (``sae_core.stoppable``'s
    protocol: ``fit``, ``epoch``, ``finished``, ``progress_every``). A size's trainer is built when its
    turn comes and measured when it ends (only its SAE is kept); ``result()`` gives every size trained
    so far (after a stop, the unfinished one as learned; those not started are left out)."""

    def __init__(self, x, config: TrainConfig, sizes, words: list[str], concepts: dict[str, frozenset[str]],
                 device=None):
        self.x_ND, self.device = as_matrix(x), device
        rows, d_in = self.x_ND.shape
        self.sizes = check_sizes(sizes, d_in)
        self.words, self.names = list(words), list(concepts)
        if len(self.words) != rows:
            raise ConfigError(f"{len(self.words):,} words for {rows:,} rows")
        # checked up front: a size that cannot train here is refused before any training starts
        self.configs = [replace(config, hidden_dim=size).validate(rows) for size in self.sizes]
        for c in self.configs:
            check_memory(rows, d_in, [c.hidden_dim])
        self.predicted_bytes = memory.split(rows, d_in, self.sizes, config.batch_size,
                                            get_architecture(config.architecture).step_copies) - memory.BASELINE
        work = sum(rows * c.hidden_dim * c.epochs for c in self.configs)
        if work > limits.MAX_TRAINING_WORK:
            raise ConfigError(f"these sizes are too much work together: tokens x size x epochs summed = {work:,} is "
                              f"over the limit of {limits.MAX_TRAINING_WORK:,}; use fewer epochs or smaller sizes")
        self.total_epochs = sum(c.epochs for c in self.configs)
        self.labels_CN = concept_labels(self.words, concepts)
        self.test_N = probe_split(rows)
        self.done: list[SizeResult] = []
        self.trainer: Trainer | None = None  # the size in training
        self._random_C: np.ndarray | None = None
        self._partial: tuple[int, SizeResult] | None = None  # (epoch, the stopped size measured)

    @property
    def epoch(self) -> int:
        """Epochs trained so far, every size together (0: nothing learned yet)."""
        return sum(s.epochs_done for s in self.done) + (self.trainer.epoch if self.trainer else 0)

    @property
    def finished(self) -> bool:
        return len(self.done) == len(self.sizes)

    @property
    def progress_every(self) -> int:
        return max(1, self.total_epochs // PROGRESS_UPDATES)

    def random_f1(self) -> np.ndarray:
        """Per concept, the chance level (computed once: it does not depend on the SAE)."""
        if self._random_C is None:
            self._random_C = random_direction_f1(self.x_ND.numpy(), self.labels_CN, seed=RANDOM_SEED)
        return self._random_C

    def _measure(self, trainer: Trainer) -> SizeResult:
        return measure(trainer, self.labels_CN, self.names, self.words, self.random_f1(), self.test_N)

    def fit(self, on_step=None, every: int = 0, stop=None) -> "SplitRun":
        should_stop = stop.is_set if hasattr(stop, "is_set") else stop
        while not self.finished:
            if should_stop is not None and should_stop():
                break
            n = len(self.done)
            if self.trainer is None:
                self.trainer = Trainer(self.x_ND, self.configs[n], device=self.device)

            def report(log, n=n) -> None:
                if on_step is not None:
                    on_step(SplitProgress(self.epoch / self.total_epochs, f"size {self.sizes[n]:,} ({n + 1} of "
                                          f"{len(self.sizes)}): epoch {log.epoch:,} of {log.epochs:,}"))

            self.trainer.fit(report, every or self.progress_every, stop)
            if not self.trainer.finished:
                break
            self.done.append(self._measure(self.trainer))
            self.trainer = None
        return self

    def result(self) -> SplitResult:
        sizes = list(self.done)
        if self.trainer is not None and self.trainer.epoch > 0:
            if self._partial is None or self._partial[0] != self.trainer.epoch:
                self._partial = (self.trainer.epoch, self._measure(self.trainer))
            sizes.append(self._partial[1])
        return SplitResult(sizes, self.names, len(self.words))


@dataclass(frozen=True)
class SplitProgress:
    fraction: float
    text: str


def split_sizes(x, config: TrainConfig, sizes, words: list[str], concepts: dict[str, frozenset[str]],
                device=None) -> SplitResult:
    """Train every size to the end and measure them."""
    return SplitRun(x, config, sizes, words, concepts, device).fit().result()
