"""Per-visitor state in ``st.session_state`` (never in a shared cache), shared by the pages.

Keys that are not settings are named once, in ``app_ui.keys``: ``TABLE`` (the last valid
table), ``RESULT`` (the last trained model), ``TRAINER`` (a run in flight), ...

Settings: ``settings`` is the app's own dict of everything the user chose, on every page
(``sae_core.state.AppState.to_settings``: the training settings by name, the Presenter switch,
each page's choices, the Superposition lab's ``lab_*`` and the Real model page's ``real_*``); the
link carries the same. Streamlit drops a widget's key when its page is not shown, so
``keep_settings`` runs before every page: a widget key that exists is copied into
``settings``; one that was dropped is re-seeded from it. Widgets use the same names as keys.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from app_ui import keys
from sae_core import charts
from sae_core.errors import SAEInputError
from sae_core.examples import DEFAULT_EXAMPLE, example_references, load_example
from sae_core.features import follow_table
from sae_core.state import (CONCEPTS_PARAM, TABLE_PARAM, AppState, carries_settings, concepts_from_param, link_query,
                            table_from_param)
from sae_core.sweep import grid_settings
from sae_core.table import dims_of, tokens_of, values_of
from sae_core.training import TrainConfig, TrainResult, train

# Where the app trains: a server with a GPU uses it, every other stays on the CPU (sae_core.device).
APP_DEVICE = "auto"

EXAMPLE_LABELS = {
    "seed_tokens": "Founding example: animals vs robots",
    "colors_and_shapes": "Colours and shapes: 5 concepts in 3 dims",
}


def example_label(name: str) -> str:
    return EXAMPLE_LABELS.get(name, name.replace("_", " ").capitalize())


def init_session() -> None:
    """Fill the session with defaults (from the URL, if it carries settings) once per visitor."""
    if keys.TABLE in st.session_state:
        return
    query = st.query_params.to_dict()
    state = AppState.from_query(query)
    settings = state.to_settings()  # settings["example"]: the Data page's example menu
    settings |= grid_settings()
    st.session_state[keys.SETTINGS] = settings
    st.session_state[keys.TABLE_VERSION] = 0
    load_table(load_example(state.example), example_label(state.example), example=state.example)
    linked_table = table_from_param(query[TABLE_PARAM]) if TABLE_PARAM in query else None
    if linked_table is not None:
        load_table(linked_table, "table from a link", example=state.example)
        st.session_state[keys.EXAMPLE_TABLE] = None  # an edited table: it travels on in the link
    if CONCEPTS_PARAM in query:
        concepts = concepts_from_param(query[CONCEPTS_PARAM], tokens_of(current_table()))
        if concepts is not None:
            st.session_state[keys.REFERENCES] = concepts
    st.session_state[keys.OPENED_LINK] = carries_settings(query)


def keep_settings() -> None:
    """Before every page: widget values into the app's ``settings``; dropped widget keys re-seeded.

    The key is written back even when it exists: once its widget is gone, Streamlit would
    otherwise fall back to the value last *assigned* to the key (the first seed), not the
    value the user typed.
    """
    settings = st.session_state[keys.SETTINGS]
    for name, value in settings.items():
        if name in st.session_state:
            value = st.session_state[name]
        settings[name] = st.session_state[name] = value


def set_settings(config: TrainConfig, keep_seed: bool = False, prefix: str = "") -> None:
    """Use these training settings everywhere (a recipe button, a link; also as a button's callback).

    ``prefix``: another page's own copy of the training settings (the Real model page's ``real_``)."""
    for name, value in config.to_dict().items():
        if not (keep_seed and name == "seed"):
            set_setting(prefix + name, value)


def set_setting(name: str, value) -> None:
    """Change one setting (and its widget, before the widget is drawn in this run)."""
    st.session_state[keys.SETTINGS][name] = st.session_state[name] = value


def setting(name: str):
    """The user's current value of one setting or page choice (``AppState.to_settings`` names them)."""
    return st.session_state[keys.SETTINGS][name]


def app_state() -> AppState:
    """Everything the user chose, on every page (what the link carries)."""
    state = AppState.from_settings(st.session_state[keys.SETTINGS])
    return replace(state, example=st.session_state.get(keys.REFERENCES_EXAMPLE) or DEFAULT_EXAMPLE)


