"""Token x dimension tables: CSV parsing, validation, editing helpers and safe export.

A table is a pandas DataFrame whose first column is ``token`` (unique, non-empty text)
followed by at least two numeric columns, one per activation dimension. Every problem
raises :class:`TableError` with a one-line message naming the file, row and column.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

from . import limits
from .errors import TableError

TOKEN = "token"
MIN_DIMS = 2
MIN_ROWS = 2
_DELIMITERS = (",", ";", "\t")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read and validate a CSV file from disk (the CLI and the bundled examples)."""
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
    except OSError:
        raise TableError(f"{name}: file not found") from None
    if path.is_dir():
        raise TableError(f"{name}: is a folder, not a CSV file")
    _check_size(size, name)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TableError(f"{name}: cannot be read ({error.strerror})") from None
    return parse_csv(data, name)


def parse_csv(data: bytes, name: str = "table.csv") -> pd.DataFrame:
    """Parse CSV bytes (an upload or a file) into a validated table.

    A UTF-8 byte-order mark and Windows line endings are accepted; so are ``;`` and tab
    as delimiters when the header uses them.
    """
    name = Path(str(name)).name or "table.csv"  # never echo a path back to the user
    _check_size(len(data), name)
    empty = TableError(f"{name}: the file is empty; expected a header row 'token,d0,d1,...'")
    if not data.strip():
        raise empty
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise TableError(
            f"{name}: not UTF-8 text (undecodable byte at position {error.start}); "
            "save the file as UTF-8 CSV"
        ) from None
    if "\x00" in text:
        raise TableError(f"{name}: contains NUL bytes; this is not a text CSV file")
    if not text.strip():  # only a byte-order mark or Unicode whitespace
        raise empty
    first_line = text.lstrip("\r\n").splitlines()[0]
    delimiter = max(_DELIMITERS, key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        rows = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except csv.Error as error:
        raise TableError(f"{name}: line {reader.line_num}: malformed CSV ({error})") from None
    if not rows:  # only delimiters and blanks
        raise empty
    header = [cell.strip() for cell in rows[0][1]]
    _check_header(header, name)
    dims = header[1:]
    if len(rows) - 1 > limits.MAX_ROWS:
        raise TableError(
            f"{name}: {len(rows) - 1} data rows is more than the limit of {limits.MAX_ROWS}; "
            "use a sample of the tokens"
        )
    tokens: list[str] = []
    values = np.empty((len(rows) - 1, len(dims)), dtype=np.float64)
    for i, (line, row) in enumerate(rows[1:]):
        if len(row) != len(header):
            raise TableError(
                f"{name}: line {line} has {len(row)} cells but the header has {len(header)}"
            )
        tokens.append(row[0].strip())
        for j, cell in enumerate(row[1:]):
            values[i, j] = _parse_number(cell, f"{name}: line {line}, column '{dims[j]}'")
    frame = pd.DataFrame(values, columns=dims)
    frame.insert(0, TOKEN, tokens)
    return validate_table(frame, name)


def validate_table(frame: pd.DataFrame, name: str = "table") -> pd.DataFrame:
    """Check an in-memory table (for example the data editor's output); return a clean copy.

    Rows whose cells are all empty (a new row the user has not filled in) are dropped.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TableError(f"{name}: expected a table, got {type(frame).__name__}")
    header = [str(c).strip() for c in frame.columns]
    _check_header(header, name)
    frame = frame.copy()
    frame.columns = header
    frame = frame.dropna(how="all").reset_index(drop=True)
    dims = header[1:]
    if len(frame) > limits.MAX_ROWS:
        raise TableError(f"{name}: {len(frame)} rows is more than the limit of {limits.MAX_ROWS}")
    if len(frame) < MIN_ROWS:
        raise TableError(
            f"{name}: has {len(frame)} data row(s); an SAE needs at least {MIN_ROWS} tokens"
        )
    tokens = []
    for i, token in enumerate(frame[TOKEN].tolist()):
        missing = token is None or token is pd.NA or (isinstance(token, float) and math.isnan(token))
        text = "" if missing else str(token).strip()
        if not text:
            raise TableError(f"{name}: row {i + 1} has an empty token name")
        if len(text) > limits.MAX_TOKEN_CHARS:
            raise TableError(
                f"{name}: row {i + 1}: token name is longer than {limits.MAX_TOKEN_CHARS} characters"
            )
        tokens.append(text)
    seen: dict[str, int] = {}
    for i, token in enumerate(tokens):
        if token in seen:
            raise TableError(
                f"{name}: token '{_short(token)}' appears twice (rows {seen[token] + 1} and {i + 1}); "
                "token names must be unique"
            )
        seen[token] = i
    values = np.empty((len(frame), len(dims)), dtype=np.float64)
    for j, dim in enumerate(dims):
        for i, cell in enumerate(frame[dim].tolist()):
            values[i, j] = _parse_number(cell, f"{name}: row {i + 1} ('{_short(tokens[i])}'), column '{dim}'")
    clean = pd.DataFrame(values, columns=dims)
    clean.insert(0, TOKEN, tokens)
    return clean


def _check_size(size: int, name: str) -> None:
    if size > limits.MAX_UPLOAD_BYTES:
        raise TableError(
            f"{name}: {size / 1e6:.1f} MB is larger than the limit of "
            f"{limits.MAX_UPLOAD_BYTES / 1e6:.0f} MB; use fewer tokens or dimensions"
        )


def _check_header(header: list[str], name: str) -> None:
    if not header or header[0].lower() != TOKEN:
        first = header[0] if header else ""
        if _is_number(first):
            raise TableError(
                f"{name}: no header row; the first line must be 'token,<dim>,<dim>,...'"
            )
        raise TableError(
            f"{name}: the first column must be named '{TOKEN}' (found '{_short(first)}')"
        )
    header[0] = TOKEN
    dims = header[1:]
    if len(dims) < MIN_DIMS:
        raise TableError(
            f"{name}: has {len(dims)} dimension column(s); at least {MIN_DIMS} are needed"
        )
    if len(dims) > limits.MAX_DIMS:
        raise TableError(
            f"{name}: {len(dims)} dimensions is more than the limit of {limits.MAX_DIMS}"
        )
    for j, dim in enumerate(dims):
        if not dim:
            raise TableError(f"{name}: dimension column {j + 2} has an empty name")
        if dim.lower() == TOKEN:
            raise TableError(f"{name}: only the first column may be named '{TOKEN}'")
    duplicates = sorted({d for d in dims if dims.count(d) > 1})
    if duplicates:
        raise TableError(f"{name}: duplicate dimension name(s): {', '.join(duplicates)}")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def _parse_number(cell, where: str) -> float:
    if cell is None or cell is pd.NA or (isinstance(cell, str) and not cell.strip()):
        raise TableError(f"{where} is empty; every cell needs a number")
    if isinstance(cell, bool):
        raise TableError(f"{where}: {cell} is not a number")
    try:
        value = float(cell.strip() if isinstance(cell, str) else cell)
    except (TypeError, ValueError, OverflowError):
        raise TableError(f"{where}: '{_short(str(cell))}' is not a number") from None
    if math.isnan(value) and not isinstance(cell, str):
        raise TableError(f"{where} is empty; every cell needs a number")
    if not math.isfinite(value):
        raise TableError(f"{where}: {cell!s} is not a finite number")
    return value


def _short(text: str, width: int = 40) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


# ---- accessors --------------------------------------------------------------------------


def tokens_of(table: pd.DataFrame) -> list[str]:
    return table[TOKEN].astype(str).tolist()


def dims_of(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c != TOKEN]


def values_of(table: pd.DataFrame) -> np.ndarray:
    """The activations as a float32 array, tokens x dims."""
    return table[dims_of(table)].to_numpy(dtype=np.float32)


# ---- editing helpers (pure: each returns a new validated table) ---------------------------


def add_dimension(table: pd.DataFrame, name: str | None = None, fill: float = 0.0) -> pd.DataFrame:
    dims = dims_of(table)
    if name is None:
        k = len(dims)
        while f"d{k}" in dims:
            k += 1
        name = f"d{k}"
    name = name.strip()
    if not name or name in dims or name.lower() == TOKEN:
        raise TableError(f"cannot add dimension '{_short(name)}': the name is empty or already used")
    out = table.copy()
    out[name] = float(fill)
    return validate_table(out)


def remove_dimension(table: pd.DataFrame, name: str) -> pd.DataFrame:
    if name not in dims_of(table):
        raise TableError(f"there is no dimension named '{_short(name)}'")
    return validate_table(table.drop(columns=[name]))


def rename_dimension(table: pd.DataFrame, old: str, new: str) -> pd.DataFrame:
    new = new.strip()
    if old not in dims_of(table):
        raise TableError(f"there is no dimension named '{_short(old)}'")
    if new == old:
        return table.copy()
    if not new or new in dims_of(table) or new.lower() == TOKEN:
        raise TableError(f"cannot rename to '{_short(new)}': the name is empty or already used")
    return validate_table(table.rename(columns={old: new}))


# ---- export ---------------------------------------------------------------------------------


def neutralise_formula(text: str) -> str:
    """Prefix a quote to text a spreadsheet would run as a formula (CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def table_to_csv(table: pd.DataFrame) -> bytes:
    """The table as UTF-8 CSV bytes, safe to open in a spreadsheet."""
    out = table.copy()
    out[TOKEN] = out[TOKEN].astype(str).map(neutralise_formula)
    out.columns = [TOKEN] + [neutralise_formula(str(c)) for c in dims_of(table)]
    return out.to_csv(index=False, lineterminator="\n", float_format="%.10g").encode("utf-8")
