"""``python -m sae_core``: train an SAE on a CSV table from the command line.

    python -m sae_core train TABLE.csv [training flags] [--json [--full]] [--save DIR] [--save-model OUT.zip]
    python -m sae_core train DIR [training flags] [--save SAE_DIR] [--json]   (DIR written by extract)
    python -m sae_core encode MODEL_DIR_OR_ZIP TABLE.csv [--json [--full]]
    python -m sae_core stability TABLE.csv --seeds K [--first-seed S] [training flags] [--json [--full]]
    python -m sae_core stability TABLE.csv --architectures A,B,... [--seeds K] [--first-seed S] [--json [--full]]
    python -m sae_core sweep TABLE.csv --hidden-dims 4,8,16 [--knob-values V1,V2,...] [--seeds K] [training flags] [--json]
    python -m sae_core synth [--generator NAME] [generator flags] [--architecture NAME] [--width W]
                             [--seconds T] [--threads N] [--save DIR] [--json]
    python -m sae_core extract TEXT.txt --layer L --out DIR [--mode MODE] [--threads N] [--json]
    python -m sae_core split DIR --sizes 64,256,1536 --concepts FILE [training flags] [--save OUT] [--json]
    python -m sae_core handoff [training flags] [--model NAME] [--hook HOOK] [--d-in D] [--d-sae N]
                               [--training-tokens T] --out DIR [--json]   (a SAELens run: handoff.py)

Every flag is generated from a declaration, so a setting declared later has its flag at once:
the training flags (``--hidden-dim``, ``--architecture``, one per architecture option, booleans
as ``--x/--no-x``) from ``training.all_settings()`` at ``build_parser()`` time, their values parsed
and checked by the ``Option`` (its own one-line message); the sweep's ``--knob-values`` by the
architecture's knob (``sweep.knob_of``); synth's generator flags from the fields of the generator
config dataclasses (``ground_truth.generators.GENERATORS``; help from the comments beside the
fields); extract's ``--layer`` and ``--mode`` from ``real_model.extraction``. Training flags not
given stay unset, so ``config_from_args`` takes the defaults (RECOMMENDED for CSV tables,
REAL_TABLE for a folder written by extract).

``--save DIR`` writes a SAELens folder (cfg.json + sae_weights.safetensors) that
``sae_lens.SAE.load_from_disk`` opens; ``--save-model OUT.zip`` writes the same folder as a zip.
JSON with more than ``limits.MAX_JSON_MATRIX_CELLS`` activation cells prints per-feature
summaries instead of the matrices unless ``--full`` is given (then they are streamed).
Errors (bad file, bad flag, absurd value) print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import sys
import textwrap
from dataclasses import Field, fields
from pathlib import Path

import numpy as np
import torch

from . import limits
from .architectures import ARCHITECTURES, get_architecture, option_of
from .device import DEFAULT_DEVICE, DEVICES
from .errors import ConfigError, SAEInputError
from .ground_truth.generators import GENERATORS, SparseCombination
from .options import Option
from .real_model import extraction
from .saelens_format import encode_table, load_saelens, result_metadata, save_saelens, saelens_zip
from .table import dims_of, read_table, tokens_of, values_of
from .training import (ARCHITECTURE, BATCH_SIZE, HIDDEN_DIM, REAL_TABLE, RECOMMENDED, SEED, TrainConfig,
                       TrainResult, all_settings, train)

EXIT_BAD_INPUT = 2

# The CLI's own settings, declared like the training ones: their flags, help and messages come from here.
SEEDS = Option("seeds", int, 1, "Seeds", "Train K seeds at once (one batched model).", low=1, high=limits.MAX_SEEDS,
               noun="number of seeds")
FIRST_SEED = Option("first_seed", int, 0, "First seed", "Train seeds S..S+K-1.", low=0,
                    high=limits.MAX_SEED - limits.MAX_SEEDS, noun="first seed")
THREADS = Option("threads", int, 1, "Threads", "Torch threads (1: on a shared machine a second thread mostly waits).",
                 low=1, high=64, noun="torch threads")
LAYER = Option("layer", int, extraction.DEFAULT_LAYER, "Layer",
               f"0: the embeddings; 1-{extraction.LAYERS}: the output of that transformer block.",
               low=0, high=extraction.LAYERS)
DEFAULT_GENERATOR = SparseCombination.key  # synth's data unless --generator says otherwise
SYNTH_SECONDS = 10.0  # synth's training time unless --seconds says otherwise
STAYS_UNSET = argparse.SUPPRESS  # a flag not given leaves no attribute: the defaults (or the lab) decide


class _Formatter(argparse.HelpFormatter):
    def _split_lines(self, text: str, width: int) -> list[str]:  # never split a flag at its hyphens
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


class _Parser(argparse.ArgumentParser):
    """One-line errors, and no abbreviated flags (a flag declared later must not change what one means)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # one line, not argparse's usage block
        if message.startswith("argument --"):  # a flag's value: "--lr: learning rate must be ..."
            raise SAEInputError(message[len("argument "):])
        raise SAEInputError(f"{self.prog}: {message}")


# ---- values: parsed by their declarations ------------------------------------------------------


def _items(text: str) -> list[str]:
    """The comma-separated items of ``text`` (empty ones dropped)."""
    return [item.strip() for item in text.split(",") if item.strip()]


def _parsed_by(option: Option):
    """argparse ``type``: the text as ``option`` reads it (not one of its values: its own message)."""
    def parse(text: str):
        try:
            return option.parse(text)
        except ConfigError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    parse.__name__ = option.name
    return parse


def _list_parsed_by(option: Option):
    """argparse ``type``: comma-separated values, each read by ``option``."""
    def parse(text: str):
        try:
            return [option.parse(item) for item in _items(text)]
        except ConfigError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    parse.__name__ = option.name
    return parse


