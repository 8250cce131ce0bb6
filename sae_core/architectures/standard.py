"""The article's SAE, batched over a leading seed dimension S.

    f     = ReLU(x @ W_enc + b_enc)        encoder, Linear(d_in, hidden) + ReLU
    x_hat = f @ W_dec + b_dec               decoder, Linear(hidden, d_in), no ReLU
    loss  = mean((x_hat - x)^2) + sparsity_weight * mean(|f|)
            (option ``decoder_norm_penalty``: mean(|f_j| * ||W_dec_j||) instead)

Each of the S members is an independent SAE (its own seed, sparsity weight and hidden
size); they share the input x and are trained together because the sum of their losses
has exactly each member's own gradient. A member with a smaller hidden size than the
widest one has its extra features masked to zero (``hidden_mask``), which keeps them
at zero gradient, so sweeps over hidden sizes run as one batch.

Gradients are written out by hand (``forward_backward``): the same numbers autograd
gives (tests check this), with fewer passes over the N x H activations, which is what
makes large runs approach the speed of their matrix multiplications.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import limits
from ..options import Option
from .base import SAE, relu_backward_, with_ones

# The L1 weight: per member, so a sweep can vary it across one batched run (the sparsity knob).
SPARSITY_WEIGHT = Option(
    "sparsity_weight", float, 0.01, "Sparsity weight",
    "How strongly the loss pushes features to zero. Higher: fewer active features per token, worse reconstruction.",
    low=0.0, high=limits.MAX_SPARSITY_WEIGHT, saelens_training="l1_coefficient", per_member=True,
    step=0.01, format="%.4f", sweep_values=(0.003, 0.01, 0.03, 0.1),
    sweep_choices=(0.0, 0.001, 0.003, 0.01, 0.03, 0.05, 0.1, 0.3, 1.0))
DECODER_NORM_PENALTY = Option(
    "decoder_norm_penalty", bool, False, "Sparsity weighted by decoder length",
    "Each feature's sparsity cost is multiplied by the length of its decoder row, so the penalty cannot be "
    "dodged by small activations and a long decoder row (Anthropic, April 2024).", advanced=True)


class StandardSAE(SAE):
    key = "standard"
    label = "ReLU + L1 (the article's)"
    saelens_architecture = "standard"
    summary = ("Every feature passes its positive part (ReLU); an L1 penalty on the activations "
               "pushes most of them to zero.")
    options = (SPARSITY_WEIGHT, DECODER_NORM_PENALTY)
    knob = "sparsity_weight"
    loss_names = ("mse", "sparsity")
    step_copies = 2.5  # (S, batch, H + D) tensors alive in a step (measured 2.4; sae_core.memory)
    lab_recipe = {"lr": 3e-3, "sparsity_weight": 0.3}  # the article's SAE, a weight suited to the lab's data
    saelens_training_class = "StandardTrainingSAEConfig"  # SAELens' training config (sae_core/handoff.py)

    @classmethod
    def saelens_training_cfg(cls, config, d_in: int) -> dict:
        """This architecture's fields of SAELens' training config, on SAELens' scale (d_sae = config.hidden_dim).

        Ours: mean_{n,d} (x_hat - x)^2 + w mean_{n,j} |f_j| r_j, r_j = ||W_dec_j|| (decoder_norm_penalty) or 1.
        SAELens (``StandardTrainingSAE``): sum_d mean_n (x_hat - x)^2 + c mean_n sum_j |f_j| ||W_dec_j||.
        With c = w d_in / d_sae its loss is exactly d_in x ours (same minimiser, same gradients up to that
        factor; tests/test_handoff.py). Without decoder_norm_penalty the two agree only while every decoder
        row has length 1 (unit_norm_decoder): SAELens always weights the L1 by the row's length.
        """
        return {SPARSITY_WEIGHT.saelens_training: config.sparsity_weight * d_in / config.hidden_dim, "lp_norm": 1.0}

    def __init__(self, d_in: int, hidden_dims: list[int], seeds: list[int], dtype: torch.dtype = torch.float32,
                 **options):
        super().__init__(d_in, hidden_dims, seeds, dtype, **options)
        self.register_buffer("sparsity_weight", self.member_tensor("sparsity_weight"))
        self.decoder_norm_penalty = bool(self.option_values["decoder_norm_penalty"])

    def encode(self, x_ND: Tensor) -> Tensor:
        """Feature activations f, shape (S, N, H)."""
        f_SNH = torch.matmul(x_ND, self.W_enc).add_(self.b_enc[:, None, :]).relu_()  # in place: no copies
        return f_SNH * self.hidden_mask[:, None, :] if self.padded else f_SNH

    def losses(self, x_ND: Tensor) -> dict[str, Tensor]:
        """Per-member losses (each shape (S,)), differentiable: the reference definition."""
        f_SNH = self.encode(x_ND)
        x_hat_SND = self.decode(f_SNH)
        mse_S = ((x_hat_SND - x_ND) ** 2).mean(dim=(1, 2))
        f_SNH = f_SNH.abs()
        if self.decoder_norm_penalty:
            f_SNH = f_SNH * self.W_dec.norm(dim=2)[:, None, :]
        l1_S = f_SNH.sum(dim=(1, 2)) / (x_ND.shape[0] * self.hidden_size)
        return {"mse": mse_S, "sparsity": self.sparsity_weight * l1_S}

    @torch.no_grad()
    def forward_backward(self, x_ND: Tensor) -> dict[str, Tensor]:
        """Losses as in :meth:`losses`, and their gradient written into each ``.grad``.

        d x_hat = 2 (x_hat - x) / (N D);  d f = d x_hat W_dec^T + w / (N H), where f > 0.
        With ``decoder_norm_penalty`` the L1 term of feature j is scaled by r_j = ||W_dec_j||,
        so d f_j gets w r_j / (N H) and d W_dec_j gets w sum_n f_nj W_dec_j / (r_j N H).
        Five matrix products, two element-wise passes over the N x H activations (ReLU and its
        gradient, both in place) and one reduction (sum_n f): b_enc, the L1 gradient w r / (N H) and
        b_enc's gradient ride in the products ([x, 1] @ [W_enc; b_enc], [d x_hat, 1] @ [W_dec^T; w r / (N H)],
        [x, 1]^T d pre).
        """
        n, d = x_ND.shape
        x1_ND1 = self.inputs_with_ones(x_ND)
        f_SNH = self.pre_activations_folded(x1_ND1).relu_()
        if self.padded:
            f_SNH.mul_(self.hidden_mask[:, None, :])
        err_SND = self.decode(f_SNH).sub_(x_ND)
        mse_S = err_SND.pow(2).mean(dim=(1, 2))
        scale_S11 = (self.sparsity_weight / (n * self.hidden_size))[:, None, None]
        d_xhat_SND = err_SND.mul_(2.0 / (n * d))
        f_sum_S1H = f_SNH.sum(dim=1, keepdim=True)
        if self.decoder_norm_penalty:
            norm_S1H = self.W_dec.norm(dim=2)[:, None, :]
            l1_S = (f_sum_S1H * norm_S1H).sum(dim=(1, 2)) / (n * self.hidden_size)
            l1_grad_S1H = scale_S11 * norm_S1H
        else:
            l1_S = f_sum_S1H.sum(dim=(1, 2)) / (n * self.hidden_size)
            l1_grad_S1H = scale_S11.expand(-1, 1, f_SNH.shape[2])
        d_f_SNH = torch.matmul(with_ones(d_xhat_SND), torch.cat([self.W_dec.transpose(1, 2), l1_grad_S1H], dim=1))
        d_pre_SNH = relu_backward_(d_f_SNH, f_SNH)
        self.W_dec.grad = torch.matmul(f_SNH.transpose(1, 2), d_xhat_SND)
        if self.decoder_norm_penalty:
            unit_SHD = self.W_dec / norm_S1H.transpose(1, 2).clamp_min(1e-12)
            self.W_dec.grad.add_(unit_SHD * (scale_S11 * f_sum_S1H).transpose(1, 2))
        self.b_dec.grad = d_xhat_SND.sum(dim=1)
        self.set_encoder_grads(x1_ND1, d_pre_SNH)
        return {"mse": mse_S, "sparsity": self.sparsity_weight * l1_S}
