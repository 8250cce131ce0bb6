"""Fuzzing from valid inputs: a valid CSV or model zip with ONE targeted change.

Random bytes rarely get past the first check, so these tests start from inputs that load,
apply one change a person (or a broken tool) could make, and assert the specific message
of the check that must catch it. Each test counts how many generated cases reached each
check (printed with ``-s``) and fails if a check was never reached: a fuzzer that never
exercises a check proves nothing about it.
"""

from __future__ import annotations

import csv
import io
import json
import re
import string
import zipfile
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from sae_core.errors import ModelFileError, TableError
from sae_core.saelens_format import load_saelens_zip, result_zip
from sae_core.table import dims_of, parse_csv, tokens_of, values_of
from sae_core.training import TrainConfig, train

# Per targeted change (each is its own test, so every check gets its share of cases).
CASES = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                 derandomize=True)
REACHED: Counter = Counter()  # (input kind, change) -> generated cases that reached the expected check
TOKEN_TEXT = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=8)


# ---- tables -------------------------------------------------------------------------------------

CSV_CHANGES = ["none", "short row", "long row", "duplicate token", "huge token", "empty token", "non-finite",
               "not a number", "empty cell", "duplicate dimension", "one row"]


def write_csv(header, rows, delimiter, terminator, quoting, bom) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=terminator, quoting=quoting).writerows([header, *rows])
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8")


@pytest.mark.parametrize("change", CSV_CHANGES)
def test_one_change_to_a_valid_csv_is_caught_by_its_own_check(change):
    reached = Counter()

    @CASES
    @given(tokens=st.lists(TOKEN_TEXT, min_size=3, max_size=6, unique=True), n_dims=st.integers(2, 5),
           delimiter=st.sampled_from([",", ";", "\t"]), terminator=st.sampled_from(["\n", "\r\n"]),
           quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]), bom=st.booleans(), data=st.data())
    def case(tokens, n_dims, delimiter, terminator, quoting, bom, data):
        values = data.draw(st.lists(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=n_dims, max_size=n_dims),
                                    min_size=len(tokens), max_size=len(tokens)))
        header = ["token"] + [f"d{j}" for j in range(n_dims)]
        rows = [[t] + [repr(v) for v in row] for t, row in zip(tokens, values)]
        r = data.draw(st.integers(0, len(rows) - 1))  # the row the change touches
        c = data.draw(st.integers(1, n_dims))  # the cell the change touches
        line, where = r + 2, f"line {r + 2}, column 'd{c - 1}'"
        if change == "none":
            expected = None
        elif change == "short row":
            rows[r] = rows[r][:-1]
            expected = f"line {line} has {n_dims} cells but the header has {n_dims + 1}"
        elif change == "long row":
            rows[r] = rows[r] + ["0.5"]
            expected = f"line {line} has {n_dims + 2} cells but the header has {n_dims + 1}"
        elif change == "duplicate token":
            other = (r + 1) % len(rows)
            rows[other][0] = rows[r][0]
            first, second = sorted((r, other))
            expected = (f"token '{rows[r][0]}' appears twice (rows {first + 1} and {second + 1}); "
                        "token names must be unique")
        elif change == "huge token":
            rows[r][0] = "x" * data.draw(st.integers(201, 2000))
            expected = f"row {r + 1}: token name is longer than 200 characters"
        elif change == "empty token":
            rows[r][0] = data.draw(st.sampled_from(["", " ", "  "]))
            expected = f"row {r + 1} has an empty token name"
        elif change == "non-finite":
            rows[r][c] = data.draw(st.sampled_from(["inf", "-inf", "nan", "NaN", "1e999", "-1e400", "Infinity"]))
            expected = f"{where}: {rows[r][c]} is not a finite number"
        elif change == "not a number":
            rows[r][c] = data.draw(st.sampled_from(["abc", "1,5", "0x10", "--1", "1e", "="]))
            if delimiter == "," and rows[r][c] == "1,5" and quoting == csv.QUOTE_MINIMAL:
                rows[r][c] = "1.5.1"  # unquoted, a comma would make a long row instead
            expected = f"{where}: '{rows[r][c]}' is not a number"
        elif change == "empty cell":
            rows[r][c] = data.draw(st.sampled_from(["", " "]))
            expected = f"{where} is empty; every cell needs a number"
        elif change == "duplicate dimension":
            header[c] = header[1 if c > 1 else 2]
            expected = f"duplicate dimension name(s): {header[c]}"
        else:  # one row
            rows = rows[:1]
            expected = "has 1 data row(s); an SAE needs at least 2 tokens"
        raw = write_csv(header, rows, delimiter, terminator, quoting, bom)
        event(change)
        if expected is None:
            table = parse_csv(raw, "t.csv")
            assert tokens_of(table) == tokens and dims_of(table) == header[1:]
            np.testing.assert_array_equal(values_of(table), np.array(values, dtype=np.float32))
        else:
            with pytest.raises(TableError) as info:
                parse_csv(raw, "t.csv")
            assert str(info.value) == f"t.csv: {expected}"
        reached[change] += 1

    case()
    REACHED["csv", change] = reached[change]
    print(f"\nCSV change {change!r}: {reached[change]} generated cases reached its check")
    assert reached[change] >= 10, f"only {reached[change]} cases reached the check for {change!r}"


