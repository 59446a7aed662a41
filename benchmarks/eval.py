"""Eval throughput: ``advtui eval`` (its Python API, default corrected protocol) in images/min.

The reference is the same images through the interactive pipeline — ``run_attack`` then
``explain_outcome`` (SHAP of the clean and adversarial top classes), per image, with a
leave-this-photo-out background — which is the work eval cannot avoid per image.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.common import Figure

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def bench_eval(model, n_images: int = 3) -> tuple[list[Figure], float | None]:
    try:
        from advtui.eval.config import EvalConfig
        from advtui.eval.loop import run_eval
    except ImportError as exc:
        return [Figure("eval throughput", None, note=f"advtui eval not built: {exc}")], None
    from advtui.explain import Explainer, background_from_folder
    from advtui.images import find_images, load_tensor
    from advtui.pipeline import AttackSettings, explain_outcome, run_attack

    paths = find_images(SAMPLES)[:n_images]
    settings = AttackSettings()
    t0 = time.perf_counter()
    for path in paths:
        x = load_tensor(path, model.input_size)
        outcome = run_attack(model, x, settings, image=path.name)
        bg = background_from_folder(SAMPLES, model.input_size, exclude=[path])
        explain_outcome(Explainer(model, bg), outcome, nsamples=50)
    ref = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        cfg = EvalConfig(
            folder=str(SAMPLES), out=str(Path(tmp) / "eval"), n=n_images, plots=False, folds=2
        )
        t0 = time.perf_counter()
        note = ""
        try:
            run_eval(cfg, model=model)
        except Exception as exc:  # noqa: BLE001 - the detector may refuse a tiny run
            note = f"eval ended with {type(exc).__name__}: {exc}"[:120]
        ours = time.perf_counter() - t0
    per_min = 60.0 * n_images / ours
    ref_per_min = 60.0 * n_images / ref
    figures = [
        Figure(
            f"eval {n_images} images (s per image)",
            ours / n_images,
            ref / n_images,
            "pipeline attack+explain",
            note=note,
            clock="wall",
        ),
        Figure("eval throughput", per_min, unit="images/min", note=f"pipeline: {ref_per_min:.1f}"),
    ]
    return figures, per_min
