"""The bundled example tables in ``data/``: each ``NAME.csv``, optionally ``NAME.features.json``
(its named concepts) and ``NAME.settings.json`` (the training settings it was measured with,
what they are for, and what the example teaches)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .errors import ConfigError
from .features import ReferenceFeature, load_references
from .training import RECOMMENDED, SHARED_NAMES, TrainConfig
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
    # architecture -> the settings its recipe changes (the file's "architectures"); see ``recipe``
    architectures: dict[str, dict] = field(default_factory=dict)
    architectures_why: str = ""  # how the per-architecture recipes were chosen and how they did

    def recipe(self, architecture: str) -> TrainConfig:
        """What ``architecture`` trains with on this example: the shared settings of ``config``, the
        architecture's own options at their declared defaults (``config``'s own values when it is
        ``config``'s architecture), then what the file's ``"architectures"`` entry for it sets."""
        return architecture_recipe(architecture, self.config, self.architectures.get(architecture, {}))


def architecture_recipe(architecture: str, base: TrainConfig = RECOMMENDED, changes: dict | None = None) -> TrainConfig:
    """``base``'s shared settings for ``architecture`` (its options: ``base``'s when ``base`` is that
    architecture, else their declared defaults), then ``changes`` (setting name -> value)."""
    kept = base.to_dict() if base.architecture == architecture else \
        {name: value for name, value in base.to_dict().items() if name in SHARED_NAMES}
    return TrainConfig.from_dict({**kept, **(changes or {}), "architecture": architecture}).validate()


def architecture_recipes(settings: "ExampleSettings | None") -> dict[str, TrainConfig]:
    """Every registered architecture's recipe: an example's (``settings``), or RECOMMENDED's shared
    settings with each architecture's defaults (a table with no settings file)."""
    from .architectures import ARCHITECTURES
    if settings is None:
        return {key: architecture_recipe(key) for key in ARCHITECTURES}
    return {key: settings.recipe(key) for key in ARCHITECTURES}


def example_settings(name: str) -> ExampleSettings | None:
    """The settings shipped in ``data/NAME.settings.json`` (None when the example has none).

    The file is ``{"settings": {TrainConfig fields}, "why": "...", "teaches": "..."}``; fields it
    leaves out keep ``TrainConfig()``'s values.
    """
    if name not in example_names():
        return None
    return read_settings(DATA_DIR / f"{name}.settings.json")


def settings_beside(table_path) -> ExampleSettings | None:
    """The settings file next to a CSV table (``NAME.csv`` -> ``NAME.settings.json``), or None."""
    return read_settings(Path(table_path).with_suffix(".settings.json"))


def read_settings(path: Path) -> ExampleSettings | None:
    """A settings file (None when there is none). Besides ``settings``, ``why`` and ``teaches`` it may
    hold ``"architectures": {"topk": {"k": 2, ...}, ...}``: per architecture, the settings its recipe
    changes (``ExampleSettings.recipe``), and ``"architectures_why"`` (how they were measured)."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        settings = ExampleSettings(TrainConfig.from_dict(data["settings"]).validate(), str(data["why"]),
                                   str(data["teaches"]), {str(k): dict(v) for k, v in
                                                          data.get("architectures", {}).items()},
                                   str(data.get("architectures_why", "")))
        from .architectures import ARCHITECTURES
        for key in settings.architectures:
            if key in ARCHITECTURES:  # one not registered here is not trained, so not checked
                settings.recipe(key)  # every recipe is checked when the file is read
        return settings
    except (ValueError, KeyError, TypeError, AttributeError) as error:  # ConfigError is a ValueError
        raise ConfigError(f"{path.name}: not a valid settings file ({error})") from None
