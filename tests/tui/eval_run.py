"""An eval run made in the test session from the explorer's tiny CNN (fixtures for the
results view's Pilot and snapshot tests)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from advtui.eval.config import EvalConfig
from advtui.eval.loop import run_eval

from .conftest import tiny_imagenet_classifier

DETECTORS = ["shap-lr", "confidence", "squeeze"]


@pytest.fixture(scope="module")
def tiny():
    return tiny_imagenet_classifier()


@pytest.fixture(scope="module")
def run_dir(tiny, samples_dir, tmp_path_factory) -> Path:
    """A finished run: 5 photos, PGD (random start from each row's seed), two target modes."""
    from advtui import threads

    threads.configure(1)
    photos = tmp_path_factory.mktemp("photos")
    for p in sorted(samples_dir.glob("*.jpg"))[:5]:
        shutil.copy(p, photos / p.name)
    out = tmp_path_factory.mktemp("run") / "out"
    cfg = EvalConfig(
        folder=str(photos),
        out=str(out),
        n=5,
        targets=["untargeted", "runner-up"],
        eps=["8/255"],
        method="pgd",
        steps=3,
        nsamples=4,
        batch_size=4,
        detectors=DETECTORS,
        plots=False,
    )
    run_eval(cfg, tiny)
    return out
