"""Whether the tests run under CI, where a missing browser is a failure, not a skip."""

from __future__ import annotations

import os

CI_VALUES = ("true", "1", "yes")


def running_in_ci() -> bool:
    """CI services set ``CI=true``; people also write ``CI=1`` or ``CI=yes`` (any case)."""
    return os.environ.get("CI", "").strip().lower() in CI_VALUES
