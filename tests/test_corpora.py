"""The bundled founding story, its concept word lists, and the standard-library docstrings."""

from __future__ import annotations

import re
import subprocess
import sys

from sae_core.real_model.corpora import (CORPORA, FOUNDING_STORY, corpus_concepts, corpus_text, founding_concepts,
                              stdlib_docstrings)
from sae_core.real_model.extraction import split_documents


def test_the_founding_story_is_thousands_of_distinct_sentences():
    documents = split_documents(corpus_text("founding_story"))
    sentences = [s for d in documents for s in re.split(r"(?<=\.) ", d)]
    assert len(documents) == 600 and len(sentences) == 2400
    assert len(set(sentences)) == 2400


def test_every_concept_has_words_in_the_story():
    words = set(re.findall(r"[a-z']+", corpus_text("founding_story").lower()))
    concepts = founding_concepts()
    assert list(concepts) == ["animal", "machine or AI", "negation"]
    for name, vocabulary in concepts.items():
        assert len(vocabulary & words) >= 10, name
    assert {"cat", "dogs", "mice"} <= concepts["animal"] and {"not", "won't", "never"} <= concepts["negation"]
    assert corpus_concepts("stdlib_docstrings") == {}


def test_the_generator_rewrites_the_same_file(tmp_path):
    before = FOUNDING_STORY.read_bytes()
    subprocess.run([sys.executable, str(FOUNDING_STORY.with_name("make_founding_story.py"))], check=True,
                   capture_output=True)
    assert FOUNDING_STORY.read_bytes() == before


def test_stdlib_docstrings_are_read_at_run_time():
    text = stdlib_docstrings(("json", "textwrap"))
    documents = split_documents(text)
    assert len(documents) > 5 and documents[0].startswith("JSON (JavaScript Object Notation)")
    assert stdlib_docstrings(("no_such_module_here",)) == ""
    assert set(CORPORA) == {"founding_story", "stdlib_docstrings"}
