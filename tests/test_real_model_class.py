"""A class on the Real model page: one extraction per server for a bundled corpus, a visible line
for trainings when every slot is taken, Stop leaving the line, and small per-visitor results."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from apptest_helpers import click, start_app

pytestmark = pytest.mark.usefixtures("offline")

PAGE = "app_pages/real_model.py"
TEXT = "The cat is not a robot.\n\nA loyal dog chased the AI assistant.\n\nThe weather was sunny in Paris."


def test_bundled_extraction_is_computed_once_and_shared_read_only(minilm):
    from app_ui.real_model_widgets import bundled_extraction
    from sae_core.real_model.corpora import corpus_text
    from sae_core.real_model.extraction import extract

    first = bundled_extraction("founding_story", 3, "pieces", 150)
    assert bundled_extraction("founding_story", 3, "pieces", 150) is first  # the same object to everyone
    other = bundled_extraction("founding_story", 2, "pieces", 150)
    assert other is not first and other.layer == 2
    alone = extract(corpus_text("founding_story"), layer=3, mode="pieces", max_tokens=150)  # computed apart
    np.testing.assert_array_equal(first.activations, alone.activations)
    assert list(first.tokens) == alone.tokens
    with pytest.raises(ValueError, match="read-only"):
        first.activations[0, 0] = 1.0  # nobody can change what everyone shares
    assert isinstance(first.tokens, tuple) and isinstance(first.documents, tuple)


@pytest.fixture
def extracted(minilm):
    at = start_app(PAGE)
    at.radio(key="real_source").set_value("Paste text").run()
    at.text_area(key="real_text").set_value(TEXT).run()
    click(at, "Extract activations")
    for key, value in (("real_hidden_dim", 32), ("real_epochs", 30), ("real_k", 4)):
        at.number_input(key=key).set_value(value).run()
    return at


def wait_for(condition, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


def test_a_run_waits_in_line_when_every_slot_is_taken_and_stop_leaves(extracted, monkeypatch):
    import app_ui.runs
    from app_ui import keys
    from app_ui.runs import server_queue

    monkeypatch.setattr(app_ui.runs, "LIGHT_BYTES", 0)  # this small table's run counts as large here
    at, line = extracted, server_queue()
    holders = [line.join() for _ in range(line.slots)]  # other visitors' trainings hold every slot
    try:
        assert all(t.granted for t in holders) and line.waiting == 0
        clicked = threading.Thread(target=lambda: at.button(key=keys.REAL_TRAIN).click().run(timeout=120))
        clicked.start()
        wait_for(lambda: line.waiting == 1 and keys.TRAINER_TICKET in at.session_state, "the run joins the line")
        ticket = at.session_state[keys.TRAINER_TICKET]
        wait_for(lambda: ticket.waits > 0, "the run waits in line (its place shown)")
        assert line.place(ticket) == 1 and not ticket.granted
        ticket.leave()  # what a Stop does (settle_interrupted_run), while the script waits in line
        clicked.join(timeout=120)
        assert not clicked.is_alive()
        assert any(i.value.startswith(f"Waiting for a free slot: 1st in line (this server trains up to {line.slots} "
                                      "large run") for i in at.info), [i.value for i in at.info]
        assert line.waiting == 0 and line.running == line.slots  # its place is free, the holders still run
        at.button(key=keys.REAL_STOP).click().run()  # the Stop click's rerun settles the run
        assert any(i.value.startswith("You left the line before your turn: nothing was trained") for i in at.info)
        assert "real_result" not in at.session_state and not at.exception
    finally:
        for t in holders:
            t.leave()
    assert line.running == 0
    click(at, "Train")  # a free slot: the run goes straight through, and gives its slot back
    assert at.session_state.real_result.config.hidden_dim == 32 and line.running == 0 == line.waiting
    assert not any(i.value.startswith("Waiting for a free slot") for i in at.info)


def test_the_kept_result_is_small(extracted):
    from scipy import sparse

    at = click(extracted, "Train")
    result = at.session_state.real_result
    acts = result.feature_activations
    assert sparse.issparse(acts) and acts.shape == (22, 32) and acts.dtype == np.float32
    assert acts.nnz <= 22 * 4  # TopK k=4: at most 4 features per row are stored
    dense_bytes = 22 * 32 * 4
    assert acts.data.nbytes + acts.indices.nbytes + acts.indptr.nbytes < dense_bytes
    assert any(md.value.startswith("#### F") for md in at.markdown) and not at.exception


def test_dashboards_read_sparse_columns_as_the_dense_array():
    from sae_core.real_model.dashboards import column, concept_matches, features_table, search_word, sparse_activations

    rng = np.random.default_rng(3)
    acts = np.where(rng.random((60, 12)) < 0.2, rng.random((60, 12)).astype(np.float32) + 0.01, 0).astype(np.float32)
    acts[:, 5] = 0  # a dead feature
    words = [["cat", "dog", "robot", "not", "the"][i % 5] for i in range(60)]
    kept = sparse_activations(acts)
    assert kept.nnz == int((acts > 0).sum())
    table = features_table(kept, words, k=2)
    np.testing.assert_allclose(table["density"], (acts > 0).mean(axis=0))
    np.testing.assert_allclose(table["max_activation"], acts.max(axis=0), rtol=1e-6)
    for j in (0, 7):
        order = np.argsort(-acts[:, j])
        firsts = list(dict.fromkeys(words[i] for i in order if acts[i, j] > 0))[:2]
        assert table["top_words"][j] == ", ".join(firsts)
    assert table["top_words"][5] == "" and table["max_activation"][5] == 0
    for j in range(12):
        np.testing.assert_array_equal(column(kept, j), acts[:, j])
    found = search_word(kept, words, "robot")
    on_robot = acts[np.array(words) == "robot"].mean(axis=0)
    assert found["feature"].tolist() == [j for j in np.argsort(-on_robot, kind="stable") if on_robot[j] > 0]
    np.testing.assert_allclose(found["mean_on_word"], np.sort(on_robot[on_robot > 0])[::-1], rtol=1e-6)
    x = rng.standard_normal((60, 4)).astype(np.float32)
    concepts = {"pets": frozenset({"cat", "dog"})}
    dense, sparse_ = concept_matches(acts, x, words, concepts), concept_matches(kept, x, words, concepts)
    assert dense.equals(sparse_)
    pets = np.isin(words, ["cat", "dog"])
    f1 = [2 * (pets & (acts[:, j] > 0)).sum() / (pets.sum() + (acts[:, j] > 0).sum()) for j in range(12)]
    assert sparse_["feature"][0] == int(np.argmax(f1)) and sparse_["f1"][0] == pytest.approx(max(f1))
