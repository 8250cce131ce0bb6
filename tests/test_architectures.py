"""Every registered architecture against the contract and against a reference implementation
of its definition, written out here independently (numpy, token by token)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from sae_core.architectures import ARCHITECTURES, get_architecture, register
from sae_core.architectures.auxk import DEAD_AFTER_STEPS
from sae_core.architectures.base import SAE
from sae_core.errors import ConfigError
from sae_core.saelens_format import load_saelens_zip, result_zip
from sae_core.training import TrainConfig, history_columns, train, train_seeds

KEYS = ["standard", "topk", "batchtopk", "jumprelu", "matryoshka"]
OPTIONS = {"standard": {}, "topk": {"k": 2, "auxk_weight": 0.0}, "batchtopk": {"k": 2, "auxk_weight": 0.0},
           "jumprelu": {"jumprelu_threshold": 0.05, "jumprelu_bandwidth": 0.2},
           "matryoshka": {"k": 2, "auxk_weight": 0.0, "matryoshka_levels": 3}}
BATCHTOPK = ("batchtopk", "matryoshka")  # a batch's k x N in training, a learned threshold at inference


def test_the_registry_holds_the_five_architectures_and_refuses_duplicates():
    assert sorted(ARCHITECTURES) == sorted(KEYS)
    for key, cls in ARCHITECTURES.items():
        assert cls.key == key and issubclass(cls, SAE) and cls.label
        assert cls.saelens_architecture in ("standard", "topk", "jumprelu")
        assert cls.loss_names[0] == "mse"
        assert set(cls.settings()) <= set(TrainConfig().to_dict())
        assert cls.knob in cls.settings()
    with pytest.raises(ValueError, match="already registered"):
        register(get_architecture("topk"))


def test_settings_name_the_fields_each_architecture_reads():
    assert get_architecture("standard").settings() == ("sparsity_weight", "decoder_norm_penalty")
    assert get_architecture("topk").settings() == ("k", "auxk_weight")
    assert get_architecture("batchtopk").settings() == ("k", "auxk_weight")
    assert get_architecture("jumprelu").settings() == ("sparsity_weight", "jumprelu_threshold", "jumprelu_bandwidth")
    assert get_architecture("matryoshka").settings() == ("k", "auxk_weight", "matryoshka_levels")


def model_and_x(key: str, hidden=(5,), seeds=(0,), weight=0.1, dtype=torch.float64):
    cls = get_architecture(key)
    weights = {"sparsity_weight": weight} if "sparsity_weight" in cls.settings() else {}
    model = cls(4, list(hidden), list(seeds), dtype=dtype, **OPTIONS[key], **weights)
    x = torch.as_tensor(np.random.default_rng(1).normal(size=(6, 4)), dtype=dtype)
    with torch.no_grad():
        model.b_enc.add_(0.1)  # some pre-activations positive, some negative
    return model, x


def numpy_params(model, s=0):
    return {name: t[s].detach().numpy().astype(np.float64) for name, t in model.saved_tensors().items()}


def reference(key: str, p: dict, x: np.ndarray, weight: float, training: bool):
    """(f, losses) straight from each architecture's definition, one token at a time."""
    pre = x @ p["W_enc"] + p["b_enc"]
    f = np.zeros_like(pre)
    for n in range(len(x)):
        for j in range(pre.shape[1]):
            if key == "standard":
                f[n, j] = max(pre[n, j], 0.0)
            elif key == "topk":
                top = sorted(range(pre.shape[1]), key=lambda i: -pre[n, i])[: OPTIONS[key]["k"]]
                f[n, j] = max(pre[n, j], 0.0) if j in top else 0.0
            elif key == "jumprelu":
                f[n, j] = pre[n, j] if pre[n, j] > p["threshold"][j] else 0.0
            elif key in BATCHTOPK and not training:
                f[n, j] = pre[n, j] if pre[n, j] > p["threshold"] else 0.0
    if key in BATCHTOPK and training:
        relu = np.maximum(pre, 0)
        cut = np.sort(relu.ravel())[::-1][OPTIONS[key]["k"] * len(x) - 1]
        f = np.where(relu >= cut, relu, 0.0)
    mse = np.mean((f @ p["W_dec"] + p["b_dec"] - x) ** 2)
    losses = {"mse": mse}
    if key == "matryoshka":  # prefixes of H // 4, H // 2 features (3 levels), each with b_dec
        widths = sorted({w for w in (len(f[0]) // 4, len(f[0]) // 2) if 0 < w < len(f[0])})
        losses["inner_mse"] = sum(np.mean((f[:, :w] @ p["W_dec"][:w] + p["b_dec"] - x) ** 2) for w in widths)
    if key == "standard":
        losses["sparsity"] = weight * np.mean(np.abs(f))
    elif key == "jumprelu":
        losses["sparsity"] = weight * np.mean((pre > p["threshold"]).sum(axis=1))
    else:
        losses["auxk"] = 0.0  # auxk_weight 0 here; AuxK has its own test
    return f, losses


@pytest.mark.parametrize("key", KEYS)
def test_encode_and_losses_match_the_reference(key):
    model, x = model_and_x(key)
    if key in BATCHTOPK:
        with torch.no_grad():
            model.threshold.fill_(0.05)
    p = numpy_params(model)
    f_ref, _ = reference(key, p, x.numpy(), 0.1, training=False)
    _, losses_ref = reference(key, p, x.numpy(), 0.1, training=True)
    with torch.no_grad():
        f = model.encode(x)
        losses = model.losses(x)
    assert (f_ref > 0).any() and (f_ref == 0).any()
    np.testing.assert_allclose(f[0].numpy(), f_ref, rtol=1e-12, atol=1e-12)
    assert list(losses) == list(model.loss_names)
    for name, value in losses.items():
        assert value.shape == (1,)
        assert float(value[0]) == pytest.approx(losses_ref[name], rel=1e-10, abs=1e-12), name


@pytest.mark.parametrize("key", KEYS)
def test_members_are_independent(key):
    """A batched model's member s computes exactly what member s alone computes (also padded)."""
    model, x = model_and_x(key, hidden=(3, 5), seeds=(4, 9), weight=0.2)
    with torch.no_grad():
        batched = model.losses(x)
        f = model.encode(x)
    for s in range(2):
        one = model.member(s)
        assert one.hidden_dims == [model.hidden_dims[s]] and not one.padded
        with torch.no_grad():
            alone = one.losses(x)
            torch.testing.assert_close(one.encode(x)[0], f[s, :, : model.hidden_dims[s]], rtol=1e-12, atol=1e-12)
        for name in model.loss_names:
            torch.testing.assert_close(alone[name][0], batched[name][s], rtol=1e-12, atol=1e-12)
    assert (f[0, :, 3:] == 0).all()  # padded features never fire


def forward_backward_against_autograd(model, x) -> dict:
    """model.forward_backward's losses and gradients against autograd of model.losses; its returned losses."""
    losses = model.losses(x)  # before forward_backward counts the step
    returned = model.forward_backward(x)
    by_model = {n: p.grad.clone() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = None
    sum(losses.values()).sum().backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(by_model[name], p.grad, rtol=1e-10, atol=1e-12, msg=name)
    for name in losses:
        torch.testing.assert_close(returned[name], losses[name].detach(), rtol=1e-10, atol=1e-12)
    return returned


@pytest.mark.parametrize("key, dead", [(key, False) for key in KEYS] + [(key, True) for key in ("topk", *BATCHTOPK)])
def test_forward_backward_equals_autograd_of_the_losses(key, dead):
    """Autograd by default; TopK's hand-written gradients too, and its AuxK fallback (dead features)."""
    model, x = model_and_x(key, hidden=(3, 5), seeds=(0, 1))
    if dead:
        model.auxk_weight = 0.5
        model.steps_since_fired[:, 1] = DEAD_AFTER_STEPS
    returned = forward_backward_against_autograd(model, x)
    if dead:
        assert (returned["auxk"] > 0).all()
    elif key in ("topk", *BATCHTOPK):  # the step counted which features fired
        with torch.no_grad():
            fired = (model.activate(model.pre_activations(x)) > 0).any(dim=1)
        assert fired.any() and not fired.all()
        assert torch.equal(model.steps_since_fired == 0, fired)


def test_jumprelu_straight_through_gradients_by_hand():
    """d loss / d theta from the estimator's formula; the encoder sees only the gate."""
    model, x = model_and_x("jumprelu", weight=0.3)
    eps = OPTIONS["jumprelu"]["jumprelu_bandwidth"]
    p = numpy_params(model)
    pre = x.numpy() @ p["W_enc"] + p["b_enc"]
    with torch.no_grad():  # thresholds near the pre-activations, so the window sees some of them
        model.threshold.copy_(torch.as_tensor(np.median(pre, axis=0) + 0.03)[None])
    p = numpy_params(model)
    model.forward_backward(x)
    theta = p["threshold"]
    n, d = x.shape
    gate = pre > theta
    f = pre * gate
    d_f = 2 * (f @ p["W_dec"] + p["b_dec"] - x.numpy()) @ p["W_dec"].T / (n * d)
    window = (np.abs((pre - theta) / eps) < 0.5) / eps
    assert window.any() and gate.any() and (~gate).any()
    d_theta = (-(theta * window) * d_f).sum(axis=0) + 0.3 * (-window).sum(axis=0) / n
    np.testing.assert_allclose(model.threshold.grad[0].numpy(), d_theta, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.W_enc.grad[0].numpy(), x.numpy().T @ (d_f * gate), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_jumprelu_is_zero_exactly_at_its_threshold(dtype):
    """f = pre * H(pre - theta) with H(0) = 0: a pre-activation equal to its threshold does not fire."""
    model, x = model_and_x("jumprelu", hidden=(3,), weight=0.5, dtype=dtype)
    with torch.no_grad():  # pre = b_enc exactly: features 0 and 1 sit on their thresholds, feature 2 above
        model.W_enc.zero_()
        model.threshold.copy_(torch.tensor([[0.25, 0.5, 0.75]], dtype=dtype))
        model.b_enc.copy_(torch.tensor([[0.25, 0.5, 0.875]], dtype=dtype))
        f = model.encode(x)[0]
        losses = model.losses(x)
    assert f[:, :2].eq(0).all() and f[:, 2].eq(0.875).all()
    assert float(losses["sparsity"][0]) == 0.5  # weight 0.5 x one active feature per token
    model.forward_backward(x)  # in training too, the closed gate passes no gradient to the encoder
    assert (model.W_dec.grad[0, :2] == 0).all() and (model.b_enc.grad[0, :2] == 0).all()
    assert (model.W_dec.grad[0, 2] != 0).any()


def test_jumprelu_threshold_stays_non_negative(seed_x):
    result = train(seed_x, TrainConfig(architecture="jumprelu", sparsity_weight=1.0, lr=0.05, epochs=200,
                                       jumprelu_threshold=0.01))
    assert (result.model.threshold >= 0).all()
    assert result.metrics.l0 < 3


def test_auxk_against_its_definition():
    model, x = model_and_x("topk", hidden=(6,))
    model.auxk_weight = 0.5
    with torch.no_grad():
        model.steps_since_fired[0, [1, 4, 5]] = DEAD_AFTER_STEPS  # three dead features
    p = numpy_params(model)
    xn = x.numpy()
    f, _ = reference("topk", p, xn, 0.0, training=True)
    residual = xn - (f @ p["W_dec"] + p["b_dec"])
    pre = xn @ p["W_enc"] + p["b_enc"]
    k_aux = 4 // 2
    acts = np.zeros_like(pre)
    for t in range(len(xn)):
        for j in sorted([1, 4, 5], key=lambda i: -pre[t, i])[:k_aux]:
            acts[t, j] = pre[t, j]  # no ReLU, as in SAELens
    expected = 0.5 * min(3 / k_aux, 1.0) * np.mean((acts @ p["W_dec"] - residual) ** 2)
    with torch.no_grad():
        got = model.losses(x)["auxk"]
    assert expected > 0 and float(got[0]) == pytest.approx(expected, rel=1e-10)
    model.forward_backward(x)  # the loss reaches the dead features' encoder columns
    assert (model.W_enc.grad[0, :, [1, 4, 5]] != 0).any()


def test_auxk_counts_updates_since_a_feature_fired():
    model, _ = model_and_x("topk", hidden=(4,))
    fires = torch.zeros(1, 3, 4, dtype=torch.float64)
    for j in (0, 1):
        f = fires.clone()
        f[0, 2, j] = 0.5
        model.observe(f)
    assert model.steps_since_fired.tolist() == [[1, 0, 2, 2]]
    assert not model.dead().any()
    model.steps_since_fired.fill_(DEAD_AFTER_STEPS - 1)
    model.observe(fires)
    assert model.dead().all()


@pytest.mark.parametrize("key", BATCHTOPK)
def test_batchtopk_keeps_k_per_token_on_average_and_learns_a_threshold(seed_x, key):
    model, x = model_and_x(key, hidden=(5,))
    expected = 0.0  # the threshold starts at 0, then moves 1% of the way to each batch's smallest kept value
    for scale in (1.0, 3.0, 0.5):  # batches with different smallest kept values
        batch = x * scale
        with torch.no_grad():
            acts = model.activate(model.pre_activations(batch))
        assert int((acts > 0).sum()) == OPTIONS[key]["k"] * x.shape[0]
        kept_min = float(acts[acts > 0].min())
        expected = 0.99 * expected + 0.01 * kept_min  # SAELens' topk_threshold_lr = 0.01, written out
        model.forward_backward(batch)
        assert float(model.threshold[0]) == pytest.approx(expected, rel=1e-12)
    result = train(seed_x, TrainConfig(architecture=key, k=2, epochs=600, lr=0.01))
    assert result.model.threshold[0] > 0
    assert 1.0 <= result.metrics.l0 <= 3.0  # inference through the threshold keeps about k per token


@pytest.mark.parametrize("key", ["topk", *BATCHTOPK])
@pytest.mark.parametrize("case", ["floats", "ties", "few positive", "per-member k"])
def test_the_steps_by_hand_select_in_place_what_activate_selects(key, case):
    """``activate_`` (the steps by hand: over pre in place; BatchTopK without sorting, first cutting to the
    entries >= the k x N-th largest max of 16-strided groups) keeps what ``activate`` keeps: the same
    entries for distinct values; with ties at the cut, as many entries and the same values, each at a
    place holding that pre-activation. 64 tokens x 96 features, k x N <= a 16th of the batch: the cut runs."""
    ks = [3, 2] if case == "per-member k" else [3, 3]
    model = get_architecture(key)(4, [96, 96], [0, 1], k=ks)
    gen = torch.Generator().manual_seed(5)
    pre = torch.randn(2, 64, 96, generator=gen)
    if case == "ties":
        pre = torch.randint(-6, 7, (2, 64, 96), generator=gen).float()  # 13 values: ties at every cut
    elif case == "few positive":
        pre = torch.where(torch.rand(2, 64, 96, generator=gen) < 0.02, pre.abs(), -pre.abs())
    expected = model.activate(pre)
    kept, seen = model.activate_(pre.clone())
    if case == "ties" and key in BATCHTOPK:
        assert [int((f > 0).sum()) for f in kept] == [int((f > 0).sum()) for f in expected] == [3 * 64] * 2
        for f, e, p in zip(kept, expected, pre):
            assert torch.equal(f.flatten().sort().values, e.flatten().sort().values)
            assert torch.equal(f[f != 0], p[f != 0])
    else:
        assert torch.equal(kept, expected)
    if case == "few positive" and key in BATCHTOPK:
        assert [int((f > 0).sum()) for f in expected] == [int((p > 0).sum()) for p in pre]  # all, under k x N
    if key in BATCHTOPK:  # the smallest kept activation, for the inference threshold
        assert torch.equal(seen, torch.stack([f[f > 0].min() for f in expected]))


@pytest.mark.parametrize("key", ["topk", *BATCHTOPK])
def test_k_above_the_hidden_size_is_refused(key):
    message = str(pytest.raises(ConfigError, TrainConfig(architecture=key, hidden_dim=4, k=5).validate).value)
    assert message == "k must be at most the hidden size (4), got 5"


@pytest.mark.parametrize("key", KEYS)
def test_training_learns_and_batched_seeds_equal_separate_runs(seed_x, key):
    config = TrainConfig(architecture=key, hidden_dim=6, epochs=150, lr=0.01, k=2, sparsity_weight=0.01)
    batched = train_seeds(seed_x, config, [0, 1])
    for seed, result in zip([0, 1], batched):
        alone = train(seed_x, replace(config, seed=seed))
        np.testing.assert_allclose(result.feature_activations, alone.feature_activations, atol=1e-5)
        assert list(result.history.columns) == history_columns(key)
        assert result.history["total"].iloc[-1] < result.history["total"].iloc[0]
    assert batched[0].metrics.explained_variance > 0.5


@pytest.mark.parametrize("key", KEYS)
def test_save_and_load_keeps_every_tensor(seed_x, key):
    """Through the app's download zip and its uploader (load_saelens_zip), without sae-lens."""
    config = TrainConfig(architecture=key, hidden_dim=6, epochs=60, k=3, jumprelu_threshold=0.02)
    result = train(seed_x, config)
    model, cfg = load_saelens_zip(result_zip(result, ["a", "b", "c", "d"]), "m.zip")
    assert type(model) is get_architecture(key)
    assert cfg["playground_config"] == config
    saved, loaded = result.model.saved_tensors(), model.saved_tensors()
    assert set(saved) == set(loaded) and set(saved) == set(type(model).HIDDEN_AXIS)
    for name in saved:
        if key in BATCHTOPK and name == "threshold":  # saved per feature, loaded back as the float32 mean
            torch.testing.assert_close(loaded[name], saved[name], rtol=1e-6, atol=0)
        else:
            assert torch.equal(saved[name], loaded[name]), name
    x = torch.as_tensor(seed_x)
    assert torch.equal(model.encode(x), result.model.encode(x))


# ---- SAELens: what sae-lens 6.54.12 loads from our folders -------------------------------------

SAELENS_CLASS = {"standard": "StandardSAE", "topk": "TopKSAE", "batchtopk": "JumpReLUSAE", "jumprelu": "JumpReLUSAE",
                 "matryoshka": "JumpReLUSAE"}


@pytest.mark.parametrize("key", KEYS)
def test_saelens_round_trip_within_1e_5(seed_x, tmp_path, key):
    """Tensors, features and reconstructions through SAE.load_from_disk, and back through load_saelens."""
    sae_lens = pytest.importorskip("sae_lens")
    from sae_core.saelens_format import load_saelens, result_metadata, save_saelens
    config = TrainConfig(architecture=key, hidden_dim=6, epochs=80, k=2, sparsity_weight=0.01)
    result = train(seed_x, config)
    model = result.model
    folder = save_saelens(model, tmp_path / key, result_metadata(result, ["d0", "d1", "d2", "d3"]))
    theirs = sae_lens.SAE.load_from_disk(str(folder))
    assert type(theirs).__name__ == SAELENS_CLASS[key]
    ours = model.saelens_tensors()
    state = theirs.state_dict()
    assert set(ours) == set(state)
    for name, tensor in ours.items():
        assert (state[name].float() - tensor).abs().max().item() <= 1e-5, name
    if key == "topk":
        assert theirs.cfg.k == 2
    x = torch.as_tensor(seed_x)
    with torch.no_grad():
        f = model.encode(x)[0]
        assert (f > 0).any() and (f == 0).any()
        assert (theirs.encode(x) - f).abs().max().item() <= 1e-5
        assert (theirs.decode(theirs.encode(x)) - model.decode(f[None])[0]).abs().max().item() <= 1e-5
    back, _ = load_saelens(folder)
    assert type(back) is type(model)
    for name, tensor in model.saved_tensors().items():
        if name != "threshold" or key not in BATCHTOPK:
            assert torch.equal(back.saved_tensors()[name], tensor), name
    with torch.no_grad():
        assert torch.equal(back.encode(x), model.encode(x))


@pytest.mark.parametrize("k, sparse", [(1, True), (2, False)])
def test_topk_sparse_and_dense_gradients_equal_autograd(k, sparse):
    """With k small against the width, TopK decodes only the kept rows; both paths give autograd's numbers."""
    from sae_core.architectures.topk import SPARSE_BELOW
    model = get_architecture("topk")(4, [40, 64], [0, 1], dtype=torch.float64, k=k, auxk_weight=0.0)
    assert (k * SPARSE_BELOW <= 64) is sparse
    x = torch.as_tensor(np.random.default_rng(2).normal(size=(9, 4)), dtype=torch.float64)
    with torch.no_grad():
        model.b_enc.add_(0.05)
        fired = (model.encode(x) > 0).any(dim=1)
    forward_backward_against_autograd(model, x)
    assert (model.W_dec.grad[0, 40:] == 0).all() and (model.W_enc.grad[0, :, 40:] == 0).all()
    assert torch.equal(model.steps_since_fired == 0, fired) and fired.any()


@pytest.mark.parametrize("k", [1, 3])
def test_topk_one_model_by_sparse_products_equals_autograd(k):
    """One model with k * CSR_BELOW <= features trains by sparse (CSR) products: autograd's numbers, and the
    same step counting of who fired."""
    from sae_core.architectures.topk import CSR_BELOW
    model = get_architecture("topk")(5, [24], [3], dtype=torch.float64, k=k, auxk_weight=0.0)
    assert k * CSR_BELOW <= 24
    x = torch.as_tensor(np.random.default_rng(4).normal(size=(11, 5)), dtype=torch.float64)
    with torch.no_grad():
        model.b_enc.sub_(2.0)  # some kept pre-activations negative: ReLU's gradient at kept entries is 0
        f = model.encode(x)
    assert (f > 0).sum() < 11 * k  # the case is exercised
    forward_backward_against_autograd(model, x)
    assert torch.equal(model.steps_since_fired[0] == 0, (f[0] > 0).any(dim=0))
