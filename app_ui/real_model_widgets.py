"""The Real model page's widgets and per-visitor state (kept apart so the page reads top to bottom).

Settings live in app-owned session keys (``real_*``); each widget (``w_real_*``) is seeded from
them, because Streamlit drops a widget's key when its page is not shown.
"""

from dataclasses import fields, replace

import streamlit as st

from app_ui.session import stopped_notice
from sae_core import limits
from sae_core.architectures import ARCHITECTURES
from sae_core.real_model.extraction import DEFAULT_LAYER
from sae_core.training import REAL_TABLE, TrainConfig

SETTINGS = {"real_source": "Bundled corpus", "real_corpus": "founding_story", "real_layer": DEFAULT_LAYER,
            "real_mode": "pieces", "real_max_tokens": 6000, "real_query": "", "real_feature": 0, "real_text": ""}


def init_real_settings() -> None:
    for key, value in SETTINGS.items():
        st.session_state.setdefault(key, value)
    st.session_state.setdefault("real_config", REAL_TABLE)


def widget(key: str) -> str:
    """The widget key for app-owned setting ``key``, seeded with the setting's value."""
    wkey = "w_" + key
    if wkey not in st.session_state:
        st.session_state[wkey] = st.session_state[key]
    return wkey


def keep(key: str) -> None:
    st.session_state[key] = st.session_state["w_" + key]


def keep_real(trainer) -> None:
    """The Real model page's run (finished, or settled after a Stop): its SAE becomes the page's model."""
    st.session_state.real_result = trainer.result()
    st.session_state.real_notice = stopped_notice(trainer, "the model so far is kept")


LABELS = {"hidden_dim": "Hidden size (features)", "lr": "Learning rate", "epochs": "Epochs (passes over the rows)",
          "batch_size": "Batch size (rows per step)", "seed": "Random seed", "sparsity_weight": "Sparsity weight",
          "k": "k (active features per row)", "auxk_weight": "AuxK weight (revives dead features)",
          "jumprelu_threshold": "Starting threshold", "jumprelu_bandwidth": "Threshold bandwidth",
          "decoder_norm_penalty": "Sparsity weighted by decoder length", "tied_init": "Tied initialisation",
          "init_decoder_bias_to_mean": "Decoder bias starts at the data mean", "unit_norm_decoder": "Unit-norm decoder",
          "init_decoder_norm": "Initial decoder row length (0 = off)",
          "resample_dead_every": "Resample dead features every N epochs (0 = off)"}
BOUNDS = {"hidden_dim": (1, limits.MAX_HIDDEN), "lr": (limits.MIN_LR, limits.MAX_LR), "epochs": (1, limits.MAX_EPOCHS),
          "batch_size": (1, limits.MAX_ROWS), "seed": (0, limits.MAX_SEED), "k": (1, limits.MAX_HIDDEN),
          "sparsity_weight": (0.0, limits.MAX_SPARSITY_WEIGHT), "auxk_weight": (0.0, limits.MAX_SPARSITY_WEIGHT),
          "jumprelu_threshold": (limits.MIN_JUMPRELU_VALUE, limits.MAX_JUMPRELU_VALUE),
          "jumprelu_bandwidth": (limits.MIN_JUMPRELU_VALUE, limits.MAX_JUMPRELU_VALUE),
          "init_decoder_norm": (0.0, limits.MAX_INIT_DECODER_NORM), "resample_dead_every": (0, limits.MAX_EPOCHS)}


def setting(where, name: str, config: TrainConfig):
    """One TrainConfig field as a widget (key w_real_<name>, seeded from the app-owned config)."""
    key = "w_real_" + name
    st.session_state.setdefault(key, getattr(config, name))
    if isinstance(getattr(config, name), bool):
        return where.checkbox(LABELS[name], key=key)
    low, high = BOUNDS[name]
    return where.number_input(LABELS[name], low, high, key=key,
                              format="%.6g" if isinstance(low, float) else "%d")


def use_real_defaults() -> None:
    for f in fields(TrainConfig):
        st.session_state["w_real_" + f.name] = getattr(REAL_TABLE, f.name)


def training_settings(config: TrainConfig) -> TrainConfig:
    """The training widgets: architecture, sizes, the architecture's own settings, the options."""
    st.session_state.setdefault("w_real_architecture", config.architecture)
    values = {"architecture": st.selectbox("Architecture", list(ARCHITECTURES), key="w_real_architecture",
                                           format_func=lambda key: ARCHITECTURES[key].label)}
    general = ["hidden_dim", "lr", "epochs", "batch_size", "seed"]
    for column, name in zip(st.columns(len(general)), general):
        values[name] = setting(column, name, config)
    own = list(ARCHITECTURES[values["architecture"]].settings())
    for column, name in zip(st.columns(max(1, len(own))), own):
        values[name] = setting(column, name, config)
    with st.expander("Training options (the same as on the Train page)"):
        for name in ("tied_init", "init_decoder_bias_to_mean", "unit_norm_decoder", "init_decoder_norm",
                     "resample_dead_every"):
            values[name] = setting(st, name, config)
        st.button("Use the real-table defaults", on_click=use_real_defaults)
    return replace(config, **values)


def contexts_html(contexts) -> str:
    """Contexts (already HTML-escaped by sae_core.real_model.dashboards) one per line, with their activation."""
    style = "line-height: 2; font-size: 16px;"
    return "".join(f"<div style='{style}'>{c.html} <small>({c.activation:.2f})</small></div>" for c in contexts)
