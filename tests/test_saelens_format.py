"""sae_core.saelens_format: folders the real sae-lens opens, and folders sae-lens writes, both ways.

The round trips run against the installed client (``sae-lens`` pinned in requirements-dev.txt);
only the tests that open or write a folder with sae-lens itself skip without it (fixture
``sae_lens``), the tests of our own loader run everywhere.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from safetensors.torch import save_file

from sae_core import limits
from sae_core.architectures.standard import StandardSAE
from sae_core.errors import ConfigError, ModelFileError, SAEInputError
from sae_core.saelens_format import (CFG_FILE, WEIGHTS_FILE, dimension_names, encode_table, load_saelens,
                                     load_saelens_zip, result_metadata, result_on_table, result_zip, save_saelens)
from sae_core.table import dims_of, read_table, tokens_of, values_of
from sae_core.training import RECOMMENDED, TrainConfig, train

TOLERANCE = 1e-5


@pytest.fixture
def sae_lens():
    """The installed sae-lens client; only the tests that take this fixture skip without it."""
    return pytest.importorskip("sae_lens")


@pytest.fixture(scope="module")
def trained(seed_csv):
    table = read_table(seed_csv)
    result = train(values_of(table), TrainConfig(hidden_dim=6, sparsity_weight=0.02, epochs=120, seed=4,
                                                 init_decoder_bias_to_mean=True))
    return result, dims_of(table), tokens_of(table), torch.tensor(values_of(table))


@pytest.fixture(scope="module")
def our_folder(trained, tmp_path_factory):
    result, dims, tokens, _ = trained
    return save_saelens(result.model, tmp_path_factory.mktemp("ours") / "sae", result_metadata(result, dims, tokens))


def saelens_written_folder(folder, d_in=4, d_sae=7, seed=0, apply_b_dec_to_input=True):
    """A standard SAE saved by sae-lens itself, with random non-zero weights and biases."""
    sae_lens = pytest.importorskip("sae_lens")
    gen = torch.Generator().manual_seed(seed)
    sae = sae_lens.StandardSAE(sae_lens.StandardSAEConfig(d_in=d_in, d_sae=d_sae,
                                                          apply_b_dec_to_input=apply_b_dec_to_input))
    with torch.no_grad():
        for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
            param = getattr(sae, name)
            param.copy_(torch.randn(param.shape, generator=gen) * 0.5)
    sae.save_model(folder)
    return sae


def foreign_folder(folder, d_in=4, d_sae=7, seed=0):
    """A standard SAE folder as another tool writes it (no playground metadata), written by hand:
    sae-lens' cfg.json fields (apply_b_dec_to_input true, its default) and random float32 weights."""
    gen = torch.Generator().manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CFG_FILE).write_text(json.dumps({
        "architecture": "standard", "d_in": d_in, "d_sae": d_sae, "dtype": "float32", "device": "cpu",
        "apply_b_dec_to_input": True, "normalize_activations": "none", "reshape_activations": "none",
        "metadata": {"sae_lens_version": "6.54.12", "sae_lens_training_version": "6.54.12"}}))
    save_file({"W_enc": torch.randn(d_in, d_sae, generator=gen) * 0.5, "b_enc": torch.randn(d_sae, generator=gen) * 0.5,
               "W_dec": torch.randn(d_sae, d_in, generator=gen) * 0.5, "b_dec": torch.randn(d_in, generator=gen) * 0.5},
              folder / WEIGHTS_FILE)
    return folder


# ---- our folder in sae-lens ------------------------------------------------------------------


def test_our_folder_opens_in_sae_lens_with_the_same_numbers(sae_lens, trained, our_folder):
    result, _, _, x = trained
    theirs = sae_lens.SAE.load_from_disk(str(our_folder))
    assert type(theirs).__name__ == "StandardSAE" and theirs.cfg.d_in == 4 and theirs.cfg.d_sae == 6
    with torch.no_grad():
        f_ours = result.model.encode(x)[0]
        f_theirs = theirs.encode(x)
        encode_diff = (f_theirs - f_ours).abs().max().item()
        decode_diff = (theirs.decode(f_theirs) - result.model.decode(f_ours[None])[0]).abs().max().item()
    print(f"\nours -> sae-lens: max |encode diff| {encode_diff:.3g}, max |decode diff| {decode_diff:.3g}")
    assert f_ours.abs().max() > 0.1  # features that fire: the comparison means something
    assert encode_diff <= TOLERANCE and decode_diff <= TOLERANCE


