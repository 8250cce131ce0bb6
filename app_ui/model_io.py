"""Models in and out of the app: SAELens zip download and upload, feature activations as CSV.

Helpers for the Train page (not a page of its own). An uploaded model becomes the visitor's
result on the current table, so the Features page reads its features like a trained one.
"""

from __future__ import annotations

import streamlit as st

from app_ui import keys
from app_ui.session import current_table, store_result
from sae_core.errors import SAEInputError
from sae_core.export import activations_csv
from sae_core.saelens_format import load_saelens_zip, result_on_table, result_zip
from sae_core.table import values_of


def model_upload() -> None:
    """A zip of a SAELens folder (from this app or from sae-lens) read on the current table."""
    upload = st.file_uploader(
        "Load a model (SAELens folder as .zip)", type=["zip"], key=keys.MODEL_UPLOAD,
        help="A model downloaded from this app, or a sae-lens standard SAE folder zipped. Its d_in must "
             "equal the table's number of dimensions. Only safetensors + JSON are read, never code.")
    if upload is not None and st.session_state.get(keys.MODEL_UPLOAD_SEEN) != upload.file_id:
        st.session_state[keys.MODEL_UPLOAD_SEEN] = upload.file_id
        st.session_state.pop(keys.MODEL_UPLOAD_ERROR, None)
        try:
            model, cfg = load_saelens_zip(upload.getvalue(), upload.name)
            result = result_on_table(model, cfg, values_of(current_table()))
        except SAEInputError as error:
            st.session_state[keys.MODEL_UPLOAD_ERROR] = str(error)
        else:
            store_result(result)
            st.session_state[keys.TRAIN_NOTICE] = None
            st.session_state[keys.LOADED_MODEL_NAME] = upload.name
    if st.session_state.get(keys.MODEL_UPLOAD_ERROR) and upload is not None:
        st.error(f"Model not used: {st.session_state[keys.MODEL_UPLOAD_ERROR]}. Your model is unchanged.")


def result_downloads(result, dims: list[str], tokens: list[str]) -> None:
    """Model (SAELens zip) and feature activations (CSV), side by side."""
    d1, d2 = st.columns(2)
    d1.download_button("Download model", result_zip(result, dims, tokens), file_name="sae_playground_model.zip",
                       mime="application/zip", icon=":material/download:",
                       help="A SAELens folder (cfg.json + sae_weights.safetensors) in a zip: unzip it and "
                            "open it with sae_lens.SAE.load_from_disk, or load it here again.")
    d2.download_button("Download feature activations (CSV)", activations_csv(result.feature_activations, tokens),
                       file_name="feature_activations.csv", mime="text/csv", icon=":material/download:",
                       help="One row per token, one column per feature (F0, F1, ...).")
