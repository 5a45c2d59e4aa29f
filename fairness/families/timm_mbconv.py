"""timm's EfficientNet and MobileNetV3 (and the other models timm builds the same way: MNASNet,
MobileNetV2, LCNet, ...) scaled by their channel and depth multipliers.

timm's entry points fix their multipliers themselves: `efficientnet_b0()` is
`_gen_efficientnet('efficientnet_b0', channel_multiplier=1.0, depth_multiplier=1.0, **kwargs)`,
so `timm.create_model('efficientnet_b0', channel_multiplier=0.5)` gives the generator the
argument twice and fails. `build` (a `python:` factory: its variants are rebuilt by
`fairness measure python:fairness.families.timm_mbconv:build -k entry=efficientnet_b0
-k channel_multiplier=0.5 ...`) calls a copy of the entry point (entry_points.py) whose
generator (`_gen_*`) is given the multipliers asked for, and whose generator's model creator
(`_create_*`) is given the decoded blocks with each stage's width and the head's width set
exactly: those are the trims (multipliers.py).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from ..errors import FairnessError
from .registry import NoFamily, register_family
from .base import Family
from .entry_points import callee, with_builder
from .multipliers import Names, multiplier_family

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
    stage_chs: tuple[int, ...]  # each stage's output channels, rounded as timm builds them
    num_features: int  # the head's width
    # how the generator rounds a multiplied width (round_channels' divisor and round_limit): every
    # width is a multiple of the divisor, and rounding down may lose at most 1 - round_limit of it
    rounding: tuple = (("divisor", 8),)


def _entry(name: str, what: str):
    from timm.models import is_model, model_entrypoint, split_model_name_tag

    arch, tag = split_model_name_tag(name)
    if not is_model(arch):
        from ..sources import did_you_mean
        import timm

        raise did_you_mean(arch, timm.list_models(), f"timm model for {what}")
    return model_entrypoint(arch), tag


def _call(entry: str, overrides: dict, kwargs: dict, probe: bool, what: str):
    """Call timm's entry point `entry` with its generator given `overrides` (multipliers,
    stage_chs, num_features): the model, or with `probe` the Arch it would have."""
    fn, tag = _entry(entry, what)
    gen_name, gen = callee(fn, "_gen_", what)
    create_name, create = callee(gen, "_create_", what)
    takes = [m for m in MULTIPLIERS if m in inspect.signature(gen).parameters]
    for m in MULTIPLIERS:
        if overrides.get(m) is not None and m not in takes:
            raise FairnessError(f"{what}: timm's {gen_name} takes no {m}; its multipliers: {', '.join(takes) or 'none'}")
    seen: dict = {}

    def creator(real_create, bound):
        var = next(n for n, p in bound.signature.parameters.items() if p.kind == p.VAR_KEYWORD)
        model_kwargs = dict(bound.arguments[var])
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
            seen["arch"] = Arch({m: seen[m] for m in takes}, tuple(w.pop() for w in widths), int(head), rounding)
            raise _Probed
        return real_create(bound.arguments["variant"], bound.arguments["pretrained"], **model_kwargs)

    def generator(real_gen, bound):
        for m in takes:
            if overrides.get(m) is not None:
                bound.arguments[m] = float(overrides[m])
            seen[m] = bound.arguments[m]
        return with_builder(real_gen, create_name, creator)(*bound.args, **bound.kwargs)

    call_kwargs = {**kwargs, **({"pretrained_cfg": tag} if tag else {})}
    try:
        return with_builder(fn, gen_name, generator)(pretrained=False, **call_kwargs)
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


@register_family("timm EfficientNet and MobileNetV3 (channel and depth multipliers)", _matches)
def _mbconv(model, src, size, seq_len) -> Family:
    from .builtin import timm_input_size

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
    from timm.layers import make_divisible

    rounding = dict(arch.rounding)

    def timm_rounding(x: float) -> int:  # as the generator's round_channels rounds a multiplied width
        return make_divisible(x, **rounding)

    names = Names("channel_multiplier" if "channel_multiplier" in arch.multipliers else None,
                  "depth_multiplier" if "depth_multiplier" in arch.multipliers else None,
                  "stage_chs", "num_features", "timm")
    return multiplier_family(f"timm {entry} (channel and depth multipliers)", FACTORY, names,
                             {**arch.multipliers, "stage_chs": arch.stage_chs, "num_features": arch.num_features},
                             size or timm_input_size(model), timm_rounding, rounding.get("divisor", 8), head_follows,
                             {"entry": entry})
