"""The contract every SAE architecture keeps, and what they share.

An architecture is a subclass of :class:`SAE` in its own file, batched over a leading
member dimension S (seeds or grid points trained together). It brings:

- ``encode(x_ND) -> f_SNH`` and ``decode(f_SNH) -> x_hat_SND`` (decode is linear by default),
- ``losses(x_ND) -> dict[str, Tensor]``: named loss terms, each of shape (S,), whose sum is
  what training minimises; ``loss_names`` lists them in order ("mse" first),
- ``options``: its own settings, declared once (``sae_core.options.Option``: name, type,
  default, range, label, help, SAELens fields); ``knob``: the one a sweep varies across
  members (the sparsity weight, or k),
- the tensors to save (``HIDDEN_AXIS``: name -> which axis indexes features),
- hooks the trainer calls instead of editing tensors itself: ``normalise_decoder``,
  ``scale_decoder``, ``tie_encoder_to_decoder``, ``set_decoder_bias``, ``after_update``,
  ``restart_features``,
- the SAELens conversion: ``saelens_architecture``, ``saelens_tensors``, ``saelens_cfg``,
  ``from_saelens``.

``forward_backward`` defaults to autograd over ``losses``, so a new architecture trains as
soon as its losses are written; StandardSAE overrides it with hand-written gradients.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..options import Option


def with_ones(a: Tensor) -> Tensor:
    """``a`` with a last column of ones: the next matrix product then adds a bias row too."""
    return torch.cat([a, a.new_ones(*a.shape[:-1], 1)], dim=-1)


def relu_backward_(d_f: Tensor, f: Tensor) -> Tensor:
    """ReLU's gradient in place: ``d_f`` zeroed where ``f`` <= 0 (one pass, no new tensor); returns ``d_f``."""
    return torch.ops.aten.threshold_backward.grad_input(d_f, f, 0, grad_input=d_f)