def _number(kind: type, what: str):
    """argparse ``type`` for a setting with no declared range (the code that uses it checks it)."""
    def parse(text: str):
        try:
            return kind(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{what} must be {'a whole number' if kind is int else 'a number'} (got {text!r})") from None
    parse.__name__ = kind.__name__
    return parse


def _architecture(text: str) -> str:
    try:
        return get_architecture(ARCHITECTURE.parse(text)).key
    except ConfigError as error:  # unknown architecture 'x' (known: ...)
        raise argparse.ArgumentTypeError(str(error)) from None


def _architecture_list(text: str) -> list[str]:
    """``--architectures``: comma-separated architecture keys, each once ("all": every registered one)."""
    if text.strip() == "all":
        return list(ARCHITECTURES)
    keys = [_architecture(item) for item in _items(text)]
    if not keys:
        raise argparse.ArgumentTypeError("name at least one architecture")
    return list(dict.fromkeys(keys))


# ---- help: generated from the declarations ----------------------------------------------------


def _escaped(text: str) -> str:
    return text.replace("%", "%%")  # argparse formats help with %


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _metavar(kind: type) -> str:
    return {int: "N", float: "X"}.get(kind, "TEXT")


def _shown(option: Option, value) -> str:
    return ("on" if value else "off") if option.kind is bool else option.text(value)


def _range(option: Option) -> str:
    return f" Range: {option.describe_range()}." if option.kind in (int, float) else ""


def _defaults_text(option: Option, defaults: dict[str, TrainConfig]) -> str:
    """"Default: 0.002 (0.001 on a folder written by extract)." -- the first config's value, then where others differ."""
    values = [(where, config.to_dict().get(option.name, option.default)) for where, config in defaults.items()]
    first = values[0][1]
    others = [f"{_shown(option, value)} {where}" for where, value in values[1:] if value != first]
    return f" Default: {_shown(option, first)}" + (f" ({'; '.join(others)})" if others else "") + "."


def users_of(name: str) -> list[str]:
    """The registered architectures that declare option ``name``."""
    return [key for key, cls in ARCHITECTURES.items() if any(o.name == name for o in cls.options)]


def architecture_help(with_flags: bool = True) -> str:
    """What --architecture says: each registered key, its label and (training commands) its options' flags."""
    return ARCHITECTURE.help + " " + "; ".join(
        f"{key} = {cls.label}"
        + (f", with {', '.join(o.flag for o in cls.options)}" if with_flags and cls.options else "")
        for key, cls in ARCHITECTURES.items()) + "."


def setting_help(option: Option, defaults: dict[str, TrainConfig]) -> str:
    """One training flag's help: what it does (each architecture's words, where they differ), range, default,
    and for an architecture option the architectures that use it."""
    users = users_of(option.name)
    if not users:  # a shared setting
        what = architecture_help() if option.name == ARCHITECTURE.name else f"{option.label}. {option.help}"
        return what + _range(option) + _defaults_text(option, defaults)
    helps = {key: f"{o.label}. {o.help}" for key in users for o in [option_of(key, option.name)]}
    what = helps[users[0]] if len(set(helps.values())) == 1 else " ".join(f"{k}: {h}" for k, h in helps.items())
    return what + _range(option) + _defaults_text(option, defaults) + f" Used by {', '.join(users)}."


# ---- flags --------------------------------------------------------------------------------------


def _architecture_flag(parser, help_: str, default=STAYS_UNSET) -> None:
    parser.add_argument(ARCHITECTURE.flag, "--arch", dest=ARCHITECTURE.name, type=_architecture,
                        choices=list(ARCHITECTURES), default=default, metavar="NAME", help=_escaped(help_))


def training_flags(parser: argparse.ArgumentParser, defaults: dict[str, TrainConfig], leave_out=()) -> None:
    """One flag per training setting (``training.all_settings()``: the shared ones, then every registered
    architecture's options), except those in ``leave_out`` (a command's own flags replace them)."""
    shared = parser.add_argument_group("training settings (the defaults below unless given)")
    own = parser.add_argument_group("architecture settings (each used by the architectures it names)")
    left_out = {o.name for o in leave_out}
    for option in all_settings().values():
        if option.name in left_out:
            continue
        group = own if users_of(option.name) else shared
        help_ = setting_help(option, defaults)
        if option.name == ARCHITECTURE.name:
            _architecture_flag(group, help_)
        elif option.kind is bool:
            group.add_argument(option.flag, dest=option.name, action=argparse.BooleanOptionalAction,
                               default=STAYS_UNSET, help=_escaped(help_))
        else:
            group.add_argument(option.flag, dest=option.name, type=_parsed_by(option), default=STAYS_UNSET,
                               metavar=_metavar(option.kind), help=_escaped(help_))


def _option_flag(parser, option: Option, metavar: str, help_: str = "", default=None) -> None:
    """A flag for one of the CLI's own declared settings."""
    default = option.default if default is None else default
    parser.add_argument(option.flag, dest=option.name, type=_parsed_by(option), default=default, metavar=metavar,
                        help=_escaped(f"{help_ or option.help}{_range(option)} Default: {option.text(default)}."))


def _device_flag(parser) -> None:
    parser.add_argument("--device", choices=DEVICES, default=DEFAULT_DEVICE,
                        help=f"where the arithmetic runs: {', '.join(DEVICES)} (auto: cuda, then mps, then cpu); a "
                             f"device that is not there is an error. Default: {DEFAULT_DEVICE}.")


def _table_arg(parser, extracted: bool = False) -> None:
    parser.add_argument("table", help="CSV file: token,<dim>,<dim>,..." + (" or a folder written by extract"
                                                                           if extracted else ""))


def _json_flags(parser, full: bool = False) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    if full:
        parser.add_argument("--full", action="store_true",
                            help=f"with --json: every activation, however many (over "
                                 f"{limits.MAX_JSON_MATRIX_CELLS:,}: per-feature summaries otherwise)")


def _save_flags(parser, folder_help: str, zipped: bool = False) -> None:
    parser.add_argument("--save", metavar="DIR", help=folder_help)
    if zipped:
        parser.add_argument("--save-model", metavar="OUT.zip", help="also save the model as a zipped SAELens folder")


def _seeds_flags(parser, count: int, what: str) -> None:
    _option_flag(parser, SEEDS, "K", f"Train K seeds at once ({what}).", default=count)
    _option_flag(parser, FIRST_SEED, "S")


def knob_help() -> str:
    """--knob-values: each architecture's knob, its range and its starting grid."""
    parts = []
    for key, cls in ARCHITECTURES.items():
        if cls.knob:
            knob = option_of(key, cls.knob)
            grid = ",".join(knob.text(v) for v in knob.sweep_values) or "none: give them"
            parts.append(f"{key}: {knob.what} ({knob.describe_range()}; default {grid})")
    return ("The values of the architecture's sparsity knob to sweep, comma-separated, each read as that "
            "knob's value: " + "; ".join(parts) + ".")


# ---- synth: the generators' config dataclasses ----------------------------------------------------


def field_comments(config_cls) -> dict[str, str]:
    """The comment beside each field of a config dataclass (its one line of help), by field name."""
    try:
        source = inspect.getsource(config_cls)
    except (OSError, TypeError):  # no source (frozen app): the flags keep their names as help
        return {}
    return {m[1]: m[2] for m in re.finditer(r"^    (\w+)\s*:[^=#\n]*=[^#\n]*#\s*(.+?)\s*$", source, re.M)}


def generator_settings() -> dict[str, dict[str, Field]]:
    """Every generator setting: field name -> {generator key: that generator's field}, in declaration order."""
    settings: dict[str, dict[str, Field]] = {}
    for key, (_, config_cls) in GENERATORS.items():
        for f in fields(config_cls):
            settings.setdefault(f.name, {})[key] = f
    return settings


def generator_help(name: str, per_generator: dict[str, Field]) -> str:
    comments = {key: field_comments(GENERATORS[key][1]).get(name, name.replace("_", " ")) for key in per_generator}
    defaults = {key: f.default for key, f in per_generator.items()}
    what = next(iter(comments.values())) if len(set(comments.values())) == 1 else \
        "; ".join(f"{key}: {text}" for key, text in comments.items())
    default = str(next(iter(defaults.values()))) if len(set(defaults.values())) == 1 else \
        ", ".join(f"{value} ({key})" for key, value in defaults.items())
    text = f"{what}. Default: {default}."
    if len(per_generator) < len(GENERATORS):
        text += f" Only for {' and '.join(per_generator)}."
    if name == SEED.name:
        text += " Also the SAE's initial weights."
    if name == BATCH_SIZE.name:
        from .ground_truth.lab import LAB_BATCH_SIZE
        text += f" Given, also the SAE's samples per training step (unset: the lab's {LAB_BATCH_SIZE})."
    return text


def _generator_flags(parser) -> None:
    parser.add_argument("--generator", choices=list(GENERATORS), default=DEFAULT_GENERATOR, help=_escaped(
        "Which synthetic data: " + "; ".join(f"{key} = {(cls.__doc__ or key).strip().splitlines()[0].rstrip('.')}"
                                            for key, (cls, _) in GENERATORS.items())
        + f". Default: {DEFAULT_GENERATOR}."))
    group = parser.add_argument_group("generator settings (each generator's own defaults unless given)")
    for name, per_generator in generator_settings().items():
        kind = type(next(iter(per_generator.values())).default)
        help_ = _escaped(generator_help(name, per_generator))
        if kind is bool:
            group.add_argument(_flag(name), dest=name, action=argparse.BooleanOptionalAction, default=STAYS_UNSET,
                               help=help_)
        else:
            group.add_argument(_flag(name), dest=name, default=STAYS_UNSET, metavar=_metavar(kind), help=help_,
                               type=_number(kind, name.replace("_", " ")) if kind in (int, float) else kind)


# ---- the parser ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The CLI's parser, generated now from the declarations (an architecture registered before this call
    has its flags)."""
    from .ground_truth.lab import lab_config
    parser = _Parser(prog="python -m sae_core", description="Train sparse autoencoders on token tables.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    csv_defaults = {"": RECOMMENDED}

    train_cmd = commands.add_parser("train", help="train one SAE and print its metrics and features")
    _table_arg(train_cmd, extracted=True)
    _json_flags(train_cmd, full=True)
    _save_flags(train_cmd, "also save the model as a SAELens folder", zipped=True)
    training_flags(train_cmd, {**csv_defaults, "on a folder written by extract": REAL_TABLE})
    _device_flag(train_cmd)

    encode_cmd = commands.add_parser("encode", help="run a saved model (SAELens folder or zip) on a table")
    encode_cmd.add_argument("model", help="a SAELens model folder, or a .zip of one")
    encode_cmd.add_argument("table", help="CSV file: token,<dim>,<dim>,... with the model's d_in dimensions")
    _json_flags(encode_cmd, full=True)

    stability_cmd = commands.add_parser("stability", help="train K seeds at once and compare their features")
    _table_arg(stability_cmd)
    _seeds_flags(stability_cmd, 20, "the README's table: --seeds 20 --first-seed 100")
    stability_cmd.add_argument(
        "--architectures", type=_architecture_list, metavar="A,B,...",
        help=_escaped("train each of these architectures' recipes on the same seeds and compare them (all: every "
                      "registered one); a recipe is the table's NAME.settings.json entry for it, else the "
                      "architecture's defaults over the shared settings; training flags given change every recipe. "
                      f"Known: {', '.join(ARCHITECTURES)}."))
    _json_flags(stability_cmd)
    stability_cmd.add_argument("--full", action="store_true",
                               help="with --json: also every seed's feature activations (\"runs\")")
    training_flags(stability_cmd, csv_defaults, leave_out=(SEED,))
    _device_flag(stability_cmd)

    sweep_cmd = commands.add_parser("sweep", help="train a grid of hidden sizes x values of the architecture's "
                                                  "sparsity knob at once")
    _table_arg(sweep_cmd)
    sweep_cmd.add_argument("--hidden-dims", type=_list_parsed_by(HIDDEN_DIM), required=True, metavar="4,8,16",
                           help=_escaped(f"the hidden sizes to sweep, comma-separated (each "
                                         f"{HIDDEN_DIM.describe_range()})"))
    sweep_cmd.add_argument("--knob-values", type=_items, default=STAYS_UNSET, metavar="V1,V2,...",
                           help=_escaped(knob_help()))
    _seeds_flags(sweep_cmd, SEEDS.default, "per grid point")
    _json_flags(sweep_cmd)
    training_flags(sweep_cmd, csv_defaults, leave_out=(HIDDEN_DIM, SEED))
    _device_flag(sweep_cmd)

    synth_cmd = commands.add_parser("synth", help="train on synthetic data with known features; measure recovery")
    _generator_flags(synth_cmd)
    _architecture_flag(synth_cmd, architecture_help(with_flags=False) + f" Each trains with the lab's recipe for "
                       f"it. Default: {ARCHITECTURE.default}.",
                       default=ARCHITECTURE.default)
    width = inspect.signature(lab_config).parameters["width"].default
    synth_cmd.add_argument("--width", type=_number(float, "width"), default=width, metavar="W",
                           help=f"learned features per true feature. Default: {width:g}.")
    synth_cmd.add_argument("--seconds", type=_number(float, "training time"), default=SYNTH_SECONDS, metavar="T",
                           help=f"training time in seconds (up to {limits.MAX_SYNTH_SECONDS:g}). "
                                f"Default: {SYNTH_SECONDS:g}.")
    _option_flag(synth_cmd, THREADS, "N")
    _device_flag(synth_cmd)
    _save_flags(synth_cmd, "write DIR/ground_truth.safetensors and DIR/sae/ (SAELens)")
    _json_flags(synth_cmd)

    extract_cmd = commands.add_parser("extract", help=f"activations of {extraction.MODEL_NAME.split('/')[-1]} "
                                                      f"on a text, one row per token")
    extract_cmd.add_argument("text", help="a UTF-8 text file; documents separated by blank lines")
    _option_flag(extract_cmd, LAYER, "L")
    mode = inspect.signature(extraction.extract).parameters["mode"].default
    extract_cmd.add_argument("--mode", choices=extraction.MODES, default=mode,
                             help=f"token mode, one of {', '.join(extraction.MODES)}: word pieces, or whole words "
                                  f"(the mean of their pieces). Default: {mode}.")
    extract_cmd.add_argument("--out", required=True, metavar="DIR",
                             help=f"writes DIR/{extraction.ACTIVATIONS_FILE} + DIR/{extraction.TOKENS_FILE}")
    _option_flag(extract_cmd, THREADS, "N")
    _device_flag(extract_cmd)
    _json_flags(extract_cmd)

    split_cmd = commands.add_parser("split", help="train one SAE per dictionary size on an extracted table; how "
                                                  "its concepts split as the dictionary grows")
    split_cmd.add_argument("table", metavar="DIR", help="a folder written by extract")
    split_cmd.add_argument("--sizes", type=_list_parsed_by(HIDDEN_DIM), required=True, metavar="64,256,1536",
                           help=_escaped(f"the dictionary sizes (hidden sizes), comma-separated, at most "
                                         f"{limits.MAX_SPLIT_SIZES} (each {HIDDEN_DIM.describe_range()})"))
    split_cmd.add_argument("--concepts", required=True, metavar="FILE",
                           help='concept word lists, {"concepts": {"name": ["word", ...]}} as '
                                'data/real/founding_story.concepts.json: a token is in a concept when its '
                                'lower-case whole word is in the list')
    _save_flags(split_cmd, "also save each size's SAE as a SAELens folder, DIR/<size>/")
    _json_flags(split_cmd)
    training_flags(split_cmd, {"": REAL_TABLE}, leave_out=(HIDDEN_DIM,))
    _device_flag(split_cmd)

    _handoff_command(commands)
    return parser


def _handoff_command(commands) -> None:
    """``handoff``: the training flags (less those a SAELens run replaces) and the run's own, from handoff.py."""
    from . import handoff
    from .training import EPOCHS
    cmd = commands.add_parser("handoff", help="write a SAELens config + script that trains these settings on a "
                                              "language model (GPU, downloads there, not here)")
    known = "; ".join(f"{m.name} ({m.label}): {m.hook}, d_in {m.d_in}" for m in handoff.COMMON_MODELS.values())
    run = cmd.add_argument_group("the SAELens run")
    for option, metavar, help_ in (
            (handoff.MODEL, "NAME", f"{handoff.MODEL.help} Default: {handoff.DEFAULT_MODEL}. Known, with their "
                                    f"hook and d_in filled in: {known}."),
            (handoff.HOOK, "HOOK", f"{handoff.HOOK.help} Default: the model's, for a known model."),
            (handoff.D_IN, "D", f"{handoff.D_IN.help}{_range(handoff.D_IN)} Default: the model's, for a known "
                                f"model."),
            (handoff.D_SAE, "N", f"{handoff.D_SAE.help}{_range(handoff.D_SAE)} Default: "
                                 f"{handoff.DEFAULT_EXPANSION} x d_in."),
            (handoff.TRAINING_TOKENS_OPTION, "T", f"{handoff.TRAINING_TOKENS_OPTION.help}"
                                                  f"{_range(handoff.TRAINING_TOKENS_OPTION)} Default: "
                                                  f"{handoff.TRAINING_TOKENS:,}."),
            (handoff.BATCH_SIZE_TOKENS_OPTION, "N", f"{handoff.BATCH_SIZE_TOKENS_OPTION.help}"
                                                    f"{_range(handoff.BATCH_SIZE_TOKENS_OPTION)} Default: "
                                                    f"{handoff.BATCH_SIZE_TOKENS:,}."),
            (handoff.CONTEXT_SIZE_OPTION, "N", f"{handoff.CONTEXT_SIZE_OPTION.help}"
                                               f"{_range(handoff.CONTEXT_SIZE_OPTION)} Default: "
                                               f"{handoff.CONTEXT_SIZE}."),
            (handoff.DATASET, "PATH", f"{handoff.DATASET.help} Default: {handoff.DATASET_PATH}.")):
        run.add_argument(option.flag, dest=option.name, type=_parsed_by(option), default=STAYS_UNSET,
                         metavar=metavar, help=_escaped(help_))
    cmd.add_argument("--out", required=True, metavar="DIR",
                     help=f"writes DIR/{handoff.CONFIG_FILE} + DIR/{handoff.SCRIPT_FILE}")
    _json_flags(cmd)
    # The width is --d-sae (beyond the app's hidden-size limit), a run is counted in tokens, not epochs,
    # and its batch in tokens per step (--batch-size-tokens).
    training_flags(cmd, {"": REAL_TABLE}, leave_out=(HIDDEN_DIM, EPOCHS, BATCH_SIZE))


