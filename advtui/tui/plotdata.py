"""The plots' screen and data, from an eval run's rows and out-of-fold scores (as
histogram.png and roc.png draw them: advtui.eval.plots), drawn by :mod:`advtui.tui.plots`."""

from __future__ import annotations

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from advtui.eval.browse import RunIndex
from advtui.eval.scores import auc, roc_points
from advtui.tui.plots import Curve, histogram_lines, roc_lines, side_by_side, to_palette


def explainer_label(run: RunIndex) -> str:
    from advtui import registry

    try:
        return registry.explainer_spec(str(run.params.get("explainer") or "shap")).label
    except Exception:  # noqa: BLE001 - an unknown name from another version
        return "SHAP"


def shap_values(run: RunIndex, mode: str, eps: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(clean, adversarial) mean evidence of the top class: every clean row with evidence and
    the ``mode`` rows at ``eps`` with evidence (advtui.eval.plots.shap_groups)."""
    names = run.variants.names
    var, ms = run.column("variant"), run.column("mean_shap")
    n = min(len(var), len(ms))
    var, ms = var[:n], ms[:n]
    has = np.isfinite(ms)
    clean = has & (var == (names.index("clean") if "clean" in names else -2))
    code = run.eps_codes.names.index(eps) if eps in run.eps_codes.names else -2
    adv = has & (var == (names.index(mode) if mode in names else -2))
    adv &= run.column("eps")[:n] == code
    return ms[clean], ms[adv]


def histogram_panel(
    run: RunIndex, mode: str, eps: str | None, width: int, height: int
) -> list[Text]:
    if not run.complete:
        return [Text(mode), Text("indexing rows…")]
    clean, adv = shap_values(run, mode, eps)
    label = explainer_label(run)
    return histogram_lines(
        clean, adv, width, height, title=mode, xlabel=f"mean {label} of the top class"
    )


def curves(run: RunIndex, variant: str, eps: str | None) -> list[Curve] | None:
    """Every detector's curve on block (``eps``, ``variant``); None without that block."""
    b = run.block(eps, variant)
    if b is None:
        return None
    out = []
    caught = b.caught()
    for j, name in enumerate(b.detectors):
        s = b.score[:, j]
        m = np.isfinite(s)
        if m.sum() < 2 or len(np.unique(b.y[m])) < 2:
            out.append(Curve(name, np.zeros(1), np.zeros(1), None, None))
            continue
        fpr, tpr, _ = roc_points(b.y, s)
        y = b.y[m]
        got = caught[m, j]
        point = (float(got[y == 0].mean()), float(got[y == 1].mean()))
        out.append(Curve(name, fpr, tpr, auc(fpr, tpr), point))
    return out


def roc_panel(run: RunIndex, variant: str, eps: str | None, width: int, height: int) -> list[Text]:
    cs = curves(run, variant, eps)
    if cs is None:
        why = "no detector scores (no summary yet)" if not run.blocks else "not cross-validated"
        return [Text(variant), Text(why)]
    return roc_lines(cs, width, height, title=variant)


class PlotScreen(Screen[None]):
    """The evidence histogram or the detectors' ROC curves, one panel per target mode (as
    many side by side as fit; ``m`` pages through the rest)."""

    BINDINGS = [
        Binding("m", "page", "next"),
        Binding("h", "kind('histogram')", "hist"),
        Binding("c", "kind('roc')", "ROC"),
        Binding("escape", "close", "rows", key_display="esc"),
        Binding("q", "quit", "quit"),
    ]

    async def action_quit(self) -> None:
        await self.app.action_quit()

    def __init__(self, run: RunIndex, kind: str, eps: str | None = None) -> None:
        super().__init__()
        self.run, self.kind = run, kind
        self.eps = eps or run.primary_eps
        self.page = 0

    def compose(self) -> ComposeResult:
        yield Static(id="plot")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.call_after_refresh(self.draw)

    def on_resize(self) -> None:
        self.call_after_refresh(self.draw)

    def panels(self) -> list[str]:
        modes = list(self.run.modes)
        return modes + (["pooled"] if self.kind == "roc" and len(modes) > 1 else [])

    def draw(self) -> None:
        plot = self.query_one("#plot", Static)
        width = max(40, self.size.width or self.app.size.width)
        height = max(10, (self.size.height or self.app.size.height) - 2)  # title, footer
        names = self.panels()
        fit = max(1, min(len(names), width // 56)) if names else 1
        start = (self.page * fit) % max(1, len(names)) if names else 0
        shown = names[start : start + fit]
        w = (width - 2 * (len(shown) - 1)) // max(1, len(shown))
        draw = histogram_panel if self.kind == "histogram" else roc_panel
        panels = [draw(self.run, m, self.eps, w, height - 1) for m in shown]
        more = (
            f" · m: next ({start + 1}–{start + len(shown)} of {len(names)})"
            if len(names) > fit
            else ""
        )
        what = (
            "mean-evidence histogram"
            if self.kind == "histogram"
            else "out-of-fold ROC, folds pooled"
        )
        title = Text(f"{what} · ε {self.eps}{more}", Style(dim=True))
        lines = [title, *side_by_side(panels, w)] if panels else [title, Text("(no target modes)")]
        if self.app.console.color_system in ("256", "standard"):
            lines = to_palette(lines)
        plot.update(Text("\n").join(lines))

    def action_page(self) -> None:
        self.page += 1
        self.draw()

    def action_kind(self, kind: str) -> None:
        self.kind, self.page = kind, 0
        self.draw()

    def action_close(self) -> None:
        self.dismiss(None)
