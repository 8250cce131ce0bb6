"""Training speed, printed as ratios against baselines measured in the same run.

    python benchmarks/bench_training.py            # every measurement (~5-10 min on 2 cores)
    python benchmarks/bench_training.py --quick    # fewer repeats, smaller large runs
    python benchmarks/bench_training.py --large-only --threads 2 --architectures standard,topk

1. founding table, 20 seeds x 1000 epochs: the batched trainer vs the article's loop run 20 times
2. founding table, one run: the trainer vs the article's loop
3. large run (4096 x 384 inputs -> 1536 features, fp32; TopK family k = 32), for every architecture,
   side by side in this one process, interleaved repeats (ours, SAELens, plain, bound, ours, ...):
   samples/s of our trainer's step, of SAELens' own training step for the same model and data (its
   TrainingSAE from our hand-off config, ``training_forward_pass``, backward, ``torch.optim.Adam``),
   of a plain PyTorch loop (nn.Linear, autograd, torch.optim.Adam) and of the step's five matrix
   multiplications alone (the bound); medians over repeats with their spread, ours / SAELens,
   ours / plain and the share of the bound, then a summary table (the README's)
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
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sae_core import handoff  # noqa: E402
from sae_core.table import read_table, values_of  # noqa: E402
from sae_core.training import TrainConfig, Trainer  # noqa: E402

LARGE = dict(n=4096, d=384, h=1536, steps=50)
K = 32  # active features per token of the TopK family in the large run
ARCH_KEYS = ("standard", "topk", "batchtopk", "jumprelu", "matryoshka")


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


def timed(step, steps: int) -> tuple[float, float]:
    """Wall and CPU seconds of ``steps`` calls (CPU: this process, all threads; steadier on a shared machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    return time.perf_counter() - wall, time.process_time() - cpu


def large_config(arch: str, h: int) -> TrainConfig:
    """The large run's settings (the TopK family without AuxK; epochs do not matter: steps are timed)."""
    return TrainConfig(architecture=arch, hidden_dim=h, sparsity_weight=1e-3, lr=1e-3, epochs=100, k=K,
                       auxk_weight=0.0)


def ours_step(arch: str, x: torch.Tensor, h: int):
    """One step of our trainer: forward, hand-written or autograd backward, our Adam."""
    return Trainer(x, large_config(arch, h)).step


def saelens_step(arch: str, x: torch.Tensor, h: int):
    """SAELens' own training step for the same model: its TrainingSAE (the config our hand-off writes,
    sae_core/handoff.py), ``training_forward_pass``, backward, ``torch.optim.Adam``."""
    import sae_lens
    from sae_lens.registry import get_sae_training_class
    from sae_lens.saes.sae import TrainStepInput

    spec = handoff.saelens_spec(large_config(arch, h), "model", "hook", x.shape[1], x.shape[0], d_sae=h,
                                batch_size_tokens=x.shape[0])
    cfg = getattr(sae_lens, spec["sae_class"])(**spec["sae"])
    torch.manual_seed(0)
    sae = get_sae_training_class(cfg.architecture())[0](cfg)
    optimizer = torch.optim.Adam(sae.parameters(), lr=1e-3)
    coefficients = {name: getattr(c, "value", c) for name, c in sae.get_coefficients().items()}
    step_input = TrainStepInput(sae_in=x, coefficients=coefficients, dead_neuron_mask=torch.zeros(h, dtype=torch.bool),
                                n_training_steps=0, is_logging_step=False)

    def step():
        optimizer.zero_grad()
        sae.training_forward_pass(step_input).loss.backward()
        optimizer.step()

    return step


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
    penalty = 0.0
    if arch == "standard":
        f = torch.relu(pre)
        penalty = 1e-3 * torch.mean(torch.abs(f))
    elif arch == "topk":
        top = pre.topk(K, dim=-1)
        f = torch.zeros_like(pre).scatter(-1, top.indices, top.values.relu())
    elif arch in ("batchtopk", "matryoshka"):
        acts = pre.relu().flatten()
        top = acts.topk(K * x.shape[0])
        f = torch.zeros_like(acts).scatter(-1, top.indices, top.values).view_as(pre)
        if arch == "matryoshka":  # the inner prefixes (H/4, H/2) reconstruct alone too
            h = pre.shape[1]
            penalty = sum(torch.nn.functional.mse_loss(f[:, :w] @ decoder.weight[:, :w].T + decoder.bias, x)
                          for w in (h // 4, h // 2))
    else:
        f = _JumpReLU.apply(pre, theta, 0.05)
        penalty = 1e-3 * _Step.apply(pre, theta, 0.05).sum(dim=-1).mean()
    return torch.nn.functional.mse_loss(decoder(f), x) + penalty


def plain_step(arch: str, x: torch.Tensor, h: int):
    """A plain PyTorch loop of the same model: nn.Linear, autograd, torch.optim.Adam."""
    d = x.shape[1]
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

    return step


def bound_step(arch: str, x: torch.Tensor, h: int):
    """Only the five matrix products one dense training step needs (the machine's limit): encoder, decoder,
    decoder weight gradient, gradient into the features, encoder weight gradient."""
    n, d = x.shape
    W_enc, W_dec = torch.randn(d, h) * 0.05, torch.randn(h, d) * 0.05
    f, g = torch.empty(n, h), torch.empty(n, d)
    dW_enc, dW_dec, df = torch.empty(d, h), torch.empty(h, d), torch.empty(n, h)

    def step():
        torch.mm(x, W_enc, out=f)
        torch.mm(f, W_dec, out=g)
        torch.mm(f.T, g, out=dW_dec)
        torch.mm(g, W_dec.T, out=df)
        torch.mm(x.T, df, out=dW_enc)

    return step


KINDS = {"ours": ours_step, "SAELens": saelens_step, "plain": plain_step, "bound": bound_step}


def side_by_side(arch: str, n: int, d: int, h: int, steps: int, repeats: int) -> dict[str, list[tuple[float, float]]]:
    """Each kind's (wall, CPU) seconds for ``steps`` steps, ``repeats`` times, interleaved (ours, SAELens,
    plain, bound, ours, ...) in this process, so a busy moment on a shared machine hits all of them."""
    x = large_inputs(n, d)
    steps_of = {kind: make(arch, x, h) for kind, make in KINDS.items()}
    for step in steps_of.values():  # warm-up: allocator, Adam state
        step(), step()
    times = {kind: [] for kind in KINDS}
    for _ in range(repeats):
        for kind, step in steps_of.items():
            times[kind].append(timed(step, steps))
    return times


def report_side_by_side(arch: str, size: dict, times: dict) -> dict:
    """Print one architecture's block; return its row for the summary (median samples/s, ratios)."""
    samples = size["n"] * size["steps"]
    rate = {kind: [samples / wall for wall, _ in t] for kind, t in times.items()}
    median = {kind: statistics.median(r) for kind, r in rate.items()}
    cpu = {kind: statistics.median(c for _, c in t) for kind, t in times.items()}
    print(f"3. {arch}: {size['n']}x{size['d']} -> {size['h']} features, {size['repeats']} x {size['steps']} steps "
          "interleaved (samples/s: median, min-max)")
    for kind in KINDS:
        print(f"   {kind:<8} {median[kind]:>10,.0f}   ({min(rate[kind]):,.0f}-{max(rate[kind]):,.0f})")
    row = {"arch": arch, **median}
    for other, name in (("SAELens", "vs_saelens"), ("plain", "vs_plain"), ("bound", "of_bound")):
        per_repeat = [a / b for a, b in zip(rate["ours"], rate[other])]
        row[name] = median["ours"] / median[other]
        row[name + "_cpu"] = cpu[other] / cpu["ours"]
        row[name + "_range"] = (min(per_repeat), max(per_repeat))
    print(f"   ours / SAELens {row['vs_saelens']:.2f}x (per repeat {row['vs_saelens_range'][0]:.2f}-"
          f"{row['vs_saelens_range'][1]:.2f}), ours / plain {row['vs_plain']:.2f}x, ours reach "
          f"{row['of_bound']:.1%} of the five-GEMM bound (per repeat {row['of_bound_range'][0]:.1%}-"
          f"{row['of_bound_range'][1]:.1%})")
    row["ceiling"] = median["bound"] / median["SAELens"]
    print(f"   a step at the bound would be {row['ceiling']:.2f}x SAELens (SAELens reaches "
          f"{1 / row['ceiling']:.1%} of the bound): the most five dense products allow")
    print(f"   by CPU seconds: ours / SAELens {row['vs_saelens_cpu']:.2f}x, ours / plain {row['vs_plain_cpu']:.2f}x, "
          f"{row['of_bound_cpu']:.1%} of the bound")
    return row


def run_large_trainer(arch: str, n: int, d: int, h: int, steps: int) -> tuple[float, float]:
    step = ours_step(arch, large_inputs(n, d), h)
    step(), step()
    return timed(step, steps)


def run_large_plain(arch: str, n: int, d: int, h: int, steps: int) -> tuple[float, float]:
    step = plain_step(arch, large_inputs(n, d), h)
    step(), step()
    return timed(step, steps)


CHILDREN = {"trainer": run_large_trainer, "plain": run_large_plain}


def child(kind: str, size: dict) -> None:
    """Run one large variant in this (fresh) process; print seconds and peak RSS growth."""
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seconds, cpu = CHILDREN[kind](**size)  # size holds the architecture too
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": peak_kb / 1024, "growth_mb": (peak_kb - base_kb) / 1024}))


def in_fresh_process(kind: str, size: dict, threads: int | None = None) -> dict:
    env = os.environ.copy() | ({"OMP_NUM_THREADS": str(threads)} if threads else {})
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--size", json.dumps(size)],
                         check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, a quarter-size large run")
    parser.add_argument("--threads", type=int, help="torch threads for every measurement (default: torch's)")
    parser.add_argument("--large-only", action="store_true", help="only the large runs (3, 4)")
    parser.add_argument("--architectures", default=",".join(ARCH_KEYS),
                        help=f"comma-separated architectures for (3) (default: {','.join(ARCH_KEYS)})")
    parser.add_argument("--repeats", type=int, help="interleaved repeats in (3) (default 5, --quick 3)")
    parser.add_argument("--steps", type=int, help="steps per repeat in (3) (default 10, --quick 5)")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        child(args.child, json.loads(args.size))
        return
    repeats = 1 if args.quick else 3
    size = dict(LARGE, n=LARGE["n"] // 4) if args.quick else dict(LARGE)
    size["steps"] = args.steps or (5 if args.quick else 10)
    size["repeats"] = args.repeats or (3 if args.quick else 5)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores")
    print(f"{'measurement':<46} {'baseline s':>11} {'ours s':>9} {'speed-up':>9}")
    founding = [] if args.large_only else bench_founding(repeats)
    for name, baseline, ours in founding:
        print(f"{name:<46} {baseline:>11.3f} {ours:>9.3f} {baseline / ours:>8.1f}x")
    # Before the large runs: a child process starts with its parent's peak resident set as its own.
    memory = {kind: in_fresh_process(kind, dict(arch="standard", n=size["n"], d=size["d"], h=size["h"], steps=5),
                                     args.threads) for kind in CHILDREN}
    rows = []
    for arch in args.architectures.split(","):
        times = side_by_side(arch, size["n"], size["d"], size["h"], size["steps"], size["repeats"])
        rows.append(report_side_by_side(arch, size, times))
    print("\n| architecture | ours samples/s | SAELens samples/s | ours / SAELens | bound / SAELens | ours / plain loop "
          "| share of the five-GEMM bound |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['arch']} | {r['ours']:,.0f} | {r['SAELens']:,.0f} | {r['vs_saelens']:.2f}x | {r['ceiling']:.2f}x "
              f"| {r['vs_plain']:.2f}x | {r['of_bound']:.0%} |")
    print(f"4. peak memory of the standard large run: trainer {memory['trainer']['peak_mb']:.0f} MB "
          f"(+{memory['trainer']['growth_mb']:.0f} MB after start-up), plain loop "
          f"{memory['plain']['peak_mb']:.0f} MB (+{memory['plain']['growth_mb']:.0f} MB)")
    if founding:
        loop20, cli = founding[0][1], min(cli_seconds() for _ in range(repeats))
        print(f"{'5. CLI stability, 20 seeds (wall, fresh process)':<46} {loop20:>11.3f} {cli:>9.3f} {loop20 / cli:>8.1f}x")


def cli_seconds() -> float:
    """Wall time of the 20-seed stability CLI in a fresh process, imports included."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sae_core", "stability", str(ROOT / "data" / "seed_tokens.csv"),
                    "--seeds", "20", "--json"], check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - start

if __name__ == "__main__":
    main()
