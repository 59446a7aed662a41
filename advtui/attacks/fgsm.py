from __future__ import annotations

from advtui.attacks.base import Attack


class FGSM(Attack):
    """Fast Gradient Sign Method (Goodfellow, Shlens & Szegedy, ICLR 2015, arXiv:1412.6572).

    One step ``x' = clip_[0,1](x ± ε·sign(∇ₓ CE))`` — ascending the loss of the clean prediction
    (untargeted) or descending the loss of the target class (targeted). Norm: L∞.

    Args: model, eps (default 8/255); ``alpha`` and ``steps`` are ignored (α = ε, one step).
    """

    name = "fgsm"
