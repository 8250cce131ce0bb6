"""Stoppable training runs, one mechanism for the Train, Stability, Sweep, Superposition and Real model pages.

The run (a Trainer, or the Superposition page's GroundTruthLab: ``sae_core.stoppable``) and a
``keep`` callable sit in the session while the run goes on. Stop, a second click or any
widget change reruns the script; ``session.settle_interrupted_run`` (on every rerun, whichever
page is shown) then stops the run and calls ``keep(run)``, which stores what was learned so
far (with a notice). A run that finishes calls ``keep`` itself.

Large runs, on any page (predicted over ``run_queue.LIGHT_BYTES`` by the memory model: a Real model
training, a big table's stability or sweep), first take a place in the server's one line
(``sae_core.run_queue``: at most ``server_slots()`` training at once, their predicted peaks within
the server's memory) and show it ("Waiting for a free slot: 3rd in line"); Stop leaves the line.
The slot is given back in a ``finally``, so a run that ends, raises, or is stopped by Streamlit (a
rerun, a closed tab) never keeps it. Small runs (hand-made tables, a Lesson's) go straight
through: a whole class's Lesson must not wait behind real-model trainings.
"""

from __future__ import annotations

import threading
from typing import Callable

import streamlit as st

from app_ui import keys
from app_ui.session import stopped_notice
from sae_core import charts
from sae_core.errors import SAEInputError
from sae_core.memory import MB
from sae_core.run_queue import LIGHT_BYTES, RunQueue, Ticket, ordinal, server_slots
from sae_core.stoppable import StoppableRun
from sae_core.stability import compare_seeds
from sae_core.sweep import sweep_result


def run_row(label: str, start: Callable[[], StoppableRun], keep, *, notice: str | None = None,
            live_loss: bool = False, keys_: tuple[str | None, str | None] = (None, None),
            cannot: str = "Cannot train") -> None:
    """The [label] [Stop] row of a page: a click builds the run with ``start()`` (a one-line error
    when it cannot be built; the last result stays) and runs it, stoppable, kept by ``keep``.
    ``notice``: the page's stopped-early notice key, cleared by a new run; ``keys_``: widget keys
    for the two buttons on a page that has other buttons with those labels."""
    row = st.container(horizontal=True)  # each button as wide as its label (Presenter's large text too)
    clicked = row.button(label, type="primary", icon=":material/play_arrow:", key=keys_[0])
    with row:
        stop_button(key=keys_[1])
    if st.session_state.get(keys.LEFT_LINE):
        st.info(st.session_state.pop(keys.LEFT_LINE), icon=":material/logout:")
    if not clicked:
        return
    if notice is not None:
        st.session_state.pop(notice, None)
    try:
        run = start()
    except SAEInputError as error:
        st.error(f"{cannot}: {error}")
    else:
        run_stoppable(run, keep, live_loss=live_loss)


def kept_result(result_key: str, notice_key: str, empty: str, stop: bool = True):
    """The result a page's runs kept, under its stopped-early notice; without one, ``empty`` (what to
    press) and the page stops there (``stop``), or None."""
    result = st.session_state.get(result_key)
    if result is None:
        st.info(empty)
        if stop:
            st.stop()
        return None
    if st.session_state.get(notice_key):
        st.warning(st.session_state[notice_key])
    return result


def stop_button(key: str | None = None) -> None:
    """Clicking it only reruns the script: the run in flight is settled before the page runs."""
    st.button("Stop", icon=":material/stop:", key=key, help="Stop training and keep what was learned so far")


@st.cache_resource(show_spinner=False)
def server_queue() -> RunQueue:
    """The server's one line of large runs (infrastructure, no user data: tickets only)."""
    return RunQueue(server_slots())


