"""AppTest: Stop on the Stability, Sweep and Superposition pages keeps what was learned so far, as on Train.

A click on Stop reruns the script while the run's trainer sits in the session; the test
puts there what such a click leaves (a run stopped mid-way and the page's keep
function) and checks what the next run shows. (AppTest cannot click during a run: the real
click is in tests/browser/test_stop.py.)
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from apptest_helpers import DATA_PAGE, start_app

from app_ui.runs import LAB_STOPPED, keep_lab, keep_stability, keep_sweep
from sae_core.ground_truth.lab import LabSettings
from sae_core.stability import seeds_trainer
from sae_core.sweep import sweep_trainer
from sae_core.table import tokens_of, values_of
from sae_core.training import RECOMMENDED


def interrupted(at, trainer, keep, stop_at: int):
    trainer.fit(stop=lambda: trainer.epoch >= stop_at)
    assert trainer.epoch == stop_at
    return settled(at, trainer, keep)


def settled(at, trainer, keep):
    at.session_state["trainer"] = trainer
    at.session_state["trainer_keep"] = keep
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    for key in ("trainer", "trainer_keep"):
        assert key not in at.session_state
    return at


def test_stability_stop_keeps_the_seeds_learned_so_far():
    at = start_app("app_pages/stability.py")
    assert {"Train all seeds", "Stop"} <= {b.label for b in at.button}
    table = at.session_state["table"]
    trainer = seeds_trainer(values_of(table), replace(RECOMMENDED, epochs=1000), 4)
    interrupted(at, trainer, partial(keep_stability, tokens=tokens_of(table),
                                     references=at.session_state["references"]), 150)
    run = at.session_state["stability"]
    assert run.seeds == [0, 1, 2, 3] and all(r.epochs_done == 150 and r.stopped_early for r in run.results)
    assert "Stopped at epoch 150 of 1,000; the seeds are compared as learned so far." in [w.value for w in at.warning]
    assert any("4 seeds trained together" in c.value for c in at.caption)


def test_sweep_stop_keeps_the_grid_learned_so_far_and_a_finished_run_has_no_notice():
    at = start_app("app_pages/sweep.py")
    assert {"Run sweep", "Stop"} <= {b.label for b in at.button}
    table = at.session_state["table"]
    trainer = sweep_trainer(values_of(table), replace(RECOMMENDED, epochs=500), [4, 8], [0.01, 0.1])
    interrupted(at, trainer, partial(keep_sweep, tokens=tokens_of(table)), 40)
    result = at.session_state["sweep"]
    assert len(result.table) == 4 and all(r.epochs_done == 40 for r in result.results)
    assert "Stopped at epoch 40 of 500; the models are shown as learned so far." in [w.value for w in at.warning]
    finished = sweep_trainer(values_of(table), replace(RECOMMENDED, epochs=30), [4], [0.01])
    interrupted(at, finished, partial(keep_sweep, tokens=tokens_of(table)), 30)
    assert len(at.session_state["sweep"].table) == 1
    assert not any(w.value.startswith("Stopped at epoch") for w in at.warning)


def test_a_stopped_superposition_lab_is_kept_even_while_another_page_is_shown():
    """The lab runs through the one stoppable-run path: its Stop is settled on every rerun, on any page."""
    at = start_app(DATA_PAGE)
    lab = LabSettings(architectures=("standard", "topk"), seconds=1.0).lab()
    lab.fit(stop=lambda: lab.trainer is not None and lab.trainer.config.architecture == "topk"
            and lab.trainer.epoch >= 20)  # as if Stop came while TopK trained
    assert not lab.finished and lab.epoch > 20
    settled(at, lab, keep_lab)
    result = at.session_state["lab_result"]
    assert [run.architecture for run in result.runs] == ["standard", "topk"]
    assert not result.runs[0].stopped and result.runs[1].stopped and result.runs[1].steps == 20
    assert at.session_state["lab_notice"] == LAB_STOPPED
    at.switch_page("app_pages/superposition.py").run()
    assert LAB_STOPPED in [w.value for w in at.warning]
    assert at.table[0].value["Model"].tolist()[:2] == [run.label for run in result.runs]


def test_the_stopped_notice_of_runs_that_train_one_after_another():
    """A run of several trainings (sizes, architectures) counts its epochs all together."""
    from types import SimpleNamespace

    from app_ui.session import stopped_notice

    run = SimpleNamespace(finished=False, epoch=1500, total_epochs=3000)
    assert stopped_notice(run, "the sizes so far are shown", "size") == (
        "Stopped at epoch 1,500 of 3,000 (every size together); the sizes so far are shown.")
    one = SimpleNamespace(finished=False, epoch=150, config=SimpleNamespace(epochs=1000))
    assert stopped_notice(one, "kept") == "Stopped at epoch 150 of 1,000; kept."
    assert stopped_notice(SimpleNamespace(finished=True), "kept", "size") is None
