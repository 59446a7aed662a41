"""NI-FGSM: MI-FGSM whose gradient is taken at a Nesterov look-ahead point."""

from __future__ import annotations

import torch

from advtui.attacks.mifgsm import MIFGSM


class NIFGSM(MIFGSM):
    """Nesterov Iterative FGSM (Lin, Song, He, Wang & Hopcroft, ICLR 2020, "Nesterov
    Accelerated Gradient and Scale Invariance for Adversarial Attacks", arXiv:1908.06281).

    MI-FGSM that looks ahead: each step takes the gradient at ``x_nes = x' + α·μ·g`` (where
    the accumulated velocity is about to carry the iterate), then accumulates
    ``g ← μ·g + ∇/mean|∇|`` (per image) and moves ``x' ← x' + α·sign(g)``, projected onto
    ``[x₀−ε, x₀+ε] ∩ [0, 1]``. The gradient is normalised by its mean absolute value, as in the
    authors' code and torchattacks' ``NIFGSM`` (the paper writes ‖∇‖₁, which would shrink the
    look-ahead by the 3·H·W values of an image); with ``decay`` μ = 0 it is BIM. Norm: L∞.

    Args: model, eps (default 8/255), alpha (default 2.5·ε/steps), steps (default 10),
    early_stop (default False), decay (momentum μ, default 1.0, as in the paper).
    """

    name = "nifgsm"

    def _grad_point(self, x_adv: torch.Tensor, state: dict[str, torch.Tensor]) -> torch.Tensor:
        g = state.get("g")
        return x_adv if g is None else x_adv + self.decay * self.alpha * g
