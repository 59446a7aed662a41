"""Bootstrap intervals over photos (advtui.eval.bootstrap), the similarity bins
(advtui.eval.similarity) and the tables that print them (advtui.eval.tables): hand-built
scores, plus one small run of the tiny CNN."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from rich.console import Console
from torch import nn

from advtui.detect.base import FPR_BUDGET, tpr_at_fpr
from advtui.eval import bootstrap
from advtui.eval.bootstrap import Resampler, detection_intervals, share_interval
from advtui.eval.config import EvalConfig
from advtui.eval.loop import run_eval
from advtui.eval.similarity import bin_edges, bin_index, similarity_summary
from advtui.eval.tables import detector_table, similarity_table, summary_table
from advtui.models import Classifier


def _data(photos: int, seed: int = 0, rows_per_photo: int = 2):
    """``photos`` photos, each with one clean and ``rows_per_photo - 1`` adversarial rows;
    noisy scores, adversarial higher on average."""
    rng = np.random.default_rng(seed)
    groups = np.repeat([f"p{i:03d}" for i in range(photos)], rows_per_photo)
    y = np.tile([0] + [1] * (rows_per_photo - 1), photos)
    scores = rng.normal(size=len(y)) + 1.2 * y
    flags = scores > 0.6
    return y, groups, scores, flags


def _repeat(k: int, y, groups, scores, flags):
    """The data ``k`` times, each copy a new photo (``p001#2``): k× the photos, same values."""
    g = np.concatenate([[f"{x}#{i}" for x in groups] for i in range(k)])
    return np.tile(y, k), g, np.tile(scores, k), np.tile(flags, k)


def test_unit_weights_give_sklearns_auc_and_the_detectors_tpr():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.normal(size=300) + y, 1)  # rounded: many ties
    auc, tpr = bootstrap.weighted_auc_tpr(np.ones((1, 300)), y, s)
    assert auc[0] == pytest.approx(roc_auc_score(y, s))
    assert tpr[0] == pytest.approx(tpr_at_fpr(y, s))
    assert bootstrap.FPR_BUDGET == FPR_BUDGET
    # integer weights are duplicated rows
    w = rng.integers(0, 4, 300)
    rep = np.repeat(np.arange(300), w)
    auc_w, tpr_w = bootstrap.weighted_auc_tpr(w[None, :].astype(float), y, s)
    assert auc_w[0] == pytest.approx(roc_auc_score(y[rep], s[rep]))
    assert tpr_w[0] == pytest.approx(tpr_at_fpr(y[rep], s[rep]))


def test_intervals_contain_the_point_estimate_and_are_seeded():
    y, groups, scores, flags = _data(60)
    res = Resampler.make(groups, 500, seed=7)
    iv = detection_intervals(res, y, groups, scores, flags)
    assert set(iv) == {"accuracy", "roc_auc", "tpr_at_5fpr"}
    for name, b in iv.items():
        assert b["low"] <= b["estimate"] <= b["high"], name
        assert b["high"] - b["low"] > 0.01, name  # 60 photos: a real spread
    assert iv["accuracy"]["estimate"] == pytest.approx(np.mean(flags == y))
    again = detection_intervals(Resampler.make(groups, 500, seed=7), y, groups, scores, flags)
    other = detection_intervals(Resampler.make(groups, 500, seed=8), y, groups, scores, flags)
    assert again == iv and other != iv


def test_intervals_narrow_when_every_photo_is_repeated_four_times():
    data = _data(40, seed=1)
    res = Resampler.make(data[1], 1000, seed=0)
    iv = detection_intervals(res, *(data[0], data[1], data[2], data[3]))
    y4, g4, s4, f4 = _repeat(4, *data)
    iv4 = detection_intervals(Resampler.make(g4, 1000, seed=0), y4, g4, s4, f4)
    for name in iv:
        assert iv4[name]["estimate"] == pytest.approx(iv[name]["estimate"])
        width, width4 = iv[name]["high"] - iv[name]["low"], iv4[name]["high"] - iv4[name]["low"]
        assert width4 < 0.7 * width, name  # ≈ half (1/√4) the width


def test_resampling_is_by_photo_not_by_row():
    """Rows of one photo perfectly correlated (each photo's 8 rows are copies): resampling
    photos gives the interval of 20 photos, as wide as 20 single rows; resampling rows (each
    row its own photo) would make it narrow as 160 rows."""
    y, groups, scores, flags = _data(20, seed=2)
    copies = np.repeat(np.arange(len(y)), 8)  # 8 identical rows per row, same photo
    yc, gc, sc, fc = y[copies], groups[copies], scores[copies], flags[copies]
    by_photo = detection_intervals(Resampler.make(gc, 1000, 0), yc, gc, sc, fc)
    single = detection_intervals(Resampler.make(groups, 1000, 0), y, groups, scores, flags)
    rows_as_photos = np.asarray([f"r{i}" for i in range(len(yc))])
    by_row = detection_intervals(
        Resampler.make(rows_as_photos, 1000, 0), yc, rows_as_photos, sc, fc
    )
    for name in ("accuracy", "roc_auc"):
        w_photo = by_photo[name]["high"] - by_photo[name]["low"]
        w_single = single[name]["high"] - single[name]["low"]
        w_row = by_row[name]["high"] - by_row[name]["low"]
        assert w_photo == pytest.approx(w_single, rel=0.25), name
        assert w_row < 0.6 * w_photo, name


