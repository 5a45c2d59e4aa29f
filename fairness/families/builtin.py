"""Built-in families: timm VisionTransformer, ResNet and ConvNeXt; Hugging Face
encoder and decoder configs. Each is found from a built model (its class, or a
config with the four transformer sizes), so `timm:vit_small_patch16_224`,
`timm:resnet50` and `hf:bert` need no declaration.

Width lattices follow how these families are scaled in their papers: a ViT or
transformer keeps its head size (64 in ViT-Ti/S/B/L and BERT) and changes the
number of heads, so width is a multiple of the head size; conv widths are
multiples of 8; image sides are multiples of the patch size (ViT) or of 32
(the total stride of ResNet and ConvNeXt).
"""

from __future__ import annotations

from . import register_family
from .base import Family, Knob, Value


def _timm_class(name: str, attribute: str):
    """Matches a model of timm's class `name` (torchvision's ResNet has the same name and other
    arguments), however it was built: timm:NAME or a python: factory returning one."""
    def matches(model, src) -> bool:
        cls = type(model)
        return cls.__name__ == name and cls.__module__.startswith("timm.") and hasattr(model, attribute)

    return matches


def _timm_size(model) -> int:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    return int((cfg.get("input_size") or (3, 224, 224))[1])


# --- timm VisionTransformer ---------------------------------------------------------------


def _vit_read(model) -> dict[str, Value]:
    return {"depth": len(model.blocks), "embed_dim": model.embed_dim,
            "img_size": int(model.patch_embed.img_size[0])}


@register_family("timm VisionTransformer", _timm_class("VisionTransformer", "patch_embed"))
def _vit(model, src, size, seq_len) -> Family:
    return vit_family(model)


