"""sae_core.training and the StandardSAE architecture: losses, gradients, init, the loop, options."""

from __future__ import annotations

import math
import threading
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from sae_core import limits
from sae_core.architectures import ARCHITECTURES, get_architecture
from sae_core.architectures.standard import StandardSAE
from sae_core.errors import ConfigError
from sae_core.training import (
    ARTICLE, DATA_ORDER_SEED, StepLog, TrainConfig, Trainer, TrainResult, as_matrix, train, train_seeds,
)

HISTORY_COLUMNS = ["epoch", "total", "reconstruction", "sparsity"]


def config_error(call) -> str:
    with pytest.raises(ConfigError) as info:
        call()
    assert type(info.value) is ConfigError
    message = str(info.value)
    assert message and "\n" not in message
    return message


# ---- result shapes ----------------------------------------------------------------------


def test_train_result_shapes(seed_x):
    result = train(seed_x, TrainConfig(hidden_dim=6, epochs=50))
    assert isinstance(result, TrainResult)
    assert result.feature_activations.shape == (8, 6)
    assert result.decoder_directions.shape == (6, 4)
    assert result.feature_density.shape == (6,)
    assert result.feature_activations.dtype == np.float32
    assert (result.feature_activations >= 0).all()
    assert list(result.history.columns) == HISTORY_COLUMNS
    assert result.history["epoch"].iloc[0] == 1 and result.history["epoch"].iloc[-1] == 50
    assert result.history["epoch"].is_monotonic_increasing
    np.testing.assert_allclose(result.history["total"],
                               result.history["reconstruction"] + result.history["sparsity"], rtol=1e-6)
    assert result.epochs_done == 50 and not result.stopped_early
    assert result.train_seconds > 0
    assert result.metrics.hidden_dim == 6
    expected_density = (result.feature_activations > 0).mean(axis=0)
    np.testing.assert_allclose(result.feature_density, expected_density)
    assert result.dead_features == [j for j in range(6) if expected_density[j] == 0]
    assert result.metrics.dead_features == len(result.dead_features)
    assert isinstance(result.model, StandardSAE) and result.model.n_members == 1
    with torch.no_grad():
        again = result.model.encode(torch.tensor(seed_x))[0].numpy()
    np.testing.assert_array_equal(again, result.feature_activations)
    np.testing.assert_array_equal(result.model.W_dec[0].detach().numpy(), result.decoder_directions)


def test_history_is_thinned_for_long_runs(seed_x):
    trainer = Trainer(seed_x, TrainConfig(epochs=1500)).fit()
    history = trainer.history()
    # every max(1, 1500 // 500) = 3 epochs, plus epoch 1 and the last
    assert history["epoch"].tolist()[:3] == [1, 3, 6]
    assert history["epoch"].iloc[-1] == 1500
    assert len(history) == 501


def test_history_before_training_is_empty(seed_x):
    history = Trainer(seed_x, TrainConfig(epochs=10)).history()
    assert list(history.columns) == HISTORY_COLUMNS and len(history) == 0


def test_train_accepts_a_table(seed_table, seed_x):
    config = TrainConfig(epochs=20)
    a, b = train(seed_table, config), train(seed_x, config)
    np.testing.assert_array_equal(a.feature_activations, b.feature_activations)


# ---- loss maths ---------------------------------------------------------------------------


def _set(model: StandardSAE, **weights) -> None:
    with torch.no_grad():
        for name, value in weights.items():
            getattr(model, name).copy_(torch.as_tensor(np.asarray(value, dtype=np.float32))[None])


