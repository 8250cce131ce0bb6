"""``python -m sae_core``: train an SAE on a CSV table from the command line.

    python -m sae_core train TABLE.csv [--hidden-dim N] [--sparsity-weight W] [--lr LR]
                                       [--epochs E] [--seed S] [--json] [--save-model OUT.zip]
    python -m sae_core stability TABLE.csv --seeds K [--first-seed S] [training flags] [--json]
    python -m sae_core sweep TABLE.csv --hidden-dims 4,8,16 --sparsity-weights 0.01,0.1 [--seeds K] [--json]

Errors (bad file, bad flag, absurd value) print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields

from . import limits
from .errors import SAEInputError
from .table import dims_of, read_table, tokens_of, values_of
from .training import RECOMMENDED, TrainConfig, TrainResult, train

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise SAEInputError(f"{self.prog}: {message}")


def _add_training_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field (--hidden-dim, --unit-norm-decoder, ...)."""
    defaults = RECOMMENDED
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        else:
            parser.add_argument(flag, type=type(default), default=default, metavar=f.name.upper())


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m sae_core", description="Train sparse autoencoders on token tables.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    train_cmd = commands.add_parser("train", help="train one SAE and print its metrics and features")
    train_cmd.add_argument("table", help="CSV file: token,<dim>,<dim>,...")
    _add_training_flags(train_cmd)
    train_cmd.add_argument("--json", action="store_true", help="print one JSON object")
    train_cmd.add_argument("--save-model", metavar="OUT.zip", help="also save the model (safetensors + JSON)")

    stability_cmd = commands.add_parser("stability", help="train K seeds at once and compare their features")
    stability_cmd.add_argument("table", help="CSV file: token,<dim>,<dim>,...")
    stability_cmd.add_argument("--seeds", type=int, default=20, metavar="K", help="train seeds 0..K-1")
    stability_cmd.add_argument("--first-seed", type=int, default=0, metavar="S",
                               help="train seeds S..S+K-1 instead (the README's table uses 100)")
    _add_training_flags(stability_cmd)
    stability_cmd.add_argument("--json", action="store_true", help="print one JSON object")

    sweep_cmd = commands.add_parser("sweep", help="train a grid of hidden sizes x sparsity weights at once")
    sweep_cmd.add_argument("table", help="CSV file: token,<dim>,<dim>,...")
    sweep_cmd.add_argument("--hidden-dims", type=_int_list, required=True, metavar="4,8,16")
    sweep_cmd.add_argument("--sparsity-weights", type=_float_list, required=True, metavar="0.01,0.1")
    sweep_cmd.add_argument("--seeds", type=int, default=1, metavar="K", help="seeds 0..K-1 per grid point")
    _add_training_flags(sweep_cmd)
    sweep_cmd.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _int_list(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def _float_list(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})


def result_to_json(result: TrainResult, tokens: list[str]) -> dict:
    return {
        "config": result.config.to_dict(),
        "metrics": {k: v for k, v in result.metrics.to_dict().items() if k != "hidden_dim"},
        "tokens": tokens,
        "feature_activations": result.feature_activations.T.round(6).tolist(),
        "epochs_done": result.epochs_done,
        "train_seconds": round(result.train_seconds, 4),
    }


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


def run_train(args: argparse.Namespace) -> int:
    table = read_table(args.table)
    config = config_from_args(args)
    result = train(values_of(table), config)
    tokens = tokens_of(table)
    if args.save_model:
        from .export import model_to_zip
        try:
            with open(args.save_model, "wb") as out:
                out.write(model_to_zip(result, dims_of(table), tokens))
        except OSError as error:
            raise SAEInputError(f"cannot write the model file: {error.strerror}") from None
    if args.json:
        print(json.dumps(result_to_json(result, tokens)))
    else:
        print(summary(result, tokens))
    return 0


def _check_seeds(k: int) -> list[int]:
    if not 1 <= k <= limits.MAX_SEEDS:
        raise SAEInputError(f"--seeds must be from 1 to {limits.MAX_SEEDS} (got {k})")
    return list(range(k))


def run_stability(args: argparse.Namespace) -> int:
    from .features import load_references
    from .stability import stability
    table = read_table(args.table)
    tokens = tokens_of(table)
    if not 0 <= args.first_seed <= limits.MAX_SEED - limits.MAX_SEEDS:
        raise SAEInputError(f"--first-seed must be from 0 to {limits.MAX_SEED - limits.MAX_SEEDS} (got {args.first_seed})")
    run = stability(values_of(table), config_from_args(args), tokens,
                    load_references(args.table, tokens), [args.first_seed + s for s in _check_seeds(args.seeds)])
    per_seed = [sum(j is not None for j in found.values()) for found in run.recovered_by_seed]
    if args.json:
        print(json.dumps({**run.to_dict(), "first_seed": args.first_seed, "recovered_per_seed": per_seed}))
        return 0
    print(f"{len(run.seeds)} seeds ({run.seeds[0]}-{run.seeds[-1]}) trained together in {run.train_seconds:.2f} s")
    for name, count in run.recovered.items():
        print(f"  {name}: recovered in {count} of {len(run.seeds)} seeds")
    if run.recovered:
        print("  seeds recovering at least k of the named features: "
              + ", ".join(f"k={k}: {sum(n >= k for n in per_seed)}" for k in range(1, len(run.recovered) + 1)))
    for c in run.consensus[:10]:
        label = f" = {c.reference}" if c.reference else ""
        print(f"  consensus feature in {c.seeds:>2} seeds{label}: {', '.join(sorted(c.active_tokens))}")
    return 0


def run_sweep(args: argparse.Namespace) -> int:
    from .sweep import sweep
    table = read_table(args.table)
    result = sweep(values_of(table), config_from_args(args), args.hidden_dims, args.sparsity_weights,
                   _check_seeds(args.seeds))
    if args.json:
        print(json.dumps({"models": result.table.to_dict(orient="records"),
                          "train_seconds": round(result.train_seconds, 4)}))
    else:
        print(result.table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


COMMANDS = {"train": run_train, "stability": run_stability, "sweep": run_sweep}


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except SAEInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
