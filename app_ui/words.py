"""Lists in words, for the sentences pages write from a visitor's own numbers."""

from __future__ import annotations


def in_words(items) -> str:
    """"a", "a and b", "a, b and c"."""
    items = list(items)
    return " and ".join([", ".join(items[:-1]), items[-1]] if len(items) > 1 else items)
