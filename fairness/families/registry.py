"""The registry of built-in families: each module that defines families registers them here,
as timm's models register themselves (`register_family`); families/__init__.py looks them up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import FairnessError

HOW_TO_DECLARE = ("declare one in YAML (--family FILE) with knobs: [{name, role: depth|width|input, "
                  "min, max, multiple_of, base}] and derived arguments, see examples/family.yaml")


class NoFamily(FairnessError):
    """A baseline no registered family scales: a comparison still judges the pair as made."""


@dataclass(frozen=True)
class Registration:
    name: str  # in errors: what is built in
    matches: Callable  # (model, src) -> bool
    build: Callable  # (model, src, image_size, seq_len) -> Family


REGISTRY: list[Registration] = []


def register_family(name: str, matches: Callable):
    """Decorator, as timm's register_model: `build(model, src, image_size, seq_len) -> Family` is
    the family of every built model that `matches(model, src)` accepts. The first match wins."""
    def register(build):
        REGISTRY.append(Registration(name, matches, build))
        return build

    return register
