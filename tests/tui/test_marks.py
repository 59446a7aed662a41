"""The image-list marks the help and docs/tui.md describe are the ones the list shows."""

from __future__ import annotations

from pathlib import Path

from advtui.tui import imagelist
from advtui.tui.screens import MARKS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "tui.md"


def test_help_and_docs_describe_every_mark():
    shown = {
        imagelist.MARK_PENDING,
        imagelist.MARK_FAILED,
        imagelist.MARK_ATTACKED,
        imagelist.MARK_MISSED,
        imagelist.MARK_PLAIN,
    }
    described = {k or imagelist.MARK_PLAIN for k, _ in MARKS}
    assert described == shown
    docs = DOCS.read_text(encoding="utf-8")
    for mark in shown - {imagelist.MARK_PLAIN}:
        assert f"`{mark}`" in docs, mark
    assert "not attacked yet" in docs
    pending = dict(MARKS)[imagelist.MARK_PENDING]
    assert "scan" in pending  # "·" means not read yet, not "not attacked"
