"""Scalable families: which knobs a model has and how its variants are built.

`family_for(model, src, spec)` finds the family of a built model in a registry
(`register_family(name, matches)`, filled by builtin.py: timm VisionTransformer,
ResNet, ConvNeXt and Swin, Hugging Face models with the four transformer sizes in their
config; timm_mbconv.py: timm EfficientNet and MobileNetV3; torchvision.py: torchvision's
ResNet, VisionTransformer, ConvNeXt, EfficientNet and MobileNetV3), or takes a family declared in YAML for a `python:` factory (generic.py).
"""

from __future__ import annotations

from .base import Family, Knob, Value, size_of
from .generic import declared_family, load_family_spec
from . import registry
from .registry import HOW_TO_DECLARE, NoFamily, register_family
from . import builtin, timm_mbconv, torchvision  # noqa: E402,F401  the built-in families register themselves


def family_for(model, src, image_size: tuple[int, int] | None, seq_len: int | None, spec_file: str | None = None
               ) -> Family:
    if spec_file:
        return declared_family(load_family_spec(spec_file))
    for r in registry.REGISTRY:
        if r.matches(model, src):
            return r.build(model, src, image_size[0] if image_size else None, seq_len)
    kind = f"{type(model).__module__}.{type(model).__name__}"
    what = src.text if src is not None else kind
    raise NoFamily(f"{what}: no known scalable family for {kind} (built in: "
                        f"{', '.join(r.name for r in registry.REGISTRY)}); {HOW_TO_DECLARE}")


__all__ = ["Family", "Knob", "Value", "NoFamily", "size_of", "family_for", "register_family", "HOW_TO_DECLARE",
           "builtin", "timm_mbconv", "torchvision"]