def test_our_cfg_json_fields(trained, our_folder):
    result, dims, tokens, _ = trained
    cfg = json.loads((our_folder / CFG_FILE).read_text())
    assert {k: cfg[k] for k in ("architecture", "d_in", "d_sae", "dtype", "apply_b_dec_to_input",
                                "normalize_activations")} == {
        "architecture": "standard", "d_in": 4, "d_sae": 6, "dtype": "float32",
        "apply_b_dec_to_input": False, "normalize_activations": "none"}
    meta = cfg["metadata"]
    assert int(meta["sae_lens_version"].split(".")[0]) >= 6
    assert meta["playground_config"] == result.config.to_dict()
    assert meta["dimension_names"] == dims and meta["tokens"] == tokens and meta["epochs_done"] == 120
    tensors = load_safetensors((our_folder / WEIGHTS_FILE).read_bytes())
    assert {k: (list(v.shape), v.dtype) for k, v in tensors.items()} == {
        "W_enc": ([4, 6], torch.float32), "b_enc": ([6], torch.float32),
        "W_dec": ([6, 4], torch.float32), "b_dec": ([4], torch.float32)}


def test_our_folder_loads_back_bit_for_bit(trained, our_folder):
    result, dims, _, x = trained
    model, cfg = load_saelens(our_folder)
    for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
        assert torch.equal(getattr(model, name), getattr(result.model, name))
    assert cfg["playground_config"] == result.config and dimension_names(cfg) == dims


def test_the_download_zip_unzips_to_a_folder_sae_lens_opens(sae_lens, trained, tmp_path):
    result, dims, tokens, x = trained
    data = result_zip(result, dims, tokens)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == ["sae_playground_model/cfg.json",
                                              "sae_playground_model/sae_weights.safetensors"]
        archive.extractall(tmp_path)
    theirs = sae_lens.SAE.load_from_disk(str(tmp_path / "sae_playground_model"))
    with torch.no_grad():
        assert (theirs.encode(x) - result.model.encode(x)[0]).abs().max().item() <= TOLERANCE
    zipped = tmp_path / "m.zip"
    zipped.write_bytes(data)
    model, _ = load_saelens(zipped)
    assert torch.equal(model.W_enc, result.model.W_enc)


# ---- a sae-lens folder in ours ---------------------------------------------------------------


@pytest.mark.parametrize("apply_b_dec_to_input", [True, False])
def test_a_folder_written_by_sae_lens_encodes_like_sae_lens(tmp_path, apply_b_dec_to_input):
    theirs = saelens_written_folder(tmp_path / "sl", apply_b_dec_to_input=apply_b_dec_to_input)
    assert json.loads((tmp_path / "sl" / CFG_FILE).read_text())["apply_b_dec_to_input"] is apply_b_dec_to_input
    model, cfg = load_saelens(tmp_path / "sl")
    assert isinstance(model, StandardSAE) and cfg["apply_b_dec_to_input"] is False
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(1))
    features, reconstructions = encode_table(model, cfg, x.numpy())
    with torch.no_grad():
        f_theirs = theirs.encode(x)
        encode_diff = np.abs(features - f_theirs.numpy()).max()
        decode_diff = np.abs(reconstructions - theirs.decode(f_theirs).numpy()).max()
    print(f"\nsae-lens (apply_b_dec_to_input={apply_b_dec_to_input}) -> ours: "
          f"max |encode diff| {encode_diff:.3g}, max |decode diff| {decode_diff:.3g}")
    assert (features > 0).mean() > 0.2  # a real mix of firing and silent features
    assert encode_diff <= TOLERANCE and decode_diff <= TOLERANCE


def test_folding_b_dec_is_needed(tmp_path):
    """Negative control: without the fold the encodings differ, so the test above can fail."""
    theirs = saelens_written_folder(tmp_path / "sl", apply_b_dec_to_input=True)
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        unfolded = torch.relu(x @ theirs.W_enc + theirs.b_enc)
        assert (unfolded - theirs.encode(x)).abs().max() > 0.1


def test_a_foreign_model_gets_default_names_and_a_result_on_a_table(tmp_path, seed_x):
    model, cfg = load_saelens(foreign_folder(tmp_path / "sl"))
    assert dimension_names(cfg) == ["d0", "d1", "d2", "d3"]
    assert cfg["playground_config"] == TrainConfig(hidden_dim=7)
    result = result_on_table(model, cfg, seed_x)
    assert result.feature_activations.shape == (8, 7) and result.decoder_directions.shape == (7, 4)
    with torch.no_grad():
        np.testing.assert_array_equal(result.feature_activations, model.encode(torch.tensor(seed_x))[0].numpy())
    assert result.metrics.hidden_dim == 7 and result.history.empty