# ---- model zips -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def valid_zip() -> bytes:
    x = np.array([[0.1, 0.9, 0.3], [0.8, 0.1, 0.2], [0.4, 0.4, 0.9], [0.0, 0.3, 0.6]], dtype=np.float32)
    result = train(x, TrainConfig(hidden_dim=5, epochs=20, seed=1))
    return result_zip(result, ["a", "b", "c"], ["t0", "t1", "t2", "t3"])


def unpack(data: bytes) -> tuple[dict, dict[str, torch.Tensor]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        cfg = json.loads(archive.read(next(n for n in names if n.endswith("cfg.json"))))
        tensors = load_safetensors(archive.read(next(n for n in names if n.endswith(".safetensors"))))
    return cfg, tensors


def pack(cfg, tensors, drop: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if drop != "cfg.json":
            archive.writestr("m/cfg.json", cfg if isinstance(cfg, bytes) else json.dumps(cfg))
        if drop != "sae_weights.safetensors":
            archive.writestr("m/sae_weights.safetensors", tensors if isinstance(tensors, bytes) else save_safetensors(tensors))
    return buffer.getvalue()


CFG_CHANGES = {  # field -> (bad values, expected message pattern)
    "architecture": (["gated", "Standard", 7, None], r"architecture.*(is not supported|must be a string)"),
    "d_in": ([0, -3, 2.5, "3", True, 10**9], r"cfg\.json field 'd_in' must be a whole number from 1 to 1,024"),
    "d_sae": ([0, 4097, "5", None], r"cfg\.json field 'd_sae' must be a whole number from 1 to 4,096"),
    "dtype": (["int8", "float8", 32, "torch.int64"], r"cfg\.json field 'dtype' must be one of float32, float64"),
    "apply_b_dec_to_input": (["true", 1, None], r"field 'apply_b_dec_to_input' must be true or false"),
    "normalize_activations": (["layer_norm", "expected_average_only_in", 0], r"field 'normalize_activations' is .*only 'none'"),
    "metadata": ([[], "x", 3], r"field 'metadata' must be a JSON object"),
}
META_CHANGES = {
    "sae_lens_version": (["5.9.1", "0.1", "3"], r"written by sae-lens .*; re-save it with sae-lens 6 or later"),
    "dimension_names": ([["a", "b"], "abc", ["a", "b", 3], ["a", "b", ""]], r"metadata 'dimension_names' must be 3 names"),
    "tokens": (["t0", [1, 2], {"a": 1}], r"metadata 'tokens' must be a list of at most 20,000 strings"),
    "playground_config": (["x", {"hidden_dim": 6}, {"dropout": 0.1}, {"lr": -1.0}],
                          r"(playground_config.* (must be a JSON object|does not match)|bad playground_config)"),
}
TENSOR_CHANGES = ["wrong shape", "wrong dtype", "NaN or inf", "missing", "extra"]
BYTE_CHANGES = ["no cfg.json", "no weights", "cfg not JSON", "weights not safetensors"]


MODEL_CHANGES = ["none", *CFG_CHANGES, *[f"metadata.{k}" for k in META_CHANGES], *TENSOR_CHANGES, *BYTE_CHANGES]


@pytest.mark.parametrize("kind", MODEL_CHANGES)
def test_one_change_to_a_valid_model_zip_is_caught_by_its_own_check(valid_zip, kind):
    reached = Counter()

    @CASES
    @given(data=st.data())
    def case(data):
        cfg, tensors = unpack(valid_zip)
        name = data.draw(st.sampled_from(sorted(tensors)))
        drop, expected = None, None
        if kind in CFG_CHANGES:
            values, expected = CFG_CHANGES[kind]
            cfg[kind] = data.draw(st.sampled_from(values))
        elif kind.startswith("metadata."):
            field = kind.split(".", 1)[1]
            values, expected = META_CHANGES[field]
            cfg["metadata"][field] = data.draw(st.sampled_from(values))
        elif kind == "wrong shape":
            shape = list(tensors[name].shape)
            shape[data.draw(st.integers(0, len(shape) - 1))] += data.draw(st.sampled_from([-1, 1, 4]))
            tensors[name] = torch.zeros(shape if all(shape) else [7])
            expected = rf"tensor {name} has shape \[.*\], expected \["
        elif kind == "wrong dtype":
            dtype = data.draw(st.sampled_from([torch.float64, torch.float16, torch.int32, torch.bfloat16]))
            tensors[name] = tensors[name].to(dtype)
            expected = rf"tensor {name} is {str(dtype).removeprefix('torch.')}, but cfg\.json says dtype float32"
        elif kind == "NaN or inf":
            flat = tensors[name].clone().reshape(-1)
            flat[data.draw(st.integers(0, flat.numel() - 1))] = data.draw(st.sampled_from([float("nan"), float("inf"), -float("inf")]))
            tensors[name] = flat.reshape(tensors[name].shape)
            expected = rf"tensor {name} contains NaN or infinite values"
        elif kind == "missing":
            del tensors[name]
            expected = rf"must hold exactly W_enc, b_enc, W_dec, b_dec \(missing {name}\)"
        elif kind == "extra":
            extra = data.draw(st.sampled_from(["threshold", "W_enc_extra", "scaling_factor"]))
            tensors[extra] = torch.zeros(5)
            expected = rf"must hold exactly W_enc, b_enc, W_dec, b_dec \(unknown {extra}\)"
        elif kind == "no cfg.json":
            drop, expected = "cfg.json", r"not a SAELens model \(no cfg\.json inside\)"
        elif kind == "no weights":
            drop, expected = "sae_weights.safetensors", r"not a SAELens model \(no sae_weights\.safetensors inside\)"
        elif kind == "cfg not JSON":
            cfg = data.draw(st.sampled_from([b"{", b"\xff\xfe", b"[1, 2", b"nan"]))
            expected = r"cfg\.json is not valid JSON"
        elif kind == "weights not safetensors":
            tensors = data.draw(st.sampled_from([b"", b"\x00" * 16, b"\x80\x04\x95pickle", b"{}" * 8]))
            expected = r"sae_weights\.safetensors is not a readable safetensors file"
        event(kind)
        blob = pack(cfg, tensors, drop)
        if expected is None:
            model, loaded = load_saelens_zip(blob, "m.zip")
            assert loaded["d_in"] == 3 and model.W_enc.shape == (1, 3, 5)
        else:
            with pytest.raises(ModelFileError) as info:
                load_saelens_zip(blob, "m.zip")
            message = str(info.value)
            assert message.startswith("m.zip: ") and "\n" not in message
            assert re.search(expected, message), (kind, message)
        reached[kind] += 1

    case()
    REACHED["model", kind] = reached[kind]
    print(f"\nmodel change {kind!r}: {reached[kind]} generated cases reached its check")
    # (some changes have only a few distinct forms, e.g. which of 4 tensors is missing: hypothesis
    # stops when it has tried them all)
    assert reached[kind] > 0, f"no case reached the check for {kind!r}"


def test_every_targeted_change_reached_its_check():
    """Runs last in this file: the per-check counts of all the cases above, in one place."""
    expected = {("csv", c) for c in CSV_CHANGES} | {("model", k) for k in MODEL_CHANGES}
    if set(REACHED) != expected:
        pytest.skip("run the whole file to get every count")
    print("\ncases reaching each check: " + ", ".join(f"{k}/{c}: {n}" for (k, c), n in sorted(REACHED.items())))
    assert min(REACHED.values()) > 0 and sum(REACHED.values()) >= 200


def test_corrupted_bytes_of_a_valid_model_zip_load_or_raise_one_line(valid_zip):
    """Flipped or cut bytes (no targeted change): only ModelFileError, and how far each case got."""
    stages = Counter()

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(data=st.data())
    def case(data):
        blob = bytearray(valid_zip)
        if data.draw(st.booleans()):
            for _ in range(data.draw(st.integers(1, 8))):
                blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
        else:
            blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
        try:
            load_saelens_zip(bytes(blob), "m.zip")
        except ModelFileError as error:
            message = str(error)
            assert message.startswith("m.zip: ") and "\n" not in message
            stages["zip" if "zip file" in message or "no cfg.json" in message or "no sae_weights" in message
                   else "cfg" if "cfg.json" in message or "metadata" in message else "tensors"] += 1
        else:
            stages["loaded"] += 1

    case()
    print(f"\ncorrupted zips by the stage that stopped them: {dict(stages)}")
    assert stages["zip"] > 0 and sum(stages.values()) >= 100
