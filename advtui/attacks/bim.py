from __future__ import annotations

from advtui.attacks.base import Attack


class BIM(Attack):
    """Basic Iterative Method, a.k.a. iterative FGSM (Kurakin, Goodfellow & Bengio, 2016,
    arXiv:1607.02533).

    ``steps`` FGSM steps of size α from the clean image, each one taken from the previous
    iterate and projected onto the L∞ ball ``[x−ε, x+ε] ∩ [0, 1]``. Norm: L∞.

    Args: model, eps (default 8/255), alpha (default 2.5·ε/steps), steps (default 10),
    early_stop (default False).
    """

    name = "bim"
