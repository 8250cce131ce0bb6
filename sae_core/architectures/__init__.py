"""Registry of SAE architectures: a string key -> model class. Menus read ``ARCHITECTURES``.

Adding one: see README.md in this folder (one file, one ``register`` line below).
"""

from __future__ import annotations

from .base import SAE
from .batchtopk import BatchTopKSAE
from .jumprelu import JumpReLUSAE
from .standard import StandardSAE
from .topk import TopKSAE

ARCHITECTURES: dict[str, type[SAE]] = {}


def register(cls: type[SAE]) -> type[SAE]:
    key = cls.key
    if key in ARCHITECTURES:
        raise ValueError(f"architecture '{key}' is already registered")
    ARCHITECTURES[key] = cls
    return cls


def get_architecture(key: str) -> type[SAE]:
    try:
        return ARCHITECTURES[key]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES))
        raise KeyError(f"unknown architecture '{key}' (known: {known})") from None


register(StandardSAE)
register(TopKSAE)
register(BatchTopKSAE)
register(JumpReLUSAE)
