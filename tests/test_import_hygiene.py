"""Core modules never import Textual; the CLI entry imports neither Textual nor torch."""

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