def test_losses_match_a_hand_computation():
    x = np.array([[1.0, 2.0], [0.5, -1.0], [-2.0, 0.0]], dtype=np.float32)
    W_enc = np.array([[0.5, -1.0, 0.25], [0.1, 0.3, -0.2]])
    b_enc = np.array([0.0, 0.1, -0.3])
    W_dec = np.array([[1.0, 0.5], [-0.5, 0.2], [0.3, 0.3]])
    b_dec = np.array([0.05, -0.1])
    w = 0.3
    model = StandardSAE(2, [3], [0], sparsity_weight=[w])
    _set(model, W_enc=W_enc, b_enc=b_enc, W_dec=W_dec, b_dec=b_dec)

    f = np.maximum(x @ W_enc + b_enc, 0)
    assert (f > 0).any() and (f == 0).any()  # both sides of the ReLU are exercised
    x_hat = f @ W_dec + b_dec
    mse = np.mean((x_hat - x) ** 2)
    sparsity = w * np.mean(np.abs(f))

    with torch.no_grad():
        losses = model.losses(torch.as_tensor(x))
    assert losses["mse"].shape == (1,) and losses["sparsity"].shape == (1,)
    assert float(losses["mse"][0]) == pytest.approx(mse, rel=1e-6)
    assert float(losses["sparsity"][0]) == pytest.approx(sparsity, rel=1e-6)
    fb = model.forward_backward(torch.as_tensor(x))
    assert float(fb["mse"][0]) == pytest.approx(mse, rel=1e-6)
    assert float(fb["sparsity"][0]) == pytest.approx(sparsity, rel=1e-6)
    np.testing.assert_allclose(model.encode(torch.as_tensor(x))[0].detach().numpy(), f, rtol=1e-6)


def test_losses_per_member_use_each_members_hidden_size():
    # member 0 has 2 real features padded to 3: its L1 mean is over 2 features, not 3
    model = StandardSAE(2, [2, 3], [0, 1], sparsity_weight=[1.0, 1.0])
    with torch.no_grad():
        model.W_enc.zero_()
        model.b_enc.copy_(torch.tensor([[1.0, 2.0, 5.0], [1.0, 2.0, 3.0]]))
    x = torch.zeros(4, 2)
    sparsity = model.losses(x)["sparsity"]
    assert sparsity.tolist() == pytest.approx([(1 + 2) / 2, (1 + 2 + 3) / 3])


def _grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("dtype, tol, penalty", [
    (torch.float64, 1e-12, False), (torch.float32, 1e-5, False), (torch.float64, 1e-12, True),
])
def test_forward_backward_equals_autograd(dtype, tol, penalty):
    hidden, weights = [3, 6, 4], [0.0, 0.1, 2.0]
    model = StandardSAE(5, hidden, [0, 1, 2], sparsity_weight=weights, dtype=dtype, decoder_norm_penalty=penalty)
    assert model.padded
    x = torch.as_tensor(np.random.default_rng(0).normal(size=(7, 5)), dtype=dtype)
    with torch.no_grad():
        f = model.encode(x)
    for s, h in enumerate(hidden):  # each member has live and inactive units
        assert (f[s, :, :h] > 0).any() and (f[s, :, :h] == 0).any()

    model.zero_grad()
    losses = model.losses(x)
    (losses["mse"] + losses["sparsity"]).sum().backward()
    expected = _grads(model)

    for p in model.parameters():
        p.grad = None
    by_hand = model.forward_backward(x)
    got = _grads(model)
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=tol, atol=tol, msg=name)
    torch.testing.assert_close(by_hand["mse"], losses["mse"].detach(), rtol=tol, atol=tol)
    torch.testing.assert_close(by_hand["sparsity"], losses["sparsity"].detach(), rtol=tol, atol=tol)
    # padded units get exactly zero gradient
    assert (got["W_enc"][0, :, 3:] == 0).all() and (got["b_enc"][0, 3:] == 0).all()
    assert (got["W_dec"][2, 4:] == 0).all()
    # the sparsity weight matters: member 2's encoder gradient differs from its w = 0 version
    assert not torch.allclose(got["b_enc"][2], torch.zeros_like(got["b_enc"][2]))


def test_member_extracts_one_unpadded_model():
    model = StandardSAE(4, [3, 5], [3, 4], sparsity_weight=[0.1, 0.2])
    one = model.member(0)
    assert one.hidden_dims == [3] and one.W_enc.shape == (1, 4, 3) and not one.padded
    torch.testing.assert_close(one.W_dec[0], model.W_dec[0, :3], rtol=0, atol=0)
    assert float(one.sparsity_weight[0]) == pytest.approx(0.1)
    x = torch.rand(6, 4)
    torch.testing.assert_close(one.encode(x)[0], model.encode(x)[0, :, :3], rtol=0, atol=0)


# ---- initialisation -----------------------------------------------------------------------


