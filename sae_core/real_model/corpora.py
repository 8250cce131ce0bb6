"""Texts for the real model, all offline: the bundled founding story and Python's own docstrings.

``founding_story``: about 2,400 sentences written by ``data/real/make_founding_story.py`` from
templates (animals, machines and AI, negation, neutral filler), with concept word lists beside
it (``founding_story.concepts.json``). ``stdlib_docstrings``: an unrelated source, the
docstrings of a fixed list of standard-library modules, read at run time with ``inspect``
(so they follow the Python version that runs the app).
"""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path

from .. import limits
from ..errors import SAEInputError

REAL_DATA = Path(__file__).resolve().parents[2] / "data" / "real"
FOUNDING_STORY = REAL_DATA / "founding_story.txt"
FOUNDING_CONCEPTS = REAL_DATA / "founding_story.concepts.json"
STDLIB_MODULES = ("json", "collections", "itertools", "functools", "pathlib", "textwrap", "string",
                  "datetime", "random", "statistics", "fractions", "heapq", "bisect", "shutil",
                  "tempfile", "csv", "argparse", "logging", "calendar", "difflib")

CORPORA = {
    "founding_story": "The founding story: animals, machines and AI, negation (bundled)",
    "stdlib_docstrings": "Python's standard library docstrings (read at run time)",
}


def founding_story() -> str:
    return FOUNDING_STORY.read_text(encoding="utf-8")


def founding_concepts() -> dict[str, frozenset[str]]:
    """Concept name -> the lower-case whole words that belong to it."""
    return load_concepts(FOUNDING_CONCEPTS)


def load_concepts(path) -> dict[str, frozenset[str]]:
    """A concept-list file (``{"concepts": {name: [word, ...]}}``, as founding_story.concepts.json) -> name ->
    its lower-case words; a file that is not one is a one-line SAEInputError."""
    name = Path(path).name
    try:
        data = json.loads(Path(path).read_bytes()[: limits.MAX_UPLOAD_BYTES + 1].decode("utf-8"))
    except OSError:
        raise SAEInputError(f"{name}: cannot be read (expected a concept-list JSON file)") from None
    except (UnicodeDecodeError, ValueError):
        raise SAEInputError(f"{name}: not a UTF-8 JSON file") from None
    concepts = data.get("concepts") if isinstance(data, dict) else None
    if not isinstance(concepts, dict) or not concepts or not all(
            isinstance(words, list) and words and all(isinstance(w, str) for w in words) for words in concepts.values()):
        raise SAEInputError(f'{name}: expected {{"concepts": {{"name": ["word", ...], ...}}}} with at least one '
                            "concept, each a non-empty list of words")
    return {str(c): frozenset(w.lower() for w in words) for c, words in concepts.items()}


def stdlib_docstrings(modules: tuple[str, ...] = STDLIB_MODULES) -> str:
    """One document per docstring (module, then its public classes and functions, sorted by name)."""
    docs: list[str] = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError:  # a trimmed Python: skip what is missing
            continue
        objects = [module] + [obj for key, obj in sorted(vars(module).items())
                              if not key.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj))
                              and getattr(obj, "__module__", None) == module.__name__]
        for obj in objects:
            doc = inspect.getdoc(obj)
            if doc:
                docs.append(" ".join(doc.split()))
    return "\n\n".join(docs)


def corpus_text(name: str) -> str:
    if name == "founding_story":
        return founding_story()
    if name == "stdlib_docstrings":
        return stdlib_docstrings()
    raise KeyError(f"unknown corpus '{name}' (known: {', '.join(CORPORA)})")


def corpus_concepts(name: str) -> dict[str, frozenset[str]]:
    """The concept word lists shipped with a corpus ({} when it has none)."""
    return founding_concepts() if name == "founding_story" else {}