def test_untested_rows_and_one_class_resamples_are_left_out():
    y, groups, scores, flags = _data(3, seed=4)
    scores = scores.copy()
    scores[0] = np.nan  # never tested (a fold too small to fit)
    res = Resampler.make(groups, 300, seed=0)
    iv = detection_intervals(res, y, groups, scores, flags)
    assert iv["accuracy"]["estimate"] == pytest.approx(np.mean((flags == y)[1:]))
    for b in iv.values():
        assert b["low"] is not None and b["low"] <= b["estimate"] <= b["high"]
    # a photo the resampler never saw is an error, not a silent zero weight
    with pytest.raises(ValueError, match="does not know"):
        res.weights(["nope"])


def test_share_interval_and_zero_resamples():
    groups = np.asarray([f"p{i}" for i in range(50)])
    hits = np.arange(50) % 5 == 0  # 20 %
    b = share_interval(Resampler.make(groups, 800, 0), groups, hits)
    assert b["estimate"] == pytest.approx(0.2) and b["low"] < 0.2 < b["high"]
    none = share_interval(Resampler.make(groups, 0, 0), groups, hits)
    assert none == {"estimate": pytest.approx(0.2), "low": None, "high": None}


# ----------------------------------------------------------------------------- similarity


def test_similarity_bins_count_rows_right():
    sims = np.asarray([0.05, 0.1, 0.15, 0.2, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    edges = bin_edges(sims, 5)
    idx = bin_index(sims, edges)
    assert np.bincount(idx).tolist() == [2, 2, 2, 2, 2]
    assert idx[-1] == 4  # the largest value falls in the last, closed bin

    # pooled rows: 6 clean photos, random and nearest adversarial rows, one untargeted
    rows, y, groups = [], [], []
    for i in range(6):
        rows.append({"variant": "clean", "group": f"p{i}"})
        y.append(0)
        groups.append(f"p{i}")
    for i, (mode, s) in enumerate(
        [("random", 0.05), ("random", 0.1), ("random", 0.2), ("nearest", 0.7), ("nearest", 0.8),
         ("nearest", 0.9), ("untargeted", None)]
    ):  # fmt: skip
        rows.append({"variant": mode, "group": f"p{i % 6}", "target_similarity": s})
        y.append(1)
        groups.append(f"p{i % 6}")
    y = np.asarray(y)
    scores = np.where(y == 1, 1.0, 0.0)
    scores[[6, 7, 8]] = 0.0  # the random (dissimilar) targets score as clean
    flags = scores > 0.5
    oof = {
        "rows": rows,
        "y": y,
        "groups": groups,
        "detectors": {"d": scores},
        "flags": {"d": flags},
    }
    out = similarity_summary(
        oof, ["untargeted", "random", "nearest"], Resampler.make(groups, 200, 0), bins=2
    )
    assert out["modes"] == ["random", "nearest"] and out["n_adversarial"] == 6
    assert [b["n_adversarial"] for b in out["bins"]] == [3, 3]
    assert [b["by_mode"] for b in out["bins"]] == [
        {"random": 3, "nearest": 0},
        {"random": 0, "nearest": 3},
    ]
    low, high = out["bins"]
    assert low["detectors"]["d"]["detected"]["estimate"] == 0.0
    assert high["detectors"]["d"]["detected"]["estimate"] == 1.0
    assert high["detectors"]["d"]["roc_auc"]["estimate"] == 1.0
    assert low["detectors"]["d"]["roc_auc"]["estimate"] == 0.5  # ties with every clean row
    none = similarity_summary(oof, ["untargeted", "runner-up"], None)
    assert none["modes"] == [] and "no random or nearest" in none["note"]


# ----------------------------------------------------------------------------- a run


class LinearNet(nn.Module):
    """One linear layer on the 16×16 pixels: every class is reachable, so targeted attacks
    succeed (the tiny CNN of conftest rarely reaches a target)."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.fc = nn.Linear(3 * 16 * 16, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


@pytest.fixture(scope="module")
def small_run(samples_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("boot")
    cfg = EvalConfig(
        folder=str(samples_dir), out=str(out), n=8, views=1,
        targets=["untargeted", "random", "nearest"], eps=["16/255"], steps=5, nsamples=2,
        batch_size=8, folds=2, method="bim", detectors=["shap-lr", "confidence"], plots=True,
        bootstrap=200,
    )  # fmt: skip
    torch.manual_seed(0)
    model = Classifier(
        LinearNet(10), name="linear", input_size=16, mean=(0.5,) * 3, std=(0.25,) * 3,
        class_names=[f"class {i}" for i in range(10)],
    ).eval()  # fmt: skip
    return run_eval(cfg, model), out, model


def test_a_run_stores_intervals_similarities_and_prints_them(small_run):
    run, out, model = small_run
    s = json.loads((out / "summary.json").read_text())
    assert s["bootstrap"] == {"resamples": 200, "seed": 0, "level": 0.95, "unit": "photo"}
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    w = model.class_embeddings().float()
    w = w / w.norm(dim=1, keepdim=True)
    for r in rows:
        if r["variant"] in ("random", "nearest"):
            want = float(w[r["label"]] @ w[r["target"]])
            assert r["target_similarity"] == pytest.approx(want, abs=1e-5)
        elif r["variant"] == "untargeted":
            assert r["target_similarity"] is None
    checked = 0
    for name, v in s["variants"].items():
        for det, d in v["detectors"].items():
            for metric, b in d["intervals"].items():
                if b["estimate"] is not None and b["low"] is not None:
                    assert b["low"] - 1e-9 <= b["estimate"] <= b["high"] + 1e-9, (name, det, metric)
                    checked += 1
    assert checked >= 6
    assert s["paper"]["rows"][0] == {"variant": "untargeted", "accuracy": 0.9981}
    sim = s["target_similarity"]
    assert sim["modes"] == ["random", "nearest"]
    ok = [r for r in rows if r["variant"] in ("random", "nearest") and r["status"] == "ok"]
    assert len(ok) >= 8 and len(sim["bins"]) >= 2
    assert sum(b["n_adversarial"] for b in sim["bins"]) == sim["n_adversarial"] == len(ok)
    for b in sim["bins"]:
        inside = [r for r in ok if b["low"] <= r["target_similarity"] <= b["high"]]
        assert b["n_adversarial"] <= len(inside)
        assert sum(b["by_mode"].values()) == b["n_adversarial"]
    # the nearest target is the most similar class: its similarity is the largest of all
    near = [r["target_similarity"] for r in ok if r["variant"] == "nearest"]
    rand = [r["target_similarity"] for r in ok if r["variant"] == "random"]
    assert min(near) >= np.median(rand)

    console = Console(width=200, record=True)
    console.print(detector_table(s))
    console.print(summary_table(s))
    console.print(similarity_table(s))
    text = console.export_text()
    assert "untargeted (paper)" in text and "targeted (paper)" in text
    assert "0.9981" in text and "0.9987" in text and "Inception-v3, BIM" in text
    acc = s["variants"]["pooled"]["detectors"]["shap-lr"]["intervals"]["accuracy"]
    assert f"{acc['estimate']:.2f} [{acc['low']:.2f}, {acc['high']:.2f}]" in text
    assert "detection against target similarity" in text
    assert "[low, high]: 95 % bootstrap interval over photos (200 resamples" in text
    assert (out / "histogram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_old_rows_get_their_similarity_and_bootstrap_zero_turns_intervals_off(
    small_run, samples_dir, tmp_path
):
    """A store whose rows lack target_similarity (an older advtui) resumes: the summary
    computes it from the model; --bootstrap 0 leaves the intervals out, the paper row in."""
    import shutil

    run, out, model = small_run
    old = tmp_path / "old"
    shutil.copytree(out, old)
    lines = (old / "results.jsonl").read_text().splitlines()
    stripped = []
    for line in lines:
        r = json.loads(line)
        r.pop("target_similarity", None)
        stripped.append(json.dumps(r))
    (old / "results.jsonl").write_text("\n".join(stripped) + "\n")
    cfg = EvalConfig(**(run.config.__dict__ | {"out": str(old), "resume": True, "bootstrap": 0}))
    again = run_eval(cfg, model)
    s = again.summary
    assert s["bootstrap"] == {"resamples": 0}
    assert (
        s["target_similarity"]["n_adversarial"] == run.summary["target_similarity"]["n_adversarial"]
    )
    assert [b["n_adversarial"] for b in s["target_similarity"]["bins"]] == [
        b["n_adversarial"] for b in run.summary["target_similarity"]["bins"]
    ]
    for v in s["variants"].values():
        for d in v["detectors"].values():
            assert "intervals" not in d
    console = Console(width=200, record=True)
    console.print(detector_table(s))
    text = console.export_text()
    assert "untargeted (paper)" in text and "0.9981 / – / –" in text


@pytest.mark.parametrize("value", ["-1", "many", "1.5"])
def test_a_bad_bootstrap_count_is_a_one_line_error(samples_dir, tmp_path, capsys, value):
    from advtui.cli import main

    code = main(["eval", str(samples_dir), "--out", str(tmp_path / "o"), "--bootstrap", value])
    err = capsys.readouterr().err
    assert code == 2 and "--bootstrap" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
