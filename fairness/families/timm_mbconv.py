"""timm's EfficientNet and MobileNetV3 (and the other models timm builds the same way: MNASNet,
MobileNetV2, LCNet, ...) scaled by their channel and depth multipliers.

timm's entry points fix their multipliers themselves: `efficientnet_b0()` is
`_gen_efficientnet('efficientnet_b0', channel_multiplier=1.0, depth_multiplier=1.0, **kwargs)`,
so `timm.create_model('efficientnet_b0', channel_multiplier=0.5)` gives the generator the
argument twice and fails. `build` (a `python:` factory: its variants are rebuilt by
`fairness measure python:fairness.families.timm_mbconv:build -k entry=efficientnet_b0
-k channel_multiplier=0.5 ...`) calls a copy of the entry point whose generator is given the
multipliers asked for. The copy is a new function object over the same code with one global
name rebound, so timm's modules are never changed, not even for the length of a call.

Two levels are reached this way: the entry point's generator (`_gen_*`: the multipliers) and
the generator's model creator (`_create_*`: the decoded blocks, where a stage's width or the
head's width is set exactly). Timm rounds every width to a multiple of 8, and the stages cross
their rounding points at different multipliers, so the parameters jump by up to 9% between
multipliers 0.01 apart; the stage and head widths in multiples of 8 are the family's trims.
"""

from __future__ import annotations

import inspect
import types
from dataclasses import dataclass

from ..errors import FairnessError
from . import NoFamily, register_family
from .base import Family, Knob, Value

FACTORY = "python:fairness.families.timm_mbconv:build"
MULTIPLIERS = ("channel_multiplier", "depth_multiplier")
CLASSES = ("EfficientNet", "MobileNetV3")  # the classes timm's _gen_* generators of this kind build


class _Probed(Exception):
    """Raised by the model creator of a probe: the arguments are read, no model is built."""


class _Rounded(int):
    """A stage width already on the lattice: timm's round_chs_fn, which would multiply it by
    the channel multiplier again, passes it through."""


def _keep_rounded(round_chs_fn):
    def round_chs(chs):
        return int(chs) if isinstance(chs, _Rounded) else round_chs_fn(chs)

    return round_chs