def config_from_args(args: argparse.Namespace, defaults: TrainConfig = RECOMMENDED) -> TrainConfig:
    """The training flags given, over ``defaults`` (RECOMMENDED for CSV tables, REAL_TABLE for extracted folders)."""
    given = {name: getattr(args, name) for name in all_settings() if hasattr(args, name)}
    return TrainConfig(**{**defaults.to_dict(), **given})

def result_to_json(result: TrainResult, tokens: list[str]) -> dict:
    """The train command's JSON without its matrices (see :func:`print_json`)."""
    return {
        "config": result.config.to_dict(),
        "metrics": {k: v for k, v in result.metrics.to_dict().items() if k != "hidden_dim"},
        "tokens": tokens,
        "epochs_done": result.epochs_done,
        "train_seconds": round(result.train_seconds, 4),
    }


def feature_summaries(feature_activations_NH: np.ndarray, tokens: list[str], k: int = 5) -> list[dict]:
    """Per feature: how often it fires, its peak and mean, its top tokens (instead of the matrix)."""
    from .features import top_tokens
    a_NH = feature_activations_NH
    return [{"feature": j, "fires_on": int((a_NH[:, j] > 0).sum()), "max": round(float(a_NH[:, j].max()), 6),
             "mean": round(float(a_NH[:, j].mean()), 6),
             "top_tokens": [[t, round(float(a), 6)] for t, a in top_tokens(a_NH, tokens, j, k=k)]}
            for j in range(a_NH.shape[1])]


