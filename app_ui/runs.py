"""Stoppable training runs, one mechanism for the Train, Stability, Sweep, Superposition and Real model pages.

The run (a Trainer, or the Superposition page's GroundTruthLab: ``sae_core.stoppable``) and a
``keep`` callable sit in the session while the run goes on. Stop, a second click or any
widget change reruns the script; ``session.settle_interrupted_run`` (on every rerun, whichever
page is shown) then stops the run and calls ``keep(run)``, which stores what was learned so
far (with a notice). A run that finishes calls ``keep`` itself.
"""

from __future__ import annotations

import threading
from typing import Callable

import streamlit as st

from app_ui import keys
from app_ui.session import stopped_notice
from sae_core import charts
from sae_core.errors import SAEInputError
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
    b1, b2, _ = st.columns([2, 1, 5])
    clicked = b1.button(label, type="primary", icon=":material/play_arrow:", key=keys_[0])
    with b2:
        stop_button(key=keys_[1])
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


def kept_result(result_key: str, notice_key: str, empty: str):
    """The result a page's runs kept, under its stopped-early notice; without one, ``empty`` (what to
    press) and the page stops there."""
    result = st.session_state.get(result_key)
    if result is None:
        st.info(empty)
        st.stop()
    if st.session_state.get(notice_key):
        st.warning(st.session_state[notice_key])
    return result


def stop_button(key: str | None = None) -> None:
    """Clicking it only reruns the script: the run in flight is settled before the page runs."""
    st.button("Stop", icon=":material/stop:", key=key, help="Stop training and keep what was learned so far")


def run_stoppable(trainer: StoppableRun, keep, live_loss: bool = False) -> None:
    """Train with a progress bar (and, for one Trainer's model, a live loss chart); Stop keeps the
    partial result through ``keep``."""
    stop_event, done = threading.Event(), threading.Event()
    st.session_state[keys.TRAINER] = trainer
    st.session_state[keys.TRAINER_EVENTS] = (stop_event, done)
    st.session_state[keys.TRAINER_KEEP] = keep
    progress = st.progress(0.0, text="Starting…")
    live_chart = st.empty()

    def show_progress(log) -> None:
        loss = f" — loss {log.total[0]:.5f}" if live_loss else ""
        progress.progress(log.fraction, text=log.text + loss)
        if live_loss:
            live_chart.altair_chart(charts.readable(charts.loss_chart(trainer.history())), width="stretch")

    try:
        trainer.fit(on_step=show_progress, every=trainer.progress_every, stop=stop_event)
    finally:
        done.set()
    if stop_event.is_set():  # a newer run (Stop, or any click) has taken this trainer over
        st.stop()
    for key in (keys.TRAINER, keys.TRAINER_EVENTS, keys.TRAINER_KEEP):
        st.session_state.pop(key, None)
    keep(trainer)
    progress.empty()
    live_chart.empty()


def keep_stability(trainer, tokens: list[str], references: list) -> None:
    st.session_state[keys.STABILITY] = compare_seeds(trainer, tokens, references)
    st.session_state[keys.STABILITY_NOTICE] = stopped_notice(trainer, "the seeds are compared as learned so far")


def keep_side_by_side(run) -> None:
    """An ``ArchitecturesRun`` (finished, or settled after a Stop): every architecture trained so far."""
    st.session_state[keys.SIDE_BY_SIDE] = run.result()
    st.session_state[keys.SIDE_BY_SIDE_NOTICE] = None if run.finished else (
        f"Stopped at epoch {run.epoch:,} of {run.total_epochs:,} (every architecture together); the "
        "architectures are compared as learned so far, and those not started are left out.")


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