def test_a_table_with_other_dimensions_is_refused(our_folder):
    model, cfg = load_saelens(our_folder)
    with pytest.raises(SAEInputError, match=r"^the model reads 4 dimensions \(d_in\) but the table has 3; "):
        result_on_table(model, cfg, np.ones((5, 3), dtype=np.float32))


# ---- refusals (each names the problem in one line) -------------------------------------------


def rewrite(folder, tmp_path, cfg_change=None, tensors_change=None, drop=()):
    """A copy of a valid folder with one targeted change to cfg.json or the tensors."""
    out = tmp_path / "changed"
    out.mkdir(exist_ok=True)
    cfg = json.loads((folder / CFG_FILE).read_text())
    tensors = load_safetensors((folder / WEIGHTS_FILE).read_bytes())
    if cfg_change:
        cfg_change(cfg)
    if tensors_change:
        tensors_change(tensors)
    if CFG_FILE not in drop:
        (out / CFG_FILE).write_text(json.dumps(cfg))
    if WEIGHTS_FILE not in drop:
        save_file(tensors, out / WEIGHTS_FILE)
    return out


def refusal(path) -> str:
    with pytest.raises(ModelFileError) as info:
        load_saelens(path)
    message = str(info.value)
    assert message.startswith(f"{path.name}: ") and "\n" not in message and str(path.parent) not in message
    return message.split(": ", 1)[1]


def set_key(key, value):
    def change(cfg):
        cfg[key] = value
    return change


def set_tensor(key, value):
    def change(tensors):
        tensors[key] = value
    return change


@pytest.mark.parametrize("change, expected", [
    (set_key("architecture", "gated"), "architecture 'gated' is not supported (supported: jumprelu, standard, topk)"),
    (set_key("architecture", 3), "cfg.json field 'architecture' must be a string"),
    (set_key("d_in", 0), "cfg.json field 'd_in' must be a whole number from 1 to 1,024 (got 0)"),
    (set_key("d_in", "4"), "cfg.json field 'd_in' must be a whole number from 1 to 1,024 (got '4')"),
    (set_key("d_sae", 5000), "cfg.json field 'd_sae' must be a whole number from 1 to 4,096 (got 5000)"),
    (set_key("dtype", "int8"), "cfg.json field 'dtype' must be one of float32, float64, float16, bfloat16"),
    (set_key("apply_b_dec_to_input", "yes"), "field 'apply_b_dec_to_input' must be true or false"),
    (set_key("normalize_activations", "layer_norm"), "field 'normalize_activations' is 'layer_norm'; only 'none'"),
    (set_key("metadata", []), "field 'metadata' must be a JSON object"),
])
def test_bad_cfg_fields(our_folder, tmp_path, change, expected):
    assert expected in refusal(rewrite(our_folder, tmp_path, cfg_change=change))


def test_d_in_that_does_not_match_the_weights(our_folder, tmp_path):
    def change(cfg):
        cfg["d_in"] = 5
        cfg["metadata"]["dimension_names"].append("extra")
    assert refusal(rewrite(our_folder, tmp_path, cfg_change=change)) == (
        "tensor W_enc has shape [4, 6], expected [5, 6]")


def test_an_old_sae_lens_version(our_folder, tmp_path):
    def change(cfg):
        cfg["metadata"]["sae_lens_version"] = "5.9.1"
    assert refusal(rewrite(our_folder, tmp_path, cfg_change=change)) == (
        "written by sae-lens '5.9.1'; re-save it with sae-lens 6 or later")


def test_a_playground_config_that_contradicts_the_weights(our_folder, tmp_path):
    def change(cfg):
        cfg["metadata"]["playground_config"]["hidden_dim"] = 9
    assert "does not match the model (standard, d_sae 6)" in refusal(rewrite(our_folder, tmp_path, cfg_change=change))