@pytest.mark.parametrize("seed, d, h", [(0, 4, 8), (7, 5, 3), (123456789, 3, 16)])
def test_init_equals_nn_linear(seed, d, h):
    torch.manual_seed(seed)
    enc, dec = nn.Linear(d, h), nn.Linear(h, d)
    model = StandardSAE(d, [h], [seed], sparsity_weight=[0.01])
    assert torch.equal(model.W_enc[0], enc.weight.T)
    assert torch.equal(model.b_enc[0], enc.bias)
    assert torch.equal(model.W_dec[0], dec.weight.T)
    assert torch.equal(model.b_dec[0], dec.bias)


def test_batched_init_equals_each_members_own_init():
    model = StandardSAE(4, [3, 6], [5, 9], sparsity_weight=[0.01, 0.01])
    for s, (seed, h) in enumerate([(5, 3), (9, 6)]):
        torch.manual_seed(seed)
        enc, dec = nn.Linear(4, h), nn.Linear(h, 4)
        assert torch.equal(model.W_enc[s, :, :h], enc.weight.T)
        assert torch.equal(model.W_dec[s, :h], dec.weight.T)
        assert torch.equal(model.b_dec[s], dec.bias)
    assert (model.W_enc[0, :, 3:] == 0).all() and (model.W_dec[0, 3:] == 0).all()
    assert model.hidden_mask.tolist() == [[1, 1, 1, 0, 0, 0], [1] * 6]


def test_init_does_not_touch_the_global_rng():
    torch.manual_seed(42)
    expected = torch.rand(3)
    torch.manual_seed(42)
    StandardSAE(4, [8], [0], sparsity_weight=[0.01])
    assert torch.equal(torch.rand(3), expected)


def test_trainer_starts_from_the_linear_init(seed_x):
    trainer = Trainer(seed_x, TrainConfig(hidden_dim=5, seed=3, epochs=10))
    torch.manual_seed(3)
    enc, dec = nn.Linear(4, 5), nn.Linear(5, 4)
    assert torch.equal(trainer.model.W_enc[0], enc.weight.T)
    assert torch.equal(trainer.model.b_dec[0], dec.bias)


# ---- the loop against the article's -------------------------------------------------------


def article_loop(x: np.ndarray, seed: int, hidden: int, weight: float, lr: float, epochs: int):
    """The article's plain PyTorch training loop."""
    torch.manual_seed(seed)
    encoder = nn.Linear(x.shape[1], hidden)
    decoder = nn.Linear(hidden, x.shape[1])
    optimizer = torch.optim.Adam(list(encoder.parameters()) + list(decoder.parameters()), lr=lr)
    criterion = nn.MSELoss()
    data = torch.as_tensor(x)
    losses = []
    for _ in range(epochs):
        f = torch.relu(encoder(data))
        x_hat = decoder(f)
        reconstruction = criterion(x_hat, data)
        loss = reconstruction + weight * torch.mean(torch.abs(f))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append((loss.item(), reconstruction.item()))
    with torch.no_grad():
        f = torch.relu(encoder(data)).numpy()
    return f, decoder.weight.detach().numpy().T, decoder.bias.detach().numpy(), losses


@pytest.mark.parametrize("seed, hidden, weight, lr", [(0, 8, 0.01, 0.01), (4, 5, 0.1, 0.03)])
def test_one_member_equals_the_articles_loop(seed_x, seed, hidden, weight, lr):
    epochs = 200
    f, W_dec, b_dec, losses = article_loop(seed_x, seed, hidden, weight, lr, epochs)
    result = train(seed_x, TrainConfig(hidden_dim=hidden, sparsity_weight=weight, lr=lr, epochs=epochs,
                                       seed=seed))
    np.testing.assert_allclose(result.feature_activations, f, atol=1e-4)
    np.testing.assert_allclose(result.decoder_directions, W_dec, atol=1e-4)
    np.testing.assert_allclose(result.model.b_dec[0].detach().numpy(), b_dec, atol=1e-4)
    history = result.history.set_index("epoch")
    for epoch in (1, 100, 200):  # history holds the loss before that epoch's step
        total, reconstruction = losses[epoch - 1]
        assert history.loc[epoch, "total"] == pytest.approx(total, rel=1e-4, abs=1e-7)
        assert history.loc[epoch, "reconstruction"] == pytest.approx(reconstruction, rel=1e-4, abs=1e-7)


