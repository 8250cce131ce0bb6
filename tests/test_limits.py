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


# The caps written out as literal numbers (README, "Limits and robustness"), not read from limits.py,
# so a changed constant or comparison shows up here.
ACTIVATION_CAP = 12_000_000  # tokens x models x max(features, dims)
WEIGHT_CAP = 4_194_304  # models x features x dims = one 4,096 x 1,024 model


def test_the_caps_are_the_documented_numbers():
    assert (limits.MAX_ACTIVATION_CELLS, limits.MAX_WEIGHT_CELLS) == (ACTIVATION_CAP, WEIGHT_CAP)
    assert (limits.MAX_HIDDEN, limits.MAX_DIMS) == (4_096, 1_024)


@pytest.mark.parametrize("n_rows, d_in, hidden_dims", [
    (12_000_000, 1, [1]),  # tokens alone
    (3_000, 30, [4_000]),  # tokens x features
    (1_000, 1, [4_000] * 3),  # tokens x models x features
    (12_000, 1_000, [1]),  # dims count when they exceed the features
])
def test_activations_at_exactly_the_cap_are_allowed_and_one_more_is_refused(n_rows, d_in, hidden_dims):
    from sae_core.training import check_memory
    assert n_rows * len(hidden_dims) * max(max(hidden_dims), d_in) == ACTIVATION_CAP
    check_memory(n_rows, d_in, hidden_dims)  # exactly at the cap: allowed
    with pytest.raises(ConfigError) as info:
        check_memory(n_rows + 1, d_in, hidden_dims)
    over = (n_rows + 1) * len(hidden_dims) * max(max(hidden_dims), d_in)
    assert str(info.value) == (f"this run holds tokens x models x max(features, dims) = {over:,} numbers at once, "
                               "over the memory limit of 12,000,000; use fewer tokens, seeds or features")


def test_one_activation_cell_over_the_cap_is_refused():
    from sae_core.training import check_memory
    with pytest.raises(ConfigError, match=r"= 12,000,001 numbers at once, over the memory limit of 12,000,000;"):
        check_memory(12_000_001, 1, [1])


@pytest.mark.parametrize("d_in, hidden_dims", [
    (1_024, [4_096]),  # the largest single model
    (1_024, [2_048, 2_048]),  # two models of half the width
    (512, [4_096, 64]),  # members padded to the widest: 2 x 4,096 x 512
])
def test_weights_at_exactly_the_cap_are_allowed(d_in, hidden_dims):
    from sae_core.training import check_memory
    assert len(hidden_dims) * max(hidden_dims) * d_in == WEIGHT_CAP
    check_memory(1, d_in, hidden_dims)


def test_one_weight_cell_over_the_cap_is_refused():
    from sae_core.training import check_memory
    assert 5 * 838_861 == WEIGHT_CAP + 1
    with pytest.raises(ConfigError) as info:
        check_memory(1, 5, [838_861])
    assert str(info.value) == ("this run's weights are models x features x dims = 4,194,305, over the memory limit "
                               "of 4,194,304; use fewer seeds, features or dimensions")


def test_the_documented_largest_model_is_accepted():
    """4,096 features x 1,024 dims: the settings validate, the largest table that fits it (2,929 tokens x
    1,024 dims: 2,929 x 4,096 = 11,997,184 activation cells) passes the memory check, and a Trainer builds it."""
    import numpy as np
    from sae_core.training import Trainer, check_memory
    config = TrainConfig(hidden_dim=4_096, epochs=1).validate()
    check_memory(2_929, 1_024, [4_096])
    trainer = Trainer(np.zeros((2, 1_024), dtype=np.float32), config)
    assert tuple(trainer.model.W_enc.shape) == (1, 1_024, 4_096)
