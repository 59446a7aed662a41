"""The detectors beside SHAP-LR: exact small cases (squeezing, Mahalanobis, TPR at 5 % FPR)
and the shared cross-validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from advtui.detect.base import DetectorData, benchmark, make_detector, tpr_at_fpr
from advtui.detect.mahalanobis import GaussianClasses
from advtui.detect.squeeze import bit_depth, median_2x2, squeeze_scores
from advtui.registry import DETECTORS


def test_bit_depth_rounds_to_five_bits():
    x = torch.tensor([0.0, 0.5, 0.51, 1.0])
    np.testing.assert_allclose(bit_depth(x).numpy(), [0.0, 16 / 31, 16 / 31, 1.0], rtol=1e-6)


def test_median_2x2_matches_scipy():
    ndimage = pytest.importorskip("scipy.ndimage")
    x = torch.rand(2, 3, 7, 5, generator=torch.Generator().manual_seed(0))
    want = ndimage.median_filter(x.numpy(), size=(1, 1, 2, 2))
    np.testing.assert_array_equal(median_2x2(x).numpy(), want)


class _MeanLogit(nn.Module):
    """logits = [10 · mean(x), 0]: the softmax of a constant image is known in closed form."""

    def forward(self, x):
        m = x.mean((1, 2, 3))
        return torch.stack([10 * m, torch.zeros_like(m)], 1)


def test_squeeze_score_of_a_known_input():
    x = torch.full((1, 3, 4, 4), 0.5)
    parts = squeeze_scores(_MeanLogit(), x)
    p = torch.sigmoid(torch.tensor(5.0, dtype=torch.float64))
    q = torch.sigmoid(torch.tensor(10 * 16 / 31, dtype=torch.float64))
    # L1 between [p, 1-p] and [q, 1-q]; the median filter leaves a constant image unchanged
    np.testing.assert_allclose(parts, [[2 * float(q - p), 0.0]], rtol=1e-5, atol=1e-7)


def test_mahalanobis_exact_tied_covariance():
    a = np.array([[1, 0], [-1, 0], [0, 2], [0, -2]], dtype=float)
    feats = np.concatenate([a, a + [10, 0]])
    labels = np.array([0] * 4 + [1] * 4)
    g = GaussianClasses().fit(feats, labels, shrink=False)  # tied ML covariance diag(0.5, 2)
    np.testing.assert_allclose(g.precision, np.diag([2.0, 0.5]), atol=1e-12)
    np.testing.assert_allclose(g.distances([[1.0, 1.0]]), [[2.5, 162.5]])
    np.testing.assert_allclose(g.score([[1.0, 1.0], [10.0, 0.0]]), [2.5, 0.0], atol=1e-12)


def test_mahalanobis_on_synthetic_gaussians_matches_the_true_distance():
    rng = np.random.default_rng(0)
    cov = np.array([[2.0, 0.6], [0.6, 0.5]])
    means = np.array([[0.0, 0.0], [6.0, -3.0]])
    labels = np.repeat([0, 1], 20_000)
    feats = means[labels] + rng.multivariate_normal([0, 0], cov, size=len(labels))
    g = GaussianClasses().fit(feats, labels)
    x = np.array([[1.0, 1.0]])
    d = x - means[0]
    want = float((d @ np.linalg.inv(cov) @ d.T)[0, 0])
    assert g.score(x)[0] == pytest.approx(want, rel=0.03)


def test_mahalanobis_with_singleton_classes_says_what_it_did():
    g = GaussianClasses().fit(np.eye(3), np.array([0, 1, 2]))
    assert g.note and "no class held two" in g.note
    assert np.isfinite(g.score(np.ones((1, 3)))).all()


def test_mahalanobis_left_out_scores_are_distances_to_the_other_rows_means():
    a = np.array([[1, 0], [-1, 0], [0, 2], [0, -2]], dtype=float)
    feats = np.concatenate([a, a + [10, 0], [[5.0, 5.0]]])
    labels = np.array([0] * 4 + [1] * 4 + [2])  # class 2 holds one row
    g = GaussianClasses().fit(feats, labels, shrink=False)
    left_out = g.left_out_score(feats, labels)
    for i in range(8):
        others = np.delete(np.arange(8), i)
        same = others[labels[others] == labels[i]]
        d = feats[i] - feats[same].mean(0)
        own = float(d @ g.precision @ d)
        assert left_out[i] == pytest.approx(min(own, g.distances(feats[i : i + 1])[0, 2]))
    # the singleton's own mean is itself: it is scored against classes 0 and 1 only
    assert left_out[8] == pytest.approx(g.distances(feats[8:9])[0, :2].min())
    assert g.score(feats[8:9])[0] == pytest.approx(0.0, abs=1e-9)


def test_mahalanobis_with_one_photo_per_class_does_not_flag_everything():
    """One clean row per class (the ImageNet sample): plain training distances are all 0, so a
    threshold on them flagged every clean test row; the left-out threshold does not."""
    rng = np.random.default_rng(0)
    classes = 40
    clean = rng.normal(size=(classes, 6))
    adv = clean + rng.normal(scale=3.0, size=clean.shape)
    data = DetectorData(
        y=np.tile([0, 1], classes),
        group=np.repeat([f"p{i}" for i in range(classes)], 2),
        label=np.repeat(np.arange(classes), 2),
        penultimate=np.stack([clean, adv], 1).reshape(-1, 6),
    )
    train, test = np.arange(60), np.arange(60, 80)
    det = make_detector("mahalanobis").fit(data, train)
    assert det.threshold > 0
    clean_test = test[data.y[test] == 0]
    assert det.flags(data, clean_test).mean() < 0.5


def test_mahalanobis_threshold_holds_for_unseen_clean_rows_with_more_dims_than_rows():
    """Fewer clean rows than dimensions (1,000 photos × 1,280 features on ImageNet): the shrunk
    covariance is tight along the training rows' own span, so even their left-out distances
    sit far below an unseen clean row's; the threshold comes from rows scored by Gaussians
    fitted without them, and unseen clean rows are flagged at about the 5 % budget."""
    rng = np.random.default_rng(3)
    classes, d, rank = 80, 200, 10  # features near a low-rank span, as a network's are
    span = rng.normal(size=(rank, d))
    clean = rng.normal(size=(classes, rank)) @ span + 0.3 * rng.normal(size=(classes, d))
    adv = clean + rng.normal(size=clean.shape)
    data = DetectorData(
        y=np.tile([0, 1], classes),
        group=np.repeat([f"p{i}" for i in range(classes)], 2),
        label=np.repeat(np.arange(classes), 2),
        penultimate=np.stack([clean, adv], 1).reshape(-1, d),
    )
    train, test = np.arange(120), np.arange(120, 160)
    det = make_detector("mahalanobis").fit(data, train)
    clean_test, adv_test = test[data.y[test] == 0], test[data.y[test] == 1]
    assert det.flags(data, clean_test).mean() <= 0.1  # left-out means alone: 0.35
    assert det.flags(data, adv_test).mean() >= 0.9


def test_tpr_at_5_percent_fpr():
    y = np.array([0] * 20 + [1] * 4)
    s = np.concatenate([np.arange(20) / 20, [0.5, 0.97, 0.98, 2.0]])
    # one clean row (0.95) may be flagged at 5 % FPR: threshold 0.95 catches 0.97, 0.98, 2.0
    assert tpr_at_fpr(y, s) == pytest.approx(0.75)
    assert tpr_at_fpr(y[:20], s[:20]) is None


def _data(shift: float, n_groups: int = 12, seed: int = 0) -> DetectorData:
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n_groups)
    group = np.repeat([f"p{i}" for i in range(n_groups)], 2)
    label = np.repeat(np.arange(n_groups) % 3, 2)
    pen = rng.normal(size=(len(y), 4)) + shift * y[:, None]
    return DetectorData(
        y=y,
        group=group,
        label=label,
        shap=rng.normal(size=(len(y), 8)) + shift * y[:, None],
        confidence=rng.normal(size=(len(y), 2)) + shift * y[:, None],
        squeeze=rng.random(len(y)) + shift * y,
        penultimate=pen,
    )


def test_every_registered_detector_separates_separable_rows_on_the_same_folds():
    from advtui.detect.cv import group_folds

    data = _data(shift=10.0)
    folds = list(group_folds(data.y, data.group, 3, 0))
    res = benchmark(list(DETECTORS), data, np.arange(len(data)), folds, scheme="3-fold")
    assert set(res) == set(DETECTORS)
    for name, r in res.items():
        s = r.summary()
        assert s["folds"] == 3 and s["n_tested"] == len(data), name
        assert s["roc_auc"] == pytest.approx(1.0) and s["tpr_at_5fpr"] == pytest.approx(1.0), name


def test_extra_rows_are_scored_by_the_fold_that_never_saw_their_photo():
    from advtui.detect.cv import group_folds

    data = _data(shift=10.0)
    # append one adaptive-like row per photo: adversarial but shaped like clean data
    n = len(data)
    clean = np.flatnonzero(data.y == 0)
    for col in ("shap", "confidence", "penultimate"):
        v = getattr(data, col)
        setattr(data, col, np.concatenate([v, v[clean]]))
    data.squeeze = np.concatenate([data.squeeze, data.squeeze[clean]])
    data.y = np.concatenate([data.y, np.ones(len(clean), int)])
    data.group = np.concatenate([data.group, data.group[clean]])
    data.label = np.concatenate([data.label, data.label[clean]])
    rows = np.arange(n)
    folds = list(group_folds(data.y[rows], data.group[rows], 3, 0))
    extra = np.arange(n, len(data.y))
    res = benchmark(["shap-lr", "squeeze"], data, rows, folds, extra=extra)
    for r in res.values():
        assert np.isfinite(r.extra_scores).all()  # every photo is in exactly one test fold
        # rows that look clean are scored like the clean rows: the same out-of-fold scores
        np.testing.assert_allclose(r.extra_scores, r.cv.oof[clean])


def test_make_detector_knows_every_registry_name():
    from advtui.detect.base import Detector, LearnedDetector

    for name, spec in DETECTORS.items():
        det = make_detector(name, seed=3)
        assert isinstance(det, Detector) and det.name == name and det.spec is spec
        assert det.seed == 3 and det.settings == {p.name: p.default for p in spec.params}
        assert spec.trained == isinstance(det, LearnedDetector), name
        assert spec.trained == (name in ("shap-lr", "shap-rf", "confidence"))


def test_woodbury_precision_equals_the_ledoit_wolf_inverse():
    from sklearn.covariance import LedoitWolf

    rng = np.random.default_rng(0)
    feats, labels = rng.normal(size=(12, 50)), np.arange(12) % 4  # fewer rows than dimensions
    g = GaussianClasses().fit(feats, labels)
    centred = feats - g.means[labels]
    want = np.linalg.pinv(LedoitWolf(assume_centered=True).fit(centred).covariance_)
    np.testing.assert_allclose(g.precision, want, rtol=1e-8, atol=1e-10 * np.abs(want).max())


def test_the_detector_and_adaptive_tables_show_every_detector_per_variant():
    """The terminal tables of `eval --detectors … --adaptive`: a column per detector in the
    order first seen, a row per variant, the before → after cells of the adaptive table."""
    from rich.console import Console

    from advtui.eval.adaptive_report import adaptive_table
    from advtui.eval.report import detector_table

    det = {"accuracy": 0.75, "roc_auc": 0.8, "tpr_at_5fpr": 0.5}
    summary = {
        "variants": {
            "untargeted": {"n_clean": 15, "n_adversarial": 14, "detectors": {"shap-lr": det}},
            "runner-up": {
                "n_clean": 15,
                "n_adversarial": 15,
                "detectors": {"shap-lr": det, "squeeze": det},
            },
        },
        "adaptive": {
            "untargeted": {
                "plain_attack_success_rate": 1.0,
                "attack_success_rate": 0.9,
                "before": {"shap-lr": {"roc_auc": 0.8, "tpr_at_5fpr": 0.5}},
                "after": {"shap-lr": {"roc_auc": 0.4, "tpr_at_5fpr": 0.1}},
                "verdict": "falls",
            }
        },
    }
    console = Console(width=200, record=True)
    console.print(detector_table(summary))
    console.print(adaptive_table(summary))
    text = console.export_text()
    head = next(line for line in text.splitlines() if "clean/adv" in line)
    assert head.split() == ["variant", "clean/adv", "shap-lr", "squeeze"]
    assert "15/14" in text and "15/15" in text
    lines = text.splitlines()
    auc = next(i for i, line in enumerate(lines) if "0.80→0.40" in line)
    assert "0.50→0.10" in lines[auc + 1]  # TPR on the line below the AUC
    assert next(line for line in text.splitlines() if "atk ok" in line).split() == [
        "variant",
        "atk",
        "ok",
        "shap-lr",
    ]


@pytest.mark.parametrize(("n", "classes", "d"), [(40, 7, 5), (30, 12, 64), (200, 9, 16)])
def test_mahalanobis_distances_equal_the_naive_formula(n, classes, d, monkeypatch):
    """The matrix-product expansion (in row blocks) equals (f − m)ᵀP(f − m) per row and class:
    few rows (Woodbury precision), more rows than dimensions, and blocks of 3 rows."""
    from advtui.detect import mahalanobis

    rng = np.random.default_rng(n + classes + d)
    labels = np.concatenate([np.arange(classes), rng.integers(0, classes, n - classes)])
    feats = rng.normal(size=(n, d)) + 3 * rng.normal(size=(classes, d))[labels]
    g = GaussianClasses().fit(feats, labels)
    means = np.stack([feats[labels == c].mean(0) for c in range(classes)])
    np.testing.assert_allclose(g.means, means, rtol=1e-12, atol=1e-12)
    x = rng.normal(size=(11, d)) * 2
    diff = x[:, None, :] - means[None, :, :]
    naive = np.einsum("ncd,de,nce->nc", diff, g.precision, diff)
    monkeypatch.setattr(mahalanobis, "BLOCK_VALUES", 3 * classes)  # 3 rows a block
    np.testing.assert_allclose(g.distances(x), naive, rtol=1e-8)
    np.testing.assert_allclose(g.score(x), naive.min(1), rtol=1e-8)


def test_registry_detectors_equal_the_summary_cross_validation_they_replace():
    """summary.json's lr / rf / confidence_baseline are the results of the registry detectors
    whose spec names that ``summary_key``: the same as a plain cross_validate of the spec's
    feature column with the detector's classifier, on the same rows."""
    from types import SimpleNamespace

    from advtui.detect.cv import cross_validate
    from advtui.eval.metrics import detector_folds

    rng = np.random.default_rng(0)
    n = 90
    y = np.array([0] * 30 + [1] * 60)
    groups = np.array([f"g{i % 30}" for i in range(n)])
    X = (rng.normal(size=(n, 16)) + 0.4 * y[:, None]).astype(np.float32)
    C = rng.normal(size=(n, 2)) + 0.3 * y[:, None]
    cfg = SimpleNamespace(protocol="corrected", folds=3, seed=0)
    folds, scheme = detector_folds([{"group": g} for g in groups], y, cfg)
    data = DetectorData(y=y, group=groups, label=np.zeros(n, int), shap=X, confidence=C)
    legacy = {s.summary_key: name for name, s in DETECTORS.items() if s.summary_key}
    assert sorted(legacy) == ["confidence_baseline", "lr", "rf"]
    bench = benchmark(list(legacy.values()), data, np.arange(n), folds, scheme=scheme)
    for name in legacy.values():
        column = getattr(data, DETECTORS[name].features)
        kind = make_detector(name).kind
        fresh = cross_validate(column, y, groups, kind=kind, folds=3)
        assert bench[name].cv.summary() == fresh.summary(), name
        np.testing.assert_array_equal(bench[name].cv.oof, fresh.oof)


