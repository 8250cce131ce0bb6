"""sae_core.ground_truth.lab: the lab trains through the one Trainer on streamed data and measures recovery."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sae_core.architectures import ARCHITECTURES
from sae_core.errors import ConfigError
from sae_core.ground_truth.lab import (LAB_BATCH_SIZE, GroundTruthLab, LabSettings, lab_config, matched_order,
                                   recovery_point)
from sae_core.ground_truth.generators import SparseCombination, SparseCombinationConfig
from sae_core.training import Trainer
from torch_threads import one_thread  # noqa: F401 (fixture)

DATA = SparseCombination(SparseCombinationConfig(dims=16, features=24, active=2.0, seed=1))

pytestmark = pytest.mark.usefixtures("one_thread")


def test_lab_config_follows_the_data():
    topk = lab_config("topk", DATA, width=2.0, seed=5)
    assert (topk.hidden_dim, topk.k, topk.seed, topk.batch_size) == (48, 2, 5, LAB_BATCH_SIZE)
    assert topk.unit_norm_decoder and topk.architecture == "topk"
    assert lab_config("standard", DATA, width=0.5).hidden_dim == 12
    with pytest.raises(ConfigError, match="unknown architecture 'relu2'"):
        lab_config("relu2", DATA)
    with pytest.raises(ConfigError, match="over the limit"):
        lab_config("topk", DATA, width=1000.0)


def test_the_trainer_takes_a_fresh_batch_every_step():
    seen = []

    def batches(i):
        seen.append(i)
        return DATA.batch(i, 32)

    trainer = Trainer(DATA.batch(0, 32), lab_config("standard", DATA), batches=batches)
    for _ in range(3):
        trainer.step()
    assert seen == [0, 1, 2]
    # and the streamed run is reproducible: same seed, same batches, same weights
    again = Trainer(DATA.batch(0, 32), lab_config("standard", DATA), batches=lambda i: DATA.batch(i, 32))
    for _ in range(3):
        again.step()
    assert torch.equal(trainer.model.W_dec, again.model.W_dec)


def test_topk_recovers_small_data_and_beats_chance():
    # a step budget (300 steps), not a time budget: the same numbers on a busy machine
    lab = GroundTruthLab(DATA, [lab_config("topk", DATA, seed=0, epochs=300)], seconds=60.0).run()
    result = lab.result()
    (run,) = result.runs
    assert run.metrics.mmcs > 0.95 and run.metrics.hungarian > 0.95
    assert result.chance.mmcs < 0.6
    assert run.labels.count("recovered") >= 20
    assert run.metrics.l0 == pytest.approx(2.0)
    assert run.steps == 300 and not run.stopped
    # the curve starts untrained at 0 s and ends at the final step
    assert run.curve["seconds"].iloc[0] == 0 and run.curve["step"].iloc[-1] == run.steps
    assert run.curve["seconds"].is_monotonic_increasing
    assert run.curve["mmcs"].iloc[-1] > run.curve["mmcs"].iloc[0] + 0.3
    table = result.metric_table()
    assert table["model"].tolist() == [run.label, "chance (random directions)"]
    assert math.isnan(table["explained_variance"].iloc[1])
    counts = result.label_counts()
    assert counts["count"].sum() == 24 and set(counts["label"]) == {"recovered", "split", "merged", "missed"}
    features = run.feature_table()
    assert len(features) == 24 and (features["label"] == "recovered").sum() == run.labels.count("recovered")
    assert (features.loc[features["label"] == "recovered", "best cosine"] >= 0.9).all()


def test_a_callback_that_raises_leaves_a_partial_result():
    configs = [lab_config("standard", DATA), lab_config("topk", DATA)]
    lab = GroundTruthLab(DATA, configs, seconds=0.5)
    points = []

    def interrupt(config, point):
        points.append(point)
        if len(points) == 3:
            raise KeyboardInterrupt  # what Streamlit's Stop does inside a callback

    with pytest.raises(KeyboardInterrupt):
        lab.run(on_point=interrupt)
    result = lab.result()
    (run,) = result.runs  # the standard SAE, stopped; TopK never started
    assert run.stopped and run.architecture == "standard" and run.seconds < 0.5
    assert run.steps >= 1 and len(run.curve) >= 3


def test_a_stop_event_ends_the_run_early():
    import threading
    stop = threading.Event()
    stop.set()
    result = GroundTruthLab(DATA, [lab_config("topk", DATA)], seconds=5.0).run(stop=stop).result()
    assert result.runs[0].steps == 1 and result.runs[0].stopped


def test_the_lab_offers_the_trainers_stoppable_protocol():
    """fit(on_step, every, stop), epoch and finished: what the app's one Stop drives (sae_core.stoppable)."""
    from sae_core.stoppable import StoppableRun
    configs = [lab_config("standard", DATA), lab_config("topk", DATA)]
    lab = GroundTruthLab(DATA, configs, seconds=0.5)
    assert isinstance(lab, StoppableRun) and isinstance(Trainer(DATA.batch(0, 8), configs[0]), StoppableRun)
    assert lab.epoch == 0 and not lab.finished and lab.progress_every == 1
    logs = []
    lab.fit(on_step=logs.append, every=2,  # as if Stop came at TopK's 10th step
            stop=lambda: lab.trainer is not None and lab.trainer.config.architecture == "topk"
            and lab.trainer.epoch >= 10)
    runs = lab.result().runs
    assert not lab.finished and [run.stopped for run in runs] == [False, True]
    assert lab.epoch == runs[0].steps + 10
    fractions = [log.fraction for log in logs]
    assert len(logs) >= 5 and fractions == sorted(fractions) and 0 < fractions[0] and fractions[-1] < 1
    assert logs[0].text.startswith(f"{ARCHITECTURES['standard'].label}: ")
    assert all(" of 0.5 s, MMCS " in log.text for log in logs)
    finished = GroundTruthLab(DATA, [lab_config("standard", DATA, epochs=30)], seconds=60.0).fit()
    assert finished.finished and finished.epoch == 30


