"""A fixture for tests that train many tiny steps: one torch thread, as in the app and the CLI.

On the shared 2-core machine a second thread mostly waits on the first: tiny-tensor loops
(the toy model, short lab runs) ran 10-40x slower with two. Import it into a test module and
add ``pytestmark = pytest.mark.usefixtures("one_thread")``.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
