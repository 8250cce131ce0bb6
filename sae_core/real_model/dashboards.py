"""Feature dashboards for SAEs on real text (as sae_vis and Neuronpedia show them), without Streamlit.

A feature is *active* on a row when its activation is > 0. Inputs everywhere:
``acts_NH`` (rows x features, what the SAE computed), ``words`` (each row's lower-case whole
word) and, for contexts, the :class:`~sae_core.real_model.extraction.Extraction` the rows came from.

- :func:`features_table`: one row per feature: density, max activation, top words as text.
- :func:`search_word`: the features that fire most on a word.
- :func:`top_contexts` and :func:`random_contexts`: where a feature fires, deduplicated; the
  random sample matters because the top 20 alone mislead (a negation feature's top 20 can be
  one word fifteen times while its active set covers every negation word).
- :func:`concept_matches`: per concept word list, the best feature's precision, recall and F1,
  beside the best of as many random directions (the chance level).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

TOP_CANDIDATES = 64  # rows looked at per feature to find its top distinct words


def features_table(acts_NH: np.ndarray, words: list[str], k: int = 5) -> pd.DataFrame:
    """feature, density (fraction of rows it fires on), max_activation, top_words ("cat, dog, ...")."""
    acts_NH = np.asarray(acts_NH, dtype=np.float32)
    n, h = acts_NH.shape
    density = (acts_NH > 0).mean(axis=0)
    peak = acts_NH.max(axis=0) if n else np.zeros(h, np.float32)
    m = min(TOP_CANDIDATES, n)
    # torch.topk keeps only m x H indices (argpartition would allocate N x H int64 indices)
    top_MH = torch.from_numpy(acts_NH).topk(m, dim=0).indices.numpy() if m else np.zeros((0, h), int)
    top_words = []
    for j in range(h):
        rows = top_MH[:, j]
        seen: list[str] = []
        for i in rows:
            if acts_NH[i, j] <= 0 or len(seen) == k:
                break
            if words[i] not in seen:
                seen.append(words[i])
        top_words.append(", ".join(seen))
    return pd.DataFrame({"feature": np.arange(h), "density": density.astype(float),
                         "max_activation": peak.astype(float), "top_words": top_words})


def search_word(acts_NH: np.ndarray, words: list[str], query: str, limit: int = 50) -> pd.DataFrame:
    """Features ranked by their mean activation on the rows whose whole word is ``query``.

    Columns: feature, mean_on_word, fires_on (fraction of the word's rows where it is active).
    Empty when the word is not in the text or no feature fires on it.
    """
    query = " ".join(str(query).lower().split())
    rows = np.array([w == query for w in words], dtype=bool)
    if not query or not rows.any():
        return pd.DataFrame(columns=["feature", "mean_on_word", "fires_on"])
    on_word = np.asarray(acts_NH)[rows]
    mean = on_word.mean(axis=0)
    fires = (on_word > 0).mean(axis=0)
    order = [j for j in np.argsort(-mean, kind="stable")[:limit] if mean[j] > 0]
    return pd.DataFrame({"feature": order, "mean_on_word": mean[order].astype(float),
                         "fires_on": fires[order].astype(float)})


def histogram(acts_N: np.ndarray, bins: int = 30) -> pd.DataFrame:
    """Counts of the feature's non-zero activations in equal bins: start, end, count."""
    active = np.asarray(acts_N, dtype=float)
    active = active[active > 0]
    if not active.size:
        return pd.DataFrame(columns=["start", "end", "count"])
    counts, edges = np.histogram(active, bins=bins, range=(0.0, float(active.max())))
    return pd.DataFrame({"start": edges[:-1], "end": edges[1:], "count": counts})


# ---- contexts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    row: int
    activation: float
    text: str  # the context as plain text (what deduplication compares)
    html: str  # the same, each token shaded by the feature's activation, the row's token outlined


def context_of(extraction, acts_N: np.ndarray, row: int, peak: float, window: int = 10) -> Context:
    """The row's token with up to ``window`` tokens either side (same document), shaded by activation."""
    tokens = extraction.tokens
    doc = tokens[row]["doc"]
    lo, hi = row, row
    while lo > 0 and row - lo < window and tokens[lo - 1]["doc"] == doc:
        lo -= 1
    while hi + 1 < len(tokens) and hi - row < window and tokens[hi + 1]["doc"] == doc:
        hi += 1
    text = extraction.documents[doc] if doc < len(extraction.documents) else None
    plain, marked = [], []
    cursor = tokens[lo]["start"]
    for i in range(lo, hi + 1):
        t = tokens[i]
        if text is not None:
            gap = text[cursor : t["start"]] if t["start"] >= cursor else ""
            piece = text[t["start"] : t["end"]]
            cursor = max(cursor, t["end"])
        else:
            gap, piece = (" " if i > lo else ""), t["token"]
        plain.append(gap + piece)
        marked.append(html.escape(gap) + _shade(piece, float(acts_N[i]), peak, i == row))
    prefix = "… " if lo > 0 and tokens[lo - 1]["doc"] == doc else ""
    suffix = " …" if hi + 1 < len(tokens) and tokens[hi + 1]["doc"] == doc else ""
    return Context(row, float(acts_N[row]), prefix + "".join(plain) + suffix,
                   html.escape(prefix) + "".join(marked) + html.escape(suffix))


def _shade(piece: str, activation: float, peak: float, focus: bool) -> str:
    alpha = 0.0 if peak <= 0 else max(0.0, min(1.0, activation / peak))
    style = f"background: rgba(255, 140, 0, {alpha:.2f});"
    if focus:
        style += " outline: 2px solid #333; font-weight: 600;"
    title = f"{activation:.3f}"
    return f'<span style="{style}" title="{title}">{html.escape(piece)}</span>'


def top_contexts(acts_N: np.ndarray, extraction, k: int = 20, window: int = 10) -> list[Context]:
    """The k highest activations, one per distinct context text (repeated sentences count once)."""
    acts_N = np.asarray(acts_N, dtype=np.float32)
    peak = float(acts_N.max()) if acts_N.size else 0.0
    out, seen = [], set()
    for row in np.argsort(-acts_N, kind="stable"):
        if acts_N[row] <= 0 or len(out) == k:
            break
        ctx = context_of(extraction, acts_N, int(row), peak, window)
        if ctx.text not in seen:
            seen.add(ctx.text)
            out.append(ctx)
    return out


def random_contexts(acts_N: np.ndarray, extraction, k: int = 20, seed: int = 0,
                    window: int = 10) -> list[Context]:
    """k contexts drawn uniformly (fixed seed) from all rows where the feature is active, deduplicated."""
    acts_N = np.asarray(acts_N, dtype=np.float32)
    active = np.flatnonzero(acts_N > 0)
    peak = float(acts_N.max()) if acts_N.size else 0.0
    order = np.random.default_rng(seed).permutation(active)
    out, seen = [], set()
    for row in order:
        if len(out) == k:
            break
        ctx = context_of(extraction, acts_N, int(row), peak, window)
        if ctx.text not in seen:
            seen.add(ctx.text)
            out.append(ctx)
    return sorted(out, key=lambda c: -c.activation)


def word_counts(acts_N: np.ndarray, words: list[str], limit: int = 15) -> list[tuple[str, int]]:
    """The words a feature is active on, most frequent first (its whole active set, summarised)."""
    active = np.flatnonzero(np.asarray(acts_N) > 0)
    counts: dict[str, int] = {}
    for i in active:
        counts[words[i]] = counts.get(words[i], 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


# ---- concepts -------------------------------------------------------------------------------------


def _f1(tp: np.ndarray, predicted: np.ndarray, positives: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    precision = np.divide(tp, predicted, out=np.zeros(tp.shape), where=predicted > 0)
    recall = tp / max(positives, 1)
    f1 = np.divide(2 * tp, predicted + positives, out=np.zeros(tp.shape), where=(predicted + positives) > 0)
    return precision, recall, f1


def random_direction_f1(x_ND: np.ndarray, labels_N: np.ndarray, n_directions: int, seed: int = 0,
                        block: int = 256) -> float:
    """The best F1 of ``n_directions`` random directions (chance level).

    Each direction projects the centred activations; its "active" rows are its top m rows
    (m = the concept's size; either sign), a generous threshold that a random feature could
    not know. With m rows predicted, precision = recall = F1 = hits / m.
    """
    x = np.asarray(x_ND, dtype=np.float32)
    x = x - x.mean(axis=0)
    labels_N = np.asarray(labels_N, dtype=bool)
    m = int(labels_N.sum())
    if m == 0 or m >= len(labels_N):
        return 0.0
    rng = np.random.default_rng(seed)
    best = 0.0
    for start in range(0, n_directions, block):
        r = rng.standard_normal((x.shape[1], min(block, n_directions - start))).astype(np.float32)
        proj = x @ r
        for sign in (1, -1):
            top = np.argpartition(-sign * proj, m - 1, axis=0)[:m]
            best = max(best, float(labels_N[top].sum(axis=0).max()) / m)
    return best


def concept_matches(acts_NH: np.ndarray, x_ND: np.ndarray, words: list[str],
                    concepts: dict[str, frozenset[str]], seed: int = 0) -> pd.DataFrame:
    """Per concept: its rows, the feature with the best F1 (active = activation > 0) and its
    precision, recall, F1, and the best F1 of as many random directions as the SAE has features."""
    acts_NH = np.asarray(acts_NH)
    active_NH = acts_NH > 0
    predicted_H = active_NH.sum(axis=0)
    rows = []
    for name, vocabulary in concepts.items():
        labels_N = np.array([w in vocabulary for w in words], dtype=bool)
        positives = int(labels_N.sum())
        if positives == 0:
            rows.append({"concept": name, "rows": 0, "feature": None, "precision": 0.0, "recall": 0.0,
                         "f1": 0.0, "chance_f1": 0.0})
            continue
        tp_H = active_NH[labels_N].sum(axis=0)
        precision, recall, f1 = _f1(tp_H, predicted_H, positives)
        j = int(np.argmax(f1))
        rows.append({"concept": name, "rows": positives, "feature": j, "precision": float(precision[j]),
                     "recall": float(recall[j]), "f1": float(f1[j]),
                     "chance_f1": random_direction_f1(x_ND, labels_N, acts_NH.shape[1], seed)})
    return pd.DataFrame(rows, columns=["concept", "rows", "feature", "precision", "recall", "f1", "chance_f1"])
