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

from dataclasses import replace

import torch
from torch import Tensor, nn

from .. import limits
from ..options import Option
from .base import SAE, relu_backward_
from .standard import SPARSITY_WEIGHT

THRESHOLD_RANGE = {"low": limits.MIN_JUMPRELU_VALUE, "high": limits.MAX_JUMPRELU_VALUE}
L0_WEIGHT = replace(
    SPARSITY_WEIGHT, label="Sparsity weight (L0)", saelens_training="l0_coefficient",
    help="The weight of the count of active features (L0) in the loss. Higher: fewer active features per "
         "token, worse reconstruction.")
JUMPRELU_THRESHOLD = Option(
    "jumprelu_threshold", float, 0.01, "Starting threshold",
    "A feature passes its pre-activation only above its threshold; each feature learns its own, starting here.",
    **THRESHOLD_RANGE, noun="JumpReLU starting threshold", saelens_training="jumprelu_init_threshold", advanced=True, step=0.01, format="%.4g")
JUMPRELU_BANDWIDTH = Option(
    "jumprelu_bandwidth", float, 0.05, "Threshold bandwidth",
    "How close to the threshold a pre-activation must be to move it (the straight-through estimator's window).",
    **THRESHOLD_RANGE, noun="JumpReLU bandwidth", saelens_training="jumprelu_bandwidth", advanced=True, step=0.01, format="%.4g")


def _window(pre_SNH: Tensor, theta_S1H: Tensor, bandwidth: float) -> Tensor:
    """K((pre - theta) / eps) / eps: the estimator's density around the threshold."""
    u = (pre_SNH - theta_S1H) / bandwidth
    return ((u > -0.5) & (u < 0.5)).to(pre_SNH) / bandwidth


class _JumpReLU(torch.autograd.Function):
    """(pre * H(pre - theta), H(pre - theta)) with the straight-through estimator for theta; one
    window serves both outputs. The step passes no gradient to pre; f passes it where the gate is open."""

    @staticmethod
    def forward(ctx, pre_SNH: Tensor, theta_S1H: Tensor, bandwidth: float) -> tuple[Tensor, Tensor]:
        ctx.save_for_backward(pre_SNH, theta_S1H)
        ctx.bandwidth = bandwidth
        gate_SNH = pre_SNH > theta_S1H
        return pre_SNH * gate_SNH, gate_SNH.to(pre_SNH)

    @staticmethod
    def backward(ctx, grad_f_SNH: Tensor, grad_gate_SNH: Tensor):
        pre_SNH, theta_S1H = ctx.saved_tensors
        window_SNH = _window(pre_SNH, theta_S1H, ctx.bandwidth)
        d_theta = -(window_SNH * (theta_S1H * grad_f_SNH + grad_gate_SNH)).sum(dim=1, keepdim=True)
        return (pre_SNH > theta_S1H) * grad_f_SNH, d_theta, None


