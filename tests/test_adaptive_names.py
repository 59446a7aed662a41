"""``eval --adaptive`` keys its rows like the loop: by the escaped row id, so photos whose file
names hold control characters or undecodable bytes get their adaptive rows once, and resume."""

from __future__ import annotations

import os
import shutil

import pytest

from advtui.eval.config import EvalConfig
from advtui.eval.loop import run_eval
from advtui.eval.rowparts import row_id
from tests.conftest import make_tiny_classifier

EPS = "32/255"


@pytest.mark.skipif(os.name != "posix", reason="needs byte file names")
def test_adaptive_rows_of_hostile_names_match_and_resume(samples_dir, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    photos = sorted(samples_dir.glob("*.jpg"))[:4]
    names = [b"esc\x1b[31mred.jpg", b"latin\xe9.jpg", b"bell\x07.jpg", b"plain.jpg"]
    for src, name in zip(photos, names, strict=True):
        shutil.copyfile(src, os.path.join(os.fsencode(folder), name))
    cfg = EvalConfig(
        folder=str(folder),
        out=str(tmp_path / "out"),
        n=4,
        views=1,
        targets=["untargeted"],
        eps=[EPS],
        steps=2,
        nsamples=4,
        batch_size=4,
        adaptive=True,
        folds=2,
        detectors=["shap-lr"],
        plots=False,
    )
    tiny = make_tiny_classifier(num_classes=10, size=16)
    rows = run_eval(cfg, tiny).store.rows
    want = {row_id(os.fsdecode(n)) for n in names}
    clean = {r["image"] for r in rows if r["variant"] == "clean"}
    adaptive = [r["image"] for r in rows if r["variant"] == "untargeted+adaptive"]
    assert clean == want
    assert sorted(adaptive) == sorted(want)  # one adaptive row per photo, hostile names too
    assert {"esc\\x1b[31mred.jpg", "latin\\xe9.jpg", "bell\\x07.jpg"} <= set(adaptive)

    again = run_eval(EvalConfig(**(cfg.__dict__ | {"resume": True})), tiny).store.rows
    assert len(again) == len(rows)  # nothing attacked again
    assert sorted(r["image"] for r in again if r["variant"] == "untargeted+adaptive") == sorted(
        adaptive
    )