def print_json(head: dict, matrices: dict[str, np.ndarray], tokens: list[str], full: bool, out=None) -> None:
    """Print ``head`` plus the matrices (lists of rows), streamed row by row so memory stays flat.

    Above ``limits.MAX_JSON_MATRIX_CELLS`` cells in ``feature_activations`` (tokens x features),
    and without ``full``, the matrices are replaced by ``feature_summaries``.
    """
    out = out or sys.stdout
    acts_NH = matrices["feature_activations"].T
    cells = acts_NH.size
    if cells > limits.MAX_JSON_MATRIX_CELLS and not full:
        head = {**head, "summarised": True,
                "note": f"{acts_NH.shape[0]:,} tokens x {acts_NH.shape[1]:,} features = {cells:,} activations is "
                        f"over {limits.MAX_JSON_MATRIX_CELLS:,}: per-feature summaries instead; --full prints them all",
                "feature_summaries": feature_summaries(acts_NH, tokens)}
        out.write(json.dumps(head) + "\n")
        return
    out.write(json.dumps(head)[:-1])
    for key, rows in matrices.items():
        out.write(f', "{key}": [')
        for i, row in enumerate(rows):
            out.write(("," if i else "") + json.dumps(np.round(row.astype(np.float64), 6).tolist()))
        out.write("]")
    out.write("}\n")


