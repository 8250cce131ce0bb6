"""The real model: activations of all-MiniLM-L6-v2 on text, the corpora bundled for it, and the
feature dashboards drawn from an SAE trained on them.

- ``extraction``: text -> one row per word piece or word (the only code that imports
  ``transformers``, lazily, inside ``load_model``),
- ``corpora``: the bundled texts and their named concepts,
- ``dashboards``: top contexts, word search, histograms, concept matches.
"""
