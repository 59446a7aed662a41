"""The ImageNet-1k class names and WordNet ids, torch-free: the explorer shows an ImageNet
tree's true classes before the model has loaded, and the default model never imports
torchvision."""

from __future__ import annotations

from functools import lru_cache


def _read(name: str) -> tuple[str, ...]:
    from importlib.resources import files

    return tuple(files("advtui").joinpath(name).read_text(encoding="utf-8").splitlines())


@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names, in class-index order.

    Read from ``advtui/imagenet_classes.txt`` (torchvision's weight metadata, written out once;
    a test checks they agree), so the default model never imports torchvision: that import
    holds the GIL for ~1 s beside the explorer's UI thread while the model loads.
    """
    return _read("imagenet_classes.txt")


@lru_cache(maxsize=1)
def imagenet_wnids() -> tuple[str, ...]:
    """The 1000 ImageNet-1k WordNet ids (``n01440764`` …), in class-index order.

    Read from ``advtui/imagenet_wnids.txt``: the sorted synset ids, the order torchvision's
    ImageFolder gives the full training or validation tree, so index 0 is ``n01440764``
    (tench) and 999 ``n15075141`` (toilet tissue). With them a class folder or a file name
    that starts with a WordNet id names its class even when only some classes are present.
    """
    return _read("imagenet_wnids.txt")


@lru_cache(maxsize=1)
def wnid_index() -> dict[str, int]:
    """WordNet id → ImageNet-1k class index."""
    return {w: i for i, w in enumerate(imagenet_wnids())}


#: The number of ImageNet-1k classes: a model with this many outputs uses its class order.
IMAGENET_CLASSES = 1000