def test_train_seeds_equals_separate_runs(seed_x):
    config = TrainConfig(hidden_dim=6, sparsity_weight=0.05, epochs=300)
    batched = train_seeds(seed_x, config, [0, 1, 2])
    assert [r.config.seed for r in batched] == [0, 1, 2]
    for seed, result in zip([0, 1, 2], batched):
        alone = train(seed_x, replace(config, seed=seed))
        np.testing.assert_allclose(result.feature_activations, alone.feature_activations, atol=1e-5)
        np.testing.assert_allclose(result.decoder_directions, alone.decoder_directions, atol=1e-5)
        np.testing.assert_allclose(result.history["total"], alone.history["total"], rtol=1e-5, atol=1e-7)
        assert result.metrics.explained_variance == pytest.approx(alone.metrics.explained_variance, abs=1e-5)
        assert result.epochs_done == 300
    assert not np.allclose(batched[0].feature_activations, batched[1].feature_activations)


def test_padded_members_equal_separate_runs(seed_x):
    members = [TrainConfig(hidden_dim=3, sparsity_weight=0.0, epochs=200, seed=1),
               TrainConfig(hidden_dim=7, sparsity_weight=0.2, epochs=200, seed=2)]
    results = Trainer(seed_x, members).fit().results()
    for config, result in zip(members, results):
        alone = train(seed_x, config)
        assert result.feature_activations.shape == (8, config.hidden_dim)
        np.testing.assert_allclose(result.feature_activations, alone.feature_activations, atol=1e-5)


# ---- determinism --------------------------------------------------------------------------


def test_same_config_same_bits(seed_x):
    config = TrainConfig(hidden_dim=8, epochs=300, seed=11, resample_dead_every=50)
    a, b = train(seed_x, config), train(seed_x, config)
    assert np.array_equal(a.feature_activations, b.feature_activations)
    assert np.array_equal(a.decoder_directions, b.decoder_directions)
    pd.testing.assert_frame_equal(a.history, b.history, check_exact=True)
    assert a.metrics == b.metrics


def test_different_seed_different_result(seed_x):
    a = train(seed_x, TrainConfig(epochs=100, seed=0))
    b = train(seed_x, TrainConfig(epochs=100, seed=1))
    assert not np.allclose(a.feature_activations, b.feature_activations)
    assert not np.allclose(a.history["total"], b.history["total"])


# ---- stopping, callbacks ------------------------------------------------------------------


def test_stop_event_set_from_the_callback(seed_x):
    stop, seen = threading.Event(), []

    def on_step(log: StepLog):
        seen.append(log.epoch)
        if len(seen) == 7:
            stop.set()

    result = train(seed_x, TrainConfig(epochs=100), on_step=on_step, every=1, stop=stop)
    assert seen == list(range(1, 8))
    assert result.epochs_done == 7 and result.stopped_early
    assert result.history["epoch"].iloc[-1] == 7
    assert result.feature_activations.shape == (8, 8)


def test_stop_callable(seed_x):
    trainer = Trainer(seed_x, TrainConfig(epochs=100))
    trainer.fit(stop=lambda: trainer.epoch >= 13)
    assert trainer.epoch == 13 and not trainer.finished
    assert trainer.result().stopped_early


def test_stop_on_the_last_epoch_is_not_early(seed_x):
    result = train(seed_x, TrainConfig(epochs=20), stop=lambda: True)
    assert result.epochs_done == 1 and result.stopped_early  # checked after every step
    result = train(seed_x, TrainConfig(epochs=1), stop=lambda: True)
    assert result.epochs_done == 1 and not result.stopped_early


