"""LID (Ma et al. 2018): the maximum-likelihood estimate on exact cases, nearest neighbours
against brute force, leave-one-out training scores, bounded memory, and `eval --detectors lid`."""

from __future__ import annotations

import json
import math
import tracemalloc

import numpy as np
import pytest

from advtui.detect import lid
from advtui.detect.base import DetectorData, make_detector
from advtui.detect.lid import knn_distances, lid_mle
from advtui.errors import DetectorError


def _naive_lid(row: np.ndarray) -> float:
    r = sorted(float(v) for v in row)
    return -1.0 / (sum(math.log(v / r[-1]) for v in r) / len(r))


def test_lid_of_hand_computed_distances():
    # logs of 1/4, 2/4, 4/4: mean −ln 2, so LID = 1/ln 2; order does not matter
    np.testing.assert_allclose(lid_mle([[1.0, 2.0, 4.0], [4.0, 1.0, 2.0]]), [1 / math.log(2)] * 2)
    # distances r_i = sqrt(i) (what uniform density in 2 dimensions gives on average): the mean
    # of log(r_i / r_k) is (log k! / k − log k) / 2, i.e. LID = 2 / (1 − log(2πk) / 2k + …)
    k = 5000
    want = -2.0 / (math.lgamma(k + 1) / k - math.log(k))
    assert lid_mle([np.arange(1, k + 1) ** 0.5])[0] == pytest.approx(want, rel=1e-9)
    assert want == pytest.approx(2.0, rel=3e-3)


def test_lid_equals_the_naive_formula_and_its_limits():
    rng = np.random.default_rng(0)
    d = rng.random((50, 7)) + 0.01
    np.testing.assert_allclose(lid_mle(d), [_naive_lid(r) for r in d], rtol=1e-12)
    # a neighbour at distance 0 (log 0 = −∞) and all neighbours at 0: LID 0, its limit
    # equidistant neighbours: unbounded, reported as the largest float (it still ranks first)
    out = lid_mle([[0.0, 1.0, 2.0], [0.0, 0.0, 0.0], [3.0, 3.0, 3.0]])
    assert out[0] == 0.0 and out[1] == 0.0 and out[2] == lid.UNBOUNDED
    with pytest.raises(DetectorError, match="at least 2 neighbours"):
        lid_mle([[1.0], [2.0]])


def test_points_on_a_line_have_lid_near_1_and_on_a_plane_near_2():
    """Uniform points on a segment and on a square, both embedded in 10 dimensions: with k = 20
    the estimate's mean is about m·k/(k − 1) (the paper's sum keeps the zero i = k term)."""
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(10, 2)))[0].T  # two orthonormal directions
    n = 4000
    line = rng.random((n, 1)) @ basis[:1]
    plane = rng.random((n, 2)) @ basis
    for points, m in ((line, 1), (plane, 2)):
        ref, query = points[:3000], points[3000:]
        inner = np.all(np.abs((query @ basis[:m].T) - 0.5) < 0.4, axis=1)  # away from the edges
        est = lid_mle(knn_distances(query[inner], ref, 20))
        assert np.median(est) == pytest.approx(m * 20 / 19, rel=0.12), m


@pytest.mark.parametrize("block", [10**9, 7])
def test_nearest_neighbours_equal_brute_force(block, monkeypatch):
    monkeypatch.setattr(lid, "BLOCK_VALUES", block)  # 7: one query row a block
    rng = np.random.default_rng(1)
    ref, query = rng.normal(size=(60, 5)), rng.normal(size=(13, 5))
    full = np.sqrt(((query[:, None, :] - ref[None]) ** 2).sum(-1))
    np.testing.assert_allclose(knn_distances(query, ref, 6), np.sort(full, 1)[:, :6], rtol=1e-12)
    # leave-one-out on the reference itself: the row's own index is skipped, not its distance
    ref[7] = ref[3]  # a duplicate still counts as a neighbour at 0
    self_full = np.sqrt(((ref[:, None, :] - ref[None]) ** 2).sum(-1))
    np.fill_diagonal(self_full, np.inf)
    got = knn_distances(ref, ref, 4, exclude=np.arange(60))
    np.testing.assert_allclose(got, np.sort(self_full, 1)[:, :4], rtol=1e-12, atol=1e-12)
    assert got[3, 0] == 0.0 and got[7, 0] == 0.0 and (got[np.arange(60) != 3][:, 0] >= 0).all()


def _data(clean: np.ndarray, adv: np.ndarray) -> DetectorData:
    n_c, n_a = len(clean), len(adv)
    return DetectorData(
        y=np.array([0] * n_c + [1] * n_a),
        group=np.array([f"p{i}" for i in range(n_c)] + [f"p{i % n_c}" for i in range(n_a)]),
        label=np.zeros(n_c + n_a, int),
        penultimate=np.concatenate([clean, adv]),
    )


