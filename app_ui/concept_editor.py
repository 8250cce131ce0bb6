"""Data page sections (lesson-concepts): the example's recommended settings, the named
concepts (edit, download, upload) and the table's geometry.

The concepts are ``st.session_state[keys.REFERENCES]`` (a list of ReferenceFeature); session.py
makes them follow token renames and deletions in the table. Each section is one call from
app_pages/data.py.
"""

from __future__ import annotations

import streamlit as st

from app_ui import keys
from app_ui.session import set_settings
from sae_core import charts
from sae_core.contributions import decoder_bias
from sae_core.errors import SAEInputError
from sae_core.examples import example_settings
from sae_core.features import references_from_json, references_to_json, remove_concept, set_concept
from sae_core.geometry import superposition_sentence, table_geometry
from sae_core.table import dims_of, tokens_of, values_of


def example_settings_offer(example: str) -> None:
    """What the chosen example teaches and, once it is loaded, a button for its recommended settings."""
    shipped = example_settings(example)
    if shipped is None:
        return
    st.caption(shipped.teaches)
    if st.session_state.get(keys.REFERENCES_EXAMPLE) != example:
        return
    c = shipped.config
    st.button("Use this example's recommended settings", on_click=set_settings, args=(c,), kwargs={"keep_seed": True},
              help=f"{c.describe()}. " + shipped.why)


def _widget_version(refs) -> int:
    """Bumped whenever the concepts changed other than through their own widgets (rename, load, upload)."""
    if st.session_state.get(keys.CONCEPTS_DRAWN) != refs:
        st.session_state[keys.CONCEPTS_VERSION] = st.session_state.get(keys.CONCEPTS_VERSION, 0) + 1
    return st.session_state.get(keys.CONCEPTS_VERSION, 0)


def _keep(refs) -> None:
    """Concepts as the widgets on screen show them (their edits keep the widgets' state)."""
    st.session_state[keys.REFERENCES] = refs
    st.session_state[keys.CONCEPTS_DRAWN] = refs


def _replace(refs) -> None:
    """Concepts changed by a button or an upload: the concept widgets start afresh from them."""
    st.session_state[keys.REFERENCES] = refs


def concepts_section(table) -> None:
    """Edit the named concepts: tokens of each, add one, remove one, download and upload them."""
    tokens = tokens_of(table)
    refs = list(st.session_state.get(keys.REFERENCES, []))
    version = _widget_version(refs)
    st.subheader("Named concepts")
    st.caption("The token sets you expect the SAE to find. The Features and Stability pages compare every "
               "learned feature with them. Renaming or deleting a token in the table updates them.")
    for i, ref in enumerate(refs):
        name_col, tokens_col, remove_col = st.columns([2, 6, 1.5], vertical_alignment="bottom")
        name_col.markdown(f"**{ref.name}**")
        chosen = tokens_col.multiselect(f"Tokens of {ref.name}", tokens, default=[t for t in tokens if t in ref.tokens],
                                        key=f"{keys.CONCEPT_TOKENS}_{version}_{i}", label_visibility="collapsed")
        if remove_col.button("Remove", key=f"{keys.CONCEPT_REMOVE}_{version}_{i}",
                             help=f"Forget the concept '{ref.name}'", width="stretch"):
            _replace(remove_concept(refs, ref.name))
            st.rerun()
        if set(chosen) != set(ref.tokens):
            if chosen:
                refs = set_concept(refs, ref.name, chosen)
            else:
                st.error(f"Concept '{ref.name}' needs at least one token; remove it instead. It is unchanged.")
    _keep(refs)

    with st.expander("Add a concept, or download and upload the concepts"):
        add_name, add_tokens, add_go = st.columns([2, 6, 2], vertical_alignment="bottom")
        name = add_name.text_input("New concept name", key=keys.NEW_CONCEPT_NAME, placeholder="e.g. cat-like")
        members = add_tokens.multiselect("Its tokens", tokens, key=keys.NEW_CONCEPT_TOKENS)
        if add_go.button("Add concept"):
            try:
                if any(r.name == name.strip() for r in refs):
                    raise SAEInputError(f"a concept named '{name.strip()}' exists; edit its tokens above")
                _replace(set_concept(refs, name, members))
                st.rerun()
            except SAEInputError as error:
                st.error(f"{error}. The concepts are unchanged.")
        down, up = st.columns(2)
        down.download_button("Download concepts (JSON)", references_to_json(refs, tokens),
                             file_name="sae_table.features.json", mime="application/json",
                             icon=":material/download:",
                             help="Keep it beside the table's CSV (NAME.csv + NAME.features.json).")
        upload = up.file_uploader("Upload concepts (JSON)", type=["json"], key=keys.CONCEPTS_UPLOAD)
        if upload is not None and st.session_state.get(keys.CONCEPTS_UPLOAD_SEEN) != upload.file_id:
            st.session_state[keys.CONCEPTS_UPLOAD_SEEN] = upload.file_id
            try:
                _replace(references_from_json(upload.getvalue(), upload.name, tokens))
                st.rerun()
            except SAEInputError as error:
                st.error(f"Concepts not used: {error}. The concepts are unchanged.")


def geometry_section(table, result=None) -> None:
    """The table's tokens in its PCA plane, the concepts' directions and, given a model of this table, its features."""
    refs = st.session_state.get(keys.REFERENCES, [])
    st.subheader("Geometry: is this superposition?")
    st.markdown(superposition_sentence(len(refs), len(dims_of(table))))
    acts = dirs = bias = None
    if result is not None:
        acts, dirs = result.feature_activations, result.decoder_directions
        bias = decoder_bias(result.model, len(dims_of(table)))
    geometry = table_geometry(values_of(table), tokens_of(table), refs, acts, dirs, bias)
    st.altair_chart(charts.geometry_chart(geometry), width="content")
    arrows = "Dashed dark arrows: each concept's direction (its tokens' mean minus the mean token)."
    if result is not None:
        arrows += (" Coloured arrows: what each live feature adds to a token at its peak (activation × decoder row), "
                   "drawn from the decoder bias (the cross), where every reconstruction starts.")
    st.caption(f"Tokens projected onto the table's two main directions (PCA), the mean token at the centre; "
               f"this view keeps {geometry.explained:.0%} of the table's variance. {arrows}")
