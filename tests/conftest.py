"""Engine fixtures shared by the unit tests (browser fixtures live in tests/browser/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sae_core.table import read_table, tokens_of, values_of

ROOT = Path(__file__).resolve().parents[1]

SEED_CSV = ROOT / "data" / "seed_tokens.csv"


@pytest.fixture(scope="session")
def seed_csv() -> Path:
    """The founding 8 tokens x 4 dimensions table on disk."""
    return SEED_CSV


@pytest.fixture
def seed_table():
    """The founding table as a validated DataFrame (a fresh copy per test)."""
    return read_table(SEED_CSV)


@pytest.fixture
def seed_x(seed_table) -> np.ndarray:
    """The founding table's activations, float32, 8 x 4."""
    return values_of(seed_table).copy()  # writable (pandas hands out read-only views)


@pytest.fixture
def seed_tokens(seed_table) -> list[str]:
    return tokens_of(seed_table)