def test_matched_order_puts_partners_on_the_diagonal():
    cos = np.array([[0.1, 0.9, 0.0], [0.95, 0.2, 0.1]])
    _, learned = matched_order(cos)
    assert learned.tolist() == [1, 0, 2]


def test_recovery_point_of_a_perfect_decoder():
    trainer = Trainer(DATA.batch(0, 8), lab_config("standard", DATA, width=1.0))
    with torch.no_grad():
        trainer.model.W_dec[0] = DATA.directions_FD.flip(0) * 3.0
    assert recovery_point(trainer.model, DATA.directions_FD, 7, 1.5) == {
        "seconds": 1.5, "step": 7, "mmcs": pytest.approx(1.0), "hungarian": pytest.approx(1.0)}


def test_toy_settings_build_a_two_dimensional_lab():
    lab = LabSettings(generator="toy", toy_features=5, toy_dims=2, architectures=("topk",), seconds=0.5).lab()
    assert lab.data.dims == 2 and lab.data.features == 5
    assert lab.configs[0].hidden_dim == 10 and lab.configs[0].k == 1  # 5 features x (1 - 0.9) = 0.5 -> k = 1
    with pytest.raises(ConfigError, match="choose at least one architecture"):
        LabSettings(architectures=()).lab()


def test_dead_feature_tracking_looks_at_each_streamed_batch():
    # the table given at the start has signal; every streamed batch is all zeros, on which only
    # features with a positive encoder bias fire: tracking must count those, not the first table's
    config = lab_config("standard", DATA, resample_dead_every=100)
    zeros = torch.zeros(16, 16)
    trainer = Trainer(DATA.batch(0, 16), config, batches=lambda i: zeros)
    trainer.step()
    fired_on_zeros = (trainer.model.encode(zeros) > 0).any(dim=1)
    fired_on_first = (trainer.model.encode(DATA.batch(0, 16)) > 0).any(dim=1)
    assert not torch.equal(fired_on_zeros, fired_on_first)
    assert torch.equal(trainer._fired_SH, fired_on_zeros)
