"""Synthetic activations whose true features are known: the ground-truth lab's data.

With real activations nobody knows the true features; here we build the data from known
directions, so we can measure whether an SAE found them. Two generators:

- ``SparseCombination`` (Sharkey, Braun & Millidge, "Taking features out of superposition
  with sparse autoencoders", 2022): F true unit directions d_i in D dims; each sample
  switches on about k of them (feature i with probability p_i, sum p_i = k), each with a
  magnitude m_i ~ U[0, 1], and x = sum_i m_i d_i. Options: frequencies that decay with the
  feature's index (p_i ~ (i + 1)^-decay), and correlated groups (features of one group
  tend to fire together; each keeps its own p_i).
- ``ToySuperposition`` (Elhage et al., "Toy Models of Superposition", 2022): n features in
  m dims. A small ReLU toy model x' = ReLU(W^T W x + b) is trained first (each feature
  zero with probability ``sparsity``, else U[0, 1]; feature i's error weighted by its
  importance decay^i); its columns W_i are where it put each feature. The SAE then sees
  h = W x: with sparse features the toy model packs more features than dimensions (5 in 2
  dims form a pentagon), and the SAE must undo that.
- ``Hierarchical`` (SAELens' synthetic hierarchy, ``sae_lens.synthetic.HierarchyNode``, after
  Noa Nabeshima's toy model for Matryoshka SAEs): P parent features, each with C children,
  plus independent features, all unit directions in D dims. A parent fires with probability
  ``parent_probability``; each of its children with ``child_probability`` *only when the
  parent fires* (with ``exclusive``, one child at most: of those drawn, one chosen at random
  stays, SAELens' mutual exclusion); magnitudes U[0, 1] as above. The data for feature
  absorption (``ground_truth.hierarchy``): does the parent's latent still fire with a child?

All are *streamed*: ``batch(i)`` builds batch i from (seed, i) alone, so a run can draw as
many samples as it likes without holding a data set in memory, and batch i is the same
bits every time. Evaluation batches come from a separate stream (``EVAL``), never used
for training. No Streamlit here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterator

import numpy as np
import torch
from torch import Tensor

from .. import limits
from ..errors import ConfigError

# Independent random streams from one seed: training batches, held-out evaluation batches,
# the true directions, and the toy model's own training batches.
TRAIN, EVAL, DIRECTIONS, TOY_TRAINING = 0, 1, 2, 3
CHUNK_CELLS = 4_000_000  # (on entries x dims) summed into a batch at once: 16 MB of float32


def stream_generator(seed: int, stream: int, index: int) -> np.random.Generator:
    """A random generator determined by (seed, stream, batch index) alone, well mixed.

    numpy's PCG64 rather than torch's: drawing uniforms is several times faster on CPU,
    which matters when every training step draws a fresh batch.
    """
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(stream), int(index)])))


def _uniform(generator: np.random.Generator, *shape: int) -> Tensor:
    return torch.from_numpy(generator.random(shape, dtype=np.float32))


def _normal(generator: np.random.Generator, *shape: int) -> Tensor:
    return torch.from_numpy(generator.standard_normal(shape, dtype=np.float32))


def _magnitudes(generator: np.random.Generator, on_NF: Tensor) -> Tensor:
    """U[0, 1] where a feature is on, 0 elsewhere (only the on entries are drawn)."""
    codes_NF = torch.zeros(on_NF.shape)
    codes_NF[on_NF] = _uniform(generator, int(on_NF.sum()))
    return codes_NF


def _check_int(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high:,} (got {value!r})")


def _check_float(name: str, value, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigError(f"{name} must be a number from {low:g} to {high:g} (got {value!r})")


class GroundTruthData:
    """A stream of batches x = codes @ embedding, with the true features' directions known.

    Subclasses define ``embedding_FD`` (where each true feature sits in activation space;
    F features x D dims) and ``codes(generator, n) -> (n, F)`` (how strongly each feature is
    on in each sample; mostly zeros).
    """

    embedding_FD: Tensor
    batch_size: int
    seed: int
    children_of: dict[int, list[int]] = {}  # parent feature -> its child features (hierarchical data only)

    @property
    def dims(self) -> int:
        return self.embedding_FD.shape[1]

    @property
    def features(self) -> int:
        return self.embedding_FD.shape[0]

    @property
    def directions_FD(self) -> Tensor:
        """The true features as unit vectors (what a learned decoder row should point along)."""
        return self.embedding_FD / self.embedding_FD.norm(dim=1, keepdim=True).clamp_min(1e-12)

    @property
    def mean_active(self) -> float:
        """The mean number of true features on per sample (the lab's recipes set k from it)."""
        raise NotImplementedError

    def codes(self, generator: np.random.Generator, n: int) -> Tensor:
        raise NotImplementedError

    def batch_with_codes(self, index: int, size: int | None = None, stream: int = TRAIN) -> tuple[Tensor, Tensor]:
        """(codes (n, F), x (n, D)) of batch ``index`` in ``stream``: the same bits every call."""
        n = size or self.batch_size
        codes_NF = self.codes(stream_generator(self.seed, stream, index), n)
        # x = codes @ embedding, summed over the features that are on only (a few per sample), at most
        # CHUNK_CELLS of (on entries x dims) at once: 8,192 samples x 64 on x 1,024 dims would be 2 GB at once
        rows, cols = codes_NF.nonzero(as_tuple=True)
        x_ND = torch.zeros(n, self.dims)
        step = max(1, CHUNK_CELLS // self.dims)
        for start in range(0, len(rows), step):
            r, c = rows[start:start + step], cols[start:start + step]
            x_ND.index_add_(0, r, codes_NF[r, c, None] * self.embedding_FD[c])
        return codes_NF, x_ND

    def batch(self, index: int, size: int | None = None, stream: int = TRAIN) -> Tensor:
        """Batch ``index`` of activations, shape (n, D)."""
        return self.batch_with_codes(index, size, stream)[1]

    def batches(self, start: int = 0, stream: int = TRAIN) -> Iterator[Tensor]:
        """Batches start, start + 1, ... without end."""
        index = start
        while True:
            yield self.batch(index, stream=stream)
            index += 1

    def eval_batch(self, size: int = 4096) -> Tensor:
        """Held-out samples for metrics (the EVAL stream; training never sees them)."""
        return self.batch(0, size, stream=EVAL)


# ---- Sharkey-style: k of F unit directions per sample ----------------------------------------

@dataclass(frozen=True)
class SparseCombinationConfig:
    dims: int = 256  # activation dimensions D: what the SAE reads
    features: int = 512  # true feature directions F
    active: float = 5.0  # mean number of true features on per sample (k)
    frequency_decay: float = 0.0  # p_i proportional to (i + 1)^-decay; 0: every feature equally often
    group_size: int = 1  # features 0..g-1, g..2g-1, ... form groups (1: no groups)
    group_correlation: float = 0.0  # 0..0.99: how strongly a group's features fire together
    seed: int = 0  # the directions and every batch
    batch_size: int = 1024  # samples per batch

    def validate(self) -> "SparseCombinationConfig":
        _check_int("dims", self.dims, 2, limits.MAX_DIMS)
        _check_int("features", self.features, 1, limits.MAX_SYNTH_FEATURES)
        _check_float("active features per sample", self.active, 0.01, min(self.features, limits.MAX_SYNTH_ACTIVE))
        _check_float("frequency decay", self.frequency_decay, 0.0, 3.0)
        _check_int("group size", self.group_size, 1, self.features)
        _check_float("group correlation", self.group_correlation, 0.0, 0.99)
        _check_int("seed", self.seed, 0, limits.MAX_SEED)
        _check_int("batch size", self.batch_size, 1, limits.MAX_SYNTH_BATCH)
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def feature_probabilities(features: int, active: float, decay: float) -> Tensor:
    """p_i proportional to (i + 1)^-decay, scaled so that sum p_i = active, none above 1.

    Features that would exceed probability 1 are held at 1 and the rest rescaled (water
    filling), so the mean number of active features stays exactly ``active``.
    """
    weights_F = torch.arange(1, features + 1, dtype=torch.float64) ** -decay
    p_F = torch.zeros(features, dtype=torch.float64)
    capped = torch.zeros(features, dtype=torch.bool)
    for _ in range(features):
        free = ~capped
        p_F[free] = (active - capped.sum()) * weights_F[free] / weights_F[free].sum()
        p_F[capped] = 1.0
        over = p_F > 1.0
        if not over.any():
            break
        capped |= over
    return p_F.to(torch.float32)


class SparseCombination(GroundTruthData):
    """Sharkey-style data: x = sum_i m_i d_i over the ~k features on in a sample, m_i ~ U[0, 1]."""

    key = "sparse"

    def __init__(self, config: SparseCombinationConfig):
        self.config = config.validate()
        self.seed, self.batch_size = config.seed, config.batch_size
        gen = stream_generator(config.seed, DIRECTIONS, 0)
        self.embedding_FD = torch.nn.functional.normalize(_normal(gen, config.features, config.dims), dim=1)
        self.probability_F = feature_probabilities(config.features, config.active, config.frequency_decay)
        # Correlated groups by a Gaussian copula: z_i = sqrt(rho) u_group + sqrt(1 - rho) e_i is
        # standard normal, so "on when z_i > Phi^-1(1 - p_i)" keeps each p_i while features of
        # one group share u and fire together more often.
        self._threshold_F = torch.special.ndtri(1 - self.probability_F.double().clamp(1e-12, 1 - 1e-12)).float()
        self._group_F = torch.arange(config.features) // config.group_size

    @property
    def mean_active(self) -> float:
        return self.config.active

    def codes(self, generator: np.random.Generator, n: int) -> Tensor:
        cfg = self.config
        rho = cfg.group_correlation
        if rho > 0 and cfg.group_size > 1:
            shared_NG = _normal(generator, n, int(self._group_F[-1]) + 1)
            own_NF = _normal(generator, n, cfg.features)
            z_NF = shared_NG[:, self._group_F] * rho ** 0.5 + own_NF * (1 - rho) ** 0.5
            on_NF = z_NF > self._threshold_F
        else:
            on_NF = _uniform(generator, n, cfg.features) < self.probability_F
        return _magnitudes(generator, on_NF)


# ---- Toy Models of Superposition: n features squeezed into m dims by a trained toy model -----

@dataclass(frozen=True)
class ToySuperpositionConfig:
    features: int = 5  # true features n
    dims: int = 2  # dimensions m the toy model squeezes them into: what the SAE reads
    sparsity: float = 0.9  # probability that a feature is 0 in a sample (S in the paper)
    importance_decay: float = 1.0  # importance of feature i = decay^i (1: all equal)
    seed: int = 0  # the toy model and every batch
    batch_size: int = 1024  # samples per batch
    toy_steps: int = 1000  # Adam steps that train the toy model before the SAE sees its h

    def validate(self) -> "ToySuperpositionConfig":
        _check_int("features", self.features, 1, limits.MAX_TOY_FEATURES)
        _check_int("dims", self.dims, 1, limits.MAX_TOY_DIMS)
        _check_float("sparsity", self.sparsity, 0.0, 0.999)
        _check_float("importance decay", self.importance_decay, 0.1, 1.0)
        _check_int("seed", self.seed, 0, limits.MAX_SEED)
        _check_int("batch size", self.batch_size, 1, limits.MAX_SYNTH_BATCH)
        _check_int("toy model steps", self.toy_steps, 0, limits.MAX_TOY_STEPS)
        return self

    def to_dict(self) -> dict:
        return asdict(self)


class ToySuperposition(GroundTruthData):
    """Toy-Models-of-Superposition data: h = W x, with W learned by the paper's ReLU toy model."""

    key = "toy"

    def __init__(self, config: ToySuperpositionConfig):
        self.config = config.validate()
        self.seed, self.batch_size = config.seed, config.batch_size
        self.importance_F = config.importance_decay ** torch.arange(config.features, dtype=torch.float32)
        self.embedding_FD = train_toy_model(self, config)  # W^T: row i is where feature i sits

    @property
    def mean_active(self) -> float:
        return self.config.features * (1 - self.config.sparsity)

    def codes(self, generator: np.random.Generator, n: int) -> Tensor:
        cfg = self.config
        return _magnitudes(generator, _uniform(generator, n, cfg.features) >= cfg.sparsity)


def train_toy_model(data: ToySuperposition, config: ToySuperpositionConfig) -> Tensor:
    """The paper's toy model, x' = ReLU(W^T W x + b), trained on the importance-weighted MSE.

    loss = mean_samples sum_i I_i (x_i - x'_i)^2 with Adam (lr 0.01), batches of 1024 from the
    generator's own stream. Returns W^T, shape (n features, m dims); feature i's row has length
    about 1 when the model represents it and about 0 when it gave up on it.
    """
    gen = stream_generator(config.seed, DIRECTIONS, 0)
    W_FD = (_normal(gen, config.features, config.dims) * (2 / (config.features + config.dims)) ** 0.5).requires_grad_(True)
    b_F = torch.zeros(config.features, requires_grad=True)
    optimizer = torch.optim.Adam([W_FD, b_F], lr=0.01)
    for step in range(config.toy_steps):
        x_NF = data.codes(stream_generator(config.seed, TOY_TRAINING, step), 1024)
        out_NF = torch.relu(x_NF @ W_FD @ W_FD.T + b_F)
        loss = (data.importance_F * (x_NF - out_NF) ** 2).sum(dim=1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return W_FD.detach().clone()


# ---- SAELens' synthetic hierarchy: children fire only with their parent -----------------------

@dataclass(frozen=True)
class HierarchicalConfig:
    dims: int = 64  # activation dimensions D: what the SAE reads
    parents: int = 16  # parent features P, each with its own children
    children: int = 4  # children per parent C (a child fires only when its parent fires)
    independent: int = 48  # features outside the hierarchy
    parent_probability: float = 0.15  # chance that a parent fires in a sample
    child_probability: float = 0.25  # chance that a child fires, given its parent fires
    independent_probability: float = 0.03  # chance that an independent feature fires
    exclusive: bool = False  # at most one child per parent (of the children drawn, one at random stays)
    seed: int = 0  # the directions and every batch
    batch_size: int = 1024  # samples per batch

    def validate(self) -> "HierarchicalConfig":
        _check_int("dims", self.dims, 2, limits.MAX_DIMS)
        _check_int("parents", self.parents, 1, limits.MAX_HIERARCHY_PARENTS)
        _check_int("children per parent", self.children, 1, limits.MAX_HIERARCHY_CHILDREN)
        _check_int("independent features", self.independent, 0, limits.MAX_SYNTH_FEATURES)
        total = self.parents * (1 + self.children) + self.independent
        if total > limits.MAX_SYNTH_FEATURES:
            raise ConfigError(f"parents x (1 + children) + independent = {total:,} true features is over the "
                              f"limit of {limits.MAX_SYNTH_FEATURES:,}")
        _check_float("parent probability", self.parent_probability, 0.001, 1.0)
        _check_float("child probability", self.child_probability, 0.001, 1.0)
        _check_float("independent probability", self.independent_probability, 0.0, 1.0)
        if not isinstance(self.exclusive, bool):
            raise ConfigError(f"exclusive must be true or false (got {self.exclusive!r})")
        if self.mean_active() > limits.MAX_SYNTH_ACTIVE:
            raise ConfigError(f"these counts and probabilities put {self.mean_active():.4g} true features on per sample "
                              f"on average, over the limit of {limits.MAX_SYNTH_ACTIVE}")
        _check_int("seed", self.seed, 0, limits.MAX_SEED)
        _check_int("batch size", self.batch_size, 1, limits.MAX_SYNTH_BATCH)
        return self

    def mean_active(self) -> float:
        """Parents on, times (1 + their children on), plus the independent features on."""
        q, C = self.child_probability, self.children
        children_given_parent = 1 - (1 - q) ** C if self.exclusive else C * q
        return self.parents * self.parent_probability * (1 + children_given_parent) + \
            self.independent * self.independent_probability

    def to_dict(self) -> dict:
        return asdict(self)


class Hierarchical(GroundTruthData):
    """SAELens' synthetic hierarchy: P parents with C children each (a child fires only with its parent).

    Features 0..P-1 are the parents, P + p*C .. P + p*C + C-1 the children of parent p, then the
    independent ones; each a random unit direction.
    """

    key = "hierarchical"

    def __init__(self, config: HierarchicalConfig):
        self.config = config.validate()
        self.seed, self.batch_size = config.seed, config.batch_size
        P, C = config.parents, config.children
        gen = stream_generator(config.seed, DIRECTIONS, 0)
        self.embedding_FD = torch.nn.functional.normalize(
            _normal(gen, P * (1 + C) + config.independent, config.dims), dim=1)
        self.children_of = {p: list(range(P + p * C, P + (p + 1) * C)) for p in range(P)}

    @property
    def mean_active(self) -> float:
        return self.config.mean_active()

    def codes(self, generator: np.random.Generator, n: int) -> Tensor:
        cfg = self.config
        P, C = cfg.parents, cfg.children
        parent_NP = _uniform(generator, n, P) < cfg.parent_probability
        child_NPC = (_uniform(generator, n, P, C) < cfg.child_probability) & parent_NP[:, :, None]
        if cfg.exclusive:  # keep the drawn child with the largest fresh uniform: one of them, at random
            keep_NP = (_uniform(generator, n, P, C) + child_NPC).argmax(dim=2)
            child_NPC &= torch.nn.functional.one_hot(keep_NP, C).bool()
        independent_NI = _uniform(generator, n, cfg.independent) < cfg.independent_probability
        return _magnitudes(generator, torch.cat([parent_NP, child_NPC.reshape(n, P * C), independent_NI], dim=1))


GENERATORS = {SparseCombination.key: (SparseCombination, SparseCombinationConfig),
              ToySuperposition.key: (ToySuperposition, ToySuperpositionConfig),
              Hierarchical.key: (Hierarchical, HierarchicalConfig)}


def make_data(key: str, **settings) -> GroundTruthData:
    """A generator by key ("sparse", "toy" or "hierarchical") from keyword settings of its config dataclass."""
    if key not in GENERATORS:
        raise ConfigError(f"unknown generator '{key}' (known: {', '.join(GENERATORS)})")
    cls, config_cls = GENERATORS[key]
    try:
        config = config_cls(**settings)
    except TypeError:
        raise ConfigError(f"unknown setting for generator '{key}'") from None
    return cls(config)
