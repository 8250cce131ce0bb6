"""AppTest: the Stability page trains K seeds at once and shows recovery and consensus features."""

from apptest_helpers import click, start_app
from recovery_rule import recovered_independently

STABILITY_PAGE = "app_pages/stability.py"


def test_guard_then_recovery_counts_and_consensus_for_the_defaults():
    at = start_app(STABILITY_PAGE)
    assert at.title[0].value == "Stability"
    assert any("Train all seeds" in i.value for i in at.info)
    at.slider(key="stability_seeds").set_value(6).run()
    click(at, "Train all seeds")
    run = at.session_state["stability"]
    assert run.seeds == list(range(6))
    refs = at.session_state["references"]
    assert run.recovered == {r.name: sum(recovered_independently(res.feature_activations, run.tokens, r.tokens)
                                         for res in run.results) for r in refs}
    assert run.recovered["animal"] >= 4  # the defaults find the founding concepts in most seeds
    assert any("6 seeds trained together" in c.value for c in at.caption)
    assert len(at.get("vega_lite_chart")) == 2  # recovery bars + consensus features


def test_a_pasted_table_without_named_features_shows_only_consensus():
    at = start_app("app_pages/data.py")
    at.text_area(key="pasted").set_value("token,a,b\nx,1,0\ny,0,1\nz,1,1\n").run()
    click(at, "Use pasted table")
    at.switch_page(STABILITY_PAGE).run()
    at.session_state["epochs"] = 200
    at.slider(key="stability_seeds").set_value(3).run()
    click(at, "Train all seeds")
    run = at.session_state["stability"]
    assert run.recovered == {} and run.tokens == ["x", "y", "z"]
    assert not [s for s in at.subheader if "Named features" in s.value]


def test_the_caption_names_the_architecture_and_its_sparsity_setting():
    at = start_app(STABILITY_PAGE, {"architecture": "topk", "k": "3"})
    assert any("TopK" in c.value and "k 3," in c.value and "sparsity" not in c.value for c in at.caption)
    at = start_app(STABILITY_PAGE)
    assert any("ReLU" in c.value and "sparsity weight 0.07" in c.value for c in at.caption)