def current_link():
    """The URL query reproducing what is on screen: settings, choices and, when the table or the
    named concepts were edited, those too (``Link.data_left_out`` when they are too big)."""
    table = current_table()
    example = st.session_state.get(keys.REFERENCES_EXAMPLE)
    loaded = st.session_state.get(keys.EXAMPLE_TABLE)
    edited_table = loaded is None or not table.equals(loaded)
    refs = st.session_state.get(keys.REFERENCES, [])
    edited_refs = refs != (example_references(example, table) if example else [])
    return link_query(app_state(), table if edited_table else None, refs if edited_refs else None)


def sync_url():
    """Write what is on screen into the browser's URL (every run, before the page); return that link."""
    link = current_link()
    st.query_params.from_dict(link.query)
    return link


def load_table(table: pd.DataFrame, source: str, example: str | None = None) -> None:
    """A new table (example, upload, paste): its named concepts come only from an example."""
    st.session_state[keys.TABLE_SOURCE] = source
    st.session_state[keys.REFERENCES_EXAMPLE] = example
    st.session_state[keys.EXAMPLE_TABLE] = table if example else None
    st.session_state[keys.REFERENCES] = []
    st.session_state[keys.OPENED_LINK] = False  # a table of one's own: no longer the link's
    replace_table(table)
    st.session_state[keys.REFERENCES] = example_references(example, table) if example else []


def replace_table(table: pd.DataFrame) -> None:
    """Replace the whole table (also after a dimension edit): the data editor restarts from it."""
    follow_references(table)
    st.session_state[keys.TABLE] = table
    st.session_state[keys.EDITOR_BASE] = table
    st.session_state[keys.TABLE_VERSION] = st.session_state.get(keys.TABLE_VERSION, 0) + 1


def update_table_from_editor(table: pd.DataFrame) -> None:
    """A valid edit in the data editor: keep the editor's own state, just record the table."""
    follow_references(table)
    st.session_state[keys.TABLE] = table


def follow_references(new_table: pd.DataFrame) -> None:
    """The named concepts (the user may have edited them) follow token renames and deletions."""
    old = st.session_state.get(keys.TABLE)
    if old is not None:
        st.session_state[keys.REFERENCES] = follow_table(st.session_state.get(keys.REFERENCES, []), tokens_of(old),
                                                         tokens_of(new_table))


def current_table() -> pd.DataFrame:
    return st.session_state[keys.TABLE]


def training_config(prefix: str = "") -> TrainConfig:
    """The training settings the user chose (kept in ``settings``, whichever page is shown);
    ``prefix``: another page's own copy (the Real model page's ``real_``)."""
    settings = st.session_state[keys.SETTINGS]
    return TrainConfig(**{name: settings[prefix + name] for name in TrainConfig().to_dict()
                          if prefix + name in settings})


def store_result(result: TrainResult) -> None:
    table = current_table()
    st.session_state[keys.RESULT] = result
    st.session_state[keys.RESULT_TOKENS] = tokens_of(table)
    st.session_state[keys.RESULT_DIMS] = dims_of(table)
    st.session_state[keys.RESULT_REFERENCES] = st.session_state.get(keys.REFERENCES, [])


def result_is_stale() -> bool:
    """True when the table's tokens or dimensions changed since the model was trained."""
    table = current_table()
    return (st.session_state.get(keys.RESULT_TOKENS) != tokens_of(table)
            or st.session_state.get(keys.RESULT_DIMS) != dims_of(table))


def sidebar_status(where=None) -> None:
    """A two-line reminder of what this visitor has: the table and the model (in ``where``, default the sidebar)."""
    where = st.sidebar if where is None else where
    table = current_table()
    where.caption(
        f"**Table:** {st.session_state[keys.TABLE_SOURCE]} — {len(table)} tokens x {len(dims_of(table))} dims"
    )
    result = st.session_state.get(keys.RESULT)
    if result is None:
        where.caption("**Model:** not trained yet")
    else:
        m = result.metrics
        note = " (table changed since)" if result_is_stale() else ""
        where.caption(
            f"**Model:** {result.config.hidden_dim} features, {result.epochs_done} epochs, "
            f"explained variance {m.explained_variance:.1%}{note}"
        )


# ---- on every page: Presenter, the link, a link's one-click training ------------------------------

PRESENTER_CSS = """<style>
html { font-size: 21px; }
[data-testid='stMarkdownContainer'] p, [data-testid='stMarkdownContainer'] li { font-size: 1.1rem; }
</style>"""


