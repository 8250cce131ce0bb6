"""The memory model (sae_core.memory): its terms against the tensors a run really holds, the budget
check at its exact boundary, the caps' corners under the budget, and freed tensors returned to the OS."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from sae_core import limits, memory
from sae_core.architectures import ARCHITECTURES, get_architecture
from sae_core.architectures.base import SAE
from sae_core.errors import ConfigError
from sae_core.training import TrainConfig, Trainer, seed_members


def held_bytes(trainer: Trainer) -> tuple[int, int]:
    """(weights, biases) bytes a trainer holds: values, gradients and Adam's two moments, counted tensor by tensor."""
    weights = biases = 0
    for name, p in trainer.model.named_parameters():
        tensors = [p, p.grad, trainer.optimizer.exp_avg[name], trainer.optimizer.exp_avg_sq[name]]
        total = sum(t.numel() * t.element_size() for t in tensors if t is not None)
        if p.ndim == 3:
            weights += total
        else:
            biases += total
    return weights, biases


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_weight_term_covers_what_a_trainer_holds(architecture):
    members, hidden, dims, rows = 3, 40, 6, 10
    x = np.random.default_rng(0).random((rows, dims), dtype=np.float32)
    trainer = Trainer(x, seed_members(TrainConfig(architecture=architecture, hidden_dim=hidden, epochs=2), [0, 1, 2]))
    trainer.step()
    weights, _ = held_bytes(trainer)
    cells = members * hidden * dims
    assert weights == 2 * 4 * cells * 4  # encoder + decoder: value, gradient, two moments, float32
    # the model's weight term: these, Adam's temporary, the results' copies, a decoder temporary
    assert memory.WEIGHT_BYTES_PER_CELL * cells >= weights * 56 / 32


def test_result_term_covers_the_kept_activations():
    members, hidden, dims, rows = 4, 30, 5, 12
    x = np.random.default_rng(1).random((rows, dims), dtype=np.float32)
    trainer = Trainer(x, seed_members(TrainConfig(hidden_dim=hidden, epochs=1), list(range(members))))
    results = trainer.fit().results()
    kept = sum(r.feature_activations.nbytes + r.feature_density.nbytes for r in results)
    assert kept == members * rows * hidden * 4 + members * hidden * 4
    predicted = memory.trainer_bytes(rows, dims, [hidden] * members, batch=rows)
    weights = memory.WEIGHT_BYTES_PER_CELL * members * hidden * dims
    assert predicted - weights >= 3 * kept  # the kept copies, the evaluation's and the results' own tensors


def test_trainer_bytes_by_hand():
    """The formula of the module's docstring, computed here term by term."""
    rows, dims, widths, batch = 100, 7, [16, 32], 40
    weights = 56 * 2 * 32 * 7
    step = SAE.step_copies * 2 * 40 * (32 + 7) * 4
    results = 3.5 * 2 * 100 * (32 + 7) * 4
    assert memory.trainer_bytes(rows, dims, widths, batch) == int(weights + max(step, results))
    small_batch = memory.trainer_bytes(rows, dims, widths, 1)
    assert small_batch == int(weights + results)  # the results need the whole table whatever the batch


def _run_bytes(rows: int, dims: int, hidden: int, members: int) -> int:
    """What Trainer's check predicts for a full-batch run, from the documented terms."""
    width = hidden + dims
    return int(memory.BASELINE + 16 * rows * dims + 56 * members * hidden * dims
               + max(get_architecture(TrainConfig().architecture).step_copies, 3.5) * members * rows * width * 4)


def test_refused_exactly_above_the_budget(monkeypatch):
    x = np.random.default_rng(2).random((20, 3), dtype=np.float32)
    config = TrainConfig(hidden_dim=50, epochs=1)
    predicted = _run_bytes(20, 3, 50, 2)
    monkeypatch.setattr(memory, "BUDGET", predicted)
    Trainer(x, seed_members(config, [0, 1]))  # at the budget: allowed
    monkeypatch.setattr(memory, "BUDGET", predicted - 1)
    with pytest.raises(ConfigError) as error:
        Trainer(x, seed_members(config, [0, 1]))
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("this run (20 tokens x 3 dims, 2 model(s) of up to 50 features) would take about ")
    assert f"{predicted / memory.MB:,.0f} MB, over the memory budget of {(predicted - 1) / memory.MB:,.0f} MB" in message
    assert message.endswith("use fewer tokens, seeds, features or a smaller batch size")


