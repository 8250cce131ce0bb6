"""JumpReLU SAE (Rajamanoharan et al. 2024; SAELens ``jumprelu``): a learned threshold per feature.

    pre   = x @ W_enc + b_enc
    f     = pre * H(pre - theta)                      H: the step function, theta >= 0 per feature
    x_hat = f @ W_dec + b_dec
    loss  = mean((x_hat - x)^2) + w * mean_tokens(sum_features H(pre - theta))    (an L0 penalty)

H has no useful gradient, so theta learns through a straight-through estimator, as in
SAELens (``jumprelu_sparsity_loss_mode="step"``, DeepMind's setting): with the rectangle
window K(u) = 1 on |u| < 1/2 and bandwidth eps,
    d f / d theta = -(theta / eps) K((pre - theta) / eps),   d H / d theta = -(1 / eps) K((pre - theta) / eps),
and the step passes no gradient to pre. theta is a parameter (not its log), projected onto
theta >= 0 after every update, as in SAELens 6.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import SAE


def _window(pre_SNH: Tensor, theta_S1H: Tensor, bandwidth: float) -> Tensor:
    """K((pre - theta) / eps) / eps: the estimator's density around the threshold."""
    u = (pre_SNH - theta_S1H) / bandwidth
    return ((u > -0.5) & (u < 0.5)).to(pre_SNH) / bandwidth


class _JumpReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pre_SNH: Tensor, theta_S1H: Tensor, bandwidth: float) -> Tensor:
        ctx.save_for_backward(pre_SNH, theta_S1H)
        ctx.bandwidth = bandwidth
        return pre_SNH * (pre_SNH > theta_S1H)

    @staticmethod
    def backward(ctx, grad_SNH: Tensor):
        pre_SNH, theta_S1H = ctx.saved_tensors
        d_theta = -(theta_S1H * _window(pre_SNH, theta_S1H, ctx.bandwidth) * grad_SNH).sum(dim=1, keepdim=True)
        return (pre_SNH > theta_S1H) * grad_SNH, d_theta, None


class _Step(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pre_SNH: Tensor, theta_S1H: Tensor, bandwidth: float) -> Tensor:
        ctx.save_for_backward(pre_SNH, theta_S1H)
        ctx.bandwidth = bandwidth
        return (pre_SNH > theta_S1H).to(pre_SNH)

    @staticmethod
    def backward(ctx, grad_SNH: Tensor):
        pre_SNH, theta_S1H = ctx.saved_tensors
        d_theta = -(_window(pre_SNH, theta_S1H, ctx.bandwidth) * grad_SNH).sum(dim=1, keepdim=True)
        return None, d_theta, None


class JumpReLUSAE(SAE):
    key = "jumprelu"
    label = "JumpReLU (learned thresholds, L0 penalty)"
    saelens_architecture = "jumprelu"
    summary = ("Each feature passes only above its own learned threshold; the penalty counts "
               "active features (L0) instead of shrinking them.")
    options = ("jumprelu_threshold", "jumprelu_bandwidth")
    uses_sparsity_weight = True  # the L0 penalty's weight
    loss_names = ("mse", "sparsity")
    HIDDEN_AXIS = {**SAE.HIDDEN_AXIS, "threshold": 1}

    def __init__(self, d_in: int, hidden_dims: list[int], seeds: list[int], sparsity_weights: list[float],
                 dtype: torch.dtype = torch.float32, jumprelu_threshold: float = 0.01,
                 jumprelu_bandwidth: float = 0.05):
        super().__init__(d_in, hidden_dims, seeds, sparsity_weights, dtype,
                         jumprelu_threshold=jumprelu_threshold, jumprelu_bandwidth=jumprelu_bandwidth)
        self.bandwidth = float(jumprelu_bandwidth)
        self.threshold = nn.Parameter(torch.full((self.n_members, max(hidden_dims)), float(jumprelu_threshold),
                                                 dtype=dtype))

    def encode(self, x_ND: Tensor) -> Tensor:
        pre_SNH = self.pre_activations(x_ND)
        f_SNH = pre_SNH * (pre_SNH > self.threshold[:, None, :])
        return f_SNH * self.hidden_mask[:, None, :] if self.padded else f_SNH

    def losses(self, x_ND: Tensor) -> dict[str, Tensor]:
        pre_SNH = self.pre_activations(x_ND)
        theta_S1H = self.threshold[:, None, :]
        f_SNH = _JumpReLU.apply(pre_SNH, theta_S1H, self.bandwidth)
        fires_SNH = _Step.apply(pre_SNH, theta_S1H, self.bandwidth)
        if self.padded:
            f_SNH, fires_SNH = f_SNH * self.hidden_mask[:, None, :], fires_SNH * self.hidden_mask[:, None, :]
        mse_S = ((self.decode(f_SNH) - x_ND) ** 2).mean(dim=(1, 2))
        l0_S = fires_SNH.sum(dim=2).mean(dim=1)
        return {"mse": mse_S, "sparsity": self.sparsity_weight * l0_S}

    @torch.no_grad()
    def after_update(self) -> None:
        self.threshold.clamp_(min=0.0)

    def saelens_tensors(self) -> dict[str, Tensor]:
        tensors = super().saelens_tensors()
        tensors["threshold"] = self.threshold.detach()[0].contiguous()
        return tensors

    @torch.no_grad()
    def load_saelens_tensors(self, tensors: dict[str, Tensor]) -> None:
        super().load_saelens_tensors(tensors)
        self.threshold.copy_(tensors["threshold"].to(self.threshold.dtype)[None])
