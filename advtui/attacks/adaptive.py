"""An adaptive attack on the SHAP detector: PGD that also lowers the detector's logit.

Tramèr, Carlini, Brendel & Mądry 2020 ("On adaptive attacks to adversarial example
defenses"): a detector is only evaluated when the attacker knows it. Here the attacker knows
the fitted SHAP-LR detector (:class:`advtui.detect.saved.SavedDetector`) and each PGD step ascends

    objective(x') − λ · z(x'),   z = w · (q(φ(x')) − μ)/σ + b,

with the two gradients each scaled to mean absolute value 1 per image before they are added
(their raw scales differ by orders of magnitude from model to model, and the signed step keeps
only the sign of each pixel's sum), so λ is their relative weight: λ = 1 weighs fooling the
classifier and fooling the detector equally,

where the objective is the plain attack's (cross-entropy away from the label, or towards the
target), φ the expected-gradients attribution of the current top class (the same estimator as
:class:`advtui.explain.shap.Explainer`, pixel level, against the photo's background) and q its
sorted values sampled at the detector's quantiles (``torch.quantile``: differentiable almost
everywhere). The gradient of z goes *through the attribution* — double back-propagation
(``create_graph=True``) — and is averaged over ``eot`` fresh SHAP draws per step
(expectation over transformation), each of ``nsamples`` samples.

Smooth backward pass. A ReLU network's input gradient is piecewise constant, so the second
derivative the attribution's gradient needs is zero almost everywhere and only the
``x − background`` factor of φ would carry signal. The gradient of z is therefore computed on
a copy of the model whose ReLU/ReLU6 modules are replaced by softplus(β) versions
(EfficientNet-Lite uses ReLU6: relu6(x) ≈ softplus_β(x) − softplus_β(x − 6)); the value of z,
its gradient with respect to φ and the attack's own loss come from the real model (exact φ,
smooth Jacobian of φ). Activations called as functions (``torch.relu`` in ``forward``) cannot be
swapped; :attr:`Adaptive.smoothed` counts the replaced modules.

The base class's loop is unchanged: a seeded random start, projection onto the ε-ball ∩
[0, 1] after every step, 8-bit rounding and re-classification of the result — so every
adaptive example obeys the same L∞/8-bit rules as every other attack.

Args: model, eps (default 8/255), alpha (default 2.5·ε/steps), steps (default 10),
early_stop, seed, detector (a fitted ``Detector``, required), background ((B, 3, H, W) SHAP
background, required before a call), weight λ (default 1), eot (default 1), nsamples (SHAP
samples per draw, default 8), beta (softplus sharpness, default 10), chunk (samples per
double-backward batch, default 4).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from advtui.attacks.pgd import PGD
from advtui.errors import AttackError


class SmoothReLU6(nn.Module):
    """softplus_β(x) − softplus_β(x − 6): ReLU6 with a non-zero second derivative."""

    def __init__(self, beta: float) -> None:
        super().__init__()
        self.beta = float(beta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.softplus(x, self.beta) - F.softplus(x - 6.0, self.beta)


class SmoothReLU(nn.Module):
    """softplus_β(x): ReLU with a non-zero second derivative."""

    def __init__(self, beta: float) -> None:
        super().__init__()
        self.beta = float(beta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.softplus(x, self.beta)


def smooth_copy(model: nn.Module, beta: float) -> tuple[nn.Module, int]:
    """A deep copy of ``model`` with every ReLU/ReLU6 module replaced by its softplus(β)
    surrogate, and how many were replaced (the original is untouched: another thread may be
    using it)."""
    smooth = copy.deepcopy(model).eval()
    count = 0
    for parent in list(smooth.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.ReLU6):
                setattr(parent, name, SmoothReLU6(beta))
                count += 1
            elif isinstance(child, nn.ReLU):
                setattr(parent, name, SmoothReLU(beta))
                count += 1
    for p in smooth.parameters():
        p.requires_grad_(False)
    return smooth, count


class ShapDetectorLogit:
    """The saved SHAP-LR detector's logit as a differentiable function of the image.

    ``value_and_grad(x, cls, rseed)`` draws ``nsamples`` expected-gradients samples as
    :meth:`advtui.explain.shap.Explainer.samples` does (background index and interpolation
    point from ``RandomState(rseed)``), and returns the detector logit z of the exact
    attribution (real model) and ∂z/∂x through the attribution (smooth copy, in chunks: φ is a
    mean over samples, so ∂z/∂x = Σ_chunks VJP(φ_chunk, v) with v = ∂z/∂φ)."""

    def __init__(
        self,
        model: nn.Module,
        smooth: nn.Module,
        detector,
        background: torch.Tensor,
        *,
        nsamples: int = 8,
        chunk: int = 4,
    ) -> None:
        dev = background.device
        self.model, self.smooth = model, smooth
        self.background = background.detach().float()
        self.nsamples, self.chunk = int(nsamples), max(1, int(chunk))
        self.coef = torch.as_tensor(np.asarray(detector.coef), dtype=torch.float64, device=dev)
        self.mean = torch.as_tensor(np.asarray(detector.mean), dtype=torch.float64, device=dev)
        self.scale = torch.as_tensor(np.asarray(detector.scale), dtype=torch.float64, device=dev)
        self.intercept = float(detector.intercept)
        self.q = torch.linspace(0.0, 1.0, int(detector.n_quantiles), dtype=torch.float64)

    def _draws(self, rseed: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.RandomState(rseed)
        draws = [(rng.choice(len(self.background)), rng.uniform()) for _ in range(self.nsamples)]
        index = torch.tensor([i for i, _ in draws], device=self.background.device)
        t = torch.tensor([t for _, t in draws], dtype=torch.float32).view(-1, 1, 1, 1)
        return index, t.to(self.background.device)

    def logit_of_features(self, phi: torch.Tensor) -> torch.Tensor:
        f = torch.quantile(phi.double().flatten(), self.q.to(phi.device))
        return ((f - self.mean) / self.scale) @ self.coef + self.intercept

    def _phi(self, net, x, cls, index, t, *, graph: bool, sums: list | None = None):
        """Σ over chunks of (∂ logit_cls/∂ input) × (x − b), divided by nsamples (``sums``, if
        given, receives Σ_k ∂ logit_cls/∂ input_k)."""
        total: torch.Tensor | None = None
        for s in range(0, self.nsamples, self.chunk):
            idx, tt = index[s : s + self.chunk], t[s : s + self.chunk]
            bg = self.background[idx]
            inputs = tt * x + (1.0 - tt) * bg
            if not graph:
                inputs = inputs.detach().requires_grad_(True)
            out = net(inputs)[:, cls].sum()
            (g,) = torch.autograd.grad(out, inputs, create_graph=graph)
            part = (g * (x - bg)).sum(0)
            total = part if total is None else total + part
            if sums is not None:
                sums.append(g.detach().sum(0, keepdim=True))
        assert total is not None  # nsamples ≥ 1
        return total / float(self.nsamples)

    def value_and_grad(
        self, x: torch.Tensor, cls: int, rseed: int, *, hessian: str = "fd"
    ) -> tuple[float, torch.Tensor]:
        """(z, ∂z/∂x) for one image ``x`` (1, 3, H, W).

        ``hessian="exact"`` differentiates the smooth copy's attribution by double
        back-propagation; ``"fd"`` (default, ~20× cheaper on CPU, where double backward through
        depthwise convolutions is very slow) uses ∂φ/∂x·v = mean_k [g_k ⊙ v + t_k H_k (v ⊙ d_k)]
        with the real model's gradients g_k and the smooth copy's Hessian-vector products
        H_k u by central differences of its gradient (step :data:`FD_STEP` in pixel units)."""
        index, t = self._draws(rseed)
        x = x.detach()
        sums: list[torch.Tensor] = []
        with torch.enable_grad():
            phi = self._phi(self.model, x, cls, index, t, graph=False, sums=sums).detach()
            phi.requires_grad_(True)
            z = self.logit_of_features(phi)
            (v,) = torch.autograd.grad(z, phi)
            if hessian == "fd":
                first = torch.stack(sums).sum(0) * v.float() / float(self.nsamples)
                return float(z.detach()), first + self._fd_hvp(x, cls, index, t, v.float())
            grad = torch.zeros_like(x)
            for s in range(0, self.nsamples, self.chunk):
                xr = x.clone().requires_grad_(True)
                idx, tt = index[s : s + self.chunk], t[s : s + self.chunk]
                bg = self.background[idx]
                inputs = tt * xr + (1.0 - tt) * bg
                out = self.smooth(inputs)[:, cls].sum()
                (g,) = torch.autograd.grad(out, inputs, create_graph=True)
                vjp = ((g * (xr - bg)).sum(0).double() * v).sum() / float(self.nsamples)
                (gx,) = torch.autograd.grad(vjp, xr)
                grad += gx
        return float(z.detach()), grad

    def _fd_hvp(self, x, cls, index, t, v) -> torch.Tensor:
        """mean_k t_k H_k (v ⊙ (x − b_k)) by central differences of the smooth copy's gradient."""
        grad = torch.zeros_like(x)
        for s in range(0, self.nsamples, self.chunk):
            idx, tt = index[s : s + self.chunk], t[s : s + self.chunk]
            bg = self.background[idx]
            inputs = tt * x + (1.0 - tt) * bg
            u = v * (x - bg)  # (n, 3, H, W)
            h = FD_STEP / u.abs().flatten(1).amax(1).clamp_min(1e-30).view(-1, 1, 1, 1)
            both = torch.cat([inputs + h * u, inputs - h * u]).detach().requires_grad_(True)
            n = len(idx)
            (gs,) = torch.autograd.grad(self.smooth(both)[:, cls].sum(), both)
            hvp = (gs[:n] - gs[n:]) / (2.0 * h)
            grad += (tt * hvp).sum(0, keepdim=True)
        return grad / float(self.nsamples)