@pytest.mark.parametrize("change, expected", [
    (set_tensor("W_enc", torch.zeros(6, 4)), "tensor W_enc has shape [6, 4], expected [4, 6]"),
    (set_tensor("b_dec", torch.zeros(4, dtype=torch.float64)), "tensor b_dec is float64, but cfg.json says dtype float32"),
    (set_tensor("b_enc", torch.full((6,), float("nan"))), "tensor b_enc contains NaN or infinite values"),
    (set_tensor("threshold", torch.zeros(6)), "must hold exactly W_enc, b_enc, W_dec, b_dec (unknown threshold)"),
    (lambda t: t.pop("W_dec"), "must hold exactly W_enc, b_enc, W_dec, b_dec (missing W_dec)"),
])
def test_bad_tensors(our_folder, tmp_path, change, expected):
    assert expected in refusal(rewrite(our_folder, tmp_path, tensors_change=change))


@pytest.mark.parametrize("missing", [CFG_FILE, WEIGHTS_FILE])
def test_a_folder_missing_a_file(our_folder, tmp_path, missing):
    assert refusal(rewrite(our_folder, tmp_path, drop=(missing,))) == f"not a SAELens model folder (no {missing} inside)"


def test_garbage_files(our_folder, tmp_path):
    folder = rewrite(our_folder, tmp_path)
    (folder / WEIGHTS_FILE).write_bytes(b"\x80\x03pickle? never" * 4)
    assert refusal(folder).startswith("sae_weights.safetensors is not a readable safetensors file")
    (folder / CFG_FILE).write_text("{not json")
    assert refusal(folder) == "cfg.json is not valid JSON"


def test_zip_refusals(trained, tmp_path):
    result, dims, tokens, _ = trained
    with pytest.raises(ModelFileError, match=r"^m\.zip: not a readable zip file \(BadZipFile\)$"):
        load_saelens_zip(b"not a zip" * 10, "m.zip")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ModelFileError, match=r"^m\.zip: not a SAELens model \(no cfg\.json inside\)$"):
        load_saelens_zip(buffer.getvalue(), "m.zip")
    two = io.BytesIO()
    with zipfile.ZipFile(two, "w") as archive:
        for folder in ("a", "b"):
            with zipfile.ZipFile(io.BytesIO(result_zip(result, dims, tokens))) as one:
                for info in one.infolist():
                    archive.writestr(folder + "/" + info.filename.split("/")[-1], one.read(info))
    with pytest.raises(ModelFileError, match=r"^m\.zip: holds more than one cfg\.json; zip one model folder$"):
        load_saelens_zip(two.getvalue(), "m.zip")
    with pytest.raises(ModelFileError, match=r"^nothing\.zip: no such file or folder$"):
        load_saelens(tmp_path / "nothing.zip")


