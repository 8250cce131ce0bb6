"""Peak memory of the whole CLI process for the largest requests the limits allow.

    python benchmarks/bench_memory.py            # every case (a few minutes on 2 cores)
    python benchmarks/bench_memory.py --quick    # the baseline and the two largest cases

Each case runs ``python -m sae_core ...`` in its own subprocess; its peak resident set size
comes from ``os.wait4`` (the kernel's ru_maxrss of that process alone). Epochs are kept
small: memory does not grow with epochs (the loss history is capped at ~500 entries), only
time does. The target (issue 9): every request the limits allow stays under 900 MB.
Worst cases are built from sae_core.limits, so they follow the caps if the caps change.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sae_core import limits  # noqa: E402

TARGET_MB = 900


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


def peak_rss_mb(args: list[str]) -> tuple[float, int, float, str]:
    """(peak RSS in MB, exit status, seconds, last stderr line) of ``python -m sae_core *args``."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen([sys.executable, "-m", "sae_core", *args], cwd=ROOT, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        err.seek(0)
        last = (err.read().decode(errors="replace").strip().splitlines() or [""])[-1]
    return usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), time.perf_counter() - start, last


def cases(folder: Path, quick: bool) -> list[tuple[str, list[str]]]:
    """(description, CLI arguments) from tiny to the largest the caps allow."""
    cap = limits.MAX_ACTIVATION_CELLS
    seed_csv = str(ROOT / "data" / "seed_tokens.csv")
    big = write_table(folder / "big.csv", 20_000, 30)  # ~5 MB: the most tokens x 30 dims under the upload cap
    wide_rows = cap // limits.MAX_HIDDEN  # tokens at which 4,096 features reach the activation cap
    wide = write_table(folder / "wide.csv", wide_rows, 30)
    wide_dims = write_table(folder / "dims.csv", 600, limits.MAX_DIMS)  # 1,024 dims: the weight cap
    # the most cells a 5 MB file holds: one digit and a comma each, 1,024 dims, 4,096 features
    dense_rows = min((limits.MAX_UPLOAD_BYTES - 8 * limits.MAX_DIMS) // (2 * limits.MAX_DIMS + 8),
                     cap // limits.MAX_HIDDEN)
    dense = write_table(folder / "dense.csv", dense_rows, limits.MAX_DIMS, digits=0)
    hidden_big = min(limits.MAX_HIDDEN, cap // 20_000)
    model = folder / "model"
    listed = [
        ("baseline: founding table, 32 features, 10 epochs", ["train", seed_csv, "--epochs", "10"]),
        (f"20,000 x 30 table, {hidden_big} features, 2 epochs, --json --full",
         ["train", str(big), "--hidden-dim", str(hidden_big), "--epochs", "2", "--json", "--full"]),
        (f"{wide_rows:,} x 30 table, 4,096 features, 2 epochs, --json --full, --save",
         ["train", str(wide), "--hidden-dim", "4096", "--epochs", "2", "--json", "--full", "--save", str(model)]),
    ]
    listed.append((f"{dense_rows:,} x 1,024 one-digit table (densest 5 MB), 4,096 features, --json --full",
                   ["train", str(dense), "--hidden-dim", "4096", "--epochs", "2", "--json", "--full"]))
    if quick:
        return listed
    seeds_hidden = min(limits.MAX_HIDDEN, cap // (8 * limits.MAX_SEEDS))
    listed += [
        (f"20,000 x 30 table, {hidden_big} features, --json (summaries)",
         ["train", str(big), "--hidden-dim", str(hidden_big), "--epochs", "2", "--json"]),
        (f"encode the 4,096-feature model on the {wide_rows:,}-token table, --json --full",
         ["encode", str(model), str(wide), "--json", "--full"]),
        ("600 x 1,024 table, 4,096 features (largest weights), 2 epochs",
         ["train", str(wide_dims), "--hidden-dim", "4096", "--epochs", "2"]),
        (f"stability: founding table, 64 seeds x {seeds_hidden} features, 5 epochs",
         ["stability", seed_csv, "--seeds", str(limits.MAX_SEEDS), "--hidden-dim", str(seeds_hidden),
          "--epochs", "5", "--json"]),
        ("sweep: founding table, 256 models up to 4,096 features, 5 epochs",
         ["sweep", seed_csv, "--hidden-dims", "1024,2048,4096,4096", "--knob-values",
          ",".join(f"{w / 100:g}" for w in range(1, 9)), "--seeds", "8", "--epochs", "5", "--json"]),
    ]
    return listed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="only the baseline and the three largest cases")
    quick = parser.parse_args().quick
    print(f"peak RSS of the whole CLI process (target: under {TARGET_MB} MB); "
          f"caps: activations {limits.MAX_ACTIVATION_CELLS:,}, weights {limits.MAX_WEIGHT_CELLS:,}")
    print(f"{'case':<78} {'peak MB':>8} {'x base':>7} {'s':>6}")
    worst, base = 0.0, None
    with tempfile.TemporaryDirectory() as tmp:
        for name, args in cases(Path(tmp), quick):
            mb, code, seconds, last = peak_rss_mb(args)
            base = base or mb
            note = "" if code == 0 else f"  exit {code}: {last}"
            print(f"{name:<78} {mb:8.0f} {mb / base:7.2f} {seconds:6.1f}{note}", flush=True)
            worst = max(worst, mb)
    print(f"worst case: {worst:.0f} MB ({'under' if worst < TARGET_MB else 'OVER'} the {TARGET_MB} MB target)")
    return 0 if worst < TARGET_MB else 1


if __name__ == "__main__":
    raise SystemExit(main())
