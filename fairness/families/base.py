"""Scalable families: a model's knobs, their lattice, and how a variant is built.

A knob is an integer (ViT depth) or a tuple of integers scaled together
(ResNet's blocks per stage). Each has a role (depth, width, input, or trim), the
lattice its values live on (a minimum, a maximum, a multiple), and how FLOPs
grow with it (`flops_power`: 1 for depth and sequence length, 2 for width and
image side), which is what lets a strategy spread a change over its knobs.

A strategy's main knobs move in coarse steps (a ViT's width in whole heads, a
block of depth), so a family also names its trims: the smallest other steps
(an MLP's hidden size in multiples of 8, one stage's channels) that close the
last gap to a target after the main knobs have moved. A knob whose role is
"trim" is never scaled by a strategy; it is an offset from what the main knobs
imply (0 in the baseline), so the variant's knobs record the trim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from ..errors import FairnessError

Value = int | tuple[int, ...]


@dataclass(frozen=True)
class Knob:
    name: str
    role: str  # "depth" | "width" | "input" | "trim"
    multiple_of: int = 1
    minimum: int = 1
    maximum: int = 65536
    flops_power: float = 1.0  # FLOPs ~ value ** flops_power, other knobs fixed
    note: str = ""  # the lattice in words, for errors and --help
    # Another knob this one is scaled with, by the same factor, so their ratio is kept (an MLP's
    # hidden size follows the width); it is not scaled by a strategy on its own.
    follows: str | None = None

    def snap(self, x: float) -> int:
        """The nearest lattice value to x."""
        m = self.multiple_of
        v = max(self.minimum, min(self.maximum, int(round(x / m)) * m))
        if v < self.minimum:
            v += m * math.ceil((self.minimum - v) / m)
        return v

    def scale(self, base: Value, factor: float) -> Value:
        if isinstance(base, tuple):
            return tuple(self.snap(b * factor) for b in base)
        return self.snap(base * factor)

    def check(self, value: Value, family: str) -> None:
        for v in (value if isinstance(value, tuple) else (value,)):
            if not isinstance(v, int) or v < self.minimum or v > self.maximum or v % self.multiple_of:
                raise FairnessError(
                    f"{family} knob {self.name}={value!r}: off the lattice; expected integers in "
                    f"[{self.minimum}, {self.maximum}] that are multiples of {self.multiple_of}"
                    + (f" ({self.note})" if self.note else ""))


def size_of(value: Value) -> int:
    """A knob's magnitude: the value, or the sum of a tuple (total blocks, total channels)."""
    return sum(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class Family:
    """A scalable model family.

    `read(model)` gives the knob values of a built model; `to_kwargs(values)` gives the
    constructor kwargs and the input overrides (image_size, seq_len) of a variant.
    """

    name: str
    knobs: tuple[Knob, ...]
    read: Callable[[object], dict[str, Value]]
    to_kwargs: Callable[[dict[str, Value]], tuple[dict, dict]]
    description: str = ""
    extra_checks: Callable[[dict[str, Value]], str | None] = field(default=lambda values: None)
    # The fine steps that close the last gap, in order: (knob, element index of a tuple knob or None).
    trims: tuple[tuple[str, int | None], ...] = ()

    def knob(self, name: str) -> Knob:
        for k in self.knobs:
            if k.name == name:
                return k
        raise FairnessError(f"{self.name}: no knob {name!r}; knobs: {', '.join(k.name for k in self.knobs)}")

    def roles(self) -> set[str]:
        return {k.role for k in self.knobs}

    def check(self, values: dict[str, Value]) -> None:
        for k in self.knobs:
            if k.name in values:
                k.check(values[k.name], self.name)
        problem = self.extra_checks(values)
        if problem:
            raise FairnessError(f"{self.name}: {problem}")