def vit_family(model) -> Family:
    head = model.embed_dim // model.blocks[0].attn.num_heads
    patch = int(model.patch_embed.patch_size[0])

    def to_kwargs(v: dict[str, Value]) -> tuple[dict, dict]:
        kwargs = {"depth": v["depth"], "embed_dim": v["embed_dim"], "num_heads": v["embed_dim"] // head}
        size = v["img_size"]
        return {**kwargs, "img_size": size}, {"image_size": (size, size)}

    return Family(
        name="timm VisionTransformer",
        knobs=(Knob("depth", "depth", minimum=1, maximum=96, note="blocks"),
               Knob("embed_dim", "width", multiple_of=head, minimum=head, maximum=16384, flops_power=2,
                    note=f"heads x head size {head}; num_heads follows"),
               Knob("img_size", "input", multiple_of=patch, minimum=2 * patch, maximum=4096, flops_power=2,
                    note=f"a multiple of the patch size {patch}")),
        read=_vit_read, to_kwargs=to_kwargs,
        description=f"depth, embed_dim (head size {head} kept, num_heads = embed_dim / {head}), img_size")


# --- timm ResNet -----------------------------------------------------------------------------


def _resnet_read(model) -> dict[str, Value]:
    layers = tuple(len(getattr(model, f"layer{i}")) for i in range(1, 5))
    channels = tuple(getattr(model, f"layer{i}")[0].conv1.out_channels for i in range(1, 5))
    return {"layers": layers, "channels": channels, "img_size": 224}


def _stage_knobs(depth: str, width: str) -> tuple[Knob, ...]:
    """The knobs of a four-stage convnet with total stride 32 (ResNet, ConvNeXt): blocks per
    stage, stage widths in multiples of 8, and the image side in multiples of the stride."""
    return (Knob(depth, "depth", minimum=1, maximum=64, note="blocks per stage"),
            Knob(width, "width", multiple_of=8, minimum=8, maximum=8192, flops_power=2,
                 note="stage widths, multiples of 8"),
            Knob("img_size", "input", multiple_of=32, minimum=32, maximum=4096, flops_power=2,
                 note="a multiple of the total stride 32"))


@register_family("timm ResNet", _timm_class("ResNet", "layer4"))
def _resnet(model, src, size, seq_len) -> Family:
    return resnet_family(model, size or _timm_size(model))


def resnet_family(model, default_size: int) -> Family:
    def read(m):
        return {**_resnet_read(m), "img_size": default_size}

    def to_kwargs(v: dict[str, Value]) -> tuple[dict, dict]:
        kwargs = {"layers": list(v["layers"]), "channels": tuple(v["channels"]),
                  "stem_width": max(8, v["channels"][0])}  # the stem keeps the first stage's width
        return kwargs, {"image_size": (v["img_size"], v["img_size"])}

    return Family(
        name="timm ResNet",
        knobs=_stage_knobs("layers", "channels"),
        read=read, to_kwargs=to_kwargs,
        description="layers per stage, stage channels (and stem width), image size")


# --- timm ConvNeXt ---------------------------------------------------------------------------


@register_family("timm ConvNeXt", _timm_class("ConvNeXt", "stages"))
def _convnext(model, src, size, seq_len) -> Family:
    return convnext_family(model, size or _timm_size(model))


def convnext_family(model, default_size: int) -> Family:
    def read(m):
        return {"depths": tuple(len(s.blocks) for s in m.stages),
                "dims": tuple(s.blocks[0].conv_dw.out_channels for s in m.stages), "img_size": default_size}

    def to_kwargs(v: dict[str, Value]) -> tuple[dict, dict]:
        return ({"depths": tuple(v["depths"]), "dims": tuple(v["dims"])},
                {"image_size": (v["img_size"], v["img_size"])})

    return Family(
        name="timm ConvNeXt",
        knobs=_stage_knobs("depths", "dims"),
        read=read, to_kwargs=to_kwargs, description="depths, dims, image size")


# --- Hugging Face transformers --------------------------------------------------------------


HF_SIZES = ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size")


@register_family("Hugging Face configs with num_hidden_layers, hidden_size, num_attention_heads, intermediate_size",
                 lambda model, src: all(hasattr(getattr(model, "config", None), k) for k in HF_SIZES))
def _hf(model, src, size, seq_len) -> Family:
    from ..sources import DEFAULT_SEQ_LEN

    return hf_family(model, seq_len or DEFAULT_SEQ_LEN)


def hf_family(model, seq_len: int) -> Family:
    cfg = model.config
    head = cfg.hidden_size // cfg.num_attention_heads
    kv_ratio = cfg.num_attention_heads // (getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads)
    ffn_ratio = cfg.intermediate_size / cfg.hidden_size
    max_pos = getattr(cfg, "max_position_embeddings", None) or 1 << 20

    def read(m):
        c = m.config
        return {"num_hidden_layers": c.num_hidden_layers, "hidden_size": c.hidden_size, "seq_len": seq_len}

    def to_kwargs(v: dict[str, Value]) -> tuple[dict, dict]:
        heads = v["hidden_size"] // head
        kwargs = {"num_hidden_layers": v["num_hidden_layers"], "hidden_size": v["hidden_size"],
                  "num_attention_heads": heads,
                  # the MLP keeps its ratio to the width, rounded to a multiple of 8
                  "intermediate_size": max(8, int(round(ffn_ratio * v["hidden_size"] / 8)) * 8)}
        if kv_ratio > 1:
            kwargs["num_key_value_heads"] = max(1, heads // kv_ratio)
        return kwargs, {"seq_len": v["seq_len"]}

    return Family(
        name=f"Hugging Face {cfg.model_type}",
        knobs=(Knob("num_hidden_layers", "depth", minimum=1, maximum=256, note="layers"),
               Knob("hidden_size", "width", multiple_of=head * kv_ratio, minimum=head * kv_ratio, maximum=65536,
                    flops_power=2, note=f"heads x head size {head}; intermediate_size keeps its ratio "
                                        f"{ffn_ratio:g}"),
               Knob("seq_len", "input", multiple_of=1, minimum=1, maximum=int(max_pos), flops_power=1,
                    note=f"tokens, at most max_position_embeddings={max_pos}")),
        read=read, to_kwargs=to_kwargs,
        description=f"num_hidden_layers, hidden_size (head size {head} kept; intermediate_size "
                    f"{ffn_ratio:g} x hidden_size), seq_len")
