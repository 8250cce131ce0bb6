"""sae_core.table: CSV parsing, validation, editing helpers and safe export."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sae_core import limits
from sae_core.errors import TableError
from sae_core.table import (
    TOKEN, add_dimension, dims_of, neutralise_formula, parse_csv, read_table, remove_dimension,
    rename_dimension, table_to_csv, tokens_of, validate_table, values_of,
)

GOOD = b"token,a,b\ncat,1,2\ndog,3,4\n"


def one_line(error: BaseException) -> str:
    """The error's message, checked to be exactly one non-empty line of type TableError."""
    assert type(error) is TableError
    message = str(error)
    assert message and message == message.strip()
    assert "\n" not in message and "\r" not in message
    return message


def parse_error(data: bytes, name: str = "upload.csv") -> str:
    with pytest.raises(TableError) as info:
        parse_csv(data, name)
    message = one_line(info.value)
    assert message.startswith(f"{name}: ")
    return message


def frame(tokens, **columns) -> pd.DataFrame:
    out = pd.DataFrame(columns)
    out.insert(0, TOKEN, tokens)
    return out


# ---- the founding table -----------------------------------------------------------------


def test_seed_table_reads_as_8_tokens_by_4_dims(seed_table):
    assert tokens_of(seed_table) == ["cat", "happy cat", "dog", "loyal dog", "not cat", "not dog",
                                     "robot", "AI assistant"]
    assert dims_of(seed_table) == ["d0", "d1", "d2", "d3"]
    x = values_of(seed_table)
    assert x.dtype == np.float32 and x.shape == (8, 4)
    assert x[0].tolist() == pytest.approx([0.80, 0.30, 0.10, 0.05])
    assert x[7].tolist() == pytest.approx([0.10, 0.60, 0.85, 0.75])


def test_parse_csv_good_table():
    table = parse_csv(GOOD)
    assert list(table.columns) == ["token", "a", "b"]
    assert tokens_of(table) == ["cat", "dog"]
    assert table[["a", "b"]].to_numpy().tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert table["a"].dtype == np.float64


# ---- every bad input: TableError, one line, names the problem --------------------------


