"""The explorer's state: what the view reads and the App's actions and message handlers change.

Plain Python (no Textual, no torch at import). The App (:mod:`advtui.tui.app`) owns one
:class:`ExplorerState` as ``app.state`` and wires keys, workers and messages to it; the view
model (:func:`advtui.tui.view.build_view`) and the status line are functions of it alone, so
what a screen shows is decided by typed data, not by whatever attributes an App happens to
carry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from advtui import registry
from advtui.tui.resultcache import ResultCache
from advtui.tui.state import VIEWS, Entry, Job, TuiConfig

if TYPE_CHECKING:  # types only: the explorer imports neither torch nor PIL at start-up
    from advtui.detect.saved import SavedDetector
    from advtui.explain.base import ExplainerProtocol
    from advtui.labels import LabelFile
    from advtui.models import Classifier
    from advtui.pipeline import Outcome
    from advtui.settings import AttackSettings


@dataclass
class ExplorerState:
    """Everything the explorer shows, in one typed place.

    ``outcomes`` is the result cache (an LRU with a byte budget) keyed by :meth:`key_for`;
    ``verdicts`` the detector's P(adversarial) per result key and variant; ``predictions`` the
    top-k of each (path, model) once classified. ``last_event`` is the last job's result or
    failure and ``last_event_key`` the (image, model, settings) key it is about: the status
    line shows it only while that key is the current one (:attr:`current_event`).
    """

    config: TuiConfig
    settings: AttackSettings
    explainer_name: str
    entries: list[Entry] = field(default_factory=list)
    current: int | None = None
    folder_error: str | None = None
    listed: bool = False  # the walk has finished
    labels: LabelFile | None = None  # --labels FILE, once read
    model: Classifier | None = None
    model_error: str | None = None
    explainer: ExplainerProtocol | None = None
    explainer_error: str | None = None
    detector: SavedDetector | None = None
    outcomes: ResultCache = field(default_factory=ResultCache)
    verdicts: dict[tuple, dict[str, float]] = field(default_factory=dict)
    predictions: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    job: Job | None = None
    last_event: str = ""
    last_event_key: tuple | None = None
    view: str = VIEWS[0]
    saving: bool = False
    status_text: str = ""
    no_color: bool = False  # NO_COLOR: maps in shades of grey with the sign marked

    @classmethod
    def start(cls, config: TuiConfig) -> ExplorerState:
        """The state of a freshly started explorer on ``config``."""
        return cls(
            config=config,
            settings=config.settings,
            explainer_name=registry.explainer_spec(config.explainer).name,
        )

    @property
    def current_entry(self) -> Entry | None:
        if self.current is None or not 0 <= self.current < len(self.entries):
            return None
        return self.entries[self.current]

    def key_for(self, entry: Entry | None, settings: AttackSettings | None = None) -> tuple | None:
        """The result key of ``entry`` under ``settings`` (default the current ones)."""
        if entry is None or self.model is None:
            return None
        return (str(entry.path), self.model.name, (settings or self.settings).key())

    @property
    def current_key(self) -> tuple | None:
        return self.key_for(self.current_entry)

    @property
    def current_outcome(self) -> Outcome | None:
        key = self.current_key
        return None if key is None else self.outcomes.get(key)

    @property
    def current_event(self) -> str:
        """The last event if it is about the current image and settings, else ``""``."""
        if self.last_event_key is None or self.last_event_key != self.current_key:
            return ""
        return self.last_event

    def set_event(self, key: tuple | None, text: str) -> None:
        self.last_event, self.last_event_key = text, key

    @property
    def explainer_label(self) -> str:
        """The chosen explainer's display name (``SHAP``, ``IG`` …)."""
        return registry.explainer_spec(self.explainer_name).label


__all__ = ["ExplorerState"]
