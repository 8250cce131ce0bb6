"""AppTest tests of the Train page: settings, training, metrics, Stop's partial model, staleness."""

from __future__ import annotations

from dataclasses import replace
import numpy as np
from streamlit.testing.v1 import AppTest

from apptest_helpers import click, start_app

from sae_core import limits
from sae_core.architectures import ARCHITECTURES
from sae_core.training import all_settings
from sae_core.table import values_of
from sae_core.training import ARTICLE, RECOMMENDED, Trainer

DATA_PAGE, TRAIN_PAGE = "app_pages/data.py", "app_pages/train.py"
METRICS = ["Reconstruction MSE", "Explained variance", "Mean L0", "Dead features"]
EPOCHS = 200  # small: each run takes well under a second


def start(query: dict[str, str] | None = None) -> AppTest:
    return start_app(TRAIN_PAGE, query)


def train(at: AppTest, epochs: int = EPOCHS, **settings) -> AppTest:
    at.number_input(key="epochs").set_value(epochs)
    for key, value in settings.items():
        widget = at.checkbox(key=key) if isinstance(value, bool) else at.number_input(key=key)
        widget.set_value(value)
    return click(at, "Train")


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


# ---- before training ------------------------------------------------------------------------


def test_settings_widgets_start_from_the_recommended_recipe():
    at = start()
    assert [t.value for t in at.title] == ["Train"]
    for key in ("hidden_dim", "sparsity_weight", "lr", "epochs", "seed", "resample_dead_every"):
        assert at.number_input(key=key).value == getattr(RECOMMENDED, key), key
    for key in ("unit_norm_decoder", "tied_init", "init_decoder_bias_to_mean"):
        assert at.checkbox(key=key).value is getattr(RECOMMENDED, key), key
    assert {"Train", "Stop", "Use recommended settings", "Use the article's recipe"} <= {b.label for b in at.button}
    assert [i.value for i in at.info] == ["No model yet: choose settings and press **Train**."]
    assert list(at.metric) == []
    assert "result" not in at.session_state


def test_settings_go_into_the_url_and_come_back_from_it():
    at = start({"hidden_dim": "3", "epochs": "50", "seed": "7", "unit_norm_decoder": "1", "lr": "nonsense"})
    assert at.number_input(key="hidden_dim").value == 3
    assert at.number_input(key="epochs").value == 50
    assert at.number_input(key="seed").value == 7
    assert at.checkbox(key="unit_norm_decoder").value is True
    assert at.number_input(key="lr").value == RECOMMENDED.lr  # a bad value falls back to the default
    at.number_input(key="seed").set_value(11).run()
    assert at.query_params["seed"] == "11"
    assert set(all_settings()) <= set(at.query_params)


def test_recipe_buttons_set_every_training_widget():
    at = start()
    at.number_input(key="epochs").set_value(321)
    at.checkbox(key="tied_init").set_value(not ARTICLE.tied_init)
    click(at, "Use the article's recipe")
    for name in all_settings():
        assert at.session_state[name] == getattr(ARTICLE, name), name
    at.number_input(key="hidden_dim").set_value(5)
    click(at, "Use recommended settings")
    for name in all_settings():
        assert at.session_state[name] == getattr(RECOMMENDED, name), name


# ---- training -------------------------------------------------------------------------------


def test_train_shows_metrics_loss_chart_and_keeps_the_model():
    at = start()
    train(at)
    result = at.session_state["result"]
    assert result.epochs_done == EPOCHS and not result.stopped_early
    assert result.config == replace(RECOMMENDED, epochs=EPOCHS)
    shown = metrics(at)
    assert list(shown) == METRICS
    m = result.metrics
    assert shown["Reconstruction MSE"] == f"{m.mse:.3g}"  # 3 significant digits, however small
    assert shown["Explained variance"] == f"{m.explained_variance:.1%}"
    assert shown["Mean L0"] == f"{m.l0:.2f}"
    assert shown["Dead features"] == f"{m.dead_features} of {RECOMMENDED.hidden_dim}"
    assert len(at.get("vega_lite_chart")) == 1  # the loss chart
    assert any(c.value.startswith(f"{EPOCHS:,} epochs in ") for c in at.caption)
    assert [b.label for b in at.get("download_button")] == ["Download model", "Download feature activations (CSV)",
                                                       "Scale this up with SAELens"]
    assert any(link.label.startswith("Next: see the features") for link in at.get("page_link"))
    assert not at.error and not warnings(at)
    assert at.session_state["result_tokens"][0] == "cat"
    assert at.session_state["result_dims"] == ["d0", "d1", "d2", "d3"]
    assert "trainer" not in at.session_state  # nothing left in flight


