"""Stoppable training runs, one mechanism for the Train, Stability, Sweep and Real model pages.

The trainer and a ``keep`` callable sit in the session while the run goes on. Stop, a
second click or any widget change reruns the script; ``session.settle_interrupted_run``
then stops the run and calls ``keep(trainer)``, which stores what was learned so far
(with a notice). A run that finishes calls ``keep`` itself.
"""

from __future__ import annotations

import threading

import streamlit as st

from app_ui.session import stopped_notice
from sae_core import charts
from sae_core.stability import compare_seeds
from sae_core.sweep import sweep_result


def stop_button(key: str | None = None) -> None:
    """Clicking it only reruns the script: the run in flight is settled before the page runs."""
    st.button("Stop", icon=":material/stop:", key=key, help="Stop training and keep what was learned so far")


def run_stoppable(trainer, keep, live_loss: bool = False) -> None:
    """Train with a progress bar (and, for one model, a live loss chart); Stop keeps the partial
    result through ``keep``."""
    stop_event, done = threading.Event(), threading.Event()
    st.session_state.trainer = trainer
    st.session_state.trainer_events = (stop_event, done)
    st.session_state.trainer_keep = keep
    progress = st.progress(0.0, text="Starting…")
    live_chart = st.empty()

    def show_progress(log) -> None:
        loss = f" — loss {log.total[0]:.5f}" if live_loss else ""
        progress.progress(log.fraction, text=f"Epoch {log.epoch:,} of {log.epochs:,}{loss}")
        if live_loss:
            live_chart.altair_chart(charts.readable(charts.loss_chart(trainer.history())), width="stretch")

    try:
        trainer.fit(on_step=show_progress, every=max(1, trainer.config.epochs // 40), stop=stop_event)
    finally:
        done.set()
    if stop_event.is_set():  # a newer run (Stop, or any click) has taken this trainer over
        st.stop()
    for key in ("trainer", "trainer_events", "trainer_keep"):
        st.session_state.pop(key, None)
    keep(trainer)
    progress.empty()
    live_chart.empty()


def keep_stability(trainer, tokens: list[str], references: list) -> None:
    st.session_state.stability = compare_seeds(trainer, tokens, references)
    st.session_state.stability_notice = stopped_notice(trainer, "the seeds are compared as learned so far")


def keep_sweep(trainer, tokens: list[str]) -> None:
    st.session_state.sweep = sweep_result(trainer)
    st.session_state.sweep_tokens = tokens
    st.session_state.sweep_notice = stopped_notice(trainer, "the models are shown as learned so far")
