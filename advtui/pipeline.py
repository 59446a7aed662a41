"""One image through the whole pipeline: attack → explain → result record → files.

The CLI (`advtui attack`) and the TUI (key ``a``, ``e``, ``s``) both call these functions, so
the two faces produce identical results and identical files.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from advtui import registry
from advtui.attacks import TARGET_MODES, applicable_args, make_attack, select_targets
from advtui.explain import Evidence, ExplainerProtocol
from advtui.images import atomic_write_bytes, save_png, to_pil
from advtui.names import json_safe
from advtui.render import (
    heatmap_scale,
    heatmap_with_legend,
    perturbation_gain,
    perturbation_image,
    perturbation_title,
    shap_png_text,
)
from advtui.settings import AttackSettings

ProgressFn = Callable[[int, int], None]


@dataclass
class Outcome:
    """The result of attacking (and optionally explaining) one image."""

    image: str
    model: str
    settings: AttackSettings
    alpha: float
    x: torch.Tensor  # (3, H, W) clean, CPU
    x_adv: torch.Tensor  # (3, H, W) adversarial on the 8-bit grid, CPU
    clean_top5: list[dict]
    adv_top5: list[dict]
    target: dict | None
    success: bool
    linf: float
    rounding_undid: bool
    steps_run: int
    l2: float = 0.0
    l0: int = 0
    evidence: dict[str, Evidence] = field(default_factory=dict)
    maps: dict[str, np.ndarray] = field(default_factory=dict)  # variant → (H, W) pixel map
    attributions: dict[str, np.ndarray] = field(
        default_factory=dict
    )  # variant → raw (C, h, w) attribution
    explainer: str | None = None  # registry name of the method that made maps/evidence

    @property
    def explainer_label(self) -> str:
        """``SHAP``, ``IG`` … — what the panels and files call the maps."""
        return registry.explainer_spec(self.explainer or "shap").label

    @property
    def shap_scale(self) -> float | None:
        """The one |SHAP| value that maps to full colour in every saved heatmap (None without
        maps): the largest per-map 99.5th percentile, so the clean and adversarial maps compare."""
        if not self.maps:
            return None
        return max(heatmap_scale(m) for m in self.maps.values())

    @property
    def perturbation_title(self) -> str:
        """``×16, ‖δ‖∞ = 8/255``: the view's amplification and δ's size in the attack's norm."""
        gain = perturbation_gain(self.x.numpy(), self.x_adv.numpy(), self.settings.eps)
        return perturbation_title(self.settings.norm, self.linf, self.l2, self.l0, gain)

    def to_json(self) -> dict:
        out = {
            "model": self.model,
            "image": self.image,
            "method": self.settings.method,
            "norm": self.settings.norm,
            "eps": self.settings.eps if self.settings.bounded else None,
            "alpha": self.alpha,
            "steps": self.settings.steps_used,
            "steps_run": self.steps_run,
            "target_mode": self.settings.target,
            "target": self.target,
            "seed": self.settings.seed,
            "clean": {"top5": self.clean_top5},
            "adversarial": {"top5": self.adv_top5},
            "success": self.success,
            "rounding_undid_success": self.rounding_undid,
            "linf": self.linf,
            "l2": self.l2,
            "l0": self.l0,
        }
        if self.settings.attack_args:
            out["attack_args"] = dict(self.settings.attack_args)
        if self.evidence:
            out["explainer"] = self.explainer or "shap"
            out["evidence"] = {k: v.to_dict() for k, v in self.evidence.items()}
        if self.maps:
            out["shap_scale"] = self.shap_scale
        return out


def run_attack(
    model,
    x: torch.Tensor,
    settings: AttackSettings,
    *,
    image: str = "",
    progress: ProgressFn | None = None,
    stop: threading.Event | None = None,
    attack_kwargs: dict | None = None,
) -> Outcome:
    """Attack one image ``x`` (3, H, W) in [0, 1] with ``settings``; ``attack_kwargs`` go to
    the attack's constructor (the adaptive attack's detector, background, weight, eot …)."""
    from advtui.models import topk_from_probs

    xb = x.unsqueeze(0) if x.ndim == 3 else x
    if settings.attack_args:  # the keys this method takes (the explorer cycles methods)
        settings = settings.with_(
            attack_args=applicable_args(settings.method, settings.attack_args)
        )
    attack = make_attack(
        settings.method,
        model,
        eps=settings.eps,
        alpha=settings.alpha,
        steps=settings.steps,
        early_stop=settings.early_stop,
        seed=settings.seed,
        attack_args=settings.attack_args,
        **(attack_kwargs or {}),
    )
    clean_logits, target = None, None
    if settings.is_targeted:  # untargeted: the attack's first pass gives them
        clean_logits = model.logits(xb)
        mode = registry.TARGET_MODES.get(settings.target)
        target = select_targets(
            settings.target,
            clean_logits,
            model.class_names,
            seed=settings.seed,
            embeddings=model.class_embeddings() if mode and mode.needs_embeddings else None,
        )
    result = attack(xb, target, progress=progress, stop=stop, clean_logits=clean_logits)
    names = model.class_names
    t = None if target is None else int(target[0])
    return Outcome(
        image=image,
        model=model.name,
        settings=settings,
        alpha=attack.alpha,
        x=result.x[0].detach().cpu(),
        x_adv=result.x_adv[0].detach().cpu(),
        clean_top5=topk_from_probs(result.clean_logits.softmax(1), names, 5)[0],
        adv_top5=topk_from_probs(result.adv_logits.softmax(1), names, 5)[0],
        target=None if t is None else {"index": t, "label": model.label(t)},
        success=bool(result.success[0]),
        linf=float(result.linf[0]),
        l2=float(result.l2[0]),
        l0=int(result.l0[0]),
        rounding_undid=bool(result.rounding_undid[0]),
        steps_run=result.steps_run,
    )