BAD_CSV = [
    ("empty file", b"", ["empty"]),
    ("whitespace only", b"  \n\t\r\n   \n", ["empty"]),
    ("byte-order mark only", b"\xef\xbb\xbf", ["empty"]),
    ("byte-order mark and blanks", b"\xef\xbb\xbf \r\n\r\n", ["empty"]),
    ("unicode whitespace only", "\u00a0\u2003\n".encode("utf-8"), ["empty"]),
    ("delimiters only", b",,,\n,,\n", ["empty"]),
    ("no header (numbers first)", b"0.1,0.2,0.3\n0.4,0.5,0.6\n", ["no header row", "token"]),
    ("no token column", b"word,a,b\ncat,1,2\ndog,3,4\n", ["first column", "'token'", "'word'"]),
    ("token not first", b"a,token,b\n1,cat,2\n3,dog,4\n", ["first column", "'token'", "'a'"]),
    ("row with too many cells", b"token,a,b\ncat,1,2\ndog,3,4,5\n", ["line 3", "4 cells", "header has 3"]),
    ("row with too few cells", b"token,a,b\ncat,1\ndog,3,4\n", ["line 2", "2 cells", "header has 3"]),
    ("text in a numeric cell", b"token,a,b\ncat,1,2\ndog,three,4\n",
     ["line 3", "column 'a'", "'three'", "not a number"]),
    ("empty numeric cell", b"token,a,b\ncat,1,\ndog,3,4\n", ["line 2", "column 'b'", "empty"]),
    ("blank numeric cell", b"token,a,b\ncat,1,2\ndog,  ,4\n", ["line 3", "column 'a'", "empty"]),
    ("NaN", b"token,a,b\ncat,1,2\ndog,NaN,4\n", ["line 3", "column 'a'", "not a finite number"]),
    ("nan lower case", b"token,a,b\ncat,nan,2\ndog,3,4\n", ["line 2", "column 'a'", "not a finite number"]),
    ("inf", b"token,a,b\ncat,1,inf\ndog,3,4\n", ["line 2", "column 'b'", "inf", "not a finite number"]),
    ("-inf", b"token,a,b\ncat,1,2\ndog,3,-inf\n", ["line 3", "column 'b'", "-inf", "not a finite number"]),
    ("overflowing number", b"token,a,b\ncat,1,1e999\ndog,3,4\n", ["line 2", "column 'b'", "not a finite"]),
    ("a single dimension", b"token,a\ncat,1\ndog,3\n", ["1 dimension", "at least 2"]),
    ("no dimensions", b"token\ncat\ndog\n", ["0 dimension", "at least 2"]),
    ("no data rows", b"token,a,b\n", ["0 data row", "at least 2"]),
    ("no data rows, blank lines", b"token,a,b\n\n\n", ["0 data row", "at least 2"]),
    ("one data row", b"token,a,b\ncat,1,2\n", ["1 data row", "at least 2"]),
    ("duplicate dimension names", b"token,a,a,b\ncat,1,2,3\ndog,3,4,5\n", ["duplicate dimension", "a"]),
    ("duplicate dimension after strip", b"token,a , a,b\ncat,1,2,3\ndog,3,4,5\n", ["duplicate dimension"]),
    ("empty dimension name", b"token,a,,b\ncat,1,2,3\ndog,3,4,5\n", ["dimension column 3", "empty name"]),
    ("second token column", b"token,a,Token\ncat,1,2\ndog,3,4\n", ["only the first column", "'token'"]),
    ("duplicate tokens", b"token,a,b\ncat,1,2\ndog,3,4\ncat,5,6\n", ["'cat'", "twice", "rows 1 and 3"]),
    ("duplicate tokens after strip", b"token,a,b\ncat,1,2\n cat ,3,4\n", ["'cat'", "twice"]),
    ("empty token", b"token,a,b\ncat,1,2\n,3,4\n", ["row 2", "empty token"]),
    ("blank token", b"token,a,b\n   ,1,2\ndog,3,4\n", ["row 1", "empty token"]),
    ("token too long", b"token,a,b\n" + b"x" * 201 + b",1,2\ndog,3,4\n", ["row 1", "longer than 200"]),
    ("non-UTF-8 bytes", b"token,a,b\ncaf\xe9,1,2\ndog,3,4\n", ["not UTF-8", "position 13"]),
    ("UTF-16 file", "token,a,b\ncat,1,2\ndog,3,4\n".encode("utf-16"), ["not UTF-8"]),
    ("NUL bytes", b"token,a,b\ncat,1\x00,2\ndog,3,4\n", ["NUL"]),
    ("binary junk", bytes(range(256)) * 4, ["not UTF-8"]),
    ("unterminated quote", b'token,a,b\n"cat,1,2\ndog,3,4\n', ["malformed CSV"]),
    ("text after a closing quote", b'token,a,b\n"cat"x,1,2\ndog,3,4\n', ["line 2", "malformed CSV"]),
]


@pytest.mark.parametrize("data, expected", [(d, e) for _, d, e in BAD_CSV], ids=[i for i, _, _ in BAD_CSV])
def test_parse_csv_rejects_bad_input_with_one_line(data, expected):
    message = parse_error(data)
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_too_large_upload_is_refused_before_parsing(monkeypatch):
    monkeypatch.setattr(limits, "MAX_UPLOAD_BYTES", len(GOOD) - 1)
    message = parse_error(GOOD)
    assert "larger than the limit" in message and "MB" in message
    monkeypatch.setattr(limits, "MAX_UPLOAD_BYTES", len(GOOD))
    assert len(parse_csv(GOOD)) == 2  # exactly at the limit is fine


