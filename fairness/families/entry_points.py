"""Entry points that fix their own sizes, called with other ones.

A library's entry point often passes a model's sizes to its builder itself: timm's
`efficientnet_b0()` calls `_gen_efficientnet('efficientnet_b0', channel_multiplier=1.0, ...)`,
torchvision's `efficientnet_b0()` calls `_efficientnet_conf('efficientnet_b0', width_mult=1.0,
...)`, so a keyword given to the entry point reaches the builder twice and is refused. Here an
entry point is called as a copy of itself (a new function object over the same code) whose one
global name, its builder, is a wrapper that sees the arguments the entry point passes and may
change them. The library's modules are never changed, not even for the length of a call.
"""

from __future__ import annotations

import inspect
import types
from typing import Callable

from .registry import NoFamily


def with_global(fn, name: str, value):
    """A copy of function `fn` that finds `value` under the global `name`."""
    copy = types.FunctionType(fn.__code__, {**fn.__globals__, name: value}, fn.__name__, fn.__defaults__,
                              fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    return copy


def callee(fn, prefix: str, what: str) -> tuple[str, Callable]:
    """The one global function that `fn` calls whose name starts with `prefix` (its builder)."""
    fn = inspect.unwrap(fn)  # past decorators such as torchvision's handle_legacy_interface
    names = [n for n in fn.__code__.co_names if n.startswith(prefix) and callable(fn.__globals__.get(n))]
    if len(names) != 1:
        raise NoFamily(f"{what}: expected one {prefix}* call in {fn.__module__}.{fn.__name__}, found "
                       f"{names or 'none'}; declare a family in YAML for a python: factory instead")
    return names[0], fn.__globals__[names[0]]


class _Seen(Exception):
    """Stops a call once the builder's arguments are read."""


def with_builder(fn, name: str, wrapper: Callable) -> Callable:
    """A copy of entry point `fn` (its decorators left out) whose builder `name` is `wrapper`,
    called as wrapper(builder, bound_arguments) with the arguments bound to the builder's signature."""
    inner = inspect.unwrap(fn)
    builder = inner.__globals__[name]
    signature = inspect.signature(builder)

    def call(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return wrapper(builder, bound)

    return with_global(inner, name, call)


def arguments_passed(fn, name: str, **kwargs) -> dict:
    """The arguments entry point `fn`, called with `kwargs`, passes to its builder `name`, the
    builder's defaults included; nothing is built."""
    seen = {}

    def stop(builder, bound):
        seen.update(bound.arguments)
        raise _Seen

    try:
        with_builder(fn, name, stop)(**kwargs)
    except _Seen:
        return seen
    raise NoFamily(f"{fn.__module__}.{fn.__name__} returned without calling {name}")
