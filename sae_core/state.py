"""The app's user-chosen settings as one typed object (TensorFlow Playground's habit).

``to_settings``/``from_settings`` give the app's flat settings dict (its keys are the widget
keys): the training settings by name, each page's choices, the Superposition lab's as
``lab_<field>`` and the Real model page's as ``real_<field>``, its own training settings as
``real_<setting>`` (so they never collide with the Train page's). ``to_query``/``from_query``
put the same in the page URL (the seed included) so that a link reproduces what is on
screen; unknown or bad values fall back to the defaults, field by field. A small edited table and edited named
concepts travel too (``link_query``), compressed, up to ``limits.MAX_LINK_DATA_CHARS``.
No Streamlit import: pages pass ``st.query_params`` in.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import zlib
from dataclasses import dataclass, field, fields, replace
from typing import Mapping

import pandas as pd

from . import limits
from .errors import SAEInputError
from .examples import DEFAULT_EXAMPLE, example_names
from .features import ReferenceFeature
from .architectures import ARCHITECTURES
from .ground_truth.generators import GENERATORS
from .ground_truth.lab import LAB_OPTIONS, LabSettings
from .real_model.corpora import CORPORA
from .real_model.extraction import DEFAULT_LAYER, LAYERS, MODES
from .table import TOKEN, dims_of, parse_csv, tokens_of
from .training import REAL_TABLE, RECOMMENDED, TrainConfig, all_settings
from .splitting import DEFAULT_SPLIT_SIZES, parse_sizes

TABLE_PARAM, CONCEPTS_PARAM = "table", "concepts"


@dataclass(frozen=True)
class PageChoices:
    """What each page lets the user pick, beyond the training settings (whole numbers)."""

    feature: int = -1  # Features page: the feature whose card is opened (-1: none)
    features_page: int = 1  # Features page: which page of cards, when there are many features
    stability_seeds: int = 20  # Stability page: seeds trained together
    stability_first_seed: int = 0  # Stability page: the first of them (seeds S..S+K-1)
    sweep_point: int = 0  # Sweep page: the model picked on the trade-off chart
    lesson_step: int = 1  # Lesson page: the step shown

    # the range each choice may take; anything else in a link falls back to the default
    BOUNDS = {"feature": (-1, limits.MAX_HIDDEN - 1), "features_page": (1, limits.MAX_HIDDEN),
              "stability_seeds": (2, limits.MAX_SEEDS), "stability_first_seed": (0, limits.MAX_SEED - limits.MAX_SEEDS),
              "sweep_point": (0, 255), "lesson_step": (1, 7)}


CHOICE_FIELDS = [f.name for f in fields(PageChoices)]

LAB_PREFIX, REAL_PREFIX = "lab_", "real_"  # the Superposition and Real model pages' settings and link keys
LAB_FIELDS = [f.name for f in fields(LabSettings)]
REAL_SOURCES = ("Bundled corpus", "Paste text", "Upload a .txt file")


@dataclass(frozen=True)
class RealChoices:
    """What the Real model page lets the user pick: the text, the layer, the rows, its search and
    open feature, and its own training settings (which start from ``REAL_TABLE``)."""

    source: str = REAL_SOURCES[0]
    corpus: str = "founding_story"
    layer: int = DEFAULT_LAYER
    mode: str = MODES[0]
    max_tokens: int = 6000
    query: str = ""  # the word searched for
    feature: int = 0  # the feature whose card is open
    # Pasted text is kept while the visitor stays but never goes in a link: it may be megabytes.
    text: str = ""
    sizes: str = DEFAULT_SPLIT_SIZES  # the dictionary sizes of the splitting section, comma-separated
    config: TrainConfig = REAL_TABLE

    # what a link may set each choice to; anything else falls back to the default
    BOUNDS = {"layer": (0, LAYERS), "max_tokens": (100, limits.MAX_EXTRACTED_TOKENS),
              "feature": (0, limits.MAX_HIDDEN - 1)}
    MENUS = {"source": REAL_SOURCES, "corpus": tuple(CORPORA), "mode": tuple(MODES)}


REAL_FIELDS = [f.name for f in fields(RealChoices) if f.name != "config"]
REAL_LINK_FIELDS = [name for name in REAL_FIELDS if name != "text"]  # large free text stays out of links
MAX_QUERY_CHARS = limits.MAX_TOKEN_CHARS  # a searched word, in a link


@dataclass(frozen=True)
class AppState:
    example: str = DEFAULT_EXAMPLE
    config: TrainConfig = RECOMMENDED
    presenter: bool = False
    choices: PageChoices = field(default_factory=PageChoices)
    lab: LabSettings = field(default_factory=LabSettings)  # the Superposition page
    real: RealChoices = field(default_factory=RealChoices)  # the Real model page

    def to_settings(self) -> dict:
        """The app's flat settings dict (``st.session_state.settings``; its keys are the widget keys)."""
        settings = self.config.to_dict()
        settings |= {name: getattr(self.choices, name) for name in CHOICE_FIELDS}
        settings["presenter"] = self.presenter
        settings["example"] = self.example
        for name in LAB_FIELDS:
            value = getattr(self.lab, name)
            settings[LAB_PREFIX + name] = list(value) if isinstance(value, tuple) else value  # a multiselect's list
        settings |= {REAL_PREFIX + name: getattr(self.real, name) for name in REAL_FIELDS}
        settings |= {REAL_PREFIX + name: value for name, value in self.real.config.to_dict().items()}
        return settings

    @classmethod
    def from_settings(cls, settings: Mapping) -> "AppState":
        """The state the app's settings dict holds (values as widgets gave them; not validated)."""
        config = TrainConfig(**{name: settings[name] for name in all_settings() if name in settings})
        real_config = TrainConfig(**{name: settings[REAL_PREFIX + name] for name in all_settings()
                                     if REAL_PREFIX + name in settings})
        lab = LabSettings(**{name: tuple(value) if isinstance(value, list) else value for name in LAB_FIELDS
                             if (value := settings.get(LAB_PREFIX + name)) is not None})
        real = RealChoices(**{name: settings[REAL_PREFIX + name] for name in REAL_FIELDS
                              if REAL_PREFIX + name in settings}, config=real_config)
        return cls(example=settings.get("example", DEFAULT_EXAMPLE), config=config,
                   presenter=bool(settings.get("presenter", False)),
                   choices=PageChoices(**{name: int(settings[name]) for name in CHOICE_FIELDS if name in settings}),
                   lab=lab, real=real)

    def to_query(self) -> dict[str, str]:
        query = {"example": self.example}
        for name, option in all_settings().items():
            query[name] = option.text(getattr(self.config, name))
        if self.presenter:
            query["presenter"] = "1"
        defaults = PageChoices()
        for name in CHOICE_FIELDS:  # only choices that differ from the default: short links
            if getattr(self.choices, name) != getattr(defaults, name):
                query[name] = str(getattr(self.choices, name))
        return query | _lab_query(self.lab) | _real_query(self.real)

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> "AppState":
        example = query.get("example", DEFAULT_EXAMPLE)
        if example not in example_names():
            example = DEFAULT_EXAMPLE
        config = RECOMMENDED
        for name in all_settings():
            if name in query:
                config = _with_value(config, name, query[name])
        choices = PageChoices()
        for name in CHOICE_FIELDS:
            low, high = PageChoices.BOUNDS[name]
            text = str(query.get(name, ""))
            if text.lstrip("-").isdigit() and low <= int(text) <= high:
                choices = replace(choices, **{name: int(text)})
        return cls(example=example, config=config, presenter=query.get("presenter") == "1", choices=choices,
                   lab=_lab_from_query(query), real=_real_from_query(query))

    def describe(self) -> str:
        """The settings in one line for a person ("hidden 7, sparsity weight 0.03, ...")."""
        return self.config.describe()