def test_a_raising_callback_keeps_the_trainer_usable(seed_x):
    config = TrainConfig(epochs=60, seed=2)

    def interrupt(log: StepLog):
        if log.epoch == 25:
            raise RuntimeError("user pressed Stop")

    trainer = Trainer(seed_x, config)
    with pytest.raises(RuntimeError, match="Stop"):
        trainer.fit(interrupt, every=5)
    partial = trainer.result()
    assert partial.epochs_done == 25 and partial.stopped_early
    assert partial.history["epoch"].iloc[-1] == 25
    assert partial.feature_activations.shape == (8, 8) and np.isfinite(partial.feature_activations).all()
    assert partial.train_seconds > 0

    trainer.fit()  # resumes where it stopped
    finished = trainer.result()
    straight = train(seed_x, config)
    assert finished.epochs_done == 60 and not finished.stopped_early
    assert np.array_equal(finished.feature_activations, straight.feature_activations)
    pd.testing.assert_frame_equal(finished.history, straight.history, check_exact=True)


def test_on_step_logs(seed_x):
    logs: list[StepLog] = []
    train_seeds(seed_x, TrainConfig(epochs=95), [0, 1], on_step=logs.append, every=10)
    assert [log.epoch for log in logs] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 95]
    assert logs[-1].fraction == 1.0 and logs[0].fraction == pytest.approx(10 / 95)
    assert all(log.epochs == 95 for log in logs)
    for log in logs:
        assert len(log.total) == len(log.mse) == len(log.sparsity) == 2
        assert log.total == pytest.approx([m + s for m, s in zip(log.mse, log.sparsity)])
        assert all(isinstance(v, float) for v in log.total)
    seconds = [log.seconds for log in logs]
    assert seconds == sorted(seconds)
    assert logs[-1].total[0] < logs[0].total[0]  # it learns


def test_on_step_default_every_is_one_percent(seed_x):
    logs: list[StepLog] = []
    train(seed_x, TrainConfig(epochs=300), on_step=logs.append)
    assert [log.epoch for log in logs] == list(range(3, 301, 3))


# ---- config validation --------------------------------------------------------------------


@pytest.mark.parametrize("changes, expected", [
    ({"hidden_dim": 0}, "hidden size"),
    ({"hidden_dim": -3}, "hidden size"),
    ({"hidden_dim": limits.MAX_HIDDEN + 1}, "hidden size"),
    ({"hidden_dim": 2.5}, "hidden size"),
    ({"hidden_dim": True}, "hidden size must be a whole number from 1 to 4,096 (got True)"),  # not a number
    ({"sparsity_weight": -1.0}, "sparsity weight"),
    ({"sparsity_weight": float("nan")}, "sparsity weight"),
    ({"sparsity_weight": float("inf")}, "sparsity weight"),
    ({"sparsity_weight": 1e6}, "sparsity weight"),
    ({"lr": 0.0}, "learning rate"),
    ({"lr": -0.01}, "learning rate"),
    ({"lr": float("nan")}, "learning rate"),
    ({"lr": float("inf")}, "learning rate"),
    ({"lr": 100.0}, "learning rate"),
    ({"lr": "0.01"}, "learning rate"),
    ({"epochs": 0}, "epochs"),
    ({"epochs": 10**9}, "epochs"),
    ({"epochs": 10.0}, "epochs"),
    ({"seed": -1}, "seed"),
    ({"seed": 2**63}, "seed"),
    ({"seed": 2**31}, "seed"),
    ({"lr": 1e-7}, "learning rate"),
    ({"init_decoder_norm": -0.1}, "initial decoder row length must be from 0 to 100 (got -0.1)"),
    ({"architecture": "transformer"}, "unknown architecture 'transformer'"),
    ({"resample_dead_every": -5}, "dead-feature resampling interval must be a whole number from 0 to 100,000 (got -5)"),
    ({"k": 0}, "k must be a whole number from 1 to"),
    ({"k": 2.0}, "k must be a whole number from 1 to"),
    ({"architecture": "topk", "hidden_dim": 3, "k": 4}, "k must be at most the hidden size (3), got 4"),
    ({"architecture": "standard", "hidden_dim": 3, "k": 4}, None),  # standard ignores k
    ({"auxk_weight": -0.1}, "AuxK weight must be from 0 to 100 (got -0.1)"),
    ({"auxk_weight": float("nan")}, "AuxK weight"),
    ({"jumprelu_threshold": 0.0}, "JumpReLU starting threshold must be from 0.0001 to 100 (got 0.0)"),
    ({"jumprelu_bandwidth": 1e3}, "JumpReLU bandwidth must be from 0.0001 to 100 (got 1000.0)"),
])
def test_validate_refuses_absurd_values(changes, expected):
    config = replace(TrainConfig(), **changes)
    if expected is None:
        assert config.validate() is config
        return
    message = config_error(config.validate)
    assert expected in message


