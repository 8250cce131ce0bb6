"""Features and Stability page sections (lesson-concepts): how close each named concept came,
the geometry with the learned decoder arrows, and features as building blocks of a token.

Each section is one call from app_pages/features.py or app_pages/stability.py; the maths is
in sae_core (features.closest_features, stability.concept_stability, contributions).
"""

from __future__ import annotations

import streamlit as st

from app_ui import keys
from app_ui.concept_editor import geometry_section
from app_ui.runs import keep_side_by_side, run_row
from app_ui.session import APP_DEVICE, show_chart
from sae_core import charts
from sae_core.contributions import contributions_long, token_contributions
from sae_core.errors import SAEInputError
from sae_core.features import closest_features
from sae_core.absorption import nested_pairs, pair_name
from sae_core.architectures import ARCHITECTURES
from sae_core.examples import architecture_recipes, example_settings
from sae_core.stability import ArchitecturesRun, concept_stability
from sae_core.table import dims_of, tokens_of, values_of

CONCEPT_HEADING = "**Named concepts and the closest learned feature:**"
RULE = ("A feature's active set is the tokens where it reaches at least 25% of its peak. *Exact* means the "
        "active set equals the named tokens (the concept is recovered); otherwise the closest feature is shown "
        "with what it adds (+) and misses (−), and the Jaccard overlap (shared tokens / all tokens of either; 1 = exact).")


def concept_line(match) -> str:
    if match.feature is None:
        return f"- :material/cancel: *{match.name}*: no learned feature's active set shares a token with it"
    if match.exact:
        return f"- :material/check_circle: *{match.name}* → **F{match.feature}**, exact"
    diff = match.difference().replace("-", "−")
    return f"- :material/change_history: *{match.name}* ≈ **F{match.feature}**: {diff} (Jaccard {match.jaccard:.2f})"


def concept_matches_section(feature_activations, tokens, references) -> None:
    """Per named concept: the closest learned feature and how its active set differs."""
    if not references:
        return
    matches = closest_features(feature_activations, tokens, references)
    st.markdown("\n".join([CONCEPT_HEADING, *map(concept_line, matches)]))
    st.caption(RULE)


def model_geometry_section(result, stale: bool) -> None:
    """The Data page's geometry chart, with this model's decoder arrows (when it saw this table)."""
    table = st.session_state[keys.TABLE]
    geometry_section(table, None if stale else result)
    if stale:
        st.caption("The table has changed since this model was trained, so its decoder arrows are not drawn.")


def building_blocks_section(result, stale: bool) -> None:
    """A token = bias + one part per active feature; turn parts off or scale them and watch."""
    st.subheader("Features as building blocks")
    if stale:
        st.info("The table has changed since this model was trained; train again to take its tokens apart.")
        return
    table = st.session_state[keys.TABLE]
    tokens, dims = tokens_of(table), dims_of(table)
    token = st.selectbox("Token to take apart", tokens, key=keys.BLOCKS_TOKEN)
    row = tokens.index(token)
    x = values_of(table)[row]
    active = token_contributions(result.model, x, token).active
    scales = {}
    if active:
        st.caption("The token is rebuilt as the decoder bias (all features off) plus, for each active feature, "
                   "its activation (in brackets) × its decoder row. Black ticks mark the token's own values. "
                   "Switch a feature off or scale it:")
        columns = st.columns(min(4, len(active)))
        for n, j in enumerate(active):
            with columns[n % len(columns)]:
                on = st.checkbox(f"F{j} on", value=True, key=f"{keys.BLOCKS_ON}_{token}_{j}")
                scale = st.slider(f"F{j} scale", 0.0, 2.0, 1.0, 0.1, key=f"{keys.BLOCKS_SCALE}_{token}_{j}",
                                  disabled=not on)
                scales[j] = scale if on else 0.0
    else:
        st.caption("No feature fires on this token: its reconstruction is the decoder bias alone.")
    tc = token_contributions(result.model, x, token, scales)
    st.altair_chart(charts.contributions_chart(contributions_long(tc, dims), dims), width="content")
    edited = any(s != 1.0 for s in tc.scales.values())
    st.markdown(f"Reconstruction error (mean squared) for **{token}**: {tc.original_error:.4f} as learned"
                + (f", **{tc.error:.4f}** with your edit." if edited else "."))


def absorption_note(references) -> str | None:
    """Why a nested concept (one that contains another) is the fragile one; None when none is nested."""
    pair = next(((inner, outer) for inner in references for outer in references if inner.tokens < outer.tokens), None)
    if pair is None:
        return None
    inner, outer = pair
    shared = ", ".join(sorted(inner.tokens))
    rest = ", ".join(sorted(outer.tokens - inner.tokens))
    return (f"**Why the nested concept is the fragile one.** *{outer.name}* contains *{inner.name}*: to recover "
            f"both, the tokens {shared} must fire **two** features. The sparsity penalty charges for every active "
            f"feature, so it prefers flat clusters: one feature for {{{rest}}} and one for {{{shared}}}, each token "
            f"firing once. *{outer.name}* then shows up as a near miss: the *{inner.name}* feature has **absorbed** "
            "its share of it (*feature absorption*).")


