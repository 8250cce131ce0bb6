"""Peak memory of every command at the caps' corners: predicted (sae_core.memory) against measured.

    python benchmarks/bench_memory.py            # every corner (10-20 minutes on 2 busy cores)
    python benchmarks/bench_memory.py --quick    # the baseline and the largest corner of each command

Each request runs ``python -m sae_core ...`` in its own subprocess; its peak resident set size
comes from ``os.wait4`` (the kernel's ru_maxrss of that process alone). Requests are generated
from ``sae_core.limits`` at each cap's corner, singly and combined, so they follow the caps.
A request the model predicts over the budget must be refused (exit 2, one line; its row shows the
refusal's own peak). Epochs are few: memory does not grow with epochs (the
``--epochs`` row pair below checks it). Exit 1 if an allowed request (predicted <= budget)
measures over the budget, or if the model under-predicts any request by more than ``MARGIN``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sae_core import limits, memory  # noqa: E402
from sae_core.architectures import ARCHITECTURES  # noqa: E402

MARGIN = 0.10  # measured may exceed predicted by at most this share
MB = memory.MB


def write_table(path: Path, rows: int, dims: int, seed: int = 0, digits: int = 3) -> Path:
    """A random table, written compactly (``digits`` decimals) so the most cells fit the upload cap."""
    rng = np.random.default_rng(seed)
    values = np.abs(rng.normal(size=(rows, dims))).round(digits) if digits else rng.integers(0, 10, (rows, dims))
    lines = ["token," + ",".join(f"d{j}" for j in range(dims))]
    lines += [f"t{i}," + ",".join(f"{v:g}" for v in row) for i, row in enumerate(values)]
    path.write_text("\n".join(lines) + "\n")
    size = path.stat().st_size
    assert size <= limits.MAX_UPLOAD_BYTES, f"{path.name} is {size:,} bytes, over the upload cap"
    return path


def peak_rss(args: list[str]) -> tuple[int, int, str]:
    """(peak RSS in bytes, exit status, last stderr line) of ``python -m sae_core *args``."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen([sys.executable, "-m", "sae_core", *args], cwd=ROOT, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        err.seek(0)
        last = (err.read().decode(errors="replace").strip().splitlines() or [""])[-1]
    return usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status), last