def test_validate_accepts_the_defaults_and_returns_self():
    config = TrainConfig()
    assert config.validate(n_rows=20_000) is config
    assert ARTICLE == TrainConfig(hidden_dim=8, sparsity_weight=0.01, lr=0.01, epochs=1000, seed=0)
    assert replace(config, lr=limits.MAX_LR, sparsity_weight=0.0).validate() is not None


def test_validate_refuses_huge_training_work():
    config = TrainConfig(hidden_dim=4096, epochs=100_000)
    message = config_error(lambda: config.validate(n_rows=10))
    assert "too large" in message and "4,096,000,000" in message
    small = TrainConfig(hidden_dim=8, epochs=1000)
    assert small.validate(n_rows=1000, n_members=64) is small
    message = config_error(lambda: small.validate(n_rows=20_000, n_members=64))
    assert "x seeds" in message


def test_trainer_refuses_huge_runs_and_mixed_members(seed_x):
    big = np.zeros((20_000, 4), dtype=np.float32)
    big[:, 0] = np.arange(20_000)
    members = [TrainConfig(hidden_dim=1000, epochs=90, seed=s) for s in range(2)]  # 1.8e9 each
    assert "too large" in config_error(lambda: Trainer(big, members))
    assert "nothing to train" in config_error(lambda: Trainer(seed_x, []))
    mixed = [TrainConfig(epochs=10), TrainConfig(epochs=10, lr=0.02)]
    assert "may differ only" in config_error(lambda: Trainer(seed_x, mixed))
    assert "hidden size" in config_error(lambda: train(seed_x, TrainConfig(hidden_dim=0)))


def test_unknown_architecture_lookup():
    assert get_architecture("standard") is StandardSAE and "standard" in ARCHITECTURES
    with pytest.raises(ConfigError, match="unknown architecture 'nope'"):
        get_architecture("nope")


def test_from_dict_round_trip_and_coercion():
    config = TrainConfig(hidden_dim=4, sparsity_weight=0.5, lr=0.02, epochs=10, seed=3, tied_init=True)
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert TrainConfig.from_dict({}) == TrainConfig()
    coerced = TrainConfig.from_dict({"lr": 1, "sparsity_weight": 0})
    assert coerced.lr == 1.0 and isinstance(coerced.lr, float) and isinstance(coerced.sparsity_weight, float)


@pytest.mark.parametrize("data, expected", [
    ({"hidden": 8}, "unknown training setting(s): hidden"),
    ({"hidden_dim": 8, "zeta": 1, "alpha": 2}, "unknown training setting(s): alpha, zeta"),
    ({"hidden_dim": "8"}, "'hidden_dim' must be int"),
    ({"hidden_dim": 8.0}, "'hidden_dim' must be int"),
    ({"hidden_dim": True}, "'hidden_dim' must be int"),
    ({"lr": "0.1"}, "'lr' must be float"),
    ({"lr": True}, "'lr' must be float"),
    ({"lr": None}, "'lr' must be float"),
    ({"tied_init": 1}, "'tied_init' must be bool"),
    ({"architecture": 3}, "'architecture' must be str"),
])
def test_from_dict_refuses_unknown_keys_and_wrong_types(data, expected):
    assert expected in config_error(lambda: TrainConfig.from_dict(data))


# ---- as_matrix ----------------------------------------------------------------------------


@pytest.mark.parametrize("bad, expected", [
    (np.arange(4.0), "2-D"),
    (np.zeros((2, 2, 2)), "2-D"),
    (np.zeros((0, 3)), "2-D"),
    (np.zeros((3, 0)), "2-D"),
    (5.0, "2-D"),
    ([[1.0, float("nan")], [0.0, 1.0]], "NaN or infinite"),
    ([[1.0, float("inf")], [0.0, 1.0]], "NaN or infinite"),
    (torch.tensor([[1.0, float("-inf")]]), "NaN or infinite"),
    ([["a", "b"], ["c", "d"]], "array of numbers"),
    ([[1.0, 2.0], [3.0]], "array of numbers"),
])
def test_as_matrix_refuses(bad, expected):
    assert expected in config_error(lambda: as_matrix(bad))


