"""Attack latency: advtui's FGSM/BIM/PGD against torchattacks and against the gradient floor.

Ours is the whole ``make_attack(...)(x)`` call: classify the clean batch, run the steps, round
to the 8-bit grid and re-classify. The torchattacks reference is what a user of it runs for
the same untargeted attack: a forward for the labels, then ``atk(x, labels)`` (no rounding,
no re-check), on the same NCHW tensors a caller holds. The floor is ``steps`` × one forward +
backward of the batch in the layout ours runs in (channels-last on CPU).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from benchmarks.common import Figure, Timing, interleaved

EPS, ALPHA, STEPS = 8 / 255, 2 / 255, 10


def grad_step(model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """One forward + backward to the input: the unit of work of every gradient attack."""
    layout = torch.channels_last if x.device.type == "cpu" else torch.contiguous_format
    leaf = x.detach().contiguous(memory_format=layout).requires_grad_(True)  # as ours runs
    loss = F.cross_entropy(model(leaf), labels, reduction="sum")
    (grad,) = torch.autograd.grad(loss, leaf)
    return grad


def torchattacks_reference(model, method: str):
    import torchattacks

    if method == "fgsm":
        return torchattacks.FGSM(model, eps=EPS)
    if method == "bim":
        return torchattacks.BIM(model, eps=EPS, alpha=ALPHA, steps=STEPS)
    return torchattacks.PGD(model, eps=EPS, alpha=ALPHA, steps=STEPS, random_start=True)


def bench_attacks(
    model, images: torch.Tensor, batches=(1, 16), repeats: int = 2
) -> tuple[list[Figure], float | None]:
    """Figures per (method, batch); returns them and the worst ratio against torchattacks."""
    from advtui.attacks import make_attack

    try:
        import torchattacks  # noqa: F401
    except ImportError:
        torchattacks = None
    figures, worst = [], None
    for batch in batches:
        x = images[torch.arange(batch) % len(images)].to(model.device)
        labels = model.logits(x).argmax(1)
        floor_step = interleaved({"fb": lambda x=x, y=labels: grad_step(model, x, y)}, repeats + 1)[
            "fb"
        ]
        for method in ("fgsm", "bim", "pgd"):
            steps = 1 if method == "fgsm" else STEPS
            ours_atk = make_attack(method, model, eps=EPS, alpha=ALPHA, steps=STEPS)
            fns = {"ours": lambda a=ours_atk, x=x: a(x)}
            if torchattacks is not None:
                ref = torchattacks_reference(model, method)

                def run_ref(ref=ref, x=x):
                    with torch.no_grad():
                        y = model(x).argmax(1)
                    return ref(x, y)

                fns["ref"] = run_ref
            t = interleaved(fns, repeats)
            label = f"attack {method}-{steps} batch {batch}"
            if "ref" in t:
                fig = Figure.timed(label, t["ours"], t["ref"], "torchattacks", target=1.0)
                worst = fig.ratio if worst is None else max(worst, fig.ratio)
            else:
                fig = Figure.timed(
                    label, t["ours"], None, note="torchattacks not installed (pip install .[bench])"
                )
            figures.append(fig)
            figures.append(
                Figure.timed(
                    f"{label} vs floor",
                    t["ours"],
                    Timing(steps * floor_step.wall, steps * floor_step.cpu),
                    f"{steps}× fwd+bwd",
                )
            )
    return figures, worst
