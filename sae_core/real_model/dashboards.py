"""Feature dashboards for SAEs on real text (as sae_vis and Neuronpedia show them), without Streamlit.

A feature is *active* on a row when its activation is > 0. Inputs everywhere:
``acts_NH`` (rows x features, what the SAE computed: a dense array, or the sparse columns of
:func:`sparse_activations`, which is what the app keeps), ``words`` (each row's lower-case whole
word) and, for contexts, the :class:`~sae_core.real_model.extraction.Extraction` the rows came from.

- :func:`features_table`: one row per feature: density, max activation, top words as text.
- :func:`search_word`: the features that fire most on a word.
- :func:`top_contexts` and :func:`random_contexts`: where a feature fires, deduplicated; the
  random sample matters because the top 20 alone mislead (a negation feature's top 20 can be
  one word fifteen times while its active set covers every negation word).
- :func:`concept_matches`: per concept word list, the best feature's precision, recall and F1,
  beside the best of 2 x d random directions, each at its best threshold (the chance level).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse


def sparse_activations(acts_NH) -> sparse.csc_array:
    """Rows x features as float32 sparse columns: an SAE's activations are mostly zero (TopK keeps k
    of H per row), so a 7,500 x 1,536 result holds about 1 MB instead of 46 MB, and one feature's
    rows are one slice."""
    return sparse.csc_array(acts_NH if sparse.issparse(acts_NH) else np.asarray(acts_NH), dtype=np.float32)


def column(acts_NH, j: int) -> np.ndarray:
    """Feature ``j``'s activation on every row, dense."""
    if sparse.issparse(acts_NH):
        return acts_NH[:, [j]].toarray().ravel()
    return np.asarray(acts_NH)[:, j]


def _per_feature(summed) -> np.ndarray:
    return np.asarray(summed, dtype=float).ravel()


def features_table(acts_NH, words: list[str], k: int = 5) -> pd.DataFrame:
    """feature, density (fraction of rows it fires on), max_activation, top_words ("cat, dog, ...")."""
    a = sparse_activations(acts_NH)
    n, h = a.shape
    density, peak, top_words = np.zeros(h), np.zeros(h), []
    for j in range(h):
        rows, values = a.indices[a.indptr[j]:a.indptr[j + 1]], a.data[a.indptr[j]:a.indptr[j + 1]]
        density[j] = (values > 0).sum() / max(n, 1)
        if values.size:  # the rows not stored are zeros
            peak[j] = values.max() if values.size == n else max(values.max(), 0.0)
        seen: list[str] = []
        for i in np.argsort(-values, kind="stable"):
            if values[i] <= 0 or len(seen) == k:
                break
            if words[rows[i]] not in seen:
                seen.append(words[rows[i]])
        top_words.append(", ".join(seen))
    return pd.DataFrame({"feature": np.arange(h), "density": density,
                         "max_activation": peak, "top_words": top_words})


def search_word(acts_NH: np.ndarray, words: list[str], query: str, limit: int = 50) -> pd.DataFrame:
    """Features ranked by their mean activation on the rows whose whole word is ``query``.

    Columns: feature, mean_on_word, fires_on (fraction of the word's rows where it is active).
    Empty when the word is not in the text or no feature fires on it.
    """
    query = " ".join(str(query).lower().split())
    rows = np.array([w == query for w in words], dtype=bool)
    if not query or not rows.any():
        return pd.DataFrame(columns=["feature", "mean_on_word", "fires_on"])
    on_word = sparse_activations(acts_NH)[np.flatnonzero(rows)]
    mean = _per_feature(on_word.sum(axis=0)) / rows.sum()
    fires = _per_feature((on_word > 0).sum(axis=0)) / rows.sum()
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


