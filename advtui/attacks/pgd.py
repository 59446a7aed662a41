from __future__ import annotations

from advtui.attacks.base import Attack


class PGD(Attack):
    """Projected Gradient Descent (Madry et al., ICLR 2018, arXiv:1706.06083).

    BIM started from a uniformly random point of the L∞ ball (seeded), then ``steps`` signed
    gradient steps of size α, each projected onto ``[x−ε, x+ε] ∩ [0, 1]``. Norm: L∞.

    Args: model, eps (default 8/255), alpha (default 2.5·ε/steps), steps (default 10),
    early_stop (default False), seed (default 0).
    """

    name = "pgd"
