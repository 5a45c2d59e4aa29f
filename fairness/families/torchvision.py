"""torchvision's ResNet, VisionTransformer, ConvNeXt, EfficientNet (B0-B7) and MobileNetV3:
families recognised by their class (its module starts with `torchvision.`), so that timm's
classes of the same names are not taken for them.

torchvision's entry points fix the sizes themselves (`resnet50()` passes its layers to
`_resnet`, so `get_model('resnet50', layers=[2, 2, 2, 2])` is refused: "_resnet() got multiple
values for argument 'layers'"), and its classes take block classes and config objects, which a
`-k` cannot name. A variant is built from the class: the VisionTransformer directly (its
arguments are plain numbers), the others through the factories here, whose arguments are, so
that each variant's source and kwargs rebuild it (`fairness measure
python:fairness.families.torchvision:resnet -k block=bottleneck -k layers=[2,3,4,2]`).

What torchvision lets a family scale without editing its code:
- ResNet: blocks per stage (`layers`) and, for bottleneck blocks, `width_per_group`: the width of
  each block's 3x3 convolution (64 in ResNet-50, 128 in Wide ResNet-50-2). The stages' outer
  widths (256 to 2048 for bottlenecks) and the stem's 64 are fixed in its code, and a basic
  block (ResNet-18, -34) refuses any width but 64: it has a depth knob only.
- VisionTransformer: num_layers, hidden_dim (heads of the head size), mlp_dim, image_size.
- ConvNeXt: blocks and width per stage.
- EfficientNet B0-B7: width_mult and depth_mult (multipliers.py), each stage's width and the head's.
- MobileNetV3: width_mult, each stage's width and the classifier's hidden width (no depth knob:
  torchvision lists its blocks one by one).
"""

from __future__ import annotations

import torch

from ..errors import FairnessError
from .registry import NoFamily, register_family
from .base import Family, Knob, Value
from .multipliers import Names, multiplier_family

HERE = "python:fairness.families.torchvision"
VIT_CLASS = "python:torchvision.models.vision_transformer:VisionTransformer"


def _torchvision_class(name: str):
    def matches(model, src) -> bool:
        cls = type(model)
        return cls.__name__ == name and cls.__module__.startswith("torchvision.")

    return matches


def _default_size(src) -> int:
    from ..sources import torchvision_crop

    return torchvision_crop(src.name) if src is not None and src.kind == "torchvision" else 224


def _stage_channels(setting: list, stages: list[list[int]], widths, what: str) -> None:
    """Set each stage's output width in a torchvision config list (`stages`: the entries of each),
    and the next entry's input width, so that blocks inside a stage keep their residual
    connections (a block adds its input only where the widths agree)."""
    if len(widths) != len(stages):
        raise FairnessError(f"{what}: stage_chs={list(widths)} has {len(widths)} widths; the model has "
                            f"{len(stages)} stages")
    for entries, width in zip(stages, widths):
        for i in entries:
            setting[i].out_channels = int(width)
            if i + 1 < len(setting):
                setting[i + 1].input_channels = int(width)


def _runs(setting: list) -> list[list[int]]:
    """MobileNetV3's stages: runs of consecutive blocks of one output width, read at width 1
    (narrower, two stages may round to one width)."""
    out: list[list[int]] = []
    for i, cnf in enumerate(setting):
        if out and setting[out[-1][-1]].out_channels == cnf.out_channels:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def _config(kind: str, arch: str, width_mult: float, depth_mult: float = 1.0, **conf):
    """torchvision's config list for `arch`, its stages (lists of entries), and its head's width."""
    if kind == "efficientnet":
        from torchvision.models.efficientnet import _efficientnet_conf

        if not str(arch).startswith("efficientnet_b"):
            raise FairnessError(f"{HERE}:efficientnet arch={arch!r}: expected efficientnet_b0 ... efficientnet_b7 "
                                f"(EfficientNetV2 has no multipliers in torchvision)")
        setting, last = _efficientnet_conf(arch, width_mult=width_mult, depth_mult=depth_mult)
        # each entry is a stage (num_layers blocks); the head is 4 x the last stage's width
        return setting, [[i] for i in range(len(setting))], last or 4 * setting[-1].out_channels
    from torchvision.models.mobilenetv3 import _mobilenet_v3_conf

    setting, last = _mobilenet_v3_conf(arch, width_mult=width_mult, **conf)
    return setting, _runs(_mobilenet_v3_conf(arch, width_mult=1.0, **conf)[0]), last


