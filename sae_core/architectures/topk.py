"""TopK SAE (Gao et al. 2024; SAELens ``topk``): each token keeps its k largest pre-activations.

    pre   = x @ W_enc + b_enc
    f     = ReLU(the k largest entries of pre, per token; the others 0)
    x_hat = f @ W_dec + b_dec
    loss  = mean((x_hat - x)^2) + auxk_weight * AuxK          (see auxk.py)

No sparsity penalty: k sets the sparsity directly, so activations are not shrunk.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ConfigError
from .auxk import DEAD_AFTER_STEPS, auxk_loss
from .base import SAE


class TopKSAE(SAE):
    key = "topk"
    label = "TopK (k features per token)"
    saelens_architecture = "topk"
    summary = ("Each token keeps only its k strongest features; no penalty, so the kept "
               "activations are not shrunk.")
    options = ("k", "auxk_weight")
    loss_names = ("mse", "auxk")

    def __init__(self, d_in: int, hidden_dims: list[int], seeds: list[int], sparsity_weights: list[float],
                 dtype: torch.dtype = torch.float32, k: int = 4, auxk_weight: float = 1 / 32):
        super().__init__(d_in, hidden_dims, seeds, sparsity_weights, dtype, k=k, auxk_weight=auxk_weight)
        self.k, self.auxk_weight = int(k), float(auxk_weight)
        # updates since each feature last fired: AuxK's notion of dead (not saved)
        self.register_buffer("steps_since_fired", torch.zeros(self.n_members, max(hidden_dims)))

    @classmethod
    def validate_settings(cls, config) -> None:
        if config.k > config.hidden_dim:
            raise ConfigError(f"k must be at most the hidden size ({config.hidden_dim}), got {config.k}")

    def activate(self, pre_SNH: Tensor) -> Tensor:
        """Keep the k largest pre-activations of each token (padded features never), ReLU them."""
        if self.padded:
            pre_SNH = pre_SNH.masked_fill(self.hidden_mask[:, None, :] == 0, float("-inf"))
        values_SNK, index_SNK = pre_SNH.topk(min(self.k, pre_SNH.shape[2]), dim=2)
        return torch.zeros_like(pre_SNH).scatter(2, index_SNK, values_SNK.relu())

    def encode(self, x_ND: Tensor) -> Tensor:
        return self.activate(self.pre_activations(x_ND))

    def dead(self) -> Tensor:
        """Features that have not fired for DEAD_AFTER_STEPS updates, shape (S, H)."""
        return (self.steps_since_fired >= DEAD_AFTER_STEPS) & (self.hidden_mask > 0)

    def terms(self, x_ND: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """The loss terms and the feature activations they came from."""
        pre_SNH = self.pre_activations(x_ND)
        f_SNH = self.activate(pre_SNH)
        x_hat_SND = self.decode(f_SNH)
        mse_S = ((x_hat_SND - x_ND) ** 2).mean(dim=(1, 2))
        if self.auxk_weight:
            auxk_S = self.auxk_weight * auxk_loss((x_ND - x_hat_SND).detach(), pre_SNH, self.dead(), self.W_dec)
        else:
            auxk_S = torch.zeros_like(mse_S)
        return {"mse": mse_S, "auxk": auxk_S}, f_SNH

    def losses(self, x_ND: Tensor) -> dict[str, Tensor]:
        return self.terms(x_ND)[0]

    def forward_backward(self, x_ND: Tensor) -> dict[str, Tensor]:
        """Losses and gradients: by hand while AuxK is idle, by autograd while it has dead features.

        By hand (the same numbers as autograd, tests check it): d x_hat = 2 (x_hat - x) / (N D);
        d pre = d x_hat W_dec^T where a feature was kept and positive, else 0.
        """
        if self.auxk_weight and self.dead().any():
            for p in self.parameters():
                p.grad = None
            with torch.enable_grad():
                terms, f_SNH = self.terms(x_ND)
                sum(terms.values()).sum().backward()
            self.observe(f_SNH.detach())
            return {name: value.detach() for name, value in terms.items()}
        return self._forward_backward_by_hand(x_ND)

    @torch.no_grad()
    def _forward_backward_by_hand(self, x_ND: Tensor) -> dict[str, Tensor]:
        n, d = x_ND.shape
        f_SNH = self.activate(torch.matmul(x_ND, self.W_enc).add_(self.b_enc[:, None, :]))
        err_SND = self.decode(f_SNH).sub_(x_ND)
        mse_S = err_SND.pow(2).mean(dim=(1, 2))
        d_xhat_SND = err_SND.mul_(2.0 / (n * d))
        d_pre_SNH = torch.ops.aten.threshold_backward(torch.matmul(d_xhat_SND, self.W_dec.transpose(1, 2)), f_SNH, 0)
        self.W_dec.grad = torch.matmul(f_SNH.transpose(1, 2), d_xhat_SND)
        self.b_dec.grad = d_xhat_SND.sum(dim=1)
        self.W_enc.grad = torch.matmul(x_ND.T, d_pre_SNH)
        self.b_enc.grad = d_pre_SNH.sum(dim=1)
        self.observe(f_SNH)
        return {"mse": mse_S, "auxk": torch.zeros_like(mse_S)}

    @torch.no_grad()
    def observe(self, f_SNH: Tensor) -> None:
        """After a training forward pass: count updates since each feature fired."""
        fired_SH = (f_SNH > 0).any(dim=1)
        self.steps_since_fired.add_(1).masked_fill_(fired_SH, 0)

    def saelens_cfg(self) -> dict:
        return {"k": self.k}

    @classmethod
    def options_from_saelens(cls, cfg: dict) -> dict:
        return {"k": int(cfg["k"])}