def wait_in_line(ticket: Ticket, stop_event: threading.Event) -> None:
    """Show the ticket's place until it is granted; a Stop (``settle_interrupted_run`` takes the ticket
    out of the line) ends this script run."""
    line, box = server_queue(), st.empty()
    while (place := line.place(ticket)) and not stop_event.is_set():
        box.info(f"Waiting for a free slot: {ordinal(place)} in line (this server trains up to {line.slots} large "
                 f"run{'s' if line.slots > 1 else ''} at a time, within {line.budget / MB:,.0f} MB together; this one "
                 f"needs about {ticket.bytes / MB:,.0f} MB; **Stop** leaves the line).",
                 icon=":material/hourglass_top:")  # a Streamlit call: a rerun or a closed tab stops here
        line.wait(ticket, timeout=0.5)
    if ticket.left or stop_event.is_set():
        st.stop()
    box.empty()


def run_stoppable(trainer: StoppableRun, keep, live_loss: bool = False) -> None:
    """Train with a progress bar (and, for one Trainer's model, a live loss chart); Stop keeps the
    partial result through ``keep``. A large run waits for a slot in the server's line first."""
    stop_event, done = threading.Event(), threading.Event()
    large = trainer.predicted_bytes > LIGHT_BYTES
    ticket = server_queue().join(trainer.predicted_bytes) if large else None
    st.session_state[keys.TRAINER] = trainer
    st.session_state[keys.TRAINER_EVENTS] = (stop_event, done)
    st.session_state[keys.TRAINER_KEEP] = keep
    st.session_state[keys.TRAINER_TICKET] = ticket
    progress = st.progress(0.0, text="Starting…")
    live_chart = st.empty()

    def show_progress(log) -> None:
        loss = f" — loss {log.total[0]:.5f}" if live_loss else ""
        progress.progress(log.fraction, text=log.text + loss)
        if live_loss:
            live_chart.altair_chart(charts.readable(charts.loss_chart(trainer.history())), width="stretch")

    try:
        if ticket is not None:
            wait_in_line(ticket, stop_event)
        trainer.fit(on_step=show_progress, every=trainer.progress_every, stop=stop_event)
        if not stop_event.is_set():  # else a newer run (Stop, or any click) has taken this trainer over
            for key in (keys.TRAINER, keys.TRAINER_EVENTS, keys.TRAINER_KEEP, keys.TRAINER_TICKET):
                st.session_state.pop(key, None)
            keep(trainer)  # still in the slot: keeping (a stability comparison) takes memory too
    finally:
        if ticket is not None:
            ticket.leave()  # the slot goes to the next in line, whatever ended this run
        done.set()
    if stop_event.is_set():
        st.stop()
    progress.empty()
    live_chart.empty()


def keep_stability(trainer, tokens: list[str], references: list) -> None:
    st.session_state[keys.STABILITY] = compare_seeds(trainer, tokens, references)
    st.session_state[keys.STABILITY_NOTICE] = stopped_notice(trainer, "the seeds are compared as learned so far")


def keep_side_by_side(run) -> None:
    """An ``ArchitecturesRun`` (finished, or settled after a Stop): every architecture trained so far."""
    st.session_state[keys.SIDE_BY_SIDE] = run.result()
    st.session_state[keys.SIDE_BY_SIDE_NOTICE] = stopped_notice(
        run, "the architectures are compared as learned so far, and those not started are left out", "architecture")


def keep_sweep(trainer, tokens: list[str]) -> None:
    st.session_state[keys.SWEEP] = sweep_result(trainer)
    st.session_state[keys.SWEEP_TOKENS] = tokens
    st.session_state[keys.SWEEP_NOTICE] = stopped_notice(trainer, "the models are shown as learned so far")


LAB_STOPPED = "Stopped early: the metrics below are for what was learned up to the stop."


def keep_lab(lab) -> None:
    """The Superposition page's run (finished, or settled after a Stop): every architecture trained so far."""
    result = lab.result()
    if result.runs:
        st.session_state[keys.LAB_RESULT] = result
        st.session_state[keys.LAB_NOTICE] = None if lab.finished else LAB_STOPPED
