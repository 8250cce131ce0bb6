"""Train page: fit a sparse autoencoder to the table, live."""

import streamlit as st

from app_ui.model_io import model_upload, result_downloads
from app_ui.runs import run_stoppable, stop_button
from app_ui.session import current_table, keep_train, result_is_stale, show_chart, training_config
from sae_core import charts, limits
from sae_core.architectures import ARCHITECTURES
from sae_core.errors import SAEInputError
from sae_core.state import TRAINING_FIELDS
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


def use_recipe(config) -> None:
    for name in TRAINING_FIELDS:
        st.session_state[name] = getattr(config, name)


# ---- hyper-parameters (widget keys = TrainConfig field names) -----------------------------
arch_key = st.selectbox("Architecture", list(ARCHITECTURES), key="architecture",
                        format_func=lambda key: ARCHITECTURES[key].label)
arch = ARCHITECTURES[arch_key]
st.caption(arch.summary)

c1, c2, c3, c4, c5 = st.columns(5)
c1.number_input("Hidden size (features)", 1, limits.MAX_HIDDEN, step=1, key="hidden_dim",
                help="How many features the SAE may use. More features than dimensions lets it "
                     "untangle superposition; too many leaves some dead.")
if "sparsity_weight" in arch.settings():
    c2.number_input("Sparsity weight", 0.0, limits.MAX_SPARSITY_WEIGHT, step=0.01, format="%.4f",
                    key="sparsity_weight",
                    help="How strongly the loss pushes features to zero (JumpReLU: the weight of its "
                         "count of active features). Higher: fewer active features per token, worse reconstruction.")
if "k" in arch.settings():
    c2.number_input("k (active features)", 1, limits.MAX_HIDDEN, step=1, key="k",
                    help="How many features each token keeps (BatchTopK: on average over the batch). "
                         "Sets the sparsity directly; no penalty shrinks the activations.")
c3.number_input("Learning rate", limits.MIN_LR, limits.MAX_LR, step=0.001, format="%.6g", key="lr",
                help="Adam's step size. 0.001-0.03 works for small tables.")
c4.number_input("Epochs", 1, limits.MAX_EPOCHS, step=100, key="epochs",
                help="Passes over the whole table (one Adam step each, or one per mini-batch on large tables).")
c5.number_input("Random seed", 0, limits.MAX_SEED, step=1, key="seed",
                help="Sets the initial weights. Same seed + same settings + same table = the same model.")

with st.expander("Training options (what the field learned after the article)"):
    st.checkbox("Unit-norm decoder", key="unit_norm_decoder",
                help="Rescale each feature's decoder row to length 1 after every step, so the "
                     "sparsity penalty cannot be dodged by shrinking activations.")
    st.checkbox("Tied initialisation", key="tied_init",
                help="Start the encoder as the transpose of the decoder.")
    st.checkbox("Decoder bias starts at the data mean", key="init_decoder_bias_to_mean",
                help="Features then only explain how tokens differ from the average token.")
    if "decoder_norm_penalty" in arch.settings():
        st.checkbox("Sparsity weighted by decoder length", key="decoder_norm_penalty",
                    help="Each feature's sparsity cost is multiplied by the length of its decoder row, "
                         "so the penalty cannot be dodged by small activations and a long decoder row.")
    if "auxk_weight" in arch.settings():
        st.number_input("Dead-feature loss weight (AuxK, 0 = off)", 0.0, limits.MAX_SPARSITY_WEIGHT, step=0.01,
                        format="%.4g", key="auxk_weight",
                        help="Features silent for a while try to reconstruct what the live ones miss, "
                             "which gives them a gradient back to life.")
    if "jumprelu_threshold" in arch.settings():
        st.number_input("Starting threshold", limits.MIN_JUMPRELU_VALUE, limits.MAX_JUMPRELU_VALUE, step=0.01,
                        format="%.4g", key="jumprelu_threshold",
                        help="A feature passes its pre-activation only above its threshold; each "
                             "feature learns its own, starting here.")
        st.number_input("Threshold bandwidth", limits.MIN_JUMPRELU_VALUE, limits.MAX_JUMPRELU_VALUE, step=0.01,
                        format="%.4g", key="jumprelu_bandwidth",
                        help="How close to the threshold a pre-activation must be to move it "
                             "(the straight-through estimator's window).")
    st.number_input("Initial decoder row length (0 = off)", 0.0, limits.MAX_INIT_DECODER_NORM, step=0.05,
                    format="%.3g", key="init_decoder_norm",
                    help="Every feature's decoder row starts at this length: a small, even start.")
    st.number_input("Resample dead features every N epochs (0 = off)", 0, limits.MAX_EPOCHS, step=50,
                    key="resample_dead_every",
                    help="A feature that fired on no token during the last N epochs is restarted "
                         "towards the worst-reconstructed token.")
    st.number_input("Mini-batch size (tokens per Adam step)", 1, limits.MAX_ROWS, step=256, key="batch_size",
                    help="A table with more tokens than this trains in shuffled mini-batches, one Adam "
                         "step each (an epoch is one pass); a smaller table trains in one full batch.")
    r1, r2 = st.columns(2)
    r1.button("Use recommended settings", on_click=use_recipe, args=(RECOMMENDED,))
    r2.button("Use the article's recipe", on_click=use_recipe, args=(ARTICLE,))

b1, b2, _ = st.columns([1, 1, 6])
train_clicked = b1.button("Train", type="primary", icon=":material/play_arrow:")
with b2:
    stop_button()

if train_clicked:
    st.session_state.pop("train_notice", None)
    try:
        trainer = Trainer(values_of(table), training_config())
    except SAEInputError as error:
        st.error(f"Cannot train: {error}")
    else:
        run_stoppable(trainer, keep_train, live_loss=True)

# ---- the model this visitor has --------------------------------------------------------------
if st.session_state.get("train_notice"):
    st.warning(st.session_state.train_notice)
with st.expander("Load a saved model instead (SAELens zip)"):
    model_upload()
result = st.session_state.get("result")
if result is None:
    st.info("No model yet: choose settings and press **Train**.")
    st.stop()

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
if st.session_state.get("loaded_model_name") and result.history.empty:
    st.caption(f"Loaded from {st.session_state.loaded_model_name} ({result.config.hidden_dim} features), "
               "read on the current table.")
else:
    st.caption(f"{result.epochs_done:,} epochs in {result.train_seconds:.2f} s, seed {result.config.seed}.")
    show_chart(charts.loss_chart(result.history), width="stretch")

result_downloads(result, st.session_state.result_dims, st.session_state.result_tokens)
st.page_link("app_pages/features.py", label="Next: see the features it learned", icon=":material/arrow_forward:")
