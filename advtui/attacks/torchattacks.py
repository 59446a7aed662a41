"""``ta:NAME``: any torchattacks attack through the same quantisation, re-classification and
records as the native attacks.

torchattacks (an optional extra: ``pip install "advtui[attacks]"``) produces the float iterate;
:class:`~advtui.attacks.base.Attack`'s ``__call__`` does the rest (8-bit rounding inside the
ε-ball of the attack's norm, re-classification, :class:`AttackResult`). The model is our
Classifier, which takes [0, 1] pixels and normalises inside, so torchattacks' own normalisation
stays off.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Sequence
from typing import Any

import torch

from advtui.attacks.base import Attack, ProgressFn
from advtui.errors import AttackError, Cancelled
from advtui.registry import TA_PREFIX, Param, attack_norm, attack_spec, typed_args

INSTALL = 'pip install "advtui[attacks]"'
#: torchattacks arguments our own flags set (when the class takes them)
_FROM_FLAGS = ("eps", "max_epsilon", "alpha", "steps", "seed")
#: AutoAttack/APGDT/FAB attack the 2nd…n_classes-th most likely classes in turn
#: (n_target_classes = n_classes − 1); 10 gives AutoAttack's 9 target classes on ImageNet
_TARGET_CLASSES = 10


def _torchattacks():
    try:
        import torchattacks
    except ImportError:
        raise AttackError(f"ta: attacks need torchattacks: {INSTALL}") from None
    return torchattacks


def ta_class(name: str) -> type:
    """The torchattacks class of ``ta:NAME`` (one line listing them when unknown)."""
    ta = _torchattacks()
    bare = name[len(TA_PREFIX) :] if name.lower().startswith(TA_PREFIX) else name
    from torchattacks.attack import Attack as Base

    found = {
        n: getattr(ta, n)
        for n in dir(ta)
        if isinstance(getattr(ta, n), type) and issubclass(getattr(ta, n), Base)
    }
    names = [n for n in found if n not in ("MultiAttack", "LGV")]  # these wrap other attacks
    cls = found.get(bare) or next((found[n] for n in names if n.lower() == bare.lower()), None)
    if cls is None or cls.__name__ not in names:
        raise AttackError(f"unknown torchattacks attack {bare!r}; choose from {', '.join(names)}")
    return cls


def ta_params(cls: type) -> tuple[Param, ...]:
    """The arguments of a torchattacks class (after ``model``), with their defaults."""
    sig = inspect.signature(cls.__init__)  # type: ignore[misc]
    return tuple(
        Param(p.name, None if p.default is inspect.Parameter.empty else p.default, "")
        for p in list(sig.parameters.values())[2:]
        if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    )


class TorchAttack(Attack):
    """A torchattacks attack (Kim, "Torchattacks: A PyTorch Repository for Adversarial
    Attacks", arXiv:2010.01950) behind the :class:`Attack` interface.

    ``eps``, ``alpha``, ``steps`` and ``seed`` go to the torchattacks arguments of those names
    (``max_epsilon`` for PI-FGSM); ``attack_args`` (``--attack-arg key=value``) set any other
    argument, typed by its default in the class signature. A target maps onto
    ``set_mode_targeted_by_function``; attacks whose ``supported_mode`` has no "targeted"
    refuse one. ``n_classes`` (AutoAttack, APGDT, FAB) defaults to min(10, the model's
    classes): torchattacks uses it only as the number of runner-up classes to target + 1.
    Attacks without an ``eps`` argument (CW, DeepFool …) are unbounded: no ε-ball, only [0, 1]
    and the 8-bit grid. Norm: the registry's (``norm=`` for APGD/APGDT/FAB/AutoAttack/Square).

    Progress counts the model's forward passes (up to ``steps``); ``stop`` is checked before
    every forward pass, so cancelling is prompt.
    """

    name = "ta"

    def __init__(
        self,
        model: torch.nn.Module,
        eps: float | str = 8 / 255,
        alpha: float | str | None = None,
        steps: int = 10,
        early_stop: bool = False,
        seed: int = 0,
        *,
        name: str = "ta:PGD",
        attack_args: Sequence[tuple[str, str]] = (),
    ) -> None:
        spec = attack_spec(name)
        self.ta_cls = ta_class(spec.name)
        self.name = TA_PREFIX + self.ta_cls.__name__  # type: ignore[misc]
        params = ta_params(self.ta_cls)
        self.extra = typed_args(self.name, params, attack_args)
        self.norm = attack_norm(spec, self.extra)
        if "norm" in self.extra:
            self.extra["norm"] = self.norm
        names = {p.name for p in params}
        self.bounded = bool(names & {"eps", "max_epsilon"})
        flags = {k: self.extra.pop(k) for k in _FROM_FLAGS if k in self.extra}
        eps = flags.get("eps", flags.get("max_epsilon", eps))
        alpha, steps = flags.get("alpha", alpha), flags.get("steps", steps)
        seed = flags.get("seed", seed)
        super().__init__(model, eps=eps, alpha=alpha, steps=steps, early_stop=False, seed=seed)
        kwargs: dict[str, Any] = {}
        for key, value in (
            ("eps", self.eps),
            ("max_epsilon", self.eps),
            ("alpha", self.alpha),
            ("steps", self.steps),
            ("seed", self.seed),
        ):
            if key in names:
                kwargs[key] = value
        if "n_classes" in names:
            kwargs["n_classes"] = min(_TARGET_CLASSES, _num_classes(model))
        kwargs.update(self.extra)
        self.kwargs = kwargs
        self._build()  # bad argument values fail now, before any work

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.name}({args})"

    def _build(self):
        try:
            atk = self.ta_cls(self.model, **self.kwargs)
        except (TypeError, ValueError, AssertionError, KeyError) as exc:
            raise AttackError(f"{self.name}: {' '.join(str(exc).split())[:200]}") from None
        if atk.normalization_used is not None:  # our Classifier normalises inside
            raise AttackError(f"{self.name}: torchattacks would normalise twice")
        return atk

    def _run(
        self,
        x: torch.Tensor,
        labels: torch.Tensor,
        target: torch.Tensor | None,
        progress: ProgressFn | None,
        stop: threading.Event | None,
        seeds: Sequence[int] | None = None,
    ) -> tuple[torch.Tensor, int]:
        atk = self._build()
        if target is not None:
            if "targeted" not in atk.supported_mode:
                raise AttackError(f"{self.name} supports only untargeted attacks; drop --target")

            def target_of(inputs: torch.Tensor, _labels: torch.Tensor | None = None):
                if inputs.shape[0] != target.shape[0]:
                    raise AttackError(f"{self.name} asked targets for a part of the batch")
                return target

            atk.set_mode_targeted_by_function(target_of, quiet=True)
        total = max(self.steps, 1)
        calls = [0]
        owner = threading.get_ident()

        def before_forward(_module, _inputs):
            if threading.get_ident() != owner:  # another job's forward on the shared model
                return
            if stop is not None and stop.is_set():
                raise Cancelled(f"{self.name} cancelled")
            calls[0] += 1
            if progress is not None and calls[0] < total:
                progress(calls[0], total)

        hook = self.model.register_forward_pre_hook(before_forward)
        devices = [x.device] if x.device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=devices):  # random starts follow --seed
                torch.manual_seed(self.seed)
                out = atk(x.contiguous(), labels)
        finally:
            hook.remove()
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            raise AttackError(f"{self.name} returned no image batch shaped like its input")
        out = out.detach().float().to(x.device)
        if not bool(torch.isfinite(out).all()):
            raise AttackError(f"{self.name} returned NaN or infinite pixels")
        if progress is not None:
            progress(total, total)
        return self._project(x)(out), self.steps


def _num_classes(model: torch.nn.Module) -> int:
    n = getattr(model, "num_classes", None)
    if isinstance(n, int):
        return n
    names = getattr(model, "class_names", None)
    return len(names) if names else 1000