def stability_concepts_section(run, references) -> None:
    """Per named concept: seeds with an exact recovery, the median best Jaccard, the commonest near miss."""
    if not references:
        return
    rows = concept_stability(run, references)
    k = len(run.seeds)
    st.subheader("Named concepts: exact recoveries and near misses")
    lines = []
    for r in rows:
        miss = f"; commonest near miss: {r.commonest_miss.replace('-', '−')} ({r.miss_count} seeds)" if r.commonest_miss else ""
        lines.append(f"- *{r.name}*: exact in **{r.exact}/{k}** seeds, median best Jaccard **{r.median_jaccard:.2f}**{miss}")
    st.markdown("\n".join(lines))
    note = absorption_note(references)
    if note:
        st.markdown(note)


def absorption_lines(run, references) -> str | None:
    """Per nested pair, the run's mean absorption in plain words; None when no named concept is nested."""
    pairs = {pair_name(p, c): (p, c) for p, c in nested_pairs(references)}
    k = len(run.seeds)
    lines = []
    for name, value in run.absorption.items():
        if name not in pairs:
            continue
        outer, inner = pairs[name]
        per_seed = [a[name] for a in run.absorption_by_seed]
        whole, none = sum(v >= 1 for v in per_seed), sum(v <= 0 for v in per_seed)
        lines.append(
            f"- *{outer.name}* > *{inner.name}*: absorbed **{value:.0%}** on average over the {k} seeds: the feature "
            f"that best covers *{outer.name}* misses that share of *{inner.name}*'s tokens "
            f"({', '.join(sorted(inner.tokens))}). It misses all of them in {whole} seed(s), none in {none}.")
    if not lines:
        return None
    return "\n".join(["**Absorption** (0% = the broader concept's feature still fires on the nested concept's "
                      "tokens; 100% = another feature took them all):", *lines])


def architecture_label(key: str) -> str:
    return ARCHITECTURES[key].label if key in ARCHITECTURES else key


def side_by_side_table(result):
    """The side-by-side comparison as a table for a person: "17/20" recoveries, L0, live features, absorption."""
    k = len(result.seeds)
    frame = result.table()
    concepts = [r.name for r in result.references]
    pairs = [c for c in frame.columns if c not in {"architecture", "l0", "live_features", *concepts}]
    shown = frame.assign(architecture=[architecture_label(a) for a in frame["architecture"]])
    for name in concepts:
        shown[name] = [f"{n}/{k}" for n in frame[name]]
    shown = shown.rename(columns={"architecture": "Architecture", "l0": "Mean L0",
                                  "live_features": "Live features", **{p: f"{p}: absorbed" for p in pairs}})
    formats = {"Mean L0": "{:.2f}", "Live features": "{:.1f}", **{f"{p}: absorbed": "{:.0%}" for p in pairs}}
    return shown.style.format(formats).hide(axis="index")


def shipped_recipes(example: str | None) -> dict:
    """Every registered architecture's recipe for the loaded example (its settings file), or the defaults."""
    return architecture_recipes(example_settings(example) if example else None)


def recipes_why(example: str | None) -> str:
    shipped = example_settings(example) if example else None
    return shipped.architectures_why if shipped else ("No example is loaded: each architecture's defaults, with the "
                                                     "recommended shared settings.")


def architectures_section(table, references, seeds: list[int]) -> None:
    """Every registered architecture's recipe trained on the same seeds: a table and one chart."""
    st.subheader("Architectures side by side")
    example = st.session_state.get(keys.REFERENCES_EXAMPLE)
    st.caption(f"Each architecture trains **its own recipe** for {'this example' if example else 'a table'} (not the "
               f"Train page's settings) on the same seeds, {seeds[0]}–{seeds[-1]}, one architecture after another.")
    with st.expander("The recipes"):
        try:
            st.markdown("\n".join(f"- {config.describe(seed=False)}" for config in shipped_recipes(example).values()))
            st.caption(recipes_why(example))
        except SAEInputError as error:
            st.error(str(error))
    tokens = tokens_of(table)
    run_row("Train every architecture",
            lambda: ArchitecturesRun(values_of(table), shipped_recipes(example), seeds, tokens, references,
                                     device=APP_DEVICE),
            keep_side_by_side, notice=keys.SIDE_BY_SIDE_NOTICE, keys_=(keys.SIDE_BY_SIDE_TRAIN, keys.SIDE_BY_SIDE_STOP))
    result = st.session_state.get(keys.SIDE_BY_SIDE)
    if result is None:
        st.info("Press **Train every architecture** to compare the architectures on the same seeds.")
        return
    if st.session_state.get(keys.SIDE_BY_SIDE_NOTICE):
        st.warning(st.session_state[keys.SIDE_BY_SIDE_NOTICE])
    if result.tokens != tokens:
        st.warning("The table has changed since this comparison; train again to use the new table.")
    k = len(result.seeds)
    seconds = sum(run.train_seconds for run in result.runs.values())
    st.caption(f"Seeds {result.seeds[0]}–{result.seeds[-1]} ({k}), the same for every architecture; "
               f"trained in {seconds:.1f} s. Live features: features that fire on some token (mean over the seeds).")
    st.table(side_by_side_table(result))
    pairs = nested_pairs(result.references)
    if pairs:
        outer, inner = pairs[0]
        st.caption(f"*Absorbed*: the share of *{inner.name}*'s tokens that the feature best covering *{outer.name}* "
                   "misses, averaged over the seeds (0%: it still fires on them; 100%: another feature took them).")
    if result.references:
        show_chart(charts.architectures_chart(result.recovery_long(), k,
                                              {key: architecture_label(key) for key in result.runs}), width="stretch")
