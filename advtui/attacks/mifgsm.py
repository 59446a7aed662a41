"""MI-FGSM: BIM with momentum on the L1-normalised gradient."""

from __future__ import annotations

from typing import Any

import torch

from advtui.attacks.base import Attack


class MIFGSM(Attack):
    """Momentum Iterative FGSM (Dong et al., CVPR 2018, "Boosting Adversarial Attacks with
    Momentum", arXiv:1710.06081).

    Each step accumulates a velocity ``g ← μ·g + ∇/mean|∇|`` (the gradient of the attack's
    objective, L1-normalised per image: the paper's ‖∇‖₁ divided by the image's 3·H·W values,
    which leaves every sign(g) as it was) and moves ``x' = x + α·sign(g)``, projected onto
    ``[x₀−ε, x₀+ε] ∩ [0, 1]``. With ``decay`` μ = 0 it is BIM. Norm: L∞.

    Args: model, eps (default 8/255), alpha (default 2.5·ε/steps), steps (default 10),
    early_stop (default False), decay (momentum μ, default 1.0, as in the paper).
    """

    name = "mifgsm"

    def __init__(self, model: torch.nn.Module, *args: Any, decay: float = 1.0, **kwargs: Any):
        super().__init__(model, *args, **kwargs)
        self.decay = float(decay)

    def _step(
        self,
        x: torch.Tensor,
        x_adv: torch.Tensor,
        ascent: torch.Tensor,
        state: dict[str, torch.Tensor],
    ) -> torch.Tensor:
        # ∇/mean|∇| (torchattacks' and the authors' code): ‖∇‖₁ over the image's 3·H·W
        # values scales every term alike, so sign(g) is the same; NI-FGSM's look-ahead uses
        # g's size, and it is this class with that one hook
        mean_abs = ascent.abs().mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-30)
        g = self.decay * state.get("g", torch.zeros_like(ascent)) + ascent / mean_abs
        state["g"] = g
        return x_adv + self.alpha * g.sign()
