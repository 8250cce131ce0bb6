"""Feature absorption per architecture on the hierarchical generator (its defaults), over seeds.

    python benchmarks/bench_absorption.py                      # seeds 0-4 and 10-14, 1000 steps each
    python benchmarks/bench_absorption.py --seeds 0,1 --steps 300

Every registered architecture trains with its lab recipe (``lab_config``: 2x width, k = the mean
active count) on ``Hierarchical(HierarchicalConfig(seed=s))`` for a fixed number of steps (not
seconds, so that the numbers do not depend on the machine's load), and
``sae_core.ground_truth.hierarchy`` measures, on 4,096 held-out samples, absorption (share of
parent-and-child samples where the parent's latent is silent), missed alone (the same without a
child) and child lean, each the mean over parents. Printed: the mean (min-max) over each group
of seeds, per architecture. Seeds 0-4 are the ones the generator's defaults were chosen on;
10-14 are held out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sae_core import limits  # noqa: E402
from sae_core.architectures import ARCHITECTURES  # noqa: E402
from sae_core.ground_truth.generators import Hierarchical, HierarchicalConfig  # noqa: E402
from sae_core.ground_truth.lab import GroundTruthLab, lab_config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4;10,11,12,13,14", help="groups of seeds, ';' between groups")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for group in args.seeds.split(";"):
        for seed in map(int, group.split(",")):
            data = Hierarchical(HierarchicalConfig(seed=seed))
            configs = [lab_config(a, data, 2.0, seed, epochs=args.steps) for a in ARCHITECTURES]
            for run in GroundTruthLab(data, configs, limits.MAX_SYNTH_SECONDS).run().result().runs:
                rows.append({"seeds": group, "seed": seed, "model": run.label, **run.summary()})
                print(f"seed {seed} {run.label}: " + " ".join(f"{k} {rows[-1][k]:.3f}" for k in
                      ("mmcs", "absorption", "missed_alone", "child_lean")), flush=True)
    table = pd.DataFrame(rows)
    columns = ["absorption", "missed_alone", "child_lean", "mmcs"]
    summary = table.groupby(["seeds", "model"], sort=False)[columns].agg(
        lambda v: f"{np.mean(v):.3f} ({np.min(v):.2f}-{np.max(v):.2f})")
    print(summary.to_string())


if __name__ == "__main__":
    main()
