"""A setting declared once: its name, type, default, range, label and one line of help.

The training settings every architecture shares are declared in ``training.py``
(``SHARED_SETTINGS``); each architecture declares its own in its file (``SAE.options``).
Everything a person sees or types is generated from these declarations: the Train and Real
model pages' fields, the CLI's flags and their help, the URL's keys and their parsing, the
validation messages, the SAELens cfg fields and the Sweep's sparsity knob.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True)
class Option:
    name: str  # the TrainConfig key, URL key and CLI flag (--name-with-dashes)
    kind: type  # int, float, bool or str
    default: Any
    label: str  # the widget's label
    help: str  # one line: what it does, for a person
    low: float | None = None  # the range (ints and floats), both ends allowed
    high: float | None = None
    noun: str = ""  # what error messages call it (default: the name, with spaces)
    range_text: str = ""  # the range as messages say it, where the numbers alone are unclear
    saelens: str = ""  # its field in a saved SAELens SAE's cfg.json, where there is one (TopK's "k")
    saelens_training: str = ""  # its field in SAELens' training config for the architecture
    per_member: bool = False  # members of one batched run may differ in it (a sweep's knob)
    advanced: bool = False  # shown under "Training options" rather than beside the hidden size
    step: float | None = None  # the widget's step
    format: str = ""  # the widget's number format, e.g. "%.4g"
    sweep_values: tuple = ()  # the Sweep's starting grid, when this is an architecture's knob
    sweep_choices: tuple = ()  # the values the Sweep page offers for it (its starting grid among them)

    @property
    def what(self) -> str:
        return self.noun or self.name.replace("_", " ")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def describe_range(self) -> str:
        if self.range_text:
            return self.range_text
        if self.kind is int:
            return f"a whole number from {self.low:,} to {self.high:,}"
        return f"from {self.low:g} to {self.high:g}"

    def check(self, value) -> Any:
        """``value`` if it has this option's type and range, else ConfigError naming both."""
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{self.what} must be true or false (got {value!r})")
            return value
        if self.kind is str:
            if not isinstance(value, str):
                raise ConfigError(f"{self.what} must be text (got {value!r})")
            return value
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        whole = isinstance(value, int) and not isinstance(value, bool)
        if (self.kind is int and not whole) or not number or not math.isfinite(value) \
                or not self.low <= value <= self.high:
            raise ConfigError(f"{self.what} must be {self.describe_range()} (got {value})")
        return value

    def coerce(self, value) -> Any:
        """A value read from JSON: ints become floats for a float option; other types must match."""
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, self.kind) or (self.kind is int and isinstance(value, bool)):
            raise ConfigError(f"training setting '{self.name}' must be {self.kind.__name__} (got {value!r})")
        return value

    def parse(self, text: str) -> Any:
        """A value from text (a URL, a CLI flag): ConfigError when it is not one."""
        text = str(text).strip()
        try:
            if self.kind is bool:
                if text.lower() not in ("0", "1", "true", "false"):
                    raise ValueError
                value = text.lower() in ("1", "true")
            elif self.kind is int:
                value = int(text)
            elif self.kind is float:
                value = float(text)
            else:
                value = text
        except ValueError:
            raise ConfigError(f"{self.what} must be {self.describe_range() if self.kind in (int, float) else self.kind.__name__}"
                              f" (got {text!r})") from None
        return self.check(value)

    def text(self, value) -> str:
        """The value as a URL or a CLI flag writes it (``parse`` reads it back exactly)."""
        if self.kind is bool:
            return str(int(value))
        return repr(value) if self.kind is float else str(value)


def same_declaration(a: Option, b: Option) -> bool:
    """Two architectures may share an option (k in the TopK family) only if it means the same value."""
    return (a.kind, a.default, a.low, a.high, a.per_member) == (b.kind, b.default, b.low, b.high, b.per_member)
