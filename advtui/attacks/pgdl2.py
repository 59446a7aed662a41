"""PGD in the L2 norm."""

from __future__ import annotations

import torch

from advtui.attacks.base import Attack


class PGDL2(Attack):
    """Projected Gradient Descent in L2 (Madry et al., ICLR 2018, arXiv:1706.06083).

    From a seeded random point of the L2 ball (a uniform direction at radius ε·u), ``steps``
    steps of length α along the L2-normalised gradient, ``x' = x + α·∇/‖∇‖₂`` (per image), each
    projected onto ``‖x' − x₀‖₂ ≤ ε`` ∩ [0, 1]. ``--eps`` is an L2 radius over all 3·H·W
    values in [0, 1] pixel units (e.g. 0.5). Norm: L2.

    Args: model, eps (L2 radius, default 8/255 — pass one, e.g. 0.5), alpha (default
    2.5·ε/steps), steps (default 10), early_stop (default False), seed (default 0).
    """

    name = "pgdl2"

    def _step(
        self,
        x: torch.Tensor,
        x_adv: torch.Tensor,
        ascent: torch.Tensor,
        state: dict[str, torch.Tensor],
    ) -> torch.Tensor:
        l2 = ascent.flatten(1).norm(dim=1).clamp_min(1e-30).view(-1, 1, 1, 1)
        return x_adv + self.alpha * ascent / l2
