"""Data page: the token x dimension table the SAE will learn from."""

import streamlit as st

from app_ui import keys
from app_ui.concept_editor import concepts_section, example_settings_offer, geometry_section
from app_ui.session import (current_table, example_label, load_table, replace_table, show_chart,
                               update_table_from_editor)
from sae_core import charts, limits
from sae_core.errors import SAEInputError
from sae_core.examples import example_names, load_example
from sae_core.table import (TOKEN, add_dimension, dims_of, parse_csv, remove_dimension, rename_dimension,
                            table_to_csv, validate_table)

st.title("Data")
st.markdown(
    "Each row is a **token** and each column one **dimension** of a model's hidden activation "
    "for it. Real models pack many more concepts than they have dimensions into these vectors "
    "(*superposition*), so one dimension rarely means one thing. Edit the table, load an example "
    "or upload your own CSV; the Train page then learns a sparse set of features that explain it."
)

table = current_table()

# ---- where the table comes from -------------------------------------------------------------
source_col, upload_col = st.columns(2)
with source_col:
    names = example_names()
    example = st.selectbox("Bundled example", names, format_func=example_label, key="example")
    if st.button("Load example", help="Replace the current table with this example"):
        load_table(load_example(example), example_label(example), example=example)
        st.rerun()
    example_settings_offer(example)
with upload_col:
    upload = st.file_uploader(
        "Upload a CSV", type=["csv", "txt"], key=keys.CSV_UPLOAD,
        help=f"Header row 'token,<dim>,<dim>,...', one row per token, numbers only; "
             f"at most {limits.MAX_UPLOAD_BYTES // 2**20} MB.",
    )
    if upload is not None and st.session_state.get(keys.UPLOAD_SEEN) != upload.file_id:
        st.session_state[keys.UPLOAD_SEEN] = upload.file_id
        st.session_state.pop(keys.UPLOAD_ERROR, None)
        try:
            load_table(parse_csv(upload.getvalue(), upload.name), f"upload: {upload.name}")
            st.rerun()
        except SAEInputError as error:
            st.session_state[keys.UPLOAD_ERROR] = str(error)
    if st.session_state.get(keys.UPLOAD_ERROR) and upload is not None:
        st.error(f"Upload not used: {st.session_state[keys.UPLOAD_ERROR]}. Your table is unchanged.")

# ---- the editor -----------------------------------------------------------------------------
heading = st.empty()  # filled below: an edit in the editor changes the table in this run
st.caption(
    "Click a cell to change it, double-click a token to rename it, use the + row at the bottom "
    "to add a token and the row checkboxes and the bin icon to delete tokens. Paste from a spreadsheet into "
    "the cells directly."
)
edited = st.data_editor(
    st.session_state[keys.EDITOR_BASE], num_rows="dynamic", hide_index=True, width="stretch",
    key=f"{keys.EDITOR}_{st.session_state[keys.TABLE_VERSION]}",
    column_config={TOKEN: st.column_config.TextColumn("token", required=True)},
)
try:
    valid = validate_table(edited, "table")
    if not valid.equals(table):
        update_table_from_editor(valid)
        table = valid
except SAEInputError as error:
    st.error(f"This edit is not used yet: {error}. The last valid table is kept for training.")
heading.subheader(f"Table: {len(table)} tokens x {len(dims_of(table))} dimensions")

# ---- dimensions -------------------------------------------------------------------------------
with st.expander("Add, remove or rename dimensions"):
    add_col, remove_col, rename_col = st.columns(3)
    dims = dims_of(table)
    try:
        with add_col:
            new_name = st.text_input("New dimension name", placeholder=f"d{len(dims)}", key=keys.NEW_DIM)
            if st.button("Add dimension", help="Adds a column filled with 0"):
                replace_table(add_dimension(table, new_name or None))
                st.rerun()
        with remove_col:
            gone = st.selectbox("Dimension to remove", dims, key=keys.REMOVE_DIM)
            if st.button("Remove dimension"):
                replace_table(remove_dimension(table, gone))
                st.rerun()
        with rename_col:
            old = st.selectbox("Dimension to rename", dims, key=keys.RENAME_FROM)
            new = st.text_input("New name", key=keys.RENAME_TO)
            if st.button("Rename dimension"):
                replace_table(rename_dimension(table, old, new))
                st.rerun()
    except SAEInputError as error:
        st.error(f"{error}. The table is unchanged.")

with st.expander("Paste a whole table as CSV text"):
    pasted = st.text_area("CSV text", height=150, key=keys.PASTED,
                          placeholder="token,d0,d1\ncat,0.8,0.3\ndog,0.7,0.2")
    if st.button("Use pasted table"):
        try:
            load_table(parse_csv(pasted.encode("utf-8"), "pasted table"), "pasted table")
            st.rerun()
        except SAEInputError as error:
            st.error(f"{error}. The table is unchanged.")

# ---- look at it and take it away ---------------------------------------------------------------
chart_col, side_col = st.columns([3, 1])
with chart_col:
    show_chart(charts.table_heatmap(table), width="stretch")
with side_col:
    st.download_button("Download table as CSV", table_to_csv(table), file_name="sae_table.csv",
                       mime="text/csv", icon=":material/download:")
    st.page_link("app_pages/train.py", label="Next: train an SAE", icon=":material/arrow_forward:")

concepts_section(table)
geometry_section(table)
