"""The bundled example tables in ``data/``: each ``NAME.csv``, optionally ``NAME.features.json``
(its named concepts) and ``NAME.settings.json`` (the training settings it was measured with,
what they are for, and what the example teaches)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import ConfigError
from .features import ReferenceFeature, load_references
from .training import TrainConfig
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


@dataclass(frozen=True)
class ExampleSettings:
    config: TrainConfig  # the recommended settings (its seed is not part of the recommendation)
    why: str  # what was measured, in one or two sentences
    teaches: str  # what the example is for, shown under the example menu


def example_settings(name: str) -> ExampleSettings | None:
    """The settings shipped in ``data/NAME.settings.json`` (None when the example has none).

    The file is ``{"settings": {TrainConfig fields}, "why": "...", "teaches": "..."}``; fields it
    leaves out keep ``TrainConfig()``'s values.
    """
    if name not in example_names():
        return None
    path = DATA_DIR / f"{name}.settings.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ExampleSettings(TrainConfig.from_dict(data["settings"]).validate(), str(data["why"]),
                               str(data["teaches"]))
    except (ValueError, KeyError, TypeError) as error:  # ConfigError is a ValueError
        raise ConfigError(f"{path.name}: not a valid settings file ({error})") from None
