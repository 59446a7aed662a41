"""What every widget should show for the current image: a plain view model, no Textual.

``build_view`` reads the App's state (current entry, cached outcome, running job, view mode)
and returns images, titles and table rows; the App pushes them into the widgets. Derived
pictures (perturbation, heatmaps, overlays) are cached per outcome so moving through the list
or resizing never recomputes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.text import Text

from advtui import registry
from advtui.explain.evidence import Evidence
from advtui.names import safe_name
from advtui.tui.widgets import pct, progress_text

if TYPE_CHECKING:
    from advtui.tui.explorer import ExplorerState

POOLED_SIZE = 28
#: Percentile of |pooled value| that gets full colour (fewer values than a pixel map).
SCALE_PERCENTILE = 99.0
PANELS = ("p-clean", "p-adv", "p-pert", "p-shap-clean", "p-shap-adv")
CACHE_LIMIT = 60


@dataclass
class Panel:
    image: Any = None  # PIL image or None
    message: str = ""
    title: Text = field(default_factory=Text)

    @property
    def titles(self) -> list[Text]:
        """The title and shorter forms of it, longest first: the panel shows the longest that
        fits its width, so words and numbers are dropped whole, never cut."""
        return title_variants(self.title)


@dataclass
class ViewModel:
    panels: dict[str, Panel]
    scale: float | None = None
    legend: Text = field(default_factory=Text)
    clean_top5: list[dict] | None = None
    adv_top5: list[dict] | None = None
    target_index: int | None = None
    confidence_note: str = ""
    evidence: dict[str, Evidence] = field(default_factory=dict)
    verdicts: dict[str, float] = field(default_factory=dict)  # detector's P(adversarial)
    evidence_note: str = ""
    # with a detector: the table's columns clean / plain attack / adaptive attack (see
    # detector_columns); headers name them, placeholders say how to fill an empty one
    evidence_headers: dict[str, str] = field(default_factory=dict)
    evidence_placeholders: dict[str, str] = field(default_factory=dict)
    has_maps: bool = False  # maps exist or SHAP is running for this image


def pool_map(values: np.ndarray, size: int = POOLED_SIZE) -> np.ndarray:
    """Block-average a pixel SHAP map down to about ``size`` pixels a side.

    A terminal panel shows 30–60 pixels a side, and pixel SHAP maps at tens of samples are
    speckled: colouring the full-resolution map and then shrinking the picture averages red
    and blue into pale pink. Averaging the values first (a block's mean is its SHAP mass per
    pixel) shows which regions carry evidence; the colour scale is taken on the pooled maps.
    224-pixel maps become 28×28 (8×8 blocks).
    """
    v = np.asarray(values, dtype=np.float32)
    f = max(1, min(v.shape) // size)
    if f == 1:
        return v
    h, w = (v.shape[0] // f) * f, (v.shape[1] // f) * f
    return v[:h, :w].reshape(h // f, f, w // f, f).mean(axis=(1, 3))


def _safe_rows(rows: list[dict] | None) -> list[dict] | None:
    """Top-k rows with their labels escaped for the terminal (a model may bring its own)."""
    if rows is None:
        return None
    return [r | {"label": safe_name(r["label"])} for r in rows]


def title_variants(title: Text) -> list[Text]:
    """``title`` and shorter forms: its " · "-separated parts dropped from the right, and the
    trailing dim part (probability, note) dropped first."""
    out = [title]
    plain = title.plain
    # drop dim spans (probability, "(press e …)", scale notes) from the end, one at a time
    current = title
    for span in sorted(current.spans, key=lambda sp: -sp.start):
        if span.style == "dim" and span.end == len(current.plain):
            current = current[: span.start]
            current.rstrip()
            out.append(current)
    plain = current.plain
    cut = plain.rfind(" · ")
    while cut > 0:
        current = current[:cut]
        out.append(current)
        cut = current.plain.rfind(" · ")
    return out


def fit_title(variants: list[Text], width: int) -> Text:
    """The longest variant that fits ``width`` cells (the last one if none does)."""
    for v in variants:
        if v.cell_len <= width:
            return v
    return variants[-1]


def _title(name: str, top: dict | None = None, *extras: str) -> Text:
    text = Text(name, style="bold")
    if top is not None:
        text.append(" · ")
        text.append(safe_name(top["label"]))
        text.append(f" {pct(top['prob'])}", style="dim")
    for extra in extras:
        if extra:
            text.append(f" {extra}", style="dim")
    return text


class _Pictures:
    """Derived PIL images of one outcome, computed on first use."""

    def __init__(self, cache: dict, key: tuple, outcome: Any) -> None:
        self.cache, self.key, self.outcome = cache, key, outcome

    def get(self, name: str, make) -> Any:
        k = (self.key, name, bool(self.outcome.maps))
        hit = self.cache.get(k)
        if hit is not None and hit[0] is self.outcome:
            return hit[1]
        if len(self.cache) > CACHE_LIMIT:
            self.cache.clear()
        image = make()
        self.cache[k] = (self.outcome, image)
        return image


def build_view(state: ExplorerState, cache: dict) -> ViewModel:
    """The view model for the explorer's current image (see module docstring)."""
    vm = _build_view(state, cache)
    if state.detector is not None:
        detector_columns(state, vm)
    return vm


