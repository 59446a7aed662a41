"""The explorer's state types: its config, the folder's entries, the running job.

Plain Python (no Textual, no torch at import), shared by the App, the view model and the
thread-side job functions.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from advtui.pipeline import AttackSettings

VIEWS = ("side", "overlay", "perturbation")
#: Narrow terminals show one row of two pictures: the SHAP maps get a page of their own.
NARROW_VIEWS = ("side", "shap", "overlay", "perturbation")
VIEW_NAMES = {
    "side": "side by side",
    "shap": "SHAP maps",
    "overlay": "heatmap over image",
    "perturbation": "perturbation",
}
#: ``[``/``]`` walk this ladder of step counts.
STEP_LADDER = (1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200, 300, 500, 1000)
MAX_EPS_255 = 128
#: Display size of images before the model (and its input size) is known.
DEFAULT_DISPLAY_SIZE = 224


def _default_folder() -> Path:
    from advtui.images import bundled_samples

    return bundled_samples()


def _default_settings() -> AttackSettings:
    try:  # torch-free home of AttackSettings (keeps the first frame fast)
        from advtui.settings import AttackSettings
    except ImportError:  # older layout
        from advtui.pipeline import AttackSettings

    return AttackSettings()


@dataclass
class TuiConfig:
    """Everything ``advtui [FOLDER] [options]`` configures (built by ``advtui.cli.build_app``)."""

    folder: Path = field(default_factory=_default_folder)
    model: str = "efficientnet-lite0"
    weights: str | None = None
    device: str = "auto"
    input_size: int | None = None
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    settings: AttackSettings = field(default_factory=_default_settings)
    nsamples: int = 50
    layer: str | None = None
    background: str | None = None
    local_smoothing: float = 0.0
    explainer: str = "shap"  # registry name; ``x`` cycles it in the explorer
    baseline: str = "black"  # IG
    noise_std: float = 0.15  # SmoothGrad
    out_dir: Path = Path("advtui-out")
    detector: str | None = None
    #: an already built Classifier to use instead of loading ``model`` (tests inject a tiny
    #: model; an embedding program can pass its own)
    classifier: Any = None
    #: ``--graphics``: auto, kitty, sixel or halfblock (see ``advtui.tui.graphics``)
    graphics: str = "auto"
    #: what ``m`` cycles through (registry names, ``ta:NAME`` too); None: the native attacks
    methods: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        self.out_dir = Path(self.out_dir)


@dataclass
class Entry:
    """One file of the folder: its crop for display once scanned, or why it failed."""

    path: Path
    image: Any = None  # PIL image, model-size centre crop
    error: str | None = None

    @property
    def scanned(self) -> bool:
        return self.image is not None or self.error is not None


@dataclass
class Job:
    """A running attack or SHAP job (one at a time)."""

    id: int
    kind: str  # "attack" | "explain"
    index: int
    key: tuple
    label: str = "starting"
    done: int = 0
    total: int = 0
    finished: threading.Event = field(default_factory=threading.Event)


_MODEL_CACHE: dict[tuple, Any] = {}
_MODEL_LOCK = threading.Lock()


def load_model_cached(config: TuiConfig):
    """``advtui.models.load_model`` memoised per process (tests open many apps); the injected
    ``config.classifier`` when there is one."""
    if config.classifier is not None:
        return config.classifier
    from advtui.models import load_model

    key = (config.model, config.weights, config.device, config.input_size, config.mean, config.std)
    with _MODEL_LOCK:
        if key not in _MODEL_CACHE:
            _MODEL_CACHE[key] = load_model(
                config.model,
                weights=config.weights,
                device=config.device,
                input_size=config.input_size,
                mean=config.mean,
                std=config.std,
            )
        return _MODEL_CACHE[key]


def one_line(exc: BaseException) -> str:
    from advtui.errors import AdvtuiError

    if isinstance(exc, AdvtuiError):
        return str(exc)
    text = " ".join(str(exc).split())[:200]
    return f"internal error: {type(exc).__name__}: {text}" if text else type(exc).__name__
