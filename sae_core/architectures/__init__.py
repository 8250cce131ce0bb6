"""Registry of SAE architectures: a string key -> model class. Menus read ``ARCHITECTURES``."""

from __future__ import annotations

from .standard import StandardSAE

ARCHITECTURES: dict[str, type] = {}


def register(cls: type) -> type:
    key = cls.key
    if key in ARCHITECTURES:
        raise ValueError(f"architecture '{key}' is already registered")
    ARCHITECTURES[key] = cls
    return cls


def get_architecture(key: str) -> type:
    try:
        return ARCHITECTURES[key]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES))
        raise KeyError(f"unknown architecture '{key}' (known: {known})") from None


register(StandardSAE)