def test_training_is_reproducible_for_a_seed():
    first = train(start(), epochs=100, seed=3).session_state["result"]
    at = start()  # another visitor, same settings
    second = train(at, epochs=100, seed=3).session_state["result"]
    assert np.array_equal(first.feature_activations, second.feature_activations)
    assert np.array_equal(first.decoder_directions, second.decoder_directions)
    assert first.metrics.mse == second.metrics.mse
    again = train(at, epochs=100, seed=3).session_state["result"]  # retraining in the same session
    assert np.array_equal(first.feature_activations, again.feature_activations)
    other = train(at, epochs=100, seed=4).session_state["result"]
    assert not np.array_equal(first.feature_activations, other.feature_activations)


def test_training_options_reach_the_model():
    at = start()
    train(at, unit_norm_decoder=True, hidden_dim=5)
    result = at.session_state["result"]
    assert result.config.unit_norm_decoder is True and result.config.hidden_dim == 5
    assert result.feature_activations.shape == (8, 5)
    np.testing.assert_allclose(np.linalg.norm(result.decoder_directions, axis=1), 1.0, rtol=1e-5)


def test_a_run_over_the_work_limit_is_refused_with_a_clear_error():
    at = start()
    rows = len(at.session_state["table"])
    assert rows * limits.MAX_HIDDEN * limits.MAX_EPOCHS > limits.MAX_TRAINING_WORK  # the widgets allow it
    at.number_input(key="hidden_dim").set_value(limits.MAX_HIDDEN)
    at.number_input(key="epochs").set_value(limits.MAX_EPOCHS)
    click(at, "Train")
    (message,) = [e.value for e in at.error]
    assert message.startswith("Cannot train: this run is too large")
    assert f"{limits.MAX_TRAINING_WORK:,}" in message
    assert "lower the epochs or the hidden size" in message
    assert "result" not in at.session_state
    assert list(at.metric) == []


def test_out_of_range_settings_never_reach_the_trainer():
    at = start()
    at.session_state["hidden_dim"] = 0
    at.session_state["lr"] = 0.0
    at.run()
    assert not at.exception
    train(at, epochs=20)
    config = at.session_state["result"].config
    assert 1 <= config.hidden_dim <= limits.MAX_HIDDEN
    assert 0 < config.lr <= limits.MAX_LR
    config.validate()


# ---- Stop: a run interrupted mid-way keeps what it learned ----------------------------------------


def test_an_interrupted_run_keeps_its_partial_model():
    at = start()
    config = replace(RECOMMENDED, epochs=1000, seed=2)
    trainer = Trainer(values_of(at.session_state["table"]), config)
    trainer.fit(stop=lambda: trainer.epoch >= 120)  # what a click on Stop leaves in the session
    assert trainer.epoch == 120
    at.session_state["trainer"] = trainer
    at.run()
    assert not at.exception
    assert "Stopped at epoch 120 of 1,000; the model learned so far is kept below." in warnings(at)
    result = at.session_state["result"]
    assert result.epochs_done == 120 and result.stopped_early
    assert list(metrics(at)) == METRICS
    assert any(c.value.startswith("120 epochs in ") for c in at.caption)
    assert "trainer" not in at.session_state
    # the notice goes away with the next training
    train(at, epochs=20)
    assert not any(w.startswith("Stopped at epoch") for w in warnings(at))
    assert at.session_state["result"].epochs_done == 20


