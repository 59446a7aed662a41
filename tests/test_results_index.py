"""The results view's core: oof_scores.npz (ROC points, 5 %-FPR thresholds) and the lazy
index of results.jsonl (offsets, columns, partial and corrupt lines, bounded reads)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from advtui.detect.base import tpr_at_fpr
from advtui.eval.browse import RunError, is_run_folder, open_run, view_order
from advtui.eval.scores import auc, read_scores, roc_points, threshold_at_fpr, write_scores


@pytest.mark.parametrize("seed", range(5))
def test_roc_points_and_threshold_agree_with_sklearn_and_tpr_at_fpr(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 60)
    s = np.round(rng.normal(size=60) + y, 1)  # ties on purpose
    fpr, tpr, thr = roc_points(y, s)
    f2, t2, _ = roc_curve(y, s, drop_intermediate=False)
    assert np.allclose(fpr, f2) and np.allclose(tpr, t2)
    assert auc(fpr, tpr) == pytest.approx(roc_auc_score(y, s))
    t = threshold_at_fpr(y, s)
    assert ((s >= t)[y == 0]).mean() <= 0.05 + 1e-12
    assert ((s >= t)[y == 1]).mean() == pytest.approx(tpr_at_fpr(y, s))
    assert np.isinf(thr[0])


def test_threshold_needs_both_classes():
    assert threshold_at_fpr(np.ones(4), np.arange(4.0)) is None


def _write_run(folder, rows, blocks=None):
    folder.mkdir()
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "run.json").write_text(
        json.dumps(
            {"fixed": {}, "targets": ["untargeted"], "eps": ["8/255"], "primary_eps": "8/255"}
        )
    )
    if blocks is not None:
        write_scores(
            folder,
            blocks,
            {(r["image"], r["variant"], r["eps_255"]): i for i, r in enumerate(rows)},
        )
        (folder / "summary.json").write_text("{}")


def _row(i, variant):
    adv = variant != "clean"
    return {
        "image": f"p{i}.jpg", "variant": variant, "eps_255": "8/255" if adv else None,
        "position": i, "view": "full", "status": "ok", "success": True if adv else None,
        "confidence": 0.5 + i / 100, "evidence": {"mean_shap": float(i)},
    }  # fmt: skip


def test_index_scores_filters_and_sorts(tmp_path):
    rows = [_row(i, "clean") for i in range(4)] + [_row(i, "untargeted") for i in range(4)]
    keys = [(r["image"], r["variant"], r["eps_255"]) for r in rows]
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    s = np.array([0.1, 0.2, 0.9, 0.3, 0.95, 0.4, 0.8, 0.05])
    oof = {"y": y, "keys": keys, "detectors": {"d": s}}
    _write_run(tmp_path / "run", rows, {"8/255": {"untargeted": oof, "pooled": oof}})
    run = open_run(tmp_path / "run")
    assert not run.scores_loaded  # nothing of the scores before the first rows
    run.scan()
    assert len(run) == 8 and run.complete and run.detectors == ["d"]
    [b, _] = read_scores(tmp_path / "run")
    t = b.threshold[0]
    score, caught = run.scores(None, None)
    assert np.allclose(score[:, 0], s)
    assert list(caught[:, 0]) == [int(v >= t) for v in s]
    missed = view_order(run, score, caught, verdict="missed only")
    assert list(missed) == [i for i in range(4, 8) if s[i] < t]
    alarms = view_order(run, score, caught, verdict="false alarms only")
    assert list(alarms) == [i for i in range(4) if s[i] >= t]
    by_score = view_order(run, score, caught, sort="score:0", descending=True)
    assert list(by_score) == list(np.argsort(-s, kind="stable"))
    by_conf = view_order(run, score, caught, sort="conf")
    assert list(by_conf) == [0, 4, 1, 5, 2, 6, 3, 7]


def test_partial_and_corrupt_lines_and_growing_file(tmp_path):
    rows = [_row(i, "clean") for i in range(3)]
    _write_run(tmp_path / "run", rows)
    path = tmp_path / "run" / "results.jsonl"
    with open(path, "a") as fh:
        fh.write("not json\n" + '{"image": "p9.jpg", "vari')  # corrupt line, partial line
    run = open_run(tmp_path / "run")
    run.scan(chunk=16)  # small chunks: lines longer than a chunk still index
    assert len(run) == 4 and run.bad_lines == [3] and run.partial
    assert run.row(3) == {} and run.row(1)["image"] == "p1.jpg"
    assert run.state == "no summary yet" and run.detectors == []
    with open(path, "a") as fh:  # the running run finishes its line
        fh.write('ant": "clean", "position": 9}\n')
    run.scan()
    assert len(run) == 5 and not run.partial and run.row(4)["position"] == 9


def test_not_a_run(tmp_path):
    assert not is_run_folder(tmp_path)
    with pytest.raises(RunError, match="not an advtui eval output folder"):
        open_run(tmp_path)
    (tmp_path / "run.json").write_text("{}")
    assert is_run_folder(tmp_path)
    with pytest.raises(RunError, match="no results.jsonl yet"):
        open_run(tmp_path)


def test_eps_filter_and_clean_scores_of_the_chosen_eps(tmp_path):
    rows = [_row(i, "clean") for i in range(2)]
    for eps in ("4/255", "8/255"):
        rows += [dict(_row(i, "untargeted"), eps_255=eps) for i in range(2)]
    keys = [(r["image"], r["variant"], r["eps_255"]) for r in rows]
    blocks = {}
    for k, eps in enumerate(("4/255", "8/255")):
        idx = [0, 1, 2 + 2 * k, 3 + 2 * k]
        oof = {
            "y": np.array([0, 0, 1, 1]),
            "keys": [keys[i] for i in idx],
            "detectors": {"d": np.array([0.1, 0.2, 0.7, 0.8]) + k},
        }
        blocks[eps] = {"untargeted": oof, "pooled": oof}
    _write_run(tmp_path / "run", rows, blocks)
    run = open_run(tmp_path / "run")
    run.scan()
    score, _ = run.scores(None, "4/255")  # clean rows scored as in the 4/255 data set
    assert np.allclose(score[:, 0], [0.1, 0.2, 0.7, 0.8, 1.7, 1.8])
    score, caught = run.scores(None, None)  # clean rows: the primary ε (8/255)
    assert np.allclose(score[:2, 0], [1.1, 1.2])
    assert list(view_order(run, score, caught, eps="8/255")) == [0, 1, 4, 5]
