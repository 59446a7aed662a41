"""The tolerant snapshot comparison accepts the last bits of a number or a colour, nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from .snapnear import cells, differences

SNAPSHOT = (
    Path(__file__).parent
    / "__snapshots__"
    / "test_snapshots"
    / "test_main_screen_at_80x24_after_attack_and_shap.svg"
)


def svg() -> str:
    return SNAPSHOT.read_text(encoding="utf-8")


def test_every_cell_of_the_screen_is_read():
    grid = cells(svg())
    assert {row for row, _ in grid} == set(range(24))
    assert {col for _, col in grid} >= set(range(80))
    assert "".join(grid[(0, c)].char for c in range(2, 8)) == " image"


def test_the_same_screen_has_no_differences():
    assert differences(svg(), svg()) == []


def test_a_number_moved_in_its_last_digits_passes_a_changed_number_fails():
    text = svg()
    numbers = [n for n in re.findall(r"([+-]\d+\.\d{3})(?=&#160;|<)", text)]
    assert numbers, "the screen shows SHAP values with three decimals"
    first = numbers[0]
    assert differences(text, text.replace(first, f"{float(first) + 0.002:+.3f}", 1)) == []
    assert differences(text, text.replace(first, f"{float(first) + 50:+.3f}", 1))


def test_an_exponent_is_not_a_last_digit():
    text = svg()
    assert "+7.54e-05" in text
    assert differences(text, text.replace("+7.54e-05", "+7.55e-05", 1)) == []
    assert differences(text, text.replace("+7.54e-05", "+7.54e-04", 1))


def test_a_colour_a_step_off_passes_a_different_colour_fails():
    text = svg()
    fill = re.search(r'<rect fill="#([0-9a-f]{6})" x="[\d.]+" y="[\d.]+" width="12.2"', text)
    assert fill is not None
    colour = fill.group(1)
    step = f"{(int(colour[:2], 16) ^ 1):02x}" + colour[2:]
    assert differences(text, text.replace(f'fill="#{colour}"', f'fill="#{step}"', 1)) == []
    other = f"{(int(colour[:2], 16) + 128) % 256:02x}" + colour[2:]
    assert differences(text, text.replace(f'fill="#{colour}"', f'fill="#{other}"', 1))


def test_changed_text_fails():
    text = svg()
    assert "images" in text
    found = differences(text, text.replace("images", "imagez", 1))
    assert found and "line 0" in found[0]
