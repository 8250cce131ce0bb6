"""Features page: what each learned feature responds to."""

import streamlit as st

from app_pages.feature_sections import building_blocks_section, concept_matches_section, model_geometry_section
from app_pages.session import result_is_stale
from sae_core import charts
from sae_core.features import active_sets, top_tokens

st.title("Features")
st.markdown(
    "Each learned feature is a direction the SAE uses to rebuild the activations. A good feature "
    "fires on a set of tokens that share a concept and stays at **zero** elsewhere. Read the bars "
    "below as: *which tokens make this feature fire, and how strongly?* The decoder direction "
    "shows what the feature adds back to each input dimension when it fires."
)

result = st.session_state.get("result")
if result is None:
    st.info("No model yet. Train one on the Train page first.")
    st.page_link("app_pages/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()

tokens, dims = st.session_state.result_tokens, st.session_state.result_dims
acts, directions = result.feature_activations, result.decoder_directions
if result_is_stale():
    st.warning("The table has changed since this model was trained; these are the features of the "
               "table it was trained on.")
if result.stopped_early:
    st.caption(f"Training was stopped at epoch {result.epochs_done:,} of {result.config.epochs:,}.")

# ---- reference features the example names ----------------------------------------------------
concept_matches_section(acts, tokens, st.session_state.get("result_references", []))

# ---- the founding figure --------------------------------------------------------------------
st.subheader("Activation of each feature on each token")
live = [j for j in range(acts.shape[1]) if (acts[:, j] > 0).any()]
dead = [j for j in range(acts.shape[1]) if j not in live]
hide_dead = st.toggle("Hide dead features", value=len(dead) > 0 and len(live) > 0, key="hide_dead")
shown = live if hide_dead else list(range(acts.shape[1]))
if shown:
    st.altair_chart(charts.feature_bars(acts, tokens, shown=shown), width="content")
if dead:
    st.caption(f"Dead features (fire on no token): {', '.join(f'F{j}' for j in dead)}.")

st.subheader("Heatmap: features x tokens")
st.altair_chart(charts.feature_heatmap(acts, tokens, shown=shown), width="stretch")

# ---- one card per feature --------------------------------------------------------------------
st.subheader("Feature cards")
sets = active_sets(acts, tokens)
columns = st.columns(2)
for n, j in enumerate(shown):
    with columns[n % 2].container(border=True):
        density = result.feature_density[j]
        status = "dead — fires on no token" if j in dead else f"fires on {density:.0%} of tokens"
        st.markdown(f"#### F{j} <span style='color:{charts.feature_colour(j)}'>■</span> · {status}",
                    unsafe_allow_html=True)
        top = top_tokens(acts, tokens, j, k=3)
        if top:
            st.markdown("Top tokens: " + ", ".join(f"**{t}** ({a:.2f})" for t, a in top))
            st.caption("Active set (≥ 25% of peak): " + ", ".join(sorted(sets[j])))
        left, right = st.columns(2)
        left.altair_chart(charts.token_bars(acts, tokens, j), width="stretch")
        right.altair_chart(charts.decoder_direction_chart(directions, dims, j), width="stretch")

model_geometry_section(result, result_is_stale())
building_blocks_section(result, result_is_stale())
