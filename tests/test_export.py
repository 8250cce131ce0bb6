"""sae_core.export: feature activations as CSV (model files: see test_saelens_format.py)."""

from __future__ import annotations

import numpy as np

from sae_core.export import activations_csv


def test_feature_activations_csv():
    acts = np.array([[0.0, 1.5], [0.25, 0.0]], dtype=np.float32)
    assert activations_csv(acts, ["cat", "=cmd"]) == b"token,F0,F1\ncat,0,1.5\n'=cmd,0.25,0\n"