def test_as_matrix_accepts_arrays_tensors_and_tables(seed_table):
    m = as_matrix([[1, 2], [3, 4]])
    assert m.dtype == torch.float32 and m.shape == (2, 2) and m.tolist() == [[1, 2], [3, 4]]
    assert as_matrix(torch.ones(3, 2, dtype=torch.float64)).dtype == torch.float32
    assert as_matrix(seed_table).shape == (8, 4)


# ---- the article's recipe and the options ----------------------------------------------


def test_article_recipe_reconstructs_the_founding_table(seed_x):
    result = train(seed_x, TrainConfig(hidden_dim=8, sparsity_weight=0.01, lr=0.01, epochs=1000, seed=0))
    assert result.metrics.explained_variance > 0.9
    assert result.metrics.mse < 0.01
    assert result.history["total"].iloc[-1] < result.history["total"].iloc[0] / 10


def test_unit_norm_decoder(seed_x):
    result = train(seed_x, TrainConfig(epochs=200, unit_norm_decoder=True))
    np.testing.assert_allclose(np.linalg.norm(result.decoder_directions, axis=1), 1.0, atol=1e-5)
    plain = train(seed_x, TrainConfig(epochs=200))
    assert not np.allclose(np.linalg.norm(plain.decoder_directions, axis=1), 1.0, atol=1e-2)
    trainer = Trainer(seed_x, TrainConfig(epochs=5, unit_norm_decoder=True))  # also at epoch 0
    torch.testing.assert_close(trainer.model.W_dec.norm(dim=2), torch.ones(1, 8))


def test_tied_init(seed_x):
    model = Trainer(seed_x, TrainConfig(hidden_dim=6, epochs=5, tied_init=True)).model
    assert torch.equal(model.W_enc[0], model.W_dec[0].T)
    untied = Trainer(seed_x, TrainConfig(hidden_dim=6, epochs=5)).model
    assert torch.equal(model.W_dec, untied.W_dec)  # the decoder keeps its own init
    assert not torch.equal(untied.W_enc[0], untied.W_dec[0].T)


def test_init_decoder_bias_to_mean(seed_x):
    model = Trainer(seed_x, TrainConfig(epochs=5, init_decoder_bias_to_mean=True)).model
    np.testing.assert_allclose(model.b_dec[0].detach().numpy(), seed_x.mean(axis=0), rtol=1e-6)
    plain = Trainer(seed_x, TrainConfig(epochs=5)).model
    assert not np.allclose(plain.b_dec[0].detach().numpy(), seed_x.mean(axis=0), atol=1e-2)


def test_resampling_revives_dead_features(seed_x):
    config = TrainConfig(hidden_dim=8, sparsity_weight=0.01, epochs=300, seed=0)
    plain = train(seed_x, config)
    resampled = train(seed_x, replace(config, resample_dead_every=50))
    assert plain.metrics.dead_features >= 3  # features die on this config
    assert resampled.metrics.dead_features < plain.metrics.dead_features
    assert resampled.metrics.explained_variance >= plain.metrics.explained_variance - 0.01


def test_training_at_the_edges(seed_x):
    one = train(seed_x, TrainConfig(hidden_dim=1, epochs=30))
    assert one.feature_activations.shape == (8, 1) and one.decoder_directions.shape == (1, 4)
    no_sparsity = train(seed_x, TrainConfig(sparsity_weight=0.0, epochs=30))
    assert (no_sparsity.history["sparsity"] == 0).all()
    constant = train(np.ones((5, 3), dtype=np.float32), TrainConfig(epochs=30))
    assert math.isfinite(constant.metrics.mse)


# ---- mini-batches ---------------------------------------------------------------------------


