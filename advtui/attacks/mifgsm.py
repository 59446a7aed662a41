"""MI-FGSM: BIM with momentum on the L1-normalised gradient."""

from __future__ import annotations

from typing import Any

import torch

from advtui.attacks.base import Attack


class MIFGSM(Attack):
    """Momentum Iterative FGSM (Dong et al., CVPR 2018, "Boosting Adversarial Attacks with
    Momentum", arXiv:1710.06081).

    Each step accumulates a velocity ``g ← μ·g + ∇/‖∇‖₁`` (the gradient of the attack's
    objective, L1-normalised per image) and moves ``x' = x + α·sign(g)``, projected onto
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
        l1 = ascent.abs().sum(dim=(1, 2, 3), keepdim=True).clamp_min(1e-30)
        g = self.decay * state.get("g", torch.zeros_like(ascent)) + ascent / l1
        state["g"] = g
        return x_adv + self.alpha * g.sign()
