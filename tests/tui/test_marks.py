"""The image-list marks the help and docs/tui.md describe are the ones the list shows."""

from __future__ import annotations

from pathlib import Path

from advtui.tui import widgets
from advtui.tui.screens import MARKS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "tui.md"


def test_help_and_docs_describe_every_mark():
    shown = {
        widgets.MARK_PENDING,
        widgets.MARK_FAILED,
        widgets.MARK_ATTACKED,
        widgets.MARK_MISSED,
        widgets.MARK_PLAIN,
    }
    described = {k or widgets.MARK_PLAIN for k, _ in MARKS}
    assert described == shown
    docs = DOCS.read_text(encoding="utf-8")
    for mark in shown - {widgets.MARK_PLAIN}:
        assert f"`{mark}`" in docs, mark
    assert "not attacked yet" in docs
    pending = dict(MARKS)[widgets.MARK_PENDING]
    assert "scan" in pending  # "·" means not read yet, not "not attacked"
