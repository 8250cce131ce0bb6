"""The Real model page's "Dictionary sizes" section: one SAE per size on the extracted table, the
explained-variance-versus-concepts trade-off and the split tree (``sae_core.splitting``)."""

from __future__ import annotations

import re

import streamlit as st

from app_ui import keys
from app_ui.real_model_widgets import real_key
from app_ui.runs import run_row
from app_ui.session import APP_DEVICE, setting, show_chart, stopped_notice
from app_ui.words import in_words
from sae_core import charts
from sae_core.real_model.dashboards import RANDOM_PER_DIM
from sae_core.splitting import PROBE_SIZES, SPLIT_COSINE, SplitResult, SplitRun, TreeNode, parse_sizes

CLOSE_TO_CHANCE = 0.05  # a best feature within this F1 of the best random direction "barely beats chance"


def keep_split(run: SplitRun) -> None:
    """The section's run (finished, or settled after a Stop): every size trained so far."""
    st.session_state[keys.REAL_SPLIT] = run.result()
    st.session_state[keys.REAL_SPLIT_NOTICE] = stopped_notice(
        run, "the sizes trained so far are shown, the last one as learned up to the stop", "size")


def trade_off_sentence(result: SplitResult) -> str:
    """The trade-off in words, from this result's own numbers (smallest and largest size)."""
    first, last = result.sizes[0], result.sizes[-1]
    grows = "grows" if last.explained_variance > first.explained_variance else "does not grow"
    text = (f"Explained variance {grows} with the dictionary: **{first.explained_variance:.0%}** at {first.size:,} "
            f"features, **{last.explained_variance:.0%}** at {last.size:,}. ")
    scored = [(name, first.concepts[name], last.concepts[name]) for name in result.concepts
              if first.concepts[name].feature is not None]
    if not scored:
        return text + "No concept has rows in this text, so there is nothing to find."
    text += "The best single feature's F1 " + "; ".join(
        f"for *{name}* goes {a.f1:.2f} → {b.f1:.2f} (best random direction {b.random_f1:.2f})"
        for name, a, b in scored) + ". "
    fell = [name for name, a, b in scored if b.f1 < a.f1]
    below = [name for name, _, b in scored if b.f1 < b.random_f1]
    near = [name for name, _, b in scored if b.random_f1 <= b.f1 < b.random_f1 + CLOSE_TO_CHANCE]
    if fell and len(result.sizes) > 1:
        text += (f"{_names(fell)} {'is' if len(fell) == 1 else 'are'} caught better by one feature of the small "
                 "dictionary than of the large one: as the dictionary grows, a broad concept splits into narrower "
                 "features (see the tree below). ")
    verb = {True: ("is", "beats"), False: ("are", "beat")}
    if below:
        text += f"At {last.size:,} features {_names(below)} {verb[len(below) == 1][0]} below chance. "
    if near:
        text += f"At {last.size:,} features {_names(near)} barely {verb[len(near) == 1][1]} chance."
    return text.strip()


def _names(names: list[str]) -> str:
    return in_words(f"*{n}*" for n in names)


def _escaped(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>#|~$])", r"\\\1", text)


def tree_markdown(node: TreeNode, depth: int = 0) -> str:
    """The split tree as a nested list, one feature a line: size, feature, cosine with its parent, F1, words."""
    cos = f"cos {node.cosine:.2f} · " if node.cosine is not None else ""
    line = (f"{'  ' * depth}- **{node.size:,} · F{node.feature}** ({cos}F1 {node.f1:.2f}): "
            f"{_escaped(node.words) or '*dead*'}")
    lines = [line] + [tree_markdown(child, depth + 1) for child in node.children]
    if node.more:
        lines.append(f"{'  ' * (depth + 1)}- … and {node.more} more")
    return "\n".join(lines)


def split_section(extraction, config) -> None:
    """Sizes chooser, run (stoppable), table, trade-off chart and sentence, split trees."""
    st.subheader("4. Dictionary sizes: how concepts split")
    st.markdown(
        "Train the same SAE (the settings above) at several **dictionary sizes** on this table. A bigger "
        "dictionary reconstructs better, but a broad concept such as *animal* may then be split over several "
        "narrower features (cats, dogs…), so no single feature matches it any more.")
    concepts = st.session_state.get(keys.REAL_CONCEPTS) or {}
    if not concepts:
        st.caption("This needs concept word lists: extract the bundled founding story to compare sizes.")
        return
    st.text_input("Dictionary sizes (features, comma-separated)", key=real_key("sizes"),
                  help="Each trains one SAE with the settings above, its hidden size replaced by the size.")
    n_dims = extraction.activations.shape[1]
    run_row("Train every size", lambda: SplitRun(
        extraction.activations, config, parse_sizes(setting(real_key("sizes")), n_dims), extraction.words,
        concepts, device=APP_DEVICE), keep_split, notice=keys.REAL_SPLIT_NOTICE,
        keys_=(keys.REAL_SPLIT_TRAIN, keys.REAL_SPLIT_STOP))
    result = st.session_state.get(keys.REAL_SPLIT)
    if result is None or not result.sizes:
        st.info("No sizes compared yet: press **Train every size**.")
        return
    if st.session_state.get(keys.REAL_SPLIT_NOTICE):
        st.warning(st.session_state[keys.REAL_SPLIT_NOTICE])
    show_chart(charts.split_chart(result.long()))
    st.markdown(trade_off_sentence(result))
    st.caption("Solid: the best single feature's F1 for each concept (active > 0 against \"the token's whole word "
               f"is in the list\"). Dashed: the chance level, the best of {RANDOM_PER_DIM} x {n_dims} random "
               "directions, each at its best threshold. Black: explained variance.")
    probes = {f"probe_{k}": st.column_config.NumberColumn(f"probe F1, {k} feature{'s' * (k > 1)}", format="%.2f")
              for k in PROBE_SIZES}
    st.dataframe(result.table(), hide_index=True, column_config={
        "explained_variance": st.column_config.NumberColumn("explained variance", format="percent"),
        "l0": st.column_config.NumberColumn("L0", format="%.1f"),
        "dead_fraction": st.column_config.NumberColumn("dead", format="percent"),
        "f1": st.column_config.NumberColumn("best feature F1", format="%.2f"),
        "feature": st.column_config.NumberColumn("best feature", format="F%d"),
        "random_f1": st.column_config.NumberColumn("random F1", format="%.2f"), **probes})
    st.caption("The sparse probes (SAEBench's k-sparse probing): the k features whose mean activation differs most "
               "between the concept's rows and the others, then a logistic regression on them, fitted on 70% of "
               "the rows and scored on the other 30% (a fixed split, seed 0).")
    st.markdown(f"**Split trees**: each concept's best feature at {result.sizes[0].size:,} features, then the "
                f"features of each next size whose decoder direction has cosine ≥ {SPLIT_COSINE:g} with it, "
                "with their top words.")
    trees = result.trees()
    for column, (name, tree) in zip(st.columns(max(1, len(trees))), trees.items()):
        column.markdown(f"*{_escaped(name)}*\n\n{tree_markdown(tree)}")
