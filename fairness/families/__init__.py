"""Scalable families: which knobs a model has and how its variants are built.

`family_for(model, src, spec)` finds the family of a built model in a registry
(`register_family(name, matches)`, filled by builtin.py: timm VisionTransformer,
ResNet, ConvNeXt and Swin, Hugging Face models with the four transformer sizes in their
config; timm_mbconv.py: timm EfficientNet and MobileNetV3; torchvision.py: torchvision's
ResNet, VisionTransformer, ConvNeXt, EfficientNet and MobileNetV3; timm_generic.py, registered last:
any other timm model from its constructor's own depth and width arguments), or takes a family
declared in YAML for a `python:` factory (generic.py).
"""

from __future__ import annotations

from .base import Family, Knob, Value, size_of
from .generic import declared_family, load_family_spec
from . import registry
from .registry import HOW_TO_DECLARE, NoFamily, register_family
from . import builtin, timm_mbconv, torchvision  # noqa: E402,F401  the built-in families register themselves
from . import timm_generic  # noqa: E402,F401  last: it takes any timm model the specific families did not


# Models known to have no built-in family, and why (issue 31, item 10): said with "no family".
NOT_BUILT_IN = {
    "torchvision.models.swin_transformer.SwinTransformer":
        "torchvision's swin_t/s/b entry points fix embed_dim and depths (get_model('swin_t', depths=...) is refused "
        "with 'multiple values for keyword argument'), and no family rebuilds them from the class yet; "
        "timm:swin_tiny_patch4_window7_224, the same architecture, has one",
    "clip": "CLIP is two towers, its sizes in text_config and vision_config; a family that scales one tower "
            "changes a different model than the one compared, so it is left to a YAML family for a python: factory",
    "whisper": "Whisper names its sizes encoder_layers, decoder_layers, d_model, encoder_ffn_dim, none of the "
               "Hugging Face field sets the built-in families read",
    "mamba": "Mamba has no attention heads or MLP (its sizes are num_hidden_layers, hidden_size, state_size, "
             "expand), so no transformer field set fits it",
}


def family_for(model, src, image_size: tuple[int, int] | None, seq_len: int | None, spec_file: str | None = None
               ) -> Family:
    if spec_file:
        return declared_family(load_family_spec(spec_file))
    for r in registry.REGISTRY:
        if r.matches(model, src):
            return r.build(model, src, image_size[0] if image_size else None, seq_len)
    kind = f"{type(model).__module__}.{type(model).__name__}"
    what = src.text if src is not None else kind
    why = NOT_BUILT_IN.get(kind) or NOT_BUILT_IN.get(getattr(getattr(model, "config", None), "model_type", None))
    if why:
        raise NoFamily(f"{what}: no family for {kind}: {why}; {HOW_TO_DECLARE}")
    raise NoFamily(f"{what}: no known scalable family for {kind} (built in: "
                        f"{', '.join(r.name for r in registry.REGISTRY)}); {HOW_TO_DECLARE}")


__all__ = ["Family", "Knob", "Value", "NoFamily", "size_of", "family_for", "register_family", "HOW_TO_DECLARE",
           "builtin", "timm_mbconv", "torchvision", "timm_generic"]
