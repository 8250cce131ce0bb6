"""CLI on the real model: extract a text, train on the extracted folder, save a SAELens folder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sae_core.cli import main

pytestmark = pytest.mark.usefixtures("offline")


@pytest.fixture(scope="module")
def extracted(minilm, tmp_path_factory):
    folder = tmp_path_factory.mktemp("real")
    text = folder / "story.txt"
    text.write_text("The cat is not a robot.\n\nA loyal dog chased the AI assistant.\n", encoding="utf-8")
    return folder, text


def test_extract_writes_the_folder_and_prints_json(extracted, capsys):
    folder, text = extracted
    assert main(["extract", str(text), "--layer", "2", "--out", str(folder / "ex"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tokens"] == 15 and out["dims"] == 384 and out["tokens_per_second"] > 0
    meta = json.loads((folder / "ex" / "tokens.json").read_text())
    assert meta["layer"] == 2 and len(meta["tokens"]) == 15
    assert [t["word"] for t in meta["tokens"][:3]] == ["the", "cat", "is"]
    from safetensors.numpy import load_file
    assert load_file(str(folder / "ex" / "activations.safetensors"))["activations"].shape == (15, 384)


def test_train_on_the_folder_saves_saelens_that_encodes_raw_activations(extracted, capsys):
    folder, text = extracted
    main(["extract", str(text), "--layer", "2", "--out", str(folder / "ex2")])
    capsys.readouterr()
    code = main(["train", str(folder / "ex2"), "--hidden-dim", "32", "--epochs", "30", "--sparsity-weight", "0.1",
                 "--save", str(folder / "sae"), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["config"]["hidden_dim"] == 32 and out["config"]["tied_init"] is True  # REAL_TABLE's options
    assert out["layer"] == 2 and out["tokens"] == 15
    from sae_core.real_model.extraction import load_extraction
    from sae_core.saelens_format import load_saelens
    model, cfg = load_saelens(folder / "sae")
    assert cfg["d_in"] == 384 and cfg["d_sae"] == 32
    assert cfg["metadata"]["activations_from"]["layer"] == 2
    x = load_extraction(folder / "ex2").activations
    sae_lens = pytest.importorskip("sae_lens")
    sae = sae_lens.SAE.load_from_disk(str(folder / "sae"), device="cpu")
    import torch
    with torch.no_grad():
        theirs = sae.encode(torch.from_numpy(x)).numpy()
        ours = model.encode(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(theirs, ours, atol=1e-4)


def test_bad_layer_and_missing_file_exit_2(extracted, capsys):
    folder, text = extracted
    assert main(["extract", str(text), "--layer", "9", "--out", str(folder / "x")]) == 2
    assert capsys.readouterr().err == "error: --layer: layer must be a whole number from 0 to 6 (got 9)\n"
    assert main(["train", str(folder / "nothing-here")]) == 2
    assert main(["extract", str(folder / "missing.txt"), "--out", str(folder / "x")]) == 2
    assert "missing.txt: cannot be read" in capsys.readouterr().err


def test_the_clis_layer_bound_is_the_models(minilm):
    from sae_core.real_model.extraction import LAYERS
    assert minilm.n_layers == LAYERS  # extraction.LAYERS (no model loaded) says what the model has
