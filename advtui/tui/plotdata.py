"""The plots' data, from an eval run's rows and out-of-fold scores (as histogram.png and
roc.png draw them: advtui.eval.plots), drawn by :mod:`advtui.tui.plots`."""

from __future__ import annotations

import numpy as np
from rich.text import Text

from advtui.eval.browse import RunIndex
from advtui.eval.scores import auc, roc_points
from advtui.tui.plots import Curve, histogram_lines, roc_lines


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