def test_the_default_detectors_and_the_help_come_from_the_specs():
    """DEFAULT_DETECTORS is the specs marked ``default`` in registry order (LID is opt-in), and
    `eval --help` says so from the same list; every spec reads a real DetectorData column."""
    from dataclasses import fields

    from advtui.cli import sub_parser
    from advtui.registry import DEFAULT_DETECTORS

    assert DEFAULT_DETECTORS == tuple(n for n, s in DETECTORS.items() if s.default)
    assert "lid" in DETECTORS and "lid" not in DEFAULT_DETECTORS
    parser = sub_parser().parse_args(["eval", "x", "--out", "y"]).eval_parser
    action = next(a for a in parser.options if "--detectors" in a.option_strings)
    assert action.default == ",".join(DEFAULT_DETECTORS)
    assert f"(default {','.join(DEFAULT_DETECTORS)};" in action.help
    assert ",".join(DETECTORS) in action.help
    columns = {f.name for f in fields(DetectorData)} - {"y", "group", "label"}
    for name, spec in DETECTORS.items():
        assert spec.features in columns and spec.label, name


def test_the_summary_runs_the_detectors_behind_its_older_keys_whatever_was_asked():
    from types import SimpleNamespace

    from advtui.eval.metrics import summary_detectors
    from advtui.registry import DEFAULT_DETECTORS

    assert summary_detectors(SimpleNamespace(detectors=["lid"])) == [
        "lid",
        "shap-lr",
        "shap-rf",
        "confidence",
    ]
    assert summary_detectors(SimpleNamespace(detectors=None)) == list(DEFAULT_DETECTORS)
    assert summary_detectors(SimpleNamespace(detectors=["confidence", "shap-lr"])) == [
        "confidence",
        "shap-lr",
        "shap-rf",
    ]


def test_the_detector_table_caption_names_the_threshold_detectors_it_shows():
    from rich.console import Console

    from advtui.eval.report import detector_table

    det = {"accuracy": 0.75, "roc_auc": 0.8, "tpr_at_5fpr": 0.5}

    def caption(names):
        v = {"n_clean": 4, "n_adversarial": 4, "detectors": dict.fromkeys(names, det)}
        console = Console(width=400, record=True)
        console.print(detector_table({"variants": {"untargeted": v}}))
        return " ".join(console.export_text().split())

    assert "squeeze, mahalanobis and lid flag above the 95th percentile" in caption(
        ["shap-lr", "squeeze", "mahalanobis", "lid"]
    )
    assert "lid flags above the 95th percentile" in caption(["lid"])
    assert "95th percentile" not in caption(["shap-lr", "confidence"])
