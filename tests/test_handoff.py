"""sae_core.handoff and ``python -m sae_core handoff``: the playground's settings as a SAELens training run.

With the real sae-lens (6.54.12), offline: every registered architecture's JSON builds SAELens'
config class with the converted coefficients; SAELens' training SAE, given our weights and our
batch, computes exactly d_in x our loss, with d_in x our gradients (the proof that the
conversions in the architecture files are right); the written script runs with --dry-run in a
subprocess that cannot reach the network. The CLI's errors are one line with status 2.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from dataclasses import fields, replace
from pathlib import Path

import pytest
import torch

from sae_core import handoff
from sae_core.architectures import ARCHITECTURES, get_architecture, register, unregister
from sae_core.architectures.auxk import DEAD_AFTER_STEPS
from sae_core.architectures.standard import StandardSAE
from sae_core.cli import EXIT_BAD_INPUT, main
from sae_core.errors import ConfigError
from sae_core.training import REAL_TABLE, RECOMMENDED, TrainConfig

ROOT = Path(__file__).resolve().parents[1]
D_IN, D_SAE, TOKENS = 16, 48, 64  # the loss checks: d_sae >= d_in // 2, as AuxK's k_aux needs
# Each architecture with settings that exercise its conversion (standard: the decoder-length L1).
SETTINGS = {"standard": {"sparsity_weight": 0.07, "decoder_norm_penalty": True},
            "topk": {"k": 4, "auxk_weight": 0.5}, "batchtopk": {"k": 4, "auxk_weight": 0.5},
            "jumprelu": {"sparsity_weight": 0.03, "jumprelu_threshold": 0.02, "jumprelu_bandwidth": 0.1}}


@pytest.fixture(scope="module")
def sae_lens():
    return pytest.importorskip("sae_lens")


def config_for(architecture: str, **settings) -> TrainConfig:
    return TrainConfig(architecture=architecture, hidden_dim=D_SAE, **{**SETTINGS.get(architecture, {}), **settings})


def spec_for(architecture: str, d_in: int = 768, d_sae: int = 3072, **settings) -> dict:
    return handoff.saelens_spec(config_for(architecture, **settings), "gpt2", "blocks.8.hook_resid_pre", d_in,
                                handoff.TRAINING_TOKENS, d_sae=d_sae)


def expected_coefficient(config: TrainConfig, d_in: int, d_sae: int) -> tuple[str, float] | None:
    """The conversion, written out again here: L1 x d_in / d_sae, L0 x d_in, none for the TopK family."""
    if config.architecture == "standard":
        return "l1_coefficient", config.sparsity_weight * d_in / d_sae
    if config.architecture == "jumprelu":
        return "l0_coefficient", config.sparsity_weight * d_in
    return None


def build_runner_config(sae_lens, spec: dict):
    """What the script does: LanguageModelSAERunnerConfig(sae=<sae_class>(**sae), **runner)."""
    runner = dict(spec["runner"])
    logger = sae_lens.LoggingConfig(**runner.pop("logger"))
    return sae_lens.LanguageModelSAERunnerConfig(sae=getattr(sae_lens, spec["sae_class"])(**spec["sae"]),
                                                 logger=logger, device="cpu", **runner)


def test_every_registered_architecture_declares_its_saelens_training_config():
    names = {"standard": "StandardTrainingSAEConfig", "topk": "TopKTrainingSAEConfig",
             "batchtopk": "BatchTopKTrainingSAEConfig", "jumprelu": "JumpReLUTrainingSAEConfig"}
    assert {key: ARCHITECTURES[key].saelens_training_class for key in names} == names
    for key, cls in ARCHITECTURES.items():  # each option that names a SAELens training field is carried
        assert cls.saelens_training_class.endswith("TrainingSAEConfig"), key
        declared = {o.saelens_training for o in cls.options if o.saelens_training}
        assert declared <= set(cls.saelens_training_cfg(config_for(key), 768)), key


def test_the_fields_exist_in_sae_lens_and_the_json_builds_the_named_class(sae_lens, offline):
    for key in ARCHITECTURES:
        config = config_for(key)
        spec = spec_for(key)
        config_class = getattr(sae_lens, spec["sae_class"])
        assert set(spec["sae"]) <= {f.name for f in fields(config_class)}, key  # no misspelt field
        assert set(spec["runner"]) <= {f.name for f in fields(sae_lens.LanguageModelSAERunnerConfig)}, key
        cfg = build_runner_config(sae_lens, spec)
        assert type(cfg.sae) is config_class
        assert all(getattr(cfg.sae, name) == value for name, value in spec["sae"].items()), key
        assert (cfg.sae.d_in, cfg.sae.d_sae) == (768, 3072)
        assert cfg.sae.apply_b_dec_to_input is False
        assert (cfg.model_name, cfg.hook_name, cfg.lr, cfg.seed) == ("gpt2", "blocks.8.hook_resid_pre", config.lr,
                                                                      config.seed)
        assert cfg.training_tokens == handoff.TRAINING_TOKENS and cfg.logger.log_to_wandb is False
        coefficient = expected_coefficient(config, 768, 3072)
        if coefficient:
            assert getattr(cfg.sae, coefficient[0]) == pytest.approx(coefficient[1], rel=1e-12)
        elif "k" in config.option_values():  # the TopK family: k as it is, top-k on raw pre-activations, same AuxK
            assert cfg.sae.k == config.k and cfg.sae.rescale_acts_by_decoder_norm is False
            assert cfg.sae.aux_loss_coefficient == config.auxk_weight
        if key == "jumprelu":
            assert (cfg.sae.jumprelu_init_threshold, cfg.sae.jumprelu_bandwidth) == (0.02, 0.1)
            assert cfg.sae.jumprelu_sparsity_loss_mode == "step" and cfg.sae.jumprelu_ste_to_input is False
        assert json.loads(json.dumps(cfg.to_dict(), default=str))["sae"]["d_sae"] == 3072


def saelens_training_sae(sae_lens, spec: dict):
    from sae_lens.registry import get_sae_training_class
    config = getattr(sae_lens, spec["sae_class"])(**{**spec["sae"], "dtype": "float64"})
    return get_sae_training_class(config.architecture())[0](config)


def both_on_one_batch(sae_lens, architecture: str, dead: int = 0, unit_rows: bool = False, **settings):
    """(SAELens' loss, d_in x ours, SAELens' training SAE, ours) on one batch, from the same weights."""
    config = config_for(architecture, **settings)
    spec = handoff.saelens_spec(config, "gpt2", "h", D_IN, 4096)
    theirs = saelens_training_sae(sae_lens, spec)
    ours = get_architecture(architecture)(D_IN, [D_SAE], [3], dtype=torch.float64, **config.option_values())
    if unit_rows:
        ours.normalise_decoder()
    with torch.no_grad():
        if isinstance(getattr(ours, "threshold", None), torch.nn.Parameter):
            # a learned threshold (jumprelu): SAELens keeps it in float32, so both start from that value
            ours.threshold.copy_(theirs.threshold.to(torch.float64)[None])
        for name, tensor in ours.saelens_tensors().items():
            if name != "threshold":
                getattr(theirs, name).copy_(tensor)
    mask = None
    if dead:  # the TopK family's AuxK: the first `dead` features have been silent long enough
        ours.steps_since_fired[0, :dead] = DEAD_AFTER_STEPS
        mask = ours.dead()[0]
    x = torch.randn(TOKENS, D_IN, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2
    from sae_lens.saes.sae import TrainStepInput
    coefficients = {name: getattr(c, "value", c) for name, c in theirs.get_coefficients().items()}
    out = theirs.training_forward_pass(TrainStepInput(sae_in=x, coefficients=coefficients, dead_neuron_mask=mask,
                                                      n_training_steps=0, is_logging_step=False))
    out.loss.backward()
    ours_terms = ours.forward_backward(x)  # the trainer's own path: losses and gradients
    if dead:
        assert ours_terms["auxk"].item() > 0 and out.losses["auxiliary_reconstruction_loss"].item() > 0
    return out.loss.item(), D_IN * sum(ours_terms.values()).item(), theirs, ours


def loss_cases() -> list[tuple[str, int]]:
    """Every registered architecture; those with AuxK (a dead-feature count) also with 10 dead features."""
    cases = []
    for key, cls in ARCHITECTURES.items():
        cases.append((key, 0))
        if "auxk" in cls.loss_names:
            cases.append((key, 10))
    return cases


@pytest.mark.parametrize("architecture, dead", loss_cases())
def test_saelens_training_loss_is_d_in_times_ours(sae_lens, offline, architecture, dead):
    """The proof of the conversions: same weights, same batch, SAELens' loss and gradients = d_in x ours."""
    theirs_loss, ours_loss, theirs, ours = both_on_one_batch(sae_lens, architecture, dead=dead)
    assert theirs_loss == pytest.approx(ours_loss, rel=1e-12)
    names = [name for name, _ in ours.named_parameters()]  # W_enc, b_enc, W_dec, b_dec (+ jumprelu's threshold)
    assert {"W_enc", "b_enc", "W_dec", "b_dec"} <= set(names)
    for name in names:
        ours_grad = D_IN * getattr(ours, name).grad[0]
        theirs_grad = getattr(theirs, name).grad.to(torch.float64)
        assert ours_grad.abs().max() > 0, name
        tolerance = 1e-6 if name == "threshold" else 1e-12  # SAELens' threshold (and its gradient) is float32
        torch.testing.assert_close(theirs_grad, ours_grad, rtol=tolerance, atol=tolerance * ours_grad.abs().max())