def _with_global(fn, name: str, value):
    """A copy of function `fn` that finds `value` under the global `name`."""
    copy = types.FunctionType(fn.__code__, {**fn.__globals__, name: value}, fn.__name__, fn.__defaults__,
                              fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    return copy


def _callee(fn, prefix: str, what: str):
    """The one global function `fn` calls whose name starts with `prefix` (its generator or creator)."""
    names = [n for n in fn.__code__.co_names if n.startswith(prefix) and callable(fn.__globals__.get(n))]
    if len(names) != 1:
        raise NoFamily(f"{what}: expected one {prefix}* call in {fn.__module__}.{fn.__name__}, found "
                       f"{names or 'none'}; declare a family in YAML for a python: factory instead")
    return names[0], fn.__globals__[names[0]]


def _default_num_features(create) -> int:
    """The head width of the class a model creator builds, where the generator leaves it to the
    class's default (MNASNet: 1280)."""
    for name in create.__code__.co_names:
        cls = create.__globals__.get(name)
        if name in CLASSES and isinstance(cls, type):
            return inspect.signature(cls).parameters["num_features"].default
    raise NoFamily(f"{create.__module__}.{create.__name__} builds none of {', '.join(CLASSES)}")


@dataclass(frozen=True)
class Arch:
    """What a generator gives its model creator: the values of the family's knobs."""

    multipliers: dict  # name -> value, for the multipliers the generator takes
    depths: tuple[int, ...]  # blocks per stage
    stage_chs: tuple[int, ...]  # each stage's output channels, rounded as timm builds them
    num_features: int  # the head's width
    # how the generator rounds a multiplied width (round_channels' divisor and round_limit): every
    # width is a multiple of the divisor, and rounding down may lose at most 1 - round_limit of it
    rounding: tuple = (("divisor", 8),)


def _entry(name: str, what: str):
    from timm.models import is_model, model_entrypoint, split_model_name_tag

    arch, tag = split_model_name_tag(name)
    if not is_model(arch):
        from ..sources import _closest
        import timm

        raise _closest(arch, timm.list_models(), f"timm model for {what}")
    return model_entrypoint(arch), tag


def _call(entry: str, overrides: dict, kwargs: dict, probe: bool, what: str):
    """Call timm's entry point `entry` with its generator given `overrides` (multipliers,
    stage_chs, num_features): the model, or with `probe` the Arch it would have."""
    fn, tag = _entry(entry, what)
    gen_name, gen = _callee(fn, "_gen_", what)
    create_name, create = _callee(gen, "_create_", what)
    signature = inspect.signature(gen)
    takes = [m for m in MULTIPLIERS if m in signature.parameters]
    for m in MULTIPLIERS:
        if overrides.get(m) is not None and m not in takes:
            raise FairnessError(f"{what}: timm's {gen_name} takes no {m}; its multipliers: {', '.join(takes) or 'none'}")
    seen: dict = {}

    def creator(variant, pretrained=False, **model_kwargs):
        stages = model_kwargs["block_args"]
        given = getattr(model_kwargs["round_chs_fn"], "keywords", {})  # the generator's round_channels
        rounding = tuple((k, given[k]) for k in ("divisor", "round_limit") if k in given)
        stage_chs = overrides.get("stage_chs")
        if stage_chs is not None:
            if len(stage_chs) != len(stages):
                raise FairnessError(f"{what}: stage_chs={list(stage_chs)} has {len(stage_chs)} widths; "
                                    f"{entry} has {len(stages)} stages")
            for stage, chs in zip(stages, stage_chs):
                for block in stage:
                    block["out_chs"] = _Rounded(chs)
            model_kwargs["round_chs_fn"] = _keep_rounded(model_kwargs["round_chs_fn"])
        if overrides.get("num_features") is not None:
            model_kwargs["num_features"] = int(overrides["num_features"])
        if probe:
            rounded = model_kwargs["round_chs_fn"]
            widths = [{rounded(b["out_chs"]) for b in stage} for stage in stages]
            if any(len(w) != 1 for w in widths):
                raise NoFamily(f"{what}: a stage of {entry} has blocks of different widths {widths}; "
                               f"declare a family in YAML for a python: factory instead")
            head = model_kwargs.get("num_features", _default_num_features(create))
            seen["arch"] = Arch({m: seen[m] for m in takes}, tuple(len(s) for s in stages),
                                tuple(w.pop() for w in widths), int(head), rounding)
            raise _Probed
        return create(variant, pretrained, **model_kwargs)

    def generator(*args, **gen_kwargs):
        bound = signature.bind(*args, **gen_kwargs)
        bound.apply_defaults()
        for m in takes:
            if overrides.get(m) is not None:
                bound.arguments[m] = float(overrides[m])
            seen[m] = bound.arguments[m]
        return _with_global(gen, create_name, creator)(*bound.args, **bound.kwargs)

    call_kwargs = {**kwargs, **({"pretrained_cfg": tag} if tag else {})}
    try:
        return _with_global(fn, gen_name, generator)(pretrained=False, **call_kwargs)
    except _Probed:
        return seen["arch"]


def build(entry: str, channel_multiplier: float | None = None, depth_multiplier: float | None = None,
          stage_chs: list[int] | None = None, num_features: int | None = None, **kwargs):
    """timm's model `entry` (e.g. efficientnet_b0) with other multipliers, stage widths (each
    stage's output channels) or head width; None keeps the entry point's own. Every other
    keyword goes to the entry point, as timm.create_model's do. Never loads weights."""
    overrides = {"channel_multiplier": channel_multiplier, "depth_multiplier": depth_multiplier,
                 "stage_chs": stage_chs, "num_features": num_features}
    return _call(entry, overrides, kwargs, probe=False, what=f"{FACTORY} entry={entry}")


def probe(entry: str, overrides: dict | None = None, what: str | None = None) -> Arch:
    """The knob values of `entry` built with `overrides`, read without building it."""
    return _call(entry, dict(overrides or {}), {}, probe=True, what=what or f"timm:{entry}")


# --- the family ------------------------------------------------------------------------------


def _matches(model, src) -> bool:
    cls = type(model)
    return (cls.__module__.startswith("timm.") and cls.__name__ in CLASSES and src is not None
            and (src.kind == "timm" or src.text == FACTORY))


def _float_step(base: float) -> float:
    """Multipliers move in steps of 0.05 (the published ones are: 1.1, 1.4, 0.75, 0.35), 0.01 for
    a baseline off that lattice."""
    return 0.05 if abs(base / 0.05 - round(base / 0.05)) < 1e-6 else 0.01


def _size_step(size: int) -> int:
    """The image side moves in multiples of the total stride 32, or of the largest power of two
    dividing the baseline's (EfficientNet-B1 is published at 240, B2 at 260)."""
    return next(m for m in (32, 16, 8, 4, 2, 1) if size % m == 0)


@register_family("timm EfficientNet and MobileNetV3 (channel and depth multipliers)", _matches)
def _mbconv(model, src, size, seq_len) -> Family:
    from .builtin import _timm_size

    entry = src.name if src.kind == "timm" else src.kwargs.get("entry")
    if not isinstance(entry, str):
        raise NoFamily(f"{src.text}: give the timm entry point it builds, -k entry=NAME (e.g. efficientnet_b0)")
    given = {k: src.kwargs[k] for k in (*MULTIPLIERS, "stage_chs", "num_features") if k in src.kwargs}
    arch = probe(entry, given, src.text)
    # Whether timm scales the head with the channel multiplier (EfficientNet: 1280 x c; MobileNetV3
    # keeps 1280): a probe at twice the multiplier says. A head timm keeps is a trim only.
    c0 = arch.multipliers.get("channel_multiplier")
    head_follows = c0 is not None and probe(entry, {**given, "channel_multiplier": 2 * c0, "stage_chs": None,
                                                    "num_features": None}).num_features != arch.num_features
    return mbconv_family(entry, arch, size or _timm_size(model), head_follows)


def mbconv_family(entry: str, arch: Arch, img_size: int, head_follows: bool) -> Family:
    names = list(arch.multipliers)
    knobs = []
    if "channel_multiplier" in arch.multipliers:
        step = _float_step(arch.multipliers["channel_multiplier"])
        knobs.append(Knob("channel_multiplier", "width", multiple_of=step, minimum=0.1, maximum=8.0, flops_power=2,
                          note=f"timm's width multiplier, steps of {step}; stage_chs follow it"))
    if "depth_multiplier" in arch.multipliers:
        step = _float_step(arch.multipliers["depth_multiplier"])
        knobs.append(Knob("depth_multiplier", "depth", multiple_of=step, minimum=0.1, maximum=8.0,
                          note=f"timm's depth multiplier, steps of {step}: each stage's blocks x it, rounded up"))
    m = _size_step(img_size)
    knobs.append(Knob("img_size", "input", multiple_of=m, minimum=32, maximum=4096, flops_power=2,
                      note=f"image side, multiples of {m}"))
    from timm.layers import make_divisible

    width = "channel_multiplier" if "channel_multiplier" in arch.multipliers else None
    rounding = dict(arch.rounding)
    d = rounding.get("divisor", 8)

    def timm_rounding(x: float) -> int:  # as the generator's round_channels rounds a multiplied width
        return make_divisible(x, **rounding)

    knobs.append(Knob("stage_chs", "width" if width else "trim", multiple_of=d, minimum=d, maximum=16384,
                      flops_power=2, follows=width, rounding=timm_rounding,
                      note=f"each stage's output channels, multiples of {d}: scaled with channel_multiplier "
                           f"and rounded as timm rounds them; the fine trim"))
    knobs.append(Knob("num_features", "width" if head_follows else "trim", multiple_of=d, minimum=d,
                      maximum=16384, flops_power=1, follows=width if head_follows else None, rounding=timm_rounding,
                      note=f"the head's width, multiples of {d}: " + ("scaled with channel_multiplier"
                                                                      if head_follows else "kept as timm keeps it")
                           + "; a trim"))

    def read(model) -> dict[str, Value]:
        return {**arch.multipliers, "img_size": img_size, "stage_chs": arch.stage_chs,
                "num_features": arch.num_features}

    def to_kwargs(v: dict[str, Value]) -> tuple[dict, dict]:
        kwargs = {"entry": entry, **{n: v[n] for n in names}, "stage_chs": list(v["stage_chs"]),
                  "num_features": v["num_features"]}
        return kwargs, {"image_size": (v["img_size"], v["img_size"])}

    return Family(
        name=f"timm {entry} (channel and depth multipliers)", knobs=tuple(knobs), read=read, to_kwargs=to_kwargs,
        source=FACTORY,
        # coarse to fine: a step of 8 channels is a larger share of an earlier, narrower stage; the
        # head, last, moves parameters most finely (a classifier row each)
        trims=(("stage_chs", -3), ("stage_chs", -2), ("stage_chs", -1), ("num_features", None)),
        description=f"{', '.join(names)} (timm's {entry} rebuilt through {FACTORY}), img_size, stage_chs and "
                    f"num_features (the fine trims)")
