"""The fields of ``results.jsonl``: the ``Row`` TypedDict (advtui/eval/rows.py) is their one
list; docs/eval.md's table documents exactly those, and a run writes exactly those, with the
declared types."""

from __future__ import annotations

import json
import re
import shutil
import types
import typing
from pathlib import Path

from advtui.eval import rows as rows_mod
from advtui.eval.config import EvalConfig
from advtui.eval.loop import run_eval
from advtui.eval.rows import FIELDS, Row
from tests.conftest import make_tiny_classifier

DOCS = Path(__file__).resolve().parent.parent / "docs" / "eval.md"
HEADING = "#### Fields of `results.jsonl`"


def documented_fields(text: str) -> list[str]:
    """The first column of the table under :data:`HEADING`, in order."""
    assert text.count(HEADING) == 1, "docs/eval.md lost its table of results.jsonl fields"
    section = text.split(HEADING, 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    names = [re.match(r"\| `([^`]+)` \|", line) for line in rows]
    assert all(names), rows
    return [m.group(1) for m in names if m]


def test_docs_table_lists_exactly_the_row_fields():
    docs = documented_fields(DOCS.read_text(encoding="utf-8"))
    assert len(docs) == len(set(docs)), "a field is documented twice"
    assert set(FIELDS) - set(docs) == set(), "fields of Row missing from docs/eval.md"
    assert set(docs) - set(FIELDS) == set(), "docs/eval.md documents fields Row lacks"
    assert len(FIELDS) >= 40  # the parse found the real table


def test_the_parser_notices_a_field_missing_from_the_docs():
    text = DOCS.read_text(encoding="utf-8")
    cut = re.sub(r"^\| `l2` \|.*\n", "", text, flags=re.M)
    assert cut != text and "l2" not in documented_fields(cut)
    assert "l2" in FIELDS


def _fits(value, hint) -> bool:
    """``value`` (as read back from JSON) is of type ``hint``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is typing.Any:
        return True
    if origin is typing.Literal:
        return value in args
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if hint is type(None):
        return value is None
    if origin is list:
        return isinstance(value, list) and all(_fits(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(k, str) for k in value)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def test_a_run_writes_every_row_field_with_its_declared_type(samples_dir, tmp_path):
    """Clean, adversarial, unreadable, adaptive and transfer rows together use every field of
    Row, no other, and each value has the type Row declares; every row has the required ones."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in sorted(p.name for p in samples_dir.glob("*.jpg"))[:3]:
        shutil.copy(samples_dir / name, folder / name)
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    tiny = make_tiny_classifier()
    cfg = EvalConfig(
        folder=str(folder), out=str(tmp_path / "out"), views=1, targets=["untargeted"],
        eps=["32/255"], steps=2, nsamples=2, batch_size=4, folds=2, plots=False,
        detectors=["shap-lr"], adaptive=True, transfer_to="tiny-other",
    )  # fmt: skip
    run_eval(cfg, tiny, transfer_model=make_tiny_classifier(seed=3))
    lines = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    hints = typing.get_type_hints(Row, globalns=vars(rows_mod))
    assert set(hints) == set(FIELDS)
    seen: set[str] = set()
    for r in rows:
        assert Row.__required_keys__ <= set(r), r
        assert set(r) <= set(FIELDS), set(r) - set(FIELDS)
        for k, v in r.items():
            assert _fits(v, hints[k]), (k, v, hints[k])
        seen |= set(r)
    variants = {r["variant"] for r in rows}
    statuses = {r["status"] for r in rows}
    assert variants == {"clean", "untargeted", "untargeted+adaptive"}
    assert {"ok", "unreadable"} <= statuses
    assert seen == set(FIELDS), set(FIELDS) - seen