def requests(folder: Path, quick: bool) -> list[tuple[str, list[str], int]]:
    """(request, CLI arguments, predicted peak bytes), from the baseline to every cap's corner."""
    cap, hidden, seeds, dims = limits.MAX_ACTIVATION_CELLS, limits.MAX_HIDDEN, limits.MAX_SEEDS, limits.MAX_DIMS
    batch = limits.DEFAULT_BATCH_SIZE
    seed_csv = ROOT / "data" / "seed_tokens.csv"
    size = lambda path: Path(path).stat().st_size  # noqa: E731
    rows_max = write_table(folder / "rows.csv", limits.MAX_ROWS, 30)  # ~4 MB: the most tokens, 30 dims
    rows_hidden = cap // limits.MAX_ROWS  # features at which 20,000 tokens reach the activation cap
    wide_rows = cap // hidden  # tokens at which 4,096 features reach the activation cap
    wide = write_table(folder / "wide.csv", wide_rows, 30)
    # the most cells a 5 MB file holds (one digit each) at 1,024 dims: upload, dims, hidden, activation caps
    dense_rows = min((limits.MAX_UPLOAD_BYTES - 8 * dims) // (2 * dims + 8), wide_rows)
    dense = write_table(folder / "dense.csv", dense_rows, dims, digits=0)
    dims_rows = write_table(folder / "dims.csv", 600, dims)  # weight cap: one 4,096 x 1,024 model
    seed_rows = cap // (seeds * hidden)  # tokens at which 64 seeds x 4,096 features reach the activation cap
    seed_dims = limits.MAX_WEIGHT_CELLS // (seeds * hidden)  # dims at which they reach the weight cap
    seed_table = write_table(folder / "seeds.csv", seed_rows, seed_dims)
    model = folder / "model"
    s = str
    listed = [
        ("baseline: founding table, 8 features, 10 epochs", ["train", s(seed_csv), "--epochs", "10"],
         memory.train(8, 4, 8, batch, size(seed_csv))),
        (f"train {limits.MAX_ROWS:,} x 30, {rows_hidden} features, full batch, --json --full",
         ["train", s(rows_max), "--hidden-dim", s(rows_hidden), "--batch-size", s(limits.MAX_ROWS), "--epochs", "2",
          "--json", "--full"], memory.train(limits.MAX_ROWS, 30, rows_hidden, limits.MAX_ROWS, size(rows_max), True, True)),
        (f"train {dense_rows:,} x {dims:,} one-digit (5 MB), {hidden:,} features, --json --full",
         ["train", s(dense), "--hidden-dim", s(hidden), "--epochs", "2", "--json", "--full"],
         memory.train(dense_rows, dims, hidden, batch, size(dense), True, True)),
        (f"stability {seed_rows} x {seed_dims}, {seeds} seeds x {hidden:,} features, --json --full",
         ["stability", s(seed_table), "--seeds", s(seeds), "--hidden-dim", s(hidden), "--epochs", "5", "--json",
          "--full"], memory.stability(seed_rows, seed_dims, hidden, seeds, batch, size(seed_table), True, True)),
    ]
    sweep_widths = [1024] * 64 + [2048] * 64 + [4096] * 128
    listed.append(("sweep founding table, 256 models up to 4,096 features, --json",
                   ["sweep", s(seed_csv), "--hidden-dims", "1024,2048,4096,4096", "--knob-values",
                    ",".join(f"{w / 100:g}" for w in range(1, 9)), "--seeds", "8", "--epochs", "5", "--json"],
                   memory.run(8, 4, sweep_widths, batch, size(seed_csv))))
    text = folder / "text.txt"
    story = (ROOT / "data" / "real" / "founding_story.txt").read_text()
    text.write_text((story * (limits.MAX_TEXT_CHARS // len(story) + 1))[: limits.MAX_TEXT_CHARS])
    extracted = folder / "extracted"
    real_rows, real_dims, real_hidden = limits.MAX_EXTRACTED_TOKENS, 384, cap // limits.MAX_EXTRACTED_TOKENS // 256 * 256
    listed += [
        (f"extract {limits.MAX_TEXT_CHARS:,} characters (keeps {real_rows:,} rows)",
         ["extract", s(text), "--out", s(extracted)], memory.extract(limits.MAX_TEXT_CHARS, real_rows)),
        (f"train DIR: {real_rows:,} x {real_dims}, {real_hidden:,} features, full batch, --json --full",
         ["train", s(extracted), "--hidden-dim", s(real_hidden), "--batch-size", s(real_rows), "--epochs", "2",
          "--json", "--full"], memory.extracted(real_rows, real_dims, real_hidden, real_rows)),
        (f"split DIR: sizes 64,256,{real_hidden:,}, full batch",
         ["split", s(extracted), "--sizes", f"64,256,{real_hidden}", "--concepts",
          s(ROOT / "data" / "real" / "founding_story.concepts.json"), "--batch-size", s(real_rows), "--epochs", "2",
          "--json"], memory.split(real_rows, real_dims, [64, 256, real_hidden], real_rows)),
    ]
    synth_batch = cap // hidden  # samples at which 4,096 learned features reach the activation cap
    listed.append((f"synth {dims:,} dims, {hidden:,} true features, width 1, batch {synth_batch:,}, 3 s",
                   ["synth", "--dims", s(dims), "--features", s(hidden), "--width", "1", "--batch-size", s(synth_batch),
                    "--seconds", "3", "--json"], memory.synth(dims, hidden, hidden, synth_batch)))
    if quick:
        return listed
    for key, arch in ARCHITECTURES.items():  # the train corner once more for every architecture, on its own model
        if key != "standard":
            listed.append((f"the same 5 MB table, {key} (k 32; its own step copies), --json --full",
                           ["train", s(dense), "--architecture", key, "--hidden-dim", s(hidden), "--k", "32",
                            "--epochs", "2", "--json", "--full"],
                           memory.train(dense_rows, dims, hidden, batch, size(dense), True, True, arch.step_copies)))
    listed += [
        (f"train {limits.MAX_ROWS:,} x 30, {rows_hidden} features (mini-batches), --json (summaries)",
         ["train", s(rows_max), "--hidden-dim", s(rows_hidden), "--epochs", "2", "--json"],
         memory.train(limits.MAX_ROWS, 30, rows_hidden, batch, size(rows_max), True)),
        (f"train {wide_rows:,} x 30, {hidden:,} features, --json --full, --save",
         ["train", s(wide), "--hidden-dim", s(hidden), "--epochs", "2", "--json", "--full", "--save", s(model)],
         memory.train(wide_rows, 30, hidden, batch, size(wide), True, True)),
        (f"encode that model on the {wide_rows:,}-token table, --json --full",
         ["encode", s(model), s(wide), "--json", "--full"], memory.encode(wide_rows, 30, hidden, size(wide), True, True)),
        (f"train 600 x {dims:,}, {hidden:,} features (weight cap), --json",
         ["train", s(dims_rows), "--hidden-dim", s(hidden), "--epochs", "2", "--json"],
         memory.train(600, dims, hidden, batch, size(dims_rows), True)),
        (f"stability founding table, {seeds} seeds x {hidden:,} features, 5 epochs",
         ["stability", s(seed_csv), "--seeds", s(seeds), "--hidden-dim", s(hidden), "--epochs", "5"],
         memory.stability(8, 4, hidden, seeds, batch, size(seed_csv))),
        ("the same, 200 epochs (memory does not grow with epochs)",
         ["stability", s(seed_csv), "--seeds", s(seeds), "--hidden-dim", s(hidden), "--epochs", "200"],
         memory.stability(8, 4, hidden, seeds, batch, size(seed_csv))),
    ]
    return listed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="only the baseline and each command's largest corner")
    parser.add_argument("--out", help="also write the rows as JSON to this file")
    args = parser.parse_args()
    budget = memory.BUDGET / MB
    print(f"peak RSS of the whole process, predicted by sae_core.memory and measured (budget {budget:.0f} MB, "
          f"margin {MARGIN:.0%})")
    print(f"{'request':<82} {'pred MB':>8} {'meas MB':>8} {'meas/pred':>9} {'s':>6}")
    failures, rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, cli, predicted in requests(Path(tmp), args.quick):
            start = time.perf_counter()
            measured, code, last = peak_rss(cli)
            seconds = time.perf_counter() - start
            ratio = measured / predicted
            note = "" if code == 0 else f"  exit {code}: {last}"
            if predicted > memory.BUDGET:
                note = f"  refused: {last}"
                if code != 2:
                    failures.append(f"{name}: predicted over the budget but not refused (exit {code})")
            elif measured > memory.BUDGET:
                failures.append(f"{name}: allowed, measured {measured / MB:.0f} MB")
            elif ratio > 1 + MARGIN:
                failures.append(f"{name}: under-predicted, measured/predicted {ratio:.2f}")
            print(f"{name:<82} {predicted / MB:8.0f} {measured / MB:8.0f} {ratio:9.2f} {seconds:6.1f}{note}",
                  flush=True)
            rows.append({"request": name, "command": cli[0], "predicted_mb": round(predicted / MB),
                         "measured_mb": round(measured / MB), "exit": code})
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))
    print("every allowed request within the budget, none under-predicted" if not failures
          else "FAILED:\n  " + "\n  ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