def minibatch_article_loop(x: np.ndarray, seed: int, hidden: int, weight: float, lr: float, epochs: int,
                           batch: int):
    """The article's loop, over shuffled mini-batches in the trainer's data order."""
    torch.manual_seed(seed)
    encoder, decoder = nn.Linear(x.shape[1], hidden), nn.Linear(hidden, x.shape[1])
    optimizer = torch.optim.Adam(list(encoder.parameters()) + list(decoder.parameters()), lr=lr)
    data, order_gen = torch.as_tensor(x), torch.Generator().manual_seed(DATA_ORDER_SEED)
    epoch_losses = []
    for _ in range(epochs):
        order, total = torch.randperm(len(x), generator=order_gen), 0.0
        for start in range(0, len(x), batch):
            rows = data[order[start : start + batch]]
            f = torch.relu(encoder(rows))
            loss = nn.MSELoss()(decoder(f), rows) + weight * torch.mean(torch.abs(f))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
        epoch_losses.append(total / len(x))
    with torch.no_grad():
        return torch.relu(encoder(data)).numpy(), epoch_losses


def test_minibatches_equal_the_articles_loop_over_the_same_batches(seed_x):
    config = TrainConfig(hidden_dim=6, sparsity_weight=0.05, lr=0.01, epochs=40, seed=3, batch_size=3)
    trainer = Trainer(seed_x, config).fit()
    assert trainer.optimizer.steps == 40 * 3  # an epoch is one pass: batches of 3, 3 and 2 rows
    f, losses = minibatch_article_loop(seed_x, 3, 6, 0.05, 0.01, 40, 3)
    result = trainer.result()
    np.testing.assert_allclose(result.feature_activations, f, atol=1e-5)
    history = result.history.set_index("epoch")
    for epoch in (1, 20, 40):
        assert history.loc[epoch, "total"] == pytest.approx(losses[epoch - 1], rel=1e-5)


def test_a_batch_at_least_the_table_is_exactly_the_full_batch_run(seed_x):
    config = TrainConfig(hidden_dim=6, epochs=120, seed=2, resample_dead_every=40)
    runs = [train(seed_x, replace(config, batch_size=b)) for b in (8, 9, limits.MAX_ROWS)]
    for run in runs[1:]:
        assert np.array_equal(run.feature_activations, runs[0].feature_activations)
        pd.testing.assert_frame_equal(run.history, runs[0].history, check_exact=True)
    assert Trainer(seed_x, replace(config, batch_size=8)).fit().optimizer.steps == 120
    smaller = train(seed_x, replace(config, batch_size=7))
    assert not np.array_equal(smaller.feature_activations, runs[0].feature_activations)


@pytest.mark.parametrize("batch_size", [0, -1, limits.MAX_ROWS + 1, 2.0])
def test_batch_size_is_validated(batch_size):
    message = config_error(replace(TrainConfig(), batch_size=batch_size).validate)
    assert message.startswith("batch size must be a whole number from 1 to")


# ---- resampling resets the optimiser state of what it restarts ------------------------------


def test_resampling_resets_the_adam_moments_of_restarted_features(seed_x):
    trainer = Trainer(seed_x, TrainConfig(hidden_dim=8, sparsity_weight=0.01, epochs=300, seed=0,
                                          resample_dead_every=50))
    seen = []
    restart = trainer.model.restart_features

    def spy(dead_SH, x_ND):
        before = {n: (trainer.optimizer.exp_avg[n].clone(), trainer.optimizer.exp_avg_sq[n].clone())
                  for n in trainer.optimizer.params}
        masks = restart(dead_SH, x_ND)
        seen.append((dead_SH.clone(), masks, before))
        return masks

    trainer.model.restart_features = spy
    for _ in range(100):  # resamples after epochs 50 and 100; the second restarts a feature that had fired
        trainer.step()
    assert len(seen) == 2
    dead_SH, masks, before = seen[1]
    assert dead_SH.sum() >= 1
    for s, h in dead_SH.nonzero().tolist():
        assert masks["W_dec"][s, h].all() and masks["W_enc"][s, :, h].all() and masks["b_enc"][s, h]
    assert not masks["b_dec"].any()
    for name, mask in masks.items():
        old_avg, old_sq = before[name]
        if mask.any():
            assert (old_sq[mask] != 0).any(), name  # there was state to forget
        assert (trainer.optimizer.exp_avg[name][mask] == 0).all(), name
        assert (trainer.optimizer.exp_avg_sq[name][mask] == 0).all(), name
        assert torch.equal(trainer.optimizer.exp_avg_sq[name][~mask], old_sq[~mask]), name
