"""AppTest: the Data page's concept editor, example settings and geometry (lesson-concepts)."""

from __future__ import annotations

import json

from apptest_helpers import click, start_app

from sae_core.examples import example_settings
from sae_core.features import ReferenceFeature
from sae_core.training import RECOMMENDED

DATA_PAGE = "app_pages/data.py"


def concept_box(at, name):
    (box,) = [m for m in at.multiselect if m.label == f"Tokens of {name}"]
    return box


def refs(at) -> dict[str, set[str]]:
    return {r.name: set(r.tokens) for r in at.session_state["references"]}


def markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_the_founding_concepts_are_listed_for_editing_and_the_geometry_says_not_superposition():
    at = start_app(DATA_PAGE)
    assert "Named concepts" in [s.value for s in at.subheader]
    assert concept_box(at, "animal").value == ["cat", "happy cat", "dog", "loyal dog"]
    assert concept_box(at, "robot/AI").value == ["robot", "AI assistant"]
    assert "3 named concepts in 4 dimensions" in markdown(at) and "**not superposition**" in markdown(at)
    assert any("this view keeps 98% of the table's variance" in c.value for c in at.caption)


def test_editing_a_concepts_tokens_changes_the_concept():
    at = start_app(DATA_PAGE)
    concept_box(at, "animal").set_value(["cat", "happy cat", "dog"]).run()
    assert not at.exception
    assert refs(at)["animal"] == {"cat", "happy cat", "dog"}
    assert concept_box(at, "animal").value == ["cat", "happy cat", "dog"]  # the widget keeps the edit
    concept_box(at, "animal").set_value([]).run()
    assert [e.value for e in at.error] == [
        "Concept 'animal' needs at least one token; remove it instead. It is unchanged."]
    assert refs(at)["animal"] == {"cat", "happy cat", "dog"}


def test_add_and_remove_a_concept():
    at = start_app(DATA_PAGE)
    at.text_input(key="new_concept_name").set_value("pets")
    at.multiselect(key="new_concept_tokens").set_value(["cat", "dog"])
    click(at, "Add concept")
    assert refs(at)["pets"] == {"cat", "dog"} and len(refs(at)) == 4
    assert "4 named concepts in 4 dimensions" in markdown(at)
    at.text_input(key="new_concept_name").set_value("pets")
    click(at, "Add concept")
    assert "a concept named 'pets' exists" in at.error[0].value
    removes = [b for b in at.button if b.label == "Remove"]
    assert len(removes) == 4
    removes[0].click().run()
    assert set(refs(at)) == {"robot/AI", "not an animal", "pets"}
    assert [m.label for m in at.multiselect if m.label.startswith("Tokens of")] == [
        "Tokens of robot/AI", "Tokens of not an animal", "Tokens of pets"]


def test_concepts_upload_and_a_bad_one():
    at = start_app(DATA_PAGE)
    good = json.dumps({"features": [{"name": "cats", "tokens": ["cat", "happy cat", "unicorn"]}]}).encode()
    at.file_uploader(key="concepts_upload").set_value(("mine.features.json", good, "application/json"))
    at.run()
    assert not at.exception
    assert refs(at) == {"cats": {"cat", "happy cat"}}  # a token the table lacks is dropped
    at.file_uploader(key="concepts_upload").set_value(("broken.json", b"{oops", "application/json"))
    at.run()
    assert at.error[0].value.startswith("Concepts not used: broken.json: not a valid reference-feature file")
    assert refs(at) == {"cats": {"cat", "happy cat"}}


def test_deleting_a_dimension_keeps_the_edited_concepts():
    at = start_app(DATA_PAGE)
    concept_box(at, "animal").set_value(["cat", "dog"]).run()
    at.selectbox(key="remove_dim").set_value("d3")
    click(at, "Remove dimension")
    assert refs(at)["animal"] == {"cat", "dog"}
    assert "3 named concepts in 3 dimensions" in markdown(at)


def test_each_example_offers_its_recommended_settings():
    at = start_app(DATA_PAGE)
    at.session_state["hidden_dim"] = 3
    at.session_state["seed"] = 7
    click(at, "Use this example's recommended settings")
    for name in ("hidden_dim", "sparsity_weight", "lr", "epochs", "decoder_norm_penalty"):
        assert at.session_state[name] == getattr(RECOMMENDED, name), name
    assert at.session_state["seed"] == 7  # the seed stays the visitor's
    at.selectbox(key="example").set_value("colors_and_shapes").run()
    assert not [b for b in at.button if b.label == "Use this example's recommended settings"]  # not loaded yet
    shipped = example_settings("colors_and_shapes")
    assert shipped.teaches in [c.value for c in at.caption]
    click(at, "Load example")
    assert "5 named concepts in 3 dimensions" in markdown(at) and "**is superposition**" in markdown(at)
    click(at, "Use this example's recommended settings")
    for name in ("hidden_dim", "sparsity_weight", "lr", "epochs", "init_decoder_bias_to_mean"):
        assert at.session_state[name] == getattr(shipped.config, name), name
    assert at.session_state["references"][0] == ReferenceFeature(
        "red", frozenset({"red circle", "red square", "big red circle", "big red square", "red", "big red"}))


# ---- Features page: geometry with decoder arrows, building blocks, kitten ----------------------