def test_every_cap_corner_of_a_run_is_under_the_budget():
    """The caps follow from the model: at each cap's corner, singly and combined, the run fits."""
    cap, hidden, dims, seeds = limits.MAX_ACTIVATION_CELLS, limits.MAX_HIDDEN, limits.MAX_DIMS, limits.MAX_SEEDS
    batch = limits.DEFAULT_BATCH_SIZE
    corners = {
        "most tokens": memory.train(limits.MAX_ROWS, 30, cap // limits.MAX_ROWS, limits.MAX_ROWS,
                                    limits.MAX_UPLOAD_BYTES, json=True, full=True),
        # a 5 MB upload holds at most this many rows of 1,024 one-digit cells ("0," each, a short token name)
        "widest model, most dims, densest upload": memory.train(
            min((limits.MAX_UPLOAD_BYTES - 8 * dims) // (2 * dims + 8), cap // hidden), dims, hidden, batch,
            limits.MAX_UPLOAD_BYTES, json=True, full=True),
        "most seeds x widest, founding table": memory.stability(8, 4, hidden, seeds, batch, 300, json=True, full=True),
        "largest sweep": memory.run(8, 4, [hidden] * limits.MAX_GRID, batch),
        "extracted table, widest the cap allows": memory.extracted(
            limits.MAX_EXTRACTED_TOKENS, 384, cap // limits.MAX_EXTRACTED_TOKENS, limits.MAX_EXTRACTED_TOKENS),
        "longest text": memory.extract(limits.MAX_TEXT_CHARS, limits.MAX_EXTRACTED_TOKENS),
    }
    over = {name: round(b / memory.MB) for name, b in corners.items() if b > memory.BUDGET}
    assert not over


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_freed_tensors_go_back_to_the_os():
    """Freed tensors, each smaller than the last one freed, stay in glibc's heap until it is trimmed
    (sae_core.allocator; a Trainer trims every TRIM_SECONDS): 900 epochs of 64 seeds x 4,096 features
    grew to 1.7 GB that way. Trimmed, the process is back where it started."""
    from sae_core import allocator

    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    assert allocator.RETURNS_FREED_MEMORY
    allocator.release_freed_memory(force=True)
    before = rss()
    kept = []
    for mb in (24, 16, 8, 6, 3):
        t = torch.ones(mb * 1024 * 1024 // 4)
        kept.append(torch.ones(1000))  # small blocks above the freed ones: the heap's top cannot shrink
        del t
    assert not allocator.release_freed_memory()  # not due yet: a trim at most every TRIM_SECONDS
    assert allocator.release_freed_memory(force=True)
    assert rss() - before < 4 * 1024 * 1024  # of the 57 MB freed


def test_a_trainer_trims_the_heap_while_it_trains(monkeypatch):
    from sae_core import allocator
    calls = []
    monkeypatch.setattr(allocator, "_TRIM", calls.append)
    monkeypatch.setattr(allocator, "TRIM_SECONDS", 0.0)
    Trainer(np.random.default_rng(0).random((8, 4), dtype=np.float32), TrainConfig(hidden_dim=4, epochs=3)).fit()
    assert calls == [0, 0, 0, 0]  # once per step when due, and once more at the end
    monkeypatch.setattr(allocator, "TRIM_SECONDS", 3600.0)  # never due while it trains
    calls.clear()
    Trainer(np.random.default_rng(0).random((8, 4), dtype=np.float32), TrainConfig(hidden_dim=4, epochs=3)).fit()
    assert calls == [0]  # the last steps' freed pages go back before the results are made


def test_stability_refuses_the_corner_the_caps_allow_together():
    """64 seeds x 4,096 features on 45 tokens x 16 dims: within each cap (activations 11.8 M, weights 4.19 M),
    but the seeds' matching on top of the run is over the budget; the founding table's 8 x 4 fits."""
    from sae_core.stability import seeds_trainer
    config = TrainConfig(hidden_dim=limits.MAX_HIDDEN, epochs=1)
    x = np.random.default_rng(3).random((45, 16), dtype=np.float32)
    assert 45 * limits.MAX_SEEDS * limits.MAX_HIDDEN <= limits.MAX_ACTIVATION_CELLS
    assert limits.MAX_SEEDS * limits.MAX_HIDDEN * 16 <= limits.MAX_WEIGHT_CELLS
    with pytest.raises(ConfigError, match=r"^comparing 64 seeds x 4,096 features on 45 tokens x 16 dims would take "
                                          r"about [\d,]+ MB, over the memory budget of 900 MB; use fewer seeds"):
        seeds_trainer(x, config, limits.MAX_SEEDS)
    assert seeds_trainer(x[:8, :4], config, limits.MAX_SEEDS).epoch == 0