# --- ResNet ----------------------------------------------------------------------------------


def resnet(block: str = "bottleneck", layers=(3, 4, 6, 3), groups: int = 1, width_per_group: int = 64, **kwargs):
    """torchvision's ResNet with `block` 'basic' or 'bottleneck' (a name, where the class takes the
    block's class): resnet50 is resnet('bottleneck', [3, 4, 6, 3])."""
    from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

    blocks = {"basic": BasicBlock, "bottleneck": Bottleneck}
    if block not in blocks:
        raise FairnessError(f"{HERE}:resnet block={block!r}: expected 'basic' or 'bottleneck'")
    return ResNet(blocks[block], list(layers), groups=groups, width_per_group=width_per_group, **kwargs)


@register_family("torchvision ResNet", _torchvision_class("ResNet"))
def _resnet(model, src, size, seq_len) -> Family:
    from torchvision.models.resnet import Bottleneck

    first = model.layer1[0]
    bottleneck = isinstance(first, Bottleneck)
    groups = first.conv2.groups
    base = {"layers": tuple(len(getattr(model, f"layer{i}")) for i in range(1, 5)), "img_size": size or _default_size(src)}
    if bottleneck:  # its 3x3 convolution is width_per_group x groups wide in the first stage
        base["width_per_group"] = first.conv1.out_channels // groups
    knobs = [Knob("layers", "depth", minimum=1, maximum=64, note="blocks per stage"),
             Knob("img_size", "input", multiple_of=32, minimum=32, maximum=4096, flops_power=2,
                  note="a multiple of the total stride 32")]
    if bottleneck:
        # Every unit of width_per_group is one more channel in each first-stage 3x3 convolution (8 in
        # the last stage's): torchvision's lattice is the integers, and steps of 8 would move
        # ResNet-50's parameters by 10%. The 3x3 convolution grows as its square, the 1x1s linearly.
        knobs.insert(1, Knob("width_per_group", "width", minimum=1, maximum=1024, flops_power=1.5,
                             note=f"each bottleneck's inner width per group ({groups} group"
                                  f"{'s' if groups > 1 else ''}): 64 in ResNet-50, 128 in Wide ResNet-50-2"))

    def to_kwargs(v: dict[str, Value]) -> tuple[dict, dict]:
        kwargs = {"block": "bottleneck" if bottleneck else "basic", "layers": list(v["layers"]), "groups": groups}
        if bottleneck:
            kwargs["width_per_group"] = v["width_per_group"]
        return kwargs, {"image_size": (v["img_size"], v["img_size"])}

    kind = "bottleneck" if bottleneck else "basic-block"
    return Family(
        name=f"torchvision ResNet ({kind})", knobs=tuple(knobs), read=lambda m: dict(base), to_kwargs=to_kwargs,
        source=f"{HERE}:resnet", trims=(("width_per_group", None),) if bottleneck else (),  # the only fine step
        description="layers per stage, " + ("width_per_group (the bottlenecks' inner width; torchvision fixes the "
                                            "stages' outer widths), " if bottleneck else
                                            "no width (torchvision's basic block takes width 64 only), ")
                    + "image size")


# --- VisionTransformer -----------------------------------------------------------------------