def test_training_scores_leave_each_row_out_of_its_own_neighbours():
    rng = np.random.default_rng(2)
    data = _data(rng.normal(size=(40, 6)), rng.normal(size=(10, 6)) + 3)
    train = np.concatenate([np.arange(0, 40, 2), np.arange(40, 45)])  # 20 clean rows + 5 adv
    det = make_detector("lid", k=5).fit(data, train)
    clean = train[:20]
    want = []
    for i in clean:
        others = data.penultimate[clean[clean != i]]
        d = np.sort(np.linalg.norm(others - data.penultimate[i], axis=1))[:5]
        want.append(_naive_lid(d))
    got = det.training_scores(data, clean)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    # their plain scores count the row itself (distance 0): LID 0, which would set the threshold
    np.testing.assert_array_equal(det.scores(data, clean), np.zeros(20))
    assert det.threshold == pytest.approx(np.quantile(want, 0.95))
    # an unseen row is scored from all 20 clean training rows, no row left out
    unseen = 1
    d = np.sort(np.linalg.norm(data.penultimate[clean] - data.penultimate[unseen], axis=1))[:5]
    assert det.scores(data, np.array([unseen]))[0] == pytest.approx(_naive_lid(d), rel=1e-10)


def test_off_manifold_rows_score_higher_and_are_flagged():
    """Clean rows on a plane in 8 dimensions, adversarial ones pushed off it: their k nearest
    clean rows sit at similar distances, so their LID is far above the clean rows'."""
    rng = np.random.default_rng(3)
    basis = np.linalg.qr(rng.normal(size=(8, 2)))[0].T
    clean = rng.random((300, 2)) @ basis
    adv = clean[:100] + 0.3 * rng.normal(size=(100, 8))
    data = _data(clean, adv)
    train = np.concatenate([np.arange(200), np.arange(300, 350)])
    det = make_detector("lid").fit(data, train)
    clean_test, adv_test = np.arange(200, 300), np.arange(350, 400)
    assert det.flags(data, clean_test).mean() <= 0.15
    assert det.flags(data, adv_test).mean() >= 0.9
    assert det.note is None and det.settings == {"k": 20}


def test_k_is_capped_by_the_clean_rows_and_settings_are_checked():
    rng = np.random.default_rng(4)
    data = _data(rng.normal(size=(6, 3)), rng.normal(size=(2, 3)))
    det = make_detector("lid").fit(data, np.arange(8))
    assert det.k == 5 and det.note == "k = 5 (of 20): 6 clean training rows"
    assert np.isfinite(det.scores(data, np.arange(8))).all()
    with pytest.raises(DetectorError, match="at least 3"):
        make_detector("lid").fit(data, np.array([0, 1, 6, 7]))
    assert make_detector("lid", k=7).settings == {"k": 7}
    for bad, needle in (({"k": 1}, r"must lie in \[2, 10000\]"), ({"k": 2.5}, "expected a int")):
        with pytest.raises(DetectorError, match=needle):
            make_detector("lid", **bad)
    with pytest.raises(DetectorError, match="unknown setting 'kk'; accepted: k"):
        make_detector("lid", kk=3)
    with pytest.raises(DetectorError, match="no penultimate features stored.*final linear"):
        make_detector("lid").fit(
            DetectorData(y=data.y, group=data.group, label=data.label), np.arange(8)
        )


def test_memory_stays_bounded_by_the_block(monkeypatch):
    """2,000 query rows against 2,000 reference rows: the full distance matrix would be 32 MB;
    in blocks of 200,000 values (1.6 MB) the peak stays a few blocks above the inputs."""
    monkeypatch.setattr(lid, "BLOCK_VALUES", 200_000)
    rng = np.random.default_rng(5)
    ref, query = rng.normal(size=(2000, 64)), rng.normal(size=(2000, 64))
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        out = knn_distances(query, ref, 20)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert out.shape == (2000, 20)
    assert peak < 8e6, peak  # well under the 32 MB matrix


def test_eval_detectors_lid_on_a_tiny_run(samples_dir, tmp_path, monkeypatch, capsys):
    """`advtui eval --detectors lid` runs LID alone in the detectors entry; the older keys
    (lr, rf, confidence_baseline) are still there, from the registry detectors behind them."""
    from advtui.cli import main
    from tests.conftest import make_tiny_classifier

    tiny = make_tiny_classifier(num_classes=10, size=16)
    monkeypatch.setattr("advtui.cli.common.load_model_from_args", lambda args: tiny)
    out = tmp_path / "run"
    argv = ["eval", str(samples_dir), "--out", str(out), "--n", "4", "--views", "2"]
    argv += ["--eps", "32/255", "--steps", "3", "--nsamples", "2", "--no-plots"]
    argv += ["--folds", "2", "--detectors", "lid", "--bootstrap", "0"]
    assert main(argv) == 0, capsys.readouterr().err
    s = json.loads((out / "summary.json").read_text())
    pooled = s["variants"]["pooled"]
    assert list(pooled["detectors"]) == ["lid"]
    det = pooled["detectors"]["lid"]
    assert det["folds"] == 2 and det["n_tested"] == pooled["n_clean"] + pooled["n_adversarial"]
    assert 0.0 <= det["roc_auc"] <= 1.0 and 0.0 <= det["accuracy"] <= 1.0
    for key in ("lr", "rf", "confidence_baseline"):
        assert pooled[key]["folds"] == 2 and pooled[key]["roc_auc"] is not None, key
    assert all(list(v["detectors"]) == ["lid"] for v in s["variants"].values())
    # the out-of-fold scores the explorer's `r` reads hold LID's too
    from advtui.eval.scores import read_scores

    blocks = read_scores(out)
    assert blocks and all(b.detectors == ["lid"] for b in blocks)
    assert np.isfinite(blocks[0].scores("lid")).all()
