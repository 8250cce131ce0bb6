"""AppTest tests of the Data page: the table, examples, uploads, pastes and dimension edits.

The app starts from ``streamlit_app.py`` (which fills the session) and then switches page,
as a visitor would; running ``app_pages/data.py`` alone would skip that set-up.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from apptest_helpers import click, start_app

from sae_core.examples import example_names, example_references, load_example
from sae_core.table import dims_of, tokens_of

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "streamlit_app.py")
DATA_PAGE = "app_pages/data.py"
FOUNDING_TOKENS = ["cat", "happy cat", "dog", "loyal dog", "not cat", "not dog", "robot", "AI assistant"]


def start() -> AppTest:
    return start_app(DATA_PAGE)


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def assert_refused(at: AppTest, before: pd.DataFrame, expected: str) -> None:
    """One error naming the problem, and the table exactly as it was."""
    (message,) = errors(at)
    assert expected in message
    assert message.endswith("The table is unchanged.")
    assert table(at).equals(before)


def table(at: AppTest) -> pd.DataFrame:
    return at.session_state["table"]


def editor(at: AppTest):
    (frame,) = [d for d in at.dataframe if d.editing_mode != "read_only"]
    return frame


def heading(at: AppTest) -> str:
    return next(s.value for s in at.subheader if s.value.startswith("Table:"))


# ---- what a first visit shows -----------------------------------------------------------------


def test_first_visit_shows_the_founding_table():
    at = start()
    assert [t.value for t in at.title] == ["Data"]
    assert tokens_of(table(at)) == FOUNDING_TOKENS
    assert table(at).equals(load_example("seed_tokens"))
    shown = editor(at)
    assert shown.editing_mode == "dynamic"
    assert shown.value["token"].tolist() == FOUNDING_TOKENS
    assert list(shown.value.columns) == ["token", "d0", "d1", "d2", "d3"]
    assert heading(at) == "Table: 8 tokens x 4 dimensions"
    assert errors(at) == []
    # the table's heatmap and geometry, the CSV and concepts downloads and the way on to training
    assert len(at.get("vega_lite_chart")) == 2
    assert [b.label for b in at.get("download_button")] == ["Download table as CSV", "Download concepts (JSON)"]
    assert any(link.label == "Next: train an SAE" for link in at.get("page_link"))


def test_first_visit_lists_the_example_authors_concepts():
    at = start()
    refs = at.session_state["references"]
    assert refs == example_references("seed_tokens")
    boxes = {m.label: m.value for m in at.multiselect if m.label.startswith("Tokens of ")}
    assert boxes == {f"Tokens of {r.name}": [t for t in FOUNDING_TOKENS if t in r.tokens] for r in refs}


def test_example_menu_offers_every_bundled_example():
    at = start()
    menu = at.selectbox(key="example")
    assert menu.options[0].startswith("Founding example")
    assert len(menu.options) == len(example_names()) >= 2


# ---- bundled examples ---------------------------------------------------------------------------


def test_load_example_replaces_the_table_and_its_reference_features():
    at = start()
    other = next(n for n in example_names() if n != "seed_tokens")
    at.selectbox(key="example").set_value(other)
    click(at, "Load example")
    expected = load_example(other)
    assert table(at).equals(expected)
    assert editor(at).value["token"].tolist() == tokens_of(expected)
    assert heading(at) == f"Table: {len(expected)} tokens x {len(dims_of(expected))} dimensions"
    labels = [m.label for m in at.multiselect if m.label.startswith("Tokens of ")]
    assert labels == [f"Tokens of {ref.name}" for ref in example_references(other)]
    assert at.session_state["references"] == example_references(other)
    # and back to the founding table
    at.selectbox(key="example").set_value("seed_tokens")
    click(at, "Load example")
    assert tokens_of(table(at)) == FOUNDING_TOKENS


# ---- uploads and pastes -------------------------------------------------------------------------

BAD_CSVS = [
    pytest.param(b"name,a,b\ncat,1,2\ndog,3,4\n", "the first column must be named 'token' (found 'name')", id="no-token-column"),
    pytest.param(b"token,a,b\ncat,1,2\ndog,abc,4\n", "line 3, column 'a': 'abc' is not a number", id="not-a-number"),
    pytest.param(b"token,a\ncat,1\ndog,2\n", "has 1 dimension column(s); at least 2 are needed", id="one-dimension"),
    pytest.param(b"token,a,b\ncat,1,2\ncat,3,4\n", "token 'cat' appears twice", id="duplicate-token"),
    pytest.param(b"token,a,b\ncat,1,2\ndog,3\n", "line 3 has 2 cells but the header has 3", id="short-row"),
    pytest.param("token,a,b\ncaf\u00e9,1,2\n".encode("latin-1"), "not UTF-8 text", id="not-utf8"),
    pytest.param(b"", "the file is empty", id="empty"),
]


@pytest.mark.parametrize("content, problem", BAD_CSVS)
def test_bad_upload_names_the_problem_and_keeps_the_table(content, problem):
    at = start()
    before = table(at).copy()
    at.file_uploader(key="upload").set_value(("bad.csv", content, "text/csv"))
    at.run()
    assert not at.exception
    (message,) = errors(at)
    assert message.startswith("Upload not used: bad.csv: ")
    assert problem in message
    assert message.endswith("Your table is unchanged.")
    assert table(at).equals(before)
    assert at.session_state["table_source"].startswith("Founding example")
    assert editor(at).value["token"].tolist() == FOUNDING_TOKENS


def test_good_upload_replaces_the_table():
    at = start()
    at.file_uploader(key="upload").set_value(("mine.csv", b"token,x,y,z\nsun,1,0,0.5\nmoon,0,1,0.25\n", "text/csv"))
    at.run()
    assert not at.exception
    assert errors(at) == []
    assert tokens_of(table(at)) == ["sun", "moon"]
    assert dims_of(table(at)) == ["x", "y", "z"]
    assert at.session_state["table_source"] == "upload: mine.csv"
    assert editor(at).value["token"].tolist() == ["sun", "moon"]
    assert heading(at) == "Table: 2 tokens x 3 dimensions"
    # an uploaded table has no named features to look for
    assert at.session_state["references"] == []
    assert not [m for m in at.multiselect if m.label.startswith("Tokens of ")]


def test_bad_paste_names_the_problem_and_keeps_the_table():
    at = start()
    before = table(at).copy()
    at.text_area(key="pasted").set_value("token,d0,d1\ncat,0.8,oops\ndog,0.7,0.2")
    click(at, "Use pasted table")
    assert_refused(at, before, "pasted table: line 2, column 'd1': 'oops' is not a number")


def test_good_paste_replaces_the_table():
    at = start()
    at.text_area(key="pasted").set_value("token,d0,d1\ncat,0.8,0.3\ndog,0.7,0.2\nrobot,0,0.9")
    click(at, "Use pasted table")
    assert errors(at) == []
    assert tokens_of(table(at)) == ["cat", "dog", "robot"]
    assert at.session_state["table_source"] == "pasted table"
    assert heading(at) == "Table: 3 tokens x 2 dimensions"


# ---- dimension edits ----------------------------------------------------------------------------


def test_add_dimension_with_default_and_given_names():
    at = start()
    click(at, "Add dimension")
    assert dims_of(table(at)) == ["d0", "d1", "d2", "d3", "d4"]
    assert (table(at)["d4"] == 0).all()
    at.text_input(key="new_dim").set_value("size")
    click(at, "Add dimension")
    assert dims_of(table(at)) == ["d0", "d1", "d2", "d3", "d4", "size"]
    assert list(editor(at).value.columns) == ["token", "d0", "d1", "d2", "d3", "d4", "size"]
    assert heading(at) == "Table: 8 tokens x 6 dimensions"


def test_add_dimension_with_a_used_name_is_refused():
    at = start()
    before = table(at).copy()
    at.text_input(key="new_dim").set_value("d1")
    click(at, "Add dimension")
    assert_refused(at, before, "cannot add dimension 'd1': the name is empty or already used")


def test_remove_dimension_down_to_the_minimum():
    at = start()
    at.selectbox(key="remove_dim").set_value("d2")
    click(at, "Remove dimension")
    assert dims_of(table(at)) == ["d0", "d1", "d3"]
    assert list(editor(at).value.columns) == ["token", "d0", "d1", "d3"]
    click(at, "Remove dimension")  # the menu now offers d0 first
    assert dims_of(table(at)) == ["d1", "d3"]
    before = table(at).copy()
    click(at, "Remove dimension")
    (message,) = errors(at)
    assert "at least 2 are needed" in message
    assert table(at).equals(before)


def test_rename_dimension():
    at = start()
    at.selectbox(key="rename_from").set_value("d0")
    at.text_input(key="rename_to").set_value("animal-ness")
    click(at, "Rename dimension")
    assert dims_of(table(at)) == ["animal-ness", "d1", "d2", "d3"]
    assert table(at)["animal-ness"].tolist() == load_example("seed_tokens")["d0"].tolist()
    assert errors(at) == []


def test_rename_dimension_to_a_used_name_is_refused():
    at = start()
    before = table(at).copy()
    at.selectbox(key="rename_from").set_value("d0")
    at.text_input(key="rename_to").set_value("d3")
    click(at, "Rename dimension")
    (message,) = errors(at)
    assert "cannot rename to 'd3': the name is empty or already used" in message
    assert table(at).equals(before)


# ---- edits in the data editor (seeded through its widget state) ---------------------------------


def edit(at: AppTest, edited_rows=None, added_rows=None, deleted_rows=None) -> AppTest:
    at.session_state[editor(at).key] = {
        "edited_rows": edited_rows or {}, "added_rows": added_rows or [], "deleted_rows": deleted_rows or [],
    }
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_valid_cell_edit_updates_the_table():
    at = start()
    edit(at, edited_rows={0: {"d0": 0.5}})
    assert errors(at) == []
    assert table(at).loc[0, "d0"] == 0.5
    assert tokens_of(table(at)) == FOUNDING_TOKENS


def test_added_and_deleted_tokens_show_in_the_heading_at_once():
    at = start()
    edit(at, added_rows=[{"token": "bird", "d0": 0.9, "d1": 0.1, "d2": 0.0, "d3": 0.1}])
    assert tokens_of(table(at)) == FOUNDING_TOKENS + ["bird"]
    assert heading(at) == "Table: 9 tokens x 4 dimensions"
    edit(at, deleted_rows=[6, 7])
    assert tokens_of(table(at)) == FOUNDING_TOKENS[:6]
    assert heading(at) == "Table: 6 tokens x 4 dimensions"


def test_invalid_edit_is_not_used_and_the_last_valid_table_is_kept():
    at = start()
    before = table(at).copy()
    edit(at, edited_rows={1: {"token": "cat"}})
    (message,) = errors(at)
    assert message.startswith("This edit is not used yet: ")
    assert "token 'cat' appears twice (rows 1 and 2)" in message
    assert "The last valid table is kept for training." in message
    assert table(at).equals(before)
    assert heading(at) == "Table: 8 tokens x 4 dimensions"
