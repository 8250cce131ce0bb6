"""Feature activations as CSV (models are saved as SAELens folders: see saelens_format.py)."""

from __future__ import annotations


def activations_csv(feature_activations_NH, tokens: list[str]) -> bytes:
    """Feature activations as CSV: token, F0, F1, ... (safe to open in a spreadsheet)."""
    import pandas as pd
    from .table import table_to_csv
    frame = pd.DataFrame(feature_activations_NH, columns=[f"F{j}" for j in range(feature_activations_NH.shape[1])])
    frame.insert(0, "token", list(tokens))
    return table_to_csv(frame)
