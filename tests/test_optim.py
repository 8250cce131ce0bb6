"""The hand-written Adam gives torch.optim.Adam's numbers, bit for bit, and resets what it is told."""

from __future__ import annotations

import pytest
import torch

from sae_core.optim import Adam


@pytest.mark.parametrize("lr, dtype", [(0.01, torch.float32), (0.003, torch.float32), (1e-3, torch.float64)])
def test_adam_equals_torch_adam_bit_for_bit(lr, dtype):
    gen = torch.Generator().manual_seed(0)
    ours = {"a": torch.randn(3, 4, 5, generator=gen, dtype=dtype), "b": torch.randn(7, generator=gen, dtype=dtype)}
    theirs = {name: torch.nn.Parameter(t.clone()) for name, t in ours.items()}
    ours = {name: torch.nn.Parameter(t) for name, t in ours.items()}
    adam, reference = Adam(ours, lr=lr), torch.optim.Adam(list(theirs.values()), lr=lr)
    for _ in range(50):
        for name in ours:
            grad = torch.randn(ours[name].shape, generator=gen, dtype=dtype) * 0.1
            ours[name].grad, theirs[name].grad = grad.clone(), grad.clone()
        adam.step()
        reference.step()
        for name in ours:
            assert torch.equal(ours[name], theirs[name]), name
    for name, param in theirs.items():
        assert torch.equal(adam.exp_avg[name], reference.state[param]["exp_avg"])
        assert torch.equal(adam.exp_avg_sq[name], reference.state[param]["exp_avg_sq"])


def test_reset_zeroes_only_the_masked_moments():
    param = torch.nn.Parameter(torch.ones(2, 3))
    adam = Adam({"w": param}, lr=0.1)
    param.grad = torch.ones(2, 3)
    adam.step()
    mask = torch.tensor([[True, False, False], [False, False, True]])
    adam.reset({"w": mask})
    assert (adam.exp_avg["w"][mask] == 0).all() and (adam.exp_avg_sq["w"][mask] == 0).all()
    assert (adam.exp_avg["w"][~mask] != 0).all() and (adam.exp_avg_sq["w"][~mask] != 0).all()
