"""Real model page, section 4 "Dictionary sizes" (AppTest) on a small planted table put in the session: no
MiniLM needed (the page is told the model is there; nothing is extracted)."""

from __future__ import annotations

import pytest

from apptest_helpers import click, start_app
from test_splitting import CONCEPTS, planted_table
from torch_threads import one_thread  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("offline", "one_thread")

PAGE = "app_pages/real_model.py"


@pytest.fixture(scope="module")
def split(request):
    import sae_core.real_model.extraction as extraction
    from sae_core.real_model.extraction import Extraction
    patch = pytest.MonkeyPatch()
    patch.setattr(extraction, "model_available", lambda: True)
    request.addfinalizer(patch.undo)
    x, words = planted_table()
    at = start_app(PAGE)
    at.session_state.real_extraction = Extraction(x, [{"token": w, "word": w, "doc": 0, "start": 0, "end": 0}
                                                      for w in words], "planted", 3, "words")
    at.session_state.real_concepts = CONCEPTS
    at.run()
    for key, value in (("real_hidden_dim", 8), ("real_epochs", 10), ("real_k", 2), ("real_batch_size", 64)):
        at.number_input(key=key).set_value(value).run()
    assert at.info[0].value.startswith("No SAE yet")  # section 4 needs no trained SAE of section 2
    assert any(s.value.startswith("4. Dictionary sizes") for s in at.subheader)
    assert "No sizes compared yet" in at.info[-1].value
    at.text_input(key="real_sizes").set_value("8, 4").run()
    click(at, "Train every size")
    return at


def test_sizes_train_into_a_table_a_chart_a_sentence_and_trees(split):
    at = split
    result = at.session_state.real_split
    assert [s.size for s in result.sizes] == [4, 8] and all(s.config.k == 2 for s in result.sizes)
    table = at.dataframe[-1].value
    assert table["size"].tolist() == [4, 4, 4, 8, 8, 8] and table["concept"].tolist() == list(CONCEPTS) * 2
    assert table["explained_variance"].tolist() == pytest.approx([s.explained_variance for s in result.sizes
                                                                  for _ in CONCEPTS])
    text = " ".join(md.value for md in at.markdown)
    first, last = result.sizes
    assert f"**{first.explained_variance:.0%}** at 4 features, **{last.explained_variance:.0%}** at 8" in text
    animal = last.concepts["animal"]
    assert f"for *animal* goes {first.concepts['animal'].f1:.2f} → {animal.f1:.2f} (best random direction " \
           f"{animal.random_f1:.2f})" in text
    assert "absent" not in text.split("Split trees")[0].split("Explained variance")[-1]  # a concept with no rows
    tree = result.trees()["animal"]
    assert f"- **4 · F{tree.feature}** (F1 {tree.f1:.2f})" in text
    assert "Dashed: the chance level, the best of 2 x 8 random directions" in " ".join(c.value for c in at.caption)
    assert not at.exception


def test_the_sizes_travel_in_the_link_and_bad_sizes_are_one_line(split):
    at = split
    assert at.query_params["real_sizes"] == ["8, 4"] or at.query_params["real_sizes"] == "8, 4"
    at.text_input(key="real_sizes").set_value("4, 8, x").run()
    click(at, "Train every size")
    assert at.error[0].value.startswith("Cannot train: dictionary sizes must be whole numbers")
    assert [s.size for s in at.session_state.real_split.sizes] == [4, 8]  # the last result stays
    at.text_input(key="real_sizes").set_value("1, 8").run()
    click(at, "Train every size")
    assert at.error[0].value == "Cannot train: k must be at most the hidden size (1), got 2"
    assert not at.exception


def test_the_trade_off_sentence_says_what_the_numbers_say():
    from dataclasses import replace

    import numpy as np
    from app_ui.split_view import trade_off_sentence
    from sae_core.splitting import ConceptScore, SplitResult
    from test_splitting import size_result

    def sizes(*per_size):
        return [replace(size_result(size, np.eye(2), [0.0], ["w"], 0), explained_variance=ev,
                        concepts={name: ConceptScore(f1, 0, chance, {}) for name, (f1, chance) in scores.items()})
                for size, ev, scores in per_size]
    result = SplitResult(sizes(
        (64, 0.597, {"animal": (0.57, 0.54), "machine": (0.63, 0.48), "negation": (0.91, 0.55)}),
        (1536, 0.874, {"animal": (0.63, 0.54), "machine": (0.45, 0.48), "negation": (0.58, 0.55)})),
        ["animal", "machine", "negation"], 100)
    assert trade_off_sentence(result) == (
        "Explained variance grows with the dictionary: **60%** at 64 features, **87%** at 1,536. The best single "
        "feature's F1 for *animal* goes 0.57 → 0.63 (best random direction 0.54); for *machine* goes 0.63 → 0.45 "
        "(best random direction 0.48); for *negation* goes 0.91 → 0.58 (best random direction 0.55). *machine* and "
        "*negation* are caught better by one feature of the small dictionary than of the large one: as the "
        "dictionary grows, a broad concept splits into narrower features (see the tree below). At 1,536 features "
        "*machine* is below chance. At 1,536 features *negation* barely beats chance.")
    flat = SplitResult(sizes((64, 0.5, {"animal": (0.9, 0.5)}), (256, 0.5, {"animal": (0.95, 0.5)})), ["animal"], 9)
    assert trade_off_sentence(flat) == ("Explained variance does not grow with the dictionary: **50%** at 64 "
                                        "features, **50%** at 256. The best single feature's F1 for *animal* goes "
                                        "0.90 → 0.95 (best random direction 0.50).")
