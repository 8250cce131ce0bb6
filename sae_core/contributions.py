"""Features as building blocks: a token's reconstruction is the decoder bias plus, for each
active feature, its activation times its decoder row.

``token_contributions`` splits one token's reconstruction into those parts and rebuilds it
with some features turned off or scaled (``scales``), so a class can watch the
reconstruction change. It asks the model only through ``encode``/``decode`` (the
architecture contract): the bias is ``decode(0)`` and feature j's unit part is
``decode(e_j) - decode(0)``, which holds for every SAE whose decoder is linear.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch


@dataclass
class TokenContributions:
    token: str
    x: np.ndarray  # (D,) the token's activation vector
    bias: np.ndarray  # (D,) what the decoder outputs with every feature off
    activations: np.ndarray  # (H,) the token's feature activations
    parts: dict[int, np.ndarray]  # active feature j -> scale_j * activation_j * decoder row j (D,)
    scales: dict[int, float]  # the scale used for each active feature (1.0 = as learned, 0.0 = off)
    reconstruction: np.ndarray  # (D,) bias + sum of the parts (the edited reconstruction)
    original: np.ndarray  # (D,) the model's own reconstruction, nothing edited

    @property
    def active(self) -> list[int]:
        return list(self.parts)

    @property
    def error(self) -> float:
        """Mean squared error of the (edited) reconstruction against the token's vector."""
        return float(np.mean((self.reconstruction - self.x) ** 2))

    @property
    def original_error(self) -> float:
        return float(np.mean((self.original - self.x) ** 2))


@torch.no_grad()
def decoder_bias(model, d_in: int) -> np.ndarray:
    """What the decoder outputs with every feature off, (D,): ``decode(0)``."""
    hidden = model.encode(torch.zeros(1, d_in)).shape[-1]
    return model.decode(torch.zeros(1, 1, hidden))[0, 0].double().numpy()


@torch.no_grad()
def token_contributions(model, x_D, token: str = "", scales: dict[int, float] | None = None) -> TokenContributions:
    """One token's reconstruction as bias + one part per active feature, with optional edits.

    ``scales`` maps a feature index to a factor for its part (0 turns it off, 2 doubles it);
    features not named keep factor 1. Only features active on this token have parts.
    """
    x = torch.tensor(np.array(x_D, dtype=np.float32)).reshape(1, -1)
    f_H = model.encode(x)[0, 0]
    hidden = f_H.shape[0]
    bias_D = model.decode(torch.zeros(1, 1, hidden))[0, 0]
    active = [j for j in range(hidden) if float(f_H[j]) > 0]
    unit_AH = torch.zeros(len(active), hidden)
    for row, j in enumerate(active):
        unit_AH[row, j] = 1.0
    rows_AD = model.decode(unit_AH[None])[0] - bias_D if active else torch.zeros(0, x.shape[1])
    scales = dict(scales or {})
    used = {j: float(scales.get(j, 1.0)) for j in active}
    parts = {j: (used[j] * float(f_H[j]) * rows_AD[row]).double().numpy() for row, j in enumerate(active)}
    bias = bias_D.double().numpy()
    reconstruction = bias + (np.sum(list(parts.values()), axis=0) if parts else 0.0)
    original = model.decode(f_H[None, None])[0, 0].double().numpy()
    return TokenContributions(token, x[0].double().numpy(), bias, f_H.double().numpy(), parts, used,
                              np.asarray(reconstruction, dtype=np.float64), original)


def contributions_long(tc: TokenContributions, dims: list[str]) -> pd.DataFrame:
    """Rows of part, order, dimension, value, input: the token, the bias, each part (its activation in
    brackets, then the edit), the reconstruction ("rebuilt"). Titles are short: one panel is 125 px wide."""
    panels = [(tc.token or "token", "input", tc.x), ("bias", "bias", tc.bias)]
    for j, part in tc.parts.items():
        scale = tc.scales[j]
        edit = "" if scale == 1.0 else (", off" if scale == 0 else f" × {scale:g}")
        panels.append((f"+ F{j} ({tc.activations[j]:.2f}){edit}", f"F{j}", part))
    panels.append(("= rebuilt", "reconstruction", tc.reconstruction))
    rows = [{"part": title, "kind": kind, "order": k, "dimension": d, "value": float(values[i]), "input": float(tc.x[i])}
            for k, (title, kind, values) in enumerate(panels) for i, d in enumerate(dims)]
    return pd.DataFrame(rows)