def test_a_run_that_finished_just_before_the_click_is_kept_without_a_stop_notice():
    at = start()
    trainer = Trainer(values_of(at.session_state["table"]), replace(RECOMMENDED, epochs=30))
    trainer.fit()
    at.session_state["trainer"] = trainer
    at.run()
    assert not at.exception
    assert not any(w.startswith("Stopped at epoch") for w in warnings(at))
    assert at.session_state["result"].epochs_done == 30
    assert list(metrics(at)) == METRICS


# ---- staleness --------------------------------------------------------------------------------


STALE = "The table has changed since this model was trained; train again to use the new table."


def test_a_table_change_after_training_is_flagged_until_retrained():
    at = start()
    train(at)
    assert STALE not in warnings(at)
    at.switch_page(DATA_PAGE).run()
    click(at, "Add dimension")
    at.switch_page(TRAIN_PAGE).run()
    assert not at.exception
    assert STALE in warnings(at)
    assert list(metrics(at)) == METRICS  # the old model is still shown
    train(at)
    assert STALE not in warnings(at)
    assert at.session_state["result_dims"] == ["d0", "d1", "d2", "d3", "d4"]



# ---- architectures -------------------------------------------------------------------------


def number_keys(at: AppTest) -> set[str]:
    return {w.key for w in at.number_input} | {w.key for w in at.checkbox}


def test_the_architecture_choice_shows_only_its_own_fields_and_trains_it():
    at = start()
    assert at.selectbox(key="architecture").value == "standard"
    assert {"sparsity_weight", "decoder_norm_penalty"} <= number_keys(at)
    assert not {"k", "auxk_weight", "jumprelu_threshold", "jumprelu_bandwidth"} & number_keys(at)
    at.number_input(key="sparsity_weight").set_value(0.07).run()
    at.selectbox(key="architecture").set_value("topk").run()
    assert {"k", "auxk_weight"} <= number_keys(at)
    assert not {"sparsity_weight", "decoder_norm_penalty", "jumprelu_threshold"} & number_keys(at)
    assert ARCHITECTURES["topk"].summary in [c.value for c in at.caption]
    at.number_input(key="k").set_value(2).run()
    assert at.query_params["architecture"] == "topk" and at.query_params["k"] == "2"
    train(at, epochs=100)
    result = at.session_state["result"]
    assert result.config.architecture == "topk" and result.config.k == 2
    assert list(result.history.columns) == ["epoch", "total", "reconstruction", "auxk"]
    assert (result.feature_activations > 0).sum(axis=1).max() <= 2
    assert not at.error and len(at.get("vega_lite_chart")) == 1
    at.selectbox(key="architecture").set_value("jumprelu").run()
    assert {"sparsity_weight", "jumprelu_threshold", "jumprelu_bandwidth"} <= number_keys(at)
    assert at.number_input(key="sparsity_weight").value == 0.07  # kept while hidden


def test_a_link_opens_an_architecture_with_its_settings():
    at = start({"architecture": "jumprelu", "jumprelu_threshold": "0.02", "sparsity_weight": "0.005"})
    assert at.selectbox(key="architecture").value == "jumprelu"
    assert at.number_input(key="jumprelu_threshold").value == 0.02
    bad = start({"architecture": "transformer", "k": "0"})
    assert bad.selectbox(key="architecture").value == RECOMMENDED.architecture


def test_the_batch_size_widget_trains_in_mini_batches():
    at = train(start(), epochs=10, batch_size=3)  # 8 tokens in batches of 3: three Adam steps an epoch
    result = at.session_state["result"]
    assert result.config.batch_size == 3 and result.epochs_done == 10
    assert at.query_params["batch_size"] == "3"
    expected = Trainer(values_of(at.session_state["table"]), replace(RECOMMENDED, epochs=10, batch_size=3)).fit().result()
    np.testing.assert_array_equal(result.feature_activations, expected.feature_activations)  # same seed, same bits