def summary(result: TrainResult, tokens: list[str]) -> str:
    m = result.metrics
    lines = [
        f"trained {result.config.hidden_dim} features for {result.epochs_done} epochs in {result.train_seconds:.2f} s",
        f"MSE {m.mse:.5f}   explained variance {m.explained_variance:.1%}   "
        f"L0 {m.l0:.2f} features/token   dead {m.dead_features} of {m.hidden_dim}",
    ]
    from .features import top_tokens
    for j in range(result.feature_activations.shape[1]):
        top = top_tokens(result.feature_activations, tokens, j, k=4)
        text = ", ".join(f"{t} {a:.2f}" for t, a in top) if top else "(dead)"
        lines.append(f"  F{j}: {text}")
    return "\n".join(lines)


# tokens x max(features, dims) x models below which a run uses one thread: on tiny tensors thread
# hand-offs cost more than they give (20 seeds of the founding table: 3x less CPU time on 2 cores).
ONE_THREAD_BELOW = 1_000_000


def _threads_for(table, hidden_dims: list[int], models: int) -> None:
    if len(table) * max(max(hidden_dims), len(dims_of(table))) * models < ONE_THREAD_BELOW:
        torch.set_num_threads(1)


def save_model(args: argparse.Namespace, model, metadata: dict) -> None:
    """``--save DIR`` (a SAELens folder) and ``--save-model FILE.zip`` (the same folder, zipped)."""
    if args.save:
        save_saelens(model, args.save, metadata)
    if args.save_model:
        try:
            Path(args.save_model).write_bytes(saelens_zip(model, metadata))
        except OSError as error:
            raise SAEInputError(f"cannot write the model file: {error.strerror}") from None


def run_train(args: argparse.Namespace) -> int:
    if Path(args.table).is_dir():
        return run_train_extracted(args)
    table = read_table(args.table)
    config = config_from_args(args)
    _threads_for(table, [config.hidden_dim], 1)
    result = train(values_of(table), config, device=args.device)
    tokens = tokens_of(table)
    save_model(args, result.model, result_metadata(result, dims_of(table), tokens))
    if args.json:
        print_json(result_to_json(result, tokens), {"feature_activations": result.feature_activations.T},
                   tokens, args.full)
    else:
        print(summary(result, tokens))
    return 0


