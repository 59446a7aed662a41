"""The explorer's state types: its config, the folder's entries, the running job.

Plain Python (no Textual, no torch at import), shared by the App, the view model and the
thread-side job functions.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advtui.registry import DEFAULT_MODEL

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
    """Everything ``advtui [PATH] [options]`` configures (built by ``advtui.cli.build_app``)."""

    folder: Path = field(default_factory=_default_folder)
    model: str = DEFAULT_MODEL
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
    #: the image to select once listed (``advtui photo.jpg`` opens its folder with it selected)
    select: Path | None = None
    #: ``--list FILE``: list these paths (one per line) instead of walking ``folder``
    list_file: Path | None = None
    #: ``--labels FILE``: true classes by relative path, file name or folder name (as eval)
    labels: Path | None = None
    #: walk sub-folders (a folder given on the command line); an image's folder is not walked
    recursive: bool = True
    #: ``--eps-grid``: the budgets ``b`` attacks at (None: the method's norm's default row)
    eps_grid: tuple[float, ...] | None = None
    #: ``advtui OUT`` on an eval output folder: the run whose rows open first (``r``)
    run: Path | None = None

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        self.out_dir = Path(self.out_dir)


#: The explorer's gradient batch per device (None: the explainers' default, 10 on a CPU, 64 on
#: a GPU). 4 on a CPU: SHAP's peak memory is ~300 MB lower than at 10 for the same speed
#: (docs/perf.md), and a seed gives the same map at any batch, so the explorer's maps are
#: eval's rows' maps.
EXPLAIN_BATCH: dict[str, int] = {"cpu": 4}

#: Decoded display crops kept around the cursor (an LRU; ~150 kB each at 224 px).
DECODED_LIMIT = 96
#: Images ahead of and behind the cursor decoded before they are asked for.
PREFETCH = 4


class Entry:
    """One listed file: metadata only, plus its display crop while it is in the LRU.

    ``image`` is the model-size centre crop while decoded (the App keeps at most
    :data:`DECODED_LIMIT` of them); ``error`` is why it cannot be read (kept once known);
    ``checked`` says it was read once without error. ``truth`` is the true class as shown
    (the class name once the model is known, the synset folder before), ``label`` its index
    and ``verdict`` ✓/✗ once the model has predicted it.
    """

    __slots__ = (
        "key",
        "rel",
        "folder",
        "image",
        "error",
        "checked",
        "label",
        "truth",
        "verdict",
        "mark",
    )

    def __init__(self, path: str | Path, rel: str = "", folder: str = "", truth: str = "") -> None:
        #: ``str(self.path)``, kept as a str (50,000 rows hold no Path objects); results and
        #: predictions are filed under it
        self.key = path if isinstance(path, str) else os.fspath(path)
        self.rel = rel or os.path.basename(self.key)
        self.folder = folder
        self.image: Any = None
        self.error: str | None = None
        self.checked = False
        self.label: int | None = None
        self.truth = truth
        self.verdict = ""
        self.mark = "·"  # the list's mark (advtui.tui.imagelist.MARK_*)

    @property
    def path(self) -> Path:
        return Path(self.key)

    @property
    def name(self) -> str:
        return os.path.basename(self.key)

    @property
    def scanned(self) -> bool:
        """Read at least once (decoded, or failed with a reason)."""
        return self.checked or self.image is not None or self.error is not None

    def __repr__(self) -> str:
        return f"Entry({self.rel!r})"


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
