"""Helpers for the explorer's Pilot and snapshot tests (real default model, on CPU)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from advtui.cli import build_app
from advtui.tui.imagelist import ImageList

SIZE = (160, 50)


@pytest.fixture(autouse=True)
def truecolour_terminal(monkeypatch):
    """The explorer's tests run as in a truecolour terminal (as the snapshots show it); the
    256-colour path has its own tests that override this."""
    monkeypatch.setenv("COLORTERM", "truecolor")


@pytest.fixture
def snap_near(request):
    """Like pytest-textual-snapshot's ``snap_compare``, but cell by cell with a tolerance for
    the last bits of a real model's numbers and colours (:mod:`tests.tui.snapnear`)."""
    from .snapnear import make_compare

    return make_compare(request)


_TINY: list = []


def make_app(*args: str, classifier=None, real: bool = False):
    """The App exactly as ``advtui`` builds it, on CPU, with fast test settings by default, on
    an injected tiny CNN with the ImageNet class names (:func:`tiny_imagenet_classifier`)
    unless the test asks for the ``real`` default model or names a ``--model``."""
    argv = ["--device", "cpu", "--steps", "3", "--nsamples", "8", *args]
    if classifier is None and not real and "--model" not in args:
        if not _TINY:
            _TINY.append(tiny_imagenet_classifier())
        classifier = _TINY[0]
    return build_app(argv, classifier=classifier)


def tiny_imagenet_classifier(size: int = 32):
    """A tiny random CNN with the 1,000 ImageNet class names: the explorer's whole pipeline
    (attack, SHAP, tables, pictures) in milliseconds, for tests where the real model's
    predictions add nothing."""
    import torch
    from torch import nn

    from advtui.models import Classifier, imagenet_classes

    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 1000),
    )
    return Classifier(
        net,
        name="tiny",
        input_size=size,
        mean=(0.5, 0.5, 0.5),
        std=(0.25, 0.25, 0.25),
        class_names=imagenet_classes(),
    ).eval()


async def wait_for(pilot, predicate, timeout: float = 60.0, what: str = "condition") -> float:
    """Pump the app until ``predicate()`` holds; returns the seconds it took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await pilot.pause(0.05)
    return time.monotonic() - start


async def wait_ready(pilot) -> None:
    """Model loaded, SHAP background built, folder listed and the files on screen read,
    current image predicted."""
    app = pilot.app
    await wait_for(
        pilot, lambda: app.state.model is not None or app.state.model_error, what="model"
    )
    await wait_for(pilot, app.explainer_ready.is_set, what="SHAP background")
    await wait_for(pilot, lambda: app.state.listed, what="listing")
    # files are read near the cursor and on screen (all of them for a small folder)
    on_screen = app.query_one(ImageList).visible_items()
    await wait_for(pilot, lambda: all(app.state.entries[i].scanned for i in on_screen), what="scan")
    entry = app.state.current_entry
    if app.state.model is not None and entry is not None and entry.error is None:
        key = (str(entry.path), app.state.model.name)
        await wait_for(pilot, lambda: key in app.state.predictions, what="prediction")
    await app.workers.wait_for_complete()
    await pilot.pause()


async def wait_job(pilot, timeout: float = 120.0) -> None:
    """Wait until the running attack/SHAP job has finished and its result is on screen."""
    app = pilot.app
    await wait_for(pilot, lambda: app.state.job is None, timeout=timeout, what="job")
    await app.workers.wait_for_complete()
    await pilot.pause()


@pytest.fixture
def small_folder(tmp_path: Path, sample_paths: list[Path]) -> Path:
    """Two real photos and a corrupt file whose name looks like Rich markup."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    for p in sample_paths[:2]:
        shutil.copy(p, folder / p.name)
    (folder / "[red]bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG at all" * 10)
    return folder


def _gate(monkeypatch, name: str):
    """Make ``advtui.pipeline.<name>`` wait for an Event before it runs; yield the Event."""
    import threading

    import advtui.pipeline

    gate, real = threading.Event(), getattr(advtui.pipeline, name)

    def gated(*args, **kwargs):
        gate.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(advtui.pipeline, name, gated)
    yield gate
    gate.set()


@pytest.fixture
def shap_gate(monkeypatch):
    """An Event that SHAP jobs wait for before computing: set it to let them run. Keeps a job
    running for as long as a test needs (pilot.press can take as long as a short SHAP job)."""
    yield from _gate(monkeypatch, "explain_outcome")


@pytest.fixture
def attack_gate(monkeypatch):
    """An Event that attack jobs wait for before attacking: set it to let them run. Keeps an
    attack running while a test moves to another image, on the tiny model (no long real-model
    attack needed to outlast Pilot's idle waits)."""
    yield from _gate(monkeypatch, "run_attack")


@pytest.fixture(autouse=True)
def _quick_loader_exit(monkeypatch):
    """The image loader lingers ``IDLE`` seconds for more work before it returns, and
    :func:`wait_ready` waits for every worker: a tenth of that keeps the tests from idling
    (the App starts the loader again whenever it wants images, as after any pause)."""
    from advtui.tui import jobs

    monkeypatch.setattr(jobs, "IDLE", 0.03)
