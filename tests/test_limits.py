"""sae_core.limits: the exact refusal texts people see, and the memory caps."""

from __future__ import annotations

import pytest

from sae_core import limits
from sae_core.errors import ConfigError
from sae_core.training import TrainConfig


@pytest.mark.parametrize("seed", [-1, 2**31, 2**63 - 1])
def test_the_seed_message_states_the_real_limit(seed):
    with pytest.raises(ConfigError) as info:
        TrainConfig(seed=seed).validate()
    assert str(info.value) == f"seed must be a whole number from 0 to 2^31-1 = 2,147,483,647 (got {seed})"


def test_the_largest_seed_is_accepted():
    assert limits.MAX_SEED == 2**31 - 1
    assert TrainConfig(seed=limits.MAX_SEED).validate().seed == 2**31 - 1
