"""AuxK, the TopK family's auxiliary loss that revives dead features (Gao et al. 2024).

Features that have not fired for ``DEAD_AFTER_STEPS`` updates are "dead". The k_aux of
them with the largest pre-activations on each token try to reconstruct what the model
missed, e = x - x_hat (held fixed); their error is the loss, so the dead features get a
gradient towards directions the live ones do not explain. As in SAELens
(``TopKTrainingSAE.calculate_topk_aux_loss``): k_aux = d_in // 2, pre-activations are used
as they are, no decoder bias, and the loss is scaled by min(dead / k_aux, 1). Unlike
SAELens the squared error is a mean over dims as well as tokens, like our "mse" term.
"""

from __future__ import annotations

import torch
from torch import Tensor

DEAD_AFTER_STEPS = 100  # a feature that fired on no token in this many updates counts as dead


def auxk_loss(residual_SND: Tensor, pre_SNH: Tensor, dead_SH: Tensor, W_dec_SHD: Tensor) -> Tensor:
    """Per-member AuxK loss, shape (S,); zero for a member with no dead feature."""
    n_dead_S = dead_SH.sum(dim=1).to(pre_SNH.dtype)
    k_aux = min(max(1, residual_SND.shape[2] // 2), pre_SNH.shape[2])
    if not dead_SH.any():
        return pre_SNH.new_zeros(pre_SNH.shape[0])
    candidates_SNH = pre_SNH.masked_fill(~dead_SH[:, None, :], float("-inf"))
    values_SNK, index_SNK = candidates_SNH.topk(k_aux, dim=2)
    values_SNK = torch.where(torch.isinf(values_SNK), torch.zeros_like(values_SNK), values_SNK)  # fewer dead than k_aux
    acts_SNH = torch.zeros_like(pre_SNH).scatter(2, index_SNK, values_SNK)
    error_S = ((torch.matmul(acts_SNH, W_dec_SHD) - residual_SND) ** 2).mean(dim=(1, 2))
    return (n_dead_S / k_aux).clamp(max=1.0) * error_S
