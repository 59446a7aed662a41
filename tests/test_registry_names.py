"""No module outside the registry tests an attack, target mode, explainer or detector by its
name: behaviour that differs between them is a field of their spec (DESIGN.md, rule 12)."""

from __future__ import annotations

import ast
from pathlib import Path

from advtui import registry

ROOT = Path(__file__).resolve().parent.parent / "advtui"
NAMES = (
    frozenset(registry.ATTACKS)
    | frozenset(registry.TARGET_MODES)
    | frozenset(registry.EXPLAINERS)
    | frozenset(registry.DETECTORS)
)


def _named(node: ast.AST) -> list[str]:
    """The registry names a comparison operand spells out as string literals."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if node.value in NAMES else []
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [n for e in node.elts for n in _named(e)]
    return []


def name_tests(source: str) -> list[tuple[int, str]]:
    """(line, name) of every ``==``/``!=``/``in``/``not in`` comparison with a literal name
    of an attack, target mode, explainer or detector (``method == "pgd"``, ``t in ("random", "nearest")``,
    ``"nearest" in targets``), and of every literal tuple/list/set that lists two or more of
    them (a second copy of the registry's list)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(_named(node)) >= 2:
            found += [(node.lineno, n) for n in _named(node)]
        if isinstance(node, ast.Compare) and all(
            isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)) for op in node.ops
        ):
            for operand in (node.left, *node.comparators):
                found += [(node.lineno, n) for n in _named(operand)]
    return sorted(set(found))


def test_the_check_finds_the_forms_it_forbids():
    src = 'a = m == "pgd"\nb = t in ("random", "x")\nc = "nearest" in ts\nd = m != "other"\n'
    assert name_tests(src) == [(1, "pgd"), (2, "random"), (3, "nearest")]
    listed = name_tests('MODES = ["untargeted", "runner-up"]\nx = ("pgd",)\n')
    assert listed == [(1, "runner-up"), (1, "untargeted")]


def test_no_module_outside_the_registry_tests_a_registry_name():
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        if path.parent == ROOT / "registry":  # the specs themselves
            continue
        for line, name in name_tests(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(ROOT.parent)}:{line} tests {name!r}")
    assert not offenders, "ask the spec instead: " + "; ".join(offenders)


def _help(command: str, capsys, monkeypatch) -> str:
    from advtui.cli import main

    monkeypatch.setenv("COLUMNS", "10000")  # no wrapping (argparse breaks "bim-seed" at "-")
    assert main([command, "--help"]) == 0
    return " ".join(capsys.readouterr().out.split())


def test_cli_help_lists_what_the_registry_holds(capsys, monkeypatch):
    """--method, --target(s) and --attack-arg help are generated: every attack, every mode
    and every native attack's own keys appear in ``attack --help`` and ``eval --help``."""
    for command, target_flag in (("attack", "--target"), ("eval", "--targets")):
        text = _help(command, capsys, monkeypatch)
        for name, spec in registry.ATTACKS.items():
            assert name in text, (command, name)
            own = ", ".join(p.name for p in spec.params if p.name not in registry.FLAG_PARAMS)
            if own:
                assert f"{name}: {own}" in text, (command, name)
        assert target_flag in text and "--attack-arg" in text
        for mode in registry.TARGET_MODES:
            assert mode in text, (command, mode)


def test_params_with_flags_of_their_own_are_not_attack_args():
    """``--eot``/``--adaptive-weight`` set the adaptive attack's parameters: as
    ``--attack-arg`` they fail in one line (they once reached the class as a second value)."""
    import pytest

    from advtui.attacks import check_attack_args
    from advtui.errors import AttackError

    attack = registry.detector_attack()
    for key in registry.FLAG_PARAMS:
        with pytest.raises(AttackError, match=f"unknown --attack-arg '{key}'"):
            check_attack_args(attack, [(key, "2")])
