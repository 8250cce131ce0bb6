"""Training speed, printed as ratios against baselines measured in the same run.

    python benchmarks/bench_training.py            # all four measurements (~2-4 min on 2 cores)
    python benchmarks/bench_training.py --quick    # fewer repeats, smaller large run

1. founding table, 20 seeds x 1000 epochs: the batched trainer vs the article's loop run 20 times
2. founding table, one run: the trainer vs the article's loop
3. large run (4096 x 384 inputs, 1536 features, fp32, 50 steps): samples/s of the trainer vs
   a plain PyTorch loop of the same model, and vs the step's matrix multiplications alone
4. peak memory (resident set) of the large run, trainer and plain loop, each in a fresh process

Baselines are "the article's loop": nn.Linear encoder + ReLU, nn.Linear decoder, MSELoss +
w * mean|f|, Adam, zero_grad/backward/step each epoch.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sae_core.table import read_table, values_of  # noqa: E402
from sae_core.training import TrainConfig, Trainer  # noqa: E402

LARGE = dict(n=4096, d=384, h=1536, steps=50)


def article_loop(x: torch.Tensor, hidden: int, sparsity: float, lr: float, epochs: int, seed: int):
    """The founding article's training loop, as written there."""
    torch.manual_seed(seed)
    encoder = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU())
    decoder = torch.nn.Linear(hidden, x.shape[1])
    optimizer = torch.optim.Adam(list(encoder.parameters()) + list(decoder.parameters()), lr=lr)
    criterion = torch.nn.MSELoss()
    for _ in range(epochs):
        encoded = encoder(x)
        decoded = decoder(encoded)
        loss = criterion(decoded, x) + sparsity * torch.mean(torch.abs(encoded))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return encoder, decoder


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_founding(repeats: int) -> list[tuple[str, float, float]]:
    x = torch.tensor(values_of(read_table(ROOT / "data" / "seed_tokens.csv")))
    cfg = TrainConfig(hidden_dim=8, sparsity_weight=0.01, lr=0.01, epochs=1000)
    seeds = list(range(20))
    batched = best_of(lambda: Trainer(x, [TrainConfig(**{**cfg.to_dict(), "seed": s}) for s in seeds]).fit(), repeats)
    loop20 = best_of(lambda: [article_loop(x, 8, 0.01, 0.01, 1000, s) for s in seeds], repeats)
    single = best_of(lambda: Trainer(x, cfg).fit(), repeats)
    loop1 = best_of(lambda: article_loop(x, 8, 0.01, 0.01, 1000, 0), repeats)
    return [("1. founding table, 20 seeds x 1000 epochs", loop20, batched),
            ("2. founding table, 1 run x 1000 epochs", loop1, single)]


def large_inputs(n: int, d: int):
    gen = torch.Generator().manual_seed(0)
    return torch.randn(n, d, generator=gen)


def run_large_trainer(n: int, d: int, h: int, steps: int) -> float:
    x = large_inputs(n, d)
    trainer = Trainer(x, TrainConfig(hidden_dim=h, sparsity_weight=1e-3, lr=1e-3, epochs=steps + 2))
    trainer.step(), trainer.step()  # warm-up (allocator, Adam state)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.step()
    return time.perf_counter() - start


def run_large_plain(n: int, d: int, h: int, steps: int) -> float:
    x = large_inputs(n, d)
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.ReLU())
    decoder = torch.nn.Linear(h, d)
    optimizer = torch.optim.Adam(list(encoder.parameters()) + list(decoder.parameters()), lr=1e-3)
    criterion = torch.nn.MSELoss()

    def step():
        encoded = encoder(x)
        loss = criterion(decoder(encoded), x) + 1e-3 * torch.mean(torch.abs(encoded))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step(), step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - start


def run_large_matmuls(n: int, d: int, h: int, steps: int) -> float:
    """Only the five matrix products one training step needs: the machine's limit."""
    x = large_inputs(n, d)
    W_enc, W_dec = torch.randn(d, h) * 0.05, torch.randn(h, d) * 0.05
    f, g = torch.empty(n, h), torch.empty(n, d)
    dW_enc, dW_dec, df = torch.empty(d, h), torch.empty(h, d), torch.empty(n, h)

    def step():
        torch.mm(x, W_enc, out=f)  # encoder
        torch.mm(f, W_dec, out=g)  # decoder
        torch.mm(f.T, g, out=dW_dec)  # decoder weight gradient
        torch.mm(g, W_dec.T, out=df)  # gradient into the features
        torch.mm(x.T, df, out=dW_enc)  # encoder weight gradient

    step(), step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - start


CHILDREN = {"trainer": run_large_trainer, "plain": run_large_plain, "matmuls": run_large_matmuls}


def child(kind: str, size: dict) -> None:
    """Run one large variant in this (fresh) process; print seconds and peak RSS growth."""
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seconds = CHILDREN[kind](**size)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024, "growth_mb": (peak_kb - base_kb) / 1024}))


def in_fresh_process(kind: str, size: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--size", json.dumps(size)],
                         check=True, capture_output=True, text=True, env=os.environ.copy())
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, a quarter-size large run")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, json.loads(args.size))
        return
    repeats = 1 if args.quick else 3
    size = dict(LARGE, n=LARGE["n"] // 4) if args.quick else dict(LARGE)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores")
    print(f"{'measurement':<46} {'baseline s':>11} {'ours s':>9} {'speed-up':>9}")
    for name, baseline, ours in bench_founding(repeats):
        print(f"{name:<46} {baseline:>11.3f} {ours:>9.3f} {baseline / ours:>8.1f}x")
    runs = {kind: min((in_fresh_process(kind, size) for _ in range(repeats)), key=lambda r: r["seconds"])
            for kind in ("matmuls", "plain", "trainer")}
    samples = size["n"] * size["steps"]
    label = f"3. large {size['n']}x{size['d']}, {size['h']} features, {size['steps']} steps"
    print(f"{label:<46} {runs['plain']['seconds']:>11.3f} {runs['trainer']['seconds']:>9.3f} "
          f"{runs['plain']['seconds'] / runs['trainer']['seconds']:>8.2f}x")
    for kind in ("matmuls", "plain", "trainer"):
        print(f"   {kind:<10} {samples / runs[kind]['seconds']:>12,.0f} samples/s")
    print(f"   trainer reaches {runs['matmuls']['seconds'] / runs['trainer']['seconds']:.1%} of the matmul-only limit "
          f"(plain loop: {runs['matmuls']['seconds'] / runs['plain']['seconds']:.1%})")
    print(f"4. peak memory of the large run: trainer {runs['trainer']['peak_mb']:.0f} MB "
          f"(+{runs['trainer']['growth_mb']:.0f} MB after start-up), plain loop {runs['plain']['peak_mb']:.0f} MB "
          f"(+{runs['plain']['growth_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
