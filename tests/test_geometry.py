"""sae_core.geometry: the PCA plane, concept and feature arrows, the superposition sentence."""

from __future__ import annotations

import numpy as np
import pytest

from sae_core.features import ReferenceFeature
from sae_core.geometry import (concept_direction, feature_arrows, pca_axes, superposition_sentence,
                               table_geometry)

# Four tokens on two orthogonal axes (a 3-D table whose third dimension is constant).
X = np.array([[2.0, 0.0, 1.0], [-2.0, 0.0, 1.0], [0.0, 1.0, 1.0], [0.0, -1.0, 1.0]])
TOKENS = ["east", "west", "north", "south"]


def test_pca_axes_find_the_spread_directions_with_a_fixed_sign():
    mean, axes, explained = pca_axes(X)
    np.testing.assert_allclose(mean, [0, 0, 1])
    np.testing.assert_allclose(axes, [[1, 0, 0], [0, 1, 0]], atol=1e-12)  # wider spread first, signs positive
    assert explained == pytest.approx(1.0)
    _, axes_flipped, _ = pca_axes(-X)
    np.testing.assert_allclose(axes_flipped, axes, atol=1e-12)  # same picture whatever the SVD's sign


def test_explained_variance_is_the_share_the_two_axes_keep():
    x = np.array([[3.0, 0, 0], [-3, 0, 0], [0, 2, 0], [0, -2, 0], [0, 0, 1], [0, 0, -1]])
    _, _, explained = pca_axes(x)
    assert explained == pytest.approx((18 + 8) / (18 + 8 + 2))


def test_a_one_dimensional_table_gets_a_zero_second_axis():
    _, axes, explained = pca_axes(np.array([[1.0], [3.0]]))
    np.testing.assert_allclose(axes, [[1.0], [0.0]])
    assert explained == pytest.approx(1.0)


def test_table_geometry_points_and_concept_arrows():
    refs = [ReferenceFeature("east side", frozenset({"east"})), ReferenceFeature("ghost", frozenset({"nobody"})),
            ReferenceFeature("vertical", frozenset({"north", "south"}))]
    g = table_geometry(X, TOKENS, refs)
    np.testing.assert_allclose(g.points[["x", "y"]].to_numpy(), [[2, 0], [-2, 0], [0, 1], [0, -1]], atol=1e-12)
    assert g.points["token"].tolist() == TOKENS and g.n_dims == 3
    assert g.arrows["name"].tolist() == ["east side", "vertical"]  # a concept with no token in the table has no arrow
    np.testing.assert_allclose(g.arrows[["x0", "y0", "x", "y"]].to_numpy(), [[0, 0, 2, 0], [0, 0, 0, 0]], atol=1e-12)
    assert g.bias is None


def test_concept_direction_is_its_mean_minus_the_mean_token():
    d = concept_direction(X, TOKENS, ReferenceFeature("ne", frozenset({"east", "north"})))
    np.testing.assert_allclose(d, [1.0, 0.5, 0.0])
    assert concept_direction(X, TOKENS, ReferenceFeature("none", frozenset({"x"}))) is None


def test_feature_arrows_are_peak_activation_times_decoder_row_for_live_features():
    acts = np.array([[0.5, 0.0, 0.0], [2.0, 0.0, 1.0]])
    W = np.array([[1.0, 0.0, 0.0], [5.0, 5.0, 5.0], [0.0, -1.0, 0.0]])
    arrows = feature_arrows(acts, W)
    assert list(arrows) == [0, 2]  # F1 is dead
    np.testing.assert_allclose(arrows[0], [2, 0, 0])
    np.testing.assert_allclose(arrows[2], [0, -1, 0])
    g = table_geometry(X, TOKENS, [], np.vstack([acts, acts]), W)
    assert g.arrows["kind"].tolist() == ["feature", "feature"] and g.arrows["name"].tolist() == ["F0", "F2"]
    np.testing.assert_allclose(g.arrows[["x", "y"]].to_numpy(), [[2, 0], [0, -1]], atol=1e-12)
    # given the decoder bias, feature arrows start there (the mean token X's mean is (0, 0, 1))
    g = table_geometry(X, TOKENS, [], np.vstack([acts, acts]), W, decoder_bias_D=np.array([0.5, 0.25, 1.0]))
    assert g.bias == pytest.approx((0.5, 0.25))
    np.testing.assert_allclose(g.arrows[["x0", "y0", "x", "y"]].to_numpy(), [[0.5, 0.25, 2.5, 0.25], [0.5, 0.25, 0.5, -0.75]])


def test_superposition_sentence_for_the_two_examples():
    founding = superposition_sentence(3, 4)
    assert founding.startswith("3 named concepts in 4 dimensions") and "**not superposition**" in founding
    colours = superposition_sentence(5, 3)
    assert colours.startswith("5 named concepts in 3 dimensions") and "**is superposition**" in colours
    assert "**not superposition**" in superposition_sentence(1, 1)
    assert superposition_sentence(0, 4).startswith("No named concepts yet")
