"""The SHAP-feature detector: features, group-aware evaluation, the saved JSON detector."""

from __future__ import annotations

import json

import numpy as np
import pytest

from advtui.detect.cv import cross_validate, group_folds, index_split
from advtui.detect.features import N_QUANTILES, confidence_features, sorted_features
from advtui.detect.saved import fit_detector, load_detector
from advtui.errors import AdvtuiError, DetectorError


def _synthetic(shift: float, n_groups: int = 40, views: int = 2, seed: int = 0):
    """Per photo ``views`` clean and ``views`` adversarial attribution-like arrays.

    Adversarial arrays are drawn with their values scaled by ``1 - shift`` (less evidence);
    ``shift=0`` makes the two classes identically distributed.
    """
    rng = np.random.default_rng(seed)
    X, y, groups = [], [], []
    for g in range(n_groups):
        for _ in range(views):
            for label in (0, 1):
                scale = 1.0 - shift if label else 1.0
                a = rng.normal(0.1 * scale, scale, size=(3, 8, 8))
                X.append(sorted_features(a, 64))
                y.append(label)
                groups.append(f"photo{g}")
    return np.asarray(X), np.asarray(y), groups


def test_sorted_features_are_quantiles_of_the_values():
    a = np.arange(3 * 4 * 4, dtype=np.float32).reshape(3, 4, 4)[:, ::-1]  # unsorted
    f = sorted_features(a, 5)
    assert f.dtype == np.float32 and f.shape == (5,)
    np.testing.assert_allclose(f, [0, 11.75, 23.5, 35.25, 47])
    # size-independent: a bigger array of the same distribution gives ~ the same vector
    rng = np.random.default_rng(0)
    small = sorted_features(rng.normal(size=(3, 32, 32)))
    big = sorted_features(rng.normal(size=(40, 28, 28)))
    assert small.shape == big.shape == (N_QUANTILES,)
    assert np.abs(small[10:-10] - big[10:-10]).max() < 0.2


@pytest.mark.parametrize("bad", [np.zeros((0,)), np.array([1.0, np.nan])])
def test_sorted_features_refuses_empty_or_nan(bad):
    with pytest.raises(DetectorError):
        sorted_features(bad)


@pytest.mark.parametrize("kind", ["lr", "rf"])
def test_separable_features_are_detected(kind):
    X, y, groups = _synthetic(shift=0.6)
    res = cross_validate(X, y, groups, kind=kind, folds=5)
    s = res.summary()
    assert s["folds"] == 5 and s["scheme"] == "stratified-group-5-fold"
    assert s["accuracy"] >= 0.95
    assert s["roc_auc"] >= 0.98
    assert s["accuracy_std"] is not None and s["n_tested"] == len(y)
    assert np.isfinite(res.oof).all()  # every row was tested exactly once


@pytest.mark.parametrize("kind", ["lr", "rf"])
def test_unseparable_features_score_chance(kind):
    X, y, groups = _synthetic(shift=0.0, n_groups=60)
    s = cross_validate(X, y, groups, kind=kind, folds=5).summary()
    assert 0.35 <= s["accuracy"] <= 0.65
    assert 0.35 <= s["roc_auc"] <= 0.65


def test_folds_never_split_a_photo_and_hold_both_classes():
    rng = np.random.default_rng(1)
    groups = np.repeat([f"p{i}" for i in range(23)], 5)
    y = np.tile([0, 1, 1, 1, 0], 23)
    rng.shuffle(groups)  # rows of one photo scattered through the array
    seen = np.zeros(len(y), int)
    folds = list(group_folds(y, groups, 5, seed=3))
    assert len(folds) == 5
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        assert set(y[test]) == {0, 1}
        seen[test] += 1
    assert (seen == 1).all()


def test_photo_leak_is_what_the_group_split_prevents():
    """Each photo has its own random signature, labels carry no general signal: a row-level
    split lets a forest recognise photos (above chance); the group split does not."""
    rng = np.random.default_rng(0)
    X, y, groups = [], [], []
    for g in range(40):
        sig = rng.normal(size=16)
        offsets = rng.normal(size=(2, 16))  # photo-specific clean / "adversarial" offsets
        for _view in range(4):
            for label in (0, 1):
                X.append(sig + offsets[label] + 0.05 * rng.normal(size=16))
                y.append(label)
                groups.append(f"g{g}")
    X, y = np.asarray(X), np.asarray(y)
    grouped = cross_validate(X, y, groups, kind="rf", folds=5).summary()["accuracy"]
    leaky = cross_validate(X, y, [str(i) for i in range(len(y))], kind="rf", folds=5)
    assert leaky.summary()["accuracy"] > 0.8  # memorised the photos
    assert grouped < 0.7


