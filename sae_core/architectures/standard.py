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

import math

import torch
from torch import Tensor, nn


class StandardSAE(nn.Module):
    key = "standard"
    label = "ReLU SAE (the article's)"
    saelens_architecture = "standard"  # sae-lens' StandardSAE: ReLU(x W_enc + b_enc)
    saelens_extra_tensors: tuple[str, ...] = ()  # [d_sae] tensors beyond W_enc, b_enc, W_dec, b_dec

    def __init__(self, d_in: int, hidden_dims: list[int], seeds: list[int], sparsity_weights: list[float],
                 dtype: torch.dtype = torch.float32, decoder_norm_penalty: bool = False):
        super().__init__()
        # Weigh each feature's sparsity cost by its decoder row's length (Anthropic, April 2024),
        # so a feature cannot dodge the penalty by shrinking f and growing its decoder row.
        self.decoder_norm_penalty = decoder_norm_penalty
        n_members = len(seeds)
        if not (len(hidden_dims) == len(sparsity_weights) == n_members):
            raise ValueError("hidden_dims, seeds and sparsity_weights need one entry per member")
        self.d_in = d_in
        self.hidden_dims = list(hidden_dims)
        self.seeds = list(seeds)
        width = max(hidden_dims)
        W_enc_SDH = torch.zeros(n_members, d_in, width, dtype=dtype)
        b_enc_SH = torch.zeros(n_members, width, dtype=dtype)
        W_dec_SHD = torch.zeros(n_members, width, d_in, dtype=dtype)
        b_dec_SD = torch.zeros(n_members, d_in, dtype=dtype)
        for s, (seed, hidden) in enumerate(zip(seeds, hidden_dims)):
            # Same draws, in the same order, as nn.Linear(d_in, hidden) then
            # nn.Linear(hidden, d_in) after torch.manual_seed(seed): U(-1/sqrt(fan_in), +).
            gen = torch.Generator().manual_seed(int(seed))
            enc_bound, dec_bound = 1 / math.sqrt(d_in), 1 / math.sqrt(hidden)
            W_enc_SDH[s, :, :hidden] = torch.empty(hidden, d_in).uniform_(-enc_bound, enc_bound, generator=gen).T
            b_enc_SH[s, :hidden] = torch.empty(hidden).uniform_(-enc_bound, enc_bound, generator=gen)
            W_dec_SHD[s, :hidden] = torch.empty(d_in, hidden).uniform_(-dec_bound, dec_bound, generator=gen).T
            b_dec_SD[s] = torch.empty(d_in).uniform_(-dec_bound, dec_bound, generator=gen)
        self.W_enc = nn.Parameter(W_enc_SDH)
        self.b_enc = nn.Parameter(b_enc_SH)
        self.W_dec = nn.Parameter(W_dec_SHD)
        self.b_dec = nn.Parameter(b_dec_SD)
        mask_SH = torch.zeros(n_members, width, dtype=dtype)
        for s, hidden in enumerate(hidden_dims):
            mask_SH[s, :hidden] = 1
        self.register_buffer("hidden_mask", mask_SH)
        self.register_buffer("sparsity_weight", torch.tensor(sparsity_weights, dtype=dtype))
        self.register_buffer("hidden_size", torch.tensor(hidden_dims, dtype=dtype))
        self.padded = any(h != width for h in hidden_dims)

    @property
    def n_members(self) -> int:
        return self.W_enc.shape[0]

    def encode(self, x_ND: Tensor) -> Tensor:
        """Feature activations f, shape (S, N, H)."""
        f_SNH = torch.matmul(x_ND, self.W_enc).add_(self.b_enc[:, None, :]).relu_()  # in place: no copies
        return f_SNH * self.hidden_mask[:, None, :] if self.padded else f_SNH

    def decode(self, f_SNH: Tensor) -> Tensor:
        """Reconstruction x_hat, shape (S, N, D)."""
        return torch.matmul(f_SNH, self.W_dec).add_(self.b_dec[:, None, :])

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
        """
        n, d = x_ND.shape
        f_SNH = self.encode(x_ND)
        err_SND = self.decode(f_SNH).sub_(x_ND)
        mse_S = err_SND.pow(2).mean(dim=(1, 2))
        scale_S11 = (self.sparsity_weight / (n * self.hidden_size))[:, None, None]
        d_xhat_SND = err_SND.mul_(2.0 / (n * d))
        if self.decoder_norm_penalty:
            norm_S1H = self.W_dec.norm(dim=2)[:, None, :]
            f_sum_S1H = f_SNH.sum(dim=1, keepdim=True)
            l1_S = (f_sum_S1H * norm_S1H).sum(dim=(1, 2)) / (n * self.hidden_size)
            l1_grad = scale_S11 * norm_S1H  # (S, 1, H)
        else:
            l1_S = f_SNH.sum(dim=(1, 2)) / (n * self.hidden_size)
            l1_grad = scale_S11
        d_f_SNH = torch.matmul(d_xhat_SND, self.W_dec.transpose(1, 2)).add_(l1_grad)
        d_pre_SNH = torch.ops.aten.threshold_backward(d_f_SNH, f_SNH, 0)  # ReLU's gradient, one pass
        del d_f_SNH
        self.W_dec.grad = torch.matmul(f_SNH.transpose(1, 2), d_xhat_SND)
        if self.decoder_norm_penalty:
            unit_SHD = self.W_dec / norm_S1H.transpose(1, 2).clamp_min(1e-12)
            self.W_dec.grad.add_(unit_SHD * (scale_S11 * f_sum_S1H).transpose(1, 2))
        self.b_dec.grad = d_xhat_SND.sum(dim=1)
        self.W_enc.grad = torch.matmul(x_ND.T, d_pre_SNH)
        self.b_enc.grad = d_pre_SNH.sum(dim=1)
        return {"mse": mse_S, "sparsity": self.sparsity_weight * l1_S}

    def decoder_directions(self) -> Tensor:
        """Each feature's decoder row (its direction in input space), shape (S, H, D)."""
        return self.W_dec.detach()

    @torch.no_grad()
    def member(self, s: int) -> "StandardSAE":
        """Member s alone, as a one-member model with its padding removed."""
        h = self.hidden_dims[s]
        one = StandardSAE(self.d_in, [h], [self.seeds[s]], [float(self.sparsity_weight[s])],
                          decoder_norm_penalty=self.decoder_norm_penalty)
        one.W_enc.copy_(self.W_enc[s : s + 1, :, :h])
        one.b_enc.copy_(self.b_enc[s : s + 1, :h])
        one.W_dec.copy_(self.W_dec[s : s + 1, :h])
        one.b_dec.copy_(self.b_dec[s : s + 1])
        return one

    # ---- SAELens format (sae_core/saelens_format.py reads and writes the files) ---------------

    def saelens_tensors(self) -> dict[str, Tensor]:
        """A one-member model's weights under SAELens' names and shapes."""
        if self.n_members != 1:
            raise ValueError("save one member at a time (model.member(s))")
        return {"W_enc": self.W_enc.detach()[0], "b_enc": self.b_enc.detach()[0],
                "W_dec": self.W_dec.detach()[0], "b_dec": self.b_dec.detach()[0]}

    def saelens_cfg(self) -> dict:
        """Extra cfg.json fields of this architecture (none for the standard SAE)."""
        return {}

    @classmethod
    @torch.no_grad()
    def from_saelens(cls, cfg: dict, tensors: dict[str, Tensor]) -> "StandardSAE":
        """A one-member model from checked SAELens tensors (b_dec already folded: apply_b_dec_to_input false)."""
        config = cfg["playground_config"]
        one = cls(cfg["d_in"], [cfg["d_sae"]], [config.seed], [config.sparsity_weight],
                  decoder_norm_penalty=config.decoder_norm_penalty)
        for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
            getattr(one, name).copy_(tensors[name][None])
        return one
