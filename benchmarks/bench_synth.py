"""Ground-truth recovery within a time budget: TopK against the article's SAE on the same data.

    python benchmarks/bench_synth.py                 # 256 dims, 512 true features, k = 5, 10 s each
    python benchmarks/bench_synth.py --seconds 5 --threads 2

Sharkey-style data (sae_core.ground_truth.generators.SparseCombination): 512 true unit directions in 256
dims, about 5 on per sample with magnitudes U[0, 1], fresh samples every step. Each
architecture trains with its lab recipe (sae_core.ground_truth.LAB_RECIPES; 2x = 1024
features) for the same seconds of training time, one after the other, through the one
Trainer. Printed: the final metrics on held-out samples, the first training second at which
MMCS and the Hungarian cosine had both reached 0.99 (from the recovery curve, one point per
1/40 of the budget) and the CPU seconds that took (steps x CPU seconds per step: what an idle
core would need), steps per second, the CPU share this process got while training (process CPU
seconds / wall seconds: 100% = a whole core) and the machine's load average (the machine is
shared: a load above its core count slows every number here).
Target (issue 10): TopK reaches MMCS >= 0.99 and Hungarian >= 0.99 within 10 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sae_core.ground_truth.lab import GroundTruthLab, lab_config  # noqa: E402
from sae_core.ground_truth.generators import SparseCombination, SparseCombinationConfig  # noqa: E402

TARGET = 0.99


def first_reach(curve, column: str, target: float = TARGET) -> tuple[float, int] | None:
    """(training second, step) at which ``column`` first reached ``target`` (None: never)."""
    hits = curve[curve[column] >= target]
    return None if hits.empty else (float(hits["seconds"].iloc[0]), int(hits["step"].iloc[0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, default=256)
    parser.add_argument("--features", type=int, default=512)
    parser.add_argument("--active", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--architectures", default="standard,topk")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    data = SparseCombination(SparseCombinationConfig(dims=args.dims, features=args.features, active=args.active,
                                                     seed=args.seed))
    configs = [lab_config(a, data, 2.0, args.seed) for a in args.architectures.split(",")]
    load_before = os.getloadavg()
    runs, cpu_share, cpu_per_step = [], {}, {}
    for config in configs:  # one lab each, to time each architecture's CPU use on its own
        lab = GroundTruthLab(data, [config], args.seconds)
        cpu, wall = time.process_time(), time.perf_counter()
        lab.run()
        cpu_s, wall_s = time.process_time() - cpu, time.perf_counter() - wall
        result = lab.result()
        cpu_share[config.architecture] = cpu_s / wall_s
        cpu_per_step[config.architecture] = cpu_s / max(1, result.runs[0].steps)  # incl. curve points
        runs += result.runs
    result.runs = runs
    load_after = os.getloadavg()

    print(f"{args.features} true features in {args.dims} dims, k = {args.active:g}; {args.seconds:g} s of training "
          f"each, {args.threads} thread(s); load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
          f"({os.cpu_count()} cores)")
    print(f"{'model':<32}{'MMCS':>8}{'Hung.':>8}{'EV':>8}{'L0':>8}{'dead':>7}{'steps':>7}{'steps/s':>9}"
          f"{'CPU share':>11}{'both>=.99 at':>22}{'CPU s to .99':>14}")
    for run in result.runs:
        m = run.metrics
        hits = [first_reach(run.curve, c) for c in ("mmcs", "hungarian")]
        both = None if None in hits else max(hits)
        at_text = f"{both[0]:.1f} s, step {both[1]}" if both else "never"
        cpu_text = f"{both[1] * cpu_per_step[run.architecture]:.1f}" if both else "-"
        print(f"{run.label[:31]:<32}{m.mmcs:>8.3f}{m.hungarian:>8.3f}{m.explained_variance:>8.3f}{m.l0:>8.2f}"
              f"{m.dead_fraction:>7.3f}{run.steps:>7}{run.steps / run.seconds:>9.1f}"
              f"{cpu_share[run.architecture]:>10.0%}{at_text:>22}{cpu_text:>14}")
    c = result.chance
    print(f"{'chance (random directions)':<32}{c.mmcs:>8.3f}{c.hungarian:>8.3f}")
    runs = {run.architecture: run for run in result.runs}
    if "topk" in runs:
        m = runs["topk"].metrics
        verdict = "met" if m.mmcs >= TARGET and m.hungarian >= TARGET else "NOT met"
        print(f"target (TopK MMCS and Hungarian >= {TARGET} within {args.seconds:g} s): {verdict}")


if __name__ == "__main__":
    main()
