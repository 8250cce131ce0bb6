"""Our trainer on a GPU: the same runs on cpu and cuda, side by side (needs a CUDA machine).

    python benchmarks/gpu_check.py [--json OUT.json]

1. Every architecture on the founding table (two members of different widths and knobs,
   dead-feature resampling and AuxK on, mini-batches): the run finishes on cuda with every
   tensor there, and its loss and feature activations match the cpu run's (float32; the two
   devices round differently, so within a tolerance, not bit for bit).
2. The large run (4,096 tokens x 384 dims -> 1,536 features, 50 steps) per architecture:
   samples per second on cuda and on cpu (this machine's cores), and the ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sae_core.table import read_table, values_of  # noqa: E402
from sae_core.training import TrainConfig, Trainer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARCHS = ("standard", "topk", "batchtopk", "jumprelu")


def small_runs() -> list[dict]:
    x = np.tile(values_of(read_table(ROOT / "data" / "seed_tokens.csv")), (4, 1))
    rows = []
    for arch in ARCHS:
        base = TrainConfig(architecture=arch, epochs=300, lr=0.01, k=2, batch_size=16, resample_dead_every=50,
                           auxk_weight=0.25, tied_init=True, init_decoder_bias_to_mean=True)
        knob = {"k": 1} if arch in ("topk", "batchtopk") else {"sparsity_weight": 0.1}
        members = [replace(base, hidden_dim=6), replace(base, hidden_dim=8, seed=1, **knob)]
        out = {}
        for device in ("cpu", "cuda"):
            trainer = Trainer(x, members, device=device).fit()
            results = trainer.results()
            out[device] = (np.stack([r.history["total"].to_numpy()[-1] for r in results]),
                           [r.feature_activations for r in results], trainer.model.W_dec.device.type)
        loss_gap = float(np.abs(out["cpu"][0] - out["cuda"][0]).max())
        act_gap = max(float(np.abs(a - b).max()) for a, b in zip(out["cpu"][1], out["cuda"][1]))
        rows.append({"architecture": arch, "model_device": out["cuda"][2], "final_loss_cpu": out["cpu"][0].tolist(),
                     "final_loss_cuda": out["cuda"][0].tolist(), "max_loss_gap": loss_gap,
                     "max_activation_gap": act_gap})
        print(f"{arch:10s} on {out['cuda'][2]}: final loss cpu {out['cpu'][0].round(6).tolist()} "
              f"cuda {out['cuda'][0].round(6).tolist()}, max activation gap {act_gap:.2e}", flush=True)
    return rows


def large_runs(steps: int = 50) -> list[dict]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4096, 384, generator=gen)
    rows = []
    for arch in ARCHS:
        config = TrainConfig(architecture=arch, hidden_dim=1536, epochs=steps + 2, lr=1e-3, k=32, auxk_weight=0.0,
                             sparsity_weight=1e-3, batch_size=4096)
        speeds = {}
        for device in ("cuda", "cpu"):
            trainer = Trainer(x, config, device=device)
            trainer.step(), trainer.step()  # warm-up
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(steps):
                trainer.step()
            if device == "cuda":
                torch.cuda.synchronize()
            speeds[device] = steps * x.shape[0] / (time.perf_counter() - start)
        rows.append({"architecture": arch, "samples_per_s_cuda": speeds["cuda"], "samples_per_s_cpu": speeds["cpu"],
                     "cuda_over_cpu": speeds["cuda"] / speeds["cpu"]})
        print(f"{arch:10s} 4096x384 -> 1536, {steps} steps: cuda {speeds['cuda']:,.0f} samples/s, "
              f"cpu ({torch.get_num_threads()} threads) {speeds['cpu']:,.0f}: {speeds['cuda'] / speeds['cpu']:.1f}x",
              flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this check needs a GPU")
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}, cpu threads {torch.get_num_threads()}")
    report = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
              "small": small_runs(), "large": large_runs()}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
