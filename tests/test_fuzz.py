"""Property-based tests: any bytes, any CSV dialect, any DataFrame, any model file (the app's
uploader: load_saelens_zip, and load_saelens on a folder) either load correctly or raise the
engine's own error type with a one-line message; never anything else."""

import csv
import io
import json
import string
import zipfile
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from sae_core.errors import ModelFileError, SAEInputError, TableError
from sae_core.saelens_format import load_saelens, load_saelens_zip, result_on_table, result_zip
from sae_core.table import dims_of, parse_csv, table_to_csv, validate_table
from sae_core.training import TrainConfig, train

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_one_line(error: Exception) -> None:
    message = str(error)
    assert message and "\n" not in message and "\r" not in message
    assert "Traceback" not in message and "/work/" not in message


def check_table(table: pd.DataFrame) -> None:
    """What every successfully loaded table must satisfy."""
    assert list(table.columns)[0] == "token"
    assert len(dims_of(table)) >= 2 and len(table) >= 2
    assert table["token"].is_unique
    values = table[dims_of(table)].to_numpy(dtype=float)
    assert np.isfinite(values).all()


def parse_or_table_error(data: bytes, name: str = "fuzz.csv"):
    try:
        table = parse_csv(data, name)
    except TableError as error:
        assert_one_line(error)
        return None
    check_table(table)
    return table


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_load_or_raise_table_error(data):
    parse_or_table_error(data)


CELL = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**6, 10**6).map(str),
    st.text(alphabet=string.printable, max_size=8),
    st.sampled_from(["", " ", "nan", "inf", "-inf", "1e999", "0x10", "1,5", '"', "=1+1", "\u00a0"]),
)


@FUZZ
@given(
    n_rows=st.integers(0, 6), n_dims=st.integers(0, 5),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    lineterminator=st.sampled_from(["\n", "\r\n", "\r"]),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
    bom=st.booleans(), data=st.data(),
)
def test_random_csv_dialects_load_or_raise_table_error(n_rows, n_dims, delimiter, lineterminator, quoting, bom, data):
    header = [data.draw(st.sampled_from(["token", "Token", " token ", "name", ""]))]
    header += [data.draw(st.sampled_from([f"d{j}", "d0", "", "token", "x y"])) for j in range(n_dims)]
    rows = [[data.draw(st.text(max_size=6))] + [data.draw(CELL) for _ in range(n_dims)] for _ in range(n_rows)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=lineterminator, quoting=quoting)
    writer.writerow(header)
    writer.writerows(rows)
    raw = ("\ufeff" if bom else "") + buffer.getvalue()
    parse_or_table_error(raw.encode("utf-8"))


@FUZZ
@given(st.integers(2, 6), st.integers(2, 5), st.sampled_from([",", ";", "\t"]), st.booleans(), st.data())
def test_valid_tables_in_any_dialect_load_exactly(n_rows, n_dims, delimiter, crlf, data):
    values = data.draw(st.lists(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=n_dims, max_size=n_dims),
                                min_size=n_rows, max_size=n_rows))
    tokens = [f"tok {i}" for i in range(n_rows)]
    lines = [delimiter.join(["token"] + [f"d{j}" for j in range(n_dims)])]
    lines += [delimiter.join([t] + [repr(v) for v in row]) for t, row in zip(tokens, values)]
    text = ("\r\n" if crlf else "\n").join(lines) + "\n"
    table = parse_csv(text.encode("utf-8"))
    assert table["token"].tolist() == tokens
    np.testing.assert_array_equal(table[dims_of(table)].to_numpy(), np.array(values))
    again = parse_csv(table_to_csv(table))  # export then import keeps the numbers
    np.testing.assert_allclose(again[dims_of(again)].to_numpy(), np.array(values), rtol=1e-9, atol=0)


FRAME_CELL = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10),
                       st.text(max_size=5), st.booleans(), st.just(pd.NA))


@FUZZ
@given(st.integers(0, 5), st.lists(st.sampled_from(["token", "d0", "d1", "d2", "", "token "]), min_size=0, max_size=5),
       st.data())
