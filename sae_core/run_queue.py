"""A server-wide line for large runs: they train at once while the cores and the memory allow, the others wait in order.

Each visitor's large run takes a ``Ticket`` (``RunQueue.join``) with its predicted peak bytes
(``sae_core.memory``: a run's ``predicted_bytes``). Tickets are granted first come, first served,
while fewer than ``slots`` run and the running tickets' bytes plus the next one's fit in the
server's ``budget`` (a ticket larger than the whole budget runs alone). ``place`` says where a
ticket stands (1 = next). ``Ticket.leave`` gives the place or the slot back (a Stop while
waiting, a run that ended or raised, a closed tab): the next in line may go. No Streamlit here
(``app_ui.runs`` holds one queue per server and shows the place).

Slots: one run trains on one core (``torch.set_num_threads(1)``), so more runs than cores only
share the cores. Memory: each running training holds its peak on top of the server, so their
predicted peaks together stay within what the server has left (``server_budget``). Runs predicted
under ``LIGHT_BYTES`` (a Lesson's tables: well under 1 MB each) skip the line: a class's Lesson
never waits behind real-model trainings, and 30 of them at once add under a gigabyte.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

from .memory import MB

# What a server may use in all (Streamlit Community Cloud stops an app at about 2.7 GB) and what
# it holds before any run: Python, torch, the transformer's weights, a class's sessions and the
# bundled extraction (measured: benchmarks/load_test.py --journey real).
SERVER_MEMORY_MB = 2_600
SERVER_BASELINE_MB = 1_000
LIGHT_BYTES = 32 * MB  # a run predicted under this goes straight through, without a ticket
SLOTS_VARIABLE = "SAE_TRAINING_SLOTS"  # an operator's (or a test's) override, a whole number >= 1
MEMORY_VARIABLE = "SAE_SERVER_MEMORY_MB"  # an operator's: a server with more memory than Cloud's, in MB


def server_budget(memory_mb: int | None = None, baseline_mb: int = SERVER_BASELINE_MB) -> int:
    """Bytes the server's running trainings may hold together: its memory (``memory_mb``, else
    ``SAE_SERVER_MEMORY_MB`` if a whole number, else SERVER_MEMORY_MB) less what it holds without them."""
    if memory_mb is None:
        value = os.environ.get(MEMORY_VARIABLE, "")
        memory_mb = int(value) if value.isdigit() else SERVER_MEMORY_MB
    return max(0, memory_mb - baseline_mb) * MB


def server_slots() -> int:
    """``SAE_TRAINING_SLOTS`` if set to a whole number >= 1, else this machine's cores."""
    value = os.environ.get(SLOTS_VARIABLE, "")
    if value.isdigit() and int(value) >= 1:
        return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(eq=False)
class Ticket:
    """One run's place: waiting, then granted a slot, until it leaves (which it may do at any time)."""

    queue: "RunQueue" = field(repr=False)
    bytes: int = 0  # the run's predicted peak (sae_core.memory)
    granted: bool = False
    left: bool = False
    waits: int = 0  # how many times its run has waited in line (so far)

    @property
    def waiting(self) -> bool:
        return not (self.granted or self.left)

    def leave(self) -> None:
        self.queue.leave(self)


class RunQueue:
    """First come, first served: up to ``slots`` tickets whose bytes fit in ``budget`` together run at
    once, the others wait in line."""

    def __init__(self, slots: int, budget: int | None = None):
        if slots < 1:
            raise ValueError(f"a queue needs at least one slot (got {slots})")
        self.slots = slots
        self.budget = server_budget() if budget is None else budget
        self._changed = threading.Condition()
        self._line: list[Ticket] = []  # waiting, next first
        self._running: list[Ticket] = []

    def join(self, bytes: int = 0) -> Ticket:
        """A new ticket for a run predicted to peak at ``bytes``, at the end of the line (granted at once
        when nobody waits, a slot is free and its bytes fit)."""
        ticket = Ticket(self, bytes=int(bytes))
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

    @property
    def running_bytes(self) -> int:
        with self._changed:
            return sum(t.bytes for t in self._running)

    def _grant(self) -> None:
        while self._line and len(self._running) < self.slots:
            if self._running and sum(t.bytes for t in self._running) + self._line[0].bytes > self.budget:
                break  # the next waits for memory; nobody overtakes it
            ticket = self._line.pop(0)
            ticket.granted = True
            self._running.append(ticket)
        self._changed.notify_all()


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
