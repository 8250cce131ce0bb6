"""Real model: extraction speed against a plain transformers loop, SAE steps/s on the real table, page memory.

    python benchmarks/bench_extraction.py [--tokens 4000] [--layer 3]

1. Extraction tokens/s of ``sae_core.real_model.extraction.extract`` against a plain ``transformers`` loop over
   the same documents in the same run (batches of 32 in text order, padding, output_hidden_states,
   keep the layer's rows without [CLS]/[SEP]); both with one torch thread, best of 3 alternating runs.
2. SAE training steps/s on the extracted table with the real-table defaults (TopK) and with ReLU + L1.
3. Peak memory (VmHWM, the peak resident set) of the Real model page run by AppTest in a fresh process (load model,
   extract the bundled corpus, train 2 epochs, dashboards), beside the same process running only
   the Train page of the toy example.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from sae_core import limits  # noqa: E402
from sae_core.real_model.corpora import founding_story  # noqa: E402
from sae_core.real_model.extraction import extract, load_model  # noqa: E402
from sae_core.training import REAL_TABLE, Trainer  # noqa: E402

PAGE_RUN = r"""
import json, sys
sys.path.insert(0, {tests!r})
from apptest_helpers import click, start_app
real = {real}
at = start_app("app_pages/real_model.py" if real else "app_pages/train.py")
if real:
    at.number_input(key="w_real_max_tokens").set_value({tokens}).run()
    click(at, "Extract activations")
    at.number_input(key="w_real_epochs").set_value(2).run()
    click(at, "Train")
    assert at.session_state.real_result is not None
else:
    click(at, "Train")
# VmHWM, not ru_maxrss: ru_maxrss survives exec and would report the forking parent's size
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({{"max_rss_mb": int(hwm.split()[1]) / 1024}}))
"""


def plain_loop(documents: list[str], layer: int) -> int:
    """What one would write with transformers alone: the baseline."""
    loaded = load_model()
    tokenizer, model = loaded.tokenizer, loaded.model
    kept = 0
    with torch.inference_mode():
        for b in range(0, len(documents), 32):
            enc = tokenizer(documents[b : b + 32], padding=True, truncation=True, max_length=128, return_tensors="pt")
            hidden = model(**enc, output_hidden_states=True).hidden_states[layer]
            mask = enc["attention_mask"].clone()
            mask[:, 0] = 0
            mask[torch.arange(len(mask)), enc["attention_mask"].sum(1) - 1] = 0  # [SEP]
            kept += int(hidden[mask.bool()].shape[0])
    return kept


def page_memory(real: bool, tokens: int) -> float:
    code = PAGE_RUN.format(tests=str(ROOT / "tests"), real=real, tokens=tokens)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=900)
    line = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if not line:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(line[-1])["max_rss_mb"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=4000)
    parser.add_argument("--layer", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    load_model()
    print(f"torch {torch.__version__}, 1 thread; model loaded in {time.perf_counter() - start:.1f} s")

    first = extract(founding_story(), layer=args.layer, max_tokens=args.tokens)
    documents = first.documents[: first.tokens[-1]["doc"] + 1]
    for layer in sorted({args.layer, 6}):  # the last layer too: there both run every block
        ours, plain = [], []
        for _ in range(3):
            t = time.perf_counter()
            n_ours = len(extract(documents, layer=layer, max_tokens=args.tokens).tokens)
            ours.append(n_ours / (time.perf_counter() - t))
            t = time.perf_counter()
            n_plain = plain_loop(documents, layer)
            plain.append(n_plain / (time.perf_counter() - t))
        print(f"1. extraction, {len(documents)} documents, layer {layer}: ours {n_ours:,} tokens at "
              f"{max(ours):,.0f} tokens/s; plain transformers loop {n_plain:,} tokens at {max(plain):,.0f} tokens/s; "
              f"ratio {max(ours) / max(plain):.2f}x (target >= 0.9x)")

    x = first.activations
    for name, config in ((f"TopK k={REAL_TABLE.k} (real-table default)", REAL_TABLE),
                         ("ReLU + L1", replace(REAL_TABLE, architecture="standard"))):
        trainer = Trainer(x, replace(config, epochs=2))
        t = time.perf_counter()
        trainer.fit()
        seconds = time.perf_counter() - t
        steps = 2 * -(-x.shape[0] // config.batch_size)
        print(f"2. {name}: {x.shape[0]:,} rows x {config.hidden_dim} features, batch {config.batch_size}: "
              f"{steps / seconds:.1f} steps/s, {2 / seconds * x.shape[0]:,.0f} rows/s")

    toy = page_memory(False, args.tokens)
    real = page_memory(True, args.tokens)
    biggest = page_memory(True, limits.MAX_EXTRACTED_TOKENS)
    print(f"3. peak memory (peak RSS, AppTest in a fresh process): toy Train page {toy:.0f} MB; "
          f"Real model page ({args.tokens:,} tokens, model loaded, trained, dashboards) {real:.0f} MB "
          f"(+{real - toy:.0f} MB); at the cap of {limits.MAX_EXTRACTED_TOKENS:,} tokens {biggest:.0f} MB")


if __name__ == "__main__":
    main()
