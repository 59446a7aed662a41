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

from advtui.attacks import TARGET_MODES, make_attack, select_targets
from advtui.explain import Evidence, Explainer
from advtui.images import atomic_write_bytes, save_png, to_pil
from advtui.render import heatmap_scale, heatmap_with_legend, perturbation_image, shap_png_text
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
    evidence: dict[str, Evidence] = field(default_factory=dict)
    maps: dict[str, np.ndarray] = field(default_factory=dict)  # variant → (H, W) pixel map
    attributions: dict[str, np.ndarray] = field(
        default_factory=dict
    )  # variant → raw (C, h, w) SHAP

    @property
    def shap_scale(self) -> float | None:
        """The one |SHAP| value that maps to full colour in every saved heatmap (None without
        maps): the largest per-map 99.5th percentile, so the clean and adversarial maps compare."""
        if not self.maps:
            return None
        return max(heatmap_scale(m) for m in self.maps.values())

    def to_json(self) -> dict:
        out = {
            "model": self.model,
            "image": self.image,
            "method": self.settings.method,
            "eps": self.settings.eps,
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
        }
        if self.evidence:
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
    attack = make_attack(
        settings.method,
        model,
        eps=settings.eps,
        alpha=settings.alpha,
        steps=settings.steps,
        early_stop=settings.early_stop,
        seed=settings.seed,
        **(attack_kwargs or {}),
    )
    clean_logits, target = None, None
    if settings.target != "untargeted":  # untargeted: the attack's first pass gives them
        clean_logits = model.logits(xb)
        target = select_targets(
            settings.target,
            clean_logits,
            model.class_names,
            seed=settings.seed,
            embeddings=model.class_embeddings() if settings.target == "nearest" else None,
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
        rounding_undid=bool(result.rounding_undid[0]),
        steps_run=result.steps_run,
    )


def explain_outcome(
    explainer: Explainer,
    outcome: Outcome,
    *,
    nsamples: int = 50,
    progress: ProgressFn | None = None,
    stop: threading.Event | None = None,
) -> Outcome:
    """Add SHAP evidence and pixel maps for the clean and the adversarial top classes."""
    xs = torch.stack([outcome.x, outcome.x_adv])
    classes = [outcome.clean_top5[0]["index"], outcome.adv_top5[0]["index"]]
    expl = explainer.explain(xs, classes, nsamples=nsamples, progress=progress, stop=stop)
    maps = expl.pixel_maps(outcome.x.shape[-1])
    outcome.evidence = {"clean": expl.evidence[0], "adversarial": expl.evidence[1]}
    outcome.maps = {"clean": maps[0], "adversarial": maps[1]}
    outcome.attributions = {"clean": expl.attributions[0], "adversarial": expl.attributions[1]}
    return outcome


def save_outcome(outcome: Outcome, out_dir: str | Path) -> list[Path]:
    """Write clean.png, adversarial.png, perturbation.png, SHAP heatmaps and result.json.

    Each heatmap ``shap_<variant>.png`` is the map exactly as :func:`heatmap_image` colours it
    at the shared ``outcome.shap_scale``, in the top-left H×W pixels, with a legend below: the
    class it explains, the colour bar from −scale (against) to +scale (for). The PNG's text
    chunks carry ``advtui:shap_scale`` and ``advtui:map_box`` (crop box "x0 y0 x1 y1"); result.json
    carries ``shap_scale``.

    Every file is written atomically (temp file + rename). Returns the paths written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, img in [
        ("clean.png", to_pil(outcome.x)),
        ("adversarial.png", to_pil(outcome.x_adv)),
        (
            "perturbation.png",
            perturbation_image(outcome.x.numpy(), outcome.x_adv.numpy(), outcome.settings.eps),
        ),
    ]:
        save_png(img, out / name)
        written.append(out / name)
    if outcome.maps:
        scale = outcome.shap_scale  # one scale for every map, so they compare
        for variant, m in outcome.maps.items():
            ev = outcome.evidence.get(variant)
            title = f"class: {ev.label} ({variant})" if ev else variant
            img = heatmap_with_legend(m, scale, title=title, note="SHAP, shared scale")
            path = out / f"shap_{variant}.png"
            save_png(img, path, shap_png_text(scale, m, ev.label if ev else ""))
            written.append(path)
    result = out / "result.json"
    atomic_write_bytes(result, (json.dumps(outcome.to_json(), indent=2) + "\n").encode())
    written.append(result)
    return written


__all__ = [
    "TARGET_MODES",
    "AttackSettings",
    "Outcome",
    "explain_outcome",
    "run_attack",
    "save_outcome",
]
