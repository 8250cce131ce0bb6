"""``python -m sae_core synth``: recovery metrics as JSON, the saved ground truth and SAELens folder; a flag
for every setting of every generator (from their config dataclasses)."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields

import pytest
import torch
from safetensors.torch import load_file

from sae_core.architectures import ARCHITECTURES
from sae_core.cli import EXIT_BAD_INPUT, build_parser, field_comments, main, synth_config, synth_data
from sae_core.saelens_format import load_saelens
from sae_core.ground_truth.generators import (GENERATORS, Hierarchical, HierarchicalConfig, SparseCombination,
                                             SparseCombinationConfig, ToySuperposition, ToySuperpositionConfig)
from sae_core.ground_truth.lab import LAB_BATCH_SIZE

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
    (["--arch", "nope"], "--architecture/--arch: unknown architecture 'nope'"),
    (["--seconds", "0"], "training time must be from 0 to 120 seconds"),
    (["--dims", "1"], "dims must be a whole number from 2"),
    (["--active", "30", "--features", "24"], "active features per sample must be a number from 0.01 to 24"),
    (["--threads", "0"], "--threads: torch threads must be a whole number from 1 to 64 (got 0)"),
])
def test_synth_bad_input_is_one_line(capsys, args, message):
    assert main(["synth", "--dims", "8", "--features", "24", "--seconds", "0.5", *args]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


# ---- every generator setting is a flag (from the config dataclasses) --------------------------------


def synth_parser():
    return next(a for a in build_parser()._actions if a.dest == "command").choices["synth"]


def test_every_field_of_every_generator_is_a_flag_with_its_comment_as_help():
    parser = synth_parser()
    actions = {a.dest: a for a in parser._actions}
    help_ = "".join(parser.format_help().split())
    assert set(GENERATORS) == {"sparse", "toy", "hierarchical"}
    for key, (_, config_cls) in GENERATORS.items():
        comments = field_comments(config_cls)
        for f in fields(config_cls):
            assert comments.get(f.name), f"{config_cls.__name__}.{f.name} has no comment to serve as its help"
            action = actions[f.name]
            assert action.option_strings[0] == "--" + f.name.replace("_", "-")  # booleans: also --no-...
            assert action.default == argparse.SUPPRESS  # unset: each generator's own default
            assert "".join(comments[f.name].split()) in help_
    assert "".join("Default: 256 (sparse), 2 (toy), 64 (hierarchical).".split()) in help_  # the dataclasses' defaults
    assert "".join("Default: False. Only for hierarchical.".split()) in help_
    assert actions["exclusive"].option_strings == ["--exclusive", "--no-exclusive"]
    assert actions["architecture"].choices == list(ARCHITECTURES)
    assert actions["generator"].choices == list(GENERATORS)


def test_generator_flags_reach_the_generators_config():
    args = synth_parser().parse_args(["--dims", "12", "--features", "30", "--active", "3", "--frequency-decay", "0.5",
                                      "--group-size", "3", "--group-correlation", "0.4", "--seed", "9",
                                      "--batch-size", "64"])
    data = synth_data(args)
    assert data.config == SparseCombinationConfig(dims=12, features=30, active=3.0, frequency_decay=0.5,
                                                  group_size=3, group_correlation=0.4, seed=9, batch_size=64)
    config = synth_config(args, data)  # the batch size given is the SAE's samples per step too
    assert config.batch_size == 64 and config.seed == 9 and config.hidden_dim == 60
    args = synth_parser().parse_args(["--generator", "toy", "--features", "4", "--dims", "2", "--sparsity", "0.7",
                                      "--importance-decay", "0.8", "--toy-steps", "0"])
    data = synth_data(args)
    assert data.config == ToySuperpositionConfig(features=4, dims=2, sparsity=0.7, importance_decay=0.8, toy_steps=0)
    assert synth_config(args, data).batch_size == LAB_BATCH_SIZE  # not given: the lab's own
    data = synth_data(synth_parser().parse_args([*HIERARCHY, "--independent-probability", "0.1", "--no-exclusive"]))
    assert data.config == HierarchicalConfig(dims=16, parents=3, children=2, independent=4, parent_probability=0.3,
                                             child_probability=0.5, independent_probability=0.1, exclusive=False,
                                             seed=2)


def test_synth_on_the_toy_generator(capsys, tmp_path):
    args = ["synth", "--generator", "toy", "--features", "5", "--dims", "2", "--toy-steps", "50", "--seed", "1",
            "--arch", "topk", "--seconds", "0.5", "--save", str(tmp_path), "--json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary) == {"mmcs", "hungarian", "explained_variance", "l0", "dead_fraction", "seconds", "steps"}
    assert summary["steps"] >= 1
    truth = ToySuperposition(ToySuperpositionConfig(features=5, dims=2, toy_steps=50, seed=1))
    directions = load_file(str(tmp_path / "ground_truth.safetensors"))["directions"]
    torch.testing.assert_close(directions, truth.directions_FD)
    _, cfg = load_saelens(tmp_path / "sae")
    assert cfg["architecture"] == "topk" and cfg["d_in"] == 2 and cfg["d_sae"] == 10
    main(args[:-3])  # the human summary
    assert capsys.readouterr().out.startswith(f"{ARCHITECTURES['topk'].label}: 10 features on 5 true features in 2 dims")


HIERARCHY = ["--generator", "hierarchical", "--dims", "16", "--parents", "3", "--children", "2", "--independent", "4",
             "--parent-probability", "0.3", "--child-probability", "0.5", "--exclusive", "--seed", "2"]


def test_synth_on_the_hierarchical_generator_reports_absorption(capsys, tmp_path):
    args = ["synth", *HIERARCHY, "--arch", "topk", "--seconds", "0.5", "--save", str(tmp_path), "--json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary) == {"mmcs", "hungarian", "explained_variance", "l0", "dead_fraction", "absorption",
                            "missed_alone", "child_lean", "seconds", "steps", "absorption_by_parent"}
    by_parent = summary["absorption_by_parent"]
    assert [row["parent"] for row in by_parent] == [0, 1, 2]
    for row in by_parent:
        assert 0 <= row["absorption"] <= 1 and 0 <= row["missed_alone"] <= 1 and 0 <= row["latent"] < 26
        assert row["with_child"] > 100 and row["alone"] > 100
    assert summary["absorption"] == pytest.approx(sum(r["absorption"] for r in by_parent) / 3, abs=1e-5)
    truth = Hierarchical(HierarchicalConfig(dims=16, parents=3, children=2, independent=4, parent_probability=0.3,
                                            child_probability=0.5, exclusive=True, seed=2))
    torch.testing.assert_close(load_file(str(tmp_path / "ground_truth.safetensors"))["directions"], truth.directions_FD)
    _, cfg = load_saelens(tmp_path / "sae")
    assert cfg["metadata"]["ground_truth"]["exclusive"] is True and cfg["d_sae"] == 26
    assert cfg["metadata"]["recovery"]["absorption"] == pytest.approx(summary["absorption"], abs=1e-6)
    main(args[:-3])  # the human summary: a line per parent
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{ARCHITECTURES['topk'].label}: 26 features on 13 true features in 16 dims")
    assert "absorption " in out[1] and len(out) == 5
    assert out[2].startswith("parent T0: its latent L") and "samples with a child" in out[2]


@pytest.mark.parametrize("args, message", [
    (["--sparsity", "0.5"], "--sparsity is a setting of the toy generator, not of sparse (--generator toy)"),
    (["--generator", "toy", "--active", "3"], "--active is a setting of the sparse generator, not of toy "
                                              "(--generator sparse)"),
    (["--generator", "gaussian"], "--generator: invalid choice: 'gaussian' (choose from 'sparse', 'toy', "
                                    "'hierarchical')"),
    (["--generator", "hierarchical", "--features", "9"], "--features is a setting of the sparse and toy generator, "
                                                         "not of hierarchical (--generator sparse)"),
    (["--generator", "hierarchical", "--children", "17"], "children per parent must be a whole number from 1 to 16 "
                                                          "(got 17)"),
    (["--dims", "abc"], "--dims: dims must be a whole number (got 'abc')"),
    (["--group-correlation", "high"], "--group-correlation: group correlation must be a number (got 'high')"),
    (["--group-correlation", "1"], "group correlation must be a number from 0 to 0.99 (got 1.0)"),
    (["--generator", "toy", "--dims", "17"], "dims must be a whole number from 1 to 16 (got 17)"),
    (["--architecture", "nope"], "--architecture/--arch: unknown architecture 'nope' (known: batchtopk, jumprelu, "
                                 "matryoshka, standard, topk)"),
    (["--seconds", "x"], "--seconds: training time must be a number (got 'x')"),
    (["--threads", "65"], "--threads: torch threads must be a whole number from 1 to 64 (got 65)"),
])
def test_synth_bad_values_give_exact_lines(capsys, args, message):
    assert main(["synth", "--seconds", "0.5", *args]) == EXIT_BAD_INPUT
    assert capsys.readouterr().err == f"error: {message}\n"
