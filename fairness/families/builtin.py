"""Built-in families: timm VisionTransformer, ResNet, ConvNeXt, SwinTransformer, RegNet and
MLP-Mixer; Hugging Face configs by their field names (BERT-like, GPT-2, T5 and Switch,
DistilBERT). Each
registers itself (register_family) and is found from a built model (its class, or
its config's fields), so `timm:vit_small_patch16_224`, `timm:resnet50`, `hf:bert`,
`hf:gpt2` and `hf:t5` need no declaration.

Width lattices follow how these families are scaled in their papers: a ViT or
transformer keeps its head size (64 in ViT-Ti/S/B/L and BERT) and changes the
number of heads, so width is a multiple of the head size; conv widths are
multiples of 8; image sides are multiples of the patch size (ViT) or of 32
(the total stride of ResNet and ConvNeXt).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .registry import register_family
from .base import Family, Knob, Value


def _timm_class(name: str, attribute: str):
    """Matches a model of timm's class `name` (torchvision's ResNet has the same name and other
    arguments), however it was built: timm:NAME or a python: factory returning one."""
    def matches(model, src) -> bool:
        cls = type(model)
        return cls.__name__ == name and cls.__module__.startswith("timm.") and hasattr(model, attribute)

    return matches


def timm_input_size(model) -> int:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    return int((cfg.get("input_size") or (3, 224, 224))[1])


# --- timm VisionTransformer ---------------------------------------------------------------


def _vit_read(model) -> dict[str, Value]:
    return {"depth": len(model.blocks), "embed_dim": model.embed_dim,
            "img_size": int(model.patch_embed.img_size[0]), "mlp_hidden": model.blocks[0].mlp.fc1.out_features}


def hidden_knob(name: str, what: str, base: int, width: str) -> Knob:
    """An MLP's hidden size: a width knob in multiples of 8 (of 1 where the baseline's is not one)
    that follows the width (its ratio kept), and the fine trim of every strategy."""
    m = 8 if base % 8 == 0 else 1
    return Knob(name, "width", multiple_of=m, minimum=m, maximum=1 << 20, flops_power=2, follows=width,
                note=f"{what}, multiples of {m}: scaled with {width}, and the fine trim")


@register_family("timm VisionTransformer", _timm_class("VisionTransformer", "patch_embed"))
def _vit(model, src, size, seq_len) -> Family:
    return vit_family(model)


def vit_family(model) -> Family:
    head = model.embed_dim // model.blocks[0].attn.num_heads
    patch = int(model.patch_embed.patch_size[0])
    ratio = model.blocks[0].mlp.fc1.out_features / model.embed_dim

    def to_kwargs(v: dict[str, Value]) -> tuple[dict, dict]:
        kwargs = {"depth": v["depth"], "embed_dim": v["embed_dim"], "num_heads": v["embed_dim"] // head}
        if v["mlp_hidden"] != int(v["embed_dim"] * ratio):
            # timm builds int(embed_dim * mlp_ratio) hidden units: the half unit makes that exact
            kwargs["mlp_ratio"] = (v["mlp_hidden"] + 0.5) / v["embed_dim"]
        size = v["img_size"]
        return {**kwargs, "img_size": size}, {"image_size": (size, size)}

    return Family(
        name="timm VisionTransformer",
        knobs=(Knob("depth", "depth", minimum=1, maximum=96, note="blocks"),
               Knob("embed_dim", "width", multiple_of=head, minimum=head, maximum=16384, flops_power=2,
                    note=f"heads x head size {head}; num_heads follows"),
               Knob("img_size", "input", multiple_of=patch, minimum=2 * patch, maximum=4096, flops_power=2,
                    note=f"a multiple of the patch size {patch}"),
               hidden_knob("mlp_hidden", "the MLP's hidden size", model.blocks[0].mlp.fc1.out_features,
                            "embed_dim")),
        read=_vit_read, to_kwargs=to_kwargs, trims=(("mlp_hidden", None),),
        description=f"depth, embed_dim (head size {head} kept, num_heads = embed_dim / {head}), img_size, "
                    f"mlp_hidden (scaled with embed_dim; the fine trim)")


# --- timm ResNet -----------------------------------------------------------------------------


def _resnet_read(model) -> dict[str, Value]:
    layers = tuple(len(getattr(model, f"layer{i}")) for i in range(1, 5))
    channels = tuple(getattr(model, f"layer{i}")[0].conv1.out_channels for i in range(1, 5))
    return {"layers": layers, "channels": channels, "img_size": 224}


def stage_knobs(depth: str, width: str) -> tuple[Knob, ...]:
    """The knobs of a four-stage convnet with total stride 32 (ResNet, ConvNeXt): blocks per
    stage, stage widths in multiples of 8, and the image side in multiples of the stride."""
    return (Knob(depth, "depth", minimum=1, maximum=64, note="blocks per stage"),
            Knob(width, "width", multiple_of=8, minimum=8, maximum=8192, flops_power=2,
                 note="stage widths, multiples of 8"),
            Knob("img_size", "input", multiple_of=32, minimum=32, maximum=4096, flops_power=2,
                 note="a multiple of the total stride 32"))


@register_family("timm ResNet", _timm_class("ResNet", "layer4"))
def _resnet(model, src, size, seq_len) -> Family:
    return resnet_family(model, size or timm_input_size(model))


def resnet_family(model, default_size: int) -> Family:
    def read(m):
        return {**_resnet_read(m), "img_size": default_size}

    def to_kwargs(v: dict[str, Value]) -> tuple[dict, dict]:
        kwargs = {"layers": list(v["layers"]), "channels": tuple(v["channels"]),
                  "stem_width": max(8, v["channels"][0])}  # the stem keeps the first stage's width
        return kwargs, {"image_size": (v["img_size"], v["img_size"])}

    return Family(
        name="timm ResNet",
        knobs=stage_knobs("layers", "channels"),
        read=read, to_kwargs=to_kwargs, trims=(("channels", -1), ("channels", 0)),
        description="layers per stage, stage channels (and stem width), image size")


# --- timm ConvNeXt ---------------------------------------------------------------------------


@register_family("timm ConvNeXt", _timm_class("ConvNeXt", "stages"))
def _convnext(model, src, size, seq_len) -> Family:
    return convnext_family(model, size or timm_input_size(model))


def convnext_family(model, default_size: int) -> Family:
    def read(m):
        return {"depths": tuple(len(s.blocks) for s in m.stages),
                "dims": tuple(s.blocks[0].conv_dw.out_channels for s in m.stages), "img_size": default_size}

    def to_kwargs(v: dict[str, Value]) -> tuple[dict, dict]:
        return ({"depths": tuple(v["depths"]), "dims": tuple(v["dims"])},
                {"image_size": (v["img_size"], v["img_size"])})

    return Family(
        name="timm ConvNeXt",
        knobs=stage_knobs("depths", "dims"),
        read=read, to_kwargs=to_kwargs, description="depths, dims, image size",
        trims=(("dims", -1), ("dims", 0)))


# --- timm Swin Transformer --------------------------------------------------------------------


def _swin_read(model) -> dict[str, Value]:
    return {"depths": tuple(len(layer.blocks) for layer in model.layers), "embed_dim": model.embed_dim,
            "img_size": int(model.patch_embed.img_size[0]), "mlp_hidden": model.layers[0].blocks[0].mlp.fc1.out_features}


@register_family("timm SwinTransformer", _timm_class("SwinTransformer", "layers"))
def swin_family(model, src=None, size=None, seq_len=None) -> Family:
    head = model.embed_dim // model.layers[0].blocks[0].attn.num_heads
    stages = len(model.layers)
    # windows tile every stage's feature map: the image side is a multiple of patch x window x 2^(stages-1)
    step = int(model.patch_embed.patch_size[0]) * int(model.layers[0].blocks[0].window_size[0]) * 2 ** (stages - 1)
    hidden = model.layers[0].blocks[0].mlp.fc1.out_features
    ratio = hidden / model.embed_dim

    def to_kwargs(v: dict[str, Value]) -> tuple[dict, dict]:
        heads = tuple(v["embed_dim"] * 2 ** i // head for i in range(stages))  # widths double per stage
        kwargs = {"depths": tuple(v["depths"]), "embed_dim": v["embed_dim"], "num_heads": heads,
                  "img_size": v["img_size"]}
        if v["mlp_hidden"] != int(v["embed_dim"] * ratio):
            # one mlp_ratio for every stage, whose widths double: timm builds int(width x ratio) hidden
            # units, and a fraction under 1 / 2^stages over the first stage's size makes each exactly
            # 2^i times it
            kwargs["mlp_ratio"] = (v["mlp_hidden"] + 2.0 ** -(stages + 1)) / v["embed_dim"]
        return kwargs, {"image_size": (v["img_size"], v["img_size"])}

    return Family(
        name="timm SwinTransformer",
        knobs=(Knob("depths", "depth", minimum=1, maximum=64, note="blocks per stage"),
               Knob("embed_dim", "width", multiple_of=head, minimum=head, maximum=8192, flops_power=2,
                    note=f"heads x head size {head} in the first stage; every stage keeps its head size"),
               Knob("img_size", "input", multiple_of=step, minimum=step, maximum=4096, flops_power=2,
                    note=f"a multiple of {step}: windows tile every stage"),
               hidden_knob("mlp_hidden", "the first stage's MLP hidden size (each later stage's twice the "
                            "one before)", hidden, "embed_dim")),
        read=_swin_read, to_kwargs=to_kwargs, trims=(("mlp_hidden", None),),
        description=f"depths per stage, embed_dim (head size {head} kept), image size (multiples of {step}), "
                    f"mlp_hidden (scaled with embed_dim; the fine trim)")


# --- timm RegNet -----------------------------------------------------------------------------


def _regnet_cfg(src):
    """The RegNetCfg a timm RegNet was built from: its entry's, with the -k that override fields
    (timm's RegNet replaces cfg fields by its kwargs). The built model does not keep it."""
    from dataclasses import fields, replace

    from timm.models import split_model_name_tag
    from timm.models.regnet import model_cfgs

    from .registry import NoFamily

    name = split_model_name_tag(src.name)[0] if src is not None and src.kind == "timm" else None
    if name not in model_cfgs:
        raise NoFamily(f"{src.text if src else 'a RegNet'}: its RegNetCfg is known only for timm:NAME sources "
                       f"(the model does not keep it); build it as timm:regnetx_002 -k depth=... -k w0=...")
    known = {f.name for f in fields(model_cfgs[name])}
    return replace(model_cfgs[name], **{k: v for k, v in src.kwargs.items() if k in known})


@register_family("timm RegNet", _timm_class("RegNet", "stem"))
def regnet_family(model, src, size=None, seq_len=None) -> Family:
    """RegNet's design space (Radosavovic et al. 2020): block j of `depth` is w0 + wa x j wide,
    quantized to stages of widths w0 x wm^k in multiples of 8, and timm builds exactly 4 stages.
    The knobs are depth, the span wa x depth (how much wider the last block is than the first)
    and w0: width scales the span and w0 together, as pycls' scaler scales wa and w0 (Dollar,
    Singh, Girshick 2021); depth adds blocks over the same widths (wa = span / depth), so the
    stages stay. The span moves in steps of 0.01 (w0 in steps of 8 would move RegNetX-200MF's
    widths by a third): it is the width knob and w0 follows it; w0 alone, then the span alone, are
    the trims."""
    from timm.models.regnet import generate_regnet

    cfg = _regnet_cfg(src)
    img = size or timm_input_size(model)
    span = round(cfg.wa * cfg.depth, 6)

    def stages(depth: int) -> int:
        return generate_regnet(span / depth, cfg.w0, cfg.wm, depth, cfg.group_size)[1]

    # the fewest blocks that still fill timm's 4 stages at the baseline's widths
    least = next((d for d in range(1, cfg.depth + 1) if stages(d) == 4), cfg.depth)

    def to_kwargs(v: dict[str, Value]) -> tuple[dict, dict]:
        return ({"depth": v["depth"], "w0": v["w0"], "wa": round(v["span"] / v["depth"], 6)},
                {"image_size": (v["img_size"], v["img_size"])})

    return Family(
        name="timm RegNet",
        knobs=(Knob("depth", "depth", minimum=least, maximum=256,
                    note=f"blocks over the same widths; at least {least}, which fill timm's 4 stages"),
               Knob("span", "width", multiple_of=0.01, minimum=0.01, maximum=1e6, flops_power=2,
                    note="wa x depth, how much wider the last block is than the first, steps of 0.01; w0 "
                         "follows it, and alone it is the fine trim"),
               Knob("img_size", "input", multiple_of=32, minimum=32, maximum=4096, flops_power=2,
                    note="a multiple of the total stride 32"),
               Knob("w0", "width", multiple_of=8, minimum=8, maximum=8192, flops_power=2, follows="span",
                    note="the first block's width, multiples of 8 (timm's quantum): scaled with the span")),
        read=lambda m: {"depth": cfg.depth, "span": span, "img_size": img, "w0": cfg.w0}, to_kwargs=to_kwargs,
        trims=(("w0", None), ("span", None)),  # coarse to fine: w0 moves the high-resolution first stage
        description="depth (blocks over the same widths), span = wa x depth and w0 (scaled together; wm, the "
                    "stage ratio, and the group width kept), img_size; the span alone is the fine trim")


# --- timm MLP-Mixer --------------------------------------------------------------------------


def _plain_mixer(model, src) -> bool:
    """A Mixer of MixerBlocks with plain MLPs (mixer_*): gMLP-style and ResMLP blocks take layer
    classes, which a -k cannot name."""
    from timm.layers import Mlp
    from timm.models.mlp_mixer import MixerBlock

    return (_timm_class("MlpMixer", "stem")(model, src) and all(isinstance(b, MixerBlock) for b in model.blocks)
            and all(type(b.mlp_tokens) is Mlp and type(b.mlp_channels) is Mlp for b in model.blocks))


@register_family("timm MLP-Mixer", _plain_mixer)
def mixer_family(model, src=None, size=None, seq_len=None) -> Family:
    """MLP-Mixer (Tolstikhin et al. 2021): num_blocks, embed_dim (multiples of 8), and the image
    side in multiples of the patch. timm's entry points fix num_blocks and embed_dim
    (mixer_b16_224 builds dict(num_blocks=12, embed_dim=768, **kwargs), which refuses a second),
    so variants are built from the class. The channel MLP's hidden size follows the width and is
    the trim; the token MLP keeps its ratio to the width."""
    block = model.blocks[0]
    dim = model.embed_dim
    patch = int(model.stem.patch_size[0])
    tokens_ratio = block.mlp_tokens.fc1.out_features / dim
    hidden = block.mlp_channels.fc1.out_features
    img = size or int(model.stem.img_size[0])

    def to_kwargs(v: dict[str, Value]) -> tuple[dict, dict]:
        d = v["embed_dim"]
        channels = hidden / dim  # timm builds int(ratio x dim) hidden units: a trimmed size takes a half unit more
        if v["mlp_hidden"] != int(channels * d):
            channels = (v["mlp_hidden"] + 0.5) / d
        return ({"img_size": v["img_size"], "patch_size": patch, "num_blocks": v["num_blocks"], "embed_dim": d,
                 "mlp_ratio": [tokens_ratio, channels]}, {"image_size": (v["img_size"], v["img_size"])})

    return Family(
        name="timm MLP-Mixer",
        knobs=(Knob("num_blocks", "depth", minimum=1, maximum=96, note="blocks"),
               Knob("embed_dim", "width", multiple_of=8, minimum=8, maximum=16384, flops_power=2,
                    note="channels, multiples of 8; the token MLP keeps its ratio"),
               Knob("img_size", "input", multiple_of=patch, minimum=2 * patch, maximum=4096, flops_power=2,
                    note=f"a multiple of the patch size {patch}"),
               hidden_knob("mlp_hidden", "the channel MLP's hidden size", hidden, "embed_dim")),
        read=lambda m: {"num_blocks": len(m.blocks), "embed_dim": dim, "img_size": img, "mlp_hidden": hidden},
        to_kwargs=to_kwargs, trims=(("mlp_hidden", None),), source="python:timm.models.mlp_mixer:MlpMixer",
        description=f"num_blocks, embed_dim, img_size (multiples of the patch {patch}), mlp_hidden (the channel "
                    f"MLP's, scaled with embed_dim; the fine trim)")


# --- Hugging Face transformers --------------------------------------------------------------


@dataclass(frozen=True)
class HFFields:
    """Where a transformers config keeps the sizes a family scales: configs name them differently."""

    name: str
    depth: tuple[str, ...]  # layer counts scaled together (T5: encoder and decoder)
    width: str
    heads: str
    ffn: str  # the MLP's inner size; None in a config means 4 x width (GPT-2's n_inner)
    head_dim: str | None = None  # T5's d_kv: the head size, kept; else width / heads
    max_positions: str | None = "max_position_embeddings"  # None: no limit (relative positions)


HF_FIELDS = (
    HFFields("Hugging Face BERT-like configs (num_hidden_layers, hidden_size, num_attention_heads, "
             "intermediate_size)", ("num_hidden_layers",), "hidden_size", "num_attention_heads", "intermediate_size"),
    HFFields("Hugging Face GPT-2-like configs (n_layer, n_embd, n_head, n_inner)", ("n_layer",), "n_embd", "n_head",
             "n_inner", max_positions="n_positions"),
    HFFields("Hugging Face T5 and Switch configs (num_layers, num_decoder_layers, d_model, d_ff, num_heads, d_kv)",
             ("num_layers", "num_decoder_layers"), "d_model", "num_heads", "d_ff", head_dim="d_kv",
             max_positions=None),
    HFFields("Hugging Face DistilBERT-like configs (n_layers, dim, n_heads, hidden_dim)", ("n_layers",), "dim",
             "n_heads", "hidden_dim"),
)


def _has_fields(f: HFFields):
    def matches(model, src) -> bool:
        cfg = getattr(model, "config", None)
        return cfg is not None and all(hasattr(cfg, k) for k in (f.depth[0], f.width, f.heads, f.ffn))

    return matches


def _register_hf(f: HFFields) -> None:
    @register_family(f.name, _has_fields(f))
    def build(model, src, size, seq_len) -> Family:
        from ..sources import DEFAULT_SEQ_LEN

        return hf_family(model, seq_len or DEFAULT_SEQ_LEN, f)


for _fields in HF_FIELDS:
    _register_hf(_fields)


EXPERT_FIELDS = ("num_local_experts", "num_experts")  # Mixtral's; Switch's, Qwen-MoE's, OLMoE's
# GQA and MQA configs' key-value heads (Llama, Mistral, Qwen2, Gemma, Mixtral), counted at the
# baseline's query heads: a width variant keeps their ratio, so its knob reads as the baseline's
# (its own num_key_value_heads is in its rebuild arguments). Not named as the config field, so a
# knobs column is not read as the config's value.
KV_KNOB = "kv_heads"


def hf_family(model, seq_len: int, f: HFFields = HF_FIELDS[0]) -> Family:
    """A transformers config's family. Width moves in whole heads: a head is the width per head
    of the baseline (hidden / heads), and the heads' own size is kept where the config names it
    (Gemma's head_dim 256 at hidden 3072 over 16 heads), so attention keeps its share of the
    width; key-value heads keep their ratio to the heads. A mixture of experts (Mixtral, Switch)
    has its number of experts as a knob of its own role, "experts", which the experts strategy
    scales: top-k routing keeps the FLOPs, so it serves parameter targets. A vision config (ViT:
    image_size and patch_size) has the image side as its input knob, in multiples of the patch."""
    cfg = model.config
    # Qwen2-MoE, Qwen3-MoE, DeepSeek: the experts' MLPs are moe_intermediate_size wide and
    # intermediate_size serves only dense layers, which the default configs have none of; scaling
    # it left the model unchanged (issue 31). The experts' size is then the trim, and the shared
    # expert's and the dense MLPs' sizes follow it in proportion.
    if isinstance(getattr(cfg, "moe_intermediate_size", None), int):
        followers = tuple(k for k in (f.ffn, "shared_expert_intermediate_size")
                          if isinstance(getattr(cfg, k, None), int))
        f = replace(f, ffn="moe_intermediate_size")
    else:
        followers = ()
    width0, heads0 = getattr(cfg, f.width), getattr(cfg, f.heads)
    head = getattr(cfg, f.head_dim) if f.head_dim else width0 // heads0
    head_dim = getattr(cfg, "head_dim", None) if not f.head_dim else None  # named in the config: kept
    kv_heads0 = getattr(cfg, "num_key_value_heads", None)  # GQA and MQA; MHA where it equals the heads
    kv_ratio = heads0 // (kv_heads0 or heads0)
    # MQA (one key-value head, Gemma-2B's) shares it among any number of query heads: its width moves
    # in single heads (in steps of its heads' ratio it could not move at all: 8 heads of 256 at 2048)
    step_heads = 1 if kv_heads0 == 1 else kv_ratio
    ffn0 = getattr(cfg, f.ffn) or 4 * width0
    ffn_ratio = ffn0 / width0
    max_pos = (getattr(cfg, f.max_positions, None) if f.max_positions else None) or 1 << 20
    depth_knob = f.depth[0]
    experts = next((e for e in EXPERT_FIELDS if isinstance(getattr(cfg, e, None), int) and getattr(cfg, e) > 1), None)
    top_k = getattr(cfg, "num_experts_per_tok", None) or 1
    patch = getattr(cfg, "patch_size", None)
    vision = isinstance(getattr(cfg, "image_size", None), int) and isinstance(patch, int)
    size = "image_size" if vision else "seq_len"

    def read(m):
        c = m.config  # T5's num_decoder_layers None means as many as the encoder's
        depth = tuple(getattr(c, d, None) or getattr(c, f.depth[0]) for d in f.depth)
        out = {depth_knob: depth if len(depth) > 1 else depth[0], f.width: getattr(c, f.width),
               size: c.image_size if vision else seq_len, f.ffn: getattr(c, f.ffn) or 4 * getattr(c, f.width)}
        if experts:
            out[experts] = getattr(c, experts)
        if kv_heads0 is not None:  # at the baseline's query heads: a width variant keeps the ratio, so reads kv_heads0
            kv = c.num_key_value_heads  # MQA stays MQA at any width
            out[KV_KNOB] = 1 if kv == 1 else kv * heads0 // getattr(c, f.heads)
        return out

    def to_kwargs(v: dict[str, Value]) -> tuple[dict, dict]:
        heads = v[f.width] // head
        depth = v[depth_knob] if isinstance(v[depth_knob], tuple) else (v[depth_knob],)
        kwargs = {**dict(zip(f.depth, depth)), f.width: v[f.width], f.heads: heads, f.ffn: v[f.ffn]}
        for k in followers:
            kwargs[k] = max(1, round(getattr(cfg, k) * v[f.ffn] / ffn0))
        if head_dim is not None:
            kwargs["head_dim"] = head_dim
        if kv_heads0 is not None:  # always given: a baseline's own -k num_key_value_heads would stay (issue 31)
            # the kv-heads knob sets the query heads per key-value head; the width keeps it
            kwargs["num_key_value_heads"] = 1 if v[KV_KNOB] == 1 else max(1, heads // (heads0 // v[KV_KNOB]))
        if experts:
            kwargs[experts] = v[experts]
        if vision:  # the position embeddings are sized by the config's image_size
            kwargs["image_size"] = v["image_size"]
            return kwargs, {"image_size": (v["image_size"], v["image_size"])}
        return kwargs, {"seq_len": v["seq_len"]}

    layers = " and ".join(f.depth)
    kept = f", head_dim {head_dim} kept" if head_dim is not None and head_dim != head else ""
    knobs = [Knob(depth_knob, "depth", minimum=1, maximum=256, note=f"layers ({layers}, scaled together)"
                  if len(f.depth) > 1 else "layers"),
             Knob(f.width, "width", multiple_of=head * step_heads, minimum=head * step_heads, maximum=65536,
                  flops_power=2, note=f"heads x {head}{kept}" + (
                      "; one key-value head shared by all (MQA)" if kv_heads0 == 1 and heads0 > 1 else
                      f"; {kv_ratio} heads per key-value head" if kv_ratio > 1 else "")),
             Knob("image_size", "input", multiple_of=patch, minimum=2 * patch, maximum=4096, flops_power=2,
                  note=f"a multiple of the patch size {patch}") if vision else
             Knob("seq_len", "input", multiple_of=1, minimum=1, maximum=int(max_pos), flops_power=1,
                  note=f"tokens, at most {f.max_positions}={max_pos}" if f.max_positions else "tokens"),
             hidden_knob(f.ffn, f"the MLP's inner size ({ffn_ratio:g} x {f.width} in the baseline)",
                          int(ffn_ratio * width0), f.width)]
    if experts:
        knobs.append(Knob(experts, "experts", minimum=top_k, maximum=4096,
                          note=f"experts per MoE layer, at least the {top_k} each token is routed to"))
    if kv_heads0 is not None:
        knobs.append(Knob(KV_KNOB, "kv_heads", minimum=1, maximum=heads0,
                          choices=tuple(d for d in range(1, heads0 + 1) if heads0 % d == 0),
                          note=f"key-value heads at the baseline's {heads0} query heads (1: MQA, {heads0}: MHA), "
                               f"divisors of {heads0}; a width variant keeps the ratio"))

    def kv_check(v: dict[str, Value]) -> str | None:
        kv = v.get(KV_KNOB, kv_heads0 or heads0)
        group = heads0 // kv
        heads = v[f.width] // head
        return None if kv_heads0 is None or kv == 1 or heads % group == 0 else \
            (f"{heads} query heads cannot be shared {group} per key-value head; move the width "
             f"({f.width}) or {KV_KNOB} alone")

    return Family(
        name=f"Hugging Face {cfg.model_type}", knobs=tuple(knobs), read=read, to_kwargs=to_kwargs,
        trims=((f.ffn, None),), extra_checks=kv_check,
        description=f"{layers}, {f.width} (heads of {head}{kept}), {f.ffn} (scaled with {f.width}, "
                    f"{ffn_ratio:g} x in the baseline; the fine trim"
                    + (f"; {' and '.join(followers)} in proportion" if followers else "") + f"), {size}"
                    + (f", {experts} (the experts strategy)" if experts else "")
                    + (f", {KV_KNOB} (num_key_value_heads at the baseline's {heads0} query heads; the kv-heads "
                       f"strategy)" if kv_heads0 is not None else ""))
