"""sae_core.export: model zips (safetensors + JSON) round trip, and every bad file is refused."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from sae_core import limits
from sae_core.architectures.standard import StandardSAE
from sae_core.errors import ModelFileError
from sae_core.export import FORMAT, model_from_zip, model_to_zip
from sae_core.table import dims_of, read_table, tokens_of, values_of
from sae_core.training import RECOMMENDED, TrainConfig, train


@pytest.fixture(scope="module")
def trained(seed_csv):
    table = read_table(seed_csv)
    result = train(values_of(table), TrainConfig(hidden_dim=5, sparsity_weight=0.05, epochs=80, seed=3))
    return result, dims_of(table), tokens_of(table), torch.tensor(values_of(table))


@pytest.fixture(scope="module")
def good_zip(trained) -> bytes:
    result, dims, tokens, _ = trained
    return model_to_zip(result, dims, tokens)


def unpack(data: bytes) -> tuple[dict, dict[str, torch.Tensor]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        meta = json.loads(archive.read("config.json"))
        tensors = load_safetensors(archive.read("model.safetensors"))
    return meta, tensors


def pack(meta=None, tensors=None, extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if meta is not None:
            archive.writestr("config.json", meta if isinstance(meta, (str, bytes)) else json.dumps(meta))
        if tensors is not None:
            archive.writestr("model.safetensors", tensors if isinstance(tensors, bytes) else save_safetensors(tensors))
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
    return buffer.getvalue()


def load_error(data: bytes, name: str = "upload.zip") -> str:
    with pytest.raises(ModelFileError) as info:
        model_from_zip(data, name)
    assert type(info.value) is ModelFileError
    message = str(info.value)
    assert message.startswith(f"{name}: ") and "\n" not in message and "Traceback" not in message
    return message


# ---- round trip ---------------------------------------------------------------------------


def test_round_trip_gives_identical_encodings(trained, good_zip):
    result, dims, tokens, x = trained
    model, meta = model_from_zip(good_zip)
    assert isinstance(model, StandardSAE) and model.hidden_dims == [5] and model.d_in == 4
    with torch.no_grad():
        assert torch.equal(model.encode(x), result.model.encode(x))
        assert torch.equal(model.decode(model.encode(x)), result.model.decode(result.model.encode(x)))
    for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
        assert torch.equal(getattr(model, name), getattr(result.model, name))
    assert meta["format"] == FORMAT
    assert meta["dims"] == dims and meta["tokens"] == tokens
    assert TrainConfig.from_dict(meta["config"]) == result.config
    assert meta["metrics"] == result.metrics.to_dict()
    assert meta["epochs_done"] == 80


def test_zip_holds_only_safetensors_and_json(good_zip):
    with zipfile.ZipFile(io.BytesIO(good_zip)) as archive:
        assert sorted(archive.namelist()) == ["config.json", "model.safetensors"]
    meta, tensors = unpack(good_zip)
    assert {k: tuple(v.shape) for k, v in tensors.items()} == {
        "W_enc": (4, 5), "b_enc": (5,), "W_dec": (5, 4), "b_dec": (4,)}


def test_a_model_without_tokens(trained):
    result, dims, _, _ = trained
    _, meta = model_from_zip(model_to_zip(result, dims))
    assert meta["tokens"] == []


# ---- refused files --------------------------------------------------------------------------


def test_garbage_bytes():
    assert "not a readable model file" in load_error(b"this is not a zip file at all" * 10)


def test_empty_bytes():
    assert "not a readable model file" in load_error(b"")


def test_truncated_zip(good_zip):
    assert "not a readable model file" in load_error(good_zip[: len(good_zip) // 2])


def test_zip_without_the_weights(good_zip):
    meta, _ = unpack(good_zip)
    assert "no model.safetensors inside" in load_error(pack(meta=meta))


def test_zip_without_the_config(good_zip):
    _, tensors = unpack(good_zip)
    assert "no config.json inside" in load_error(pack(tensors=tensors))


def test_an_unrelated_zip():
    assert "no model.safetensors inside" in load_error(pack(extra={"readme.txt": b"hello"}))


@pytest.mark.parametrize("name, shape", [
    ("W_enc", (5, 4)), ("W_enc", (4, 6)), ("b_enc", (4,)), ("W_dec", (5, 4, 1)), ("b_dec", ()),
])
def test_wrong_tensor_shapes(good_zip, name, shape):
    meta, tensors = unpack(good_zip)
    tensors[name] = torch.zeros(shape)
    message = load_error(pack(meta, tensors))
    assert f"tensor {name} has shape {tuple(shape)}" in message and "expected" in message


def test_wrong_tensor_dtype(good_zip):
    meta, tensors = unpack(good_zip)
    tensors["b_dec"] = tensors["b_dec"].double()
    assert "tensor b_dec" in load_error(pack(meta, tensors))


def test_missing_or_extra_tensors(good_zip):
    meta, tensors = unpack(good_zip)
    del tensors["b_enc"]
    assert "expected tensors W_enc, b_enc, W_dec, b_dec" in load_error(pack(meta, tensors))
    meta, tensors = unpack(good_zip)
    tensors["extra"] = torch.zeros(1)
    assert "expected tensors" in load_error(pack(meta, tensors))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_tensor(good_zip, value):
    meta, tensors = unpack(good_zip)
    tensors["W_dec"] = tensors["W_dec"].clone()
    tensors["W_dec"][1, 2] = value
    assert "tensor W_dec contains NaN or infinite values" in load_error(pack(meta, tensors))


@pytest.mark.parametrize("fmt", ["sae-playground/2", "", None, 1])
def test_wrong_format_string(good_zip, fmt):
    meta, tensors = unpack(good_zip)
    meta["format"] = fmt
    assert "not an SAE Playground model config" in load_error(pack(meta, tensors))


def test_config_json_not_an_object(good_zip):
    _, tensors = unpack(good_zip)
    assert "not an SAE Playground model config" in load_error(pack([1, 2, 3], tensors))
    assert "not a readable model file" in load_error(pack("{broken json", tensors))
    assert "not a readable model file" in load_error(pack(b"\xff\xfe{}", tensors))


@pytest.mark.parametrize("change, expected", [
    ({"config": {"hidden_dim": 5, "dropout": 0.5}}, "unknown training setting"),
    ({"config": {"hidden_dim": "5"}}, "must be int"),
    ({"config": {"hidden_dim": 0}}, "hidden size"),
    ({"config": {"hidden_dim": 5, "architecture": "gated"}}, "unknown architecture"),
    ({"config": "hidden_dim=5"}, "bad config"),
    ({"dims": None}, "bad config"),
])
def test_bad_config(good_zip, change, expected):
    meta, tensors = unpack(good_zip)
    meta.update(change)
    message = load_error(pack(meta, tensors))
    assert "bad config" in message and expected in message


def test_missing_dims(good_zip):
    meta, tensors = unpack(good_zip)
    del meta["dims"]
    assert "bad config" in load_error(pack(meta, tensors))


def test_dims_that_do_not_match_the_weights(good_zip):
    meta, tensors = unpack(good_zip)
    meta["dims"] = meta["dims"] + ["extra"]
    assert "tensor W_enc has shape (4, 5), expected (5, 5)" in load_error(pack(meta, tensors))


def test_garbage_safetensors(good_zip):
    meta, _ = unpack(good_zip)
    assert "not a readable model file" in load_error(pack(meta, b"\x00" * 64))
    assert "not a readable model file" in load_error(pack(meta, b""))


def test_too_large_data(good_zip, monkeypatch):
    monkeypatch.setattr(limits, "MAX_UPLOAD_BYTES", len(good_zip) - 1)
    message = load_error(good_zip)
    assert "larger than the limit" in message
    monkeypatch.setattr(limits, "MAX_UPLOAD_BYTES", len(good_zip))
    model_from_zip(good_zip)  # exactly at the limit is fine


def test_zip_bomb_is_refused_before_unpacking(good_zip, monkeypatch):
    meta, tensors = unpack(good_zip)
    meta["padding"] = " " * 50_000  # compresses to almost nothing
    bomb = pack(meta, tensors)
    monkeypatch.setattr(limits, "MAX_UPLOAD_BYTES", 10_000)
    monkeypatch.setattr(limits, "MAX_UNPACKED_BYTES", 40_000)
    assert len(bomb) < 10_000
    assert "config.json unpacks to more than the size limit" in load_error(bomb)


def test_a_loaded_model_keeps_the_decoder_norm_penalty_in_its_loss():
    x = np.array([[0.1, 0.9, 0.3], [0.8, 0.1, 0.2], [0.4, 0.4, 0.9]], dtype=np.float32)
    result = train(x, replace(RECOMMENDED, hidden_dim=5, epochs=30))
    model, _ = model_from_zip(model_to_zip(result, ["a", "b", "c"]))
    original = result.model.losses(torch.tensor(x))
    loaded = model.losses(torch.tensor(x))
    assert loaded["sparsity"][0].item() == pytest.approx(original["sparsity"][0].item(), rel=1e-6)


def test_feature_activations_csv():
    from sae_core.export import activations_csv
    acts = np.array([[0.0, 1.5], [0.25, 0.0]], dtype=np.float32)
    assert activations_csv(acts, ["cat", "=cmd"]) == b"token,F0,F1\ncat,0,1.5\n'=cmd,0.25,0\n"