def test_too_large_file_on_disk_is_refused(monkeypatch, tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(GOOD)
    monkeypatch.setattr(limits, "MAX_UPLOAD_BYTES", 10)
    with pytest.raises(TableError) as info:
        read_table(path)
    message = one_line(info.value)
    assert message.startswith("big.csv: ") and "larger than the limit" in message
    assert str(tmp_path) not in message


def test_too_many_rows(monkeypatch):
    data = b"token,a,b\n" + b"".join(b"t%d,%d,1\n" % (i, i) for i in range(6))
    monkeypatch.setattr(limits, "MAX_ROWS", 5)
    message = parse_error(data)
    assert "6 data rows" in message and "limit of 5" in message
    monkeypatch.setattr(limits, "MAX_ROWS", 6)
    assert len(parse_csv(data)) == 6


def test_too_many_dimensions(monkeypatch):
    monkeypatch.setattr(limits, "MAX_DIMS", 3)
    message = parse_error(b"token,a,b,c,d\ncat,1,2,3,4\ndog,1,2,3,4\n")
    assert "4 dimensions" in message and "limit of 3" in message


def test_missing_file(tmp_path):
    with pytest.raises(TableError) as info:
        read_table(tmp_path / "nowhere" / "missing.csv")
    message = one_line(info.value)
    assert message == "missing.csv: file not found"


def test_folder_is_not_a_table(tmp_path):
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    with pytest.raises(TableError) as info:
        read_table(folder)
    message = one_line(info.value)
    assert "folder.csv" in message and "folder" in message.split(":", 1)[1]
    assert str(tmp_path) not in message


@pytest.mark.parametrize("data, expected", [
    (b"", "empty"),
    (b"token,a,b\ncat,1,2\ndog,x,4\n", "line 3, column 'a'"),
    (b"token,a\ncat,1\ndog,2\n", "1 dimension"),
])
def test_read_table_errors_name_the_file_but_not_the_server_path(tmp_path, data, expected):
    path = tmp_path / "secret_dir" / "mine.csv"
    path.parent.mkdir()
    path.write_bytes(data)
    with pytest.raises(TableError) as info:
        read_table(path)
    message = one_line(info.value)
    assert message.startswith("mine.csv: ") and expected in message
    assert str(tmp_path) not in message and "secret_dir" not in message and "/" not in message


def test_parse_csv_strips_a_path_given_as_name():
    with pytest.raises(TableError) as info:
        parse_csv(b"", "/srv/app/uploads/user.csv")
    message = one_line(info.value)
    assert message.startswith("user.csv: ") and "/srv" not in message


# ---- inputs that must simply work ------------------------------------------------------


WORKING_CSV = [
    ("UTF-8 byte-order mark", b"\xef\xbb\xbftoken,a,b\ncat,1,2\ndog,3,4\n"),
    ("Windows CRLF", b"token,a,b\r\ncat,1,2\r\ndog,3,4\r\n"),
    ("old Mac CR", b"token,a,b\rcat,1,2\rdog,3,4\r"),
    ("semicolons", b"token;a;b\ncat;1;2\ndog;3;4\n"),
    ("tabs", b"token\ta\tb\ncat\t1\t2\ndog\t3\t4\n"),
    ("trailing blank lines", b"token,a,b\ncat,1,2\ndog,3,4\n\n\n\r\n  \n"),
    ("leading blank lines", b"\n\ntoken,a,b\ncat,1,2\ndog,3,4\n"),
    ("blank line between rows", b"token,a,b\ncat,1,2\n\ndog,3,4\n"),
    ("no final newline", b"token,a,b\ncat,1,2\ndog,3,4"),
    ("header case and whitespace", b" Token ,a,b\ncat,1,2\ndog,3,4\n"),
    ("upper-case header", b"TOKEN, a , b \ncat,1,2\ndog,3,4\n"),
    ("spaces around cells", b"token,a,b\n cat , 1 ,2\ndog,  3,4  \n"),
    ("BOM + CRLF + semicolons", b"\xef\xbb\xbftoken;a;b\r\ncat;1;2\r\ndog;3;4\r\n"),
    ("number formats", b"token,a,b\ncat,1.0,2e0\ndog,+3,.4e1\n"),
    ("quoted numbers", b'token,a,b\ncat,"1","2"\ndog,3,4\n'),
]


@pytest.mark.parametrize("data", [d for _, d in WORKING_CSV], ids=[i for i, _ in WORKING_CSV])
def test_parse_csv_accepts_common_variants(data):
    table = parse_csv(data)
    assert list(table.columns) == ["token", "a", "b"]
    assert tokens_of(table) == ["cat", "dog"]
    assert table[["a", "b"]].to_numpy().tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_quoted_token_names_with_delimiters_and_quotes():
    table = parse_csv(b'token,a,b\n"cat, happy",1,2\n"say ""hi""",3,4\n"dog\nwith newline",5,6\n')
    assert tokens_of(table) == ["cat, happy", 'say "hi"', "dog\nwith newline"]
    table = parse_csv(b'token;a;b\n"x;y";1;2\nz;3;4\n')
    assert tokens_of(table) == ["x;y", "z"]


def test_line_numbers_count_physical_lines():
    # blank lines and a BOM do not shift the reported line
    message = parse_error(b"\xef\xbb\xbftoken,a,b\r\n\r\ncat,1,2\r\n\r\ndog,1,oops\r\n")
    assert "line 5" in message and "column 'b'" in message


def test_unicode_tokens_and_dimension_names():
    table = parse_csv("token,α,β\nchat 🐱,1,2\n狗,3,4\n".encode("utf-8"))
    assert tokens_of(table) == ["chat 🐱", "狗"] and dims_of(table) == ["α", "β"]


def test_read_table_reads_a_file(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(GOOD)
    pd.testing.assert_frame_equal(read_table(path), parse_csv(GOOD))
    pd.testing.assert_frame_equal(read_table(str(path)), parse_csv(GOOD))


# ---- validate_table (the data editor's output) -------------------------------------------


def test_validate_table_returns_a_clean_copy():
    raw = frame([" cat ", "dog"], **{" a ": [1, 2], "b": ["3", 4.5]})
    raw.columns = ["Token", " a ", "b"]
    clean = validate_table(raw)
    assert list(clean.columns) == ["token", "a", "b"]
    assert tokens_of(clean) == ["cat", "dog"]
    assert clean[["a", "b"]].to_numpy().tolist() == [[1.0, 3.0], [2.0, 4.5]]
    assert clean["b"].dtype == np.float64
    assert list(raw.columns) == ["Token", " a ", "b"]  # input untouched


def test_validate_table_drops_the_editors_empty_new_rows():
    raw = frame(["cat", "dog", None], a=[1.0, 2.0, np.nan], b=[3.0, 4.0, np.nan])
    clean = validate_table(raw)
    assert tokens_of(clean) == ["cat", "dog"] and list(clean.index) == [0, 1]


def _validate_error(raw, name="table") -> str:
    with pytest.raises(TableError) as info:
        validate_table(raw, name)
    return one_line(info.value)


@pytest.mark.parametrize("raw, expected", [
    (frame(["cat", "dog"], a=[1.0, np.nan], b=[3.0, 4.0]), ["row 2", "'dog'", "column 'a'", "empty"]),
    (frame(["cat", "dog"], a=[1.0, None], b=[3.0, 4.0]), ["row 2", "column 'a'", "empty"]),
    (frame(["cat", "dog"], a=[1.0, 2.0], b=[np.inf, 4.0]), ["row 1", "column 'b'", "not a finite"]),
    (frame(["cat", "dog"], a=[1.0, 2.0], b=[3.0, -np.inf]), ["row 2", "column 'b'", "not a finite"]),
    (frame(["cat", "dog"], a=["1", "x"], b=[3.0, 4.0]), ["row 2", "column 'a'", "'x'", "not a number"]),
    (frame(["cat", "dog"], a=["1", ""], b=[3.0, 4.0]), ["row 2", "column 'a'", "empty"]),
    (frame(["cat", "dog"], a=[True, 2.0], b=[3.0, 4.0]), ["row 1", "column 'a'", "not a number"]),
    (frame(["cat", None], a=[1.0, 2.0], b=[3.0, 4.0]), ["row 2", "empty token"]),
    (frame(["cat", np.nan], a=[1.0, 2.0], b=[3.0, 4.0]), ["row 2", "empty token"]),
    (frame(["cat", pd.NA], a=[1.0, 2.0], b=[3.0, 4.0]), ["row 2", "empty token"]),
    (frame(["cat", "  "], a=[1.0, 2.0], b=[3.0, 4.0]), ["row 2", "empty token"]),
    (frame(["cat", "cat"], a=[1.0, 2.0], b=[3.0, 4.0]), ["'cat'", "twice"]),
    (frame(["cat"], a=[1.0], b=[3.0]), ["1 data row"]),
    (frame(["cat", "dog"], a=[1.0, 2.0]), ["1 dimension"]),
    (pd.DataFrame({"name": ["cat", "dog"], "a": [1, 2], "b": [3, 4]}), ["first column", "'name'"]),
])
def test_validate_table_errors(raw, expected):
    message = _validate_error(raw, "my table")
    assert message.startswith("my table: ")
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_validate_table_nullable_dtypes():
    raw = frame(pd.array(["cat", "dog", pd.NA], dtype="string"),
                a=pd.array([1.0, pd.NA, 2.0], dtype="Float64"), b=[1.0, 2.0, 3.0])
    message = _validate_error(raw)
    assert "empty" in message and "'<NA>'" not in message


def test_validate_table_refuses_a_non_table():
    message = _validate_error([[1, 2], [3, 4]])
    assert "expected a table" in message and "list" in message


def test_validate_table_row_limit(monkeypatch):
    monkeypatch.setattr(limits, "MAX_ROWS", 2)
    message = _validate_error(frame(["a", "b", "c"], x=[1, 2, 3], y=[1, 2, 3]))
    assert "3 rows" in message and "limit of 2" in message


# ---- editing helpers -------------------------------------------------------------------


def test_add_dimension_default_name_and_fill(seed_table):
    out = add_dimension(seed_table)
    assert dims_of(out) == ["d0", "d1", "d2", "d3", "d4"]
    assert (out["d4"] == 0.0).all()
    assert dims_of(seed_table) == ["d0", "d1", "d2", "d3"]  # pure
    out = add_dimension(out, " size ", fill=0.5)
    assert dims_of(out)[-1] == "size" and (out["size"] == 0.5).all()
    pd.testing.assert_frame_equal(out[["d0", "d1", "d2", "d3"]], seed_table[["d0", "d1", "d2", "d3"]])


def test_add_dimension_default_name_skips_used_names():
    table = parse_csv(b"token,d2,x\ncat,1,2\ndog,3,4\n")
    assert dims_of(add_dimension(table)) == ["d2", "x", "d3"]


@pytest.mark.parametrize("name", ["d1", "", "   ", "token", "TOKEN"])
def test_add_dimension_refuses_used_or_empty_names(seed_table, name):
    with pytest.raises(TableError) as info:
        add_dimension(seed_table, name)
    assert "cannot add dimension" in one_line(info.value)


def test_add_dimension_refuses_a_non_finite_fill(seed_table):
    with pytest.raises(TableError) as info:
        add_dimension(seed_table, "z", fill=float("nan"))
    assert "column 'z'" in one_line(info.value)


def test_remove_dimension(seed_table):
    out = remove_dimension(seed_table, "d1")
    assert dims_of(out) == ["d0", "d2", "d3"]
    assert out["d3"].tolist() == seed_table["d3"].tolist()
    assert dims_of(seed_table) == ["d0", "d1", "d2", "d3"]


def test_remove_dimension_errors(seed_table):
    with pytest.raises(TableError) as info:
        remove_dimension(seed_table, "nope")
    assert one_line(info.value) == "there is no dimension named 'nope'"
    with pytest.raises(TableError) as info:
        remove_dimension(seed_table, "token")
    assert "no dimension named 'token'" in one_line(info.value)
    two = remove_dimension(remove_dimension(seed_table, "d0"), "d1")
    with pytest.raises(TableError) as info:
        remove_dimension(two, "d2")  # would leave one dimension
    assert "1 dimension" in one_line(info.value)


def test_rename_dimension(seed_table):
    out = rename_dimension(seed_table, "d1", "  negation ")
    assert dims_of(out) == ["d0", "negation", "d2", "d3"]
    assert out["negation"].tolist() == seed_table["d1"].tolist()
    same = rename_dimension(seed_table, "d1", "d1")
    pd.testing.assert_frame_equal(same, seed_table)
    assert same is not seed_table


@pytest.mark.parametrize("old, new, expected", [
    ("nope", "x", "no dimension named 'nope'"),
    ("d1", "d2", "cannot rename to 'd2'"),
    ("d1", "", "cannot rename to ''"),
    ("d1", "   ", "cannot rename to ''"),
    ("d1", "Token", "cannot rename to 'Token'"),
])
def test_rename_dimension_errors(seed_table, old, new, expected):
    with pytest.raises(TableError) as info:
        rename_dimension(seed_table, old, new)
    assert expected in one_line(info.value)


# ---- export ---------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["=SUM(A1:A2)", "+1", "-1", "@cmd", "\tx", "=", "-"])
def test_table_to_csv_neutralises_formulas(token):
    table = frame([token, "safe"], a=[1.0, 2.0], b=[3.0, 4.0])
    text = table_to_csv(table).decode("utf-8")
    back = parse_csv(text.encode("utf-8"))
    assert tokens_of(back)[0] == "'" + token
    assert tokens_of(back)[1] == "safe"
    for line in text.splitlines()[1:]:
        assert not line.startswith(("=", "+", "-", "@", "\t"))


def test_table_to_csv_neutralises_dimension_names():
    table = frame(["a", "b"], **{"=cmd": [1.0, 2.0], "ok": [3.0, 4.0]})
    header = table_to_csv(table).decode("utf-8").splitlines()[0]
    assert header == "token,'=cmd,ok"


def test_neutralise_formula():
    assert neutralise_formula("=1+1") == "'=1+1"
    assert neutralise_formula("@x") == "'@x"
    assert neutralise_formula("cat") == "cat"
    assert neutralise_formula("a=b") == "a=b"
    assert neutralise_formula("") == ""


def test_table_to_csv_round_trips_the_seed_table(seed_table):
    data = table_to_csv(seed_table)
    assert data.decode("utf-8").splitlines()[1] == "cat,0.8,0.3,0.1,0.05"
    pd.testing.assert_frame_equal(parse_csv(data), seed_table)


def test_table_to_csv_round_trips_random_tables():
    rng = np.random.default_rng(0)
    for scale in (1e-3, 1.0, 30.0, 1000.0):
        values = rng.normal(size=(7, 5)) * scale
        table = pd.DataFrame(values, columns=[f"dim {j}" for j in range(5)])
        table.insert(0, TOKEN, ["cat", "a, b", 'q"uote', "ünï", "x y", "tab\there", "7"])
        back = parse_csv(table_to_csv(table))
        assert tokens_of(back) == tokens_of(table) and dims_of(back) == dims_of(table)
        np.testing.assert_allclose(back[dims_of(back)].to_numpy(), values, rtol=1e-9, atol=1e-6)


def test_table_to_csv_keeps_float32_values_exact():
    values = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    table = pd.DataFrame(values.astype(np.float64), columns=["a", "b", "c"])
    table.insert(0, TOKEN, list("wxyz"))
    assert np.array_equal(values_of(parse_csv(table_to_csv(table))), values)
