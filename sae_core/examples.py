"""The bundled example tables in ``data/`` (each ``NAME.csv``, optionally ``NAME.features.json``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .features import ReferenceFeature, load_references
from .table import read_table, tokens_of

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEFAULT_EXAMPLE = "seed_tokens"


def example_names() -> list[str]:
    """Bundled example names, the founding table first."""
    names = sorted(p.stem for p in DATA_DIR.glob("*.csv"))
    return sorted(names, key=lambda n: n != DEFAULT_EXAMPLE)


def load_example(name: str) -> pd.DataFrame:
    if name not in example_names():  # names come from a menu; never build paths from input
        raise KeyError(f"unknown example '{name}'")
    return read_table(DATA_DIR / f"{name}.csv")


def example_references(name: str, table: pd.DataFrame | None = None) -> list[ReferenceFeature]:
    if name not in example_names():
        return []
    return load_references(DATA_DIR / f"{name}.csv", tokens_of(table) if table is not None else None)
