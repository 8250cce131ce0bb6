"""sae_core.cli (``python -m sae_core``): JSON and human output, one-line errors with status 2, flags and
their help generated from the declarations (an architecture registered later gets its flags)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from sae_core.architectures import ARCHITECTURES, OPTIONS, option_of, register, unregister
from sae_core.architectures.standard import StandardSAE
from sae_core.cli import EXIT_BAD_INPUT, build_parser, main
from sae_core import limits
from sae_core.options import Option
from sae_core.real_model import extraction
from sae_core.saelens_format import dimension_names, load_saelens
from sae_core.sweep import knob_of
from sae_core.training import RECOMMENDED, TrainConfig, all_settings, train

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
    assert code == 2
    assert err == ("error: --architecture/--arch: unknown architecture 'gated' "
                   "(known: batchtopk, jumprelu, matryoshka, standard, topk)\n")
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


HIDDEN_RANGE = f"a whole number from 1 to {limits.MAX_HIDDEN:,}"
BAD_ARGS = [
    (["train", "missing.csv"], "missing.csv: file not found"),
    (["train", SEED, "--hidden-dim", "0"], f"--hidden-dim: hidden size must be {HIDDEN_RANGE} (got 0)"),
    (["train", SEED, "--hidden-dim", "abc"], f"--hidden-dim: hidden size must be {HIDDEN_RANGE} (got 'abc')"),
    (["train", SEED, "--hidden-dim", "2.5"], f"--hidden-dim: hidden size must be {HIDDEN_RANGE} (got '2.5')"),
    (["train", SEED, "--sparsity-weight", "-1"], "--sparsity-weight: sparsity weight must be from 0 to 100 (got -1.0)"),
    (["train", SEED, "--lr", "nan"], "--lr: learning rate must be from 1e-06 to 10 (got nan)"),
    (["train", SEED, "--lr", "0"], "--lr: learning rate must be from 1e-06 to 10 (got 0.0)"),
    (["train", SEED, "--epochs", "1000000000"], "--epochs: epochs must be a whole number from 1 to 100,000 "
                                                "(got 1000000000)"),
    (["train", SEED, "--seed", "-1"], "--seed: seed must be a whole number from 0 to 2^31-1 = 2,147,483,647 (got -1)"),
    (["train", SEED, "--k", "0"], f"--k: k must be {HIDDEN_RANGE} (got 0)"),
    (["train", SEED, "--auxk-weight", "x"], "--auxk-weight: AuxK weight must be from 0 to 100 (got 'x')"),
    (["train", SEED, "--jumprelu-threshold", "0"],  # its noun and range as jumprelu.py declares them
     f"--jumprelu-threshold: {OPTIONS['jumprelu_threshold'].what} must be "
     f"{OPTIONS['jumprelu_threshold'].describe_range()} (got 0.0)"),
    (["train", SEED, "--architecture", "gated"], "--architecture/--arch: unknown architecture 'gated' "
                                                 "(known: batchtopk, jumprelu, matryoshka, standard, topk)"),
    (["train", SEED, "--tied-init", "1"], "python -m sae_core: unrecognized arguments: 1"),
    (["train", SEED, "--bogus"], "python -m sae_core: unrecognized arguments: --bogus"),
    (["train", SEED, "--arc", "topk"], "python -m sae_core: unrecognized arguments: --arc topk"),  # no abbreviations
    (["train", SEED, "--epochs"], "--epochs: expected one argument"),
    (["train"], "python -m sae_core train: the following arguments are required: table"),
    ([], "python -m sae_core: the following arguments are required: command"),
    (["fly", SEED], "python -m sae_core: argument command: invalid choice: 'fly' (choose from 'train', 'encode', "
                    "'stability', 'sweep', 'synth', 'extract', 'split', 'handoff')"),
    (["stability", SEED, "--seeds", "0"], "--seeds: number of seeds must be a whole number from 1 to 64 (got 0)"),
    (["stability", SEED, "--seeds", "65"], "--seeds: number of seeds must be a whole number from 1 to 64 (got 65)"),
    (["stability", SEED, "--seed", "3"], "python -m sae_core: unrecognized arguments: --seed 3"),  # --first-seed
    (["sweep", SEED, "--hidden-dims", "4,x"], f"--hidden-dims: hidden size must be {HIDDEN_RANGE} (got 'x')"),
    (["sweep", SEED, "--hidden-dims", ","], "a sweep needs at least one hidden size, one sparsity weight and one seed"),
    (["sweep", SEED, "--hidden-dims", "4", "--knob-values", "0.1,x"],
     "--knob-values: standard sweeps sparsity weight, and sparsity weight must be from 0 to 100 (got 'x')"),
    (["sweep", SEED, "--hidden-dims", "4", "--architecture", "topk", "--knob-values", "1,0.5"],
     f"--knob-values: topk sweeps k, and k must be {HIDDEN_RANGE} (got '0.5')"),
    (["sweep", SEED, "--hidden-dims", "4", "--architecture", "batchtopk", "--k", "2"],
     "--k: a sweep of batchtopk varies k; give its values with --knob-values"),
    (["sweep", SEED, "--hidden-dims", "4", "--sparsity-weight", "0.1"],
     "--sparsity-weight: a sweep of standard varies sparsity weight; give its values with --knob-values"),
    (["sweep", SEED, "--hidden-dims", "4", "--hidden-dim", "4"], "python -m sae_core: unrecognized arguments: "
                                                                 "--hidden-dim 4"),
    (["sweep", SEED, "--hidden-dims", "4", "--sparsity-weights", "0.1"],
     "python -m sae_core: unrecognized arguments: --sparsity-weights 0.1"),  # now --knob-values, for any knob
    (["sweep", SEED], "python -m sae_core sweep: the following arguments are required: --hidden-dims"),
    (["extract", "story.txt", "--layer", "7", "--out", "x"], "--layer: layer must be a whole number from 0 to 6 (got 7)"),
    (["extract", "story.txt", "--mode", "chars", "--out", "x"],
     "--mode: invalid choice: 'chars' (choose from 'pieces', 'words')"),
    (["extract", "story.txt", "--threads", "0", "--out", "x"],
     "--threads: torch threads must be a whole number from 1 to 64 (got 0)"),
]


@pytest.mark.parametrize("args, expected", BAD_ARGS, ids=[" ".join(a) or "(none)" for a, _ in BAD_ARGS])
def test_bad_input_exits_2_with_one_line(capsys, args, expected):
    code, out, err = run_main(capsys, *args)
    assert code == EXIT_BAD_INPUT
    assert out == ""
    assert assert_one_line_error(err) == f"error: {expected}"


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


def test_stability_json(capsys, seed_x, seed_tokens):
    """The CLI's numbers against the same seeds trained through the Python API, judged by the recovery
    rule written out in tests/recovery_rule.py (not sae_core's), and the known values."""
    from recovery_rule import recovered_independently
    from sae_core.features import load_references
    from sae_core.training import train_seeds

    code, out, err = run_main(capsys, "stability", SEED, "--seeds", "3", "--epochs", "200", "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    config = replace(RECOMMENDED, epochs=200)
    assert data["seeds"] == 3 and data["first_seed"] == 0 and data["config"] == config.to_dict()
    results = train_seeds(seed_x, config, [0, 1, 2])
    refs = load_references(SEED, seed_tokens)
    hits = {ref.name: [recovered_independently(r.feature_activations, seed_tokens, ref.tokens) for r in results]
            for ref in refs}
    assert data["recovered"] == {name: sum(h) for name, h in hits.items()} == {
        "animal": 2, "robot/AI": 0, "not an animal": 3}
    assert data["recovered_per_seed"] == [sum(h[s] for h in hits.values()) for s in range(3)] == [2, 2, 1]
    # the best-supported consensus feature is "not an animal", in all 3 seeds; its activation is the
    # median over every seed's features whose active set (>= 25% of the peak) is exactly that set
    named = set(next(ref.tokens for ref in refs if ref.name == "not an animal"))
    best = data["consensus"][0]
    assert best["seeds"] == 3 and best["reference"] == "not an animal" and set(best["active_tokens"]) == named
    members = [column for r in results for column in r.feature_activations.T
               if column.max() > 1e-3 and {t for t, a in zip(seed_tokens, column) if a >= 0.25 * column.max()} == named]
    assert len(members) == 6  # one feature in seeds 0 and 1, four in seed 2
    np.testing.assert_allclose(best["activation"], np.median(members, axis=0), rtol=0, atol=1e-6)
    assert [c["seeds"] for c in data["consensus"]] == [3, 2]


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
    assert assert_one_line_error(err) == ("error: --first-seed: first seed must be a whole number from 0 to "
                                          f"{limits.MAX_SEED - limits.MAX_SEEDS:,} (got -1)")


PAIR = "not an animal > robot/AI"
ARCH_KEYS = {"config", "seeds", "recovered", "recovered_per_seed", "median_jaccard", "near_miss", "l0",
             "live_features", "live_features_max", "explained_variance", "absorption", "absorption_per_seed",
             "epochs_done", "train_seconds"}


def test_stability_json_has_absorption_and_full_adds_every_seeds_activations(capsys, seed_x, seed_tokens):
    """Absorption (issue 15) beside the old keys; --full: each seed's activations, as the API trains them."""
    from sae_core.training import train_seeds

    args = ("stability", SEED, "--seeds", "2", "--first-seed", "40", "--epochs", "200", "--json")
    data = json.loads(run_main(capsys, *args)[1])
    assert set(data) == {"seeds", "config", "recovered", "absorption", "absorption_per_seed", "consensus",
                         "train_seconds", "first_seed", "recovered_per_seed"}
    results = train_seeds(seed_x, replace(RECOMMENDED, epochs=200), [40, 41])
    rest, inner = {"not cat", "not dog"}, {"robot", "AI assistant"}
    per_seed = []
    for r in results:  # the feature covering most of {not cat, not dog}; the share of robot/AI it misses
        sets = [{t for t, a in zip(seed_tokens, c) if c.max() > 1e-3 and a >= 0.25 * c.max()}
                for c in r.feature_activations.T]
        best = max((s for s in sets if s & rest), default=None,  # first of the best: the lowest index
                   key=lambda s: (len(s & rest), len(s & (rest | inner)) / len(s | rest | inner)))
        per_seed.append(1.0 if best is None else len(inner - best) / 2)
    assert data["absorption_per_seed"] == [{PAIR: v} for v in per_seed]
    assert data["absorption"] == {PAIR: pytest.approx(np.mean(per_seed))}
    full = json.loads(run_main(capsys, *args, "--full")[1])
    assert {k: v for k, v in full.items() if k not in ("runs", "train_seconds")} == \
        {k: v for k, v in data.items() if k != "train_seconds"}
    assert [r["seed"] for r in full["runs"]] == [40, 41]
    for run, r in zip(full["runs"], results):
        assert np.shape(run["feature_activations"]) == (8, 8)  # one list per token, one number per feature
        np.testing.assert_allclose(run["feature_activations"], r.feature_activations, atol=1e-6)


def test_stability_architectures_side_by_side_json(capsys, seed_x, seed_tokens):
    """Each architecture's recipe for the table on the same seeds: its counts equal that recipe trained alone
    through the Python API, counted by tests/recovery_rule.py."""
    from recovery_rule import recovered_independently
    from sae_core.examples import example_settings
    from sae_core.features import load_references
    from sae_core.training import train_seeds

    code, out, err = run_main(capsys, "stability", SEED, "--architectures", "standard,topk,jumprelu", "--seeds", "3",
                              "--first-seed", "50", "--epochs", "150", "--json", "--full")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert set(data) == {"tokens", "first_seed", "seeds", "architectures"}
    assert data["tokens"] == seed_tokens and (data["first_seed"], data["seeds"]) == (50, 3)
    assert list(data["architectures"]) == ["standard", "topk", "jumprelu"]
    refs = load_references(SEED, seed_tokens)
    shipped = example_settings("seed_tokens")  # data/seed_tokens.settings.json, beside the table
    for key, got in data["architectures"].items():
        assert set(got) == ARCH_KEYS | {"runs"}
        config = replace(shipped.recipe(key), epochs=150)  # the flag given changes every recipe
        assert got["config"] == replace(config, seed=50).to_dict()  # its seed: the first seed
        assert got["config"]["architecture"] == key
        results = train_seeds(seed_x, config, [50, 51, 52])
        assert got["recovered"] == {ref.name: sum(recovered_independently(r.feature_activations, seed_tokens,
                                                                          ref.tokens) for r in results)
                                    for ref in refs}
        assert got["l0"] == pytest.approx(np.mean([(r.feature_activations > 0).sum(axis=1).mean() for r in results]),
                                          abs=1e-6)
        assert got["live_features"] == pytest.approx(
            np.mean([(r.feature_activations > 0).any(axis=0).sum() for r in results]), abs=1e-6)
        assert set(got["absorption"]) == {PAIR} and 0 <= got["absorption"][PAIR] <= 1
        assert set(got["median_jaccard"]) == set(got["near_miss"]) == {r.name for r in refs}
        assert [run["seed"] for run in got["runs"]] == [50, 51, 52]
        for run, r in zip(got["runs"], results):
            assert np.shape(run["feature_activations"]) == (8, config.hidden_dim)
            np.testing.assert_allclose(run["feature_activations"], r.feature_activations, atol=1e-6)
    assert data["architectures"]["topk"]["config"]["k"] == 2  # the recipe shipped for TopK
    no_full = json.loads(run_main(capsys, "stability", SEED, "--architectures", "topk", "--seeds", "2",
                                  "--epochs", "50", "--json")[1])
    assert set(no_full["architectures"]["topk"]) == ARCH_KEYS


def test_stability_architectures_all_and_a_table_without_settings(capsys, tmp_path):
    from sae_core.examples import architecture_recipe

    table = tmp_path / "mine.csv"
    table.write_text("token,a,b\nx,1,0\ny,0,1\nz,1,1\n")
    code, out, err = run_main(capsys, "stability", str(table), "--architectures", "all", "--seeds", "2",
                              "--epochs", "20", "--json")
    data = json.loads(out)
    assert list(data["architectures"]) == list(ARCHITECTURES)
    for key, got in data["architectures"].items():  # no settings file: the defaults over RECOMMENDED's shared ones
        assert got["config"] == replace(architecture_recipe(key), epochs=20).to_dict()
        assert got["recovered"] == {} and got["absorption"] == {} and got["near_miss"] == {}
    code, out, err = run_main(capsys, "stability", str(table), "--architectures", "topk", "--seeds", "2",
                              "--epochs", "20")
    assert code == 0 and out.startswith("2 seeds (0-1), each architecture's recipe on the same seeds:")
    assert "  topk: L0 " in out


@pytest.mark.parametrize("args, message", [
    (["--architectures", "topk,nope"], "--architectures: unknown architecture 'nope'"),
    (["--architectures", ","], "--architectures: name at least one architecture"),
    (["--architectures", "topk", "--architecture", "standard"],
     "--architecture and --architectures do not go together"),
])
def test_stability_architectures_refuses_bad_input(capsys, args, message):
    code, out, err = run_main(capsys, "stability", SEED, *args)
    assert code == EXIT_BAD_INPUT and out == ""
    assert message in assert_one_line_error(err)


def test_sweep_json(capsys):
    code, out, err = run_main(capsys, "sweep", SEED, "--hidden-dims", "2,4", "--knob-values",
                              "0.01,0.1", "--epochs", "100", "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["architecture"] == "standard" and data["knob"] == "sparsity_weight"
    models = data["models"]
    assert [(m["hidden_dim"], m["sparsity_weight"]) for m in models] == [(2, 0.01), (2, 0.1), (4, 0.01), (4, 0.1)]
    assert [m["point"] for m in models] == [0, 1, 2, 3]


def test_a_sweep_over_k_equals_training_each_k_alone(capsys, seed_x):
    """--knob-values is read by the architecture's knob: k for TopK, one column named k, each row the
    numbers the Python API gives for that k trained on its own."""
    code, out, err = run_main(capsys, "sweep", SEED, "--architecture", "topk", "--hidden-dims", "4",
                              "--knob-values", "1,2", "--epochs", "150", "--lr", "0.01", "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["knob"] == "k"
    models = data["models"]
    assert [(m["hidden_dim"], m["k"], m["seed"]) for m in models] == [(4, 1, 0), (4, 2, 0)]
    assert all(type(m["k"]) is int for m in models) and "sparsity_weight" not in models[0]
    for m in models:
        alone = train(seed_x, replace(RECOMMENDED, architecture="topk", k=m["k"], hidden_dim=4, epochs=150, lr=0.01))
        assert alone.config.k == m["k"]
        assert m["mse"] == pytest.approx(alone.metrics.mse, rel=1e-5, abs=1e-7)
        assert m["explained_variance"] == pytest.approx(alone.metrics.explained_variance, rel=1e-5, abs=1e-7)
        assert m["l0"] == pytest.approx(alone.metrics.l0, abs=1e-6) and m["l0"] <= m["k"]
        assert m["dead_features"] == alone.metrics.dead_features
    assert models[0]["mse"] != models[1]["mse"]  # k made a difference


def test_a_sweep_without_knob_values_takes_the_knobs_declared_grid(capsys):
    code, out, err = run_main(capsys, "sweep", SEED, "--architecture", "batchtopk", "--hidden-dims", "4",
                              "--epochs", "20")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("3 batchtopk models (hidden size x k x seed) trained together in ")
    assert lines[1].split() == ["point", "hidden_dim", "k", "seed", "mse", "explained_variance", "l0",
                                "dead_features"]
    assert [int(line.split()[2]) for line in lines[2:]] == list(knob_of("batchtopk").sweep_values) == [1, 2, 4]


def test_a_sweep_from_a_first_seed(capsys):
    code, out, _ = run_main(capsys, "sweep", SEED, "--hidden-dims", "3", "--knob-values", "0.05", "--seeds", "2",
                            "--first-seed", "7", "--epochs", "20", "--json")
    assert code == 0 and [m["seed"] for m in json.loads(out)["models"]] == [7, 8]


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


# ---- flags generated from the declarations -----------------------------------------------------


def subcommands(parser) -> dict:
    return next(a for a in parser._actions if a.dest == "command").choices


def test_every_argument_of_every_command_has_help():
    parser = build_parser()
    commands = subcommands(parser)
    assert set(commands) == {"train", "encode", "stability", "sweep", "synth", "extract", "handoff", "split"}
    for name, command in commands.items():
        for action in command._actions:
            assert action.help and action.help.strip(), f"{name}: {action.option_strings or action.dest} has no help"
        command.format_help()  # every help string formats (a % in a declaration would break it)


def flat(text: str) -> str:
    return "".join(text.split())  # help wraps lines wherever it likes


def test_train_help_shows_every_setting_with_its_help_range_and_users():
    done = run_module("train", "--help")
    assert done.returncode == 0 and done.stderr == ""
    out = flat(done.stdout)
    for name, option in all_settings().items():
        assert flat(option.flag) in out, option.flag
        if option.kind is bool:
            assert flat(f"{option.flag}, --no-{option.flag[2:]}") in out
        users = [key for key, cls in ARCHITECTURES.items() if name in cls.settings()]
        for key in users:  # each architecture's own words (sparsity_weight: L1 for standard, L0 for jumprelu)
            assert flat(option_of(key, name).help) in out, (key, name)
        if users:
            assert flat(f"Used by {', '.join(users)}.") in out
        else:
            assert flat(option.help) in out, name
        if option.kind in (int, float):
            assert flat(option.describe_range()) in out
    for key, cls in ARCHITECTURES.items():
        assert flat(f"{key} = {cls.label}, with {', '.join(o.flag for o in cls.options)}") in out
    assert flat("Default: 0.07 (5.0 on a folder written by extract).") in out  # RECOMMENDED, REAL_TABLE
    assert flat("Default: standard (topk on a folder written by extract).") in out


def test_stability_and_sweep_leave_out_the_flags_they_replace():
    commands = subcommands(build_parser())
    flags = {name: {s for a in c._actions for s in a.option_strings} for name, c in commands.items()}
    everything = {o.flag for o in all_settings().values()}
    assert everything <= flags["train"]
    assert flags["stability"] & everything == everything - {"--seed"}
    assert flags["sweep"] & everything == everything - {"--seed", "--hidden-dim"}
    assert {"--seeds", "--first-seed", "--json"} <= flags["stability"] & flags["sweep"]
    assert {"--hidden-dims", "--knob-values"} <= flags["sweep"]
    assert flags["split"] & everything == everything - {"--hidden-dim"}  # --sizes replaces it; --k and all: generated


class LateSAE(StandardSAE):
    """An architecture registered after import (as a plug-in would be): the CLI must offer it."""

    key = "late"
    label = "Late (registered by a test)"
    GAIN = Option("late_gain", float, 1.0, "Late gain", "A setting only the late architecture declares.",
                  low=0.0, high=10.0)
    options = (*StandardSAE.options, GAIN)


@pytest.fixture
def late_architecture():
    register(LateSAE)
    try:
        yield LateSAE
    finally:
        unregister(LateSAE.key)


def test_an_architecture_registered_later_gets_its_flags(late_architecture, capsys):
    parser = build_parser()
    help_ = flat(subcommands(parser)["train"].format_help())
    assert flat("late = Late (registered by a test), with --sparsity-weight, --decoder-norm-penalty, --late-gain") in help_
    assert flat("--late-gain X Late gain. A setting only the late architecture declares. Range: from 0 to 10. "
                "Default: 1.0. Used by late.") in help_
    assert flat("Used by standard, jumprelu, late.") in help_  # it shares the sparsity weight
    assert flat("late: sparsity weight") in flat(subcommands(parser)["sweep"].format_help())
    code, out, err = run_main(capsys, "train", SEED, "--architecture", "late", "--late-gain", "2.5", "--epochs", "20",
                              "--hidden-dim", "3", "--json")
    assert code == 0 and err == ""
    config = json.loads(out)["config"]
    assert config["architecture"] == "late" and config["late_gain"] == 2.5
    code, _, err = run_main(capsys, "train", SEED, "--late-gain", "11")
    assert code == 2 and err == "error: --late-gain: late gain must be from 0 to 10 (got 11.0)\n"


def test_an_unregistered_architecture_loses_its_flags(capsys):
    register(LateSAE)
    unregister(LateSAE.key)
    assert "late_gain" not in OPTIONS
    code, _, err = run_main(capsys, "train", SEED, "--late-gain", "2")
    assert code == 2 and err == "error: python -m sae_core: unrecognized arguments: --late-gain 2\n"


def test_flags_not_given_take_the_tables_defaults(capsys):
    from sae_core.cli import config_from_args
    from sae_core.training import REAL_TABLE
    args = build_parser().parse_args(["train", SEED, "--k", "3", "--no-tied-init"])
    assert config_from_args(args) == replace(RECOMMENDED, k=3, tied_init=False)
    assert config_from_args(args, REAL_TABLE) == replace(REAL_TABLE, k=3, tied_init=False)


def test_the_layer_bound_is_the_extraction_modules():
    from sae_core.cli import LAYER
    assert (LAYER.low, LAYER.high, LAYER.default) == (0, extraction.LAYERS, extraction.DEFAULT_LAYER)
    extract_help = flat(subcommands(build_parser())["extract"].format_help())
    assert flat(f"Range: a whole number from 0 to {extraction.LAYERS}. Default: {extraction.DEFAULT_LAYER}.") in extract_help
    assert flat("--mode {pieces,words}") in extract_help and tuple(extraction.MODES) == ("pieces", "words")
