"""Matryoshka BatchTopK SAE (Bussmann et al. 2025; Nabeshima 2024; SAELens ``matryoshka_batchtopk``).

A BatchTopK SAE (batchtopk.py) whose first features must also work on their own. With nested
prefix widths w_1 < w_2 < ... < w_L = H, the first w_l features (and the decoder bias) are a
smaller SAE of their own, and each such prefix's reconstruction error is added to the loss:

    f        = BatchTopK(x @ W_enc + b_enc)                    (the k x N largest of a batch)
    x_hat_l  = b_dec + f[:, :w_l] @ W_dec[:w_l]                (the first w_l features alone)
    loss     = mean((x_hat_L - x)^2) + sum_{l<L} mean((x_hat_l - x)^2) + auxk_weight * AuxK

The outer level (l = L, all H features) is BatchTopK's own reconstruction term ("mse"); the
inner levels' sum is "inner_mse". Early features are in every prefix, so they are pushed to
carry the broad, frequent directions, and later ones the refinements (less feature
absorption). As in SAELens 6.54.12, the features are chosen once by BatchTopK over all H
(no separate top-k per level), the inner errors are unweighted, and AuxK uses the full
reconstruction's residual (``use_matryoshka_aux_loss`` off).

The widths come from one option, ``matryoshka_levels`` L: H // 2^(L-1), ..., H // 4, H // 2, H
(halving, as the paper's dictionaries double), zeros and repeats dropped, so each member of a
batched run (a sweep over hidden sizes) gets widths from its own hidden size. A fraction-based
declaration rather than a list of widths, because a list would not survive a change of the
hidden size (the Sweep's widths, the hand-off's d_sae). ``saelens_training_cfg`` writes the
list as SAELens' ``matryoshka_widths`` for the hand-off (sae_core/handoff.py).

Inference, saving and loading are BatchTopK's: the learned threshold, saved to SAELens as
``jumprelu`` (what SAELens itself saves a trained Matryoshka BatchTopK SAE as).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..options import Option
from .base import relu_backward_
from .batchtopk import BatchTopKSAE

MATRYOSHKA_LEVELS = Option(
    "matryoshka_levels", int, 3, "Nested levels",
    "How many nested prefixes must each reconstruct on their own: the first H/2^(L-1), ..., H/2 features, "
    "then all H (fewer when the hidden size is too small to halve that often). 1 = plain BatchTopK.",
    low=1, high=6, noun="number of Matryoshka levels", step=1)


def matryoshka_widths(hidden: int, levels: int) -> list[int]:
    """The prefix widths, increasing, the last = ``hidden``: hidden // 2^(levels-1), ..., hidden // 2, hidden
    (zeros and repeats dropped). E.g. (8, 3) -> [2, 4, 8]; (3, 3) -> [1, 3]; (1, 3) -> [1]."""
    widths = [hidden >> j for j in range(levels - 1, -1, -1)]
    return sorted({w for w in widths if w > 0})


class MatryoshkaSAE(BatchTopKSAE):
    key = "matryoshka"
    label = "Matryoshka BatchTopK (nested prefixes)"
    summary = ("BatchTopK whose first features must also reconstruct on their own (the first half, "
               "quarter, ... of the dictionary each adds its error to the loss), so the broad concepts "
               "settle in the first features and later ones add detail.")
    options = (*BatchTopKSAE.options, MATRYOSHKA_LEVELS)
    loss_names = ("mse", "inner_mse", "auxk")
    step_copies = 3.0  # (S, batch, H + D) tensors alive in a step (measured 2.7; sae_core.memory)
    saelens_training_class = "MatryoshkaBatchTopKTrainingSAEConfig"  # SAELens' training config (handoff.py)

    @classmethod
    def saelens_training_cfg(cls, config, d_in: int) -> dict:
        """BatchTopK's fields (the same scale argument: SAELens' inner errors, like its outer one, are sums
        over dims, so its loss is d_in x ours) and the prefix widths for ``config.hidden_dim`` (the hand-off
        sets it to d_sae)."""
        return {**super().saelens_training_cfg(config, d_in),
                "matryoshka_widths": matryoshka_widths(config.hidden_dim, config.matryoshka_levels)}

    def __init__(self, d_in: int, hidden_dims: list[int], seeds: list[int], dtype: torch.dtype = torch.float32,
                 **options):
        super().__init__(d_in, hidden_dims, seeds, dtype, **options)
        levels = int(self.option_values["matryoshka_levels"])
        self.widths_S = [matryoshka_widths(h, levels) for h in self.hidden_dims]  # each member's own
        # Members with the same widths are computed together (one group when no member is padded).
        groups: dict[tuple[int, ...], list[int]] = {}
        for s, widths in enumerate(self.widths_S):
            groups.setdefault(tuple(widths), []).append(s)
        self._groups = [(members, list(widths)) for widths, members in groups.items()]

    def inner_mse(self, f_SNH: Tensor, x_ND: Tensor) -> Tensor:
        """Sum over the inner levels (all but the last) of the mean squared error of b_dec plus the first
        w features' decoded contribution, shape (S,); zero for a member with one level. Accumulated level
        by level, as SAELens' ``_iterable_decode``, so each feature is decoded once."""
        per_member: list[Tensor | None] = [None] * self.n_members
        for members, widths in self._groups:
            if len(members) == self.n_members:
                f_GNH, W_dec_GHD, b_dec_GD = f_SNH, self.W_dec, self.b_dec
            else:
                index = torch.tensor(members, device=f_SNH.device)
                f_GNH, W_dec_GHD, b_dec_GD = f_SNH[index], self.W_dec[index], self.b_dec[index]
            decoded_GND = b_dec_GD[:, None, :]
            total_G = f_SNH.new_zeros(len(members))
            start = 0
            for width in widths[:-1]:
                decoded_GND = decoded_GND + torch.matmul(f_GNH[:, :, start:width], W_dec_GHD[:, start:width])
                total_G = total_G + ((decoded_GND - x_ND) ** 2).mean(dim=(1, 2))
                start = width
            for g, s in enumerate(members):
                per_member[s] = total_G[g]
        return torch.stack(per_member)

    def terms(self, x_ND: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """BatchTopK's terms (the outer level's mse, AuxK) with the inner levels' errors between them."""
        terms, f_SNH = super().terms(x_ND)
        return {"mse": terms["mse"], "inner_mse": self.inner_mse(f_SNH, x_ND), "auxk": terms["auxk"]}, f_SNH

    def forward_backward(self, x_ND: Tensor) -> dict[str, Tensor]:
        """Losses and gradients: by hand when every member has the same widths and AuxK is idle (the same
        numbers as autograd, tests check it), else autograd over every term. Then BatchTopK's bookkeeping
        (steps since each feature fired, the inference threshold)."""
        if len(self._groups) == 1 and not (self.auxk_weight and self.dead().any()):
            return self._by_hand(x_ND)
        return self._by_autograd(x_ND)

    @torch.no_grad()
    def _by_hand(self, x_ND: Tensor) -> dict[str, Tensor]:
        """Level l's error e_l = x_hat_l - x gives d x_hat_l = 2 e_l / (N D). A feature in group g (between
        widths w_(g-1) and w_g) is in levels g..L, so its decoder row and activation see G_g = the sum of
        d x_hat_l over l >= g (a suffix sum); b_dec is in every level. As BatchTopK's by hand otherwise."""
        n, d = x_ND.shape
        widths = self._groups[0][1]  # one group: every member has these widths (so none is padded)
        bounds = list(zip([0, *widths[:-1]], widths))
        x1_ND1 = self.inputs_with_ones(x_ND)
        f_SNH, smallest_S = self.activate_(self.pre_activations_folded(x1_ND1))
        decoded_SND = self.b_dec[:, None, :]
        level_mse, d_levels = [], []
        for start, end in bounds:
            decoded_SND = decoded_SND + torch.matmul(f_SNH[:, :, start:end], self.W_dec[:, start:end])
            err_SND = decoded_SND - x_ND
            level_mse.append(err_SND.pow(2).mean(dim=(1, 2)))
            d_levels.append(err_SND.mul_(2.0 / (n * d)))
        W_dec_grad, d_f_SNH = torch.empty_like(self.W_dec), torch.empty_like(f_SNH)
        G_SND = torch.zeros_like(d_levels[-1])
        for (start, end), d_xhat_SND in zip(reversed(bounds), reversed(d_levels)):
            G_SND.add_(d_xhat_SND)
            # Each group's products written straight into its slice of the gradients (out=: no copy).
            torch.matmul(f_SNH[:, :, start:end].transpose(1, 2), G_SND, out=W_dec_grad[:, start:end])
            torch.matmul(G_SND, self.W_dec[:, start:end].transpose(1, 2), out=d_f_SNH[:, :, start:end])
        self.W_dec.grad = W_dec_grad
        self.b_dec.grad = G_SND.sum(dim=1)
        self.set_encoder_grads(x1_ND1, relu_backward_(d_f_SNH, f_SNH))
        self.observe(f_SNH, smallest_S)
        mse_S = level_mse[-1]
        inner_S = torch.stack(level_mse[:-1]).sum(dim=0) if len(level_mse) > 1 else torch.zeros_like(mse_S)
        return {"mse": mse_S, "inner_mse": inner_S, "auxk": torch.zeros_like(mse_S)}
