"""The predicted peak memory of a request: bytes of the whole process, as a function of its sizes.

Every command and page action is a sum of a few terms, each a count of float32 cells times the
copies alive at once (README, "Memory"; ``benchmarks/bench_memory.py`` checks each prediction
against the measured peak RSS of the command on generated corner requests):

- ``BASELINE``: the interpreter with torch, numpy and pandas imported (measured),
- the table: parsing a CSV peaks at ``CSV_BYTES_PER_FILE_BYTE`` per byte of the file; kept, it is
  a float64 DataFrame and float32 copies (``TABLE_BYTES_PER_CELL``),
- a run (``Trainer``, S members padded to width H, D dims, N tokens, mini-batches of b): its
  weights ``WEIGHT_BYTES_PER_CELL`` x S H D (encoder and decoder, each with gradient, two Adam
  moments and Adam's temporary, the per-member copies of the results); then the larger of one
  training step, ``SAE.step_copies`` x S b (H + D) float32 cells (the architecture's own count,
  autograd's saved tensors included), and the results, ``RESULT_COPIES`` x S N (H + D) (evaluation,
  the activations and their per-member copies),
- what a command adds: per-feature Python objects of a stability comparison, JSON built in memory
  (numbers as Python floats and text; rows that are streamed cost one row).

``refuse_over_budget`` turns a prediction over ``BUDGET`` into one line naming the sizes to lower;
``Trainer`` calls it, so the caps in ``sae_core.limits`` follow from this model (tests check
that every cap's corner is predicted under the budget).
"""

from __future__ import annotations

import os

from . import limits
from .errors import ConfigError

MB = 1 << 20
# every request the caps allow stays at or under this, whole process; a server with more memory may raise it
# (SAE_PLAYGROUND_MEMORY_MB; benchmarks/bench_memory.py raises it to measure what the model refuses)
BUDGET = int(os.environ.get("SAE_PLAYGROUND_MEMORY_MB", "900")) * MB
BASELINE = 325 * MB  # measured: `python -m sae_core train data/seed_tokens.csv --epochs 10` peaks at 295-323 MB
FLOAT = 4  # bytes of a float32 cell
CSV_BYTES_PER_FILE_BYTE = 26  # measured: read_table peaks at 23-25 x the file's size (Python's csv, then pandas)
TABLE_BYTES_PER_CELL = 16  # the float64 DataFrame and the float32 matrix the run trains on
# encoder + decoder: value, gradient, two Adam moments, Adam's sqrt temporary (10 x 4 bytes); the
# results' per-member model copy and decoder directions (3 x 4); a decoder-norm temporary (4)
WEIGHT_BYTES_PER_CELL = 56
RESULT_COPIES = 3.5  # measured 3.3 for every architecture: evaluation, the activations, per-member copies
FEATURE_OBJECT_BYTES = 1_500  # stability: per (seed, feature) active set, match entry and summary (measured)
JSON_NUMBER_BYTES = 48  # a number in a JSON list built in memory: a Python float, its slot and its text
SUMMARY_BYTES = 2_000  # one feature's summary in --json above the matrix cap (a dict of top tokens)


def trainer_bytes(rows: int, dims: int, widths: list[int], batch: int | None = None,
                  step_copies: float | None = None) -> int:
    """A batched run's tensors (without the baseline or the table): members of ``widths`` features
    (padded to the widest), ``rows`` tokens of ``dims`` dims in batches of ``batch`` rows."""
    from .architectures.base import SAE
    members, width = len(widths), max(widths)
    batch_rows = min(rows, batch or rows)
    copies = SAE.step_copies if step_copies is None else step_copies
    weights = WEIGHT_BYTES_PER_CELL * members * width * dims
    step = copies * members * batch_rows * (width + dims) * FLOAT
    results = RESULT_COPIES * members * rows * (width + dims) * FLOAT
    return int(weights + max(step, results))


def table_bytes(rows: int, dims: int, csv_bytes: int = 0) -> tuple[int, int]:
    """(parsing peak, kept afterwards) of a table of ``rows`` x ``dims`` read from a CSV of ``csv_bytes``."""
    return CSV_BYTES_PER_FILE_BYTE * csv_bytes, TABLE_BYTES_PER_CELL * rows * dims


def json_bytes(tokens: int, features: int, full: bool, members: int = 1) -> int:
    """``--json`` output: rows streamed one at a time, or per-feature summaries above the matrix cap."""
    if tokens * features > limits.MAX_JSON_MATRIX_CELLS and not full:
        return SUMMARY_BYTES * features
    return JSON_NUMBER_BYTES * features * members


def _whole(csv_bytes: int, rows: int, dims: int, run: int) -> int:
    parse, kept = table_bytes(rows, dims, csv_bytes)
    return BASELINE + max(parse, kept + run)


