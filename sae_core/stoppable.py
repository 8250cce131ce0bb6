"""What the app's one Stop button needs from a run: the small protocol ``Trainer`` and ``GroundTruthLab`` share.

``app_ui.runs.run_stoppable`` drives any such run with one progress bar and one Stop. A
click (Stop, or any widget) reruns the script; ``app_ui.session.settle_interrupted_run``
then sets ``stop``, waits for ``fit`` to return and hands the run to the page's keep
function, which reads what was learned so far. No Streamlit here.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Protocol, runtime_checkable


@runtime_checkable
class StoppableRun(Protocol):
    """A run the app can stop: ``Trainer`` (epochs) and ``GroundTruthLab`` (its steps, every architecture together)."""

    epoch: int  # steps taken so far; 0: nothing learned yet, so nothing to keep after a stop
    progress_every: int  # fit's ``every`` for a progress bar that moves about 40 times
    predicted_bytes: int  # its predicted peak above the process's baseline (sae_core.memory), for a server's line

    @property
    def finished(self) -> bool:
        """True when the run reached its end (a stop came after it, or none came)."""

    def fit(self, on_step: Callable[[Any], None] | None = None, every: int = 0,
            stop: threading.Event | Callable[[], bool] | None = None) -> Any:
        """Train until the end or until ``stop`` is set; call ``on_step(log)`` every ``every`` reports.

        ``log.fraction`` is the share done (0 to 1); ``log.text`` says it in words. A
        callback that raises (Streamlit's rerun) leaves the run in a state its keep function can read.
        """
