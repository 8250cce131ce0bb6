"""AppTest: the Train page loads a SAELens zip as the visitor's model, and offers the downloads."""

from __future__ import annotations

import numpy as np

from apptest_helpers import click, start_app

from sae_core.saelens_format import result_zip
from sae_core.table import read_table, values_of
from sae_core.training import TrainConfig, train

TRAIN_PAGE, FEATURES_PAGE = "app_pages/train.py", "app_pages/features.py"


def zipped_model(x, hidden=5, dims=None):
    result = train(x, TrainConfig(hidden_dim=hidden, epochs=60, seed=2))
    return result, result_zip(result, dims or [f"d{i}" for i in range(x.shape[1])])


def upload(at, name, data):
    at.file_uploader(key="model_upload").set_value((name, data, "application/zip"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_an_uploaded_model_becomes_the_result_and_its_features_are_shown(seed_csv):
    x = values_of(read_table(seed_csv))
    trained, data = zipped_model(x)
    at = upload(start_app(TRAIN_PAGE), "mine.zip", data)
    assert [e.value for e in at.error] == []
    result = at.session_state["result"]
    np.testing.assert_array_equal(result.feature_activations, trained.feature_activations)
    assert result.metrics == trained.metrics
    assert any(c.value == "Loaded from mine.zip (5 features), read on the current table." for c in at.caption)
    assert {m.label for m in at.metric} >= {"Explained variance", "Dead features"}
    at.switch_page(FEATURES_PAGE).run()
    assert not at.exception and [t.value for t in at.title] == ["Features"]
    assert at.session_state["result"] is not None and "No model yet" not in [i.value for i in at.info]


def test_a_bad_upload_names_the_problem_and_keeps_the_model():
    at = start_app(TRAIN_PAGE)
    click(at, "Train")
    before = at.session_state["result"]
    upload(at, "junk.zip", b"not a zip at all" * 8)
    assert [e.value for e in at.error] == [
        "Model not used: junk.zip: not a readable zip file (BadZipFile). Your model is unchanged."]
    assert at.session_state["result"] is before


def test_a_model_for_other_dimensions_is_refused():
    x = np.random.default_rng(0).random((6, 3)).astype(np.float32)
    _, data = zipped_model(x)
    at = upload(start_app(TRAIN_PAGE), "three.zip", data)
    assert [e.value for e in at.error] == [
        "Model not used: the model reads 3 dimensions (d_in) but the table has 4; use a table with 3 "
        "dimensions. Your model is unchanged."]
    assert "result" not in at.session_state or at.session_state["result"] is None


def test_downloads_after_training():
    at = click(start_app(TRAIN_PAGE), "Train")
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Download model", "Download feature activations (CSV)",
                                                       "Scale this up with SAELens"]