def run_train_extracted(args: argparse.Namespace) -> int:
    """Train on a folder written by ``extract`` (or any model's activations in that format)."""
    torch.set_num_threads(1)
    ex = extraction.load_extraction(args.table)
    result = train(ex.activations, config_from_args(args, REAL_TABLE), device=args.device)
    words = ex.words
    dims = [f"d{i}" for i in range(ex.activations.shape[1])]
    save_model(args, result.model, {**result_metadata(result, dims), "activations_from": {
        "model": ex.model, "layer": ex.layer, "mode": ex.mode}})
    if args.json:
        head = {**result_to_json(result, []), "tokens": len(words), "model": ex.model,
                "layer": ex.layer}
        print_json(head, {"feature_activations": result.feature_activations.T}, words, args.full)
    else:
        m = result.metrics
        print(f"trained {result.config.hidden_dim} features on {len(words):,} tokens "
              f"({ex.model}, layer {ex.layer}) for {result.epochs_done} epochs in "
              f"{result.train_seconds:.1f} s: explained variance {m.explained_variance:.1%}, "
              f"L0 {m.l0:.1f}, dead {m.dead_features}")
    return 0


def run_encode(args: argparse.Namespace) -> int:
    """A saved model (ours or one sae-lens wrote) on a table: activations and reconstructions."""
    model, cfg = load_saelens(args.model)
    table = read_table(args.table)
    tokens = tokens_of(table)
    acts_NH, recon_ND = encode_table(model, cfg, values_of(table))
    if args.json:
        print_json({"tokens": tokens}, {"feature_activations": acts_NH.T, "reconstructions": recon_ND},
                   tokens, args.full)
        return 0
    from .features import top_tokens
    print(f"{cfg['architecture']} SAE, {cfg['d_sae']} features over {cfg['d_in']} dimensions, on {len(tokens)} tokens")
    for j in range(acts_NH.shape[1]):
        top = top_tokens(acts_NH, tokens, j, k=4)
        print(f"  F{j}: " + (", ".join(f"{t} {a:.2f}" for t, a in top) if top else "(silent on this table)"))
    return 0


