"""What one Real model visitor costs the server: the bytes kept per visitor and one training's peak.

    python benchmarks/real_visitor_memory.py [--tokens 6000] [--epochs 1] [--hidden-dim H --k K]

Extracts the bundled founding story (layer 3, word pieces: shared by every visitor), trains the
page's defaults (``REAL_TABLE``; epochs do not change the peak) as the page does, and prints the
bytes of each array a visitor keeps, with the feature activations dense (as before) and as the
sparse columns the page keeps, and the training's peak resident memory above where it started
(VmHWM, reset through /proc/self/clear_refs) beside the run's ``predicted_bytes`` (``sae_core.memory``),
what the server's line (``sae_core.run_queue``) adds up for the trainings it lets run together.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from sae_core.real_model.corpora import corpus_text  # noqa: E402
from sae_core.real_model.dashboards import features_table, sparse_activations  # noqa: E402
from sae_core.real_model.extraction import extract, shared  # noqa: E402
from sae_core.training import REAL_TABLE, Trainer  # noqa: E402


def status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


def mb(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:8.2f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=6000, help="tokens to keep (the page's default: 6000)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs (the peak does not depend on them)")
    parser.add_argument("--hidden-dim", type=int, help="features (default: REAL_TABLE's)")
    parser.add_argument("--k", type=int, help="TopK's k (default: REAL_TABLE's)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the app does
    extraction = shared(extract(corpus_text("founding_story"), layer=3, max_tokens=args.tokens))
    n, d = extraction.activations.shape
    config = replace(REAL_TABLE, epochs=args.epochs, hidden_dim=args.hidden_dim or REAL_TABLE.hidden_dim,
                     k=args.k or REAL_TABLE.k)
    Path("/proc/self/clear_refs").write_text("5")  # the peak from here on
    start = status_mb("VmRSS:")
    trainer = Trainer(extraction.activations, config)
    result = trainer.fit().result()
    peak = status_mb("VmHWM:") - start
    kept = sparse_activations(result.feature_activations)
    weights = sum(t.numel() * t.element_size() for t in result.model.state_dict().values())
    table = features_table(kept, extraction.words)
    print(f"{n:,} rows x {d} dims; {config.architecture}, {config.hidden_dim:,} features"
          + (f", k {config.k}" if config.architecture != "standard" else "") + f", batch {config.batch_size}")
    print(f"shared by every visitor: the extraction's activations {mb(extraction.activations.nbytes)}")
    print(f"per visitor: feature activations dense {mb(result.feature_activations.nbytes)}, "
          f"kept sparse {mb(kept.data.nbytes + kept.indices.nbytes + kept.indptr.nbytes)} ({kept.nnz:,} non-zero)")
    print(f"per visitor: model weights {mb(weights)}, decoder directions {mb(result.decoder_directions.nbytes)}, "
          f"features table {mb(int(table.memory_usage(deep=True).sum()))}")
    print(f"one training's peak above its start: {peak:,.0f} MiB (predicted {trainer.predicted_bytes / 2**20:,.0f} MiB)")


if __name__ == "__main__":
    main()
