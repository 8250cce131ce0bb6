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


def test_a_run_too_large_for_memory_is_refused_with_the_way_out():
    import numpy as np
    from sae_core.training import Trainer, check_memory
    check_memory(2_929, 30, [4_096])  # 11,997,184 activations: just under
    with pytest.raises(ConfigError) as info:
        check_memory(2_930, 30, [4_096])
    assert str(info.value) == ("this run holds tokens x models x max(features, dims) = 12,001,280 numbers at once, "
                               "over the memory limit of 12,000,000; use fewer tokens, seeds or features")
    with pytest.raises(ConfigError, match=r"^this run's weights are models x features x dims = 8,388,608, over the "
                                          r"memory limit of 4,194,304; use fewer seeds, features or dimensions$"):
        check_memory(8, 1_024, [4_096, 4_096])
    # members are padded to the widest, and dims count when they exceed the features
    with pytest.raises(ConfigError, match="= 14,080,000 numbers"):
        check_memory(20_000, 10, [1] * 10 + [64])
    with pytest.raises(ConfigError, match="= 20,480,000 numbers"):
        check_memory(20_000, 1_024, [1])
    x = np.zeros((3_000, 2), dtype=np.float32)
    with pytest.raises(ConfigError, match="memory limit of 12,000,000"):
        Trainer(x, TrainConfig(hidden_dim=4_096, epochs=1))
