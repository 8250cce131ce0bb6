"""The table's geometry: tokens as points in a 2-D projection, concepts and features as arrows.

Superposition means *more concepts than dimensions*: then concept directions cannot all be
at right angles, and no dimension means one thing. This module projects the table onto its
two principal components (PCA, centred on the mean token) so a class can see the points,
the named concepts' directions (mean of a concept's tokens minus the mean token) and the
learned decoder directions (what a feature adds at its peak activation). Concept arrows start
at the mean token (the origin); feature arrows start at the decoder bias, the point every
reconstruction is built from, so bias + a feature's arrow lands where that feature alone
would put a token. The projection keeps ``explained`` of the table's variance; the
rest is out of the picture, and the page says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .features import ReferenceFeature


@dataclass
class Geometry:
    points: pd.DataFrame  # token, x, y
    arrows: pd.DataFrame  # kind ("concept" or "feature"), name, x0, y0 (start), x, y (tip)
    explained: float  # fraction of the table's variance the two axes keep
    n_dims: int
    bias: tuple[float, float] | None = None  # the decoder bias in the plane (where feature arrows start)


def pca_axes(x_ND: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(mean (D,), axes (2, D), fraction of variance the two axes keep).

    A table with one dimension (or one token) gets a zero second axis, so the plot is a line.
    Each axis is signed so that its largest entry is positive: the same table always gives
    the same picture.
    """
    x_ND = np.asarray(x_ND, dtype=np.float64)
    mean_D = x_ND.mean(axis=0)
    centred = x_ND - mean_D
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    axes = np.zeros((2, x_ND.shape[1]))
    k = min(2, vt.shape[0])
    axes[:k] = vt[:k]
    for i in range(k):
        if axes[i, np.argmax(np.abs(axes[i]))] < 0:
            axes[i] = -axes[i]
    total = float((s ** 2).sum())
    explained = float((s[:k] ** 2).sum() / total) if total > 0 else 1.0
    return mean_D, axes, explained


def concept_direction(x_ND: np.ndarray, tokens: list[str], reference: ReferenceFeature) -> np.ndarray | None:
    """Mean of the concept's tokens minus the mean token (D,), or None if none of them is in the table."""
    rows = [i for i, t in enumerate(tokens) if t in reference.tokens]
    if not rows:
        return None
    x_ND = np.asarray(x_ND, dtype=np.float64)
    return x_ND[rows].mean(axis=0) - x_ND.mean(axis=0)


def feature_arrows(feature_activations_NH: np.ndarray, decoder_directions_HD: np.ndarray) -> dict[int, np.ndarray]:
    """Live feature j -> what it adds to a token at its peak: max activation times decoder row (D,)."""
    acts = np.asarray(feature_activations_NH, dtype=np.float64)
    W = np.asarray(decoder_directions_HD, dtype=np.float64)
    peaks = acts.max(axis=0) if acts.size else np.zeros(W.shape[0])
    return {j: peaks[j] * W[j] for j in range(W.shape[0]) if peaks[j] > 0}


def table_geometry(x_ND: np.ndarray, tokens: list[str], references: list[ReferenceFeature] = (),
                   feature_activations_NH: np.ndarray | None = None,
                   decoder_directions_HD: np.ndarray | None = None,
                   decoder_bias_D: np.ndarray | None = None) -> Geometry:
    """Points, concept arrows and (given a model of this table) feature arrows in the PCA plane.

    Feature arrows start at the decoder bias when it is given, else at the mean token.
    """
    x_ND = np.asarray(x_ND, dtype=np.float64)
    mean_D, axes, explained = pca_axes(x_ND)
    xy = (x_ND - mean_D) @ axes.T
    points = pd.DataFrame({"token": list(tokens), "x": xy[:, 0], "y": xy[:, 1]})
    rows = []
    for ref in references:
        direction = concept_direction(x_ND, tokens, ref)
        if direction is not None:
            tip = axes @ direction
            rows.append({"kind": "concept", "name": ref.name, "x0": 0.0, "y0": 0.0, "x": tip[0], "y": tip[1]})
    bias = None
    if feature_activations_NH is not None and decoder_directions_HD is not None:
        start = np.zeros(2)
        if decoder_bias_D is not None:
            start = axes @ (np.asarray(decoder_bias_D, dtype=np.float64) - mean_D)
            bias = (float(start[0]), float(start[1]))
        for j, vector in feature_arrows(feature_activations_NH, decoder_directions_HD).items():
            tip = start + axes @ vector
            rows.append({"kind": "feature", "name": f"F{j}", "x0": start[0], "y0": start[1], "x": tip[0], "y": tip[1]})
    arrows = pd.DataFrame(rows, columns=["kind", "name", "x0", "y0", "x", "y"])
    return Geometry(points, arrows, explained, x_ND.shape[1], bias)


def superposition_sentence(n_concepts: int, n_dims: int) -> str:
    """One sentence: does this table hold more concepts than dimensions (superposition)?"""
    concepts = f"{n_concepts} named concept{'s' if n_concepts != 1 else ''}"
    dims = f"{n_dims} dimension{'s' if n_dims != 1 else ''}"
    if n_concepts == 0:
        return (f"No named concepts yet, so whether this {dims} table is in superposition cannot be said: "
                "name the concepts you expect below.")
    if n_concepts > n_dims:
        return (f"{concepts} in {dims}: more concepts than dimensions, so this **is superposition**: "
                "the concept directions cannot all be at right angles, and no dimension means one thing.")
    return (f"{concepts} in {dims}: no more concepts than dimensions, so this is **not superposition**: "
            "each concept could have a dimension of its own; the table mixes them, but an SAE is not needed "
            "to make room for them.")
