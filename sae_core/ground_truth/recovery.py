"""Recovery metrics: did an SAE find the true features the synthetic data was built from?

true_FD: the F true features as rows (any length; only directions count); learned_HD: the H
learned decoder rows. "cos" is the cosine of the angle between two rows.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor

from ..metrics import dead_mask, explained_variance, l0


MATCH_COSINE = 0.9  # a learned direction this close to a true feature has recovered it
PART_COSINE = 0.5  # a learned direction this close points partly along a true feature
FEATURE_LABELS = ("recovered", "split", "merged", "missed")


@torch.no_grad()
def cosine_matrix(true_FD: Tensor, learned_HD: Tensor) -> Tensor:
    """cos[i, j] = <t_i, l_j> / (|t_i| |l_j|), shape (F, H); a zero row gives cosine 0."""
    t = torch.nn.functional.normalize(torch.as_tensor(true_FD, dtype=torch.float32), dim=1)
    l = torch.nn.functional.normalize(torch.as_tensor(learned_HD, dtype=torch.float32), dim=1)
    return t @ l.T


@torch.no_grad()
def mmcs(cos_FH: Tensor) -> float:
    """Mean max cosine similarity: (1/F) sum_i max_j cos[i, j]; 1 when every true feature has a learned twin.

    Several true features may share one learned direction here; ``hungarian_cosine`` forbids that.
    """
    return float(cos_FH.max(dim=1).values.mean()) if cos_FH.numel() else 0.0


def hungarian_matching(cos_FH: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The one-to-one pairing (true i, learned j) with the largest total cosine.

    scipy's ``linear_sum_assignment`` (the Hungarian method) on the F x H matrix; with
    H >= F every true feature gets its own learned direction, with H < F only H do.
    Returns (true indices, learned indices), sorted by true index.
    """
    from scipy.optimize import linear_sum_assignment
    rows, cols = linear_sum_assignment(np.asarray(cos_FH, dtype=np.float64), maximize=True)
    return rows, cols


def hungarian_cosine(cos_FH: Tensor) -> float:
    """(1/F) sum over matched pairs of cos[i, j]: the mean cosine after one-to-one matching.

    True features left without a partner (only when H < F) count as 0. Below MMCS when
    one learned direction stands in for several true features.
    """
    if not cos_FH.numel():
        return 0.0
    rows, cols = hungarian_matching(cos_FH)
    return float(np.asarray(cos_FH)[rows, cols].sum() / cos_FH.shape[0])


@torch.no_grad()
def dead_fraction(f_SNH: Tensor, hidden_mask_SH: Tensor) -> Tensor:
    """(dead features) / (real features) per member, shape (S,): dead = fires on no sample."""
    return dead_mask(f_SNH, hidden_mask_SH).sum(dim=1) / hidden_mask_SH.sum(dim=1)


def feature_labels(cos_FH: Tensor) -> list[str]:
    """What became of each true feature i, one of FEATURE_LABELS, decided in this order:

    - recovered: some learned direction has cos >= MATCH_COSINE (0.9) with it;
    - merged: a learned direction with cos >= PART_COSINE (0.5) with it also has
      cos >= 0.5 with another true feature (one learned feature covers both);
    - split: two or more learned directions have cos >= 0.5 with it, none >= 0.9 (it is
      shared out among several learned features);
    - missed: none of the above (at most one learned direction points partly along it).
    """
    close_FH = np.asarray(cos_FH) >= PART_COSINE
    best_F = np.asarray(cos_FH.max(dim=1).values) if cos_FH.numel() else np.zeros(cos_FH.shape[0])
    covers_H = close_FH.sum(axis=0)  # how many true features each learned direction points along
    labels = []
    for i in range(cos_FH.shape[0]):
        partners = np.flatnonzero(close_FH[i])
        if best_F[i] >= MATCH_COSINE:
            labels.append("recovered")
        elif (covers_H[partners] >= 2).any():
            labels.append("merged")
        elif len(partners) >= 2:
            labels.append("split")
        else:
            labels.append("missed")
    return labels


@dataclass(frozen=True)
class RecoveryMetrics:
    """How well one SAE recovered known true features (the ground-truth lab's table row)."""

    mmcs: float
    hungarian: float
    explained_variance: float
    l0: float
    dead_fraction: float

    def to_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def recovery_metrics(model, true_FD: Tensor, x_ND: Tensor, f_SNH: Tensor | None = None) -> list[RecoveryMetrics]:
    """RecoveryMetrics for each member of a (batched) model, on held-out samples x_ND (``f_SNH``: their
    activations, when the caller has encoded them already)."""
    f_SNH = model.encode(x_ND) if f_SNH is None else f_SNH
    ev_S, l0_S = explained_variance(x_ND, model.decode(f_SNH)), l0(f_SNH)
    dead_S = dead_fraction(f_SNH, model.hidden_mask)
    out = []
    for s in range(model.n_members):
        cos_FH = cosine_matrix(true_FD, decoder_rows(model, s))
        out.append(RecoveryMetrics(mmcs(cos_FH), hungarian_cosine(cos_FH), float(ev_S[s]), float(l0_S[s]),
                                   float(dead_S[s])))
    return out


def decoder_rows(model, s: int = 0) -> Tensor:
    """Member s's decoder rows (each learned feature's direction), padding removed, shape (H, D)."""
    return model.decoder_directions(s)


@torch.no_grad()
def chance_level(true_FD: Tensor, n_learned: int, seed: int = 0, draws: int = 5) -> RecoveryMetrics:
    """MMCS and Hungarian cosine of ``n_learned`` random unit directions, averaged over ``draws``.

    What a dictionary that learned nothing scores: the bar every trained SAE must clear
    (in 2 dims it is high: any direction is near some true one). Explained variance, L0
    and dead fraction describe an encoder, which random directions lack: they are NaN.
    """
    gen = torch.Generator().manual_seed(int(seed))
    d = true_FD.shape[1]
    scores = []
    for _ in range(draws):
        cos_FH = cosine_matrix(true_FD, torch.randn(n_learned, d, generator=gen))
        scores.append((mmcs(cos_FH), hungarian_cosine(cos_FH)))
    mean = np.mean(scores, axis=0)
    return RecoveryMetrics(float(mean[0]), float(mean[1]), math.nan, math.nan, math.nan)
