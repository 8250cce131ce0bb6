"""The URL form of the app's settings: round trips, and bad values fall back to defaults."""

import base64
import zlib
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from sae_core import limits
from sae_core.architectures import ARCHITECTURES
from sae_core.features import ReferenceFeature
from sae_core.ground_truth.lab import LAB_OPTIONS, LabSettings
from sae_core.options import Option
from sae_core.state import (CONCEPTS_PARAM, LAB_FIELDS, REAL_LINK_FIELDS, REAL_PREFIX, TABLE_PARAM, AppState,
                            PageChoices, RealChoices, carries_settings, concepts_from_param, link_query,
                            table_from_param)
from sae_core.training import REAL_TABLE, RECOMMENDED, TrainConfig, all_settings


def other_value(option: Option, value):
    """A valid value of ``option`` that is not ``value``: a bool flipped, another registered architecture,
    a number inside [low, high] (one step away for whole numbers, half way to an end for others)."""
    if option.name == "architecture":
        return next(name for name in ARCHITECTURES if name != value)
    if option.kind is bool:
        return not value
    if option.kind is int:
        return value + 1 if value + 1 <= option.high else value - 1
    if option.kind is float:
        return (value + option.high) / 2 if value < option.high else (value + option.low) / 2
    return value + "x"


def every_setting_changed(base: TrainConfig) -> TrainConfig:
    config = TrainConfig(**{name: other_value(option, getattr(base, name)) for name, option in all_settings().items()})
    return config.validate()


def test_round_trip_keeps_every_setting():
    config = replace(RECOMMENDED, hidden_dim=12, sparsity_weight=0.047, lr=0.0021, epochs=777, seed=123456,
                     unit_norm_decoder=True, tied_init=False, resample_dead_every=250, init_decoder_norm=0.0)
    state = AppState("colors_and_shapes", config)
    query = state.to_query()
    assert query["seed"] == "123456" and query["unit_norm_decoder"] == "1" and query["tied_init"] == "0"
    assert AppState.from_query(query) == state


def test_round_trip_restores_every_declared_setting_set_away_from_its_default():
    """Every setting ``all_settings()`` declares (an architecture's new option included), on the Train
    page and on the Real model page (``real_`` keys), each at a value other than the default."""
    config, real_config = every_setting_changed(RECOMMENDED), every_setting_changed(REAL_TABLE)
    state = AppState(config=config, real=replace(RealChoices(), config=real_config))
    back = AppState.from_query(state.to_query())
    for name in all_settings():
        assert getattr(config, name) != getattr(RECOMMENDED, name), name  # the test sets it
        assert getattr(back.config, name) == getattr(config, name), name
        assert getattr(real_config, name) != getattr(REAL_TABLE, name), name
        assert getattr(back.real.config, name) == getattr(real_config, name), REAL_PREFIX + name
    assert back == state


def test_the_superposition_and_real_model_choices_round_trip_field_by_field():
    lab = LabSettings(**{name: other_value(option, getattr(LabSettings, name)) for name, option in LAB_OPTIONS.items()},
                      generator="sparse", architectures=("jumprelu", "standard"))
    real = RealChoices(source="Paste text", corpus="stdlib_docstrings", layer=5, mode="words", max_tokens=1234,
                       query="robot", feature=17, text="a long pasted text", sizes="16,4096")
    query = AppState(lab=lab, real=real).to_query()
    assert query["lab_architectures"] == "jumprelu,standard" and query["real_max_tokens"] == "1234"
    assert "real_text" not in query  # large free text stays out of links
    back = AppState.from_query(query)
    for name in LAB_FIELDS:
        assert getattr(lab, name) != getattr(LabSettings(), name), name
        assert getattr(back.lab, name) == getattr(lab, name), name
    for name in REAL_LINK_FIELDS:
        assert getattr(real, name) != getattr(RealChoices(), name), name
        assert getattr(back.real, name) == getattr(real, name), name
    assert back.real.text == ""
    # the Real model page's training settings never touch the Train page's
    assert back.config == RECOMMENDED and AppState.from_query({"real_hidden_dim": "64"}).config == RECOMMENDED
    assert AppState.from_query({"hidden_dim": "64"}).real.config == REAL_TABLE


def test_bad_superposition_and_real_model_values_fall_back_one_by_one():
    state = AppState.from_query({
        "lab_generator": "gaussian", "lab_dims": "1", "lab_features": "32", "lab_sparsity": "nan",
        "lab_architectures": "topk,gated", "lab_seconds": "0.5", "real_source": "Webcam", "real_layer": "7",
        "real_mode": "words", "real_max_tokens": "-5", "real_feature": "x", "real_k": "100000", "real_lr": "0.02",
        "real_query": "w" * (limits.MAX_TOKEN_CHARS + 1)})
    assert state.lab == LabSettings(features=32, seconds=0.5)
    assert state.real == RealChoices(mode="words", config=replace(REAL_TABLE, lr=0.02))


def test_the_real_model_choices_are_read_at_exactly_their_bounds():
    """Both ends of each whole-number choice are allowed; one past either end falls back."""
    for name, low, high in (("layer", 0, 6), ("max_tokens", 100, limits.MAX_EXTRACTED_TOKENS),
                            ("feature", 0, limits.MAX_HIDDEN - 1)):
        default = getattr(RealChoices(), name)
        for value, expected in ((low, low), (high, high), (low - 1, default), (high + 1, default)):
            got = getattr(AppState.from_query({REAL_PREFIX + name: str(value)}).real, name)
            assert got == expected, (name, value)


def test_the_app_settings_dict_holds_every_choice_under_one_name():
    state = AppState(config=every_setting_changed(RECOMMENDED), presenter=True, choices=PageChoices(feature=3),
                     lab=LabSettings(generator="sparse", architectures=("topk",)),
                     real=RealChoices(text="pasted", config=every_setting_changed(REAL_TABLE)))
    settings = state.to_settings()
    assert settings["lab_architectures"] == ["topk"]  # a multiselect's value
    assert settings["real_text"] == "pasted" and settings["hidden_dim"] != settings["real_hidden_dim"]
    assert AppState.from_settings(settings) == state


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


def test_the_real_model_dictionary_sizes_in_a_link_follow_the_splitting_limits():
    from sae_core import limits

    def read(text):
        return AppState.from_query({"real_sizes": text}).real.sizes
    assert read("256, 64") == "64,256"  # sorted, spaces dropped
    assert read(",".join(map(str, range(1, limits.MAX_SPLIT_SIZES + 1)))) == "1,2,3,4,5,6"
    assert read(str(limits.MAX_HIDDEN)) == "4096"
    for bad in (",".join(map(str, range(1, limits.MAX_SPLIT_SIZES + 2))), "0,64", str(limits.MAX_HIDDEN + 1),
                "64;256", "x", ""):
        assert read(bad) == RealChoices().sizes == "64,256,1536", bad
