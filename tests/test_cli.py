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
from sae_core import limits
from sae_core.saelens_format import dimension_names, load_saelens
from sae_core.training import RECOMMENDED, TrainConfig, train

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


@pytest.mark.parametrize("flags, expected", [
    (["--architecture", "topk", "--k", "2"], {"architecture": "topk", "k": 2}),
    (["--architecture", "batchtopk", "--k", "3", "--auxk-weight", "0.1"], {"architecture": "batchtopk", "k": 3,
                                                                           "auxk_weight": 0.1}),
    (["--architecture", "jumprelu", "--jumprelu-threshold", "0.02", "--jumprelu-bandwidth", "0.1"],
     {"architecture": "jumprelu", "jumprelu_threshold": 0.02, "jumprelu_bandwidth": 0.1}),
])
def test_train_an_architecture_with_its_settings(capsys, seed_x, flags, expected):
    code, out, err = run_main(capsys, "train", SEED, "--epochs", "60", "--hidden-dim", "6", *flags, "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert {key: data["config"][key] for key in expected} == expected
    config = TrainConfig.from_dict(data["config"])
    np.testing.assert_allclose(data["feature_activations"], train(seed_x, config).feature_activations.T, atol=1e-6)
    if "k" in expected and expected["architecture"] == "topk":
        assert data["metrics"]["l0"] <= expected["k"]


def test_an_unknown_architecture_or_a_k_too_large_exits_2(capsys):
    code, _, err = run_main(capsys, "train", SEED, "--architecture", "gated")
    assert code == 2 and "unknown architecture 'gated' (known: batchtopk, jumprelu, standard, topk)" in err
    assert err.count("\n") == 1
    code, _, err = run_main(capsys, "train", SEED, "--architecture", "topk", "--hidden-dim", "4", "--k", "5")
    assert code == 2 and err == "error: k must be at most the hidden size (4), got 5\n"


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
    model, cfg = load_saelens(out_path)
    meta = cfg["metadata"]
    assert dimension_names(cfg) == ["d0", "d1", "d2", "d3"] and len(meta["tokens"]) == 8
    assert cfg["playground_config"].hidden_dim == 3 and meta["epochs_done"] == 100
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


# ---- SAELens folders: train --save, encode ---------------------------------------------------


def test_train_save_then_encode_gives_the_trained_activations(capsys, tmp_path, seed_x):
    folder = tmp_path / "sae"
    code, out, err = run_main(capsys, "train", SEED, "--epochs", "100", "--hidden-dim", "5", "--json",
                              "--save", str(folder), "--save-model", str(tmp_path / "m.zip"))
    assert code == 0 and err == ""
    trained = json.loads(out)
    assert sorted(p.name for p in folder.iterdir()) == ["cfg.json", "sae_weights.safetensors"]
    for model_path in (str(folder), str(tmp_path / "m.zip")):
        code, out, err = run_main(capsys, "encode", model_path, SEED, "--json")
        assert code == 0 and err == ""
        encoded = json.loads(out)
        assert set(encoded) == {"tokens", "feature_activations", "reconstructions"}
        assert encoded["tokens"] == trained["tokens"]
        np.testing.assert_allclose(encoded["feature_activations"], trained["feature_activations"], atol=1e-6)
        model, _ = load_saelens(folder)
        with torch.no_grad():
            expected = model.decode(model.encode(torch.tensor(seed_x)))[0].numpy()
        assert np.shape(encoded["reconstructions"]) == (8, 4)
        np.testing.assert_allclose(encoded["reconstructions"], expected, atol=1e-6)


def test_encode_a_zip_in_a_subprocess(tmp_path):
    zipped = tmp_path / "m.zip"
    assert run_module("train", SEED, "--epochs", "50", "--hidden-dim", "3", "--save-model", str(zipped)).returncode == 0
    done = run_module("encode", str(zipped), SEED)
    assert done.returncode == 0 and done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0] == "standard SAE, 3 features over 4 dimensions, on 8 tokens"
    assert [line.split(":")[0] for line in lines[1:]] == ["  F0", "  F1", "  F2"]


def test_encode_refuses_a_table_with_other_dimensions(capsys, tmp_path):
    folder = tmp_path / "sae"
    assert run_main(capsys, "train", SEED, "--epochs", "20", "--save", str(folder))[0] == 0
    table = tmp_path / "three.csv"
    table.write_text("token,a,b,c\nx,1,2,3\ny,4,5,6\n")
    code, out, err = run_main(capsys, "encode", str(folder), str(table), "--json")
    assert code == EXIT_BAD_INPUT and out == ""
    assert assert_one_line_error(err) == ("error: the model reads 4 dimensions (d_in) but the table has 3; "
                                          "use a table with 4 dimensions")


def test_encode_refuses_a_missing_model(capsys, tmp_path):
    code, out, err = run_main(capsys, "encode", str(tmp_path / "gone"), SEED)
    assert code == EXIT_BAD_INPUT and assert_one_line_error(err) == "error: gone: no such file or folder"


def test_large_json_prints_summaries_unless_full(capsys, monkeypatch):
    monkeypatch.setattr(limits, "MAX_JSON_MATRIX_CELLS", 8 * 4 - 1)  # 8 tokens x 4 features: one over
    args = ("train", SEED, "--epochs", "200", "--hidden-dim", "4", "--json")
    code, out, _ = run_main(capsys, *args)
    summary = json.loads(out)
    assert code == 0 and summary["summarised"] is True and "feature_activations" not in summary
    assert "8 tokens x 4 features = 32 activations is over 31" in summary["note"]
    code, out, _ = run_main(capsys, *args, "--full")
    full = json.loads(out)
    acts = np.array(full["feature_activations"])
    assert acts.shape == (4, 8) and "summarised" not in full
    assert [s["feature"] for s in summary["feature_summaries"]] == [0, 1, 2, 3]
    for s, row in zip(summary["feature_summaries"], acts):
        assert s["fires_on"] == int((row > 0).sum()) and s["max"] == pytest.approx(row.max(), abs=1e-6)
        assert len(s["top_tokens"]) == min(5, s["fires_on"])
    monkeypatch.setattr(limits, "MAX_JSON_MATRIX_CELLS", 8 * 4)  # exactly at the limit: the matrix
    assert "feature_activations" in json.loads(run_main(capsys, *args)[1])


def test_stability_json_keeps_the_best_supported_consensus_features_within_the_json_cap(capsys, monkeypatch):
    args = ("stability", SEED, "--seeds", "3", "--epochs", "100", "--hidden-dim", "32", "--json")  # many features
    everything = json.loads(run_main(capsys, *args)[1])["consensus"]
    assert len(everything) > 2
    monkeypatch.setattr(limits, "MAX_JSON_MATRIX_CELLS", 2 * (8 + 4))  # two features of 8 tokens + 4 dims
    data = json.loads(run_main(capsys, *args)[1])
    assert data["consensus"] == everything[:2] and data["consensus_left_out"] == len(everything) - 2