#: Central-difference step of the Hessian-vector products, in pixel units (max over pixels).
FD_STEP = 1e-3


class Adaptive(PGD):
    """PGD against the classifier *and* the SHAP-LR detector (see the module docstring)."""

    name = "adaptive"

    def __init__(
        self,
        model: nn.Module,
        eps: float | str = 8 / 255,
        alpha: float | str | None = None,
        steps: int = 10,
        early_stop: bool = False,
        seed: int = 0,
        *,
        detector=None,
        background: torch.Tensor | None = None,
        weight: float = 1.0,
        eot: int = 1,
        nsamples: int = 8,
        beta: float = 10.0,
        chunk: int = 4,
    ) -> None:
        super().__init__(model, eps=eps, alpha=alpha, steps=steps, early_stop=early_stop, seed=seed)
        if detector is None:
            raise AttackError("--method adaptive needs a fitted detector (--detector DIR)")
        params = getattr(detector, "params", {}) or {}
        if params.get("layer"):
            raise AttackError(
                f"--method adaptive attacks pixel-level SHAP detectors; this one was fitted on "
                f"layer {params['layer']!r}"
            )
        if float(params.get("local_smoothing") or 0.0) > 0:
            raise AttackError(
                "--method adaptive: detectors fitted with local smoothing are not supported"
            )
        if eot < 1 or nsamples < 1:
            raise AttackError("--eot and the adaptive nsamples must be at least 1")
        if weight < 0:
            raise AttackError(f"--adaptive-weight must be ≥ 0 (got {weight})")
        self.detector = detector
        self.background = background
        self.weight, self.eot, self.nsamples = float(weight), int(eot), int(nsamples)
        self.beta, self.chunk = float(beta), int(chunk)
        self._smooth: nn.Module | None = None
        self.smoothed = 0
        #: detector logit z of the real attribution at each step, per image (last call)
        self.trace: list[list[float]] = []

    def need_background(self) -> torch.Tensor:
        """The SHAP background the attack differentiates through (given at construction)."""
        if self.background is None:
            raise AttackError("the adaptive attack needs a SHAP background (background=…)")
        return self.background

    def __repr__(self) -> str:
        return (
            f"Adaptive(eps={self.eps:.5g}, alpha={self.alpha:.5g}, steps={self.steps}, "
            f"weight={self.weight:g}, eot={self.eot}, nsamples={self.nsamples})"
        )

    def __call__(self, x, target=None, **kwargs):
        if self.background is None:
            raise AttackError("--method adaptive: no SHAP background set")
        self.trace = []
        return super().__call__(x, target, **kwargs)

    def smooth_model(self) -> nn.Module:
        if self._smooth is None:
            self._smooth, self.smoothed = smooth_copy(self.model, self.beta)
        return self._smooth

    def detector_logit(self, x_i: torch.Tensor, cls: int, rseed: int) -> tuple[float, torch.Tensor]:
        """z and ∂z/∂x of one image under one SHAP draw (``rseed``)."""
        f = ShapDetectorLogit(
            self.model,
            self.smooth_model(),
            self.detector,
            self.need_background().to(x_i.device),
            nsamples=self.nsamples,
            chunk=self.chunk,
        )
        return f.value_and_grad(x_i, cls, rseed)

    def _step(self, x, x_adv, ascent, state):
        step = int(state.get("step", torch.tensor(0)))
        state["step"] = torch.tensor(step + 1)
        if self.weight == 0:
            return x_adv + self.alpha * ascent.sign()
        with torch.no_grad():
            classes = self.model(x_adv).argmax(1).tolist()
        grad = torch.zeros_like(x_adv)
        zs = []
        for i, cls in enumerate(classes):
            zk = []
            for k in range(self.eot):
                rseed = (self.seed * 100_003 + 7_919 * step + k) % 2**32
                z, g = self.detector_logit(x_adv[i : i + 1], cls, rseed)
                grad[i : i + 1] += g / self.eot
                zk.append(z)
            zs.append(float(np.mean(zk)))
        self.trace.append(zs)
        return x_adv + self.alpha * (_unit(ascent) - self.weight * _unit(grad)).sign()


def _unit(g: torch.Tensor) -> torch.Tensor:
    """``g`` divided by its mean absolute value per image (zero stays zero)."""
    scale = g.abs().flatten(1).mean(1).clamp_min(1e-30).view(-1, 1, 1, 1)
    return g / scale
