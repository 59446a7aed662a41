"""Messages posted from worker threads to the App (``post_message`` is thread-safe).

Every job message carries the job's id, and a result carries the (image, model, settings) key
it was computed for, so the App files it under that key and never shows it on another image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types only: the explorer imports neither torch nor PIL at start-up
    from PIL.Image import Image

    from advtui.detect.saved import SavedDetector
    from advtui.explain.base import ExplainerProtocol
    from advtui.labels import LabelFile
    from advtui.models import Classifier
    from advtui.pipeline import Outcome

from textual.message import Message
from textual.notifications import SeverityLevel


@dataclass
class ImageScanned(Message):
    """One file of the folder was loaded (``image`` is a model-size crop) or failed (``error``)."""

    index: int
    image: Image | None = None
    error: str | None = None


@dataclass
class ModelReady(Message):
    model: Classifier


@dataclass
class ModelFailed(Message):
    message: str


@dataclass
class ExplainerReady(Message):
    explainer: ExplainerProtocol
    detector: SavedDetector | None = None
    note: str = ""  # why the detector is missing, if one was asked for


@dataclass
class ExplainerFailed(Message):
    message: str


@dataclass
class Predicted(Message):
    """Clean top-5 of one image, cached by (path, model)."""

    path: str
    model: str
    top5: list[dict]


@dataclass
class JobProgress(Message):
    """A running job advanced; a burst of these collapses into the newest one."""

    job: int
    label: str
    done: int
    total: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, JobProgress) and message.job == self.job


@dataclass
class JobDone(Message):
    job: int
    key: tuple
    outcome: Outcome
    verdicts: dict[str, float] = field(default_factory=dict)
    final: bool = True  # False: the attack half of an attack+SHAP job


@dataclass
class JobFailed(Message):
    job: int
    message: str
    cancelled: bool = False


@dataclass
class Saved(Message):
    folder: str
    files: list[str]
    key: tuple | None = None  # the (image, model, settings) key of the saved result


@dataclass
class SaveFailed(Message):
    message: str


@dataclass
class Notice(Message):
    """Something a worker wants the user to know (shown as a notification)."""

    message: str
    title: str = ""
    severity: SeverityLevel = "warning"


@dataclass
class ListGrew(Message):
    """The walk found more files (drain them from the Listing); a burst collapses into one."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ListGrew)


@dataclass
class LabelsRead(Message):
    """``--labels FILE`` resolved against the model's classes (``error`` if it cannot be)."""

    labels: LabelFile | None  # None when ``error`` says why it cannot be read
    error: str = ""
