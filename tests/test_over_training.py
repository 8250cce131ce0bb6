"""Over training time: one batched run measured at checkpoints equals separate runs of each length,
with the issue's measured numbers on the founding table (seeds 0-19 of the shipped recipe)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from recovery_rule import recovered_independently

from sae_core import charts
from sae_core.absorption import mean_absorption
from sae_core.errors import ConfigError
from sae_core.features import load_references
from sae_core.over_training import OverTrainingRun, checkpoint_epochs, over_training
from sae_core.stoppable import StoppableRun
from sae_core.table import read_table, tokens_of, values_of
from sae_core.training import RECOMMENDED, Trainer, seed_members, train_seeds

PAIR = "not an animal > robot/AI"
SEEDS = list(range(20))


@pytest.fixture
def refs(seed_csv, seed_tokens):
    return load_references(seed_csv, seed_tokens)


@pytest.fixture(scope="module")
def issue_run(seed_csv):
    """The shipped recipe on seeds 0-19, measured at 250, 500 and 1,000 epochs (about a second)."""
    table = read_table(seed_csv)
    tokens = tokens_of(table)
    return over_training(values_of(table).copy(), RECOMMENDED, tokens, load_references(seed_csv, tokens),
                         SEEDS, checkpoints=[250, 500, 1000])


def test_the_shipped_recipe_loses_not_an_animal_as_it_trains_the_issues_numbers(issue_run):
    assert issue_run.epochs == [250, 500, 1000] and issue_run.finished
    assert [issue_run.recovered(e) for e in issue_run.epochs] == [
        {"animal": 16, "robot/AI": 0, "not an animal": 19},
        {"animal": 17, "robot/AI": 9, "not an animal": 17},
        {"animal": 17, "robot/AI": 14, "not an animal": 12},
    ]
    assert [issue_run.absorption(e) for e in issue_run.epochs] == [{PAIR: 0.05}, {PAIR: 0.15}, {PAIR: 0.40}]
    # seed 0, the first run a class sees, misses "not an animal" at 1,000 epochs: robot/AI took its tokens
    assert issue_run.seed_match(0, 250, "not an animal").exact
    assert not issue_run.seed_match(0, 1000, "not an animal").exact
    assert issue_run.seed_absorption(0, 1000) == {PAIR: 1.0}
    missed = [s for s in SEEDS if not issue_run.seed_match(s, 1000, "not an animal").exact]
    assert len(missed) == 8 and all(issue_run.seed_absorption(s, 1000)[PAIR] == 1.0 for s in missed)
    assert issue_run.commonest_miss(1000, "animal")[1] == 3 and issue_run.commonest_miss(250, "not an animal")[1] == 1


def test_the_long_table_and_its_wide_view(issue_run):
    table = issue_run.table
    assert list(table.columns) == ["epoch", "kind", "what", "value"]
    assert len(table) == 3 * (3 + 1)  # per checkpoint: three concepts, one nested pair
    wide = issue_run.wide()
    assert list(wide.columns) == ["epoch", "animal", "robot/AI", "not an animal", f"absorption {PAIR}"]
    assert wide["not an animal"].tolist() == [19, 17, 12]
    assert issue_run.to_dict()["checkpoints"][2] == {
        "epoch": 1000, "recovered": {"animal": 17, "robot/AI": 14, "not an animal": 12}, "absorption": {PAIR: 0.4}}


@pytest.mark.parametrize("batch_size", [4096, 3])  # full batch, and shuffled mini-batches of 3 tokens
def test_a_checkpoint_holds_the_same_models_as_a_run_of_that_length(seed_x, batch_size):
    """Nothing in the trainer depends on the total epochs: stopped at 300 of 1,200, the models are
    bit for bit those of a 300-epoch run."""
    config = replace(RECOMMENDED, epochs=1200, batch_size=batch_size)
    trainer = Trainer(seed_x, seed_members(config, [0, 1, 2]))
    trainer.fit(stop=lambda: trainer.epoch >= 300)
    assert trainer.epoch == 300
    separate = train_seeds(seed_x, replace(config, epochs=300), [0, 1, 2])
    for kept, alone in zip(trainer.results(), separate):
        np.testing.assert_array_equal(kept.feature_activations, alone.feature_activations)
        np.testing.assert_array_equal(kept.decoder_directions, alone.decoder_directions)


def test_each_checkpoint_counts_what_training_to_that_epoch_alone_recovers(seed_x, seed_tokens, refs):
    """Counted independently (tests/recovery_rule.py) on separate runs of 250, 500 and 750 epochs."""
    seeds = list(range(8))
    run = over_training(seed_x, replace(RECOMMENDED, epochs=750), seed_tokens, refs, seeds, checkpoints=3)
    assert run.epochs == [250, 500, 750]
    for epoch in run.epochs:
        alone = train_seeds(seed_x, replace(RECOMMENDED, epochs=epoch), seeds)
        expected = {r.name: sum(recovered_independently(a.feature_activations, seed_tokens, r.tokens) for a in alone)
                    for r in refs}
        assert run.recovered(epoch) == expected, epoch
        assert run.absorption(epoch) == pytest.approx(
            mean_absorption([a.feature_activations for a in alone], seed_tokens, refs), abs=0)


def test_checkpoints_are_every_fraction_of_the_run_or_the_epochs_listed():
    assert checkpoint_epochs(4000, 10) == [400, 800, 1200, 1600, 2000, 2400, 2800, 3200, 3600, 4000]
    assert checkpoint_epochs(1000, 3) == [333, 667, 1000]
    assert checkpoint_epochs(5, 10) == [1, 2, 3, 4, 5]  # never epoch 0, never twice
    assert checkpoint_epochs(4000, [2000, 250, 250]) == [250, 2000]
    for bad in (0, [], [0], [4001]):
        with pytest.raises(ConfigError):
            checkpoint_epochs(4000, bad)


def test_it_is_a_stoppable_run_and_a_stop_keeps_the_checkpoints_reached(seed_x, seed_tokens, refs):
    run = OverTrainingRun(seed_x, replace(RECOMMENDED, epochs=1000), seed_tokens, refs, 2, checkpoints=10)
    assert isinstance(run, StoppableRun) and run.epoch == 0 and run.progress_every == 25
    reports = []
    run.fit(on_step=lambda log: reports.append(log.epoch), every=30, stop=lambda: run.epoch >= 250)
    out = run.result()
    assert run.epoch == 250 and not run.finished and not out.finished
    assert out.epochs == [100, 200] and out.seeds == [0, 1]
    assert reports == list(range(30, 250, 30))  # the caller's every, whatever the checkpoints
    run.fit()  # a fit may go on where it stopped
    assert run.finished and run.result().finished and run.result().epochs[-1] == 1000


def test_a_table_without_nested_concepts_has_no_absorption_rows(seed_x, seed_tokens, refs):
    flat = [r for r in refs if r.name != "not an animal"]
    run = over_training(seed_x, replace(RECOMMENDED, epochs=100), seed_tokens, flat, [0], checkpoints=2)
    assert run.pairs == [] and set(run.table["kind"]) == {"recovered"} and run.absorption(100) == {}
    assert list(run.wide().columns) == ["epoch", "animal", "robot/AI"]
    assert "vconcat" in charts.over_training_chart(run.table, 1).to_dict()


def test_the_chart_draws_counts_and_absorption_readably(issue_run):
    spec = charts.readable(charts.over_training_chart(issue_run.table, 20, marked_epoch=1000)).to_dict()
    top, bottom = spec["vconcat"]
    assert spec["config"]["axis"]["labelFontSize"] >= 14 and spec["config"]["legend"]["labelFontSize"] >= 14
    counts = top["layer"][0]["encoding"]
    assert counts["y"]["scale"]["domain"] == [0, 20]
    assert counts["color"]["scale"]["range"] == charts.FEATURE_COLOURS[:3]
    assert bottom["layer"][0]["encoding"]["y"]["scale"]["domain"] == [0, 1]
    assert top["layer"][1]["mark"]["type"] == "rule" and spec["datasets"][top["layer"][1]["data"]["name"]] == [{"epoch": 1000}]
    assert bottom["layer"][0]["encoding"]["x"]["title"] == "Epochs trained (dotted line: your 1,000)"
