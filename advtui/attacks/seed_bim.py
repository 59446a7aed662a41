"""The original repository's "BIM", kept to reproduce the paper's numbers (eval --protocol seed)."""

from __future__ import annotations

import torch

from advtui.attacks.base import Attack


class SeedBIM(Attack):
    """The original repository's "BIM" (Saito & Wang's ``generate_integrated_gradients.py``).

    Every step re-perturbs the *clean* image by the full ε along the sign of the gradient
    accumulated over all steps so far (its ``.grad`` was never zeroed), then clamps to
    [0, 1]: ``x_k+1 = clamp(x + d·ε·sign(Σ_i≤k ∇L(x_i)), 0, 1)``, d = +1 untargeted, −1
    targeted. α is unused. The original clamped *normalised* tensors to [0, 1]; we clamp
    pixels, because its normalised clamp altered the clean image too. Output is rounded to
    the 8-bit grid like every engine attack. Norm: L∞.

    Args: model, eps (default 8/255), steps (default 10); ``alpha`` is ignored.
    """

    name = "bim-seed"

    def _step(
        self,
        x: torch.Tensor,
        x_adv: torch.Tensor,
        ascent: torch.Tensor,
        state: dict[str, torch.Tensor],
    ) -> torch.Tensor:
        acc = state.setdefault("acc", torch.zeros_like(x))
        pre = state.get("pre", x)
        acc += ascent * ((pre >= 0) & (pre <= 1))  # clamp passes gradient inside [0, 1]
        state["pre"] = x + self.eps * acc.sign()
        return state["pre"]
