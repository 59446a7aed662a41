"""SHAP latency and memory: advtui's Explainer against shap's default call and a hand floor.

* ours: ``Explainer(model, background, layer=...).explain(x, nsamples=n)`` (construction
  included), at the per-device default batch size.
* shap default: ``shap.GradientExplainer(model, background).shap_values(x, nsamples=n,
  ranked_outputs=1)`` — shap's default settings (batch_size=50) on the full classifier.
* floor: the same sample points and the same chunks (and memory layout), pre-built, and per
  chunk only one forward + backward to the attributed tensor and the gradient × delta mean —
  what a hand expected-gradients loop cannot avoid.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from benchmarks.common import Figure, interleaved

ROOT = Path(__file__).resolve().parent.parent


def floor_fn(explainer, x: torch.Tensor, cls: int, nsamples: int):
    """A closure computing the hand expected-gradients floor on pre-built samples."""
    from advtui.explain.shap import DRAW_CHUNK, chunk_seed, split_chunks

    model, module = explainer.model, explainer._module
    drawn = [  # the explainer's draws (chunks of at most DRAW_CHUNK), in its gradient batches
        explainer.samples(x, n, chunk_seed(explainer.seed, c))
        for c, n in enumerate(split_chunks(nsamples, DRAW_CHUNK))
    ]
    inputs_all = torch.cat([i for i, _ in drawn])
    delta_all = torch.cat([d for _, d in drawn])
    b = explainer.batch_size
    chunks = [(inputs_all[s : s + b], delta_all[s : s + b]) for s in range(0, len(inputs_all), b)]

    layout = torch.channels_last if x.device.type == "cpu" else torch.contiguous_format

    def run():
        acc = 0.0
        for inputs, delta in chunks:
            inputs = inputs.contiguous(memory_format=layout)  # the same layout as ours
            if module is None:
                leaf = inputs.detach().requires_grad_(True)
                (grad,) = torch.autograd.grad(model(leaf)[:, cls].sum(), leaf)
                acc = acc + (grad * delta).sum(0)
            else:
                seen: list[torch.Tensor] = []
                handle = module.register_forward_hook(lambda m, a, o, seen=seen: seen.append(a[0]))
                try:
                    out = model(inputs.detach().requires_grad_(True))[:, cls].sum()
                finally:
                    handle.remove()
                (grad,) = torch.autograd.grad(out, seen[-1])
                acc = acc + (grad * seen[-1].detach()).sum(0)
        return acc / nsamples

    return run


def shap_default_fn(model, background: torch.Tensor, x: torch.Tensor, layer, nsamples: int):
    import shap

    def run():
        target = model if layer is None else (model, model.get_layer(layer))
        explainer = shap.GradientExplainer(target, background)
        return explainer.shap_values(x, nsamples=nsamples, ranked_outputs=1)

    return run


def bench_explain(
    model,
    background: torch.Tensor,
    x: torch.Tensor,
    cases: list[tuple[str | None, int]],
    repeats: int = 2,
    with_shap: bool = True,
) -> tuple[list[Figure], dict]:
    """Figures per (layer, nsamples); returns them and the headline ratios at nsamples=50."""
    from advtui.explain import Explainer

    figures, headline = [], {}
    for layer, nsamples in cases:
        where = layer or "input"
        explainer = Explainer(model, background, layer=layer)
        cls = int(model.logits(x).argmax(1))
        fns = {
            "ours": lambda layer=layer, n=nsamples: (
                Explainer(model, background, layer=layer).explain(x, nsamples=n).attributions
            ),
            "floor": floor_fn(explainer, x, cls, nsamples),
        }
        if with_shap:
            fns["shap"] = shap_default_fn(model, background, x, layer, nsamples)
        t = interleaved(fns, repeats=max(1, repeats - 1) if nsamples > 50 else repeats)
        label = f"explain {where} ns={nsamples} bs={explainer.batch_size}"
        target = 0.35 if nsamples == 50 else None
        if "shap" in t:
            fig = Figure.timed(label, t["ours"], t["shap"], "shap default", target=target)
            figures.append(fig)
            if nsamples == 50 and layer is None:
                headline["explain_vs_shap_default"] = fig.ratio
        floor = Figure.timed(
            f"{label} vs floor", t["ours"], t["floor"], "hand EG floor", target=1.1
        )
        figures.append(floor)
        if nsamples == 50 and layer is None:
            headline["explain_vs_floor"] = floor.ratio
    return figures, headline


def sweep_batch_sizes(
    model, background, x, sizes=(8, 10, 16, 25, 32, 50), nsamples=(50, 200), layer=None
) -> list[Figure]:
    """Ours at each batch size, as a ratio against the current default (warm, min of 2)."""
    from advtui.explain import Explainer

    default = Explainer(model, background, layer=layer).batch_size
    out = []
    for n in nsamples:
        fns = {
            bs: (
                lambda bs=bs, n=n: Explainer(model, background, layer=layer, batch_size=bs).explain(
                    x, nsamples=n
                )
            )
            for bs in sorted(set(sizes) | {default})
        }
        t = interleaved(fns, repeats=1 if n > 50 else 2)
        for bs in fns:
            out.append(
                Figure.timed(
                    f"sweep {layer or 'input'} ns={n} bs={bs}", t[bs], t[default], f"bs={default}"
                )
            )
    return out


def peak_rss(
    nsamples: int = 200,
    device: str = "cpu",
    shap_default: bool = False,
    layer: str | None = None,
    batch_size: int | None = None,
    threads: int | None = None,
) -> dict:
    """Peak RSS (MB) of a fresh process explaining one sample image, and its RSS before."""
    cmd = [sys.executable, "-m", "benchmarks.rss_child", "--nsamples", str(nsamples)]
    cmd += ["--device", device] + (["--shap-default"] if shap_default else [])
    cmd += ["--layer", layer] if layer else []
    cmd += ["--batch-size", str(batch_size)] if batch_size else []
    cmd += ["--threads", str(threads)] if threads else []
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])
