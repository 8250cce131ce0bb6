"""The shared "recovered" rule, written out again for the tests (not sae_core's code), so that a
recovery test never computes its expected value with the function under test."""

from __future__ import annotations

import numpy as np


def recovered_independently(acts_NH, tokens: list[str], named) -> bool:
    """Some feature's tokens at >= 25% of its peak (peak > 1e-3) are exactly the named set."""
    for column in np.asarray(acts_NH).T:
        peak = column.max()
        if peak > 1e-3 and {t for t, a in zip(tokens, column) if a >= 0.25 * peak} == set(named):
            return True
    return False
