"""sae_core.metrics: every metric against a hand computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sae_core.architectures.standard import StandardSAE
from sae_core.metrics import Metrics, dead_mask, evaluate, explained_variance, feature_density, l0, mse

X = torch.tensor([[1.0, 2.0], [3.0, 0.0], [-1.0, 1.0]])  # N = 3, D = 2; column means 1, 1


def test_mse_by_hand():
    x_hat = torch.stack([X, X + 1.0, X + torch.tensor([[2.0, 0.0], [0.0, 0.0], [0.0, -1.0]])])
    # member 0 exact; member 1 all errors 1; member 2 errors 2 and -1 -> (4 + 1) / 6
    assert mse(X, x_hat).tolist() == pytest.approx([0.0, 1.0, 5 / 6])
    assert mse(X, x_hat).shape == (3,)


def test_explained_variance_by_hand():
    # total sum of squares about the column means: col 0 (0 + 4 + 4) + col 1 (1 + 1 + 0) = 10
    mean_only = X.mean(dim=0).expand_as(X)
    off = X.clone()
    off[0, 0] += 1.0
    off[2, 1] -= 2.0  # residual 1 + 4 = 5
    ev = explained_variance(X, torch.stack([X, mean_only, off, torch.zeros_like(X)]))
    # zeros: residual = sum x^2 = 1 + 4 + 9 + 0 + 1 + 1 = 16
    assert ev.tolist() == pytest.approx([1.0, 0.0, 1 - 5 / 10, 1 - 16 / 10])


def test_explained_variance_of_constant_data():
    x = torch.full((4, 3), 0.5)
    ev = explained_variance(x, torch.stack([x.clone(), x + 1e-3, torch.zeros_like(x)]))
    assert ev.tolist() == [1.0, 0.0, 0.0]
    assert ev.dtype == torch.float32 and torch.isfinite(ev).all()


def test_explained_variance_of_a_single_token():
    x = torch.tensor([[1.0, 2.0]])  # one row: no variance either
    assert explained_variance(x, x[None]).tolist() == [1.0]


F = torch.tensor([
    # member 0: 3 tokens x 3 features
    [[0.5, 0.0, 0.0], [0.2, 1.0, 0.0], [0.0, 0.0, 0.0]],
    # member 1
    [[1.0, 2.0, 3.0], [0.0, 0.0, 1e-6], [0.0, 4.0, 0.0]],
])


def test_l0_by_hand():
    # member 0: 1, 2, 0 features per token -> 1; member 1: 3, 1, 1 -> 5/3
    assert l0(F).tolist() == pytest.approx([1.0, 5 / 3])


def test_feature_density_by_hand():
    density = feature_density(F)
    assert density.shape == (2, 3)
    np.testing.assert_allclose(density.numpy(), [[2 / 3, 1 / 3, 0.0], [1 / 3, 2 / 3, 2 / 3]], rtol=1e-6)


def test_dead_mask_ignores_padding():
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    f = F.clone()
    f[1, :, 2] = 0  # padded feature of member 1: zero everywhere but not "dead"
    f[1, :, 0] = 0  # a real feature of member 1 that never fires: dead
    assert dead_mask(f, mask).tolist() == [[False, False, True], [True, False, False]]


def test_negative_values_do_not_count_as_firing():
    f = torch.tensor([[[-1.0, 0.0], [0.0, 2.0]]])
    assert l0(f).tolist() == [0.5]
    assert feature_density(f).tolist() == [[0.0, 0.5]]
    assert dead_mask(f, torch.ones(1, 2)).tolist() == [[True, False]]


def test_evaluate_by_hand():
    model = StandardSAE(2, [2, 3], [0, 1], sparsity_weight=[0.1, 0.1])
    with torch.no_grad():
        model.W_enc.zero_()
        model.b_enc.zero_()
        model.W_dec.zero_()
        model.b_dec.zero_()
        # member 0: feature 0 = relu(x0), feature 1 dead; decoder copies x0 back
        model.W_enc[0, 0, 0] = 1.0
        model.W_dec[0, 0, 0] = 1.0
        # member 1: f0 = relu(x0), f1 = relu(x1), f2 = relu(-x0); identity-like decoder
        model.W_enc[1, 0, 0] = 1.0
        model.W_enc[1, 1, 1] = 1.0
        model.W_enc[1, 0, 2] = -1.0
        model.W_dec[1, 0, 0] = 1.0
        model.W_dec[1, 1, 1] = 1.0
        model.W_dec[1, 2, 0] = -1.0
    m0, m1 = evaluate(model, X)
    assert isinstance(m0, Metrics)

    x = X.numpy()
    f0 = np.maximum(x[:, :1], 0)
    x_hat0 = np.concatenate([f0, np.zeros((3, 1))], axis=1)
    assert m0.mse == pytest.approx(np.mean((x_hat0 - x) ** 2))
    total = ((x - x.mean(axis=0)) ** 2).sum()
    assert m0.explained_variance == pytest.approx(1 - ((x_hat0 - x) ** 2).sum() / total)
    assert m0.l0 == pytest.approx(np.mean((f0 > 0).sum(axis=1)))
    assert m0.dead_features == 1 and m0.hidden_dim == 2

    # member 1 reconstructs x exactly: relu(a) - relu(-a) = a, and x1 >= 0 everywhere
    assert m1.mse == pytest.approx(0.0, abs=1e-12)
    assert m1.explained_variance == pytest.approx(1.0)
    f1 = np.stack([np.maximum(x[:, 0], 0), np.maximum(x[:, 1], 0), np.maximum(-x[:, 0], 0)], axis=1)
    assert m1.l0 == pytest.approx(np.mean((f1 > 0).sum(axis=1)))
    assert m1.dead_features == 0 and m1.hidden_dim == 3
    assert m1.to_dict() == {"mse": m1.mse, "explained_variance": m1.explained_variance, "l0": m1.l0,
                            "dead_features": 0, "hidden_dim": 3}
