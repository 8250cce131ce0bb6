"""Train page: fit a sparse autoencoder to the table, live."""

import streamlit as st

from app_ui import keys
from app_ui.model_io import model_upload, result_downloads
from app_ui.runs import kept_result, run_row
from app_ui.session import (APP_DEVICE, current_table, keep_train, result_is_stale, set_settings, show_chart,
                            training_config)
from app_ui.settings_form import training_form
from sae_core import charts, handoff, limits
from sae_core.errors import SAEInputError
from sae_core.table import values_of
from sae_core.training import ARTICLE, RECOMMENDED, Trainer

st.title("Train")
st.markdown(
    "The SAE encodes each token's activation into **more** features than there are dimensions "
    "(`ReLU(x W_enc + b_enc)`), then decodes them back (`f W_dec + b_dec`). Its loss adds "
    "reconstruction error to a **sparsity** penalty on the features, so each token is explained "
    f"by a few features. Every epoch is one pass over the table: one Adam step on all of it (above "
    f"{limits.DEFAULT_BATCH_SIZE:,} tokens: one step per shuffled mini-batch). Newer architectures "
    "choose the active features differently; pick one below."
)

table = current_table()


def recipe_buttons() -> None:
    r1, r2 = st.columns(2)
    r1.button("Use recommended settings", on_click=set_settings, args=(RECOMMENDED,))
    r2.button("Use the article's recipe", on_click=set_settings, args=(ARTICLE,))


# ---- hyper-parameters (widget keys = setting names; generated from their declarations) --------
training_form(options_title="Training options (what the field learned after the article)", extra=recipe_buttons)

run_row("Train", lambda: Trainer(values_of(table), training_config(), device=APP_DEVICE), keep_train,
        notice=keys.TRAIN_NOTICE, live_loss=True)

# ---- the model this visitor has --------------------------------------------------------------
with st.expander("Load a saved model instead (SAELens zip)"):
    model_upload()
result = kept_result(keys.RESULT, keys.TRAIN_NOTICE, "No model yet: choose settings and press **Train**.")

m = result.metrics
st.subheader("Result")
if result_is_stale():
    st.warning("The table has changed since this model was trained; train again to use the new table.")
k1, k2, k3, k4 = st.columns(4)
k1.metric("Reconstruction MSE", f"{m.mse:.3g}", help="Mean squared error of x_hat against x.")
k2.metric("Explained variance", f"{m.explained_variance:.1%}",
          help="1 - residual variance / variance of the table. 100% is a perfect reconstruction.")
k3.metric("Mean L0", f"{m.l0:.2f}", help="Average number of features active on a token.")
k4.metric("Dead features", f"{m.dead_features} of {m.hidden_dim}", help="Features that fire on no token.")
if st.session_state.get(keys.LOADED_MODEL_NAME) and result.history.empty:
    st.caption(f"Loaded from {st.session_state[keys.LOADED_MODEL_NAME]} ({result.config.hidden_dim} features), "
               "read on the current table.")
else:
    st.caption(f"{result.epochs_done:,} epochs in {result.train_seconds:.2f} s, seed {result.config.seed}.")
    show_chart(charts.loss_chart(result.history), width="stretch")

result_downloads(result, st.session_state[keys.RESULT_DIMS], st.session_state[keys.RESULT_TOKENS])
try:  # the current settings as a SAELens run on GPT-2 small (sae_core/handoff.py; README, "Scale out with SAELens")
    scale_up = handoff.scale_up_spec(training_config(), len(st.session_state[keys.RESULT_DIMS]))
except SAEInputError as error:
    st.caption(f"No SAELens recipe for these settings: {error}.")
else:
    st.download_button("Scale this up with SAELens", handoff.handoff_zip(scale_up), file_name="saelens_handoff.zip",
                       mime="application/zip", icon=":material/rocket_launch:",
                       help="saelens_config.json + train_with_saelens.py: unzip, then run the script on a GPU "
                            "machine with sae-lens installed (--dry-run prints the config).")
    gpt2 = handoff.COMMON_MODELS[handoff.DEFAULT_MODEL]
    st.caption(f"The current settings as a SAELens training run on {gpt2.label} ({gpt2.hook}; "
               f"{scale_up['sae']['d_sae']:,} features, as many per dimension as here; "
               f"{handoff.TRAINING_TOKENS / 1e6:g}M tokens), its coefficients converted to SAELens' scale.")
st.page_link("app_pages/features.py", label="Next: see the features it learned", icon=":material/arrow_forward:")
