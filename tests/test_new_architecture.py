"""The contract: an architecture with a new option is one file plus one ``register`` line.

A throwaway "leaky ReLU" SAE with its own option (``leak``, per member, so it is also its sweep
knob) is registered here, and without another line of code the Train page shows the option,
the CLI has its flag and help, the URL carries it both ways, validation names it, a sweep
varies it and the SAELens folder saves it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sae_core.architectures import ARCHITECTURES, OPTIONS, register, unregister
from sae_core.architectures.base import SAE
from sae_core.errors import ConfigError
from sae_core.options import Option
from sae_core.saelens_format import save_saelens
from sae_core.state import AppState
from sae_core.sweep import sweep
from sae_core.training import TrainConfig, train

# ---- the one file (here inline) --------------------------------------------------------------
LEAK = Option("leak", float, 0.1, "Leak (negative slope)", "How much of a negative pre-activation passes.",
              low=0.0, high=0.5, saelens="leak", per_member=True, step=0.05, format="%.2f",
              sweep_values=(0.0, 0.2), sweep_choices=(0.0, 0.1, 0.2, 0.3))


class LeakySAE(SAE):
    key = "leaky"
    label = "Leaky ReLU (a throwaway for tests)"
    summary = "Negative pre-activations pass, scaled down by the leak."
    saelens_architecture = "standard"
    options = (LEAK,)
    knob = "leak"
    loss_names = ("mse",)

    def __init__(self, d_in, hidden_dims, seeds, dtype=torch.float32, **options):
        super().__init__(d_in, hidden_dims, seeds, dtype, **options)
        self.register_buffer("leak", self.member_tensor("leak"))

    def encode(self, x_ND):
        pre_SNH = self.pre_activations(x_ND)
        f_SNH = torch.where(pre_SNH > 0, pre_SNH, pre_SNH * self.leak[:, None, None])
        return f_SNH * self.hidden_mask[:, None, :]

    def losses(self, x_ND):
        return {"mse": ((self.decode(self.encode(x_ND)) - x_ND) ** 2).mean(dim=(1, 2))}


@pytest.fixture
def leaky():
    register(LeakySAE)  # ---- the one registration line
    try:
        yield LeakySAE
    finally:
        unregister("leaky")
    assert "leaky" not in ARCHITECTURES and "leak" not in OPTIONS


X = np.random.default_rng(0).normal(size=(12, 4)).astype(np.float32)


def test_trains_validates_and_sweeps_its_option(leaky):
    config = TrainConfig(architecture="leaky", hidden_dim=6, epochs=40, leak=0.3)
    result = train(X, config)
    assert result.config.leak == 0.3 and list(result.history.columns) == ["epoch", "total", "reconstruction"]
    # negative activations exist only because the leak let them through
    assert (result.feature_activations < 0).any()
    with pytest.raises(ConfigError, match=r"^leak must be from 0 to 0.5 \(got 0.9\)$"):
        TrainConfig(architecture="leaky", leak=0.9).validate()
    grid = sweep(X, config, [6], [0.0, 0.2])
    assert grid.knob.name == "leak" and grid.table["leak"].tolist() == [0.0, 0.2]
    # each grid point is the model trained alone with that leak
    alone = train(X, TrainConfig(architecture="leaky", hidden_dim=6, epochs=40, leak=0.2))
    np.testing.assert_allclose(grid.results[1].feature_activations, alone.feature_activations, atol=1e-6)


def test_the_url_carries_it(leaky):
    state = AppState(config=TrainConfig(architecture="leaky", leak=0.25))
    query = state.to_query()
    assert query["architecture"] == "leaky" and query["leak"] == "0.25"
    assert AppState.from_query(query).config.leak == 0.25
    assert AppState.from_query({**query, "leak": "7"}).config.leak == LEAK.default  # out of range: default


def test_the_cli_has_its_flag_and_help(leaky, capsys):
    from sae_core.cli import build_parser
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--leak" in out and "How much of a negative pre-activation passes." in out
    assert "leaky" in out


def test_the_saelens_folder_saves_it(leaky, tmp_path):
    result = train(X, TrainConfig(architecture="leaky", hidden_dim=5, epochs=10, leak=0.15))
    folder = save_saelens(result.model, tmp_path / "leaky", {"playground_config": result.config.to_dict()})
    cfg = json.loads((folder / "cfg.json").read_text())
    assert cfg["leak"] == 0.15 and cfg["architecture"] == "standard"


def test_the_train_page_shows_it(leaky):
    from apptest_helpers import start_app
    at = start_app("app_pages/train.py")
    assert "leak" not in [w.key for w in at.number_input]
    at.selectbox(key="architecture").set_value("leaky").run()
    boxes = {w.key: w for w in at.number_input}
    assert boxes["leak"].label == "Leak (negative slope)" and boxes["leak"].value == LEAK.default
    boxes["leak"].set_value(0.35).run()
    assert at.query_params["leak"] == ["0.35"] or at.query_params["leak"] == "0.35"


def test_a_second_declaration_of_a_shared_option_must_agree(leaky):
    other = type("OtherLeaky", (LeakySAE,), {"key": "other", "options": (Option("leak", float, 0.3, "x", "y",
                                                                               low=0.0, high=0.5, per_member=True),)})
    with pytest.raises(ValueError, match="option 'leak' of 'other' differs"):
        register(other)
    assert "other" not in ARCHITECTURES
