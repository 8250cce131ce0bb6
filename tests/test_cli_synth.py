"""``python -m sae_core synth``: recovery metrics as JSON, the saved ground truth and SAELens folder."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from sae_core.architectures import ARCHITECTURES
from sae_core.cli import EXIT_BAD_INPUT, main
from sae_core.saelens_format import load_saelens
from sae_core.ground_truth.generators import SparseCombination, SparseCombinationConfig

SMALL = ["--dims", "16", "--features", "24", "--active", "2", "--seed", "3"]


def test_synth_json_has_the_promised_keys_and_saves_truth_and_sae(capsys, tmp_path):
    code = main(["synth", *SMALL, "--arch", "topk", "--seconds", "1", "--save", str(tmp_path), "--json"])
    out = capsys.readouterr().out
    assert code == 0
    summary = json.loads(out)
    assert set(summary) == {"mmcs", "hungarian", "explained_variance", "l0", "dead_fraction", "seconds", "steps"}
    assert summary["steps"] >= 1 and 0.9 <= summary["seconds"] < 5
    # TopK keeps k = round(active) = 2 per sample: at most 2 (ReLU may zero a kept one), nearly always 2
    assert 1.95 <= summary["l0"] <= 2.0
    assert -1 <= summary["hungarian"] <= summary["mmcs"] <= 1
    directions = load_file(str(tmp_path / "ground_truth.safetensors"))["directions"]
    truth = SparseCombination(SparseCombinationConfig(dims=16, features=24, active=2.0, seed=3))
    assert directions.shape == (24, 16)
    torch.testing.assert_close(directions, truth.directions_FD)
    model, cfg = load_saelens(tmp_path / "sae")
    assert cfg["architecture"] == "topk" and cfg["d_in"] == 16 and cfg["d_sae"] == 48
    assert cfg["metadata"]["ground_truth"]["features"] == 24
    assert cfg["metadata"]["recovery"]["mmcs"] == pytest.approx(summary["mmcs"], abs=1e-6)


def test_synth_human_output(capsys):
    assert main(["synth", *SMALL, "--arch", "standard", "--seconds", "0.5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{ARCHITECTURES['standard'].label}: 48 features on 24 true features in 16 dims")
    assert "mmcs " in out and "hungarian " in out


@pytest.mark.parametrize("args, message", [
    (["--arch", "nope"], "unknown architecture 'nope'"),
    (["--seconds", "0"], "training time must be from 0 to 120 seconds"),
    (["--dims", "1"], "dims must be a whole number from 2"),
    (["--active", "30", "--features", "24"], "active features per sample must be a number from 0.01 to 24"),
    (["--threads", "0"], "--threads must be from 1 to 64"),
])
def test_synth_bad_input_is_one_line(capsys, args, message):
    assert main(["synth", "--dims", "8", "--features", "24", "--seconds", "0.5", *args]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
