"""Families scaled by a width and a depth multiplier, as EfficientNet and MobileNet are (timm's
and torchvision's alike): the multipliers on a lattice of 0.05, each stage's width and the head's
following the width multiplier, rounded as the library rounds them (to a multiple of 8, up where
rounding down would lose over 10%), and the image side.

The widths of all stages cross their rounding points at nearby multipliers, so parameters and
FLOPs jump by up to 9% between multipliers 0.01 apart; a stage's width and the head's width,
moved on their own in steps of 8, are the trims that close the gap. Coarse to fine: a step is a
larger share of an earlier, narrower stage, and the head moves parameters most finely.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .base import Family, Knob, Value


@dataclass(frozen=True)
class Names:
    """What a library calls the knobs: timm's channel_multiplier, torchvision's width_mult, ..."""

    width: str | None  # None: the builder takes no width multiplier
    depth: str | None  # None: no depth multiplier (MNASNet, MobileNetV3 in torchvision)
    stages: str  # each stage's output channels
    head: str  # the head's width
    library: str  # "timm", "torchvision": in notes


def float_step(base: float) -> float:
    """Multipliers move in steps of 0.05 (the published ones do: 1.1, 1.4, 0.75, 0.35), 0.01 for
    a baseline off that lattice."""
    return 0.05 if abs(base / 0.05 - round(base / 0.05)) < 1e-6 else 0.01


def size_step(size: int) -> int:
    """The image side moves in multiples of the total stride 32, or of the largest power of two
    dividing the baseline's (EfficientNet-B1 is published at 240, B2 at 260)."""
    return next(m for m in (32, 16, 8, 4, 2, 1) if size % m == 0)


def multiplier_family(name: str, source: str, names: Names, base: dict[str, Value], img_size: int,
                      rounding: Callable[[float], int], divisor: int, head_follows: bool, fixed: dict) -> Family:
    """`base`: the baseline's multipliers (under names.width and names.depth), stage widths and head
    width; `rounding`: the library's rounding of a multiplied width onto multiples of `divisor`;
    `head_follows`: whether the library scales the head with the width multiplier; `fixed`: the
    source's arguments that name the model (timm's entry, torchvision's arch)."""
    knobs = []
    if names.width:
        step = float_step(base[names.width])
        knobs.append(Knob(names.width, "width", multiple_of=step, minimum=0.1, maximum=8.0, flops_power=2,
                          note=f"{names.library}'s width multiplier, steps of {step}; {names.stages} follow it"))
    if names.depth:
        step = float_step(base[names.depth])
        knobs.append(Knob(names.depth, "depth", multiple_of=step, minimum=0.1, maximum=8.0,
                          note=f"{names.library}'s depth multiplier, steps of {step}: each stage's blocks x it, "
                               f"rounded up"))
    m = size_step(img_size)
    knobs.append(Knob("img_size", "input", multiple_of=m, minimum=32, maximum=4096, flops_power=2,
                      note=f"image side, multiples of {m}"))
    # Without a width multiplier the widths are trims only: no strategy scales them.
    knobs.append(Knob(names.stages, "width" if names.width else "trim", multiple_of=divisor, minimum=divisor,
                      maximum=16384, flops_power=2, follows=names.width, rounding=rounding,
                      note=f"each stage's output channels, multiples of {divisor}: scaled with {names.width} and "
                           f"rounded as {names.library} rounds them; the fine trim"))
    head_leader = names.width if head_follows else None
    knobs.append(Knob(names.head, "width" if head_leader else "trim", multiple_of=divisor, minimum=divisor,
                      maximum=16384, flops_power=1, follows=head_leader, rounding=rounding,
                      note=f"the head's width, multiples of {divisor}: "
                           + (f"scaled with {names.width}" if head_leader else f"kept as {names.library} keeps it")
                           + "; a trim"))
    multipliers = [n for n in (names.width, names.depth) if n]

    def read(model) -> dict[str, Value]:
        return {**{n: base[n] for n in multipliers}, "img_size": img_size, names.stages: tuple(base[names.stages]),
                names.head: base[names.head]}

    def to_kwargs(v: dict[str, Value]) -> tuple[dict, dict]:
        kwargs = {**fixed, **{n: v[n] for n in multipliers}, names.stages: list(v[names.stages]),
                  names.head: v[names.head]}
        return kwargs, {"image_size": (v["img_size"], v["img_size"])}

    return Family(
        name=name, knobs=tuple(knobs), read=read, to_kwargs=to_kwargs, source=source,
        trims=((names.stages, -3), (names.stages, -2), (names.stages, -1), (names.head, None)),
        description=f"{', '.join(multipliers) or 'no multiplier'} (rebuilt through {source}), img_size, "
                    f"{names.stages} and {names.head} (the fine trims)")
