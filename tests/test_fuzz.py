"""Property-based tests: any bytes, any CSV dialect, any DataFrame, any model file either load
correctly or raise the engine's own error type with a one-line message; never anything else."""

import csv
import io
import string
import zipfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sae_core.errors import ModelFileError, SAEInputError, TableError
from sae_core.export import model_from_zip, model_to_zip
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


@pytest.fixture(scope="module")
def model_zip():
    x = np.array([[0.1, 0.2, 0.3], [0.3, 0.1, 0.0], [0.5, 0.5, 0.5]], dtype=np.float32)
    result = train(x, TrainConfig(hidden_dim=4, epochs=5))
    return model_to_zip(result, ["a", "b", "c"], ["t0", "t1", "t2"])


@FUZZ
@given(st.binary(max_size=3000))
def test_random_bytes_as_model_raise_model_file_error(data):
    with pytest.raises(ModelFileError) as caught:
        model_from_zip(data, "upload.zip")
    assert_one_line(caught.value)


@FUZZ
@given(st.data())
def test_corrupted_model_files_load_or_raise_model_file_error(model_zip, data):
    """Flip, cut or replace bytes of a real model file; or rewrite one member of the zip."""
    blob = bytearray(model_zip)
    how = data.draw(st.sampled_from(["flip", "truncate", "member"]))
    if how == "flip":
        for _ in range(data.draw(st.integers(1, 20))):
            i = data.draw(st.integers(0, len(blob) - 1))
            blob[i] = data.draw(st.integers(0, 255))
    elif how == "truncate":
        blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
    else:
        member = data.draw(st.sampled_from(["model.safetensors", "config.json"]))
        buffer = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(model_zip)) as src, zipfile.ZipFile(buffer, "w") as dst:
            for info in src.infolist():
                content = src.read(info.filename)
                if info.filename == member:
                    content = data.draw(st.binary(max_size=400))
                dst.writestr(info.filename, content)
        blob = bytearray(buffer.getvalue())
    try:
        model, meta = model_from_zip(bytes(blob), "upload.zip")
    except ModelFileError as error:
        assert_one_line(error)
    else:
        assert model.W_enc.shape[1] == len(meta["dims"])


def test_error_types_share_one_base():
    assert issubclass(TableError, SAEInputError) and issubclass(ModelFileError, SAEInputError)