@register_family("torchvision VisionTransformer", _torchvision_class("VisionTransformer"))
def _vit(model, src, size, seq_len) -> Family:
    from .builtin import hidden_knob

    layers = model.encoder.layers
    heads = layers[0].self_attention.num_heads
    head = model.hidden_dim // heads
    patch = model.patch_size
    if not isinstance(model.conv_proj, torch.nn.Conv2d):  # conv_stem_configs: a stack of convolutions
        raise NoFamily(f"{src.text if src else 'torchvision VisionTransformer'}: a convolutional stem "
                       f"(conv_stem_configs) is not scaled; declare a family in YAML for a python: factory")
    base = {"num_layers": len(layers), "hidden_dim": model.hidden_dim, "image_size": size or model.image_size,
            "mlp_dim": model.mlp_dim}

    def to_kwargs(v: dict[str, Value]) -> tuple[dict, dict]:
        return ({"image_size": v["image_size"], "patch_size": patch, "num_layers": v["num_layers"],
                 "num_heads": v["hidden_dim"] // head, "hidden_dim": v["hidden_dim"], "mlp_dim": v["mlp_dim"]},
                {"image_size": (v["image_size"], v["image_size"])})

    return Family(
        name="torchvision VisionTransformer",
        knobs=(Knob("num_layers", "depth", minimum=1, maximum=96, note="encoder blocks"),
               Knob("hidden_dim", "width", multiple_of=head, minimum=head, maximum=16384, flops_power=2,
                    note=f"heads x head size {head}; num_heads follows"),
               Knob("image_size", "input", multiple_of=patch, minimum=2 * patch, maximum=4096, flops_power=2,
                    note=f"a multiple of the patch size {patch}"),
               hidden_knob("mlp_dim", "the MLP's hidden size", model.mlp_dim, "hidden_dim")),
        read=lambda m: dict(base), to_kwargs=to_kwargs, trims=(("mlp_dim", None),), source=VIT_CLASS,
        description=f"num_layers, hidden_dim (head size {head} kept), image_size, mlp_dim (scaled with "
                    f"hidden_dim; the fine trim)")


# --- ConvNeXt --------------------------------------------------------------------------------


def convnext(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768), **kwargs):
    """torchvision's ConvNeXt from blocks and widths per stage: convnext_tiny is
    convnext([3, 3, 9, 3], [96, 192, 384, 768]) (-k stochastic_depth_prob=0.1 to train it as
    torchvision's convnext_tiny does; it changes no count)."""
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt

    if len(depths) != len(dims):
        raise FairnessError(f"{HERE}:convnext depths={list(depths)} and dims={list(dims)}: one width per stage")
    setting = [CNBlockConfig(d, dims[i + 1] if i + 1 < len(dims) else None, n)
               for i, (d, n) in enumerate(zip(dims, depths))]
    return ConvNeXt(setting, **kwargs)


@register_family("torchvision ConvNeXt", _torchvision_class("ConvNeXt"))
def _convnext(model, src, size, seq_len) -> Family:
    from torchvision.models.convnext import CNBlock

    from .builtin import stage_knobs

    stages = [m for m in model.features if len(m) and all(isinstance(b, CNBlock) for b in m)]
    base = {"depths": tuple(len(s) for s in stages), "dims": tuple(s[0].block[0].in_channels for s in stages),
            "img_size": size or _default_size(src)}

    def to_kwargs(v: dict[str, Value]) -> tuple[dict, dict]:
        return {"depths": list(v["depths"]), "dims": list(v["dims"])}, {"image_size": (v["img_size"], v["img_size"])}

    return Family(
        name="torchvision ConvNeXt", knobs=stage_knobs("depths", "dims"), read=lambda m: dict(base),
        to_kwargs=to_kwargs, source=f"{HERE}:convnext", trims=(("dims", -1), ("dims", 0)),
        description="depths, dims, image size")


# --- EfficientNet and MobileNetV3 --------------------------------------------------------------


def efficientnet(arch: str = "efficientnet_b0", width_mult: float = 1.0, depth_mult: float = 1.0,
                 stage_chs=None, last_channel: int | None = None, dropout: float = 0.2, **kwargs):
    """torchvision's EfficientNet `arch` (efficientnet_b0 ... b7) at other multipliers; stage_chs
    (each stage's output channels) and last_channel (the head's) set them exactly."""
    from torchvision.models.efficientnet import EfficientNet

    setting, stages, last = _config("efficientnet", arch, width_mult, depth_mult)
    if stage_chs is not None:
        _stage_channels(setting, stages, stage_chs, f"{HERE}:efficientnet")
    return EfficientNet(setting, dropout, last_channel=last_channel or last, **kwargs)


