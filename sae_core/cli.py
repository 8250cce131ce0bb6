"""``python -m sae_core``: train an SAE on a CSV table from the command line.

    python -m sae_core train TABLE.csv [--architecture NAME [--k K ...]] [--hidden-dim N]
                                       [--sparsity-weight W] [--lr LR] [--epochs E] [--seed S]
                                       [--batch-size B] [--json] [--full] [--save DIR] [--save-model OUT.zip]
    python -m sae_core encode MODEL_DIR_OR_ZIP TABLE.csv [--json] [--full]
    python -m sae_core stability TABLE.csv --seeds K [--first-seed S] [training flags] [--json]
    python -m sae_core sweep TABLE.csv --hidden-dims 4,8,16 --sparsity-weights 0.01,0.1 [--seeds K] [--json]
    python -m sae_core synth --dims D --features N --active K --arch NAME --seconds T --seed S
                             [--width W] [--frequency-decay A] [--threads N] [--save DIR] [--json]
    python -m sae_core train DIR [training flags] [--save SAE_DIR] [--json]   (DIR written by extract)
    python -m sae_core extract TEXT.txt --layer L --out DIR [--mode pieces|words] [--json]

``--save DIR`` writes a SAELens folder (cfg.json + sae_weights.safetensors) that
``sae_lens.SAE.load_from_disk`` opens; ``--save-model OUT.zip`` writes the same folder as a zip.
JSON with more than ``limits.MAX_JSON_MATRIX_CELLS`` activation cells prints per-feature
summaries instead of the matrices unless ``--full`` is given (then they are streamed).
Errors (bad file, bad flag, absurd value) print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch

from . import limits
from .architectures import ARCHITECTURES
from .errors import SAEInputError
from .saelens_format import encode_table, load_saelens, result_metadata, save_saelens, saelens_zip
from .table import dims_of, read_table, tokens_of, values_of
from .training import RECOMMENDED, TrainConfig, TrainResult, train

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise SAEInputError(f"{self.prog}: {message}")


def _add_training_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field (--hidden-dim, --unit-norm-decoder, ...)."""
    defaults = RECOMMENDED  # (flags not given stay unset: config_from_args fills in the defaults)
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        if f.name == "architecture":
            parser.add_argument(flag, default=argparse.SUPPRESS, metavar="NAME",
                                help="which SAE; its own settings: " + "; ".join(
                                    f"{key}: {', '.join(cls.settings()) or '-'}" for key, cls in ARCHITECTURES.items()))
        elif isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS)
        else:
            parser.add_argument(flag, type=type(default), default=argparse.SUPPRESS, metavar=f.name.upper())


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m sae_core", description="Train sparse autoencoders on token tables.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    train_cmd = commands.add_parser("train", help="train one SAE and print its metrics and features")
    train_cmd.add_argument("table", help="CSV file: token,<dim>,<dim>,... or a folder written by extract")
    _add_training_flags(train_cmd)
    train_cmd.add_argument("--json", action="store_true", help="print one JSON object")
    train_cmd.add_argument("--full", action="store_true", help="with --json: every activation, however large")
    train_cmd.add_argument("--save", metavar="DIR", help="also save the model as a SAELens folder")
    train_cmd.add_argument("--save-model", metavar="OUT.zip", help="also save the model as a zipped SAELens folder")

    encode_cmd = commands.add_parser("encode", help="run a saved model (SAELens folder or zip) on a table")
    encode_cmd.add_argument("model", help="a SAELens model folder, or a .zip of one")
    encode_cmd.add_argument("table", help="CSV file: token,<dim>,<dim>,... with the model's d_in dimensions")
    encode_cmd.add_argument("--json", action="store_true", help="print one JSON object")
    encode_cmd.add_argument("--full", action="store_true", help="with --json: every activation, however large")

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

    synth_cmd = commands.add_parser("synth", help="train on synthetic data with known features; measure recovery")
    synth_cmd.add_argument("--dims", type=int, default=256, metavar="D", help="activation dimensions")
    synth_cmd.add_argument("--features", type=int, default=512, metavar="N", help="true feature directions")
    synth_cmd.add_argument("--active", type=float, default=5.0, metavar="K", help="mean true features on per sample")
    synth_cmd.add_argument("--frequency-decay", type=float, default=0.0, metavar="A",
                           help="feature i fires in proportion to (i + 1)^-A (0: all equally often)")
    synth_cmd.add_argument("--arch", default="topk", metavar="NAME", help="architecture (registry key)")
    synth_cmd.add_argument("--width", type=float, default=2.0, metavar="W", help="learned features per true feature")
    synth_cmd.add_argument("--seconds", type=float, default=10.0, metavar="T", help="training time")
    synth_cmd.add_argument("--seed", type=int, default=0, metavar="S", help="directions, samples and initial weights")
    synth_cmd.add_argument("--threads", type=int, default=1, metavar="N",
                           help="torch threads (1: on a shared machine a second thread mostly waits)")
    synth_cmd.add_argument("--save", metavar="DIR", help="write DIR/ground_truth.safetensors and DIR/sae/ (SAELens)")
    synth_cmd.add_argument("--json", action="store_true", help="print one JSON object")
    extract_cmd = commands.add_parser("extract", help="activations of all-MiniLM-L6-v2 on a text, one row per token")
    extract_cmd.add_argument("text", help="a UTF-8 text file; documents separated by blank lines")
    extract_cmd.add_argument("--layer", type=int, default=3, metavar="L", help="0 (embeddings) to 6")
    extract_cmd.add_argument("--mode", choices=["pieces", "words"], default="pieces",
                             help="keep word pieces, or whole words (mean of their pieces)")
    extract_cmd.add_argument("--out", required=True, metavar="DIR", help="writes DIR/activations.safetensors + DIR/tokens.json")
    extract_cmd.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    extract_cmd.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _int_list(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def _float_list(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def config_from_args(args: argparse.Namespace, defaults: TrainConfig = RECOMMENDED) -> TrainConfig:
    """The flags given, over ``defaults`` (RECOMMENDED for CSV tables, REAL_TABLE for extracted folders)."""
    return TrainConfig(**{f.name: getattr(args, f.name, getattr(defaults, f.name)) for f in fields(TrainConfig)})


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
    result = train(values_of(table), config)
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
    from .real_model.extraction import load_extraction
    from .training import REAL_TABLE
    torch.set_num_threads(1)
    extraction = load_extraction(args.table)
    result = train(extraction.activations, config_from_args(args, REAL_TABLE))
    words = extraction.words
    dims = [f"d{i}" for i in range(extraction.activations.shape[1])]
    save_model(args, result.model, {**result_metadata(result, dims), "activations_from": {
        "model": extraction.model, "layer": extraction.layer, "mode": extraction.mode}})
    if args.json:
        head = {**result_to_json(result, []), "tokens": len(words), "model": extraction.model,
                "layer": extraction.layer}
        print_json(head, {"feature_activations": result.feature_activations.T}, words, args.full)
    else:
        m = result.metrics
        print(f"trained {result.config.hidden_dim} features on {len(words):,} tokens "
              f"({extraction.model}, layer {extraction.layer}) for {result.epochs_done} epochs in "
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


def _check_seeds(k: int) -> list[int]:
    if not 1 <= k <= limits.MAX_SEEDS:
        raise SAEInputError(f"--seeds must be from 1 to {limits.MAX_SEEDS} (got {k})")
    return list(range(k))


def bounded_consensus(data: dict, numbers_each: int) -> dict:
    """Keep the best-supported consensus features up to ``limits.MAX_JSON_MATRIX_CELLS`` numbers
    (each holds an activation per token and a decoder weight per dimension); say how many are left out."""
    keep = max(1, limits.MAX_JSON_MATRIX_CELLS // numbers_each)
    if len(data["consensus"]) > keep:
        data = {**data, "consensus": data["consensus"][:keep], "consensus_left_out": len(data["consensus"]) - keep}
    return data


def run_stability(args: argparse.Namespace) -> int:
    from .features import load_references
    from .stability import stability
    table = read_table(args.table)
    tokens = tokens_of(table)
    if not 0 <= args.first_seed <= limits.MAX_SEED - limits.MAX_SEEDS:
        raise SAEInputError(f"--first-seed must be from 0 to {limits.MAX_SEED - limits.MAX_SEEDS} (got {args.first_seed})")
    config = config_from_args(args)
    _threads_for(table, [config.hidden_dim], args.seeds)
    run = stability(values_of(table), config, tokens, load_references(args.table, tokens),
                    [args.first_seed + s for s in _check_seeds(args.seeds)])
    per_seed = [sum(j is not None for j in found.values()) for found in run.recovered_by_seed]
    if args.json:
        data = {**run.to_dict(), "first_seed": args.first_seed, "recovered_per_seed": per_seed}
        print(json.dumps(bounded_consensus(data, len(tokens) + len(dims_of(table)))))
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
    if args.hidden_dims:
        _threads_for(table, args.hidden_dims, len(args.hidden_dims) * len(args.sparsity_weights) * args.seeds)
    result = sweep(values_of(table), config_from_args(args), args.hidden_dims, args.sparsity_weights,
                   _check_seeds(args.seeds))
    if args.json:
        print(json.dumps({"models": result.table.to_dict(orient="records"),
                          "train_seconds": round(result.train_seconds, 4)}))
    else:
        print(result.table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


def run_synth(args: argparse.Namespace) -> int:
    """Sharkey-style data (``--active`` of ``--features`` directions per sample), one architecture."""
    from .ground_truth.lab import GroundTruthLab, lab_config, save_lab_run
    from .ground_truth.generators import SparseCombination, SparseCombinationConfig
    if not 1 <= args.threads <= 64:
        raise SAEInputError(f"--threads must be from 1 to 64 (got {args.threads})")
    data = SparseCombination(SparseCombinationConfig(dims=args.dims, features=args.features, active=args.active,
                                                     frequency_decay=args.frequency_decay, seed=args.seed))
    config = lab_config(args.arch, data, args.width, args.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        run = GroundTruthLab(data, [config], args.seconds).run().result().runs[0]
    finally:
        torch.set_num_threads(threads)
    if args.save:
        save_lab_run(args.save, data, run)
    summary_ = run.summary()
    if args.json:
        print(json.dumps(summary_))
    else:
        print(f"{run.label}: {config.hidden_dim} features on {args.features} true features in {args.dims} dims, "
              f"{run.steps} steps in {run.seconds:.1f} s")
        print("  ".join(f"{name} {value:.4g}" for name, value in summary_.items() if name not in ("seconds", "steps")))
    return 0


def run_extract(args: argparse.Namespace) -> int:
    from .real_model.extraction import extract, save_extraction
    if not 1 <= args.threads <= 64:
        raise SAEInputError(f"--threads must be from 1 to 64 (got {args.threads})")
    torch.set_num_threads(args.threads)
    path = Path(args.text)
    try:
        if path.stat().st_size > 4 * limits.MAX_TEXT_CHARS:
            raise SAEInputError(f"{path.name}: larger than the limit of {limits.MAX_TEXT_CHARS:,} characters")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        what = "not UTF-8 text" if isinstance(error, UnicodeDecodeError) else "cannot be read"
        raise SAEInputError(f"{path.name}: {what}") from None
    extraction = extract(text, layer=args.layer, mode=args.mode)
    save_extraction(extraction, args.out)
    n, d = extraction.activations.shape
    seconds = extraction.seconds
    if args.json:
        print(json.dumps({"tokens": n, "dims": d, "seconds": round(seconds, 4),
                          "tokens_per_second": round(n / max(seconds, 1e-9), 1)}))
    else:
        print(f"{n:,} {args.mode} x {d} dims from layer {args.layer} in {seconds:.2f} s -> {args.out}")
    return 0


COMMANDS = {"train": run_train, "encode": run_encode, "stability": run_stability, "sweep": run_sweep,
            "synth": run_synth, "extract": run_extract}


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except SAEInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
