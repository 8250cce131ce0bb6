"""BatchTopK SAE (Bussmann et al. 2024; SAELens ``batchtopk``): k features per token on average.

Training keeps the k x N largest ReLU'd pre-activations of a batch of N tokens (per
member), so busy tokens may use more features and easy ones fewer. Inference cannot
depend on the batch: as in SAELens, a threshold tracks the smallest kept activation
(an exponential moving average, rate ``THRESHOLD_LR``), and ``encode`` keeps
pre-activations above it, a JumpReLU with one threshold for all features. That is also
how SAELens saves a trained BatchTopK SAE: as ``jumprelu`` with that threshold.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .topk import K, TopKSAE

THRESHOLD_LR = 0.01  # SAELens' topk_threshold_lr
GROUPS = 16  # kth_largest's first cut: the entries in GROUPS-strided groups, each group's max


def kth_largest(values_X: Tensor, count: int) -> tuple[Tensor | None, int]:
    """The ``count``-th largest entry of the 1-D ``values_X`` (exact) and how many entries are >= it; (None, 0)
    when count >= the length. First a cut: each of ``count`` groups (of GROUPS entries, strided) has a max
    at least the count-th largest group max m, so the answer is >= m and only entries >= m (about count of
    them, not all) go to ``kthvalue``."""
    size = values_X.numel()
    if count >= size:
        return None, 0
    if size % GROUPS == 0 and count <= size // GROUPS:
        maxima = values_X.view(GROUPS, -1).amax(dim=0)
        values_X = values_X[values_X >= maxima.kthvalue(maxima.numel() - count + 1).values]
    t = values_X.kthvalue(values_X.numel() - count + 1).values
    return t, int((values_X >= t).sum())


class BatchTopKSAE(TopKSAE):
    key = "batchtopk"
    label = "BatchTopK (k features per token on average)"
    summary = ("A batch of N tokens keeps its k x N strongest activations, so hard tokens may use "
               "more features than easy ones; after training, a learned threshold does the choosing.")
    saelens_architecture = "jumprelu"  # what SAELens saves (and loads) a trained BatchTopK SAE as
    HIDDEN_AXIS = {**TopKSAE.HIDDEN_AXIS, "threshold": None}
    saelens_training_class = "BatchTopKTrainingSAEConfig"  # SAELens' training config (sae_core/handoff.py)
    step_copies = 3.0  # (S, batch, H + D) tensors alive in a step (measured 2.7; sae_core.memory)

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

    @torch.no_grad()
    def activate_(self, pre_SNH: Tensor) -> tuple[Tensor, Tensor | None]:
        """``activate``'s numbers written over ``pre_SNH`` (the steps by hand), and each member's smallest kept
        activation (inf: none kept). The k x N-th largest pre-activation t of a member's batch is found
        without sorting (``kth_largest``); keeping the entries >= t is then one pass. Entries tied at t beyond
        k x N are dropped from the last (top-k leaves the choice among ties open); t <= 0 (fewer than k x N
        positive) keeps every positive one, as top-k does."""
        if pre_SNH.is_meta:  # no values to cut at (tests/test_device.py): top-k's shapes
            return self.activate(pre_SNH), None
        if self.padded:
            pre_SNH.mul_(self.hidden_mask[:, None, :])
        n = pre_SNH.shape[1]
        smallest = []
        for pre_X, k in zip(pre_SNH.view(self.n_members, -1), self.k_S):
            t, at_or_above = kth_largest(pre_X, k * n)
            if t is None or t <= 0:
                smallest.append(pre_X.relu_().masked_fill(pre_X <= 0, math.inf).amin())
                continue
            torch.nn.functional.threshold_(pre_X, torch.nextafter(t, t.new_tensor(-math.inf)).item(), 0.0)
            if at_or_above > k * n:  # tied at t: keep the first ones
                tied = (pre_X == t).nonzero().squeeze(1)
                pre_X[tied[len(tied) - (at_or_above - k * n):]] = 0
            smallest.append(t)
        return pre_SNH, torch.stack(smallest)

    def encode(self, x_ND: Tensor) -> Tensor:
        """Inference: pre-activations above the learned threshold (a JumpReLU)."""
        pre_SNH = self.pre_activations(x_ND)
        if pre_SNH.requires_grad:
            f_SNH = pre_SNH * (pre_SNH > self.threshold[:, None, None])
            return f_SNH * self.hidden_mask[:, None, :] if self.padded else f_SNH
        f_SNH = pre_SNH.mul_(pre_SNH > self.threshold[:, None, None])  # no gradient wanted: over pre
        return f_SNH.mul_(self.hidden_mask[:, None, :]) if self.padded else f_SNH

    def _forward_backward_by_hand(self, x_ND: Tensor) -> dict[str, Tensor]:
        return self._dense_by_hand(x_ND)  # a batch's kept set has no fixed size per token

    @torch.no_grad()
    def observe(self, f_SNH: Tensor, smallest_S: Tensor | None = None) -> None:
        """Also move the inference threshold towards the smallest kept activation (``activate_`` gives it)."""
        super().observe(f_SNH)
        if smallest_S is None:
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
