"""A server-wide line for heavy runs: at most ``slots`` train at once, the others wait in order.

Each visitor's run takes a ``Ticket`` (``RunQueue.join``); the first ``slots`` tickets are granted
at once, the rest wait first come, first served, and ``place`` says where a ticket stands (1 =
next). ``Ticket.leave`` gives the place or the slot back (a Stop while waiting, a run that ended
or raised, a closed tab): the next in line is granted. No Streamlit here (``app_ui.runs`` holds
one queue per server and shows the place).

How many slots (``slots_for``): one run trains on one core (``torch.set_num_threads(1)``), so
more runs than cores only share the cores; and each running training holds its peak memory on
top of the server, so the memory left under the server's budget, divided by one training's
peak, bounds them too.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

# What a server may use in all (Streamlit Community Cloud stops an app at about 2.7 GB) and what
# it holds before any run: Python, torch, the transformer's weights, a class's sessions and the
# bundled extraction (measured: benchmarks/load_test.py --journey real).
SERVER_MEMORY_MB = 2_600
SERVER_BASELINE_MB = 1_000
# One running training's peak above the server: the largest the caps allow is 380 MB over the
# CLI's baseline (benchmarks/bench_memory.py: 695 - 315 MB); the Real model page's defaults far less.
TRAINING_PEAK_MB = 400
SLOTS_VARIABLE = "SAE_TRAINING_SLOTS"  # an operator's (or a test's) override, a whole number >= 1


def slots_for(cores: int, memory_mb: int = SERVER_MEMORY_MB, baseline_mb: int = SERVER_BASELINE_MB,
              peak_mb: int = TRAINING_PEAK_MB) -> int:
    """Trainings that may run at once: no more than the cores, and their peaks within the memory left."""
    return max(1, min(cores, (memory_mb - baseline_mb) // peak_mb))


def server_slots() -> int:
    """``SAE_TRAINING_SLOTS`` if set to a whole number >= 1, else ``slots_for`` this machine's cores."""
    value = os.environ.get(SLOTS_VARIABLE, "")
    if value.isdigit() and int(value) >= 1:
        return int(value)
    return slots_for(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


@dataclass(eq=False)
class Ticket:
    """One run's place: waiting, then granted a slot, until it leaves (which it may do at any time)."""

    queue: "RunQueue" = field(repr=False)
    granted: bool = False
    left: bool = False
    waits: int = 0  # how many times its run has waited in line (so far)

    @property
    def waiting(self) -> bool:
        return not (self.granted or self.left)

    def leave(self) -> None:
        self.queue.leave(self)


class RunQueue:
    """First come, first served: ``slots`` tickets hold a slot at once, the others wait in line."""

    def __init__(self, slots: int):
        if slots < 1:
            raise ValueError(f"a queue needs at least one slot (got {slots})")
        self.slots = slots
        self._changed = threading.Condition()
        self._line: list[Ticket] = []  # waiting, next first
        self._running: list[Ticket] = []

    def join(self) -> Ticket:
        """A new ticket at the end of the line (granted at once when a slot is free)."""
        ticket = Ticket(self)
        with self._changed:
            self._line.append(ticket)
            self._grant()
        return ticket

    def leave(self, ticket: Ticket) -> None:
        """Give back the ticket's place or slot; the next in line may go. Leaving twice does nothing."""
        with self._changed:
            if ticket.left:
                return
            ticket.left = True
            if ticket in self._line:
                self._line.remove(ticket)
            if ticket in self._running:
                self._running.remove(ticket)
            self._grant()

    def wait(self, ticket: Ticket, timeout: float | None = None) -> bool:
        """Until the ticket is granted (True), has left, or ``timeout`` seconds pass (both False)."""
        with self._changed:
            ticket.waits += 1
            self._changed.wait_for(lambda: not ticket.waiting, timeout)
            return ticket.granted and not ticket.left

    def place(self, ticket: Ticket) -> int:
        """1 for the next in line, 2 after it, ...; 0 once granted or left."""
        with self._changed:
            return self._line.index(ticket) + 1 if ticket in self._line else 0

    @property
    def running(self) -> int:
        with self._changed:
            return len(self._running)

    @property
    def waiting(self) -> int:
        with self._changed:
            return len(self._line)

    def _grant(self) -> None:
        while self._line and len(self._running) < self.slots:
            ticket = self._line.pop(0)
            ticket.granted = True
            self._running.append(ticket)
        self._changed.notify_all()


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