def test_standard_without_the_decoder_length_penalty_matches_only_with_unit_rows(sae_lens, offline):
    """SAELens always weights the L1 by the decoder row's length: without decoder_norm_penalty our loss is
    the same only while the rows have length 1 (documented, and noted in the JSON)."""
    theirs_loss, ours_loss, _, _ = both_on_one_batch(sae_lens, "standard", unit_rows=True, decoder_norm_penalty=False)
    assert theirs_loss == pytest.approx(ours_loss, rel=1e-12)
    theirs_loss, ours_loss, _, _ = both_on_one_batch(sae_lens, "standard", decoder_norm_penalty=False)
    assert theirs_loss != pytest.approx(ours_loss, rel=1e-3)
    assert any("decoder_norm_penalty off" in note
               for note in spec_for("standard", decoder_norm_penalty=False)["playground"]["notes"])


# ---- the files ------------------------------------------------------------------------------------


def blocked_network_env(tmp_path: Path) -> dict:
    """A subprocess environment whose Python cannot open a socket or resolve a name (sitecustomize)."""
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(
        "import socket\n"
        "def _refuse(*args, **kwargs):\n"
        "    raise OSError('network access in an offline test')\n"
        "socket.socket.connect = socket.socket.connect_ex = _refuse\n"
        "socket.getaddrinfo = socket.create_connection = _refuse\n")
    import os
    env = {**os.environ, "PYTHONPATH": str(guard), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1", "WANDB_MODE": "disabled"}
    return env


def test_the_page_zip_runs_as_a_dry_run_without_network(sae_lens, tmp_path):
    spec = handoff.scale_up_spec(RECOMMENDED, table_dims=4)  # the founding table: 8 features on 4 dims
    assert spec["sae"]["d_sae"] == 2 * 768 and spec["runner"]["model_name"] == "gpt2"
    with zipfile.ZipFile(io.BytesIO(handoff.handoff_zip(spec))) as archive:
        assert sorted(archive.namelist()) == [f"{handoff.ZIP_FOLDER}/{handoff.CONFIG_FILE}",
                                              f"{handoff.ZIP_FOLDER}/{handoff.SCRIPT_FILE}"]
        archive.extractall(tmp_path)
    script = tmp_path / handoff.ZIP_FOLDER / handoff.SCRIPT_FILE
    done = subprocess.run([sys.executable, str(script), "--dry-run"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, env=blocked_network_env(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    printed = json.loads(done.stdout)
    assert printed["sae"]["architecture"] == "standard"
    assert (printed["sae"]["d_in"], printed["sae"]["d_sae"]) == (768, 1536)
    assert printed["sae"]["l1_coefficient"] == pytest.approx(RECOMMENDED.sparsity_weight * 768 / 1536)
    assert (printed["model_name"], printed["hook_name"]) == ("gpt2", "blocks.8.hook_resid_pre")
    assert printed["lr"] == RECOMMENDED.lr and printed["logger"]["log_to_wandb"] is False


def test_the_script_uses_only_sae_lens_json_and_argparse():
    imports = [line.strip() for line in handoff.SCRIPT.splitlines() if line.strip().startswith(("import ", "from "))]
    assert imports == ["import argparse", "import json", "from pathlib import Path", "import sae_lens",
                       "import torch  # installed with sae_lens"]


def test_the_recipe_at_scale():
    spec = spec_for("topk")
    runner = spec["runner"]
    assert runner["train_batch_size_tokens"] == handoff.BATCH_SIZE_TOKENS
    assert runner["lr_warm_up_steps"] == handoff.TRAINING_TOKENS // handoff.BATCH_SIZE_TOKENS // 100
    assert spec["sae"]["normalize_activations"] == "expected_average_only_in"
    assert spec["playground"]["settings"] == config_for("topk").to_dict()  # our settings, as given
    assert handoff.width_for(8, 4, 768) == 1536 and handoff.width_for(5, 4, 512) == 640


@pytest.mark.parametrize("change, message", [
    ({"d_in": 0}, "d_in must be a whole number from 1 to 65,536 (got 0)"),
    ({"training_tokens": 100}, "training tokens (100) must be at least one batch (4,096 tokens)"),
    ({"d_sae": 2}, "k must be at most the hidden size (2), got 4"),
    ({"hook_name": "blocks 8"}, "hook name must be one word without spaces (got 'blocks 8')"),
])
def test_values_saelens_could_not_use_are_one_line_errors(change, message):
    arguments = {"config": config_for("topk"), "model_name": "gpt2", "hook_name": "blocks.8.hook_resid_pre",
                 "d_in": 768, "training_tokens": handoff.TRAINING_TOKENS, "d_sae": 3072, **change}
    with pytest.raises(ConfigError) as error:
        handoff.saelens_spec(**arguments)
    assert str(error.value) == message


def test_an_architecture_without_a_saelens_training_config_is_refused():
    class Plain(StandardSAE):
        key = "plain_handoff_test"
        saelens_training_class = ""
    register(Plain)
    try:
        with pytest.raises(ConfigError, match="'plain_handoff_test' declares no SAELens training config"):
            handoff.saelens_spec(TrainConfig(architecture="plain_handoff_test"), "gpt2", "h", 768, 10 ** 6)
    finally:
        unregister(Plain.key)


# ---- the CLI --------------------------------------------------------------------------------------


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["handoff", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_writes_both_files_with_the_known_model_filled_in(capsys, tmp_path):
    code, out, err = run_cli(capsys, "--model", "pythia-70m-deduped", "--architecture", "jumprelu",
                             "--sparsity-weight", "0.01", "--lr", "0.0003", "--out", str(tmp_path), "--json")
    assert code == 0 and err == ""
    printed = json.loads(out)
    written = json.loads((tmp_path / handoff.CONFIG_FILE).read_text())
    assert printed["saelens_config"] == written
    assert printed["files"] == [str(tmp_path / handoff.CONFIG_FILE), str(tmp_path / handoff.SCRIPT_FILE)]
    assert (tmp_path / handoff.SCRIPT_FILE).read_text() == handoff.SCRIPT
    assert written["sae_class"] == "JumpReLUTrainingSAEConfig"
    assert (written["runner"]["model_name"], written["runner"]["hook_name"]) == ("pythia-70m-deduped",
                                                                                 "blocks.3.hook_resid_post")
    assert (written["sae"]["d_in"], written["sae"]["d_sae"]) == (512, handoff.DEFAULT_EXPANSION * 512)
    assert written["sae"]["l0_coefficient"] == pytest.approx(0.01 * 512)
    assert written["runner"]["lr"] == 0.0003
    # the settings not given are REAL_TABLE's (the Real model page's), as for `train DIR`
    assert written["playground"]["settings"] == replace(REAL_TABLE, architecture="jumprelu", sparsity_weight=0.01,
                                                        lr=0.0003).to_dict()


def test_cli_defaults_and_human_output(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "--hook", "blocks.6.hook_resid_post", "--d-sae", "6144", "--training-tokens",
                           "8192", "--out", str(tmp_path))
    assert code == 0
    written = json.loads((tmp_path / handoff.CONFIG_FILE).read_text())
    assert written["sae_class"] == "TopKTrainingSAEConfig" and written["sae"]["k"] == REAL_TABLE.k
    assert (written["runner"]["model_name"], written["runner"]["hook_name"]) == ("gpt2", "blocks.6.hook_resid_post")
    assert written["sae"]["d_sae"] == 6144 and written["runner"]["training_tokens"] == 8192
    assert out.splitlines()[0] == ("TopKTrainingSAEConfig: d_in 768, d_sae 6144 on gpt2 blocks.6.hook_resid_post, "
                                   "8,192 tokens, lr 0.001")


@pytest.mark.parametrize("args, message", [
    (["--model", "llama-7b"], "error: --model llama-7b: no defaults for this model; give --hook and --d-in "
                              "(defaults known for gpt2, pythia-70m-deduped)"),
    (["--model", "llama-7b", "--hook", "blocks.0.hook_resid_pre"], "error: --model llama-7b: no defaults for "
     "this model; give --d-in (defaults known for gpt2, pythia-70m-deduped)"),
    (["--d-in", "0"], "error: --d-in: d_in must be a whole number from 1 to 65,536 (got 0)"),
    (["--d-sae", "lots"], "error: --d-sae: d_sae must be a whole number from 1 to 1,048,576 (got 'lots')"),
    (["--k", "64", "--d-sae", "32"], "error: k must be at most the hidden size (32), got 64"),
    (["--training-tokens", "100"], "error: training tokens (100) must be at least one batch (4,096 tokens)"),
    (["--epochs", "5"], "error: python -m sae_core: unrecognized arguments: --epochs 5"),
    (["--architecture", "gated"], None),
])
def test_cli_errors_are_one_line_with_status_2(capsys, tmp_path, args, message):
    code, out, err = run_cli(capsys, *args, "--out", str(tmp_path / "run"))
    assert code == EXIT_BAD_INPUT and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    if message:
        assert lines[0] == message
    assert not (tmp_path / "run").exists()


def test_cli_handoff_flags_have_help_from_the_declarations():
    from sae_core.cli import build_parser
    command = next(a for a in build_parser()._actions if a.dest == "command").choices["handoff"]
    for action in command._actions:
        assert action.help and action.help.strip(), action.option_strings
    text = " ".join(command.format_help().split())
    for flag in ("--sparsity-weight", "--k", "--jumprelu-threshold", "--d-sae", "--training-tokens", "--model"):
        assert flag in text
    for flag in ("--hidden-dim", "--epochs", "--batch-size "):  # replaced by --d-sae, tokens, tokens per step
        assert flag not in text
    assert "gpt2 (GPT-2 small): blocks.8.hook_resid_pre, d_in 768" in text


def test_cli_missing_out_and_unwritable_out(capsys, tmp_path):
    code, _, err = run_cli(capsys)
    assert code == EXIT_BAD_INPUT and err.strip().splitlines() == [
        "error: python -m sae_core handoff: the following arguments are required: --out"]
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run_cli(capsys, "--out", str(blocker / "run"))
    assert code == EXIT_BAD_INPUT and err.startswith("error: cannot write the SAELens files: ")
    assert len(err.strip().splitlines()) == 1 and str(tmp_path) not in err


# ---- the Train page -------------------------------------------------------------------------------


def test_the_train_page_offers_the_scale_up_download():
    from apptest_helpers import click, start_app
    at = click(start_app("app_pages/train.py"), "Train")
    labels = [b.label for b in at.get("download_button")]
    assert labels[-1] == "Scale this up with SAELens"
    assert any(c.value.startswith("The current settings as a SAELens training run on GPT-2 small "
                                  "(blocks.8.hook_resid_pre; 1,536 features, as many per dimension as here; 100M "
                                  "tokens)") for c in at.caption)
    assert not at.error