class JumpReLUSAE(SAE):
    key = "jumprelu"
    label = "JumpReLU (learned thresholds, L0 penalty)"
    saelens_architecture = "jumprelu"
    summary = ("Each feature passes only above its own learned threshold; the penalty counts "
               "active features (L0) instead of shrinking them.")
    options = (L0_WEIGHT, JUMPRELU_THRESHOLD, JUMPRELU_BANDWIDTH)
    knob = "sparsity_weight"  # the L0 penalty's weight
    loss_names = ("mse", "sparsity")
    HIDDEN_AXIS = {**SAE.HIDDEN_AXIS, "threshold": 1}
    step_copies = 4.0  # (S, batch, H + D) tensors alive in a step (measured 3.3; sae_core.memory)
    saelens_training_class = "JumpReLUTrainingSAEConfig"  # SAELens' training config (sae_core/handoff.py)

    @classmethod
    def saelens_training_cfg(cls, config, d_in: int) -> dict:
        """This architecture's fields of SAELens' training config, on SAELens' scale.

        Ours: mean_{n,d} (x_hat - x)^2 + w mean_n sum_j H(pre_j - theta_j). SAELens ("step" mode, DeepMind's):
        sum_d mean_n (x_hat - x)^2 + c mean_n sum_j H(pre_j - theta_j), with the same straight-through
        estimator when ``jumprelu_ste_to_input`` is off. With c = w d_in its loss and its gradients are
        exactly d_in x ours (tests/test_handoff.py); the threshold and bandwidth carry over as they are.
        """
        return {L0_WEIGHT.saelens_training: config.sparsity_weight * d_in,
                JUMPRELU_THRESHOLD.saelens_training: config.jumprelu_threshold,
                JUMPRELU_BANDWIDTH.saelens_training: config.jumprelu_bandwidth,
                "jumprelu_sparsity_loss_mode": "step", "jumprelu_ste_to_input": False}

    def __init__(self, d_in: int, hidden_dims: list[int], seeds: list[int], dtype: torch.dtype = torch.float32,
                 **options):
        super().__init__(d_in, hidden_dims, seeds, dtype, **options)
        self.register_buffer("sparsity_weight", self.member_tensor("sparsity_weight"))
        self.bandwidth = float(self.option_values["jumprelu_bandwidth"])
        self.threshold = nn.Parameter(torch.full((self.n_members, max(hidden_dims)),
                                                 float(self.option_values["jumprelu_threshold"]), dtype=dtype))

    def encode(self, x_ND: Tensor) -> Tensor:
        pre_SNH = self.pre_activations(x_ND)
        f_SNH = pre_SNH * (pre_SNH > self.threshold[:, None, :])
        return f_SNH * self.hidden_mask[:, None, :] if self.padded else f_SNH

    def losses(self, x_ND: Tensor) -> dict[str, Tensor]:
        pre_SNH = self.pre_activations(x_ND)
        theta_S1H = self.threshold[:, None, :]
        f_SNH, fires_SNH = _JumpReLU.apply(pre_SNH, theta_S1H, self.bandwidth)
        if self.padded:
            f_SNH, fires_SNH = f_SNH * self.hidden_mask[:, None, :], fires_SNH * self.hidden_mask[:, None, :]
        mse_S = ((self.decode(f_SNH) - x_ND) ** 2).mean(dim=(1, 2))
        l0_S = fires_SNH.sum(dim=2).mean(dim=1)
        return {"mse": mse_S, "sparsity": self.sparsity_weight * l0_S}

    @torch.no_grad()
    def forward_backward(self, x_ND: Tensor) -> dict[str, Tensor]:
        """:meth:`losses` and its gradients by hand (the same numbers as autograd through ``_JumpReLU``, tests
        check it): d pre = d f where the gate is open; d theta = -(1/eps) sum_n K (theta d f + w / N) over the
        window K around the threshold. Biases ride in the products, as in StandardSAE."""
        n, d = x_ND.shape
        x1_ND1 = self.inputs_with_ones(x_ND)
        pre_SNH = self.pre_activations_folded(x1_ND1)
        theta_S1H = self.threshold[:, None, :]
        # Masks as 0/1 floats written by the comparison itself, and reused buffers: every pass over the
        # N x H activations is a plain float one (a bool mask in a product or a sum is converted to float
        # first, a pass of its own at a few times the cost; benchmarks/bench_training.py).
        f_SNH = torch.gt(pre_SNH, theta_S1H, out=torch.empty_like(pre_SNH))  # the gate, then f in its place
        if self.padded:
            f_SNH.mul_(self.hidden_mask[:, None, :])
        l0_S = f_SNH.sum(dim=(1, 2)) / n
        f_SNH.mul_(pre_SNH)  # pre where the gate is open: > 0 exactly there (theta >= 0)
        # |pre - theta| < eps / 2, written over pre
        window_SNH = torch.lt(pre_SNH.sub_(theta_S1H).abs_(), self.bandwidth / 2, out=pre_SNH)
        if self.padded:
            window_SNH.mul_(self.hidden_mask[:, None, :])
        in_window_S1H = window_SNH.sum(dim=1, keepdim=True)
        err_SND = self.decode(f_SNH).sub_(x_ND)
        mse_S = err_SND.pow(2).mean(dim=(1, 2))
        d_xhat_SND = err_SND.mul_(2.0 / (n * d))
        d_f_SNH = torch.matmul(d_xhat_SND, self.W_dec.transpose(1, 2))
        d_f_window_S1H = window_SNH.mul_(d_f_SNH).sum(dim=1, keepdim=True)
        grad_gate_S11 = (self.sparsity_weight / n)[:, None, None]
        self.threshold.grad = (-(theta_S1H * d_f_window_S1H + grad_gate_S11 * in_window_S1H) / self.bandwidth)[:, 0]
        self.W_dec.grad = torch.matmul(f_SNH.transpose(1, 2), d_xhat_SND)
        self.b_dec.grad = d_xhat_SND.sum(dim=1)
        self.set_encoder_grads(x1_ND1, relu_backward_(d_f_SNH, f_SNH))  # the gate, as ReLU's gradient through f
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
