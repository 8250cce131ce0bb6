"""TopK SAE (Gao et al. 2024; SAELens ``topk``): each token keeps its k largest pre-activations.

    pre   = x @ W_enc + b_enc
    f     = ReLU(the k largest entries of pre, per token; the others 0)
    x_hat = f @ W_dec + b_dec
    loss  = mean((x_hat - x)^2) + auxk_weight * AuxK          (see auxk.py)

No sparsity penalty: k sets the sparsity directly, so activations are not shrunk.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from .. import limits
from ..errors import ConfigError
from ..options import Option
from .auxk import DEAD_AFTER_STEPS, auxk_loss
from .base import SAE, relu_backward_

# k: per member, so a sweep can vary it across one batched run (the TopK family's sparsity knob).
K = Option(
    "k", int, 4, "k (active features)",
    "How many features each token keeps (BatchTopK: on average over the batch). Sets the sparsity directly; "
    "no penalty shrinks the activations.",
    low=1, high=limits.MAX_HIDDEN, saelens="k", saelens_training="k", per_member=True, step=1,
    sweep_values=(1, 2, 4), sweep_choices=(1, 2, 3, 4, 6, 8, 12, 16, 32, 64))
AUXK_WEIGHT = Option(
    "auxk_weight", float, 1 / 32, "Dead-feature loss weight (AuxK, 0 = off)",
    "Features silent for a while try to reconstruct what the live ones miss, which gives them a gradient "
    "back to life.", low=0.0, high=limits.MAX_SPARSITY_WEIGHT, noun="AuxK weight",
    saelens_training="aux_loss_coefficient", advanced=True, step=0.01, format="%.4g")

# Decode sparsely (gathering the kept features' decoder rows) when k * SPARSE_BELOW <= features:
# measured on 2 cores, 1.7x faster at k = 5 of 1,024 and k = 8 of 1,536, slower at k = 32 of 1,536.
SPARSE_BELOW = 64
# One model on the CPU: sparse (CSR) products when k * CSR_BELOW <= features (at k = 32 of 1,536, a
# step costs about two dense products instead of five: benchmarks/bench_training.py).
CSR_BELOW = 8


class TopKSAE(SAE):
    key = "topk"
    label = "TopK (k features per token)"
    saelens_architecture = "topk"
    summary = ("Each token keeps only its k strongest features; no penalty, so the kept "
               "activations are not shrunk.")
    options = (K, AUXK_WEIGHT)
    knob = "k"
    loss_names = ("mse", "auxk")
    step_copies = 2.0  # (S, batch, H + D) tensors alive in a step (measured 1.6; sae_core.memory)
    # Without AuxK in the lab: at 2x width half the dictionary has no true feature left to find, reviving
    # it did not raise MMCS, and AuxK's extra top-k and matmul cost about a third of each step.
    lab_recipe = {"lr": 3e-3, "unit_norm_decoder": True, "tied_init": True, "auxk_weight": 0.0}
    saelens_training_class = "TopKTrainingSAEConfig"  # SAELens' training config (sae_core/handoff.py)

    @classmethod
    def saelens_training_cfg(cls, config, d_in: int) -> dict:
        """This architecture's fields of SAELens' training config, on SAELens' scale.

        k and the AuxK weight carry over unchanged: SAELens' reconstruction and AuxK errors are both sums
        over dims (ours: means), so with the same coefficient its loss is d_in x ours. Its top-k ranks
        pre-activations times ||W_dec_j|| unless ``rescale_acts_by_decoder_norm`` is off; ours ranks them
        as they are, so it is off. Exact (tests/test_handoff.py) when both count the same features dead
        (SAELens: silent for more than ``dead_feature_window`` steps, default 1,000; ours DEAD_AFTER_STEPS)
        and d_sae >= d_in // 2 (AuxK's k_aux is min(d_in // 2, d_sae) here, d_in // 2 there).
        """
        return {K.saelens_training: config.k, AUXK_WEIGHT.saelens_training: config.auxk_weight,
                "rescale_acts_by_decoder_norm": False}

    def __init__(self, d_in: int, hidden_dims: list[int], seeds: list[int], dtype: torch.dtype = torch.float32,
                 **options):
        super().__init__(d_in, hidden_dims, seeds, dtype, **options)
        self.k_S = [int(k) for k in self.option_values["k"]]  # each member's k
        self.k = max(self.k_S)  # what top-k keeps; members with a smaller k drop their extra ranks
        self.auxk_weight = float(self.option_values["auxk_weight"])
        # updates since each feature last fired: AuxK's notion of dead (not saved)
        self.register_buffer("steps_since_fired", torch.zeros(self.n_members, max(hidden_dims)))

    @classmethod
    def lab_settings(cls, active: float) -> dict:
        return {**cls.lab_recipe, "k": max(1, round(active))}  # k = the data's mean active count

    @classmethod
    def validate_settings(cls, config) -> None:
        if config.k > config.hidden_dim:
            raise ConfigError(f"k must be at most the hidden size ({config.hidden_dim}), got {config.k}")

    def kept_ranks(self, values_SNK: Tensor) -> Tensor:
        """The top-k values with ranks at or past each member's own k zeroed (a sweep over k)."""
        if len(set(self.k_S)) == 1:
            return values_SNK
        ranks_K = torch.arange(values_SNK.shape[2], device=values_SNK.device)
        return values_SNK * (ranks_K[None, :] < torch.tensor(self.k_S, device=values_SNK.device)[:, None])[:, None, :]

    def kept(self, pre_SNH: Tensor) -> tuple[Tensor, Tensor]:
        """The k largest pre-activations of each token, ReLU'd (ranks past a member's own k zeroed), and their
        feature indices, shape (S, N, k) each; padded features already at -inf."""
        values_SNK, index_SNK = pre_SNH.topk(min(self.k, pre_SNH.shape[2]), dim=2)
        return self.kept_ranks(values_SNK.relu()), index_SNK

    def activate(self, pre_SNH: Tensor) -> Tensor:
        """Keep the k largest pre-activations of each token (padded features never), ReLU them."""
        if self.padded:
            pre_SNH = pre_SNH.masked_fill(self.hidden_mask[:, None, :] == 0, float("-inf"))
        values_SNK, index_SNK = self.kept(pre_SNH)
        return torch.zeros_like(pre_SNH).scatter(2, index_SNK, values_SNK)

    @torch.no_grad()
    def activate_(self, pre_SNH: Tensor) -> tuple[Tensor, Tensor | None]:
        """``activate``'s numbers written over ``pre_SNH`` (no new N x H tensor; the steps by hand), and what
        ``observe`` needs besides them (BatchTopK: the smallest kept activation; here nothing)."""
        if self.padded:
            pre_SNH.masked_fill_(self.hidden_mask[:, None, :] == 0, float("-inf"))
        values_SNK, index_SNK = self.kept(pre_SNH)
        return pre_SNH.zero_().scatter_(2, index_SNK, values_SNK), None

    def encode(self, x_ND: Tensor) -> Tensor:
        pre_SNH = self.pre_activations(x_ND)
        if pre_SNH.requires_grad:
            return self.activate(pre_SNH)
        return self.activate_(pre_SNH)[0]  # no gradient wanted: the same numbers over pre (one N x H tensor)

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

        By hand (the same numbers as autograd, tests check it), dense, or sparse when k is
        small against the width (``SPARSE_BELOW``).
        """
        if self.auxk_weight and self.dead().any():
            return self._by_autograd(x_ND)
        return self._forward_backward_by_hand(x_ND)

    def _by_autograd(self, x_ND: Tensor) -> dict[str, Tensor]:
        """Autograd over every term of ``terms``, then the bookkeeping (``observe``)."""
        for p in self.parameters():
            p.grad = None
        with torch.enable_grad():
            terms, f_SNH = self.terms(x_ND)
            sum(terms.values()).sum().backward()
        self.observe(f_SNH.detach())
        return {name: value.detach() for name, value in terms.items()}

    def _forward_backward_by_hand(self, x_ND: Tensor) -> dict[str, Tensor]:
        width = self.W_enc.shape[2]
        if self.n_members == 1 and x_ND.device.type == "cpu" and self.k * CSR_BELOW <= width:
            return self._csr_by_hand(x_ND)
        if self.k * SPARSE_BELOW > width:
            return self._dense_by_hand(x_ND)
        return self._sparse_by_hand(x_ND)

    @torch.no_grad()
    def _csr_by_hand(self, x_ND: Tensor) -> dict[str, Tensor]:
        """One model: the same numbers with the kept activations as a sparse (CSR) matrix F, so that only
        the encoder's product and top-k are dense. x_hat = F W_dec + b_dec; d F = (d x_hat W_dec^T) sampled
        at F's entries (one sampled product), d W_dec = F^T d x_hat, [d W_enc; d b_enc] = [x, 1]^T d pre
        with d pre sparse: three sparse products of N k D instead of three dense ones of N H D."""
        n, d = x_ND.shape
        x1_ND1 = self.inputs_with_ones(x_ND)
        pre_NH = self.pre_activations_folded(x1_ND1)[0]
        acts_NK, index_NK = self.kept(pre_NH[None])
        index_NK, order_NK = index_NK[0].sort(dim=1)  # CSR wants each row's columns in order
        acts_NK = acts_NK[0].gather(1, order_NK)
        n_kept, width = acts_NK.shape[1], pre_NH.shape[1]
        rows = torch.arange(0, n * n_kept + 1, n_kept, device=x_ND.device)
        with warnings.catch_warnings():  # "CSR support is in beta": these products are tested against autograd
            warnings.simplefilter("ignore", UserWarning)
            F = torch.sparse_csr_tensor(rows, index_NK.reshape(-1), acts_NK.reshape(-1), (n, width))
        W_dec_HD = self.W_dec[0]
        err_ND = torch.matmul(F, W_dec_HD).add_(self.b_dec[0]).sub_(x_ND)
        mse_S = err_ND.pow(2).mean()[None]
        d_xhat_ND = err_ND.mul_(2.0 / (n * d))
        d_acts = torch.sparse.sampled_addmm(F, d_xhat_ND, W_dec_HD.T, beta=0.0).values()
        d_acts.mul_(acts_NK.reshape(-1) > 0)  # ReLU's gradient
        d_pre_T = torch.sparse_csr_tensor(rows, index_NK.reshape(-1), d_acts, (n, width)).t().to_sparse_csr()
        self.W_dec.grad = torch.matmul(F.t().to_sparse_csr(), d_xhat_ND)[None]
        self.b_dec.grad = d_xhat_ND.sum(dim=0)[None]
        grad_HD1 = torch.matmul(d_pre_T, x1_ND1)  # (d pre)^T [x, 1]
        self.W_enc.grad, self.b_enc.grad = grad_HD1[:, :-1].T[None].contiguous(), grad_HD1[:, -1][None]
        fired_H = torch.zeros(width, device=x_ND.device).index_add_(0, index_NK.reshape(-1),
                                                                     (acts_NK > 0).reshape(-1).float()) > 0
        self.count_since_fired(fired_H[None])
        return {"mse": mse_S, "auxk": torch.zeros_like(mse_S)}

    @torch.no_grad()
    def _dense_by_hand(self, x_ND: Tensor) -> dict[str, Tensor]:
        """d x_hat = 2 (x_hat - x) / (N D); d pre = d x_hat W_dec^T where a feature was kept and positive.
        As StandardSAE's: b_enc and its gradient ride in the products, the selection and ReLU's gradient
        are written in place."""
        n, d = x_ND.shape
        x1_ND1 = self.inputs_with_ones(x_ND)
        f_SNH, seen = self.activate_(self.pre_activations_folded(x1_ND1))
        err_SND = self.decode(f_SNH).sub_(x_ND)
        mse_S = err_SND.pow(2).mean(dim=(1, 2))
        d_xhat_SND = err_SND.mul_(2.0 / (n * d))
        d_pre_SNH = relu_backward_(torch.matmul(d_xhat_SND, self.W_dec.transpose(1, 2)), f_SNH)
        self.W_dec.grad = torch.matmul(f_SNH.transpose(1, 2), d_xhat_SND)
        self.b_dec.grad = d_xhat_SND.sum(dim=1)
        self.set_encoder_grads(x1_ND1, d_pre_SNH)
        self.observe(f_SNH, seen)
        return {"mse": mse_S, "auxk": torch.zeros_like(mse_S)}

    @torch.no_grad()
    def _sparse_by_hand(self, x_ND: Tensor) -> dict[str, Tensor]:
        """The same numbers, decoding only the k kept features of each token: the decoder's products
        cost N k D instead of N H D (the encoder's stay dense: top-k needs every pre-activation)."""
        n, d = x_ND.shape
        x1_ND1 = self.inputs_with_ones(x_ND)
        pre_SNH = self.pre_activations_folded(x1_ND1)
        if self.padded:
            pre_SNH.masked_fill_(self.hidden_mask[:, None, :] == 0, float("-inf"))
        acts_SNK, index_SNK = self.kept(pre_SNH)
        members_S11 = torch.arange(self.n_members, device=x_ND.device)[:, None, None]
        rows_SNKD = self.W_dec[members_S11, index_SNK]  # the kept features' decoder rows
        err_SND = torch.matmul(acts_SNK[:, :, None, :], rows_SNKD).squeeze(2).add_(self.b_dec[:, None, :]).sub_(x_ND)
        mse_S = err_SND.pow(2).mean(dim=(1, 2))
        d_xhat_SND = err_SND.mul_(2.0 / (n * d))
        d_acts_SNK = torch.matmul(rows_SNKD, d_xhat_SND[..., None]).squeeze(3).mul_(acts_SNK > 0)
        width = pre_SNH.shape[2]
        flat_index = (index_SNK + members_S11 * width).flatten()
        W_dec_grad = torch.zeros_like(self.W_dec).view(-1, d)
        W_dec_grad.index_add_(0, flat_index, (acts_SNK[..., None] * d_xhat_SND[:, :, None, :]).reshape(-1, d))
        self.W_dec.grad = W_dec_grad.view_as(self.W_dec)
        self.b_dec.grad = d_xhat_SND.sum(dim=1)
        self.set_encoder_grads(x1_ND1, pre_SNH.zero_().scatter_(2, index_SNK, d_acts_SNK))  # d pre, over pre
        fired_SH = torch.zeros(self.n_members, width, device=x_ND.device).scatter_add_(
            1, index_SNK.flatten(1), (acts_SNK > 0).flatten(1).to(torch.float32)) > 0
        self.count_since_fired(fired_SH)
        return {"mse": mse_S, "auxk": torch.zeros_like(mse_S)}

    @torch.no_grad()
    def observe(self, f_SNH: Tensor, seen: Tensor | None = None) -> None:
        """After a training forward pass: count updates since each feature fired (f >= 0: fired = max > 0).
        ``seen``: what ``activate_`` returned besides f (BatchTopK's smallest kept activation)."""
        self.count_since_fired(f_SNH.amax(dim=1) > 0)

    @torch.no_grad()
    def count_since_fired(self, fired_SH: Tensor) -> None:
        self.steps_since_fired.add_(1).masked_fill_(fired_SH, 0)