def _explained(state: ExplorerState, key: tuple | None) -> Any:
    outcome = None if key is None else state.outcomes.get(key)
    return outcome if outcome is not None and outcome.maps else None


def detector_columns(state: ExplorerState, vm: ViewModel) -> None:
    """Fill ``vm``'s evidence table for a loaded detector: the current image's clean input,
    plain-attack (PGD, BIM …) adversarial and adaptive-attack adversarial, side by side, each
    with the detector's P(adversarial). The plain and adaptive runs are the explained outcomes
    cached at the current settings but the method: with a plain method chosen, that run and
    the adaptive one; with ``adaptive`` chosen, the last explained plain run. A column not run
    (or not explained) yet gets a placeholder saying which keys fill it, one short line per
    table row."""
    key = state.current_key
    vm.evidence, vm.verdicts, vm.evidence_headers, vm.evidence_placeholders = {}, {}, {}, {}
    entry = state.current_entry
    if key is None or entry is None or entry.error is not None:
        return
    path, model, settings = key
    method, rest = settings[0], settings[1:]
    adaptive = registry.detector_attack()
    adaptive_key = (path, model, (adaptive, *rest))
    plain_key = key if not _attacks_detector(method) else None
    if plain_key is None:  # the last explained plain run of this image at these settings
        for k, o in state.outcomes.items():
            if k[:2] == key[:2] and k[2][1:] == rest and not _attacks_detector(k[2][0]) and o.maps:
                plain_key = k
    plain_method = plain_key[2][0] if plain_key is not None else _first_plain(state)
    runs: dict[str, tuple[tuple | None, str]] = {
        "adversarial": (plain_key, plain_method),
        "adaptive": (adaptive_key, adaptive),
    }
    # the columns: the clean image, the plain attack's and the adaptive attack's adversarial
    vm.evidence_headers = {"clean": "clean", "adversarial": safe_name(plain_method.upper())}
    vm.evidence_headers["adaptive"] = "adaptive"
    job = state.job
    for column, (run_key, name) in runs.items():
        outcome = _explained(state, run_key)
        if outcome is None or run_key is None:
            if job is not None and run_key is not None and job.key == run_key:
                hint = "running…"
            elif name == method:
                hint = "press e"
            else:
                # one short line a table row: "press m" / "→ adaptive" / "then e"
                hint = f"press m\n→ {name if _attacks_detector(name) else name.upper()}\nthen e"
            vm.evidence_placeholders[column] = hint
            continue
        e = outcome.evidence["adversarial"]
        vm.evidence[column] = replace(e, label=safe_name(e.label))
        verdict = state.verdicts.get(run_key, {}).get("adversarial")
        if verdict is not None:
            vm.verdicts[column] = verdict
    # the clean input: from the current run if explained, else from either other run
    clean_keys: tuple[tuple | None, ...] = (key, runs["adversarial"][0], adaptive_key)
    for ck in clean_keys:
        outcome = _explained(state, ck)
        if outcome is not None and ck is not None:
            e = outcome.evidence["clean"]
            vm.evidence["clean"] = replace(e, label=safe_name(e.label))
            verdict = state.verdicts.get(ck, {}).get("clean")
            if verdict is not None:
                vm.verdicts["clean"] = verdict
            break
    else:
        vm.evidence_placeholders["clean"] = "press e"
    if not vm.evidence:
        vm.evidence_placeholders = {}  # nothing explained yet: the table shows the note


def _first_plain(state: ExplorerState) -> str:
    """The plain method the method cycle offers first (what ``m`` leads to from adaptive)."""
    from advtui.settings import METHODS

    methods = [m for m in (state.config.methods or METHODS) if not _attacks_detector(m)]
    return methods[0] if methods else registry.DEFAULT_ATTACK


def _attacks_detector(method: str) -> bool:
    """The method attacks the loaded detector (the registry's ``needs_detector``)."""
    return registry.attack_spec(method).needs_detector


