"""Scalable families: a model's knobs, their lattice, and how a variant is built.

A knob is an integer (ViT depth), a tuple of integers scaled together
(ResNet's blocks per stage), or a float on a lattice of a float step (EfficientNet's
channel multiplier in steps of 0.05): a knob whose `multiple_of` is a float is float-valued. Each has a role (depth, width, input, or trim), the
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

Value = int | float | tuple[int, ...]
# Float lattice points are rounded to this many decimals, so that 14 x 0.05 is 0.7, not 0.7000000000000001.
DECIMALS = 10


@dataclass(frozen=True)
class Knob:
    name: str
    role: str  # "depth" | "width" | "input" | "trim"
    multiple_of: int | float = 1  # the lattice step; a float step makes a float-valued knob
    minimum: int | float = 1
    maximum: int | float = 65536
    flops_power: float = 1.0  # FLOPs ~ value ** flops_power, other knobs fixed
    note: str = ""  # the lattice in words, for errors and --help
    # Another knob this one is scaled with, by the same factor, so their ratio is kept (an MLP's
    # hidden size follows the width); it is not scaled by a strategy on its own.
    follows: str | None = None
    # The library's own rounding onto the lattice where it is not to the nearest point (timm rounds a
    # width up where rounding down would lose over 10% of it), so that a scaled value is the one
    # the library's own scaling gives.
    rounding: Callable[[float], float] | None = None
    # An explicit lattice, ascending, where the values are not the multiples of one step: the
    # key-value head counts a model takes are the divisors of its query heads (1, 2, 4, 8, 32).
    choices: tuple[int, ...] | None = None

    @property
    def is_float(self) -> bool:
        return isinstance(self.multiple_of, float)

    def _at(self, n: int) -> int | float:
        """The n-th lattice point, n x multiple_of."""
        return round(n * self.multiple_of, DECIMALS) if self.is_float else n * self.multiple_of

    def _index(self, v: float) -> int:
        return int(round(v / self.multiple_of))

    def _allowed(self) -> tuple[int, ...]:
        return tuple(c for c in self.choices if self.minimum <= c <= self.maximum)

    def snap(self, x: float) -> int | float:
        """The nearest lattice value to x within [minimum, maximum]."""
        if self.choices:  # nearest in log space: the choices are spread geometrically
            return min(self._allowed(), key=lambda c: abs(math.log(c / max(x, 1e-12))))
        lo = math.ceil(self.minimum / self.multiple_of - 1e-9)  # the tolerance absorbs 0.1 / 0.05 = 2.0000000000000004
        hi = math.floor(self.maximum / self.multiple_of + 1e-9)
        return self._at(max(lo, min(hi, self._index(self.rounding(x) if self.rounding else x))))

    def step(self, v: int | float, n: int) -> int | float:
        """The lattice value n steps from v (not clamped: the caller checks the bounds). From a
        baseline's own value off the lattice (resnet14t's 176 px, load_baseline), the first step
        is to the lattice point next to it on that side (192 up, 160 down)."""
        if self.choices:
            i = self.choices.index(v) + n
            return self.choices[i] if 0 <= i < len(self.choices) else 0  # 0: off the lattice
        # the tolerance keeps a lattice value's own index (0.7 / 0.05 = 13.999999999999998)
        near = math.floor(v / self.multiple_of + 1e-9) if n > 0 else math.ceil(v / self.multiple_of - 1e-9)
        return self._at(near + n)

    def steps_in(self, distance: float) -> int:
        """How many whole steps fit in `distance`."""
        if self.choices:
            raise ValueError(f"knob {self.name}: a knob of explicit choices is no trim")
        return int(math.floor(distance / self.multiple_of + 1e-9))

    def scale(self, base: Value, factor: float) -> Value:
        if isinstance(base, tuple):
            return tuple(self.snap(b * factor) for b in base)
        return self.snap(base * factor)

    def on_lattice(self, v) -> bool:
        if isinstance(v, bool) or not isinstance(v, (float, int) if self.is_float else int):
            return False
        if self.choices:
            return v in self._allowed()
        return (self.minimum - 1e-9 <= v <= self.maximum + 1e-9
                and abs(v / self.multiple_of - self._index(v)) < 1e-6)

    def check(self, value: Value, family: str) -> None:
        for v in (value if isinstance(value, tuple) else (value,)):
            if not self.on_lattice(v):
                kind = "numbers" if self.is_float else "integers"
                if self.choices:
                    raise FairnessError(f"{family} knob {self.name}={value!r}: expected one of "
                                        f"{', '.join(map(str, self._allowed()))}"
                                        + (f" ({self.note})" if self.note else ""))
                raise FairnessError(
                    f"{family} knob {self.name}={value!r}: off the lattice; expected {kind} in "
                    f"[{self.minimum}, {self.maximum}] that are multiples of {self.multiple_of}"
                    + (f" ({self.note})" if self.note else ""))


def size_of(value: Value) -> int | float:
    """A knob's magnitude: the value, or the sum of a tuple (total blocks, total channels)."""
    return sum(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class Family:
    """A scalable model family.

    `read(model)` gives the knob values of a built model; `to_kwargs(values)` gives the
    constructor kwargs and the input overrides (image_size, seq_len) of a variant. A variant is
    built from the baseline's source with its kwargs updated, or from `source` where the
    baseline's own cannot take the knobs (a timm or torchvision entry point that fixes them
    itself): a `python:` factory, which `to_kwargs` gives every argument it needs, so that the
    variant's source and kwargs rebuild it.
    """

    name: str
    knobs: tuple[Knob, ...]
    read: Callable[[object], dict[str, Value]]
    to_kwargs: Callable[[dict[str, Value]], tuple[dict, dict]]
    description: str = ""
    extra_checks: Callable[[dict[str, Value]], str | None] = field(default=lambda values: None)
    # The fine steps that close the last gap, in order: (knob, element index of a tuple knob or None).
    trims: tuple[tuple[str, int | None], ...] = ()
    source: str | None = None  # "python:module:factory" the variants are built from; None: the baseline's

    def knob(self, name: str) -> Knob:
        for k in self.knobs:
            if k.name == name:
                return k
        raise FairnessError(f"{self.name}: no knob {name!r}; knobs: {', '.join(k.name for k in self.knobs)}")

    def roles(self) -> set[str]:
        return {k.role for k in self.knobs}

    def check(self, values: dict[str, Value], knobs: set[str] | None = None) -> None:
        """`values` on the knobs' lattices (only the `knobs` named, where given) and consistent."""
        for k in self.knobs:
            if k.name in values and (knobs is None or k.name in knobs):
                k.check(values[k.name], self.name)
        problem = self.extra_checks(values)
        if problem:
            raise FairnessError(f"{self.name}: {problem}")
