"""Probabilities in the explorer: one decimal everywhere, no 100%/0% unless exact."""

from __future__ import annotations

import pytest

from advtui.tui.widgets import pct


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (0.537, "53.7%"),
        (0.05, "5.0%"),
        (0.9994, "99.9%"),
        (0.9995, ">99.9%"),
        (0.99999, ">99.9%"),
        (1.0, "100.0%"),
        (0.0005, "0.1%"),
        (0.0004, "<0.1%"),
        (1e-9, "<0.1%"),
        (0.0, "0.0%"),
    ],
)
def test_pct(p, text):
    assert pct(p) == text
    assert len(pct(p)) <= 6