def sidebar_controls(link) -> None:
    """The Presenter switch and the "Copy link" box for ``link`` (with what a link cannot carry)."""
    st.sidebar.toggle("Presenter", key="presenter",
                      help="Larger text and charts, for a projector. Stays on across pages and in the link.")
    if setting("presenter"):
        st.html(PRESENTER_CSS)
    with st.sidebar.expander("Copy link", icon=":material/link:"):
        st.caption("This page with your example, settings and choices (the copy icon is at the right):")
        st.code((st.context.url or "") + "?" + urlencode(link.query), language=None, wrap_lines=True)
        if link.data_left_out:
            st.caption("Your edited table or concepts are too large for a link: share the table's CSV "
                       "(Download on the Data page) with it.")
    if link.data_left_out:
        st.sidebar.caption(":material/info: Too large for a link: share the CSV from the Data page.")


def show_chart(chart, **kwargs):
    """``st.altair_chart`` with projector-readable text (larger in Presenter mode)."""
    return st.altair_chart(charts.readable(chart, presenter=bool(setting("presenter"))), **kwargs)


def link_banner() -> None:
    """A visitor who opened a shared link: say what it carries and train it with one click."""
    if st.session_state.get(keys.LINK_TRAINED):
        st.success(st.session_state.pop(keys.LINK_TRAINED), icon=":material/link:")
    if not st.session_state.get(keys.OPENED_LINK) or st.session_state.get(keys.RESULT) is not None:
        return
    described = app_state().describe()
    box = st.container(border=True)
    box.markdown(f":material/link: **You opened a shared link:** {st.session_state[keys.TABLE_SOURCE]}, {described}.")
    if box.button("Train these settings", type="primary", icon=":material/play_arrow:", key=keys.TRAIN_LINK):
        try:
            with st.spinner("Training the link's settings…"):
                store_result(train(values_of(current_table()), training_config(), device=APP_DEVICE))
        except SAEInputError as error:
            box.error(f"Cannot train: {error}")
        else:
            st.session_state[keys.OPENED_LINK] = False
            st.session_state[keys.LINK_TRAINED] = f"Trained the shared link's settings: {described}."
            st.rerun()


def settle_interrupted_run() -> None:
    """Keep what a run interrupted by Stop (or by any click, on any page) had learned.

    Called by streamlit_app.py at the start of every run, whichever page is shown, before the page
    can change the table. The run is any ``sae_core.stoppable.StoppableRun`` (a Trainer, the lab).
    """
    in_flight = st.session_state.pop(keys.TRAINER, None)
    ticket = st.session_state.pop(keys.TRAINER_TICKET, None)  # its place in the server's line, if it queued
    if in_flight is not None:
        # With fastReruns the interrupted run's thread is only told to stop at its next Streamlit
        # call, up to 1/40 of the run later: stop it now and wait, so the model kept is one
        # consistent snapshot and no orphaned thread goes on training it.
        stop_event, done = st.session_state.pop(keys.TRAINER_EVENTS, (None, None))
        if stop_event is not None:
            stop_event.set()
            done.wait(timeout=30)
    if ticket is not None:
        ticket.leave()  # its thread has left already (a finally), unless it is stuck: the slot goes on anyway
        if not ticket.granted:
            st.session_state[keys.LEFT_LINE] = LEFT_LINE
    keep = st.session_state.pop(keys.TRAINER_KEEP, None) or keep_train  # each page keeps its own result
    if in_flight is not None and in_flight.epoch > 0:
        keep(in_flight)


LEFT_LINE = "You left the line before your turn: nothing was trained, and what you had is unchanged."


def stopped_notice(trainer, what: str, together: str | None = None) -> str | None:
    """None when the run reached its last epoch (perhaps just before the click), else what was kept.
    ``together``: a run of several trainings one after the other (its ``total_epochs``), each one a ...
    ("size": "every size together")."""
    if trainer.finished:
        return None
    if together:
        return f"Stopped at epoch {trainer.epoch:,} of {trainer.total_epochs:,} (every {together} together); {what}."
    return f"Stopped at epoch {trainer.epoch:,} of {trainer.config.epochs:,}; {what}."


def keep_train(trainer) -> None:
    """The Train page's run: its model becomes this visitor's model."""
    store_result(trainer.result())
    st.session_state.pop(keys.LOADED_MODEL_NAME, None)
    st.session_state[keys.TRAIN_NOTICE] = stopped_notice(trainer, "the model learned so far is kept below")


__all__ = ["example_label", "init_session", "keep_settings", "set_settings", "set_setting", "setting",
           "app_state", "current_link", "sync_url", "sidebar_controls",
           "show_chart", "link_banner", "load_table", "replace_table", "update_table_from_editor",
           "current_table", "training_config", "store_result", "settle_interrupted_run", "stopped_notice", "keep_train", "result_is_stale", "sidebar_status"]
