"""Training speed, printed as ratios against baselines measured in the same run.

    python benchmarks/bench_training.py            # every measurement (~5-10 min on 2 cores)
    python benchmarks/bench_training.py --quick    # fewer repeats, smaller large runs

1. founding table, 20 seeds x 1000 epochs: the batched trainer vs the article's loop run 20 times
2. founding table, one run: the trainer vs the article's loop
3. large run (4096 x 384 inputs, 1536 features, fp32, 50 steps), for every architecture: samples/s
   of the trainer vs a plain PyTorch loop of the same model (autograd, torch.optim.Adam), and vs
   the step's matrix multiplications alone
4. peak memory (resident set) of the standard large run, trainer and plain loop, each in a fresh process
5. the CLI: wall time of ``python -m sae_core stability seed_tokens.csv --seeds 20`` (a fresh
   process: imports, reading, training, matching) vs the article's loop run 20 times in one process

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
K = 32  # active features per token of the TopK family in the large run
ARCH_KEYS = ("standard", "topk", "batchtopk", "jumprelu")


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


def large_config(arch: str, h: int, steps: int) -> TrainConfig:
    return TrainConfig(architecture=arch, hidden_dim=h, sparsity_weight=1e-3, lr=1e-3, epochs=steps + 2, k=K,
                       auxk_weight=0.0)


def run_large_trainer(arch: str, n: int, d: int, h: int, steps: int) -> float:
    x = large_inputs(n, d)
    trainer = Trainer(x, large_config(arch, h, steps))
    trainer.step(), trainer.step()  # warm-up (allocator, Adam state)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.step()
    return time.perf_counter() - start


class _JumpReLU(torch.autograd.Function):
    """pre * (pre > theta), the straight-through estimator for theta (rectangle window of width eps)."""

    @staticmethod
    def forward(ctx, pre, theta, eps):
        ctx.save_for_backward(pre, theta)
        ctx.eps = eps
        return pre * (pre > theta)

    @staticmethod
    def backward(ctx, grad):
        pre, theta = ctx.saved_tensors
        window = ((pre - theta).abs() < ctx.eps / 2).to(pre) / ctx.eps
        return (pre > theta) * grad, -(theta * window * grad).sum(dim=0), None


class _Step(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pre, theta, eps):
        ctx.save_for_backward(pre, theta)
        ctx.eps = eps
        return (pre > theta).to(pre)

    @staticmethod
    def backward(ctx, grad):
        pre, theta = ctx.saved_tensors
        window = ((pre - theta).abs() < ctx.eps / 2).to(pre) / ctx.eps
        return None, -(window * grad).sum(dim=0), None


def plain_loss(arch: str, encoder, decoder, theta, x):
    """Each architecture's loss the way one writes it in plain PyTorch (what SAELens does, unbatched)."""
    pre = encoder(x)
    if arch == "standard":
        f = torch.relu(pre)
        penalty = 1e-3 * torch.mean(torch.abs(f))
    elif arch == "topk":
        top = pre.topk(K, dim=-1)
        f = torch.zeros_like(pre).scatter(-1, top.indices, top.values.relu())
        penalty = 0.0
    elif arch == "batchtopk":
        acts = pre.relu().flatten()
        top = acts.topk(K * x.shape[0])
        f = torch.zeros_like(acts).scatter(-1, top.indices, top.values).view_as(pre)
        penalty = 0.0
    else:
        f = _JumpReLU.apply(pre, theta, 0.05)
        penalty = 1e-3 * _Step.apply(pre, theta, 0.05).sum(dim=-1).mean()
    return torch.nn.functional.mse_loss(decoder(f), x) + penalty


def run_large_plain(arch: str, n: int, d: int, h: int, steps: int) -> float:
    x = large_inputs(n, d)
    torch.manual_seed(0)
    encoder, decoder = torch.nn.Linear(d, h), torch.nn.Linear(h, d)
    theta = torch.nn.Parameter(torch.full((h,), 0.01))
    params = list(encoder.parameters()) + list(decoder.parameters()) + ([theta] if arch == "jumprelu" else [])
    optimizer = torch.optim.Adam(params, lr=1e-3)

    def step():
        loss = plain_loss(arch, encoder, decoder, theta, x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if arch == "jumprelu":
            with torch.no_grad():
                theta.clamp_(min=0)

    step(), step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - start


def run_large_matmuls(arch: str, n: int, d: int, h: int, steps: int) -> float:
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
    seconds = CHILDREN[kind](**size)  # size holds the architecture too
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
    founding = bench_founding(repeats)
    for name, baseline, ours in founding:
        print(f"{name:<46} {baseline:>11.3f} {ours:>9.3f} {baseline / ours:>8.1f}x")
    loop20 = founding[0][1]
    best = lambda kind, arch: min((in_fresh_process(kind, dict(size, arch=arch)) for _ in range(repeats)),  # noqa: E731
                                  key=lambda r: r["seconds"])
    matmuls = best("matmuls", "standard")  # the same dense products bound every architecture
    for arch in ARCH_KEYS:
        runs = {"matmuls": matmuls, "plain": best("plain", arch), "trainer": best("trainer", arch)}
        samples = size["n"] * size["steps"]
        label = f"3. {arch}: {size['n']}x{size['d']}, {size['h']} features, {size['steps']} steps"
        print(f"{label:<46} {runs['plain']['seconds']:>11.3f} {runs['trainer']['seconds']:>9.3f} "
              f"{runs['plain']['seconds'] / runs['trainer']['seconds']:>8.2f}x")
        for kind in ("matmuls", "plain", "trainer"):
            print(f"   {kind:<10} {samples / runs[kind]['seconds']:>12,.0f} samples/s")
        print(f"   trainer reaches {runs['matmuls']['seconds'] / runs['trainer']['seconds']:.1%} of the matmul-only "
              f"limit (plain loop: {runs['matmuls']['seconds'] / runs['plain']['seconds']:.1%})")
        if arch == "standard":
            print(f"4. peak memory of the large run: trainer {runs['trainer']['peak_mb']:.0f} MB "
                  f"(+{runs['trainer']['growth_mb']:.0f} MB after start-up), plain loop "
                  f"{runs['plain']['peak_mb']:.0f} MB (+{runs['plain']['growth_mb']:.0f} MB)")
    cli = min(cli_seconds() for _ in range(repeats))
    print(f"{'5. CLI stability, 20 seeds (wall, fresh process)':<46} {loop20:>11.3f} {cli:>9.3f} {loop20 / cli:>8.1f}x")


def cli_seconds() -> float:
    """Wall time of the 20-seed stability CLI in a fresh process, imports included."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sae_core", "stability", str(ROOT / "data" / "seed_tokens.csv"),
                    "--seeds", "20", "--json"], check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - start

if __name__ == "__main__":
    main()