def bounded_consensus(data: dict, numbers_each: int) -> dict:
    """Keep the best-supported consensus features up to ``limits.MAX_JSON_MATRIX_CELLS`` numbers
    (each holds an activation per token and a decoder weight per dimension); say how many are left out."""
    keep = max(1, limits.MAX_JSON_MATRIX_CELLS // numbers_each)
    if len(data["consensus"]) > keep:
        data = {**data, "consensus": data["consensus"][:keep], "consensus_left_out": len(data["consensus"]) - keep}
    return data


def print_with_runs(head: dict, runs: dict, out=None) -> None:
    """Print ``head`` with ``"runs"`` added to each dict that ``runs`` names (by its path of keys, () for
    head itself): every seed's feature activations of that stability run (``--full``: one list per
    token, one number per feature), streamed row by row so memory stays flat (as Python floats the
    12 M numbers the caps allow would take 500 MB)."""
    out = out or sys.stdout

    def write(value, path: tuple) -> None:
        if not isinstance(value, dict) or not any(p[: len(path)] == path for p in runs):
            out.write(json.dumps(value))
            return
        out.write("{")
        for i, (key, item) in enumerate(value.items()):
            out.write((", " if i else "") + json.dumps(key) + ": ")
            write(item, path + (key,))
        if path in runs:
            out.write(', "runs": [')
            for i, (seed, result) in enumerate(zip(runs[path].seeds, runs[path].results)):
                out.write((", " if i else "") + f'{{"seed": {seed}, "feature_activations": [')
                for n, row in enumerate(result.feature_activations):
                    out.write(("," if n else "") + json.dumps(np.round(row.astype(np.float64), 6).tolist()))
                out.write("]}")
            out.write("]")
        out.write("}")

    write(head, ())
    out.write("\n")


def run_stability(args: argparse.Namespace) -> int:
    from .features import load_references
    from .stability import stability
    if args.architectures is not None:
        return run_architectures(args)
    table = read_table(args.table)
    tokens = tokens_of(table)
    config = config_from_args(args)
    _threads_for(table, [config.hidden_dim], args.seeds)
    run = stability(values_of(table), config, tokens, load_references(args.table, tokens),
                    [args.first_seed + s for s in range(args.seeds)], device=args.device)
    per_seed = [sum(j is not None for j in found.values()) for found in run.recovered_by_seed]
    if args.json:
        data = {**run.to_dict(), "first_seed": args.first_seed, "recovered_per_seed": per_seed}
        data = bounded_consensus(data, len(tokens) + len(dims_of(table)))
        print_with_runs(data, {(): run} if args.full else {})
        return 0
    print(f"{len(run.seeds)} seeds ({run.seeds[0]}-{run.seeds[-1]}) trained together in {run.train_seconds:.2f} s")
    for name, count in run.recovered.items():
        print(f"  {name}: recovered in {count} of {len(run.seeds)} seeds")
    for pair, value in run.absorption.items():
        print(f"  absorption {pair}: {value:.2f} (the share of the inner concept's tokens the outer one's "
              "feature misses, averaged over the seeds)")
    if run.recovered:
        print("  seeds recovering at least k of the named features: "
              + ", ".join(f"k={k}: {sum(n >= k for n in per_seed)}" for k in range(1, len(run.recovered) + 1)))
    for c in run.consensus[:10]:
        label = f" = {c.reference}" if c.reference else ""
        print(f"  consensus feature in {c.seeds:>2} seeds{label}: {', '.join(sorted(c.active_tokens))}")
    return 0


def architecture_recipes_for(args: argparse.Namespace) -> dict:
    """``--architectures``: each one's recipe for the table (``examples.settings_beside``), with the
    training flags given applied over every recipe."""
    from .examples import architecture_recipes, settings_beside
    if hasattr(args, ARCHITECTURE.name):
        raise ConfigError("--architecture and --architectures do not go together: each architecture trains its recipe")
    recipes = architecture_recipes(settings_beside(args.table))
    given = {name: getattr(args, name) for name in all_settings() if hasattr(args, name)}
    return {key: TrainConfig(**{**recipes[key].to_dict(), **given}).validate() for key in args.architectures}


def run_architectures(args: argparse.Namespace) -> int:
    """``stability --architectures``: every architecture's recipe on the same seeds, side by side."""
    from .features import load_references
    from .stability import ArchitecturesRun, run_summary
    table = read_table(args.table)
    tokens = tokens_of(table)
    refs = load_references(args.table, tokens)
    recipes = architecture_recipes_for(args)
    seeds = [args.first_seed + s for s in range(args.seeds)]
    _threads_for(table, [c.hidden_dim for c in recipes.values()], args.seeds)
    runs = ArchitecturesRun(values_of(table), recipes, seeds, tokens, refs, device=args.device).fit().results()
    if args.json:
        per_arch = {key: run_summary(run, refs) for key, run in runs.items()}
        print_with_runs({"tokens": tokens, "first_seed": args.first_seed, "seeds": args.seeds, "architectures": per_arch},
                        {("architectures", key): run for key, run in runs.items()} if args.full else {})
        return 0
    print(f"{len(seeds)} seeds ({seeds[0]}-{seeds[-1]}), each architecture's recipe on the same seeds:")
    for key, run in runs.items():
        data = run_summary(run, refs)
        found = ", ".join(f"{name} {count}/{len(seeds)}" for name, count in data["recovered"].items())
        absorbed = ", ".join(f"absorption {pair} {value:.2f}" for pair, value in data["absorption"].items())
        print(f"  {key}: {found}{'; ' if found else ''}L0 {data['l0']:.2f}, live features {data['live_features']:.1f}"
              + (f", {absorbed}" if absorbed else "") + f" ({run.config.describe(seed=False)})")
    return 0


def knob_values(args: argparse.Namespace, architecture: str) -> tuple[Option, list]:
    """The sweep's knob (the architecture's declaration) and its values: --knob-values read by that knob, or
    its declared starting grid."""
    from .sweep import knob_of
    if not get_architecture(architecture).knob:
        raise SAEInputError(f"{architecture} declares no sparsity knob to sweep")
    knob = knob_of(architecture)
    if hasattr(args, knob.name):
        raise SAEInputError(f"{knob.flag}: a sweep of {architecture} varies {knob.what}; give its values with "
                            f"--knob-values")
    if not hasattr(args, "knob_values"):
        return knob, list(knob.sweep_values)
    try:
        return knob, [knob.parse(text) for text in args.knob_values]
    except ConfigError as error:
        raise SAEInputError(f"--knob-values: {architecture} sweeps {knob.what}, and {error}") from None


def run_sweep(args: argparse.Namespace) -> int:
    from .sweep import sweep
    table = read_table(args.table)
    base = config_from_args(args)
    knob, values = knob_values(args, base.architecture)
    seeds = [args.first_seed + s for s in range(args.seeds)]
    if args.hidden_dims and values:
        _threads_for(table, args.hidden_dims, len(set(args.hidden_dims)) * len(set(values)) * len(seeds))
    result = sweep(values_of(table), base, args.hidden_dims, values, seeds, device=args.device)
    if args.json:
        print(json.dumps({"architecture": base.architecture, "knob": knob.name,
                          "models": result.table.to_dict(orient="records"),
                          "train_seconds": round(result.train_seconds, 4)}))
    else:
        print(f"{len(result.results)} {base.architecture} models (hidden size x {knob.what} x seed) trained "
              f"together in {result.train_seconds:.2f} s")
        print(result.table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


def synth_data(args: argparse.Namespace):
    """The chosen generator, from the generator flags given (the others: its config's defaults)."""
    cls, config_cls = GENERATORS[args.generator]
    own = [f.name for f in fields(config_cls)]
    given = {name: getattr(args, name) for name in generator_settings() if hasattr(args, name)}
    foreign = [name for name in given if name not in own]
    if foreign:
        owners = list(generator_settings()[foreign[0]])
        raise SAEInputError(f"{_flag(foreign[0])} is a setting of the {' and '.join(owners)} generator, not of "
                            f"{args.generator} (--generator {owners[0]})")
    return cls(config_cls(**given))


def synth_config(args: argparse.Namespace, data) -> TrainConfig:
    """The lab's config for the architecture; the generator's batch size, when given, is also the SAE's."""
    from .ground_truth.lab import lab_config
    batch = {BATCH_SIZE.name: data.batch_size} if hasattr(args, BATCH_SIZE.name) else {}
    return lab_config(args.architecture, data, args.width, data.seed, **batch)


def run_synth(args: argparse.Namespace) -> int:
    """Known features (``--generator``: Sharkey-style sparse combinations, a toy model or a hierarchy), one
    architecture; on hierarchical data also absorption against the true parents (``ground_truth.hierarchy``)."""
    from .ground_truth.lab import GroundTruthLab, save_lab_run
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)  # also while the toy generator trains its toy model
    try:
        data = synth_data(args)
        config = synth_config(args, data)
        run = GroundTruthLab(data, [config], args.seconds, device=args.device).run().result().runs[0]
    finally:
        torch.set_num_threads(threads)
    if args.save:
        save_lab_run(args.save, data, run)
    summary_ = run.summary()
    by_parent = [] if run.absorption is None else run.absorption.round(6).to_dict("records")  # hierarchical data
    if args.json:
        if by_parent:
            summary_["absorption_by_parent"] = by_parent
        # a share with no sample to count (NaN) is null: strict JSON
        print(json.dumps(summary_, default=lambda v: v.item()).replace("NaN", "null"))
    else:
        print(f"{run.label}: {config.hidden_dim} features on {data.features} true features in {data.dims} dims, "
              f"{run.steps} steps in {run.seconds:.1f} s")
        print("  ".join(f"{name} {value:.4g}" for name, value in summary_.items() if name not in ("seconds", "steps")))
        for row in by_parent:
            print(f"parent T{row['parent']}: its latent L{row['latent']} (cosine {row['cosine']:.3f}) silent on "
                  f"{row['absorption']:.0%} of {row['with_child']} samples with a child, {row['missed_alone']:.0%} of "
                  f"{row['alone']} without; child lean {row['child_lean']:.3f}")
    return 0


def run_extract(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    path = Path(args.text)
    try:
        if path.stat().st_size > 4 * limits.MAX_TEXT_CHARS:
            raise SAEInputError(f"{path.name}: larger than the limit of {limits.MAX_TEXT_CHARS:,} characters")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        what = "not UTF-8 text" if isinstance(error, UnicodeDecodeError) else "cannot be read"
        raise SAEInputError(f"{path.name}: {what}") from None
    ex = extraction.extract(text, layer=args.layer, mode=args.mode, device=args.device)
    extraction.save_extraction(ex, args.out)
    n, d = ex.activations.shape
    seconds = ex.seconds
    if args.json:
        print(json.dumps({"tokens": n, "dims": d, "seconds": round(seconds, 4),
                          "tokens_per_second": round(n / max(seconds, 1e-9), 1)}))
    else:
        print(f"{n:,} {args.mode} x {d} dims from layer {args.layer} in {seconds:.2f} s -> {args.out}")
    return 0


def run_handoff(args: argparse.Namespace) -> int:
    """Write the SAELens config + script for the training settings given (over REAL_TABLE)."""
    from . import handoff
    model = getattr(args, handoff.MODEL.name, handoff.DEFAULT_MODEL)
    known = handoff.model_defaults(model)
    missing = [o.flag for o in (handoff.HOOK, handoff.D_IN) if not hasattr(args, o.name)]
    if known is None and missing:
        raise SAEInputError(f"--model {model}: no defaults for this model; give {' and '.join(missing)} "
                            f"(defaults known for {', '.join(handoff.COMMON_MODELS)})")
    hook = getattr(args, handoff.HOOK.name, known.hook if known else "")
    d_in = getattr(args, handoff.D_IN.name, known.d_in if known else 0)
    spec = handoff.handoff(
        config_from_args(args, REAL_TABLE), model, hook, d_in,
        getattr(args, handoff.TRAINING_TOKENS_OPTION.name, handoff.TRAINING_TOKENS), args.out,
        d_sae=getattr(args, handoff.D_SAE.name, handoff.DEFAULT_EXPANSION * d_in),
        batch_size_tokens=getattr(args, handoff.BATCH_SIZE_TOKENS_OPTION.name, handoff.BATCH_SIZE_TOKENS),
        dataset_path=getattr(args, handoff.DATASET.name, handoff.DATASET_PATH),
        context_size=getattr(args, handoff.CONTEXT_SIZE_OPTION.name, handoff.CONTEXT_SIZE))
    files = [str(Path(args.out) / name) for name in (handoff.CONFIG_FILE, handoff.SCRIPT_FILE)]
    if args.json:
        print(json.dumps({"files": files, "saelens_config": spec}))
        return 0
    sae, runner = spec["sae"], spec["runner"]
    print(f"{spec['sae_class']}: d_in {sae['d_in']}, d_sae {sae['d_sae']} on {runner['model_name']} "
          f"{runner['hook_name']}, {runner['training_tokens']:,} tokens, lr {runner['lr']:g}")
    print(f"wrote {files[0]} and {files[1]}; on a GPU machine with sae-lens: python {files[1]} "
          f"(--dry-run prints the config)")
    return 0


def run_split(args: argparse.Namespace) -> int:
    """One SAE per dictionary size on an extracted table, measured against concept word lists (splitting.py)."""
    from .real_model.corpora import load_concepts
    from .splitting import PROBE_SIZES, SPLIT_COSINE, SplitRun, tree_lines
    torch.set_num_threads(1)
    concepts = load_concepts(args.concepts)
    ex = extraction.load_extraction(args.table)
    config = config_from_args(args, REAL_TABLE)
    result = SplitRun(ex.activations, config, args.sizes, ex.words, concepts, device=args.device).fit().result()
    if args.save:
        for size in result.sizes:
            save_saelens(size.model, Path(args.save) / str(size.size), {**size.metadata, "activations_from": {
                "model": ex.model, "layer": ex.layer, "mode": ex.mode}})
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    print(f"{len(result.sizes)} dictionary sizes on {len(ex.words):,} {ex.mode} ({ex.model}, layer {ex.layer}); "
          f"{config.describe()}, the hidden size being each size")
    for size in result.sizes:
        print(f"size {size.size:,}: explained variance {size.explained_variance:.1%}, L0 {size.l0:.1f}, dead "
              f"{size.dead_fraction:.1%} ({size.seconds:.1f} s)")
        for name, c in size.concepts.items():
            probes = ", ".join(f"k={k} {c.probe_f1[k]:.2f}" for k in PROBE_SIZES)
            best = f"F{c.feature} F1 {c.f1:.2f}" if c.feature is not None else "no rows"
            print(f"  {name}: best feature {best} (best random direction {c.random_f1:.2f}); sparse probe F1 {probes}")
    for name, tree in result.trees().items():
        print(f"split tree of {name} (features of the next size with decoder cosine >= {SPLIT_COSINE:g}):")
        print("\n".join("  " + line for line in tree_lines(tree)))
    if args.save:
        print(f"saved {', '.join(str(Path(args.save) / str(s.size)) for s in result.sizes)}")
    return 0


COMMANDS = {"train": run_train, "encode": run_encode, "stability": run_stability, "sweep": run_sweep,
            "synth": run_synth, "extract": run_extract, "handoff": run_handoff,
            "split": run_split}


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except SAEInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # the reader stopped early (| head): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 0
