"""Core modules never import Textual; the CLI entry and the explorer never import torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CORE = [
    "advtui.models",
    "advtui.images",
    "advtui.attacks",
    "advtui.explain.shap",
    "advtui.explain.base",
    "advtui.explain.captum",
    "advtui.detect.saved",
    "advtui.detect.cv",
    "advtui.eval.loop",
    "advtui.eval.report",
    "advtui.render",
    "advtui.pipeline",
]
#: torch-free modules: argparse, the explorer's start-up path and the evidence table read them
TORCH_FREE = [
    "advtui.settings",
    "advtui.registry",
    "advtui.names",
    "advtui.explain.evidence",
    "advtui.detect.saved",
    "advtui.eval.rows",
    "advtui.tui.epsgrid",
    "advtui.tui.tmux",
    "advtui.eval.scores",
    "advtui.eval.browse",
]
PACKAGE = Path(__file__).resolve().parents[1] / "advtui"


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
        "from advtui.tui import view, widgets, pixels, screens, messages, gridscreen, tmux"
    )
    assert "textual" in mods and "advtui.explain.evidence" in mods
    assert "torch" not in mods and "shap" not in mods


def test_building_the_app_from_the_command_line_does_not_import_torch():
    mods = _loaded("from advtui.cli import build_app\nbuild_app([])")
    assert "torch" not in mods


def test_torch_free_modules_stay_torch_free():
    mods = _loaded("; ".join(f"import {m}" for m in TORCH_FREE))
    assert not {"torch", "textual", "shap", "sklearn"} & mods


def test_the_walk_process_imports_neither_numpy_nor_pil():
    """The explorer lists a folder in a child process (``python -m advtui.walk``): it must
    start in tens of ms, so the walker stays free of numpy, PIL and torch."""
    mods = _loaded("import advtui.walk")
    assert not {"numpy", "PIL", "torch", "textual"} & mods


def test_labels_are_known_without_the_experiment():
    """The explorer knows a true class without importing the experiment: the label rules
    (advtui.labels) import neither advtui.eval nor numpy, PIL or torch."""
    mods = _loaded("import advtui.labels, advtui.imagenet, advtui.tui.truths")
    assert not {"numpy", "PIL", "torch", "textual", "advtui.eval"} & mods
    assert not {m for m in mods if m.startswith("advtui.eval")}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def import_graph() -> dict[str, set[str]]:
    """advtui module → the advtui modules it imports, at top level or inside functions (an
    import in a function still runs; only ``if TYPE_CHECKING:`` blocks are left out)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        pending: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
        while pending:
            node = pending.pop()
            if isinstance(node, ast.If) and _is_type_checking(node):
                pending.extend(node.orelse)
                continue
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from advtui.cli import common` imports the submodule; any other name comes
                # from the module itself
                subs = {f"{node.module}.{a.name}" for a in node.names} & modules.keys()
                if node.module in modules and len(subs) < len(node.names):
                    edges.add(node.module)
                edges |= subs
            pending.extend(ast.iter_child_nodes(node))
        graph[name] = edges - {name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_between_advtui_modules():
    graph = import_graph()
    assert "advtui.registry" in graph["advtui.settings"]  # the graph sees real edges
    assert _cycles(graph) == []
