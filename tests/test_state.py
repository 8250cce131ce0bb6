"""The URL form of the app's settings: round trips, and bad values fall back to defaults."""

import base64
import zlib
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from sae_core import limits
from sae_core.features import ReferenceFeature
from sae_core.state import (CONCEPTS_PARAM, TABLE_PARAM, AppState, PageChoices, carries_settings, concepts_from_param,
                            link_query, table_from_param)
from sae_core.training import RECOMMENDED


def test_round_trip_keeps_every_setting():
    config = replace(RECOMMENDED, hidden_dim=12, sparsity_weight=0.047, lr=0.0021, epochs=777, seed=123456,
                     unit_norm_decoder=True, tied_init=False, resample_dead_every=250, init_decoder_norm=0.0)
    state = AppState("colors_and_shapes", config)
    query = state.to_query()
    assert query["seed"] == "123456" and query["unit_norm_decoder"] == "1" and query["tied_init"] == "0"
    assert AppState.from_query(query) == state


def test_empty_query_gives_the_recommended_defaults():
    assert AppState.from_query({}) == AppState()
    assert AppState().config == RECOMMENDED and AppState().example == "seed_tokens"


def test_bad_values_fall_back_field_by_field():
    state = AppState.from_query({
        "example": "../../etc/passwd", "hidden_dim": "0", "sparsity_weight": "nan", "lr": "fast",
        "epochs": "1e99", "seed": "3000000000", "tied_init": "yes", "unknown": "1", "init_decoder_norm": "0.5",
    })
    assert state.example == "seed_tokens"
    assert state.config == replace(RECOMMENDED, init_decoder_norm=0.5)


def test_a_link_with_the_largest_seed_reproduces_it():
    assert AppState.from_query({"seed": str(2**31 - 1)}).config.seed == 2**31 - 1


def test_the_architecture_and_its_settings_travel_in_the_url():
    config = replace(RECOMMENDED, architecture="jumprelu", jumprelu_threshold=0.02, jumprelu_bandwidth=0.1,
                     k=7, auxk_weight=0.25, batch_size=512)
    query = AppState(config=config).to_query()
    assert query["architecture"] == "jumprelu" and query["jumprelu_threshold"] == "0.02"
    assert AppState.from_query(query).config == config
    assert AppState.from_query({"architecture": "gated"}).config.architecture == RECOMMENDED.architecture
    assert AppState.from_query({"architecture": "topk", "k": "100000"}).config.k == RECOMMENDED.k


# ---- page choices, Presenter, and data in the link -------------------------------------------


def test_page_choices_and_presenter_round_trip_and_defaults_stay_out_of_the_link():
    state = AppState(presenter=True, choices=PageChoices(feature=12, features_page=3, sweep_point=5, lesson_step=4))
    query = state.to_query()
    assert query["presenter"] == "1" and query["feature"] == "12" and query["sweep_point"] == "5"
    assert "stability_seeds" not in query  # still the default
    assert AppState.from_query(query) == state
    assert "presenter" not in AppState().to_query() and "feature" not in AppState().to_query()


def test_bad_page_choices_fall_back_one_by_one():
    state = AppState.from_query({"feature": "-5", "features_page": "0", "stability_seeds": "65", "sweep_point": "x",
                                 "lesson_step": "3", "presenter": "true"})
    assert state.choices == PageChoices(lesson_step=3) and state.presenter is False


def test_a_link_says_when_it_carries_settings():
    assert not carries_settings({}) and not carries_settings({"utm": "x"})
    assert carries_settings({"hidden_dim": "7"}) and carries_settings({"table": "abc"})


def test_an_edited_table_and_its_concepts_travel_in_the_link(seed_table, seed_tokens):
    table = seed_table.copy()
    table.loc[0, "token"], table.loc[1, "d2"] = "kitten", -0.123456789
    refs = [ReferenceFeature("animal", frozenset({"kitten", "dog"})), ReferenceFeature("empty", frozenset())]
    link = link_query(AppState(), table, refs)
    assert not link.data_left_out
    back = table_from_param(link.query[TABLE_PARAM])
    assert back.equals(table)  # every float32 value exactly
    tokens = back["token"].tolist()
    assert concepts_from_param(link.query[CONCEPTS_PARAM], tokens) == [refs[0]]  # an empty concept is dropped
    assert len(link.query[TABLE_PARAM]) + len(link.query[CONCEPTS_PARAM]) <= limits.MAX_LINK_DATA_CHARS


def test_a_table_too_large_for_a_link_is_left_out_and_said_so():
    rng = np.random.default_rng(0)
    big = pd.DataFrame({"token": [f"t{i}" for i in range(200)]})
    for d in range(8):
        big[f"d{d}"] = rng.normal(size=200).astype(np.float32)
    link = link_query(AppState(), big, None)
    assert link.data_left_out and TABLE_PARAM not in link.query
    assert link.query == AppState().to_query()  # the settings still travel


@pytest.mark.parametrize("packed", ["", "not base64 at all!", "AAAA", base64.urlsafe_b64encode(b"plain").decode(),
                                    base64.urlsafe_b64encode(zlib.compress(b"token,a\nx,1\n")).decode(),
                                    base64.urlsafe_b64encode(zlib.compress(b"\0" * 10_000_000)).decode()])
def test_bad_data_in_a_link_is_ignored(packed):
    assert table_from_param(packed) is None
    assert concepts_from_param(packed, ["x"]) in (None, [])
