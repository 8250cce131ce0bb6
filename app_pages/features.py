"""Features page: what each learned feature responds to."""

import math

import streamlit as st

from app_ui import keys
from app_ui.feature_sections import building_blocks_section, concept_matches_section, model_geometry_section
from app_ui.session import result_is_stale, set_setting, show_chart
from sae_core import charts, limits
from sae_core.features import FeatureGroup, active_sets, feature_summary, group_duplicates, top_tokens

st.title("Features")
st.markdown(
    "Each learned feature is a direction the SAE uses to rebuild the activations. A good feature "
    "fires on a set of tokens that share a concept and stays at **zero** elsewhere. Read the bars "
    "below as: *which tokens make this feature fire, and how strongly?* The decoder direction "
    "shows what the feature adds back to each input dimension when it fires. Near-copies of one "
    "feature share one card."
)

result = st.session_state.get(keys.RESULT)
if result is None:
    st.info("No model yet. Train one on the Train page first.")
    st.page_link("app_pages/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()

tokens, dims = st.session_state[keys.RESULT_TOKENS], st.session_state[keys.RESULT_DIMS]
acts, directions = result.feature_activations, result.decoder_directions
if result_is_stale():
    st.warning("The table has changed since this model was trained; these are the features of the "
               "table it was trained on.")
if result.stopped_early:
    st.caption(f"Training was stopped at epoch {result.epochs_done:,} of {result.config.epochs:,}.")

# ---- reference features the example names ----------------------------------------------------
concept_matches_section(acts, tokens, st.session_state.get(keys.RESULT_REFERENCES, []))

# ---- which features to show: live ones, near-copies grouped, a page at a time ----------------------
fires = (acts > 0).any(axis=0)
live, dead = [int(j) for j in fires.nonzero()[0]], [int(j) for j in (~fires).nonzero()[0]]
t1, t2 = st.columns(2)
hide_dead = t1.toggle("Hide dead features", value=len(dead) > 0 and len(live) > 0, key=keys.HIDE_DEAD)
show_copies = t2.toggle("Show every copy", key=keys.SHOW_COPIES,
                        help="Near-duplicate features (same active tokens, or decoder directions with "
                             "cosine ≥ 0.9) are one card; switch on to see each copy on its own.")
groups = group_duplicates(acts, directions, tokens, live)
if show_copies:
    groups = [FeatureGroup((j,)) for j in live]
if not hide_dead:
    groups = sorted(groups + [FeatureGroup((j,)) for j in dead], key=lambda g: min(g.features))
copies = sum(len(g.features) - 1 for g in groups)
st.caption(f"{acts.shape[1]:,} features: {len(live):,} live, {len(dead):,} dead"
           + (f"; {copies:,} near-copies grouped, so {len(groups):,} distinct features are shown." if copies else "."))
if dead:
    shown_dead = dead if len(dead) <= 40 else dead[:40]
    st.caption(f"Dead features (fire on no token): {', '.join(f'F{j}' for j in shown_dead)}"
               + (f" and {len(dead) - 40:,} more." if len(dead) > 40 else "."))

per_page = limits.FEATURES_PER_PAGE
pages = max(1, math.ceil(len(groups) / per_page))
if not 1 <= st.session_state.get("features_page", 1) <= pages:
    set_setting("features_page", 1)
by_feature = {g.representative: g for g in groups}
if st.session_state.get("feature", -1) not in (-1, *by_feature):
    set_setting("feature", -1)
p1, p2 = st.columns(2)
p1.selectbox("Open a feature", [-1, *by_feature], key="feature", format_func=lambda j: "— all —" if j < 0 else f"F{j}",
             help="Show only this feature (and its copies) below; the link then opens it too.")
if len(groups) > per_page:
    # thousands of features: one sortable table, cards only for the chosen page or feature
    p2.number_input(f"Page (of {pages:,})", 1, pages, step=1, key="features_page")
    st.subheader("All features")
    st.caption("Click a column heading to sort (by density or by peak activation). Cards below are "
               f"drawn for one page of {per_page} features, or for the feature you open.")
    summary = feature_summary(acts, tokens, [g.representative for g in groups])
    summary["copies"] = [len(g.features) for g in groups]
    st.dataframe(summary, hide_index=True, height=300, width="stretch",
                 column_config={"density": st.column_config.ProgressColumn("density", format="percent"),
                                "max activation": st.column_config.NumberColumn(format="%.3f")})
page_groups = groups[(st.session_state.features_page - 1) * per_page:][:per_page]
if st.session_state.feature >= 0:
    page_groups = [by_feature[st.session_state.feature]]
shown = [g.representative for g in page_groups]

# ---- the founding figure and the heatmap --------------------------------------------------------
st.subheader("Activation of each feature on each token")
if shown:
    show_chart(charts.feature_bars(acts, tokens, shown=shown), width="content")

st.subheader("Decoder direction of each feature")
st.caption("What each feature adds back to every input dimension when it fires (one colour per feature, as above).")
if shown:
    show_chart(charts.decoder_bars(directions, dims, shown), width="content")

st.subheader("Heatmap: features x tokens")
heat = [g.representative for g in groups] if len(groups) <= limits.HEATMAP_MAX_FEATURES else shown
st.caption("One row per feature; white is zero (the feature is silent), darker green is a stronger activation.")
show_chart(charts.feature_heatmap(acts, tokens, shown=heat), width="stretch")

# ---- one card per (group of) feature(s): text only, so thousands of features stay fast ------------
st.subheader("Feature cards")
dead_set = set(dead)
sets = active_sets(acts, tokens)
columns = st.columns(2)
for n, group in enumerate(page_groups):
    j = group.representative
    with columns[n % 2].container(border=True):
        density = result.feature_density[j]
        status = "dead — fires on no token" if j in dead_set else f"fires on {density:.0%} of tokens"
        extra = f" · {group.label()}" if group.label() else ""
        st.markdown(f"#### F{j} <span style='color:{charts.feature_colour(j)}'>■</span> · {status}{extra}",
                    unsafe_allow_html=True)
        top = top_tokens(acts, tokens, j, k=3)
        if top:
            st.markdown("Top tokens: " + ", ".join(f"**{t}** ({a:.2f})" for t, a in top))
            st.caption("Active set (≥ 25% of peak): " + ", ".join(sorted(sets[j])))
        strongest = sorted(range(len(dims)), key=lambda i: -abs(directions[j][i]))[:6]  # (real tables: 384 dims)
        st.caption("Decoder direction: " + ", ".join(f"{dims[i]} {directions[j][i]:+.2f}" for i in sorted(strongest)))

if len(live) <= limits.HEATMAP_MAX_FEATURES:  # these views draw every live feature at once
    model_geometry_section(result, result_is_stale())
    building_blocks_section(result, result_is_stale())
else:
    st.caption(f"The geometry and building-block views draw every live feature at once; with {len(live):,} live "
               f"features they are left out (they need at most {limits.HEATMAP_MAX_FEATURES}).")
