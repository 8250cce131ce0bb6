"""The URL form of the app's settings: round trips, and bad values fall back to defaults."""

from dataclasses import replace

from sae_core.state import AppState
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
