"""Shared by the headless commands (a leaf: imports no other command module)."""

from __future__ import annotations

import argparse


def load_model_from_args(args: argparse.Namespace):
    """The model the common model flags name (``--model``, ``--weights``, ``--device`` …)."""
    from advtui.models import load_model

    return load_model(
        args.model,
        weights=args.weights,
        device=args.device,
        input_size=getattr(args, "input_size", None),
        mean=getattr(args, "mean", None),
        std=getattr(args, "std", None),
    )
