"""The Real model page's widgets and per-visitor state (kept apart so the page reads top to bottom).

Its choices are settings like every page's (``app_ui.session``: kept in the app's ``settings``
and in the link): ``real_<choice>`` (``sae_core.state.RealChoices``) and its own training
settings as ``real_<setting>``, so they never collide with the Train page's.
"""

from dataclasses import replace

import streamlit as st

from app_ui import keys
from app_ui.session import set_settings, stopped_notice, training_config
from app_ui.settings_form import training_form
from sae_core.real_model.corpora import corpus_text
from sae_core.real_model.dashboards import sparse_activations
from sae_core.real_model.extraction import Extraction, extract, shared
from sae_core.state import REAL_PREFIX
from sae_core.training import REAL_TABLE, TrainConfig

# Bundled-corpus extractions kept per server, each about 15 MB (7,500 x 384 float32 + their tokens):
# a class uses one or two; 8 bounds them at about 120 MB.
SHARED_EXTRACTIONS = 8


def real_key(name: str) -> str:
    """The Real model page's setting (and widget key) for choice or training setting ``name``."""
    return REAL_PREFIX + name


@st.cache_resource(max_entries=SHARED_EXTRACTIONS,
                   show_spinner="Running the model on the bundled corpus (once per server for each choice)…")
def bundled_extraction(corpus: str, layer: int, mode: str, max_tokens: int) -> Extraction:
    """A bundled corpus's activations are the same for every visitor: extracted once per server (the first
    visitor computes, the others wait for it) and shared read-only (``extraction.shared``)."""
    return shared(extract(corpus_text(corpus), layer=layer, mode=mode, max_tokens=max_tokens))


def keep_real(trainer) -> None:
    """The Real model page's run (finished, or settled after a Stop): its SAE becomes the page's model,
    its activations kept as sparse columns (``dashboards.sparse_activations``: ~1 MB, not 46 MB)."""
    result = trainer.result()
    st.session_state[keys.REAL_RESULT] = replace(result, feature_activations=sparse_activations(
        result.feature_activations))
    st.session_state[keys.REAL_NOTICE] = stopped_notice(trainer, "the model so far is kept")


def use_real_defaults() -> None:
    set_settings(REAL_TABLE, prefix=REAL_PREFIX)


def training_settings() -> TrainConfig:
    """The training widgets (generated from the settings' declarations); returns the page's training config."""
    training_form(real_key, "Training options (the same as on the Train page)",
                  extra=lambda: st.button("Use the real-table defaults", on_click=use_real_defaults))
    return training_config(prefix=REAL_PREFIX)


def contexts_html(contexts) -> str:
    """Contexts (already HTML-escaped by sae_core.real_model.dashboards) one per line, with their activation."""
    style = "line-height: 2; font-size: 16px;"
    return "".join(f"<div style='{style}'>{c.html} <small>({c.activation:.2f})</small></div>" for c in contexts)
