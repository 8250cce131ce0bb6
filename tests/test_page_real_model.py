"""Real model page (AppTest): paste a short text, extract, train a small SAE, read its dashboards."""

from __future__ import annotations

import pytest

from apptest_helpers import click, start_app

pytestmark = pytest.mark.usefixtures("offline")

PAGE = "app_pages/real_model.py"
TEXT = "The cat is not a robot.\n\nA loyal dog chased the AI assistant.\n\nThe weather was sunny in Paris."


@pytest.fixture(scope="module")
def trained(minilm):
    at = start_app(PAGE)
    assert "No activations yet" in at.info[0].value
    at.radio(key="real_source").set_value("Paste text").run()
    at.text_area(key="real_text").set_value(TEXT).run()
    click(at, "Extract activations")
    for key, value in (("real_hidden_dim", 32), ("real_epochs", 30), ("real_k", 3)):
        at.number_input(key=key).set_value(value).run()
    click(at, "Train")
    return at


def captions(at) -> str:
    return " | ".join(c.value for c in at.caption)


def test_extract_train_and_dashboards(trained):
    at = trained
    assert "22 pieces x 384 dims from layer 3 of sentence-transformers/all-MiniLM-L6-v2" in captions(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Dead features"].endswith("of 32")
    assert float(metrics["Explained variance"].rstrip("%")) > 0
    card = [md.value for md in at.markdown if md.value.startswith("#### F")]
    assert card and "fires on" in card[0]  # a new model opens a live feature
    assert any("Top activations" in md.value for md in at.markdown)
    assert any("random sample" in md.value for md in at.markdown)
    assert any("<span style=" in md.value for md in at.markdown)  # shaded contexts
    assert not at.exception


def test_search_a_word_and_open_a_feature(trained):
    at = trained
    at.text_input(key="real_query").set_value("cat").run()
    frame = at.dataframe[0].value
    assert "mean_on_word" in frame.columns and len(frame) >= 1
    best = int(frame["feature"].iloc[0])
    assert at.number_input(key="real_feature").value == best  # a search opens its best feature
    assert any(md.value.startswith(f"#### F{best} ") for md in at.markdown)
    assert any("cat" in md.value for md in at.markdown if md.value.startswith("**Words it fires on**"))
    at.text_input(key="real_query").set_value("zebra").run()
    assert "No feature fires on 'zebra'" in captions(at)
    assert not at.exception


def test_settings_survive_a_visit_to_another_page(trained):
    at = trained
    at.switch_page("app_pages/train.py").run()
    at.switch_page(PAGE).run()
    assert at.radio(key="real_source").value == "Paste text"
    assert at.number_input(key="real_hidden_dim").value == 32
    assert at.session_state.real_result.config.hidden_dim == 32  # the model is kept too
    assert not at.exception


def test_the_pages_choices_travel_in_the_link_apart_from_the_train_pages(trained):
    from sae_core.training import RECOMMENDED
    query = dict(trained.query_params)
    assert query["real_source"] == "Paste text" and query["real_hidden_dim"] == "32" and query["real_k"] == "3"
    assert "real_text" not in query  # pasted text stays out of links
    assert query["hidden_dim"] == str(RECOMMENDED.hidden_dim)  # the Train page's own setting, untouched
    at = start_app(PAGE, query=query)
    assert at.radio(key="real_source").value == "Paste text" and at.text_area(key="real_text").value == ""
    settings = at.session_state["settings"]
    assert (settings["real_hidden_dim"], settings["real_epochs"], settings["real_k"]) == (32, 30, 3)
    assert settings["hidden_dim"] == RECOMMENDED.hidden_dim


def test_bad_upload_of_a_table_keeps_the_current_one(trained):
    at = trained
    before = at.session_state.real_extraction
    # AppTest cannot drive st.file_uploader: call the engine as the page does and check the message
    from sae_core.real_model.extraction import extraction_from_zip
    from sae_core.errors import TableError
    with pytest.raises(TableError, match="bad.zip: not a readable zip file"):
        extraction_from_zip(b"not a zip", "bad.zip")
    assert at.session_state.real_extraction is before


def test_empty_paste_is_refused_in_one_line(minilm):
    at = start_app(PAGE)
    at.radio(key="real_source").set_value("Paste text").run()
    click(at, "Extract activations")
    assert at.error[0].value == "Cannot extract: the text is empty: paste or upload some sentences"
    assert "No activations yet" in at.info[0].value


def test_bundled_corpus_shows_concept_matching(minilm):
    at = start_app(PAGE)
    at.number_input(key="real_max_tokens").set_value(400).run()
    click(at, "Extract activations")
    for key, value in (("real_hidden_dim", 64), ("real_epochs", 20)):
        at.number_input(key=key).set_value(value).run()
    click(at, "Train")
    assert any(s.value == "The founding example's concepts, in a real model" for s in at.subheader)
    concepts = at.dataframe[-1].value
    assert concepts["concept"].tolist() == ["animal", "machine or AI", "negation"]
    assert ((concepts["f1"] >= 0) & (concepts["f1"] <= 1)).all() and (concepts["chance_f1"] > 0).all()
    assert not at.exception


def test_architecture_brings_its_own_settings(trained):
    at = trained
    assert at.selectbox(key="real_architecture").value == "topk"
    assert at.number_input(key="real_k").value == 3
    at.selectbox(key="real_architecture").set_value("standard").run()
    assert at.number_input(key="real_sparsity_weight").value == 5.0  # REAL_TABLE gives ReLU + L1 one too
    assert not [w for w in at.number_input if w.key == "real_k"]
    at.selectbox(key="real_architecture").set_value("topk").run()
    assert not at.exception


def test_without_the_extras_the_page_says_how_to_install(monkeypatch):
    import sae_core.real_model.extraction
    monkeypatch.setattr(sae_core.real_model.extraction, "model_available", lambda: False)
    at = start_app(PAGE)
    assert "pip install -r requirements-real.txt" in at.info[0].value
    assert not at.button  # nothing to extract with


def test_a_stopped_run_is_kept_on_the_next_run(trained):
    import threading
    from dataclasses import replace

    from sae_core.training import REAL_TABLE, Trainer
    at = trained
    trainer = Trainer(at.session_state.real_extraction.activations, replace(REAL_TABLE, hidden_dim=16, k=2, epochs=50))
    trainer.fit(stop=lambda: trainer.epoch >= 3)  # as if Stop came at epoch 3
    stop, done = threading.Event(), threading.Event()
    done.set()
    from app_ui.real_model_widgets import keep_real
    at.session_state.trainer = trainer  # what run_stoppable leaves in the session while it trains
    at.session_state.trainer_events = (stop, done)
    at.session_state.trainer_keep = keep_real
    at.run()
    assert stop.is_set()
    assert at.session_state.real_result.config.hidden_dim == 16 and at.session_state.real_result.epochs_done == 3
    assert "Stopped at epoch 3 of 50" in at.warning[0].value
    assert "trainer" not in at.session_state and "trainer_keep" not in at.session_state


def test_stdlib_docstrings_in_whole_words(minilm):
    at = start_app(PAGE)
    at.selectbox(key="real_corpus").set_value("stdlib_docstrings").run()
    at.radio(key="real_mode").set_value("words").run()
    at.number_input(key="real_max_tokens").set_value(300).run()
    click(at, "Extract activations")
    caption = captions(at)
    assert " words x 384 dims from layer 3" in caption
    rows = at.session_state.real_extraction.tokens
    assert rows[0]["doc"] == 0 and rows[0]["word"] == "json"  # "JSON (JavaScript Object Notation) ..."
    for key, value in (("real_hidden_dim", 32), ("real_epochs", 5), ("real_k", 4)):
        at.number_input(key=key).set_value(value).run()
    click(at, "Train")
    assert not any(s.value == "The founding example's concepts, in a real model" for s in at.subheader)
    assert not at.exception
