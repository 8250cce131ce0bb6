"""Feature absorption against the true parent directions (the hierarchical generator's data).

``sae_core.absorption`` measures absorption on a table with named concepts; here the truth is
known, so it is measured on held-out samples against each parent's true direction:

- p*, the parent's latent: the learned feature whose decoder row has the highest cosine with the
  parent's true direction (ties: the lowest index);
- "fires": activation > 0 (what L0 counts). Not the 25%-of-peak rule of ``absorption.py``:
  magnitudes here are U[0, 1], so a perfect SAE would "miss" every sample where the parent is
  weaker than a quarter of its peak;
- absorption: the share of samples with the parent *and* one of its children on where p* does
  not fire (a child's latent took over the parent's part); beside it the control, the share of
  samples with the parent on and no child where p* does not fire (should be about 0);
- child lean: for each child, the cosine of its own latent's decoder (the highest cosine with the
  child's true direction) with the parent's true direction, averaged over the children. A child
  latent that absorbed the parent points partly along it: the signature of absorption.

A parent with no sample of a kind gets NaN there; means over parents skip NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ABSORPTION_COLUMNS = ("absorption", "missed_alone", "child_lean")


def parent_absorption(activations_NH, codes_NF, cos_FH, children_of: dict[int, list[int]]) -> pd.DataFrame:
    """One row per parent: parent, latent (p*), cosine (p*'s with the parent), absorption, missed_alone,
    child_lean, with_child and alone (how many samples each share counts).

    activations_NH: the learned features on held-out samples (or whether each fires); codes_NF: the true
    features' magnitudes on the same samples (0 = off; or whether each is on); cos_FH: cosine of true
    feature i with learned decoder row j.
    """
    fires_NH = np.asarray(activations_NH) > 0
    on_NF = np.asarray(codes_NF) > 0
    cos_FH = np.asarray(cos_FH)
    rows = []
    for parent, children in children_of.items():
        latent = int(cos_FH[parent].argmax())
        child_on_N = on_NF[:, children].any(axis=1)
        with_child_N, alone_N = on_NF[:, parent] & child_on_N, on_NF[:, parent] & ~child_on_N
        silent_N = ~fires_NH[:, latent]
        rows.append({"parent": parent, "latent": latent, "cosine": float(cos_FH[parent, latent]),
                     "absorption": _share(silent_N, with_child_N), "missed_alone": _share(silent_N, alone_N),
                     "child_lean": float(np.mean([cos_FH[parent, cos_FH[c].argmax()] for c in children])),
                     "with_child": int(with_child_N.sum()), "alone": int(alone_N.sum())})
    return pd.DataFrame(rows, columns=["parent", "latent", "cosine", *ABSORPTION_COLUMNS, "with_child", "alone"])


def _share(silent_N: np.ndarray, where_N: np.ndarray) -> float:
    return float(silent_N[where_N].mean()) if where_N.any() else float("nan")


def mean_absorption(table: pd.DataFrame) -> dict[str, float]:
    """absorption, missed_alone and child_lean averaged over the parents (NaN rows skipped)."""
    return {name: float(np.nanmean(table[name])) if table[name].notna().any() else float("nan")
            for name in ABSORPTION_COLUMNS}