def _build_view(state: ExplorerState, cache: dict) -> ViewModel:
    from advtui.images import to_pil
    from advtui.render import heatmap_image, heatmap_scale, overlay, perturbation_image

    panels = {p: Panel() for p in PANELS}
    vm = ViewModel(panels)
    entry = state.current_entry
    if entry is None:
        panels["p-clean"].message = safe_name(state.folder_error or "no image selected")
        vm.confidence_note = ""
        return vm
    key = state.current_key
    outcome = state.current_outcome
    job = state.job
    job_here = job is not None and key is not None and job.key == key
    explaining = job_here and job is not None and job.kind == "explain"
    prediction = None
    if state.model is not None:
        prediction = state.predictions.get((str(entry.path), state.model.name))

    # why the adversarial side is empty
    if entry.error is not None:
        waiting = ""
    elif state.model_error is not None:
        waiting = safe_name(f"model unavailable: {state.model_error}")
    elif state.model is None:
        waiting = "loading model…"
    elif job_here:
        waiting = "attacking… (Esc cancels)"
    else:
        waiting = "press a to attack"

    # clean image
    clean = panels["p-clean"]
    clean_top = (
        outcome.clean_top5[0] if outcome is not None else (prediction[0] if prediction else None)
    )
    clean.title = _title("clean", clean_top)
    if entry.error is not None:
        clean.message = f"✗ {safe_name(entry.error)}"
        clean.title = _title("clean", None, "(cannot load)")
    elif outcome is not None:
        clean.image = None  # filled below (view-dependent)
    elif entry.image is not None:
        clean.image = entry.image
    else:
        clean.message = "loading…"

    adv, pert = panels["p-adv"], panels["p-pert"]
    adv.title = _title("adversarial", outcome.adv_top5[0] if outcome is not None else None)
    pert.title = _title("perturbation")
    shap_c, shap_a = panels["p-shap-clean"], panels["p-shap-adv"]
    # the chosen explainer's label (SHAP, IG …); maps already made say who made them
    name = state.explainer_label
    if outcome is not None and outcome.maps:
        name = getattr(outcome, "explainer_label", name)
    shap_c.title, shap_a.title = _title(f"{name} clean"), _title(f"{name} adversarial")

    if outcome is None:
        adv.message = waiting
        pert.message = "" if entry.error else "—"
        shap_msg = "" if entry.error else f"press e for {name}"
        if explaining:
            shap_msg = f"running {name}… (Esc cancels)"
            vm.has_maps = True
        shap_c.message = shap_a.message = shap_msg
        vm.confidence_note = waiting
        vm.evidence_note = shap_msg
        if entry.error is None:
            vm.legend = Text(
                f"{name} is running…" if vm.has_maps else "press e to attack and explain",
                style="dim",
            )
        vm.clean_top5 = _safe_rows(prediction)
        return vm

    assert key is not None  # an outcome is filed under the current key
    pics = _Pictures(cache, key, outcome)
    x_img = pics.get("x", lambda: to_pil(outcome.x))
    adv_img = pics.get("x_adv", lambda: to_pil(outcome.x_adv))
    pert_img = pics.get(
        "pert",
        lambda: perturbation_image(outcome.x.numpy(), outcome.x_adv.numpy(), outcome.settings.eps),
    )
    clean.image, adv.image, pert.image = x_img, adv_img, pert_img
    pert.title = _title("perturbation", None, outcome.perturbation_title)
    vm.clean_top5, vm.adv_top5 = _safe_rows(outcome.clean_top5), _safe_rows(outcome.adv_top5)
    vm.target_index = outcome.target["index"] if outcome.target else None

    vm.has_maps = bool(outcome.maps) or explaining
    if outcome.maps:
        pooled = pics.get("pooled", lambda: {k: pool_map(m) for k, m in outcome.maps.items()})
        scale = max(heatmap_scale(m, SCALE_PERCENTILE) for m in pooled.values())
        vm.scale = scale
        mono = state.no_color  # NO_COLOR: the sign in shades of grey
        shap_c.image = pics.get("shap_c", lambda: heatmap_image(pooled["clean"], scale, mono=mono))
        shap_a.image = pics.get(
            "shap_a", lambda: heatmap_image(pooled["adversarial"], scale, mono=mono)
        )
        ev = outcome.evidence
        shap_c.title = _title(
            f"{name} clean", {"label": ev["clean"].label, "prob": ev["clean"].prob}
        )
        shap_a.title = _title(
            f"{name} adversarial",
            {"label": ev["adversarial"].label, "prob": ev["adversarial"].prob},
        )
        vm.evidence = {k: replace(e, label=safe_name(e.label)) for k, e in ev.items()}
        vm.verdicts = dict(state.verdicts.get(key, {}))
        f = max(1, min(outcome.maps["clean"].shape) // POOLED_SIZE)
        vm.legend = legend_text(mono, f)
        if state.view == "overlay":
            clean.image = pics.get(
                "ov_c", lambda: overlay(x_img, pooled["clean"], scale=scale, mono=mono)
            )
            adv.image = pics.get(
                "ov_a", lambda: overlay(adv_img, pooled["adversarial"], scale=scale, mono=mono)
            )
    else:
        running = explaining
        note = f"running {name}… (Esc cancels)" if running else f"press e for {name}"
        if state.explainer_error is not None and not running:
            note = safe_name(f"{name} unavailable: {state.explainer_error}")
        shap_c.message = shap_a.message = vm.evidence_note = note
        vm.legend = Text(
            f"{name} is running…" if running else "press e to explain both predictions",
            style="dim",
        )
        if state.view == "overlay" and not running:
            clean.title.append(" (press e for the overlay)", style="dim")
    return vm


def result_summary(outcome: Any) -> str:
    """``success: tabby → guacamole`` or ``failed: still tabby``."""
    adv = outcome.adv_top5[0]["label"]
    clean = outcome.clean_top5[0]["label"]
    if outcome.success:
        return f"success: {clean} → {adv}"
    if outcome.settings.eps == 0:
        return f"no attack (ε = 0): still {adv}"
    note = " (8-bit rounding undid it)" if outcome.rounding_undid else ""
    return f"failed: still {adv}{note}"


def status_line(state: ExplorerState, width: int) -> Text:
    """Model, device, method, ε, steps, target mode │ job progress or the last result.

    The result (or error) is never cut: when the line is too narrow for everything, the model
    and device go first, then the settings get terse; a result longer than the whole line wraps
    onto a second line (the status line grows) instead of being truncated.
    """
    s = state.settings
    model = state.model
    device = str(model.device) if model is not None else state.config.device
    name = safe_name(model.name if model is not None else state.config.model)
    if s.target in registry.TARGET_MODES:
        target = s.target
    elif model is not None and s.target.isdigit():
        target = f"→ {model.label(int(s.target))}"
    else:
        target = f"→ {s.target}"
    target = safe_name(target)
    steps = "1 step" if s.single_step else f"{s.steps} steps"
    settings = Text.assemble(
        (s.method.upper(), "bold cyan"), f" {s.eps_label} · {steps} · ", (target, "cyan")
    )
    terse = Text.assemble(
        (s.method.upper(), "bold cyan"),
        f" {s.eps_label.removeprefix('ε ')}·{s.steps_used} ",
        (target, "cyan"),
    )
    heads = [
        Text.assemble((name, "bold"), f" · {device} │ ", settings, " │ "),
        Text.assemble(settings, " │ "),
        Text.assemble(terse, " │ "),
    ]
    job = state.job
    if model is None and state.model_error is None:
        tail = Text(f"loading model {name}…", "yellow")
    elif state.model_error is not None:
        tail = Text(safe_name(f"model: {state.model_error}"), "bold red")
    elif job is not None:
        tail = Text()
        extra = 0 if job.index == state.current else len(state.entries[job.index].path.name) + 3
        need = len(job.label) + 2 * len(str(job.total)) + 10 + extra
        head = next((h for h in heads if len(h) + need <= width), heads[-1])
        room = width - len(head) - len(job.label) - 2 * len(str(job.total)) - 6 - extra
        tail.append_text(progress_text(job.label, job.done, job.total, max(5, min(20, room))))
        if job.index != state.current:
            tail.append(f" ({safe_name(state.entries[job.index].path.name)})", "dim")
        return head + tail
    else:
        outcome = state.current_outcome
        event = result_summary(outcome) if outcome is not None else state.current_event
        if outcome is None and state.folder_error:
            event = state.folder_error
        style = "green" if event.startswith("success") else "red" if event else "dim"
        tail = Text(safe_name(event or "ready"), style)
    head = next((h for h in heads if len(h) + len(tail) <= width), heads[-1])
    return head + tail


def legend_text(mono: bool, block: int) -> Text:
    """What the maps' colours mean: red/blue, or (``NO_COLOR``) dark/light around mid-grey."""
    tail = f"; both maps share one scale, averaged over {block}×{block}-pixel blocks"
    if mono:  # no colour to name: say what the reader sees
        return Text(
            "dark = evidence for the top class, light = against, mid-grey ≈ none (no colour: "
            "NO_COLOR is set)" + tail
        )
    return Text.assemble(
        ("red", "#ff0051"),
        " = evidence for the top class, ",
        ("blue", "#008bfb"),
        " = against" + tail,
    )
