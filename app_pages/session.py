"""Per-visitor state in ``st.session_state`` (never in a shared cache), shared by the pages.

Keys: ``table`` (the last valid table), ``table_source`` (where it came from),
``editor_base`` + ``table_version`` (what the data editor starts from; bumped when the
table is replaced), ``references`` (the named concepts: an example's, edited on the Data page), ``result``
(the last trained model) with ``result_tokens``/``result_dims`` (the table it saw),
``trainer`` (a run in flight) and the training widgets, keyed by TrainConfig field names.
"""

from __future__ import annotations

from dataclasses import fields

import pandas as pd
import streamlit as st

from sae_core.examples import example_names, example_references, load_example
from sae_core.features import follow_table
from sae_core.state import TRAINING_FIELDS, AppState
from sae_core.table import dims_of, tokens_of
from sae_core.training import TrainConfig, TrainResult

EXAMPLE_LABELS = {
    "seed_tokens": "Founding example: animals vs robots",
    "colors_and_shapes": "Colours and shapes: 5 concepts in 3 dims",
}


def example_label(name: str) -> str:
    return EXAMPLE_LABELS.get(name, name.replace("_", " ").capitalize())


def init_session() -> None:
    """Fill the session with defaults (from the URL, if it carries settings) once per visitor."""
    if "table" in st.session_state:
        return
    state = AppState.from_query(st.query_params.to_dict())
    for name in TRAINING_FIELDS:
        st.session_state.setdefault(name, getattr(state.config, name))
    st.session_state.setdefault("example", state.example)
    st.session_state.table_version = 0
    load_table(load_example(state.example), example_label(state.example), example=state.example)


def load_table(table: pd.DataFrame, source: str, example: str | None = None) -> None:
    """A new table (example, upload, paste): its named concepts come only from an example."""
    st.session_state.table_source = source
    st.session_state.references_example = example
    st.session_state.references = []
    replace_table(table)
    st.session_state.references = example_references(example, table) if example else []


def replace_table(table: pd.DataFrame) -> None:
    """Replace the whole table (also after a dimension edit): the data editor restarts from it."""
    follow_references(table)
    st.session_state.table = table
    st.session_state.editor_base = table
    st.session_state.table_version = st.session_state.get("table_version", 0) + 1


def update_table_from_editor(table: pd.DataFrame) -> None:
    """A valid edit in the data editor: keep the editor's own state, just record the table."""
    follow_references(table)
    st.session_state.table = table


def follow_references(new_table: pd.DataFrame) -> None:
    """The named concepts (the user may have edited them) follow token renames and deletions."""
    old = st.session_state.get("table")
    if old is not None:
        st.session_state.references = follow_table(st.session_state.get("references", []), tokens_of(old),
                                                    tokens_of(new_table))


def current_table() -> pd.DataFrame:
    return st.session_state.table


def training_config() -> TrainConfig:
    """The config the training widgets describe (keys = TrainConfig field names)."""
    values = {f.name: st.session_state[f.name] for f in fields(TrainConfig) if f.name in st.session_state}
    return TrainConfig(**values)


def store_result(result: TrainResult) -> None:
    table = current_table()
    st.session_state.result = result
    st.session_state.result_tokens = tokens_of(table)
    st.session_state.result_dims = dims_of(table)
    st.session_state.result_references = st.session_state.get("references", [])


def result_is_stale() -> bool:
    """True when the table's tokens or dimensions changed since the model was trained."""
    table = current_table()
    return (st.session_state.get("result_tokens") != tokens_of(table)
            or st.session_state.get("result_dims") != dims_of(table))


def sidebar_status(where=None) -> None:
    """A two-line reminder of what this visitor has: the table and the model (in ``where``, default the sidebar)."""
    where = st.sidebar if where is None else where
    table = current_table()
    where.caption(
        f"**Table:** {st.session_state.table_source} — {len(table)} tokens x {len(dims_of(table))} dims"
    )
    result = st.session_state.get("result")
    if result is None:
        where.caption("**Model:** not trained yet")
    else:
        m = result.metrics
        note = " (table changed since)" if result_is_stale() else ""
        where.caption(
            f"**Model:** {result.config.hidden_dim} features, {result.epochs_done} epochs, "
            f"explained variance {m.explained_variance:.1%}{note}"
        )



def settle_interrupted_run() -> None:
    """Keep what a run interrupted by Stop (or by any click, on any page) had learned.

    Called by streamlit_app.py at the start of every run, before the page can change the table.
    """
    in_flight = st.session_state.pop("trainer", None)
    if in_flight is not None:
        # With fastReruns the interrupted run's thread is only told to stop at its next Streamlit
        # call, up to 1/40 of the run later: stop it now and wait, so the model kept is one
        # consistent snapshot and no orphaned thread goes on training it.
        stop_event, done = st.session_state.pop("trainer_events", (None, None))
        if stop_event is not None:
            stop_event.set()
            done.wait(timeout=30)
    if in_flight is not None and in_flight.epoch > 0:
        store_result(in_flight.result())
        if not in_flight.finished:  # (it may have reached its last epoch just before the click)
            st.session_state.train_notice = (
                f"Stopped at epoch {in_flight.epoch:,} of {in_flight.config.epochs:,}; "
                "the model learned so far is kept below."
            )


__all__ = ["example_names", "example_label", "init_session", "load_table", "replace_table", "update_table_from_editor",
           "current_table", "training_config", "store_result", "settle_interrupted_run", "result_is_stale", "sidebar_status"]