class SAE(nn.Module):
    key: ClassVar[str] = ""
    label: ClassVar[str] = ""
    summary: ClassVar[str] = ""  # one sentence for a learner: how it picks the active features
    saelens_architecture: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()  # its own settings, passed to the constructor by name
    knob: ClassVar[str] = ""  # the per-member option a sweep varies: its sparsity knob
    loss_names: ClassVar[tuple[str, ...]] = ("mse",)  # "mse" first; the others are penalties
    # What it trains with in the ground-truth lab (streamed synthetic data; see ``lab_settings``),
    # chosen by measurement on 256 dims / 512 true features / 5 active (benchmarks/bench_synth.py).
    lab_recipe: ClassVar[dict[str, Any]] = {"lr": 3e-3}
    # Saved tensors (leading member axis S) and the axis that indexes features (None: no feature axis).
    HIDDEN_AXIS: ClassVar[dict[str, int | None]] = {"W_enc": 2, "b_enc": 1, "W_dec": 1, "b_dec": None}
    # (S, batch, H + D) float32 tensors alive at once in one training step, autograd's saved tensors
    # included (sae_core.memory). The default covers every architecture registered so far (measured as the
    # peak resident memory over three steps at 2,900 x 64 -> 4,096 features: ReLU 2.4, TopK 1.6, BatchTopK
    # 2.7, JumpReLU 3.3 (5.2 before its step by hand), Matryoshka 2.7); each declares its own.
    step_copies: ClassVar[float] = 5.5

    def __init__(self, d_in: int, hidden_dims: list[int], seeds: list[int], dtype: torch.dtype = torch.float32,
                 **options):
        """``options``: values of this architecture's options (missing ones take their defaults); a
        per-member option takes one value per member, or one value for all."""
        super().__init__()
        n_members = len(seeds)
        if len(hidden_dims) != n_members:
            raise ValueError("hidden_dims and seeds need one entry per member")
        self.option_values = self.option_values_for(n_members, options)
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
        self.register_buffer("hidden_size", torch.tensor(hidden_dims, dtype=dtype))
        self.padded = any(h != width for h in hidden_dims)

    @classmethod
    def option_values_for(cls, n_members: int, given: dict[str, Any]) -> dict[str, Any]:
        """Every option's value (defaults filled in), a list of one per member for per-member options."""
        declared = {o.name: o for o in cls.options}
        unknown = set(given) - set(declared)
        if unknown:
            raise TypeError(f"{cls.__name__} has no option(s) {', '.join(sorted(unknown))}")
        values = {}
        for name, option in declared.items():
            value = given.get(name, option.default)
            if option.per_member:
                value = list(value) if isinstance(value, (list, tuple)) else [value] * n_members
                if len(value) != n_members:
                    raise ValueError(f"{name} needs one value per member ({n_members}), got {len(value)}")
            values[name] = value
        return values

    def member_tensor(self, name: str) -> Tensor:
        """A per-member option's values as a tensor of shape (S,), in the parameters' dtype."""
        return torch.tensor(self.option_values[name], dtype=self.W_enc.dtype)

    @property
    def n_members(self) -> int:
        return self.W_enc.shape[0]

    # ---- the model ------------------------------------------------------------------------

    def pre_activations(self, x_ND: Tensor) -> Tensor:
        """x W_enc + b_enc, shape (S, N, H)."""
        return torch.matmul(x_ND, self.W_enc) + self.b_enc[:, None, :]

    # The hand-written training steps fold each bias into its matrix product ([x, 1] @ [W_enc; b_enc]) and
    # take the bias gradient from the weight gradient's product ([x, 1]^T d pre): no pass over N x H of its
    # own for either (benchmarks/bench_training.py).

    def inputs_with_ones(self, x_ND: Tensor) -> Tensor:
        """``with_ones(x)``, kept while the same unchanged x comes back (a full-batch run's every step)."""
        kept = self.__dict__.get("_inputs_with_ones")
        if kept is None or kept[0] is not x_ND or kept[1] != x_ND._version:
            kept = self.__dict__["_inputs_with_ones"] = (x_ND, x_ND._version, with_ones(x_ND))
        return kept[2]

    def pre_activations_folded(self, x1_ND1: Tensor) -> Tensor:
        """x W_enc + b_enc as one product, from ``inputs_with_ones(x)``; shape (S, N, H), a fresh tensor."""
        return torch.matmul(x1_ND1, torch.cat([self.W_enc, self.b_enc[:, None, :]], dim=1))

    def set_encoder_grads(self, x1_ND1: Tensor, d_pre_SNH: Tensor) -> None:
        """W_enc's and b_enc's gradients from d pre, as one product: [x, 1]^T d pre = [d W_enc; d b_enc]."""
        grad_SD1H = torch.matmul(x1_ND1.T, d_pre_SNH)
        self.W_enc.grad, self.b_enc.grad = grad_SD1H[:, :-1], grad_SD1H[:, -1]

    def encode(self, x_ND: Tensor) -> Tensor:
        """Feature activations f, shape (S, N, H); zero at padded features."""
        raise NotImplementedError

    def decode(self, f_SNH: Tensor) -> Tensor:
        """Reconstruction x_hat, shape (S, N, D)."""
        return torch.matmul(f_SNH, self.W_dec).add_(self.b_dec[:, None, :])

    def losses(self, x_ND: Tensor) -> dict[str, Tensor]:
        """Named loss terms (``loss_names``), each shape (S,), differentiable; their sum is trained."""
        raise NotImplementedError

    def forward_backward(self, x_ND: Tensor) -> dict[str, Tensor]:
        """Losses as in :meth:`losses` (detached), and their gradient in each parameter's ``.grad``."""
        for p in self.parameters():
            p.grad = None
        with torch.enable_grad():
            terms = self.losses(x_ND)
            sum(terms.values()).sum().backward()
        return {name: value.detach() for name, value in terms.items()}

    # ---- hooks the trainer calls (it never edits the tensors itself) ----------------------

    @torch.no_grad()
    def normalise_decoder(self) -> None:
        """Rescale every decoder row to length 1."""
        self.W_dec.div_(self.W_dec.norm(dim=2, keepdim=True).clamp_min(1e-8))

    @torch.no_grad()
    def scale_decoder(self, length: float) -> None:
        """Every decoder row to ``length``."""
        self.normalise_decoder()
        self.W_dec.mul_(length)

    @torch.no_grad()
    def tie_encoder_to_decoder(self) -> None:
        self.W_enc.copy_(self.W_dec.transpose(1, 2))

    @torch.no_grad()
    def set_decoder_bias(self, b_dec_D: Tensor) -> None:
        self.b_dec.copy_(b_dec_D.expand_as(self.b_dec))

    def after_update(self) -> None:
        """Called after every optimiser step: keep parameters in their valid range (default: nothing)."""

    @torch.no_grad()
    def restart_features(self, dead_SH: Tensor, x_ND: Tensor) -> dict[str, Tensor]:
        """Re-initialise the dead features; return, per parameter name, a mask of the entries reset.

        A dead feature gets the direction of the worst-reconstructed token (its residual,
        normalised) as decoder row, a scaled copy as encoder column and a zero encoder bias:
        the "resampling" remedy of Anthropic's Towards Monosemanticity, deterministic for a
        given seed. The trainer resets the optimiser state of the masked entries.
        """
        masks = {name: torch.zeros_like(p, dtype=torch.bool) for name, p in self.named_parameters()}
        residual_SND = x_ND - self.decode(self.encode(x_ND))
        worst_SN = (residual_SND ** 2).sum(dim=2)
        for s, h in dead_SH.nonzero().tolist():
            n = int(torch.argmax(worst_SN[s]))
            direction_D = residual_SND[s, n]
            direction_D = direction_D / direction_D.norm().clamp_min(1e-8)
            self.W_dec[s, h] = direction_D
            self.W_enc[s, :, h] = direction_D * 0.2
            self.b_enc[s, h] = 0
            worst_SN[s, n] = 0  # give the next dead feature another token
            masks["W_dec"][s, h] = True
            masks["W_enc"][s, :, h] = True
            masks["b_enc"][s, h] = True
        return masks

    @torch.no_grad()
    def decoder_directions(self, s: int = 0) -> Tensor:
        """Member s's decoder rows (each feature's direction in activation space), padding removed, (H, D),
        on the CPU (a copy only when the model is on another device)."""
        return self.W_dec[s, : self.hidden_dims[s]].detach().cpu()

    # ---- saving, one member ---------------------------------------------------------------

    @classmethod
    def settings(cls) -> tuple[str, ...]:
        """The names of this architecture's options (the Train page shows only these)."""
        return tuple(o.name for o in cls.options)

    @classmethod
    def history_columns(cls) -> list[str]:
        """The loss history's columns: epoch, total, reconstruction (the "mse" term), then the penalties."""
        return ["epoch", "total", "reconstruction", *cls.loss_names[1:]]

    @classmethod
    def lab_settings(cls, active: float) -> dict[str, Any]:
        """Its settings in the ground-truth lab, on data with ``active`` true features per sample on average."""
        return dict(cls.lab_recipe)

    @classmethod
    def validate_settings(cls, config) -> None:
        """Raise ConfigError if this architecture cannot use ``config`` (e.g. k above the hidden size)."""

    def saved_tensors(self) -> dict[str, Tensor]:
        """The tensors that define the model (leading member axis), by name."""
        return {name: getattr(self, name).detach() for name in self.HIDDEN_AXIS}

    def member_options(self, s: int) -> dict[str, Any]:
        """Member s's option values (per-member options as plain values)."""
        per_member = {o.name for o in self.options if o.per_member}
        return {name: value[s] if name in per_member else value for name, value in self.option_values.items()}

    @torch.no_grad()
    def member(self, s: int) -> "SAE":
        """Member s alone, as a one-member model with its padding removed."""
        h = self.hidden_dims[s]
        one = type(self)(self.d_in, [h], [self.seeds[s]], dtype=self.W_enc.dtype, **self.member_options(s))
        for name, axis in self.HIDDEN_AXIS.items():
            tensor = getattr(self, name)[s : s + 1]
            if axis is not None:
                tensor = tensor.narrow(axis, 0, h)
            getattr(one, name).copy_(tensor)
        return one

    # ---- SAELens (one-member models) ------------------------------------------------------

    def saelens_tensors(self) -> dict[str, Tensor]:
        """SAELens names and shapes: W_enc [d_in, d_sae], b_enc [d_sae], W_dec [d_sae, d_in], b_dec [d_in]."""
        if self.n_members != 1:
            raise ValueError("only a one-member model converts to SAELens (use member(s))")
        return {name: getattr(self, name).detach()[0].contiguous() for name in ("W_enc", "b_enc", "W_dec", "b_dec")}

    def saelens_cfg(self) -> dict:
        """Extra cfg.json fields: each option that declares its SAELens field (e.g. ``{"k": 16}``)."""
        return {o.saelens: self.member_options(0)[o.name] for o in self.options if o.saelens}

    @classmethod
    def options_from_saelens(cls, cfg: dict) -> dict:
        """This architecture's options from a SAELens cfg.json (inverse of :meth:`saelens_cfg`)."""
        return {o.name: o.kind(cfg[o.saelens]) for o in cls.options if o.saelens and o.saelens in cfg}

    @classmethod
    def from_saelens(cls, cfg: dict, tensors: dict[str, Tensor], options: dict[str, Any] | None = None) -> "SAE":
        """A one-member model from SAELens cfg and tensors; ``options`` (the playground's own saved
        settings, where the file has them) over what cfg.json says."""
        d_in, d_sae = tensors["W_enc"].shape
        model = cls(int(d_in), [int(d_sae)], [0], **{**cls.options_from_saelens(cfg), **(options or {})})
        model.load_saelens_tensors(tensors)
        return model

    @torch.no_grad()
    def load_saelens_tensors(self, tensors: dict[str, Tensor]) -> None:
        for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
            getattr(self, name).copy_(tensors[name].to(self.W_enc.dtype)[None])
