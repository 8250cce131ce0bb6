"""Pure evaluation functions. Shapes: x (N, D), x_hat (S, N, D), f (S, N, H); S = members.

A feature "fires" on a token when its activation is > 0 (ReLU outputs exact zeros).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor


@torch.no_grad()
def mse(x_ND: Tensor, x_hat_SND: Tensor) -> Tensor:
    """mean over tokens and dims of (x_hat - x)^2, shape (S,)."""
    return ((x_hat_SND - x_ND) ** 2).mean(dim=(1, 2))


@torch.no_grad()
def explained_variance(x_ND: Tensor, x_hat_SND: Tensor) -> Tensor:
    """1 - sum (x - x_hat)^2 / sum (x - mean_tokens(x))^2, shape (S,); 1 is perfect."""
    residual_S = ((x_hat_SND - x_ND) ** 2).sum(dim=(1, 2))
    total = ((x_ND - x_ND.mean(dim=0)) ** 2).sum()
    if total <= 0:  # every token identical: only an exact reconstruction explains it
        return torch.where(residual_S <= 0, 1.0, 0.0).to(x_hat_SND.dtype)
    return 1 - residual_S / total


@torch.no_grad()
def l0(f_SNH: Tensor) -> Tensor:
    """Mean number of features that fire per token, shape (S,)."""
    return (f_SNH > 0).sum(dim=2).to(f_SNH.dtype).mean(dim=1)


@torch.no_grad()
def feature_density(f_SNH: Tensor) -> Tensor:
    """Fraction of tokens on which each feature fires, shape (S, H)."""
    return (f_SNH > 0).to(f_SNH.dtype).mean(dim=1)


@torch.no_grad()
def dead_mask(f_SNH: Tensor, hidden_mask_SH: Tensor) -> Tensor:
    """True for real (unpadded) features that fire on no token, shape (S, H)."""
    return ((f_SNH > 0).sum(dim=1) == 0) & (hidden_mask_SH > 0)


@dataclass(frozen=True)
class Metrics:
    mse: float
    explained_variance: float
    l0: float
    dead_features: int
    hidden_dim: int

    def to_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def evaluate(model, x_ND: Tensor) -> list[Metrics]:
    """All headline metrics for each member of a (batched) model."""
    f_SNH = model.encode(x_ND)
    x_hat_SND = model.decode(f_SNH)
    mse_S, ev_S, l0_S = mse(x_ND, x_hat_SND), explained_variance(x_ND, x_hat_SND), l0(f_SNH)
    dead_S = dead_mask(f_SNH, model.hidden_mask).sum(dim=1)
    return [
        Metrics(float(mse_S[s]), float(ev_S[s]), float(l0_S[s]), int(dead_S[s]), model.hidden_dims[s])
        for s in range(model.n_members)
    ]