FEATURES_PAGE, TRAIN_PAGE, STABILITY_PAGE = "app_pages/features.py", "app_pages/train.py", "app_pages/stability.py"


def train_then_features(at, epochs: int = 1000):
    at.switch_page(TRAIN_PAGE).run()
    at.number_input(key="epochs").set_value(epochs)
    click(at, "Train")
    at.switch_page(FEATURES_PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_building_blocks_turn_a_feature_off_and_the_reconstruction_error_changes():
    at = train_then_features(start_app(DATA_PAGE))
    assert {"Geometry: is this superposition?", "Features as building blocks"} <= {s.value for s in at.subheader}
    assert any("Coloured arrows: what each live feature adds" in c.value for c in at.caption)
    at.selectbox(key="blocks_token").set_value("robot").run()
    switches = [c for c in at.checkbox if c.label.endswith(" on") and c.key.startswith("blocks_on_robot_")]
    assert switches, "robot fires at least one feature"
    line = next(m.value for m in at.markdown if m.value.startswith("Reconstruction error"))
    assert line.endswith(" as learned.")
    switches[0].uncheck().run()
    assert not at.exception
    edited = next(m.value for m in at.markdown if m.value.startswith("Reconstruction error"))
    assert "with your edit." in edited
    before, after = (float(v) for v in __import__("re").findall(r"(\d+\.\d{4})", edited))
    assert after > before  # taking a block away makes the robot worse


def test_a_feature_on_the_animals_plus_kitten_reads_plus_kitten():
    """The issue's case: kitten next to cat, a feature firing on the animals and kitten, concept without kitten."""
    at = start_app(DATA_PAGE)
    at.text_area(key="pasted").set_value(
        "token,d0,d1,d2,d3\ncat,0.8,0.3,0.1,0.05\nkitten,0.81,0.31,0.11,0.05\nhappy cat,0.82,0.32,0.12,0.06\n"
        "dog,0.7,0.2,0.05,0.2\nloyal dog,0.75,0.3,0.1,0.25\nnot cat,0.05,0.9,0.4,0.4\nnot dog,0.15,0.85,0.35,0.5\n"
        "robot,0,0.7,0.9,0.8\nAI assistant,0.1,0.6,0.85,0.75\n")
    click(at, "Use pasted table")
    at.text_input(key="new_concept_name").set_value("animal")
    at.multiselect(key="new_concept_tokens").set_value(["cat", "happy cat", "dog", "loyal dog"])
    click(at, "Add concept")
    at.session_state["seed"] = 100
    train_then_features(at)
    (block,) = [m.value for m in at.markdown if m.value.startswith("**Named concepts and the closest")]
    assert "*animal* ≈ **F" in block and ": +kitten (Jaccard 0.80)" in block
    # add kitten to the concept on the Data page: now exact
    at.switch_page(DATA_PAGE).run()
    concept_box(at, "animal").set_value(["cat", "kitten", "happy cat", "dog", "loyal dog"]).run()
    train_then_features(at)
    (block,) = [m.value for m in at.markdown if m.value.startswith("**Named concepts and the closest")]
    assert "*animal* → **F" in block and "exact" in block


def test_stability_shows_exact_counts_median_jaccard_and_absorption():
    at = start_app(STABILITY_PAGE)
    at.slider(key="stability_seeds").set_value(4).run()
    click(at, "Train all seeds")
    assert "Named concepts: exact recoveries and near misses" in [s.value for s in at.subheader]
    text = markdown(at)
    run = at.session_state["stability"]
    for name, count in run.recovered.items():
        assert f"- *{name}*: exact in **{count}/4** seeds, median best Jaccard **" in text
    assert "**Why the nested concept is the fragile one.** *not an animal* contains *robot/AI*" in text
    assert "feature absorption" in text


# ---- concepts follow the table's token edits ----------------------------------------------------


def edit_table(at, **changes):
    (frame,) = [d for d in at.dataframe if d.editing_mode != "read_only"]
    at.session_state[frame.key] = {"edited_rows": {}, "added_rows": [], "deleted_rows": [], **changes}
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_concepts_follow_a_token_rename_a_deletion_and_take_a_new_token():
    at = start_app(DATA_PAGE)
    edit_table(at, edited_rows={0: {"token": "kitty"}})
    assert refs(at)["animal"] == {"kitty", "happy cat", "dog", "loyal dog"}
    assert concept_box(at, "animal").value == ["kitty", "happy cat", "dog", "loyal dog"]
    edit_table(at, edited_rows={0: {"token": "kitty"}}, deleted_rows=[6, 7])  # robot, AI assistant
    assert refs(at) == {"animal": {"kitty", "happy cat", "dog", "loyal dog"}, "not an animal": {"not cat", "not dog"}}
    edit_table(at, edited_rows={0: {"token": "kitty"}}, deleted_rows=[6, 7],
               added_rows=[{"token": "kitten", "d0": 0.81, "d1": 0.31, "d2": 0.11, "d3": 0.05}])
    concept_box(at, "animal").set_value(["kitty", "happy cat", "dog", "loyal dog", "kitten"]).run()
    assert refs(at)["animal"] == {"kitty", "happy cat", "dog", "loyal dog", "kitten"}
    assert "2 named concepts in 4 dimensions" in markdown(at)
