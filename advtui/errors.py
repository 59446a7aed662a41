"""Typed errors with one-line messages a user can act on.

Core modules raise these; the CLI prints ``str(err)`` and exits 2, the TUI shows it as a
notification and keeps going.
"""

from __future__ import annotations


class AdvtuiError(Exception):
    """Base class: every subclass carries a one-line, user-facing message."""

    def __str__(self) -> str:  # never let a multi-line message through
        return " ".join(super().__str__().split())


class ImageError(AdvtuiError):
    """An image (or a folder of images) cannot be used."""


class ModelError(AdvtuiError):
    """A model cannot be built or its weights cannot be loaded."""


class AttackError(AdvtuiError):
    """Attack parameters or targets are invalid."""


class FlagError(AttackError):
    """A flag's value is outside its range (:data:`advtui.settings.FLAG_RANGES`); an
    AttackError because ``parse_fraction`` always raised that for a bad ε or α."""


class ExplainError(AdvtuiError):
    """SHAP explanation cannot be computed with these settings."""


class OutputError(AdvtuiError):
    """An output folder cannot be created or written (named in the message, never a temp file)."""


class Cancelled(AdvtuiError):
    """A long job was stopped through its ``stop`` event."""

    def __init__(self, message: str = "cancelled") -> None:
        super().__init__(message)


class DetectorError(AdvtuiError):
    """A detector cannot be fitted, saved or loaded."""


class LabelError(AdvtuiError):
    """A labels file cannot be used as it is (a class not named exactly, two classes for one
    name, a line without its columns)."""
