"""Scalable families: which knobs a model has and how its variants are built.

`family_for(model, src, spec)` finds the family of a built model: a timm
VisionTransformer, ResNet or ConvNeXt, a Hugging Face model with the four
transformer sizes in its config, or a family declared in YAML for a
`python:` factory (see generic.py).
"""

from __future__ import annotations

from ..errors import FairnessError
from .base import Family, Knob, Value, size_of
from .builtin import convnext_family, hf_family, resnet_family, vit_family
from .generic import declared_family, load_family_spec

HOW_TO_DECLARE = ("declare one in YAML (--family FILE) with knobs: [{name, role: depth|width|input, "
                  "min, max, multiple_of, base}], see examples/family.yaml")


def family_for(model, src, image_size: tuple[int, int] | None, seq_len: int | None, spec_file: str | None = None
               ) -> Family:
    if spec_file:
        return declared_family(load_family_spec(spec_file))
    kind = type(model).__name__
    size = image_size[0] if image_size else None
    if kind == "VisionTransformer" and hasattr(model, "patch_embed"):
        return vit_family(model)
    if kind == "ResNet" and hasattr(model, "layer4"):
        return resnet_family(model, size or _timm_size(model))
    if kind == "ConvNeXt" and hasattr(model, "stages"):
        return convnext_family(model, size or _timm_size(model))
    cfg = getattr(model, "config", None)
    if cfg is not None and all(hasattr(cfg, k) for k in ("num_hidden_layers", "hidden_size",
                                                         "num_attention_heads", "intermediate_size")):
        from ..sources import DEFAULT_SEQ_LEN

        return hf_family(model, seq_len or DEFAULT_SEQ_LEN)
    what = src.text if src is not None else kind
    raise FairnessError(f"{what}: no known scalable family for {kind} (built in: timm VisionTransformer, "
                        f"ResNet, ConvNeXt; Hugging Face encoders and decoders); {HOW_TO_DECLARE}")


def _timm_size(model) -> int:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    return int((cfg.get("input_size") or (3, 224, 224))[1])


__all__ = ["Family", "Knob", "Value", "size_of", "family_for", "HOW_TO_DECLARE"]