def test_a_zip_bomb_is_refused_before_unpacking(trained, monkeypatch):
    result, dims, tokens, _ = trained
    from sae_core import limits
    monkeypatch.setattr(limits, "MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(ModelFileError, match=r"cfg\.json unpacks to more than the limit of 0 MB$"):
        load_saelens_zip(result_zip(result, dims, tokens), "m.zip")


@pytest.mark.parametrize("architecture, saelens_class", [
    ("topk", "TopKSAE"), ("batchtopk", "JumpReLUSAE"), ("jumprelu", "JumpReLUSAE")])
def test_every_architecture_round_trips_through_sae_lens(sae_lens, seed_csv, tmp_path, architecture, saelens_class):
    table = read_table(seed_csv)
    x = torch.tensor(values_of(table))
    result = train(values_of(table), TrainConfig(hidden_dim=6, epochs=50, architecture=architecture, k=2))
    folder = save_saelens(result.model, tmp_path / "sae", result_metadata(result, dims_of(table), tokens_of(table)))
    theirs = sae_lens.SAE.load_from_disk(str(folder))
    ours, cfg = load_saelens(folder)
    assert type(theirs).__name__ == saelens_class and type(ours) is type(result.model)
    with torch.no_grad():
        expected = result.model.encode(x)[0]
        assert (expected > 0).any()
        assert (theirs.encode(x) - expected).abs().max().item() <= TOLERANCE
        assert torch.equal(ours.encode(x)[0], expected)


# ---- the app's uploader: a zip read by load_saelens_zip, then run on the current table ----------


def zip_parts(data: bytes) -> tuple[dict, dict[str, torch.Tensor]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        cfg = json.loads(archive.read(next(n for n in names if n.endswith(CFG_FILE))))
        tensors = load_safetensors(archive.read(next(n for n in names if n.endswith(WEIGHTS_FILE))))
    return cfg, tensors


def zip_of(cfg=None, tensors=None) -> bytes:
    """A zip of one model folder; cfg / tensors as objects, or raw bytes / text as they are."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if cfg is not None:
            archive.writestr(f"m/{CFG_FILE}", cfg if isinstance(cfg, (str, bytes)) else json.dumps(cfg))
        if tensors is not None:
            archive.writestr(f"m/{WEIGHTS_FILE}", tensors if isinstance(tensors, bytes) else save_safetensors(tensors))
    return buffer.getvalue()


def upload_refusal(data: bytes, name: str = "upload.zip") -> str:
    with pytest.raises(ModelFileError) as info:
        load_saelens_zip(data, name)
    assert type(info.value) is ModelFileError
    message = str(info.value)
    assert message.startswith(f"{name}: ") and "\n" not in message and "Traceback" not in message
    return message.split(": ", 1)[1]


@pytest.fixture(scope="module")
def good_zip(trained) -> bytes:
    result, dims, tokens, _ = trained
    return result_zip(result, dims, tokens)


def test_the_download_zip_round_trips_through_the_uploader(trained, good_zip):
    result, dims, tokens, x = trained
    with zipfile.ZipFile(io.BytesIO(good_zip)) as archive:
        assert sorted(archive.namelist()) == ["sae_playground_model/cfg.json",
                                              "sae_playground_model/sae_weights.safetensors"]
    model, cfg = load_saelens_zip(good_zip, "upload.zip")
    assert isinstance(model, StandardSAE) and model.hidden_dims == [6] and model.d_in == 4
    for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
        assert torch.equal(getattr(model, name), getattr(result.model, name))
    with torch.no_grad():
        assert torch.equal(model.encode(x), result.model.encode(x))
        assert torch.equal(model.decode(model.encode(x)), result.model.decode(result.model.encode(x)))
    meta = cfg["metadata"]
    assert cfg["playground_config"] == result.config and dimension_names(cfg) == dims
    assert meta["tokens"] == tokens and meta["metrics"] == result.metrics.to_dict() and meta["epochs_done"] == 120
    # what the uploader shows: the same features, directions and metrics as the trained result
    shown = result_on_table(model, cfg, x.numpy())
    np.testing.assert_array_equal(shown.feature_activations, result.feature_activations)
    np.testing.assert_array_equal(shown.decoder_directions, result.decoder_directions)
    assert shown.config == result.config and shown.epochs_done == 120
    assert shown.metrics.to_dict() == pytest.approx(result.metrics.to_dict(), rel=1e-6)


def test_a_model_without_tokens(trained):
    result, dims, _, _ = trained
    _, cfg = load_saelens_zip(result_zip(result, dims))
    assert cfg["metadata"]["tokens"] == []


@pytest.mark.parametrize("how", ["garbage", "empty", "truncated"])
def test_unreadable_bytes_are_refused(good_zip, how):
    data = {"garbage": b"this is not a zip file at all" * 10, "empty": b"",
            "truncated": good_zip[: len(good_zip) // 2]}[how]
    assert upload_refusal(data) == "not a readable zip file (BadZipFile)"


def test_a_zip_without_the_weights(good_zip):
    cfg, _ = zip_parts(good_zip)
    assert upload_refusal(zip_of(cfg=cfg)) == "not a SAELens model (no sae_weights.safetensors inside)"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_weight_in_a_zip(good_zip, value):
    cfg, tensors = zip_parts(good_zip)
    tensors["W_dec"] = tensors["W_dec"].clone()
    tensors["W_dec"][1, 2] = value
    assert upload_refusal(zip_of(cfg, tensors)) == "tensor W_dec contains NaN or infinite values"


@pytest.mark.parametrize("content, expected", [
    ("[1, 2, 3]", "cfg.json must hold a JSON object"),
    ("{broken json", "cfg.json is not valid JSON"),
    (b"\xff\xfe{}", "cfg.json is not valid JSON"),
])
def test_a_cfg_json_that_is_not_an_object(good_zip, content, expected):
    _, tensors = zip_parts(good_zip)
    assert upload_refusal(zip_of(content, tensors)) == expected


@pytest.mark.parametrize("stored, expected", [
    ({"hidden_dim": 6, "dropout": 0.5}, "bad playground_config in metadata (unknown training setting"),
    ({"hidden_dim": "6"}, "bad playground_config in metadata ("),
    ({"hidden_dim": 0}, "bad playground_config in metadata (hidden size"),
    ({"hidden_dim": 6, "architecture": "gated"}, "bad playground_config in metadata (unknown architecture"),
    ("hidden_dim=6", "metadata 'playground_config' must be a JSON object"),
])
def test_a_bad_playground_config(good_zip, stored, expected):
    cfg, tensors = zip_parts(good_zip)
    cfg["metadata"]["playground_config"] = stored
    assert upload_refusal(zip_of(cfg, tensors)).startswith(expected)


@pytest.mark.parametrize("where, key, value, expected", [  # found by test_fuzz.py: these raised TypeError
    ("cfg", "dtype", [], "cfg.json field 'dtype' must be one of float32, float64, float16, bfloat16 (got [])"),
    ("cfg", "dtype", {"a": 1}, "cfg.json field 'dtype' must be one of float32, float64, float16, bfloat16"),
    ("playground_config", "architecture", [], "bad playground_config in metadata ("),
    ("playground_config", "architecture", {"x": 1}, "bad playground_config in metadata ("),
])
def test_unhashable_json_values_are_refused_in_one_line(good_zip, where, key, value, expected):
    cfg, tensors = zip_parts(good_zip)
    (cfg if where == "cfg" else cfg["metadata"]["playground_config"])[key] = value
    assert upload_refusal(zip_of(cfg, tensors)).startswith(expected)


def test_dimension_names_missing_or_not_matching_d_in(good_zip):
    cfg, tensors = zip_parts(good_zip)
    del cfg["metadata"]["dimension_names"]
    _, loaded = load_saelens_zip(zip_of(cfg, tensors))
    assert dimension_names(loaded) == ["d0", "d1", "d2", "d3"]
    cfg["metadata"]["dimension_names"] = ["a", "b", "c", "d", "extra"]
    assert upload_refusal(zip_of(cfg, tensors)) == "metadata 'dimension_names' must be 4 names (d_in)"


@pytest.mark.parametrize("weights", [b"\x00" * 64, b""])
def test_garbage_safetensors_in_a_zip(good_zip, weights):
    cfg, _ = zip_parts(good_zip)
    assert upload_refusal(zip_of(cfg, weights)).startswith("sae_weights.safetensors is not a readable safetensors file")


def test_the_upload_size_limit_is_exact(good_zip, monkeypatch):
    monkeypatch.setattr(limits, "MAX_UPLOAD_BYTES", len(good_zip) - 1)
    assert upload_refusal(good_zip).startswith("larger than the limit of ")
    monkeypatch.setattr(limits, "MAX_UPLOAD_BYTES", len(good_zip))
    load_saelens_zip(good_zip)  # exactly at the limit is fine


def test_a_loaded_model_keeps_the_decoder_norm_penalty_in_its_loss():
    x = np.array([[0.1, 0.9, 0.3], [0.8, 0.1, 0.2], [0.4, 0.4, 0.9]], dtype=np.float32)
    result = train(x, TrainConfig(**{**RECOMMENDED.to_dict(), "hidden_dim": 5, "epochs": 30}))
    assert result.config.decoder_norm_penalty
    model, cfg = load_saelens_zip(result_zip(result, ["a", "b", "c"]))
    assert cfg["playground_config"] == result.config  # the settings travel; the model below should use them
    original = result.model.losses(torch.tensor(x))
    loaded = model.losses(torch.tensor(x))
    assert loaded["sparsity"][0].item() == pytest.approx(original["sparsity"][0].item(), rel=1e-6)


def test_a_loaded_model_on_a_table_too_large_for_memory_is_refused(tmp_path):
    """The memory cap holds on the uploader's path too: 4,096 features on 2,930 tokens is
    2,930 x 4,096 = 12,001,280 activation cells, over the 12,000,000 cap; 2,929 tokens fit."""
    folder = foreign_folder(tmp_path / "wide", d_in=4, d_sae=4_096)
    with zipfile.ZipFile(tmp_path / "wide.zip", "w") as archive:
        for file in (CFG_FILE, WEIGHTS_FILE):
            archive.write(folder / file, f"wide/{file}")
    model, cfg = load_saelens_zip((tmp_path / "wide.zip").read_bytes(), "wide.zip")
    over = np.random.default_rng(0).normal(size=(2_930, 4)).astype(np.float32)
    expected = ("this run holds tokens x models x max(features, dims) = 12,001,280 numbers at once, "
                "over the memory limit of 12,000,000; use fewer tokens, seeds or features")
    for run_on_table in (result_on_table, encode_table):
        with pytest.raises(ConfigError) as info:
            run_on_table(model, cfg, over)
        assert isinstance(info.value, SAEInputError) and str(info.value) == expected
    features, _ = encode_table(model, cfg, over[:2_929])  # 11,997,184 cells: under the cap
    assert features.shape == (2_929, 4_096)
