"""Enter on an eval row: the photo in the explorer, its attack and explanation reproduced from
the row's seed and the run's settings (docs/eval.md, *Reproduce a row*), and the stored
values beside the explorer's (:class:`RowCheck`), so a mismatch shows.

The explorer's settings become the run's (method, ε, α, steps, early stop, target mode, the
row's ``attack_seed``; samples, layer, background, explainer and its flags), the photo is
selected and ``e`` runs: the same :mod:`advtui.pipeline` calls as ``advtui attack --seed D
--explain``. Crops and flips (``photo.jpg#c80``) are not reproduced: the explorer attacks
the full photo, and says so.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from advtui.eval.browse import RunIndex
from advtui.names import safe_name

if TYPE_CHECKING:
    from advtui.tui.app import AdvtuiApp

#: Explorer config fields an eval run fixes (run.json "fixed" key → TuiConfig field).
EXPLAIN_FIELDS = {
    "nsamples": "nsamples",
    "layer": "layer",
    "local_smoothing": "local_smoothing",
    "background": "background",
    "baseline": "baseline",
    "noise_std": "noise_std",
}


def source_path(run: RunIndex, source: str) -> Path | None:
    """The row's photo: its ``source`` as stored (relative to where eval ran), else relative
    to the run folder's parent or to the run's photo folder."""
    p = Path(source).expanduser()
    folder = Path(str(run.params.get("folder") or "."))
    for cand in (p, run.folder.parent / p, folder / p.name, run.folder.parent / folder / p.name):
        try:
            if cand.is_file():
                return cand
        except OSError:
            continue
    return None


def clean_row(run: RunIndex, i: int, row: dict) -> dict | None:
    """The clean row of row ``i``'s image (its clean evidence), found by the columns."""
    if row.get("variant") == "clean":
        return row
    var = run.column("variant")
    names = run.variants.names
    if "clean" not in names:
        return None
    pos, view = run.column("position"), run.column("view")
    for j in range(len(var)):
        if var[j] == names.index("clean") and pos[j] == pos[i] and view[j] == view[i]:
            other = run.row(j)
            if other.get("image") == row.get("image"):
                return other
    return None


def settings_for(app: AdvtuiApp, run: RunIndex, row: dict):
    """The explorer's AttackSettings for ``row``: the run's method and flags, the row's ε,
    target mode and seed (clean rows: the explorer's ε and target, the row's seed)."""
    from advtui.settings import TARGET_MODES

    fixed = run.fixed
    s = app.state.settings
    changes: dict[str, Any] = {"seed": int(row.get("attack_seed", s.seed))}
    if fixed.get("method"):
        changes["method"] = str(fixed["method"])
    changes["alpha"] = fixed.get("alpha")
    if fixed.get("steps"):
        changes["steps"] = int(fixed["steps"])
    changes["early_stop"] = bool(fixed.get("early_stop", False))
    if row.get("eps") is not None:
        changes["eps"] = float(row["eps"])
    if row.get("variant") in TARGET_MODES:
        changes["target"] = str(row["variant"])
    return s.with_(**changes)


def open_row(app: AdvtuiApp, run: RunIndex, i: int) -> None:
    """Show row ``i`` in the explorer: a :class:`RowCheck` above the status line selects the
    photo, sets the settings and runs attack + explanation once the explorer is ready."""
    row = run.row(i)
    if not row:
        app.say(f"line {i + 1} of results.jsonl is not a result row", title="eval row")
        return
    path = source_path(run, str(row.get("source", "")))
    if path is None:
        app.say(
            f"{row.get('source')}: photo not found (eval ran elsewhere?)",
            title="eval row",
            severity="warning",
        )
        return
    for old in app.query(RowCheck):
        old.remove()
    check = RowCheck(run, i, row, path, clean_row(run, i, row))
    app.screen.mount(check, before=app.query_one("#status"))


