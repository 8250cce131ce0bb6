"""The browser-test gate: a missing chromium fails under CI=true, CI=1 or CI=yes, in any case."""

from __future__ import annotations

import pytest

from ci import running_in_ci


@pytest.mark.parametrize("value, ci", [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("Yes", True),
                                       (" true ", True), ("", False), ("0", False), ("false", False), ("no", False)])
def test_ci_values(monkeypatch, value, ci):
    monkeypatch.setenv("CI", value)
    assert running_in_ci() is ci


def test_no_ci_variable_is_not_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert running_in_ci() is False
