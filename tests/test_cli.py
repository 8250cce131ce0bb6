"""sae_core.cli (``python -m sae_core``): JSON and human output, one-line errors with status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from sae_core.cli import EXIT_BAD_INPUT, main
from sae_core.export import model_from_zip
from sae_core.training import RECOMMENDED, train

ROOT = Path(__file__).resolve().parents[1]
SEED = "data/seed_tokens.csv"


def run_module(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sae_core", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def assert_one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # the CLI takes paths relative to where it runs


# ---- as a real process -----------------------------------------------------------------


def test_train_json_in_a_subprocess():
    done = run_module("train", SEED, "--epochs", "300", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out = json.loads(done.stdout)
    assert {"config", "metrics", "tokens", "feature_activations", "train_seconds"} <= set(out)
    assert set(out["metrics"]) == {"mse", "explained_variance", "l0", "dead_features"}
    assert out["tokens"] == ["cat", "happy cat", "dog", "loyal dog", "not cat", "not dog", "robot",
                             "AI assistant"]
    assert out["config"] == replace(RECOMMENDED, epochs=300).to_dict()  # the CLI starts from RECOMMENDED
    acts = out["feature_activations"]  # one list of 8 tokens per feature
    assert len(acts) == RECOMMENDED.hidden_dim and all(len(row) == 8 for row in acts)
    assert all(a >= 0 for row in acts for a in row)
    assert out["metrics"]["explained_variance"] > 0.8
    assert 0 <= out["metrics"]["dead_features"] <= RECOMMENDED.hidden_dim
    assert out["train_seconds"] >= 0 and out["epochs_done"] == 300


def test_missing_file_in_a_subprocess():
    done = run_module("train", "no/such/table.csv")
    assert done.returncode == EXIT_BAD_INPUT and done.stdout == ""
    line = assert_one_line_error(done.stderr)
    assert "table.csv: file not found" in line and "no/such" not in line


def test_unknown_flag_in_a_subprocess():
    done = run_module("train", SEED, "--frobnicate", "3")
    assert done.returncode == EXIT_BAD_INPUT and done.stdout == ""
    assert "unrecognized arguments: --frobnicate" in assert_one_line_error(done.stderr)


# ---- in process ----------------------------------------------------------------------------


def test_train_json_matches_the_engine(capsys, seed_x):
    code, out, err = run_main(capsys, "train", SEED, "--epochs", "120", "--hidden-dim", "4",
                              "--sparsity-weight", "0.05", "--lr", "0.02", "--seed", "3", "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    expected = train(seed_x, replace(RECOMMENDED, hidden_dim=4, sparsity_weight=0.05, lr=0.02, epochs=120, seed=3))
    assert data["config"] == expected.config.to_dict()
    np.testing.assert_allclose(data["feature_activations"], expected.feature_activations.T, atol=1e-6)
    assert data["metrics"]["mse"] == pytest.approx(expected.metrics.mse)


def test_train_options_are_flags(capsys):
    code, out, _ = run_main(capsys, "train", SEED, "--epochs", "50", "--unit-norm-decoder", "--tied-init",
                            "--no-init-decoder-bias-to-mean", "--resample-dead-every", "10", "--json")
    assert code == 0
    config = json.loads(out)["config"]
    assert config["unit_norm_decoder"] is True and config["tied_init"] is True
    assert config["init_decoder_bias_to_mean"] is False and config["resample_dead_every"] == 10
    code, out, _ = run_main(capsys, "train", SEED, "--epochs", "50", "--no-tied-init", "--json")
    assert code == 0 and json.loads(out)["config"]["tied_init"] is False


def test_human_summary(capsys):
    code, out, err = run_main(capsys, "train", SEED, "--epochs", "300", "--hidden-dim", "5")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("trained 5 features for 300 epochs")
    assert "explained variance" in lines[1] and "MSE" in lines[1] and "dead" in lines[1]
    features = [line.strip() for line in lines[2:]]
    assert [f.split(":")[0] for f in features] == ["F0", "F1", "F2", "F3", "F4"]
    assert all(f.endswith("(dead)") or any(t in f for t in ("cat", "dog", "robot", "AI")) for f in features)


BAD_ARGS = [
    (["train", "missing.csv"], "missing.csv: file not found"),
    (["train", SEED, "--hidden-dim", "0"], "hidden size"),
    (["train", SEED, "--hidden-dim", "abc"], "invalid int value: 'abc'"),
    (["train", SEED, "--sparsity-weight", "-1"], "sparsity weight"),
    (["train", SEED, "--lr", "nan"], "learning rate"),
    (["train", SEED, "--lr", "0"], "learning rate"),
    (["train", SEED, "--epochs", "1000000000"], "epochs"),
    (["train", SEED, "--seed", "-1"], "seed"),
    (["train", SEED, "--architecture", "gated"], "unknown architecture"),
    (["train", SEED, "--bogus"], "unrecognized arguments: --bogus"),
    (["train"], "required: table"),
    ([], "required: command"),
    (["fly", SEED], "invalid choice: 'fly'"),
    (["stability", SEED, "--seeds", "0"], "--seeds must be from 1 to 64"),
    (["stability", SEED, "--seeds", "65"], "--seeds must be from 1 to 64"),
    (["sweep", SEED, "--hidden-dims", "4,x", "--sparsity-weights", "0.1"], "--hidden-dims"),
    (["sweep", SEED, "--hidden-dims", ",", "--sparsity-weights", "0.1"], "at least one hidden size"),
    (["sweep", SEED, "--hidden-dims", "4"], "required: --sparsity-weights"),
]


@pytest.mark.parametrize("args, expected", BAD_ARGS, ids=[" ".join(a) or "(none)" for a, _ in BAD_ARGS])
def test_bad_input_exits_2_with_one_line(capsys, args, expected):
    code, out, err = run_main(capsys, *args)
    assert code == EXIT_BAD_INPUT
    assert out == ""
    line = assert_one_line_error(err)
    assert expected in line, line


@pytest.mark.parametrize("content, expected", [
    (b"", "bad.csv: the file is empty"),
    (b"token,a,b\ncat,1,2\ndog,x,4\n", "bad.csv: line 3, column 'a'"),
    (b"token,a\ncat,1\ndog,2\n", "bad.csv: has 1 dimension"),
    (b"\xff\xfe\x00\x01", "bad.csv: not UTF-8"),
])
def test_bad_csv_exits_2_without_the_path(capsys, tmp_path, content, expected):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    code, out, err = run_main(capsys, "train", str(path), "--epochs", "10")
    assert code == EXIT_BAD_INPUT and out == ""
    line = assert_one_line_error(err)
    assert expected in line and str(tmp_path) not in line


def test_save_model_writes_a_loadable_zip(capsys, tmp_path, seed_x):
    out_path = tmp_path / "model.zip"
    code, out, err = run_main(capsys, "train", SEED, "--epochs", "100", "--hidden-dim", "3", "--json",
                              "--save-model", str(out_path))
    assert code == 0 and err == ""
    model, meta = model_from_zip(out_path.read_bytes(), out_path.name)
    assert meta["dims"] == ["d0", "d1", "d2", "d3"] and len(meta["tokens"]) == 8
    assert meta["config"]["hidden_dim"] == 3 and meta["epochs_done"] == 100
    with torch.no_grad():
        f = model.encode(torch.tensor(seed_x))[0].numpy()
    np.testing.assert_allclose(f.T, json.loads(out)["feature_activations"], atol=1e-6)


def test_save_model_to_an_unwritable_place(capsys, tmp_path):
    code, out, err = run_main(capsys, "train", SEED, "--epochs", "10",
                              "--save-model", str(tmp_path / "no_dir" / "m.zip"))
    assert code == EXIT_BAD_INPUT and out == ""
    assert "cannot write the model file" in assert_one_line_error(err)


def test_stability_json(capsys):
    code, out, err = run_main(capsys, "stability", SEED, "--seeds", "3", "--epochs", "200", "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["seeds"] == 3
    assert set(data["recovered"]) == {"animal", "robot/AI", "not an animal"}
    assert all(0 <= n <= 3 for n in data["recovered"].values())
    assert data["consensus"] and all(1 <= c["seeds"] <= 3 for c in data["consensus"])


def test_stability_from_a_first_seed_matches_those_seeds(capsys, seed_x, seed_tokens):
    from recovery_rule import recovered_independently
    from sae_core.features import load_references
    from sae_core.training import train_seeds

    code, out, err = run_main(capsys, "stability", SEED, "--seeds", "3", "--first-seed", "106", "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["first_seed"] == 106 and data["seeds"] == 3
    refs = load_references(SEED, seed_tokens)
    results = train_seeds(seed_x, RECOMMENDED, [106, 107, 108])
    per_seed = [sum(recovered_independently(r.feature_activations, seed_tokens, ref.tokens) for ref in refs)
                for r in results]
    assert data["recovered_per_seed"] == per_seed == [2, 2, 2]  # 106 misses animal, 107 and 108 not an animal
    code, out, err = run_main(capsys, "stability", SEED, "--seeds", "3", "--first-seed", "106")
    assert "3 seeds (106-108) trained together" in out
    assert "seeds recovering at least k of the named features: k=1: 3, k=2: 3, k=3: 0" in out


def test_stability_refuses_a_negative_first_seed(capsys):
    code, out, err = run_main(capsys, "stability", SEED, "--first-seed", "-1")
    assert code == EXIT_BAD_INPUT and out == ""
    assert "--first-seed must be from 0 to" in assert_one_line_error(err)


def test_sweep_json(capsys):
    code, out, err = run_main(capsys, "sweep", SEED, "--hidden-dims", "2,4", "--sparsity-weights",
                              "0.01,0.1", "--epochs", "100", "--json")
    assert code == 0 and err == ""
    models = json.loads(out)["models"]
    assert [(m["hidden_dim"], m["sparsity_weight"]) for m in models] == [(2, 0.01), (2, 0.1), (4, 0.01), (4, 0.1)]
    assert [m["point"] for m in models] == [0, 1, 2, 3]
