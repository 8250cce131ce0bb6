"""Adam, written out: the same numbers as ``torch.optim.Adam`` without importing it.

Building ``torch.optim.Adam`` imports ``torch._dynamo`` (about 1.25 s on 2 cores), which
was a third of a 20-seed ``python -m sae_core stability`` run. This is the arithmetic of
torch's single-tensor CPU path (``torch.optim.adam._single_tensor_adam``, no weight decay,
no amsgrad), op for op, so results are bit-identical (tests/test_optim.py checks that).
All parameters step together, so one step counter serves them all.
"""

from __future__ import annotations

import torch
from torch import Tensor


class Adam:
    def __init__(self, params: dict[str, Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        self.params = dict(params)
        self.lr, self.betas, self.eps = lr, betas, eps
        self.steps = 0
        self.exp_avg = {name: torch.zeros_like(p) for name, p in self.params.items()}
        self.exp_avg_sq = {name: torch.zeros_like(p) for name, p in self.params.items()}

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter from its ``.grad``."""
        beta1, beta2 = self.betas
        self.steps += 1
        step = float(self.steps)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        step_size = self.lr / bias_correction1
        bias_correction2_sqrt = bias_correction2 ** 0.5
        for name, param in self.params.items():
            grad = param.grad
            exp_avg, exp_avg_sq = self.exp_avg[name], self.exp_avg_sq[name]
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
            param.addcdiv_(exp_avg, denom, value=-step_size)

    @torch.no_grad()
    def reset(self, masks: dict[str, Tensor]) -> None:
        """Forget the moments of the masked entries (restarted features start afresh)."""
        for name, mask in masks.items():
            self.exp_avg[name][mask] = 0
            self.exp_avg_sq[name][mask] = 0
