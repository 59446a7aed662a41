"""Shared fixtures: a tiny random CNN (fast, exact), the real default model, the samples."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
import torch
from torch import nn

from advtui import threads
from advtui.models import Classifier

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def pytest_configure(config) -> None:
    """The commands fit torch's threads to the machine's load (advtui.threads). Tests use an
    explicit count instead, whatever else runs: OMP_NUM_THREADS if the user set it, else the
    CPUs they may use split between the pytest-xdist workers (`-n 2` on 2 CPUs: one thread
    each; two each would make every torch barrier wait for a descheduled peer, and the suite a
    third slower). Results that depend on the count in their last bits (the snapshots) pin it
    with --threads."""
    worker = getattr(config, "workerinput", None)
    if worker is None and getattr(config.option, "numprocesses", None):
        return  # the xdist controller runs no test; its environment reaches the workers
    n = threads.env_threads() or threads.split(
        threads.available_cpus(), worker["workercount"] if worker else 1
    )
    for name in threads.THREAD_ENV:
        os.environ[name] = str(n)  # and every subprocess a test starts
    torch.set_num_threads(n)


@contextlib.contextmanager
def threads_kept():
    """--threads (and the explorer's start) change the process's torch threads and
    OMP_NUM_THREADS: restore both. (``advtui.threads.configured()``, the count the commands
    last set and record in run.json, is left as it is: no test reads it across tests.)"""
    before = torch.get_num_threads()
    env = {name: os.environ.get(name) for name in threads.THREAD_ENV}
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
        for name, value in env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(autouse=True)
def _each_test_keeps_the_thread_count():
    with threads_kept():
        yield


class TinyNet(nn.Module):
    """conv(3→4) → ReLU → global average pool → linear(4→num_classes)."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(torch.relu(self.conv(x))).flatten(1))


def make_tiny_classifier(num_classes: int = 10, size: int = 16, seed: int = 0) -> Classifier:
    torch.manual_seed(seed)
    return Classifier(
        TinyNet(num_classes),
        name="tiny",
        input_size=size,
        mean=(0.5, 0.5, 0.5),
        std=(0.25, 0.25, 0.25),
        class_names=[f"class {i}" for i in range(num_classes)],
    ).eval()


@pytest.fixture
def tiny_model() -> Classifier:
    return make_tiny_classifier()


@pytest.fixture(scope="session")
def real_model() -> Classifier:
    """The embedded default model (EfficientNet-Lite0), on CPU, loaded once per session."""
    from advtui.models import load_model

    return load_model(device="cpu")


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    assert SAMPLES.is_dir(), "samples/ is missing"
    return SAMPLES


@pytest.fixture(scope="session")
def sample_paths(samples_dir: Path) -> list[Path]:
    from advtui.images import find_images

    return find_images(samples_dir)