def precision_recall_f1(tp, predicted, positives: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 from true positives, predicted positives (arrays or numbers) and the positives."""
    tp, predicted = np.asarray(tp, dtype=float), np.asarray(predicted, dtype=float)
    precision = np.divide(tp, predicted, out=np.zeros(tp.shape), where=predicted > 0)
    recall = tp / max(positives, 1)
    f1 = np.divide(2 * tp, predicted + positives, out=np.zeros(tp.shape), where=(predicted + positives) > 0)
    return precision, recall, f1


RANDOM_PER_DIM = 2  # the chance level draws 2 x d random unit directions (d: the activations' dimensions)


def threshold_f1(scores_NR: np.ndarray, labels_CN: np.ndarray) -> np.ndarray:
    """(C, R): for each label row and each score column, the best F1 of "score > t" over every threshold t.

    Each column is sorted once; a threshold can fall only where the score drops (tied rows go
    together), and the top i rows give F1 = 2 hits / (i + positives)."""
    scores_NR = np.asarray(scores_NR)
    order_NR = np.argsort(-scores_NR, axis=0, kind="stable")
    sorted_NR = np.take_along_axis(scores_NR, order_NR, axis=0)
    cut_NR = np.ones(sorted_NR.shape, bool)
    cut_NR[:-1] = sorted_NR[:-1] > sorted_NR[1:]
    predicted_N1 = np.arange(1, len(scores_NR) + 1)[:, None]
    out = np.zeros((len(labels_CN), scores_NR.shape[1]))
    for c, labels_N in enumerate(np.asarray(labels_CN, dtype=bool)):
        positives = int(labels_N.sum())
        if positives:
            hits_NR = np.cumsum(labels_N[order_NR], axis=0)
            out[c] = np.where(cut_NR, 2 * hits_NR / (predicted_N1 + positives), 0.0).max(axis=0)
    return out


def random_direction_f1(x_ND: np.ndarray, labels, n_directions: int | None = None, seed: int = 0,
                        block: int = 256):
    """The chance level: the best F1 of ``n_directions`` random unit directions (default 2 x d, a fixed
    seed), each at its best threshold (``threshold_f1`` on the rows' projections).

    ``labels``: one concept's rows (N,) -> a float, or several (C, N) -> one F1 per concept. A
    threshold the direction could not know in advance: a generous chance level."""
    x = np.asarray(x_ND, dtype=np.float32)
    labels_CN = np.atleast_2d(np.asarray(labels, dtype=bool))
    n_directions = RANDOM_PER_DIM * x.shape[1] if n_directions is None else n_directions
    rng = np.random.default_rng(seed)
    best = np.zeros(len(labels_CN))
    for start in range(0, n_directions, block):
        r_DR = rng.standard_normal((x.shape[1], min(block, n_directions - start))).astype(np.float32)
        r_DR /= np.linalg.norm(r_DR, axis=0, keepdims=True)
        best = np.maximum(best, threshold_f1(x @ r_DR, labels_CN).max(axis=1))
    return float(best[0]) if np.ndim(labels) == 1 else best


def concept_labels(words: list[str], concepts: dict[str, frozenset[str]]) -> np.ndarray:
    """(C, N): row i is in concept c when its lower-case whole word is in c's word list."""
    return np.array([[w in vocabulary for w in words] for vocabulary in concepts.values()], dtype=bool).reshape(
        len(concepts), len(words))


def best_features(acts_NH: np.ndarray, labels_CN: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per concept, every feature's precision, recall and F1 with active = activation > 0, each (C, H)."""
    active_NH = (sparse_activations(acts_NH) > 0).astype(np.float32)
    predicted_H = _per_feature(active_NH.sum(axis=0))
    out = np.zeros((3, len(labels_CN), active_NH.shape[1]))
    for c, labels_N in enumerate(labels_CN):
        tp_H = _per_feature(labels_N.astype(np.float32) @ active_NH)
        out[:, c] = precision_recall_f1(tp_H, predicted_H, int(labels_N.sum()))
    return out[0], out[1], out[2]


def concept_matches(acts_NH: np.ndarray, x_ND: np.ndarray, words: list[str],
                    concepts: dict[str, frozenset[str]], seed: int = 0) -> pd.DataFrame:
    """Per concept: its rows, the feature with the best F1 (active = activation > 0) and its
    precision, recall, F1, and the chance level (``random_direction_f1``: 2 x d random directions)."""
    labels_CN = concept_labels(words, concepts)
    precision, recall, f1 = best_features(acts_NH, labels_CN)
    chance = random_direction_f1(x_ND, labels_CN, seed=seed) if len(concepts) else []
    rows = []
    for c, name in enumerate(concepts):
        positives = int(labels_CN[c].sum())
        j = int(np.argmax(f1[c])) if positives else None
        rows.append({"concept": name, "rows": positives, "feature": j,
                     **{k: float(v[c, j]) if positives else 0.0 for k, v in
                        (("precision", precision), ("recall", recall), ("f1", f1))},
                     "chance_f1": float(chance[c])})
    return pd.DataFrame(rows, columns=["concept", "rows", "feature", "precision", "recall", "f1", "chance_f1"])
