"""Ground-truth metrics (MMCS, Hungarian, labels, chance level) on constructed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sae_core.architectures.standard import StandardSAE
from sae_core.ground_truth.recovery import (chance_level, cosine_matrix, dead_fraction, feature_labels, hungarian_cosine,
                              hungarian_matching, mmcs, recovery_metrics)

TRUE = torch.eye(4, 6)  # four true features: the first four axes of 6 dims


def scores(true_FD, learned_HD):
    cos = cosine_matrix(true_FD, learned_HD)
    return mmcs(cos), hungarian_cosine(cos)


def test_identity_scores_one_and_every_feature_is_recovered():
    assert scores(TRUE, TRUE) == pytest.approx((1.0, 1.0))
    assert feature_labels(cosine_matrix(TRUE, TRUE)) == ["recovered"] * 4


def test_scale_sign_and_permutation():
    perm = torch.tensor([2, 0, 3, 1])
    learned = TRUE[perm] * torch.tensor([[3.0], [0.1], [7.0], [1.0]])  # lengths do not matter
    assert scores(TRUE, learned) == pytest.approx((1.0, 1.0))
    rows, cols = hungarian_matching(cosine_matrix(TRUE, learned))
    assert rows.tolist() == [0, 1, 2, 3] and cols.tolist() == [1, 3, 0, 2]
    # a flipped direction is no match: each true feature's best is an orthogonal row (cos 0)
    assert scores(TRUE, -TRUE) == pytest.approx((0.0, 0.0))


def test_extra_learned_features_do_not_lower_the_scores():
    learned = torch.cat([TRUE, torch.eye(6)[4:], torch.randn(5, 6)])
    assert scores(TRUE, learned) == pytest.approx((1.0, 1.0))


def test_one_learned_direction_for_two_true_features_counts_once_under_hungarian():
    # learned: e0, e1, e2 and (e2 + e3)/sqrt2 duplicated: true 3 has no exact twin
    both = (TRUE[2] + TRUE[3]) / math.sqrt(2)
    learned = torch.stack([TRUE[0], TRUE[1], both, both])
    m, h = scores(TRUE, learned)
    assert m == pytest.approx((1 + 1 + 2 / math.sqrt(2)) / 4)
    assert h == pytest.approx((1 + 1 + 2 / math.sqrt(2)) / 4)
    # MMCS lets several true features share one learned direction; Hungarian does not
    m, h = scores(TRUE, torch.stack([both, TRUE[0], TRUE[1]]))
    assert m == pytest.approx((1 + 1 + 2 / math.sqrt(2)) / 4)
    assert h == pytest.approx((1 + 1 + 1 / math.sqrt(2) + 0) / 4)  # only 3 learned: true 3 unmatched


def test_a_known_split_and_a_known_merge():
    e = torch.eye(6)
    learned = torch.stack([
        e[0],                                 # true 0 recovered
        (e[1] + e[4]) / math.sqrt(2),         # true 1 split in two halves ...
        (e[1] - e[4]) / math.sqrt(2),         # ... each at cos 0.71, none at 0.9
        (e[2] + e[3]) / math.sqrt(2),         # true 2 and true 3 merged into one direction
    ])
    assert feature_labels(cosine_matrix(TRUE, learned)) == ["recovered", "split", "merged", "merged"]
    # drop the merged direction: 2 and 3 are missed
    assert feature_labels(cosine_matrix(TRUE, learned[:3])) == ["recovered", "split", "missed", "missed"]


def test_a_weakly_aligned_direction_is_missed_not_recovered():
    learned = torch.stack([TRUE[0] * 0.8 + torch.eye(6)[5] * 0.6])  # cos 0.8 with true 0
    assert feature_labels(cosine_matrix(TRUE[:1], learned)) == ["missed"]


def test_chance_level_is_low_in_many_dims_and_high_in_two():
    gen = torch.Generator().manual_seed(0)
    true_FD = torch.nn.functional.normalize(torch.randn(64, 128, generator=gen), dim=1)
    chance = chance_level(true_FD, 128, seed=1)
    assert 0.1 < chance.mmcs < 0.45 and chance.hungarian < chance.mmcs
    assert math.isnan(chance.explained_variance) and math.isnan(chance.l0)
    pentagon = torch.tensor([[math.cos(a), math.sin(a)] for a in np.linspace(0, 2 * math.pi, 5, endpoint=False)])
    assert chance_level(pentagon, 10, seed=1).mmcs > 0.9  # in 2 dims any direction is near a true one


def test_dead_fraction_ignores_padding():
    f = torch.zeros(2, 3, 4)
    f[0, 0, 0] = 1.0
    f[1, :, 1] = 2.0
    mask = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]])
    assert dead_fraction(f, mask).tolist() == [0.75, 0.5]


def test_recovery_metrics_of_a_model_whose_decoder_is_the_truth():
    model = StandardSAE(6, [4, 8], [0, 1], sparsity_weight=[0.0, 0.0])
    with torch.no_grad():
        model.W_dec.zero_()
        model.W_dec[0, :4] = TRUE * 2.0
        model.W_dec[1, :4] = TRUE[[3, 2, 1, 0]]
        model.W_enc.zero_()
        model.W_enc[0, :, :4] = TRUE.T * 0.5
        model.b_enc.zero_()
        model.b_dec.zero_()
    x = torch.rand(50, 4) @ TRUE
    first, second = recovery_metrics(model, TRUE, x)
    assert (first.mmcs, first.hungarian, first.explained_variance) == pytest.approx((1.0, 1.0, 1.0))
    assert first.l0 == pytest.approx(float((x[:, :4] > 0).sum(dim=1).float().mean()))
    assert first.dead_fraction == 0.0
    assert (second.mmcs, second.hungarian) == pytest.approx((1.0, 1.0))
    assert second.dead_fraction == 1.0  # member 1 kept W_enc = 0, b_enc = 0: nothing fires