def _close(a: float | None, b: float | None, rel: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= rel * max(1e-12, abs(a), abs(b)) or abs(a - b) < 1e-9


class RowCheck(Static):
    """The stored row beside the explorer's result for it; drives the explorer there."""

    DEFAULT_CSS = """
    RowCheck { height: auto; max-height: 9; border: round $accent; padding: 0 1; }
    """

    #: tolerances: probabilities absolute 1e-4, evidence relative 1e-3 (float rounding:
    #: eval classifies in batches, docs/eval.md)
    PROB_TOL = 1e-4
    SHAP_REL = 1e-3

    def __init__(
        self, run: RunIndex, index: int, row: dict, path: Path, clean: dict | None
    ) -> None:
        super().__init__(id="row-check")
        self.run, self.index, self.row, self.path, self.clean = run, index, row, path, clean
        self.step = "waiting for the explorer"
        self.key: tuple | None = None
        self.matches: bool | None = None
        self.notes: list[str] = []
        self.started = False
        self.rows: list[tuple[str, str, str, bool]] = []

    def on_mount(self) -> None:
        self.border_title = Text(
            f"eval row {self.index + 1}: {safe_name(str(self.row.get('image')))}"
        )
        fixed = self.run.fixed
        if self.row.get("view", "full") != "full":
            self.notes.append(
                f"view {safe_name(str(self.row.get('view')))}: the explorer attacks the full photo"
            )
        if fixed.get("protocol") == "seed":
            self.notes.append("--protocol seed rows (its BIM) are not reproduced exactly")
        self._timer = self.set_interval(0.1, self.tick)
        self.show()

    # ------------------------------------------------------------------ driving the explorer
    def tick(self) -> None:
        app: Any = self.app
        if app.state.model is None or not app.state.listed:
            return
        if self.key is None:
            self._select(app)
            return
        outcome = app.state.outcomes.get(self.key)
        if outcome is not None and outcome.evidence:
            if app.state.job is None or app.state.job.key != self.key:
                self._timer.stop()
                self.compare(outcome)
        elif app.state.job is None and app.state.current_key == self.key:
            if self.started:  # the job ended without maps (it failed: the explorer said why)
                self._timer.stop()
                if outcome is not None:
                    self.compare(outcome)
            else:
                self.started = True
                app.action_explain()
        self.show()

    def _select(self, app: Any) -> None:
        from advtui.tui.imagelist import ImageList

        key = str(self.path)
        index = next((k for k, e in enumerate(app.state.entries) if e.key == key), None)
        if index is None:
            target = self.path.resolve()
            index = next(
                (
                    k
                    for k, e in enumerate(app.state.entries)
                    if e.name == self.path.name and Path(e.key).resolve() == target
                ),
                None,
            )
        if index is None:
            self._timer.stop()
            self.step = "the photo is not in this explorer's folder (start `advtui OUT`)"
            self.show()
            return
        model = self.run.fixed.get("model")
        if model and model != app.state.model.name:
            self.notes.append(
                f"the run used model {model}; the explorer runs {app.state.model.name}"
            )
        torch = sys.modules.get("torch")  # loaded with the model
        want, have = self.run.params.get("threads"), torch.get_num_threads() if torch else None
        if want and have and int(want) != have:
            self.notes.append(
                f"the run computed its rows with {want} torch threads, the explorer runs {have} "
                f"(pass --threads {want}: PGD may land elsewhere otherwise)"
            )
        self._configure(app)
        app.state.settings = settings_for(app, self.run, self.row)
        app.query_one(ImageList).highlighted = index
        app.state.current = index
        app.refresh_view()
        self.key = app.state.current_key
        self.step = "attacking and explaining as the run did"

    def _configure(self, app: Any) -> None:
        """The run's explanation settings in the explorer (a new SHAP background if they
        changed)."""
        from advtui import registry

        fixed, cfg = self.run.fixed, app.config
        changed = False
        for key, attr in EXPLAIN_FIELDS.items():
            if key in fixed and getattr(cfg, attr) != fixed[key]:
                setattr(cfg, attr, fixed[key])
                changed = True
        name = str(self.run.params.get("explainer") or "shap")
        if name in registry.EXPLAINERS and name != app.state.explainer_name:
            app.state.explainer_name = name
            changed = True
        if changed:
            app.use_config_explainer()

    # ------------------------------------------------------------------ comparing
    def pairs(self, outcome: Any) -> list[tuple[str, str, str, bool]]:
        """(what, stored, explorer, equal) rows of the comparison."""
        r, out = self.row, []
        adv = r.get("variant") != "clean"
        top = outcome.adv_top5[0] if adv else outcome.clean_top5[0]
        out.append(
            (
                "adversarial class" if adv else "class",
                f"{safe_name(str(r.get('pred_label')))} ({r.get('pred')})",
                f"{safe_name(str(top['label']))} ({top['index']})",
                r.get("pred") == top["index"],
            )
        )
        conf = float(r.get("confidence", math.nan))
        out.append(
            (
                "confidence",
                f"{conf:.6f}",
                f"{top['prob']:.6f}",
                _close(conf, top["prob"], 0) or abs(conf - top["prob"]) <= self.PROB_TOL,
            )
        )
        if adv and r.get("success") is not None:
            out.append(
                (
                    "success",
                    str(r["success"]),
                    str(outcome.success),
                    r["success"] == outcome.success,
                )
            )
        for variant, src in (("clean", self.clean), ("adversarial", r if adv else None)):
            stored = ((src or {}).get("evidence") or {}).get("mean_shap")
            ev = outcome.evidence.get(variant)
            if stored is None or ev is None:
                continue
            mine = float(ev.mean_shap)
            out.append(
                (
                    f"mean SHAP, {variant}",
                    f"{stored:+.4e}",
                    f"{mine:+.4e}",
                    _close(float(stored), mine, self.SHAP_REL),
                )
            )
        return out

    def compare(self, outcome: Any) -> None:
        self.rows = self.pairs(outcome)
        self.matches = all(ok for *_, ok in self.rows)
        self.step = "reproduced: every value matches" if self.matches else "reproduced: MISMATCH"
        self.show()

    def show(self) -> None:
        t = Table.grid(padding=(0, 2))
        t.add_column()
        t.add_column(justify="right")
        t.add_column(justify="right")
        t.add_column()
        r = self.row
        head = Text(
            f"{safe_name(str(r.get('variant')))} ε {r.get('eps_255') or '–'} · seed "
            f"{r.get('attack_seed')} · {self.step}",
            Style(bold=self.matches is not None),
        )
        rows = self.rows
        if rows:
            t.add_row(
                Text("", Style(dim=True)),
                Text("stored", Style(dim=True)),
                Text("explorer", Style(dim=True)),
                "",
            )
            for what, a, b, ok in rows:
                t.add_row(
                    what,
                    a,
                    b,
                    Text(
                        "✓" if ok else "✗ differs",
                        Style(color="#00af00" if ok else "#d70000", bold=not ok),
                    ),
                )
        from rich.console import Group

        notes = [Text(safe_name(n), Style(dim=True)) for n in self.notes]
        self.update(Group(head, t, *notes) if rows else Group(head, *notes))