def mobilenet_v3(arch: str = "mobilenet_v3_large", width_mult: float = 1.0, stage_chs=None,
                 last_channel: int | None = None, **kwargs):
    """torchvision's MobileNetV3 `arch` (mobilenet_v3_large or _small) at another width multiplier;
    stage_chs (each stage's output channels) and last_channel (the classifier's hidden width) set
    them exactly."""
    from torchvision.models.mobilenetv3 import MobileNetV3

    conf = {k: kwargs.pop(k) for k in ("reduced_tail", "dilated") if k in kwargs}
    setting, stages, last = _config("mobilenet_v3", arch, width_mult, **conf)
    if stage_chs is not None:
        _stage_channels(setting, stages, stage_chs, f"{HERE}:mobilenet_v3")
    return MobileNetV3(setting, last_channel or last, **kwargs)


def _tv_rounding(x: float) -> int:  # torchvision's _make_divisible(v, 8): as it rounds a multiplied width
    from torchvision.models._utils import _make_divisible

    return _make_divisible(x, 8)


def _multipliers_family(model, src, size, kind: str) -> Family:
    """EfficientNet's or MobileNetV3's family: the multipliers are not in the built model, so they
    are read from what the entry point passes its config builder (entry_points.py), or from the
    factory's kwargs."""
    import torchvision

    from .entry_points import arguments_passed

    if src is None or not (src.kind == "torchvision" or src.text == f"{HERE}:{kind}"):
        raise NoFamily(f"{src.text if src else kind}: build it as torchvision:NAME or {HERE}:{kind} -k arch=NAME "
                       f"for its multipliers to be known")
    arch = src.name if src.kind == "torchvision" else src.kwargs.get("arch", "efficientnet_b0" if kind ==
                                                                       "efficientnet" else "mobilenet_v3_large")
    if src.kind == "torchvision":
        builder = "_efficientnet_conf" if kind == "efficientnet" else "_mobilenet_v3_conf"
        passed = arguments_passed(torchvision.models.get_model_builder(arch), builder, **src.kwargs)
        passed = {**passed, **passed.get("kwargs", {})}
    else:
        passed = src.kwargs
    depth = "depth_mult" if kind == "efficientnet" else None
    base = {"width_mult": float(passed.get("width_mult", 1.0))}
    if depth:
        base[depth] = float(passed.get(depth, 1.0))
    conf = {k: v for k, v in src.kwargs.items() if k in ("reduced_tail", "dilated")}
    setting, stages, last = _config(kind, arch, base["width_mult"], base.get(depth, 1.0), **conf)
    given = {k: src.kwargs[k] for k in ("stage_chs", "last_channel") if k in src.kwargs}
    base["stage_chs"] = tuple(given.get("stage_chs") or (setting[s[0]].out_channels for s in stages))
    base["last_channel"] = int(given.get("last_channel") or last)
    names = Names("width_mult", depth, "stage_chs", "last_channel", "torchvision")
    # torchvision scales both heads with the width multiplier: EfficientNet's is 4 x its last stage,
    # MobileNetV3's classifier 1280 x width_mult
    what = "width and depth multipliers" if depth else "width multiplier"
    return multiplier_family(f"torchvision {arch} ({what})", f"{HERE}:{kind}", names, base,
                             size or _default_size(src), _tv_rounding, 8, True, {"arch": arch, **conf})


@register_family("torchvision EfficientNet (B0-B7)", _torchvision_class("EfficientNet"))
def _efficientnet(model, src, size, seq_len) -> Family:
    return _multipliers_family(model, src, size, "efficientnet")


@register_family("torchvision MobileNetV3", _torchvision_class("MobileNetV3"))
def _mobilenet_v3(model, src, size, seq_len) -> Family:
    return _multipliers_family(model, src, size, "mobilenet_v3")
