"""Snapshots of screens that show a real model's numbers, compared cell by cell with a tolerance.

An attack's and SHAP's last bits depend on the CPU's kernels (AVX2 or AVX-512, Intel or AMD):
the same seeded run gives ``+531.192`` on one machine and ``+531.214`` on another, and a
heatmap cell ``#ecf7ff`` instead of ``#edf7ff``. An exact SVG comparison then fails on a
machine the snapshot was not made on, though nothing a person would see has changed. This
reads both SVGs back into a grid of terminal cells (character, foreground, background, bold)
and accepts a cell when its character is the same, its colours are within a few steps of 255,
and the numbers on its line are within a few units of their last digit — so a moved widget, a
changed label, another class, a missing key or a lost colour still fails.

The stored files are the ones pytest-textual-snapshot writes (``--snapshot-update`` writes them
here too), so both fixtures share ``__snapshots__/``.
"""

from __future__ import annotations

import html
import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

CELL_W = 12.2
LINE_H = 24.4
#: Per channel, out of 255.
COLOUR_TOLERANCE = 24
#: Numbers on a line may differ by this many units of their last shown digit, or by this
#: fraction of their value, whichever is larger.
DIGIT_UNITS = 3
RELATIVE = 5e-3

_STYLE = re.compile(r"\.terminal-(r\d+)\s*\{([^}]*)\}")
_RECT = re.compile(r'<rect fill="(#[0-9a-fA-F]{6})" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"')
_TEXT = re.compile(
    r'<text class="terminal-(r\d+)" x="([\d.]+)" y="[\d.]+" textLength="([\d.]+)" '
    r'clip-path="url\(#terminal-line-(\d+)\)">(.*?)</text>',
    re.S,
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[+-]?\d+)?")


@dataclass
class Cell:
    char: str = " "
    fg: str = ""
    bg: str = ""
    bold: bool = False


def normalise(svg: str) -> str:
    """As pytest-textual-snapshot stores an SVG: without the per-run id in class names."""
    return re.sub(r"\bterminal-\d+-([\w-]+)", r"terminal-\1", svg)


def cells(svg: str) -> dict[tuple[int, int], Cell]:
    """The SVG's terminal cells by (row, column)."""
    styles: dict[str, tuple[str, bool]] = {}
    for name, body in _STYLE.findall(svg):
        fill = re.search(r"fill:\s*(#[0-9a-fA-F]{6})", body)
        styles[name] = (fill.group(1).lower() if fill else "", "bold" in body)
    grid: dict[tuple[int, int], Cell] = {}
    for fill, x, y, width in _RECT.findall(svg):
        row = round((float(y) - 1.5) / LINE_H)
        first = round(float(x) / CELL_W)
        for col in range(first, first + round(float(width) / CELL_W)):
            grid.setdefault((row, col), Cell()).bg = fill.lower()
    for name, x, length, line, content in _TEXT.findall(svg):
        text = html.unescape(content).replace("\xa0", " ")
        first = round(float(x) / CELL_W)
        width = round(float(length) / CELL_W)
        fg, bold = styles.get(name, ("", False))
        # One character per cell when the run's width says so; otherwise (wide characters)
        # the run is kept whole in its first cell.
        parts = list(text) if len(text) == width else [text] + [""] * (width - 1)
        for offset, char in enumerate(parts):
            cell = grid.setdefault((int(line), first + offset), Cell())
            cell.char, cell.fg, cell.bold = char, fg, bold
    return grid


def _channels(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _colours_near(a: str, b: str) -> bool:
    if a == b:
        return True
    if not a or not b:
        return False
    return all(
        abs(p - q) <= COLOUR_TOLERANCE for p, q in zip(_channels(a), _channels(b), strict=True)
    )


def _numbers_near(a: str, b: str) -> bool:
    mantissa, _, exponent = a.partition("e")
    unit = 10.0 ** (int(exponent or 0) - len(mantissa.partition(".")[2]))
    allowed = max(DIGIT_UNITS * unit, RELATIVE * abs(float(a)))
    return abs(float(a) - float(b)) <= allowed


def _lines_near(a: str, b: str) -> bool:
    """Equal but for numbers that are near: same text around them, same count."""
    if a == b:
        return True
    if _NUMBER.split(a) != _NUMBER.split(b):
        return False
    return all(
        _numbers_near(x, y) for x, y in zip(_NUMBER.findall(a), _NUMBER.findall(b), strict=True)
    )


def differences(expected: str, actual: str, limit: int = 12) -> list[str]:
    """What a person would see differ between two screenshots (empty: the same screen)."""
    want, got = cells(expected), cells(actual)
    rows = sorted({row for row, _ in want} | {row for row, _ in got})
    found: list[str] = []
    for row in rows:
        cols = sorted({c for r, c in want if r == row} | {c for r, c in got if r == row})
        line_a = "".join(want.get((row, c), Cell()).char for c in cols)
        line_b = "".join(got.get((row, c), Cell()).char for c in cols)
        if not _lines_near(line_a, line_b):
            found.append(f"line {row}: {line_a.strip()!r} != {line_b.strip()!r}")
        for col in cols:
            a, b = want.get((row, col), Cell()), got.get((row, col), Cell())
            if a.bold != b.bold or not _colours_near(a.fg, b.fg) or not _colours_near(a.bg, b.bg):
                found.append(f"cell {row},{col}: {a} != {b}")
                break
        if len(found) >= limit:
            break
    return found


async def _screenshot(app, terminal_size: tuple[int, int], run_before) -> str:
    async with app.run_test(size=terminal_size) as pilot:
        if run_before is not None:
            result = run_before(pilot)
            if inspect.isawaitable(result):
                await result
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        return app.export_screenshot(title=app.title, simplify=True)


def snapshot_path(request) -> Path:
    """Where pytest-textual-snapshot keeps this test's SVG."""
    node = request.node
    module = Path(node.path)
    return module.parent / "__snapshots__" / module.stem / f"{node.name}.svg"


def make_compare(request) -> Callable[..., bool]:
    import asyncio

    def compare(
        app,
        terminal_size: tuple[int, int],
        run_before: Callable[..., Awaitable[None] | None] | None = None,
    ) -> bool:
        actual = normalise(asyncio.run(_screenshot(app, terminal_size, run_before)))
        path = snapshot_path(request)
        if request.config.getoption("--snapshot-update"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
            return True
        assert path.exists(), f"no snapshot at {path}: run pytest with --snapshot-update"
        expected = path.read_text(encoding="utf-8")
        found = differences(expected, actual)
        if found:
            out = request.getfixturevalue("tmp_path") / f"{path.stem}.actual.svg"
            out.write_text(actual, encoding="utf-8")
            raise AssertionError(
                f"screen differs from {path.name} (actual: {out}):\n" + "\n".join(found)
            )
        return True

    return compare