def train(rows: int, dims: int, hidden: int, batch: int, csv_bytes: int = 0, json: bool = False,
          full: bool = False, step_copies: float | None = None) -> int:
    """``train TABLE.csv`` (the Train page: the same run, the CSV upload parsed once)."""
    out = json_bytes(rows, hidden, full) if json else 0
    return _whole(csv_bytes, rows, dims, trainer_bytes(rows, dims, [hidden], batch, step_copies) + out)


def stability(rows: int, dims: int, hidden: int, seeds: int, batch: int, csv_bytes: int = 0,
              json: bool = False, full: bool = False, step_copies: float | None = None) -> int:
    """``stability`` (the Stability page): S seeds at once, then matched feature by feature; its JSON
    holds the consensus (capped at MAX_JSON_MATRIX_CELLS numbers) and, with ``--full``, streams each seed."""
    out = JSON_NUMBER_BYTES * limits.MAX_JSON_MATRIX_CELLS if json else 0
    compare = FEATURE_OBJECT_BYTES * seeds * hidden
    return _whole(csv_bytes, rows, dims, trainer_bytes(rows, dims, [hidden] * seeds, batch, step_copies)
                  + compare + out)


def run(rows: int, dims: int, widths: list[int], batch: int, csv_bytes: int = 0,
        step_copies: float | None = None) -> int:
    """One batched run of models of ``widths`` on the table: what every ``Trainer`` checks
    (``training.check_memory``), and ``sweep`` (the Sweep page: one model per grid point, all at once)."""
    return _whole(csv_bytes, rows, dims, trainer_bytes(rows, dims, widths, batch, step_copies))


def encode(rows: int, dims: int, hidden: int, csv_bytes: int = 0, json: bool = False, full: bool = False) -> int:
    """``encode MODEL TABLE`` (a model loaded on the Train page): the file's bytes, its tensors and the model;
    activations and reconstructions (their float64 rounding for JSON, one row at a time)."""
    model = 3 * 2 * hidden * dims * FLOAT
    cells = RESULT_COPIES * rows * (hidden + dims) * FLOAT
    out = json_bytes(rows, hidden, full) if json else 0
    return _whole(csv_bytes, rows, dims, model + int(cells) + out)


def extracted(rows: int, dims: int, hidden: int, batch: int, archive_bytes: int = 0,
              step_copies: float | None = None) -> int:
    """``train DIR`` (the Real model page's Train): an extracted table (read once from its file) trained."""
    table = 2 * rows * dims * FLOAT + archive_bytes
    return BASELINE + table + trainer_bytes(rows, dims, [hidden], batch, step_copies)


def split(rows: int, dims: int, sizes: list[int], batch: int, step_copies: float | None = None) -> int:
    """``split DIR`` (the Real model page's dictionary sizes): one run per size, one after another; every
    trained model is kept, and each size is measured on the whole table (activations, F1 per concept)."""
    table = 2 * rows * dims * FLOAT
    runs = max(trainer_bytes(rows, dims, [h], batch, step_copies) for h in sizes)
    kept = sum(2 * h * dims * FLOAT for h in sizes[:-1])
    return BASELINE + table + kept + runs


# the ground-truth lab and the real model: terms measured with benchmarks/bench_memory.py
EXTRACT_MODEL = 250 * MB  # MiniLM's weights, tokenizer and transformers' imports
EXTRACT_BYTES_PER_CHAR = 40  # the text, its tokenisation and the documents kept
EXTRACT_BYTES_PER_ROW = 20 * 384 * FLOAT  # hidden states of the kept rows across the layers run, and copies


def extract(chars: int, rows: int) -> int:
    """``extract TEXT`` (the Real model page's Extract): the model, the text and the rows it keeps."""
    return BASELINE + EXTRACT_MODEL + EXTRACT_BYTES_PER_CHAR * chars + EXTRACT_BYTES_PER_ROW * rows


def synth(dims: int, features: int, width: int, batch: int, eval_samples: int = 4096,
          step_copies: float | None = None) -> int:
    """``synth`` (the Superposition page, per architecture): streamed batches of ``batch`` samples, the true
    directions, the held-out samples with their codes, and the true-vs-learned cosines (float64 for the
    Hungarian matching)."""
    truth = 2 * features * dims * FLOAT + 2 * eval_samples * (features + dims) * FLOAT
    cosines = 4 * features * width * 8
    evaluation = RESULT_COPIES * eval_samples * (width + dims) * FLOAT
    run = trainer_bytes(batch, dims, [width], batch, step_copies)
    return int(BASELINE + truth + max(run, evaluation + cosines))


def refuse_over_budget(predicted: int, what: str, lower: str) -> None:
    """One line, when ``predicted`` bytes are over ``BUDGET``: the request (``what``) and what to lower."""
    if predicted > BUDGET:
        raise ConfigError(f"{what} would take about {predicted / MB:,.0f} MB, over the memory budget of "
                          f"{BUDGET / MB:,.0f} MB; {lower}")
