"""The ImageNet-1k class names, torch-free: the explorer shows an ImageNet tree's true
classes before the model has loaded, and the default model never imports torchvision."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names, in class-index order.

    Read from ``advtui/imagenet_classes.txt`` (torchvision's weight metadata, written out once;
    a test checks they agree), so the default model never imports torchvision: that import
    holds the GIL for ~1 s beside the explorer's UI thread while the model loads.
    """
    from importlib.resources import files

    text = files("advtui").joinpath("imagenet_classes.txt").read_text(encoding="utf-8")
    return tuple(text.splitlines())