def explain_outcome(
    explainer: ExplainerProtocol,
    outcome: Outcome,
    *,
    nsamples: int = 50,
    progress: ProgressFn | None = None,
    stop: threading.Event | None = None,
) -> Outcome:
    """Add evidence and pixel maps (by ``explainer``: SHAP, IG …) for the clean and the
    adversarial top classes."""
    xs = torch.stack([outcome.x, outcome.x_adv])
    classes = [outcome.clean_top5[0]["index"], outcome.adv_top5[0]["index"]]
    expl = explainer.explain(xs, classes, nsamples=nsamples, progress=progress, stop=stop)
    maps = expl.pixel_maps(outcome.x.shape[-1])
    outcome.evidence = {"clean": expl.evidence[0], "adversarial": expl.evidence[1]}
    outcome.maps = {"clean": maps[0], "adversarial": maps[1]}
    outcome.attributions = {"clean": expl.attributions[0], "adversarial": expl.attributions[1]}
    outcome.explainer = getattr(expl, "method", None) or getattr(explainer, "name", "shap")
    return outcome


def check_out_dir(out_dir: str | Path, flag: str = "--out") -> Path:
    """Create ``out_dir`` if needed and prove it writable (a probe file made and removed), so a
    bad output folder fails before minutes of work, with a reason naming the folder: it
    exists and is not a folder, a folder on its path is a file, read-only, no permission, disk
    full. Raises :class:`~advtui.errors.OutputError`."""
    import errno
    import os
    import tempfile

    from advtui.errors import OutputError
    from advtui.names import safe_name

    out = Path(out_dir).expanduser()
    where = f"{flag} {safe_name(out)}" if flag else safe_name(out)

    def reason(exc: OSError) -> str:
        if exc.errno in (errno.EEXIST, errno.ENOTDIR):
            return "exists and is not a folder (or a folder on its path is a file)"
        if exc.errno == errno.EROFS:
            return "read-only file system"
        if exc.errno in (errno.EACCES, errno.EPERM):
            return "permission denied (cannot write there)"
        if exc.errno == errno.ENOSPC:
            return "no space left on the device"
        return (exc.strerror or type(exc).__name__).lower()

    if out.exists() and not out.is_dir():
        raise OutputError(f"{where}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".advtui-write-check.", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{where}: {reason(exc)}") from None
    return out


def save_outcome(outcome: Outcome, out_dir: str | Path) -> list[Path]:
    """Write clean.png, adversarial.png, perturbation.png, the heatmaps and result.json.

    Each heatmap ``<explainer>_<variant>.png`` (``shap_clean.png``, ``ig_clean.png`` …) is the map exactly as :func:`heatmap_image` colours it
    at the shared ``outcome.shap_scale``, in the top-left H×W pixels, with a legend below: the
    class it explains, the colour bar from −scale (against) to +scale (for). The PNG's text
    chunks carry ``advtui:shap_scale`` and ``advtui:map_box`` (crop box "x0 y0 x1 y1"); result.json
    carries ``shap_scale``.

    The set is whole or absent (:func:`advtui.outputs.write_set`): it is written into a
    temporary folder and swapped in at the end, so a kill leaves the previous set or the new
    one, never a mix. Returns the paths written. The folder is checked first (:func:`check_out_dir`); a write that still fails raises an
    :class:`~advtui.errors.OutputError` naming the folder, never the temp file.
    """
    from advtui.outputs import save_set

    out = check_out_dir(out_dir, flag="")
    return save_set(out, lambda staging: _write_outcome(outcome, staging), owned=OUTCOME_FILES)


def _outcome_files() -> frozenset[str]:
    from advtui.registry import EXPLAINERS

    maps = {f"{e}_{v}.png" for e in EXPLAINERS for v in ("clean", "adversarial")}
    return frozenset({"clean.png", "adversarial.png", "perturbation.png", "result.json"} | maps)


#: every file a :func:`save_outcome` set may hold (those a new set lacks go with the swap)
OUTCOME_FILES = _outcome_files()


def _write_outcome(outcome: Outcome, out: Path) -> list[Path]:
    written = []
    pert = perturbation_image(outcome.x.numpy(), outcome.x_adv.numpy(), outcome.settings.eps)
    for name, img, text in [
        ("clean.png", to_pil(outcome.x), None),
        ("adversarial.png", to_pil(outcome.x_adv), None),
        ("perturbation.png", pert, {"advtui:perturbation": outcome.perturbation_title}),
    ]:
        save_png(img, out / name, text)
        written.append(out / name)
    if outcome.maps:
        scale = outcome.shap_scale  # one scale for every map, so they compare
        assert scale is not None  # maps exist
        stem = outcome.explainer or "shap"
        for variant, m in outcome.maps.items():
            ev = outcome.evidence.get(variant)
            title = f"class: {ev.label} ({variant})" if ev else variant
            note = f"{outcome.explainer_label}, shared scale"
            img = heatmap_with_legend(m, scale, title=title, note=note)
            path = out / f"{stem}_{variant}.png"
            save_png(img, path, shap_png_text(scale, m, ev.label if ev else ""))
            written.append(path)
    result = out / "result.json"
    atomic_write_bytes(result, (json.dumps(json_safe(outcome.to_json()), indent=2) + "\n").encode())
    written.append(result)
    return written


__all__ = [
    "TARGET_MODES",
    "AttackSettings",
    "Outcome",
    "check_out_dir",
    "explain_outcome",
    "run_attack",
    "save_outcome",
]
