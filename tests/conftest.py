"""Shared fixtures: a tiny random CNN (fast, exact), the real default model, the samples."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from advtui import threads
from advtui.models import Classifier

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"

# The commands fit torch's threads to the machine's load (advtui.threads); results computed
# with another thread count differ in the last bits, and rendered numbers (the snapshots) with
# them. Tests use every CPU they may, whatever else runs, as an explicit OMP_NUM_THREADS.
os.environ.setdefault("OMP_NUM_THREADS", str(threads.available_cpus()))


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