def carries_settings(query: Mapping[str, str]) -> bool:
    """True when a URL names any setting, choice or data (a shared link, not a bare visit)."""
    return any(k in query for k in ["example", *all_settings(), *CHOICE_FIELDS, TABLE_PARAM, CONCEPTS_PARAM]) \
        or any(k.startswith((LAB_PREFIX, REAL_PREFIX)) for k in query)


def _with_value(config: TrainConfig, name: str, text: str) -> TrainConfig:
    """config with one setting parsed from text (its declaration's parser), or config unchanged if the
    text is bad or the result does not validate."""
    try:
        candidate = replace(config, **{name: all_settings()[name].parse(text)})
        candidate.validate()
    except SAEInputError:
        return config
    return candidate


# ---- the Superposition and Real model pages' choices in a link (only those not at their default) ----


def _lab_query(lab: LabSettings) -> dict[str, str]:
    query = {}
    for name in LAB_FIELDS:
        value = getattr(lab, name)
        if value != getattr(LabSettings, name):
            text = ",".join(value) if name == "architectures" else \
                LAB_OPTIONS[name].text(value) if name in LAB_OPTIONS else str(value)
            query[LAB_PREFIX + name] = text
    return query


def _choices_from_query(query: Mapping[str, str], prefix: str, choices, names, parse):
    """``choices`` with each ``prefix + name`` the query carries, read by ``parse(name, text)``; a value
    it cannot read (None) keeps that field's default."""
    for name in names:
        if prefix + name in query:
            value = parse(name, str(query[prefix + name]))
            if value is not None:
                choices = replace(choices, **{name: value})
    return choices


def _lab_value(name: str, text: str):
    if name == "generator":
        return text if text in GENERATORS else None
    if name == "architectures":
        names = tuple(dict.fromkeys(a for a in text.split(",") if a))
        return names if all(a in ARCHITECTURES for a in names) else None
    try:
        return LAB_OPTIONS[name].parse(text)
    except SAEInputError:
        return None


def _lab_from_query(query: Mapping[str, str]) -> LabSettings:
    return _choices_from_query(query, LAB_PREFIX, LabSettings(), LAB_FIELDS, _lab_value)


def _real_query(real: RealChoices) -> dict[str, str]:
    defaults = RealChoices()
    query = {REAL_PREFIX + name: str(getattr(real, name)) for name in REAL_LINK_FIELDS
             if getattr(real, name) != getattr(defaults, name)}
    for name, option in all_settings().items():
        if getattr(real.config, name) != getattr(defaults.config, name):
            query[REAL_PREFIX + name] = option.text(getattr(real.config, name))
    return query


def _real_value(name: str, text: str):
    if name in RealChoices.BOUNDS:
        low, high = RealChoices.BOUNDS[name]
        return int(text) if text.isdigit() and low <= int(text) <= high else None
    if name in RealChoices.MENUS:
        return text if text in RealChoices.MENUS[name] else None
    if name == "sizes":
        try:
            return ",".join(map(str, parse_sizes(text)))
        except SAEInputError:
            return None
    return text if len(text) <= MAX_QUERY_CHARS else None  # the searched word


def _real_from_query(query: Mapping[str, str]) -> RealChoices:
    real = _choices_from_query(query, REAL_PREFIX, RealChoices(), REAL_LINK_FIELDS, _real_value)
    config = real.config
    for name in all_settings():
        if REAL_PREFIX + name in query:
            config = _with_value(config, name, query[REAL_PREFIX + name])
    return replace(real, config=config)


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
