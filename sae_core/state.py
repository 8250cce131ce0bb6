"""The app's user-chosen settings as one typed object (TensorFlow Playground's habit).

Widget keys equal the field names. ``to_query``/``from_query`` put the settings, the seed
included, in the page URL so that a link reproduces a run; unknown or bad values fall
back to the defaults. No Streamlit import: pages pass ``st.query_params`` in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Mapping

from .examples import DEFAULT_EXAMPLE, example_names
from .errors import SAEInputError
from .training import RECOMMENDED, TrainConfig

TRAINING_FIELDS = [f.name for f in fields(TrainConfig)]


@dataclass(frozen=True)
class AppState:
    example: str = DEFAULT_EXAMPLE
    config: TrainConfig = RECOMMENDED

    def to_query(self) -> dict[str, str]:
        query = {"example": self.example}
        for name in TRAINING_FIELDS:
            value = getattr(self.config, name)
            query[name] = str(int(value)) if isinstance(value, bool) else repr(value) if isinstance(value, float) else str(value)
        return query

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> "AppState":
        example = query.get("example", DEFAULT_EXAMPLE)
        if example not in example_names():
            example = DEFAULT_EXAMPLE
        config = RECOMMENDED
        for name in TRAINING_FIELDS:
            if name in query:
                config = _with_value(config, name, query[name])
        return cls(example=example, config=config)


def _with_value(config: TrainConfig, name: str, text: str) -> TrainConfig:
    """config with one field parsed from text, or config unchanged if the text is bad."""
    kind = type(getattr(config, name))
    try:
        if kind is str:
            value = text
        elif kind is bool:
            if text not in ("0", "1"):
                return config
            value = text == "1"
        elif kind is int:
            value = int(text)
        else:
            value = float(text)
            if not math.isfinite(value):
                return config
        candidate = replace(config, **{name: value})
        candidate.validate()
    except (ValueError, SAEInputError):
        return config
    return candidate
