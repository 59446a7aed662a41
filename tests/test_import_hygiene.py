"""Core modules never import Textual; the CLI entry and the explorer never import torch."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "advtui.models",
    "advtui.images",
    "advtui.attacks",
    "advtui.explain",
    "advtui.render",
    "advtui.pipeline",
]


def _loaded(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(out.stdout.split())


def test_core_does_not_import_textual():
    mods = _loaded("; ".join(f"import {m}" for m in CORE))
    assert "torch" in mods
    assert not {m for m in mods if m == "textual" or m.startswith("textual.")}


def test_cli_module_is_light():
    mods = _loaded("import advtui.cli")
    assert "torch" not in mods and "textual" not in mods and "shap" not in mods


def test_the_tui_package_does_not_import_torch_or_shap():
    """The explorer's first frame must not wait for torch: it is imported inside workers only."""
    mods = _loaded(
        "from pathlib import Path\n"
        "from advtui.tui.app import AdvtuiApp, TuiConfig\n"
        "from advtui.tui import view, widgets, pixels, screens, messages"
    )
    assert "textual" in mods and "advtui.evidence" in mods
    assert "torch" not in mods and "shap" not in mods


def test_building_the_app_from_the_command_line_does_not_import_torch():
    mods = _loaded("from advtui.cli import build_app\nbuild_app([])")
    assert "torch" not in mods
