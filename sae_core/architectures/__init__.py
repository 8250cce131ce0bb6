"""Registry of SAE architectures: a string key -> model class. Menus read ``ARCHITECTURES``.

Adding one: see README.md in this folder (one file, one ``register`` line below).
``OPTIONS`` holds every registered architecture's options by name: two architectures may
share one (the TopK family's k) only when they declare the same value (type, default, range).
"""

from __future__ import annotations

from ..errors import ConfigError
from ..options import Option, same_declaration
from .base import SAE
from .batchtopk import BatchTopKSAE
from .jumprelu import JumpReLUSAE
from .matryoshka import MatryoshkaSAE
from .standard import StandardSAE
from .topk import TopKSAE

ARCHITECTURES: dict[str, type[SAE]] = {}
OPTIONS: dict[str, Option] = {}


def register(cls: type[SAE]) -> type[SAE]:
    key = cls.key
    if key in ARCHITECTURES:
        raise ValueError(f"architecture '{key}' is already registered")
    for option in cls.options:
        known = OPTIONS.get(option.name)
        if known is not None and not same_declaration(known, option):
            raise ValueError(f"option '{option.name}' of '{key}' differs from the one already registered")
    if not any(o.name == cls.knob and o.per_member for o in cls.options):
        raise ValueError(f"'{key}' must name one of its per-member options as its knob (what a sweep varies)")
    ARCHITECTURES[key] = cls
    for option in cls.options:
        OPTIONS.setdefault(option.name, option)
    return cls


def unregister(key: str) -> None:
    """Remove an architecture (tests that register a throwaway one); options no other uses go too."""
    cls = ARCHITECTURES.pop(key)
    still_used = {o.name for other in ARCHITECTURES.values() for o in other.options}
    for option in cls.options:
        if option.name not in still_used:
            OPTIONS.pop(option.name, None)


def get_architecture(key: str) -> type[SAE]:
    try:
        return ARCHITECTURES[key]
    except KeyError:
        raise ConfigError(f"unknown architecture '{key}' (known: {', '.join(sorted(ARCHITECTURES))})") from None


def option_of(architecture: str, name: str) -> Option:
    """How ``architecture`` declares option ``name`` (its own label and help)."""
    return next(o for o in get_architecture(architecture).options if o.name == name)


register(StandardSAE)
register(TopKSAE)
register(BatchTopKSAE)
register(JumpReLUSAE)
register(MatryoshkaSAE)
