"""The server's line of heavy runs (sae_core.run_queue), without Streamlit and without timing."""

from __future__ import annotations

import os
import threading

import pytest

from sae_core.run_queue import SLOTS_VARIABLE, RunQueue, ordinal, server_slots, slots_for


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


def test_slots_from_cores_and_memory(monkeypatch):
    assert slots_for(cores=2, memory_mb=2_600, baseline_mb=1_000, peak_mb=400) == 2  # the cores bound it
    assert slots_for(cores=16, memory_mb=2_600, baseline_mb=1_000, peak_mb=400) == 4  # 1,600 MB / 400 MB
    assert slots_for(cores=16, memory_mb=2_600, baseline_mb=1_000, peak_mb=1_601) == 1  # never none
    monkeypatch.setenv(SLOTS_VARIABLE, "3")
    assert server_slots() == 3
    monkeypatch.setenv(SLOTS_VARIABLE, "0")  # not a usable number: derived from the machine
    assert server_slots() == slots_for(len(os.sched_getaffinity(0)))
    with pytest.raises(ValueError, match="at least one slot"):
        RunQueue(0)


def test_ordinals():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"]