def test_too_few_photos_gives_a_note_not_a_crash():
    X, y, groups = _synthetic(shift=0.5, n_groups=1)
    res = cross_validate(X, y, groups)
    assert res.summary()["accuracy"] is None and "too few" in res.summary()["note"]


def test_index_split_is_one_90_10_split_by_position():
    X, y, _ = _synthetic(shift=0.6, n_groups=20, views=1)
    positions = np.repeat(np.arange(20), 2)
    res = index_split(X, y, positions)
    s = res.summary()
    assert s["scheme"] == "index-90/10" and s["folds"] == 1 and s["n_tested"] == 4
    tested = np.flatnonzero(np.isfinite(res.oof))
    assert set(positions[tested]) == {18, 19}  # the last 10 % of images
    assert s["accuracy"] == 1.0


def test_confidence_features():
    f = confidence_features([0.5, 0.9], [1.0, 3.0])
    np.testing.assert_allclose(f, [[1.0, 0.0], [3.0, np.log(9.0)]])


def test_detector_round_trip_gives_the_same_scores(tmp_path):
    from sklearn.linear_model import LogisticRegression  # noqa: F401  (fit_detector uses it)

    X, y, _ = _synthetic(shift=0.5, n_groups=15)
    det = fit_detector(X, y, params={"model": "m", "layer": None, "nsamples": 8})
    det.save(tmp_path)
    again = load_detector(tmp_path)
    assert again.params == {"model": "m", "layer": None, "nsamples": 8}
    np.testing.assert_allclose(again.score_features(X), det.score_features(X), rtol=1e-12)
    # scores match scikit-learn's own pipeline on the same data
    from advtui.detect.cv import make_classifier

    ref = make_classifier("lr", 0).fit(X, y).predict_proba(X)[:, 1]
    np.testing.assert_allclose(det.score_features(X), ref, rtol=1e-6, atol=1e-9)
    # score(attribution) = score of its features; and it separates on fresh data
    rng = np.random.default_rng(5)
    clean = rng.normal(0.1, 1.0, size=(3, 8, 8))
    adv = rng.normal(0.05, 0.5, size=(3, 8, 8))
    assert again.score(clean) == pytest.approx(
        float(again.score_features(sorted_features(clean, 64)))
    )
    assert again.score(adv) > 0.5 > again.score(clean)
    assert isinstance(again.score(adv), float)


def _write(tmp_path, obj):
    (tmp_path / "detector.json").write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return tmp_path


def _good(tmp_path):
    X, y, _ = _synthetic(shift=0.5, n_groups=6)
    return fit_detector(X, y).to_dict()


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda d: "{not json", "unreadable"),
        (lambda d: d | {"format": 99}, "unsupported"),
        (lambda d: {k: v for k, v in d.items() if k != "coef"}, "malformed"),
        (lambda d: d | {"coef": d["coef"][:-1]}, "lengths"),
        (
            lambda d: (
                d | {"scaler": {"mean": d["scaler"]["mean"], "scale": [0.0] * len(d["coef"])}}
            ),
            "scale",
        ),
        (lambda d: d | {"intercept": "x"}, "malformed"),
    ],
)
def test_bad_detector_files_give_one_line_errors(tmp_path, mutate, reason):
    path = _write(tmp_path, mutate(_good(tmp_path)))
    with pytest.raises(AdvtuiError) as info:
        load_detector(path)
    msg = str(info.value)
    assert reason in msg and "\n" not in msg


def test_missing_detector(tmp_path):
    with pytest.raises(DetectorError, match="no detector"):
        load_detector(tmp_path)
    with pytest.raises(DetectorError, match="no detector"):
        load_detector(tmp_path / "nope")


def test_fit_needs_both_classes():
    with pytest.raises(DetectorError):
        fit_detector(np.zeros((4, 3)), np.zeros(4))
