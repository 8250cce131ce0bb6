"""Dictionary sizes on one table (sae_core/splitting.py, the chance level in dashboards.py, `split`): answers
known by construction, no MiniLM needed."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from sae_core import limits
from sae_core.cli import main
from sae_core.errors import ConfigError
from sae_core.real_model.dashboards import best_features, random_direction_f1, threshold_f1
from sae_core.real_model.extraction import Extraction, save_extraction
from sae_core.saelens_format import encode_table, load_saelens
from sae_core.splitting import (PROBE_SIZES, SizeResult, SplitRun, check_sizes, probe_f1, probe_split, split_tree,
                                tree_lines)
from sae_core.training import REAL_TABLE
from torch_threads import one_thread  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


def brute_force_best_f1(scores, labels) -> float:
    """Every threshold between distinct scores, F1 of "score > t", counted directly."""
    best = 0.0
    for t in [np.inf, *np.unique(scores.astype(float))[::-1] - 1e-9]:
        predicted = scores > t
        tp = int((predicted & labels).sum())
        best = max(best, 2 * tp / (predicted.sum() + labels.sum()))
    return best


def test_threshold_f1_is_the_best_cut_and_never_splits_ties():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 6, (40, 5)).astype(np.float32)  # many ties
    labels = rng.random((2, 40)) < 0.3
    got = threshold_f1(scores, labels)
    for c in range(2):
        for r in range(5):
            assert got[c, r] == pytest.approx(brute_force_best_f1(scores[:, r], labels[c]))
    # [5, 4, 3, 2, 1] with concept rows 0, 1, 3: the top 4 give 2*3/(4+3)
    assert threshold_f1(np.array([[5.0], [4], [3], [2], [1]]), np.array([[1, 1, 0, 1, 0]], bool))[0, 0] == \
        pytest.approx(6 / 7)


def test_a_planted_direction_is_found_by_random_directions_and_noise_is_not():
    rng = np.random.default_rng(0)
    labels = np.zeros(400, bool)
    labels[:40] = True
    x = rng.normal(0, 0.05, (400, 2)).astype(np.float32)
    x[labels, 0] += 5.0  # the concept sits far along dimension 0
    assert random_direction_f1(x, labels, n_directions=64) == 1.0  # a direction near +dim 0 separates it
    noise = rng.standard_normal((400, 8)).astype(np.float32)
    chance = random_direction_f1(noise, labels)  # 2 x 8 directions, labels unrelated to the data
    assert 2 * 40 / (400 + 40) <= chance < 0.5  # at least "everything", far from a real match
    both = random_direction_f1(x, np.stack([labels, ~labels]), n_directions=64)
    assert both.shape == (2,) and both[0] == 1.0


def test_a_feature_equal_to_the_concept_has_f1_one():
    labels = np.array([[1, 1, 0, 0, 0, 0]], bool)
    acts = np.array([[2, 0, 1], [1, 1, 0], [0, 1, 0], [0, 0, 0], [0, 1, 0], [0, 0, 0]], np.float32)
    precision, recall, f1 = best_features(acts, labels)
    assert f1[0].tolist() == pytest.approx([1.0, 2 * 1 / (3 + 2), 2 * 1 / (1 + 2)])
    assert precision[0, 2] == 1.0 and recall[0, 2] == 0.5


def test_a_sparse_probe_needs_two_features_for_a_concept_split_in_two():
    rng = np.random.default_rng(1)
    n = 600
    part = rng.integers(0, 5, n)  # 0: cats, 1: dogs, 2-4: neither
    labels = part < 2
    acts = np.abs(rng.normal(0, 0.05, (n, 6))).astype(np.float32)
    acts[:, 0] += (part == 0) * 3.0  # a cat feature
    acts[:, 1] += (part == 1) * 3.0  # a dog feature
    test = probe_split(n)
    assert test.sum() == round(0.3 * n) and (probe_split(n) == test).all()
    one, two = probe_f1(acts, labels, 1, test), probe_f1(acts, labels, 2, test)
    held_out = labels[test]
    half = (part[test] == int(np.argmax(acts[~test][labels[~test]].mean(axis=0) - acts[~test][~labels[~test]].mean(axis=0))))
    # one feature finds one half only: precision 1, recall = that half's share of the concept's held-out rows
    assert one == pytest.approx(2 * half.sum() / (half.sum() + held_out.sum()))
    assert two == 1.0
    # a rare concept: the probe's threshold falls between the two groups, not at the feature's mean
    rare = np.arange(n) % 10 == 0
    acts = rng.normal(0, 0.1, (n, 3)).astype(np.float32)
    acts[:, 2] += rare * 1.0
    assert probe_f1(acts, rare, 1, test) == 1.0
    assert ((acts[:, 2] > acts[:, 2].mean()) & ~rare).sum() > 10  # "above the mean" would not do


def size_result(size, directions, f1, words, feature) -> SizeResult:
    directions = np.asarray(directions, float)
    return SizeResult(size, REAL_TABLE, None, {}, 0.5, 1.0, 0.0, 1, 0.0,
                      {"animal": None}, np.array([f1], float), words, directions)


def test_the_split_tree_follows_decoder_cosines_through_the_sizes():
    from sae_core.splitting import ConceptScore
    small = size_result(2, [[1, 0], [0, 1]], [0.9, 0.1], ["animals", "machines"], 0)
    small = replace(small, concepts={"animal": ConceptScore(0.9, 0, 0.5, {k: 0.0 for k in PROBE_SIZES})})
    # cosines with F0 = (1, 0): 0.8, 0.6, 0.0, and 0.49 (just under the cut)
    middle = size_result(4, [[0.8, 0.6], [0.6, -0.8], [0, 1], [0.49, np.sqrt(1 - 0.49 ** 2)]],
                         [0.7, 0.4, 0.0, 0.2], ["cats", "dogs", "robots", "owls"], None)
    large = size_result(3, [[0.8, 0.6], [-1, 0], [0.6, -0.8]], [0.6, 0.0, 0.3], ["cat", "x", "dog"], None)
    tree = split_tree([small, middle, large], "animal")
    assert (tree.size, tree.feature, tree.words, tree.cosine) == (2, 0, "animals", None)
    assert [(c.feature, round(c.cosine, 6), c.words) for c in tree.children] == [(0, 0.8, "cats"), (1, 0.6, "dogs")]
    cats, dogs = tree.children
    assert [(g.feature, round(g.cosine, 6)) for g in cats.children] == [(0, 1.0)]  # (0.8,0.6).(0.6,-0.8) = 0
    assert [(g.feature, round(g.cosine, 6)) for g in dogs.children] == [(2, 1.0)]
    assert tree_lines(tree)[:2] == ["2 F0 (F1 0.90): animals", "  4 F0 (cos 0.80, F1 0.70): cats"]
    capped = split_tree([small, middle], "animal", max_children=1)
    assert len(capped.children) == 1 and capped.more == 1 and tree_lines(capped)[-1] == "  ... and 1 more"


def planted_table(n=300, d=8, seed=0):
    """Rows of three kinds of word, each along its own direction, plus noise."""
    rng = np.random.default_rng(seed)
    vocab = ["cat", "dog", "robot", "the", "a"]
    words = [vocab[i] for i in rng.integers(0, len(vocab), n)]
    directions = rng.standard_normal((len(vocab), d))
    x = np.array([directions[vocab.index(w)] for w in words]) * 2 + rng.normal(0, 0.1, (n, d))
    return x.astype(np.float32), words


CONCEPTS = {"animal": frozenset({"cat", "dog"}), "machine": frozenset({"robot"}), "absent": frozenset({"zebra"})}
SMALL = replace(REAL_TABLE, k=2, epochs=30, batch_size=64, lr=0.01)


def test_a_run_measures_every_size_and_stops_like_any_run():
    x, words = planted_table()
    run = SplitRun(x, SMALL, [8, 4], words, CONCEPTS)
    assert run.sizes == [4, 8] and run.epoch == 0 and not run.finished
    stop_after = []
    run.fit(on_step=lambda log: stop_after.append(log.text), every=5, stop=lambda: len(stop_after) >= 2)
    assert not run.finished and run.epoch == 10 and "size 4 (1 of 2)" in stop_after[0]
    partial = run.result()
    assert [s.size for s in partial.sizes] == [4] and partial.sizes[0].epochs_done == 10
    run.fit()
    assert run.finished and run.epoch == 60
    result = run.result()
    data = json.loads(json.dumps(result.to_dict()))
    assert [s["size"] for s in data["sizes"]] == [4, 8]
    for s in data["sizes"]:
        assert set(s) == {"size", "explained_variance", "l0", "dead_fraction", "concepts"}
        assert s["l0"] <= 2 and 0 <= s["dead_fraction"] <= 1
        assert list(s["concepts"]) == list(CONCEPTS)
        animal = s["concepts"]["animal"]
        assert set(animal) == {"f1", "feature", "random_f1", "probe_f1"} and set(animal["probe_f1"]) == {"1", "2", "5"}
        labels = np.array([w in CONCEPTS["animal"] for w in words])
        assert animal["random_f1"] == pytest.approx(random_direction_f1(x, labels), abs=1e-6)
        assert s["concepts"]["absent"] == {"f1": 0.0, "feature": None, "random_f1": 0.0,
                                           "probe_f1": {"1": 0.0, "2": 0.0, "5": 0.0}}
    for size, s in zip(result.sizes, data["sizes"]):  # the best feature, recomputed from the model's own activations
        active = (size.model.encode(torch.from_numpy(x))[0] > 0).numpy()
        labels = np.array([w == "robot" for w in words])
        f1 = [2 * (active[:, j] & labels).sum() / (active[:, j].sum() + labels.sum()) for j in range(size.size)]
        assert s["concepts"]["machine"]["f1"] == pytest.approx(max(f1), abs=1e-6)
        assert s["concepts"]["machine"]["feature"] == int(np.argmax(f1))


def test_sizes_are_checked_at_their_limits():
    assert check_sizes([64, 8, 64], 384) == [8, 64]
    assert len(check_sizes(range(1, limits.MAX_SPLIT_SIZES + 1), 2)) == limits.MAX_SPLIT_SIZES
    with pytest.raises(ConfigError, match=f"7 dictionary sizes is over the limit of {limits.MAX_SPLIT_SIZES}"):
        check_sizes(range(1, limits.MAX_SPLIT_SIZES + 2), 2)
    assert check_sizes([limits.MAX_HIDDEN], 1) == [limits.MAX_HIDDEN]
    with pytest.raises(ConfigError, match="from 1 to 4,096 \\(got 4,097\\)"):
        check_sizes([4, limits.MAX_HIDDEN + 1], 1)
    with pytest.raises(ConfigError, match="from 1 to 4,096 \\(got 0\\)"):
        check_sizes([0, 4], 1)
    d = limits.MAX_WEIGHT_CELLS // 4096  # 1,024: the sizes together may hold one 4,096 x 1,024 model
    assert check_sizes([2047, 2049], d) == [2047, 2049]
    with pytest.raises(ConfigError, match="sum of sizes x dims = 4,195,328 weights"):
        check_sizes([2047, 2050], d)


def test_a_size_that_cannot_train_is_refused_before_training():
    x, words = planted_table()
    with pytest.raises(ConfigError, match="k"):
        SplitRun(x, SMALL, [1, 8], words, CONCEPTS)  # k 2 > size 1
    with pytest.raises(ConfigError, match="300 words for 299 rows|words"):
        SplitRun(x[:299], SMALL, [8], words, CONCEPTS)


# ---- the CLI --------------------------------------------------------------------------------------


@pytest.fixture
def extracted(tmp_path):
    x, words = planted_table()
    tokens = [{"token": w, "word": w, "doc": 0, "start": 0, "end": 0} for w in words]
    save_extraction(Extraction(x, tokens, "planted", 3, "words"), tmp_path / "table")
    concepts = tmp_path / "concepts.json"
    concepts.write_text(json.dumps({"concepts": {name: sorted(words) for name, words in CONCEPTS.items()}}))
    return tmp_path, x


FLAGS = ["--k", "2", "--epochs", "30", "--batch-size", "64", "--lr", "0.01"]


def test_cli_split_json_and_saved_folders(extracted, capsys):
    tmp, x = extracted
    assert main(["split", str(tmp / "table"), "--sizes", "8,4", "--concepts", str(tmp / "concepts.json"),
                 "--save", str(tmp / "out"), "--json", *FLAGS]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data) == ["sizes"] and [s["size"] for s in data["sizes"]] == [4, 8]
    for s in data["sizes"]:
        model, cfg = load_saelens(tmp / "out" / str(s["size"]))
        assert cfg["d_sae"] == s["size"] and cfg["d_in"] == 8 and cfg["k"] == 2
        acts, recon = encode_table(model, cfg, x)
        ev = 1 - ((recon - x) ** 2).sum() / ((x - x.mean(axis=0)) ** 2).sum()
        assert ev == pytest.approx(s["explained_variance"], abs=1e-4)  # the saved model is the one measured
        assert (acts > 0).sum(axis=1).mean() == pytest.approx(s["l0"], abs=1e-3)
        assert cfg["metadata"]["activations_from"] == {"model": "planted", "layer": 3, "mode": "words"}


def test_cli_split_text(extracted, capsys):
    tmp, _ = extracted
    assert main(["split", str(tmp / "table"), "--sizes", "4,8", "--concepts", str(tmp / "concepts.json"), *FLAGS]) == 0
    out = capsys.readouterr().out
    assert "2 dictionary sizes on 300 words (planted, layer 3)" in out
    assert "size 4: explained variance" in out and "size 8: explained variance" in out
    assert "split tree of animal (features of the next size with decoder cosine >= 0.5):" in out
    assert "absent: best feature no rows" in out


@pytest.mark.parametrize("args, message", [
    (["--sizes", "4,0"], "--sizes: hidden size must be"),
    (["--sizes", "1,2,3,4,5,6,7"], "7 dictionary sizes is over the limit of 6"),
    (["--sizes", "8", "--k", "9"], "k"),
    (["--sizes", "8", "--concepts", "missing.json"], "missing.json: cannot be read"),
    (["--sizes", "8", "--concepts", "bad.json"], 'bad.json: expected {"concepts"'),
    (["--sizes", "8", "--hidden-dim", "8"], "unrecognized arguments: --hidden-dim"),
])
def test_cli_split_bad_input_is_one_line(extracted, capsys, args, message):
    tmp, _ = extracted
    (tmp / "bad.json").write_text(json.dumps({"concepts": {"animal": []}}))
    concepts = [] if "--concepts" in args else ["--concepts", str(tmp / "concepts.json")]
    args = [str(tmp / a) if a.endswith(".json") else a for a in args]
    assert main(["split", str(tmp / "table"), *concepts, *args, "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err


def test_the_trade_off_chart_draws_variance_black_and_chance_dashed():
    from sae_core import charts
    from sae_core.splitting import ConceptScore, SplitResult
    scores = {"animal": ConceptScore(0.8, 3, 0.5, {}), "absent": ConceptScore(0.0, None, 0.0, {})}
    sizes = [replace(size_result(s, np.eye(2), [0.1], ["w"], 0), explained_variance=ev, concepts=scores)
             for s, ev in ((64, 0.6), (256, 0.8))]
    long = SplitResult(sizes, ["animal", "absent"], 10).long()
    assert long.values.tolist() == [[64, "explained variance", "explained variance", 0.6],
                                    [256, "explained variance", "explained variance", 0.8],
                                    [64, "animal", "best feature F1", 0.8], [64, "animal", "best random direction F1", 0.5],
                                    [256, "animal", "best feature F1", 0.8], [256, "animal", "best random direction F1", 0.5]]
    encoding = charts.split_chart(long).to_dict()["encoding"]
    assert encoding["x"]["scale"]["type"] == "log" and encoding["x"]["axis"]["values"] == [64, 256]
    assert encoding["color"]["scale"] == {"domain": ["explained variance", "animal"],
                                          "range": [charts.TEXT_COLOUR, charts.feature_colour(0)]}
    assert encoding["strokeDash"]["scale"]["domain"][-1] == "best random direction F1"
    assert encoding["strokeDash"]["scale"]["range"] == [[1, 0], [1, 0], [6, 4]]


def test_the_probe_regression_is_scikit_learns_default_logistic_regression():
    linear_model = pytest.importorskip("sklearn.linear_model")  # an independent route, where installed
    from sae_core.splitting import logistic_fit
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 3))
    y = (x @ [1.5, -2.0, 0.3] + 0.5 + rng.normal(0, 1, 300)) > 0
    ours = logistic_fit(x, y)
    theirs = linear_model.LogisticRegression(C=1.0, tol=1e-10, max_iter=1000).fit(x, y)
    assert ours[:-1] == pytest.approx(theirs.coef_[0], abs=1e-4) and ours[-1] == pytest.approx(theirs.intercept_[0], abs=1e-4)
