"""Shared AppTest helpers for the page tests: start the app (its session set-up runs), click."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
DATA_PAGE = "app_pages/data.py"


def start_app(page: str | None = DATA_PAGE, query: dict[str, str] | None = None) -> AppTest:
    """Run streamlit_app.py (so the session is set up), then switch to ``page`` (None: stay on the
    default page, the Lesson)."""
    at = AppTest.from_file(APP, default_timeout=60)
    if query:
        at.query_params.update(query)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def click(at: AppTest, label: str) -> AppTest:
    matches = [b for b in at.button if b.label == label]
    assert len(matches) == 1, f"expected one button {label!r}, found {[b.label for b in at.button]}"
    matches[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at
