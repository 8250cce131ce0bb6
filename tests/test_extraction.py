"""Extraction from the real model (all-MiniLM-L6-v2): shapes, offsets, words, never [CLS]/[SEP]; save/load."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest

from sae_core import limits
from sae_core.errors import SAEInputError, TableError
from sae_core.real_model.extraction import (Extraction, extract, extraction_from_zip, extraction_to_zip, load_extraction,
                                 save_extraction, split_documents)

pytestmark = pytest.mark.usefixtures("offline")

TEXT = "The elephants are not robots.\nI won't say \"hello, AI-assistant\"!\n\nA dog chased the chatbot."


@pytest.fixture(scope="module")
def pieces(minilm) -> Extraction:
    return extract(TEXT, layer=3, mode="pieces")


def test_network_is_refused_here(offline):
    with pytest.raises(AssertionError, match="network access during an offline test"):
        socket.create_connection(("example.com", 80), timeout=1)
    with pytest.raises(AssertionError, match="network access"):
        socket.getaddrinfo("huggingface.co", 443)
    assert len(offline) == 2
    offline.clear()  # (these two were on purpose)


def test_documents_split_on_blank_lines_else_lines():
    assert split_documents("a b\nc\n\n d  e \n") == ["a b c", "d e"]
    assert split_documents("one\ntwo\r\nthree") == ["one", "two", "three"]
    assert split_documents(" \n\n ") == []


def test_pieces_have_spans_words_and_no_special_tokens(pieces):
    n = len(pieces.tokens)
    assert pieces.activations.shape == (n, 384) and pieces.activations.dtype == np.float32
    assert n == 26
    texts = [t["token"] for t in pieces.tokens]
    assert "[CLS]" not in texts and "[SEP]" not in texts
    assert [t["doc"] for t in pieces.tokens] == [0] * 19 + [1] * 7
    for t in pieces.tokens:  # the tokenizer's offsets point at the piece's own characters
        piece = pieces.documents[t["doc"]][t["start"] : t["end"]]
        assert piece.lower() == t["token"].removeprefix("##")
        assert t["word"] == t["word"].lower()
    by_token = {t["token"]: t["word"] for t in pieces.tokens}
    assert by_token["elephants"] == "elephants" and by_token["won"] == "won't" and by_token["t"] == "won't"
    assert by_token["assistant"] == "ai-assistant" and by_token["!"] == "!"
    assert [t["token"] for t in pieces.tokens if t["word"] == "robots"] == ["robots"]
    assert [t["token"] for t in pieces.tokens if t["word"] == "chatbot"] == ["chat", "##bot"]


def test_words_mode_is_the_mean_of_the_pieces(pieces):
    words = extract(TEXT, layer=3, mode="words")
    assert [t["token"] for t in words.tokens[:8]] == ["The", "elephants", "are", "not", "robots", ".", "I", "won't"]
    rows = [i for i, t in enumerate(pieces.tokens) if t["word"] == "won't"]
    assert len(rows) == 3
    k = next(i for i, t in enumerate(words.tokens) if t["word"] == "won't")
    np.testing.assert_allclose(words.activations[k], pieces.activations[rows].mean(axis=0), rtol=1e-5, atol=1e-5)


def test_a_layer_is_the_models_own_hidden_state(minilm, pieces):
    import torch
    enc = minilm.tokenizer(pieces.documents[1], return_tensors="pt")
    with torch.no_grad():
        hidden = minilm.model(**enc, output_hidden_states=True).hidden_states
    rows = [i for i, t in enumerate(pieces.tokens) if t["doc"] == 1]
    np.testing.assert_allclose(pieces.activations[rows], hidden[3][0, 1:-1].numpy(), atol=1e-4)
    first = extract(pieces.documents[1], layer=0)
    np.testing.assert_allclose(first.activations, hidden[0][0, 1:-1].numpy(), atol=1e-4)


def test_progress_and_the_token_cap(minilm):
    seen = []
    many = "\n".join(f"Sentence number {i} is about a cat." for i in range(50))
    out = extract(many, layer=2, max_tokens=40, on_progress=seen.append)
    assert len(out.tokens) <= 40 and out.tokens[-1]["doc"] < 10  # whole documents only
    assert seen and seen[-1].fraction == 1.0


@pytest.mark.parametrize("kwargs, message", [
    ({"text": "", "layer": 3}, "the text is empty"),
    ({"text": "hi there", "layer": 7}, "layer must be a whole number from 0 to 6"),
    ({"text": "hi there", "mode": "letters"}, "token mode must be one of"),
])
def test_bad_requests_get_one_line_errors(minilm, kwargs, message):
    with pytest.raises(SAEInputError, match=message):
        extract(**kwargs)


def test_save_and_load_round_trip(pieces, tmp_path):
    folder = save_extraction(pieces, tmp_path / "ex")
    meta = json.loads((folder / "tokens.json").read_text())
    assert meta["model"] == "sentence-transformers/all-MiniLM-L6-v2" and meta["layer"] == 3
    assert set(meta["tokens"][0]) == {"token", "word", "doc", "start", "end"}
    back = load_extraction(folder)
    np.testing.assert_array_equal(back.activations, pieces.activations)
    assert back.tokens == pieces.tokens and back.documents == pieces.documents
    zipped = extraction_from_zip(extraction_to_zip(pieces), "t.zip")
    assert zipped.tokens == pieces.tokens


def test_a_table_from_another_model_without_documents(tmp_path):
    from safetensors.numpy import save_file
    save_file({"activations": np.ones((3, 5), np.float32)}, str(tmp_path / "activations.safetensors"))
    tokens = [{"token": w, "word": w, "doc": 0, "start": 0, "end": 1} for w in ("a", "b", "c")]
    (tmp_path / "tokens.json").write_text(json.dumps({"model": "gpt2", "layer": 5, "tokens": tokens}))
    loaded = load_extraction(tmp_path)
    assert loaded.model == "gpt2" and loaded.activations.shape == (3, 5) and loaded.documents == []


@pytest.mark.parametrize("mutate, message", [
    (lambda m, a: (m, a[:2]), "lists 3 tokens but 'activations' has 2 rows"),
    (lambda m, a: ({**m, "tokens": [{**m["tokens"][0], "doc": "x"}] + m["tokens"][1:]}, a), "'doc' must be int"),
    (lambda m, a: (m, a.astype(np.float64)), "must be a 2-D float32 tensor"),
    (lambda m, a: (m, np.where(a > 0, np.nan, a).astype(np.float32)), "NaN or infinite"),
    (lambda m, a: ([1, 2], a), "must be an object with a 'tokens' list"),
])
def test_bad_folders_are_refused_in_one_line(tmp_path, mutate, message):
    from safetensors.numpy import save_file
    tokens = [{"token": w, "word": w, "doc": 0, "start": 0, "end": 1} for w in ("a", "b", "c")]
    meta, acts = mutate({"model": "m", "layer": 1, "tokens": tokens}, np.ones((3, 4), np.float32))
    save_file({"activations": acts}, str(tmp_path / "activations.safetensors"))
    (tmp_path / "tokens.json").write_text(json.dumps(meta))
    with pytest.raises(TableError, match=message) as error:
        load_extraction(tmp_path)
    assert "\n" not in str(error.value) and str(tmp_path) not in str(error.value)


def test_not_a_zip_and_too_large():
    with pytest.raises(TableError, match="not a readable zip file"):
        extraction_from_zip(b"hello", "x.zip")
    with pytest.raises(TableError, match="larger than the limit"):
        extraction_from_zip(b"0" * (limits.MAX_EXTRACTION_BYTES + 1), "x.zip")


def test_the_real_table_defaults_fit_a_table_at_the_token_cap():
    from sae_core.training import REAL_TABLE, Trainer
    x = np.random.default_rng(0).standard_normal((limits.MAX_EXTRACTED_TOKENS, 384)).astype(np.float32)
    trainer = Trainer(x, REAL_TABLE)  # refused with a one-line error if a cap forbids it
    assert (trainer.config.architecture, trainer.config.hidden_dim, trainer.config.k) == ("topk", 256, 4)  # README


def test_random_bytes_and_broken_zips_only_ever_give_a_table_error():
    import io
    import zipfile

    from hypothesis import given, settings
    from hypothesis import strategies as hs

    @settings(max_examples=60, deadline=None)
    @given(acts=hs.binary(max_size=300), meta=hs.binary(max_size=300), raw=hs.binary(max_size=200))
    def check(acts, meta, raw):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("activations.safetensors", acts)
            archive.writestr("tokens.json", meta)
        for data in (buffer.getvalue(), raw):
            try:
                extraction_from_zip(data, "fuzz.zip")
            except TableError as error:
                assert "\n" not in str(error)

    check()


def test_any_json_in_tokens_json_is_refused_cleanly_or_loaded():
    import io
    import zipfile

    from hypothesis import given, settings
    from hypothesis import strategies as hs
    from safetensors.numpy import save

    keys = hs.sampled_from(["tokens", "token", "word", "doc", "start", "end", "documents", "layer", "model", "mode"])
    leaves = hs.none() | hs.booleans() | hs.integers(-3, 10**12) | hs.floats(allow_nan=False) | hs.text(max_size=4)
    values = hs.recursive(leaves, lambda inner: hs.lists(inner, max_size=3) | hs.dictionaries(keys, inner, max_size=6),
                          max_leaves=20)
    acts = save({"activations": np.ones((2, 3), np.float32)})

    @settings(max_examples=150, deadline=None)
    @given(meta=values)
    def check(meta):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("activations.safetensors", acts)
            archive.writestr("tokens.json", json.dumps(meta))
        try:
            loaded = extraction_from_zip(buffer.getvalue(), "fuzz.zip")
        except TableError as error:
            assert "\n" not in str(error)
        else:
            assert len(loaded.tokens) == 2 and isinstance(loaded.layer, int)

    check()