def test_random_dataframes_validate_or_raise_table_error(n_rows, columns, data):
    frame = pd.DataFrame({i: [data.draw(FRAME_CELL) for _ in range(n_rows)] for i in range(len(columns))})
    frame.columns = columns
    try:
        table = validate_table(frame, "edited table")
    except TableError as error:
        assert_one_line(error)
    else:
        check_table(table)


# ---- model files: the app's uploader and a SAELens folder --------------------------------------

# Mutations of a valid model: derandomized (as in test_fuzz_targeted.py), so the per-check counts
# asserted below are the same on every run.
MUTATIONS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                     derandomize=True)
UPLOAD_NAME = "upload.zip"
UPLOAD_TABLE = np.array([[0.1, 0.2, 0.3], [0.3, 0.1, 0.0], [0.5, 0.5, 0.5]], dtype=np.float32)
MODEL_FILES = ("cfg.json", "sae_weights.safetensors")
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)


@pytest.fixture(scope="module")
def model_zip() -> bytes:
    result = train(UPLOAD_TABLE, TrainConfig(hidden_dim=4, epochs=5))
    return result_zip(result, ["a", "b", "c"], ["t0", "t1", "t2"])


def zip_members(blob: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        return {name.split("/")[-1]: archive.read(name) for name in archive.namelist()}


def zip_with(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(f"m/{name}", content)
    return buffer.getvalue()


def stage_of(message: str, name: str) -> str:
    """Which check stopped a file: its container (zip / folder), cfg.json, the weights, or the table."""
    if not message.startswith(f"{name}: "):
        return "table"  # result_on_table: the model does not fit the current table
    what = message[len(name) + 2:]
    if what.startswith(("not a readable zip", "not a SAELens model", "holds more than one", "larger than the limit")) \
            or "unpacks to more than" in what:
        return "container"
    if what.startswith("tensor ") or "sae_weights.safetensors" in what or "folding b_dec" in what:
        return "weights"
    return "cfg"


def run_model_file(load, stages: Counter, name: str = UPLOAD_NAME) -> None:
    """What the app does with a model file (app_ui/model_io.py: load it, then read the current table
    with it): a one-line SAEInputError or a working result, never another exception."""
    try:
        model, cfg = load()
        result = result_on_table(model, cfg, UPLOAD_TABLE)
    except SAEInputError as error:
        assert_one_line(error)
        stages[stage_of(str(error), name)] += 1
    else:
        assert result.feature_activations.shape == (3, cfg["d_sae"])
        assert np.isfinite(result.feature_activations).all() or not np.isfinite(model.W_enc.detach()).all()
        stages["loaded"] += 1


def mutated_cfg(cfg_bytes: bytes, data) -> bytes:
    """cfg.json with one field (top level, metadata or playground_config) set to random JSON, or deleted."""
    cfg = json.loads(cfg_bytes)
    where = data.draw(st.sampled_from(["top", "metadata", "playground_config"]))
    target = {"top": cfg, "metadata": cfg["metadata"], "playground_config": cfg["metadata"]["playground_config"]}[where]
    key = data.draw(st.sampled_from(sorted(target) + ["unknown_field"]))
    if data.draw(st.booleans()) and key in target:
        del target[key]
    else:
        target[key] = data.draw(JSON_VALUE)
    return json.dumps(cfg).encode("utf-8")


def mutated_weights(weight_bytes: bytes, data) -> bytes:
    """The weights with one tensor reshaped, retyped, made non-finite, randomised, removed, or one added."""
    tensors = load_safetensors(weight_bytes)
    key = data.draw(st.sampled_from(sorted(tensors)))
    how = data.draw(st.sampled_from(["shape", "dtype", "non-finite", "random", "remove", "add"]))
    if how == "shape":
        tensors[key] = torch.zeros(data.draw(st.lists(st.integers(0, 6), max_size=3)))
    elif how == "dtype":
        tensors[key] = tensors[key].to(data.draw(st.sampled_from([torch.float64, torch.float16, torch.int32, torch.bool])))
    elif how == "non-finite":
        tensors[key] = tensors[key].clone()
        tensors[key].reshape(-1)[0] = data.draw(st.sampled_from([float("nan"), float("inf"), -float("inf")]))
    elif how == "random":
        tensors[key] = torch.tensor(data.draw(st.lists(st.floats(-2.0**100, 2.0**100, width=32), min_size=tensors[key].numel(),
                                                       max_size=tensors[key].numel())),
                                    dtype=torch.float32).reshape(tensors[key].shape)
    elif how == "remove":
        del tensors[key]
    else:
        tensors[data.draw(st.sampled_from(["threshold", "extra"]))] = torch.zeros(4)
    return save_safetensors(tensors)


def mutated_files(valid: dict[str, bytes], data) -> dict[str, bytes]:
    """A model's files, each kept, replaced by random bytes, byte-flipped, cut, mutated or dropped."""
    files = {}
    for name, content in valid.items():
        how = data.draw(st.sampled_from(["keep", "keep", "keep", "random", "flip", "cut", "mutate", "mutate", "drop"]))
        if how == "random":
            content = data.draw(st.binary(max_size=400))
        elif how == "flip":
            blob = bytearray(content)
            for _ in range(data.draw(st.integers(1, 8))):
                blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
            content = bytes(blob)
        elif how == "cut":
            content = content[: data.draw(st.integers(0, len(content) - 1))]
        elif how == "mutate":
            content = mutated_cfg(content, data) if name == "cfg.json" else mutated_weights(content, data)
        if how != "drop":
            files[name] = content
    return files


def test_random_bytes_as_a_model_upload_raise_one_line_errors():
    stages = Counter()

    @FUZZ
    @given(st.binary(max_size=3000))
    def case(data):
        run_model_file(lambda: load_saelens_zip(data, UPLOAD_NAME), stages)

    case()
    print(f"\nrandom bytes as an upload, by the check that stopped them: {dict(stages)}")
    assert stages["container"] == sum(stages.values()) >= 200


def test_mutated_model_zips_upload_or_raise_one_line_errors(model_zip):
    """A valid download zip, its bytes flipped or cut, or its files changed (see mutated_files)."""
    stages = Counter()
    valid = zip_members(model_zip)
    assert set(valid) == set(MODEL_FILES)

    @MUTATIONS
    @given(st.data())
    def case(data):
        how = data.draw(st.sampled_from(["flip", "cut", "files", "files", "files"]))
        if how == "files":
            blob = zip_with(mutated_files(valid, data))
        else:
            blob = bytearray(model_zip)
            if how == "flip":
                for _ in range(data.draw(st.integers(1, 20))):
                    blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
            else:
                blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
        run_model_file(lambda: load_saelens_zip(bytes(blob), UPLOAD_NAME), stages)

    case()
    print(f"\nmutated model zips, by the check that stopped them: {dict(stages)}")
    assert sum(stages.values()) >= 150
    assert min(stages["container"], stages["cfg"], stages["weights"], stages["loaded"]) >= 10, dict(stages)


def test_mutated_model_folders_load_or_raise_one_line_errors(model_zip, tmp_path_factory):
    """load_saelens on a folder whose cfg.json and sae_weights.safetensors are random or mutated."""
    stages = Counter()
    valid = zip_members(model_zip)
    folder = tmp_path_factory.mktemp("fuzz") / "sae"
    folder.mkdir()

    @MUTATIONS
    @given(st.data())
    def case(data):
        files = mutated_files(valid, data)
        for name in MODEL_FILES:
            (folder / name).unlink(missing_ok=True)
            if name in files:
                (folder / name).write_bytes(files[name])
        run_model_file(lambda: load_saelens(folder), stages, name=folder.name)

    case()
    print(f"\nmutated model folders, by the check that stopped them: {dict(stages)}")
    assert sum(stages.values()) >= 150
    assert min(stages["container"], stages["cfg"], stages["weights"], stages["loaded"]) >= 10, dict(stages)


def test_error_types_share_one_base():
    assert issubclass(TableError, SAEInputError) and issubclass(ModelFileError, SAEInputError)
