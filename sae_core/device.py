"""Where training runs: ``cpu``, ``cuda``, ``mps`` or ``auto`` (the first of cuda, mps, cpu there is).

A device changes where the arithmetic runs, not what is trained: models start from the same
draws on the CPU and are moved; results come back to the CPU. On the CPU every number is as
before; other devices may round differently. A device that is not there is a one-line
ConfigError, never a traceback.
"""

from __future__ import annotations

import torch

from .errors import ConfigError

DEVICES = ("cpu", "cuda", "mps", "auto")
DEFAULT_DEVICE = "cpu"


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[str]:
    """The device names that work on this machine (cpu always)."""
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) + (["mps"] if _mps_available() else [])


def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """A torch.device from a name; ``auto`` picks cuda, then mps, then cpu. A torch.device passes
    through unchanged (tests use ``meta``)."""
    if isinstance(name, torch.device):
        return name
    name = DEFAULT_DEVICE if name is None else str(name).strip().lower()
    if name == "auto":
        there = available_devices()
        return torch.device("cuda" if "cuda" in there else "mps" if "mps" in there else "cpu")
    if name not in DEVICES:
        raise ConfigError(f"unknown device '{name}' (known: {', '.join(DEVICES)})")
    if name not in available_devices():
        what = "no CUDA GPU" if name == "cuda" else "no Apple GPU (MPS)"
        raise ConfigError(f"device '{name}' is not available here (torch sees {what}); use cpu or auto")
    return torch.device(name)
