"""The server's line of large runs (sae_core.run_queue), without timing; the last test drives it through the app's run mechanism (AppTest)."""

from __future__ import annotations

import os
import threading

import pytest

from sae_core.run_queue import LIGHT_BYTES, SLOTS_VARIABLE, RunQueue, ordinal, server_slots


def test_first_come_first_served_with_places():
    line = RunQueue(2)
    tickets = [line.join() for _ in range(5)]
    assert [t.granted for t in tickets] == [True, True, False, False, False]
    assert [line.place(t) for t in tickets] == [0, 0, 1, 2, 3]
    assert (line.running, line.waiting) == (2, 3)
    tickets[1].leave()  # a run ends: the first in line goes, the others move up
    assert [t.granted and not t.left for t in tickets] == [True, False, True, False, False]
    assert [line.place(t) for t in tickets[2:]] == [0, 1, 2]
    assert (line.running, line.waiting) == (2, 2)


def test_leaving_the_line_frees_a_place_and_grants_nothing():
    line = RunQueue(1)
    first, second, third, fourth = (line.join() for _ in range(4))
    third.leave()  # a Stop while waiting
    assert third.left and not third.granted and line.place(third) == 0
    assert line.place(fourth) == 2 and line.waiting == 2
    third.leave()  # leaving twice changes nothing
    assert line.waiting == 2 and line.running == 1
    first.leave()
    assert second.granted and not fourth.granted and line.place(fourth) == 1
    assert not line.wait(third, timeout=0)  # a ticket that left is never granted


def test_wait_returns_when_granted_or_left():
    line = RunQueue(1)
    holder, waiter, quitter = line.join(), line.join(), line.join()
    assert line.wait(holder, timeout=0) and not line.wait(waiter, timeout=0)
    seen = {}
    threads = [threading.Thread(target=lambda t=t, name=name: seen.__setitem__(name, line.wait(t)))
               for name, t in (("waiter", waiter), ("quitter", quitter))]
    for thread in threads:
        thread.start()
    quitter.leave()  # wakes its waiting thread: not granted
    holder.leave()  # wakes the next in line: granted
    for thread in threads:
        thread.join(timeout=10)
    assert seen == {"waiter": True, "quitter": False}


def test_a_slot_is_given_back_when_the_run_raises():
    line = RunQueue(1)

    def run(ticket):
        try:
            line.wait(ticket)
            raise RuntimeError("the run failed")
        finally:
            ticket.leave()

    first, second = line.join(), line.join()
    with pytest.raises(RuntimeError):
        run(first)
    assert second.granted and line.running == 1


def test_memory_bounds_who_runs_together_and_nobody_overtakes():
    line = RunQueue(slots=4, budget=1_000)
    big, mid = line.join(600), line.join(300)
    assert big.granted and mid.granted and line.running_bytes == 900
    over, small = line.join(101), line.join(1)  # 900 + 101 > 1,000: waits though slots are free
    assert not over.granted and not small.granted  # the small one waits behind it (first come, first served)
    assert [line.place(t) for t in (over, small)] == [1, 2]
    mid.leave()
    assert over.granted and small.granted and line.running_bytes == 702
    exact = line.join(298)  # 702 + 298 = 1,000: exactly the budget fits
    assert exact.granted and line.running_bytes == 1_000
    assert not line.join(1).granted  # one byte over does not


def test_a_run_larger_than_the_budget_runs_alone():
    line = RunQueue(slots=2, budget=100)
    alone = line.join(500)  # nothing else runs: it goes (the per-request caps have allowed it)
    assert alone.granted
    after = line.join(10)
    assert not after.granted and line.place(after) == 1
    alone.leave()
    assert after.granted and line.running_bytes == 10


def test_slots_are_the_cores_and_the_budget_what_the_server_has_left(monkeypatch):
    from sae_core.memory import MB
    from sae_core.run_queue import SERVER_BASELINE_MB, SERVER_MEMORY_MB, server_budget

    assert server_budget(memory_mb=2_600, baseline_mb=1_000) == 1_600 * 1_048_576
    assert RunQueue(2).budget == (SERVER_MEMORY_MB - SERVER_BASELINE_MB) * MB
    monkeypatch.setenv("SAE_SERVER_MEMORY_MB", "16000")  # a larger server
    assert RunQueue(2).budget == 15_000 * MB
    monkeypatch.setenv("SAE_SERVER_MEMORY_MB", "lots")  # not a number: Cloud's
    assert RunQueue(2).budget == 1_600 * MB
    monkeypatch.setenv(SLOTS_VARIABLE, "3")
    assert server_slots() == 3
    monkeypatch.setenv(SLOTS_VARIABLE, "0")  # not a usable number: derived from the machine
    assert server_slots() == len(os.sched_getaffinity(0))
    with pytest.raises(ValueError, match="at least one slot"):
        RunQueue(0)


def test_a_runs_predicted_bytes_decide_whether_it_takes_a_ticket():
    """A Lesson's run is far below LIGHT_BYTES (straight through); the Stability page's largest request on the
    founding table is above it (it waits its turn). The bytes are the memory model's, by its own route."""
    from sae_core import memory
    from sae_core.examples import DATA_DIR
    from sae_core.stability import seeds_trainer
    from sae_core.table import read_table, values_of
    from sae_core.training import TrainConfig, Trainer

    x = values_of(read_table(DATA_DIR / "seed_tokens.csv"))
    lesson = seeds_trainer(x, TrainConfig(hidden_dim=8, epochs=10), list(range(20)))
    assert lesson.predicted_bytes < 1_048_576 < LIGHT_BYTES
    largest = seeds_trainer(x, TrainConfig(hidden_dim=4_096, epochs=10), list(range(64)))
    assert largest.predicted_bytes > LIGHT_BYTES
    comparison = memory.FEATURE_OBJECT_BYTES * 64 * 4_096  # matching every seed's features
    assert largest.predicted_bytes == memory.trainer_bytes(8, 4, [4_096] * 64, TrainConfig().batch_size, 2.5) \
        + memory.TABLE_BYTES_PER_CELL * 8 * 4 + comparison
    one = Trainer(x, TrainConfig(hidden_dim=64, epochs=10))
    assert one.predicted_bytes == memory.train(8, 4, 64, TrainConfig().batch_size, step_copies=2.5) - memory.BASELINE


def test_ordinals():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"]


def _large_run_script():
    """A large run (a stand-in with the run protocol) through the app's one run mechanism; its keep notes how
    many slots the server's line holds while it keeps."""
    import streamlit as st

    from app_ui.runs import run_stoppable, server_queue

    class LargeRun:
        epoch, progress_every, finished, predicted_bytes = 0, 1, False, 64 * 1_048_576

        def fit(self, on_step=None, every=0, stop=None):
            self.epoch, self.finished = 1, True
            return self

    def keep(run):
        st.session_state["running_while_kept"] = server_queue().running

    run_stoppable(LargeRun(), keep)


def test_a_large_run_keeps_its_slot_until_its_result_is_kept():
    """Keeping a result (a stability comparison) takes memory too: the slot is given back only after it."""
    from streamlit.testing.v1 import AppTest

    from app_ui.runs import server_queue

    at = AppTest.from_function(_large_run_script).run()
    assert not at.exception
    assert at.session_state["running_while_kept"] == 1 and server_queue().running == 0
