"""The app's user-chosen settings as one typed object (TensorFlow Playground's habit).

Widget keys equal the field names. ``to_query``/``from_query`` put the settings, the seed
included, the example, the Presenter switch and each page's own choices (selected feature,
sweep point, ...) in the page URL so that a link reproduces what is on screen; unknown or
bad values fall back to the defaults, field by field. A small edited table and edited named
concepts travel too (``link_query``), compressed, up to ``limits.MAX_LINK_DATA_CHARS``.
No Streamlit import: pages pass ``st.query_params`` in.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import math
import zlib
from dataclasses import dataclass, field, fields, replace
from typing import Mapping

import pandas as pd

from . import limits
from .errors import SAEInputError
from .examples import DEFAULT_EXAMPLE, example_names
from .features import ReferenceFeature
from .table import TOKEN, dims_of, parse_csv, tokens_of
from .training import RECOMMENDED, TrainConfig

TRAINING_FIELDS = [f.name for f in fields(TrainConfig)]
TABLE_PARAM, CONCEPTS_PARAM = "table", "concepts"


@dataclass(frozen=True)
class PageChoices:
    """What each page lets the user pick, beyond the training settings (whole numbers)."""

    feature: int = -1  # Features page: the feature whose card is opened (-1: none)
    features_page: int = 1  # Features page: which page of cards, when there are many features
    stability_seeds: int = 20  # Stability page: seeds trained together
    sweep_point: int = 0  # Sweep page: the model picked on the trade-off chart
    lesson_step: int = 1  # Lesson page: the step shown

    # the range each choice may take; anything else in a link falls back to the default
    BOUNDS = {"feature": (-1, limits.MAX_HIDDEN - 1), "features_page": (1, limits.MAX_HIDDEN),
              "stability_seeds": (2, limits.MAX_SEEDS), "sweep_point": (0, 255), "lesson_step": (1, 6)}


CHOICE_FIELDS = [f.name for f in fields(PageChoices)]


@dataclass(frozen=True)
class AppState:
    example: str = DEFAULT_EXAMPLE
    config: TrainConfig = RECOMMENDED
    presenter: bool = False
    choices: PageChoices = field(default_factory=PageChoices)

    def to_query(self) -> dict[str, str]:
        query = {"example": self.example}
        for name in TRAINING_FIELDS:
            query[name] = _text(getattr(self.config, name))
        if self.presenter:
            query["presenter"] = "1"
        defaults = PageChoices()
        for name in CHOICE_FIELDS:  # only choices that differ from the default: short links
            if getattr(self.choices, name) != getattr(defaults, name):
                query[name] = str(getattr(self.choices, name))
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
        choices = PageChoices()
        for name in CHOICE_FIELDS:
            low, high = PageChoices.BOUNDS[name]
            text = str(query.get(name, ""))
            if text.lstrip("-").isdigit() and low <= int(text) <= high:
                choices = replace(choices, **{name: int(text)})
        return cls(example=example, config=config, presenter=query.get("presenter") == "1", choices=choices)

    def describe(self) -> str:
        """The settings in one line for a person ("hidden 7, sparsity 0.03, ...")."""
        c = self.config
        return (f"hidden {c.hidden_dim}, sparsity {c.sparsity_weight:g}, lr {c.lr:g}, "
                f"{c.epochs:,} epochs, seed {c.seed}")


def carries_settings(query: Mapping[str, str]) -> bool:
    """True when a URL names any setting, choice or data (a shared link, not a bare visit)."""
    return any(k in query for k in ["example", *TRAINING_FIELDS, *CHOICE_FIELDS, TABLE_PARAM, CONCEPTS_PARAM])


def _text(value) -> str:
    return str(int(value)) if isinstance(value, bool) else repr(value) if isinstance(value, float) else str(value)


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


# ---- a table and named concepts inside a link ----------------------------------------------


def _pack(text: str) -> str:
    return base64.urlsafe_b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii").rstrip("=")


def _unpack(packed: str) -> str | None:
    """The text a link carried, or None when it is not something ``_pack`` wrote (or too big)."""
    try:
        raw = base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4))
        inflater = zlib.decompressobj()
        text = inflater.decompress(raw, limits.MAX_UPLOAD_BYTES)
        if inflater.unconsumed_tail:  # a zip bomb: more than an upload may hold
            return None
        return text.decode("utf-8")
    except (binascii.Error, ValueError, zlib.error, UnicodeDecodeError):
        return None


def table_param(table: pd.DataFrame) -> str:
    """The table as compact CSV (shortest float text), compressed for a URL."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([TOKEN, *dims_of(table)])
    for row in table.itertuples(index=False):
        writer.writerow([row[0], *(repr(float(v)) for v in row[1:])])
    return _pack(out.getvalue())


def table_from_param(packed: str) -> pd.DataFrame | None:
    """The table a link carried, validated like an upload; None when it is unusable."""
    text = _unpack(packed)
    if text is None:
        return None
    try:
        return parse_csv(text.encode("utf-8"), "linked table")
    except SAEInputError:
        return None


def concepts_param(references: list[ReferenceFeature], tokens: list[str]) -> str:
    """Named concepts as JSON ``[[name, [token, ...]], ...]`` (tokens in table order), compressed."""
    data = [[r.name, [t for t in tokens if t in r.tokens]] for r in references]
    return _pack(json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def concepts_from_param(packed: str, tokens: list[str]) -> list[ReferenceFeature] | None:
    """The concepts a link carried (those naming only tokens of the table); None when unusable."""
    text = _unpack(packed)
    if text is None:
        return None
    try:
        data = json.loads(text)
        refs = [ReferenceFeature(str(name), frozenset(map(str, members))) for name, members in data]
    except (ValueError, TypeError):
        return None
    return [r for r in refs if r.tokens and r.tokens <= set(tokens)]


@dataclass(frozen=True)
class Link:
    query: dict[str, str]
    data_left_out: bool  # an edited table or concepts did not fit in the link (share the CSV)


def link_query(state: AppState, table: pd.DataFrame | None = None,
               references: list[ReferenceFeature] | None = None) -> Link:
    """The URL query for what is on screen: settings and choices, plus ``table`` (an edited or
    uploaded table) and ``concepts`` (edited named concepts) when given and, together, at most
    ``limits.MAX_LINK_DATA_CHARS`` long."""
    query = state.to_query()
    extra = {}
    if table is not None:
        extra[TABLE_PARAM] = table_param(table)
    if references is not None:
        extra[CONCEPTS_PARAM] = concepts_param(references, tokens_of(table) if table is not None else
                                               sorted(set().union(*(r.tokens for r in references))))
    if sum(len(v) for v in extra.values()) > limits.MAX_LINK_DATA_CHARS:
        return Link(query, data_left_out=True)
    return Link({**query, **extra}, data_left_out=False)
