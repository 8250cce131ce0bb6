"""Same seed, same settings, same numbers: one hash over a fixed set of runs.

    python benchmarks/behaviour_hash.py            # prints one line per run and the overall hash

Each architecture (its TrainConfig defaults on the founding table, plus the recommended
recipe for the article's SAE), the stability path (seeds trained together), the sweep path
(a grid as one batched model, and a sweep of the architecture's sparsity knob) and the
ground-truth lab (a fixed number of steps). A run's digest is SHA-256 over its feature
activations, decoder directions and loss history as float32 bytes. A refactor that claims
"same behaviour" must leave every line unchanged (on the same machine: other CPUs may round
differently).
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sae_core.table import read_table, values_of  # noqa: E402
from sae_core.training import RECOMMENDED, TrainConfig, train, train_seeds  # noqa: E402
from sae_core.sweep import sweep  # noqa: E402

try:  # the layout after the contract issue
    from sae_core.ground_truth.generators import SparseCombination, SparseCombinationConfig
    from sae_core.ground_truth.lab import GroundTruthLab, lab_config
except ImportError:  # the flat layout before it
    from sae_core.ground_truth import GroundTruthLab, lab_config
    from sae_core.synthetic import SparseCombination, SparseCombinationConfig

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURES = ("standard", "topk", "batchtopk", "jumprelu")


def digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(np.asarray(a, dtype=np.float32)).tobytes())
    return h.hexdigest()[:16]


def result_digest(result) -> str:
    history = result.history.drop(columns=["epoch"]).to_numpy(dtype=np.float64)
    return digest(result.feature_activations, result.decoder_directions, history)


def runs() -> dict[str, str]:
    torch.set_num_threads(1)
    x = values_of(read_table(ROOT / "data" / "seed_tokens.csv"))
    out = {}
    for arch in ARCHITECTURES:
        config = TrainConfig(architecture=arch, hidden_dim=8, epochs=300, lr=0.01, k=2, seed=3)
        out[f"train {arch}"] = result_digest(train(x, config))
    out["train recommended"] = result_digest(train(x, RECOMMENDED))
    wide = values_of(read_table(ROOT / "data" / "colors_and_shapes.csv"))
    out["train mini-batches"] = result_digest(train(np.tile(wide, (40, 1)), replace(
        RECOMMENDED, batch_size=128, epochs=20, resample_dead_every=5)))
    seeds = train_seeds(x, replace(RECOMMENDED, epochs=300), [0, 1, 2, 3])
    out["stability 4 seeds"] = digest(*[r.feature_activations for r in seeds], *[r.decoder_directions for r in seeds])
    grid = sweep(x, replace(RECOMMENDED, epochs=200), [4, 8], [0.01, 0.1], [0, 1])
    out["sweep 2x2x2"] = digest(grid.table[["mse", "explained_variance", "l0"]].to_numpy(dtype=np.float64),
                                *[r.decoder_directions for r in grid.results])
    data = SparseCombination(SparseCombinationConfig(dims=16, features=24, active=3.0, seed=1))
    for arch in ARCHITECTURES:
        config = lab_config(arch, data, 2.0, 0, epochs=60)
        run = GroundTruthLab(data, [config], 120.0).run().result().runs[0]
        out[f"lab {arch}"] = digest(run.decoder_HD, run.cosines_FH,
                                    np.array(list(run.metrics.to_dict().values()), dtype=np.float64))
    return out


def main() -> None:
    lines = runs()
    for name, value in lines.items():
        print(f"{name:<22} {value}")
    print(f"{'overall':<22} {hashlib.sha256(''.join(lines.values()).encode()).hexdigest()[:16]}")


if __name__ == "__main__":
    main()
