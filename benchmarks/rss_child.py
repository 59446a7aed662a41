"""Run in a fresh process by benchmarks.explain.peak_rss: explain one image, print peak RSS."""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def peak_rss_mb() -> float:
    """Peak RSS of this process in MB: VmHWM, which starts afresh at exec (``ru_maxrss`` keeps
    the parent's high-water mark across fork + exec)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--nsamples", type=int, default=200)
    p.add_argument("--device", default="cpu")
    p.add_argument("--layer")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--shap-default", action="store_true")
    p.add_argument("--threads", type=int)
    a = p.parse_args()
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)

    from advtui.explain import Explainer, background_from_folder
    from advtui.images import find_images, load_tensor
    from advtui.models import load_model

    model = load_model(device=a.device)
    image = find_images(SAMPLES)[0]
    x = load_tensor(image, model.input_size).unsqueeze(0).to(model.device)
    background = background_from_folder(SAMPLES, model.input_size, exclude=[image])
    model.logits(x)
    before = peak_rss_mb()
    t0 = time.perf_counter()
    if a.shap_default:
        import shap

        target = model if a.layer is None else (model, model.get_layer(a.layer))
        shap.GradientExplainer(target, background.to(model.device)).shap_values(
            x, nsamples=a.nsamples, ranked_outputs=1
        )
    else:
        Explainer(model, background, layer=a.layer, batch_size=a.batch_size).explain(
            x, nsamples=a.nsamples
        )
    seconds = time.perf_counter() - t0
    print(json.dumps({"before_mb": before, "peak_mb": peak_rss_mb(), "seconds": seconds}))


if __name__ == "__main__":
    main()
