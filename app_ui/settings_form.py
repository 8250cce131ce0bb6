"""The training settings' widgets, generated from their declarations (``sae_core.options.Option``).

The Train page and the Real model page draw the same form: the architecture menu, the main
settings in one row (the hidden size, the architecture's own main options, learning rate,
epochs, seed), the rest under "Training options". A setting's label, range, step, format
and help come from its declaration, so an architecture registered with a new option shows
it here without a line of page code. Each page chooses the widget keys (``key_of``).
"""

from __future__ import annotations

from typing import Callable

import streamlit as st

from sae_core.architectures import ARCHITECTURES
from sae_core.options import Option
from sae_core.training import HIDDEN_DIM, settings_of


def setting_input(where, option: Option, key: str):
    """One setting as a checkbox or number box, with its declared label, range, step, format and help."""
    if option.kind is bool:
        return where.checkbox(option.label, key=key, help=option.help)
    if option.kind is int:
        return where.number_input(option.label, int(option.low), int(option.high), step=int(option.step or 1),
                                  key=key, help=option.help)
    return where.number_input(option.label, float(option.low), float(option.high), step=option.step,
                              format=option.format or "%.6g", key=key, help=option.help)


def training_form(key_of: Callable[[str], str] = str, options_title: str = "Training options",
                  extra: Callable[[], None] | None = None) -> str:
    """The architecture menu and its settings' widgets (keys ``key_of(name)``); returns the architecture.

    ``extra`` draws more inside the options expander (a recipe button).
    """
    arch_key = st.selectbox("Architecture", list(ARCHITECTURES), key=key_of("architecture"),
                            format_func=lambda key: ARCHITECTURES[key].label)
    st.caption(ARCHITECTURES[arch_key].summary)
    settings = settings_of(arch_key)
    own = [o for o in ARCHITECTURES[arch_key].options if not o.advanced]
    main = [HIDDEN_DIM, *own, *(o for o in settings if not o.advanced and o is not HIDDEN_DIM and o not in own)]
    for column, option in zip(st.columns(len(main)), main):
        setting_input(column, option, key_of(option.name))
    with st.expander(options_title):
        for option in (o for o in settings if o.advanced):
            setting_input(st, option, key_of(option.name))
        if extra is not None:
            extra()
    return arch_key
