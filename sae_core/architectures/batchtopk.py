"""BatchTopK SAE (Bussmann et al. 2024; SAELens ``batchtopk``): k features per token on average.

Training keeps the k x N largest ReLU'd pre-activations of a batch of N tokens (per
member), so busy tokens may use more features and easy ones fewer. Inference cannot
depend on the batch: as in SAELens, a threshold tracks the smallest kept activation
(an exponential moving average, rate ``THRESHOLD_LR``), and ``encode`` keeps
pre-activations above it, a JumpReLU with one threshold for all features. That is also
how SAELens saves a trained BatchTopK SAE: as ``jumprelu`` with that threshold.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .topk import K, TopKSAE

THRESHOLD_LR = 0.01  # SAELens' topk_threshold_lr


class BatchTopKSAE(TopKSAE):
    key = "batchtopk"
    label = "BatchTopK (k features per token on average)"
    summary = ("A batch of N tokens keeps its k x N strongest activations, so hard tokens may use "
               "more features than easy ones; after training, a learned threshold does the choosing.")
    saelens_architecture = "jumprelu"  # what SAELens saves (and loads) a trained BatchTopK SAE as
    HIDDEN_AXIS = {**TopKSAE.HIDDEN_AXIS, "threshold": None}
    saelens_training_class = "BatchTopKTrainingSAEConfig"  # SAELens' training config (sae_core/handoff.py)

    @classmethod
    def saelens_training_cfg(cls, config, d_in: int) -> dict:
        """TopK's fields (the same scale argument), k as SAELens' float (a mean per token), the threshold's rate."""
        return {**super().saelens_training_cfg(config, d_in), K.saelens_training: float(config.k),
                "topk_threshold_lr": THRESHOLD_LR}

    def __init__(self, d_in: int, hidden_dims: list[int], seeds: list[int], dtype: torch.dtype = torch.float32,
                 **options):
        super().__init__(d_in, hidden_dims, seeds, dtype, **options)
        self.register_buffer("threshold", torch.zeros(self.n_members, dtype=dtype))

    def activate(self, pre_SNH: Tensor) -> Tensor:
        """Training: the k x N largest ReLU'd pre-activations of each member's batch."""
        acts_SNH = pre_SNH.relu()
        if self.padded:
            acts_SNH = acts_SNH * self.hidden_mask[:, None, :]
        flat_SX = acts_SNH.flatten(1)
        n = pre_SNH.shape[1]
        values_SK, index_SK = flat_SX.topk(min(self.k * n, flat_SX.shape[1]), dim=1)
        if len(set(self.k_S)) > 1:  # a sweep over k: each member keeps its own k x N
            ranks_K = torch.arange(values_SK.shape[1], device=values_SK.device)
            values_SK = values_SK * (ranks_K[None, :] < torch.tensor(self.k_S, device=values_SK.device)[:, None] * n)
        return torch.zeros_like(flat_SX).scatter(1, index_SK, values_SK).view_as(pre_SNH)

    def encode(self, x_ND: Tensor) -> Tensor:
        """Inference: pre-activations above the learned threshold (a JumpReLU)."""
        pre_SNH = self.pre_activations(x_ND)
        f_SNH = pre_SNH * (pre_SNH > self.threshold[:, None, None])
        return f_SNH * self.hidden_mask[:, None, :] if self.padded else f_SNH

    def _forward_backward_by_hand(self, x_ND: Tensor) -> dict[str, Tensor]:
        return self._dense_by_hand(x_ND)  # a batch's kept set has no fixed size per token

    @torch.no_grad()
    def observe(self, f_SNH: Tensor) -> None:
        super().observe(f_SNH)
        smallest_S = f_SNH.masked_fill(f_SNH <= 0, float("inf")).amin(dim=(1, 2))
        moved_S = (1 - THRESHOLD_LR) * self.threshold + THRESHOLD_LR * smallest_S
        self.threshold.copy_(torch.where(torch.isinf(smallest_S), self.threshold, moved_S))

    def saelens_tensors(self) -> dict[str, Tensor]:
        tensors = super().saelens_tensors()
        tensors["threshold"] = self.threshold.detach()[0].expand(self.hidden_dims[0]).contiguous()
        return tensors

    def saelens_cfg(self) -> dict:
        return {}  # saved as SAELens' jumprelu, whose cfg has no k (the threshold does the choosing)

    @torch.no_grad()
    def load_saelens_tensors(self, tensors: dict[str, Tensor]) -> None:
        super().load_saelens_tensors(tensors)
        self.threshold.fill_(float(tensors["threshold"].double().mean()))  # saved per feature, all equal
