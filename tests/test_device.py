"""The device setting: cpu unchanged, absent devices a one-line error, no tensor left on the wrong device.

GPU runs are not measured in CI (no GPU there); ``meta`` tensors stand in for "another device":
any tensor an architecture or the trainer creates on the CPU by mistake meets a meta tensor in
an operation and raises.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from sae_core.architectures import ARCHITECTURES
from sae_core.device import DEVICES, available_devices, resolve_device
from sae_core.errors import ConfigError
from sae_core.sweep import sweep
from sae_core.training import RECOMMENDED, TrainConfig, Trainer, train

ARCHS = list(ARCHITECTURES)  # every registered architecture


def test_cpu_and_auto_here_give_the_same_bits_as_no_device(seed_x):
    config = replace(RECOMMENDED, epochs=120)
    plain = train(seed_x, config)
    for name in ("cpu", "auto") if available_devices() == ["cpu"] else ("cpu",):
        on = train(seed_x, config, device=name)
        assert np.array_equal(on.feature_activations, plain.feature_activations)
        assert on.history.equals(plain.history)


@pytest.mark.parametrize("name, message", [
    ("tpu", "unknown device 'tpu' (known: cpu, cuda, mps, auto)"),
    ("cuda", "device 'cuda' is not available here (torch sees no CUDA GPU); use cpu or auto"),
    ("mps", "device 'mps' is not available here (torch sees no Apple GPU (MPS)); use cpu or auto"),
])
def test_a_device_that_is_not_there_is_one_line(name, message, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("sae_core.device._mps_available", lambda: False)
    with pytest.raises(ConfigError) as info:
        resolve_device(name)
    assert str(info.value) == message
    assert resolve_device("auto") == torch.device("cpu") and set(DEVICES) == {"cpu", "cuda", "mps", "auto"}


def test_auto_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("sae_core.device._mps_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")


@pytest.mark.parametrize("architecture", ARCHS)
@pytest.mark.parametrize("batch_size, widths", [(4096, (4, 6)), (3, (4, 6)), (4096, (130, 140))],
                         ids=["full-batch", "mini-batches", "wide (TopK decodes sparsely)"])
def test_every_step_stays_on_the_device(seed_x, architecture, batch_size, widths):
    """Two members of different widths and knobs (padding, per-member k): every tensor the step touches
    must be on the model's device (meta), or torch raises. Meta tensors hold no values, so the paths
    that branch on data (dead-feature resampling, AuxK) are left to a real GPU (README, "GPU")."""
    base = TrainConfig(architecture=architecture, epochs=4, k=2, batch_size=batch_size, auxk_weight=0.0,
                       unit_norm_decoder=True, tied_init=True, init_decoder_bias_to_mean=True, init_decoder_norm=0.1)
    knob_name = ARCHITECTURES[architecture].knob
    knob = {knob_name: 1 if knob_name == "k" else 0.2}
    trainer = Trainer(seed_x, [replace(base, hidden_dim=widths[0]), replace(base, hidden_dim=widths[1], seed=1, **knob)],
                      device=torch.device("meta"))
    for _ in range(4):
        losses = trainer.step()
    assert losses.device.type == "meta" and trainer.model.W_dec.device.type == "meta"
    moments = [*trainer.optimizer.exp_avg.values(), *trainer.optimizer.exp_avg_sq.values()]
    assert moments and all(m.device.type == "meta" for m in moments)


def test_a_sweep_takes_the_device_too(seed_x):
    grid = sweep(seed_x, replace(RECOMMENDED, epochs=30), [4], [0.01, 0.1], device="cpu")
    assert len(grid.results) == 2


@pytest.mark.parametrize("command", [["train", "data/seed_tokens.csv", "--epochs", "5"],
                                     ["stability", "data/seed_tokens.csv", "--seeds", "2", "--epochs", "5"],
                                     ["sweep", "data/seed_tokens.csv", "--hidden-dims", "4", "--epochs", "5"]])
def test_the_cli_takes_a_device_and_refuses_one_that_is_not_there(command, capsys, monkeypatch):
    from sae_core.cli import main
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main([*command, "--device", "cpu", "--json"]) == 0
    capsys.readouterr()
    assert main([*command, "--device", "cuda"]) == 2
    assert capsys.readouterr().err == ("error: device 'cuda' is not available here (torch sees no CUDA GPU); "
                                       "use cpu or auto\n")
    assert main([*command, "--device", "tpu"]) == 2
    assert capsys.readouterr().err.startswith("error: --device: invalid choice: 'tpu'")
