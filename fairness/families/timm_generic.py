"""One family for the timm models no specific family knows (EVA02, Hiera, MaxViT, CoAtNet,
FastViT, EfficientViT, MambaOut, LeViT, ...), from their constructors' own size arguments.

A timm entry point names a model by the keyword arguments it gives its class
(`eva02_tiny_patch14_224` passes depth=12, embed_dim=192, num_heads=3, mlp_ratio=8/3 to
`Eva`), and most merge the caller's over them (`dict(model_args, **kwargs)`), so a scaled
variant is the same `timm:NAME` with other `-k`. The arguments are read by calling a copy of
the entry point whose timm builder (`build_model_with_cfg`) stops the call once it sees them
(entry_points.with_global: timm's modules are not changed); a config dataclass passed as
`model_cfg` (MaxViT's and CoAtNet's MaxxVitCfg) lends its fields, which the class overlays
with its kwargs. The knobs are the arguments under the names the model uses:

    depth   depth / depths / layers / stages: blocks, or blocks per stage scaled together
    width   embed_dim / embed_dims / dims / widths: one width, or each stage's scaled by one
            factor; num_heads kept, so the width moves in multiples of the heads times a head
            quantum, or, where no such step divides the baseline's widths, the head size kept
            (num_heads follows the width)
    input   img_size where the class takes it (else the input alone), in multiples of the patch
            or of 32
    trims   the widest and the first stage's width, then mlp_ratio(s) in steps of 1/400 of it

Every knob is checked by building the model on meta: the smallest lattice step at which the
model builds (and runs, for the input) at the step and at half and double its size is kept,
and a knob whose change leaves the parameters as they were (the entry point ignores it) is
dropped; the family's description says what was dropped and why. An entry point that refuses
a second value (one that calls its builder with depth=12 beside **kwargs) has its variants
built from its class (`python:timm.models.NAME:Class`) with every argument it recorded.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import types
from functools import reduce

import torch

from ..errors import FairnessError
from .base import Family, Knob, Value
from .entry_points import with_global
from .registry import NoFamily, register_family

DEPTHS = ("depths", "depth", "layers", "stages")
WIDTHS = ("embed_dim", "embed_dims", "dims", "widths")
MLP_RATIOS = ("mlp_ratio", "mlp_ratios")
# What timm's builder consumes itself; the rest reach the class.
BUILDER_ONLY = {"features_only", "out_indices", "feature_cls", "pretrained_cfg", "pretrained_cfg_overlay"}
REFUSED = "multiple values for keyword argument"


class _Seen(Exception):
    def __init__(self, cls, args):
        super().__init__()
        self.cls, self.arguments = cls, args


def _stopping(fn, builder, stop, depth: int = 2):
    """A copy of `fn` whose calls to timm's `builder` go to `stop`, also through the module's
    own functions it calls (the entry point's `_create_*`), `depth` calls deep."""
    fn = inspect.unwrap(fn)
    for name in fn.__code__.co_names:
        obj = fn.__globals__.get(name)
        if obj is builder:
            fn = with_global(fn, name, stop)
        elif depth and isinstance(obj, types.FunctionType) and obj.__module__ == fn.__module__ and obj is not fn:
            fn = with_global(fn, name, _stopping(obj, builder, stop, depth - 1))
    return fn


def constructor_arguments(name: str, kwargs: dict) -> tuple[type, dict]:
    """The class timm's entry `name` builds and the keyword arguments it gives it (a
    `model_cfg` dataclass's fields first, the kwargs over them); nothing is built."""
    from timm.models import is_model, model_entrypoint, split_model_name_tag
    from timm.models._builder import build_model_with_cfg

    arch = split_model_name_tag(name)[0]
    if not is_model(arch):
        raise NoFamily(f"timm:{name}: not a timm model name")
    signature = inspect.signature(build_model_with_cfg)

    def stop(*args, **kw):
        bound = signature.bind(*args, **kw)
        cfg = bound.arguments.get("model_cfg")
        fields = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)} if dataclasses.is_dataclass(cfg) else {}
        given = {k: v for k, v in bound.arguments.get("kwargs", {}).items() if k not in BUILDER_ONLY}
        raise _Seen(bound.arguments["model_cls"], {**fields, **given})

    try:
        _stopping(model_entrypoint(arch), build_model_with_cfg, stop)(pretrained=False, **kwargs)
    except _Seen as seen:
        return seen.cls, seen.arguments
    except Exception as e:
        raise NoFamily(f"timm:{name}: reading its constructor's arguments failed ({type(e).__name__}: {e}); "
                       f"declare a family in YAML for a python: factory instead") from None
    raise NoFamily(f"timm:{name}: its entry point does not call timm's build_model_with_cfg, so its constructor's "
                   f"arguments are unknown; declare a family in YAML for a python: factory instead")


def _ints(v) -> int | tuple[int, ...] | None:
    """An integer or a tuple of integers (a list becomes a tuple), else None."""
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, (list, tuple)) and v and all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        return tuple(v)
    return None


def _first(args: dict, names: tuple[str, ...]) -> str | None:
    return next((n for n in names if _ints(args.get(n)) is not None), None)


def _plain(v) -> bool:
    """What a python: source's kwargs can hold (they are saved as JSON with the variant)."""
    if isinstance(v, (list, tuple)):
        return all(_plain(x) for x in v)
    return v is None or isinstance(v, (bool, int, float, str))


def _as_tuple(v) -> tuple:
    return v if isinstance(v, tuple) else (v,)


def _like(v, base):
    """`v` (a tuple) shaped as `base`: a tuple, or its one element."""
    return v if isinstance(base, tuple) else v[0]


def _matches(model, src) -> bool:
    # registered last: every timm model no specific family took (build says why where it cannot)
    return src is not None and src.kind == "timm" and type(model).__module__.startswith("timm.")


class _Prober:
    """Builds variants of the baseline on meta: `params(kwargs)`, or None where the model cannot
    be built (with the reason kept in `last_error`)."""

    def __init__(self, src, cls, args, size):
        self.src, self.cls, self.args, self.size = src, cls, args, size
        self.last_error = ""
        self.source = None  # "python:module:Class" where the entry point refuses the knobs
        self.cache = {}

    def variant(self, kwargs: dict):
        from ..sources import Source

        if self.source:
            kind, name = self.source.split(":", 1)
            return Source(kind, name, {**self.args, **kwargs})
        return Source(self.src.kind, self.src.name, {**self.src.kwargs, **kwargs})

    def params(self, kwargs: dict, image: int | None = None, forward: bool = False) -> float | None:
        from ..indicators import flops as flops_mod
        from ..sources import InputSpec, build, make_inputs

        key = (repr(sorted(kwargs.items())), image, forward)
        if key in self.cache:
            return self.cache[key]
        out = None
        try:
            model = build(self.variant(kwargs), "meta")
            if forward:
                spec = InputSpec(image_size=(image or self.size,) * 2)
                ins = make_inputs(model, self.variant(kwargs), spec, 1, "meta")
                out = float(flops_mod.count(model, ins.args, ins.kwargs).macs)
            else:
                out = float(sum(p.numel() for p in model.parameters()))
        except FairnessError as e:
            self.last_error = e.message
        except Exception as e:  # the forward pass at a size the model cannot take
            self.last_error = f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
        self.cache[key] = out
        return out


def _depth_knob(name: str, base, prober: _Prober, base_params: float, dropped: list) -> Knob | None:
    knob = Knob(name, "depth", minimum=1, maximum=64, note="blocks" if isinstance(base, int) else "blocks per stage")
    for factor in (2.0, 0.5):
        got = prober.params({name: knob.scale(base, factor)})
        if got is not None and got != base_params:
            return knob
    dropped.append(f"{name} (" + ("ignored: the parameters stay" if got == base_params
                                  else f"not buildable at half or double: {prober.last_error}") + ")")
    return None


def _width_step(widths: tuple, heads: tuple | None, prober: _Prober, base_params: float, kwargs_of) -> int | None:
    """The finest step, among the multiples of the heads (their lcm) that divide every width, at
    which the model builds (and runs, one step up) one step up and down and at half and double
    width, with other parameters than the baseline's; `kwargs_of(widths)` gives a point's arguments."""
    g = reduce(math.gcd, widths)
    unit = reduce(lambda a, b: a * b // math.gcd(a, b), heads) if heads else 1
    steps = [s for s in range(unit, g + 1, unit) if g % s == 0]
    if g % 8 == 0 and any(s % 8 == 0 for s in steps):
        steps = [s for s in steps if s % 8 == 0]  # conv and attention widths live on multiples of 8
    for s in steps:
        knob = Knob("width", "width", multiple_of=s, minimum=s)
        points = [tuple(w + s for w in widths), knob.scale(widths, 2.0), knob.scale(widths, 0.5)]
        if min(widths) > s:
            points.append(tuple(w - s for w in widths))
        ok = prober.params(kwargs_of(points[0]), forward=True) is not None
        for p in dict.fromkeys(points) if ok else ():
            got = prober.params(kwargs_of(p))
            if got is None or got == base_params:
                ok = False
                break
        if ok:
            return s
    return None


def _size_step(args: dict, size: int, prober: _Prober, takes_size: bool) -> int | None:
    """The image side's step: the patch where the model has one, else the stride 32 (then 64,
    ...), the finest at which a forward pass runs one step up and down."""
    patch = _ints(args.get("patch_size"))
    patch = patch if isinstance(patch, int) else (patch[0] if patch else None)
    for s in ([patch] if patch else []) + [32, 64, 112, 224]:
        if size % s:
            continue
        if all(prober.params({"img_size": v} if takes_size else {}, image=v, forward=True) is not None
               for v in (size + s, size - s) if v >= s):
            return s
    return None


@register_family("timm, from the constructor's own depth and width arguments", _matches)
def generic_timm_family(model, src, size=None, seq_len=None) -> Family:
    from .builtin import timm_input_size

    cls, args = constructor_arguments(src.name, src.kwargs)
    what = f"timm:{src.name} ({cls.__module__}.{cls.__name__})"
    signature = inspect.signature(cls).parameters
    for n, p in signature.items():  # a size left to the class's default is a size too
        if n not in args and p.default is not inspect.Parameter.empty and n in DEPTHS + WIDTHS + MLP_RATIOS:
            args[n] = p.default
    depth, width = _first(args, DEPTHS), _first(args, WIDTHS)
    if depth is None and width is None:
        raise NoFamily(f"{what}: its constructor takes none of {', '.join(DEPTHS + WIDTHS)} as integers "
                       f"(its arguments: {', '.join(sorted(args)) or 'none'}); declare a family in YAML "
                       f"(--family FILE) for a python: factory that takes its sizes")
    img = size or timm_input_size(model)
    prober = _Prober(src, cls, args, img)
    base_params = prober.params({})
    probe = depth or width
    if prober.params({probe: _ints(args[probe])}) is None and REFUSED in prober.last_error:
        # the entry point fixes its sizes: variants are built from the class itself
        unplain = sorted(k for k, v in args.items() if not _plain(v))
        if unplain:
            raise NoFamily(f"{what}: the entry point refuses a second {probe} and the class's arguments "
                           f"{', '.join(unplain)} are not plain values a python: source can hold; declare a "
                           f"family in YAML for a python: factory instead")
        prober.source = f"python:{cls.__module__}:{cls.__name__}"
        prober.cache.clear()
        rebuilt = prober.params({})
        if rebuilt != base_params:
            raise NoFamily(f"{what}: rebuilt from {prober.source} with its entry's arguments it has {rebuilt} "
                           f"parameters, not {base_params}; declare a family in YAML instead")
    dropped: list[str] = []
    knobs: list[Knob] = []
    values: dict[str, Value] = {}
    trims: list[tuple[str, int | None]] = []
    kept_heads = ""

    if depth:
        k = _depth_knob(depth, _ints(args[depth]), prober, base_params, dropped)
        if k:
            knobs.append(k)
            values[depth] = _ints(args[depth])

    expand, knob_name = None, None  # the width knob, and its value -> the constructor's width (and heads) arguments
    if width:
        base = _ints(args[width])
        widths = _as_tuple(base)
        heads = _ints(args.get("num_heads"))
        hs = None if heads is None else (_as_tuple(heads) * len(widths) if isinstance(heads, int) else heads)

        def plain(p):
            return {width: _like(p, base)}

        step, expand, knob_name, value = None, plain, width, base
        if hs is None or len(hs) == len(widths):
            step = _width_step(widths, hs, prober, base_params, plain)
            kept_heads = f"num_heads {heads} kept" if hs else ""
        sizes = {w // h for w, h in zip(widths, hs)} if hs else set()
        if step is None and len(sizes) == 1 and all(w % h == 0 for w, h in zip(widths, hs)):
            head = sizes.pop()  # no step keeps the heads: keep the head size, the heads follow

            def with_heads(p, head=head, heads=heads):
                n = tuple(max(1, w // head) for w in p)
                return {width: _like(p, base), "num_heads": n if isinstance(heads, tuple) else n[0]}

            step, expand = _width_step(widths, (head,), prober, base_params, with_heads), with_heads
            kept_heads = f"head size {head} kept, num_heads = width / {head}"
        if step is None and hs is None and len(widths) > 1 and all(w % widths[0] == 0 for w in widths):
            # stages whose widths must divide each other (FastViT's grouped downsampling): the
            # first stage's width is the knob, every other keeps its multiple of it
            ratios = tuple(w // widths[0] for w in widths)

            def from_first(p, ratios=ratios):
                return {width: tuple(p[0] * r for r in ratios)}

            step = _width_step((widths[0],), None, prober, base_params, from_first)
            expand, knob_name, value = from_first, f"{width}[0]", widths[0]
            kept_heads = f"the other stages {ratios} times it"
        if step is None:
            dropped.append(f"{width} (no step builds: {prober.last_error or 'the parameters stay'})")
        else:
            knobs.append(Knob(knob_name, "width", multiple_of=step, minimum=step, maximum=16384, flops_power=2,
                              note=f"multiples of {step}" + (f"; {kept_heads}" if kept_heads else "")
                                   + ("; every stage by one factor" if isinstance(value, tuple) else "")))
            values[knob_name] = value
            if isinstance(value, tuple):
                trims += [(knob_name, -1), (knob_name, 0)]

    if not knobs:
        raise NoFamily(f"{what}: no depth or width argument changes the model: {'; '.join(dropped)}; declare a "
                       f"family in YAML for a python: factory that takes its sizes")

    # LevitDistilled takes *args: its base class names img_size (which sizes its attention biases)
    takes_size = "img_size" in args or any("img_size" in inspect.signature(c).parameters
                                           for c in cls.__mro__ if issubclass(c, torch.nn.Module) and c is not torch.nn.Module)
    s = _size_step(args, img, prober, takes_size)
    if s:
        knobs.append(Knob("img_size", "input", multiple_of=s, minimum=s, maximum=4096, flops_power=2,
                          note=f"image side, multiples of {s}" + ("" if takes_size else " (the input only)")))
        values["img_size"] = img
    else:
        dropped.append(f"img_size (no step of the patch or 32 to 224 runs: {prober.last_error})")

    mlp = next((n for n in MLP_RATIOS if n in args), None)
    ratios = args.get(mlp)
    ratios = tuple(ratios) if isinstance(ratios, list) else ratios
    if mlp and all(isinstance(r, (int, float)) and not isinstance(r, bool) and r > 0 for r in _as_tuple(ratios)):
        ratios = tuple(float(r) for r in ratios) if isinstance(ratios, tuple) else float(ratios)
        # a 400th of the ratio moves the MLP by a quarter percent: fine enough to close the last gap
        step = min(_as_tuple(ratios)) / 400
        moved = tuple(r * 1.25 for r in _as_tuple(ratios))
        if any(abs(r / step - round(r / step)) > 1e-6 for r in _as_tuple(ratios)):
            dropped.append(f"{mlp} (its ratios {ratios} share no step of a 400th)")
        elif prober.params({mlp: _like(moved, ratios)}) in (None, base_params):
            dropped.append(f"{mlp} (ignored, or not buildable 25% larger: {prober.last_error})")
        else:
            knobs.append(Knob(mlp, "trim", multiple_of=step, minimum=step, maximum=64.0, flops_power=2,
                              note=f"the MLP's ratio to the width, steps of {step:.4g}; the fine trim"))
            values[mlp] = ratios
            trims += [(mlp, -1), (mlp, 0)] if isinstance(ratios, tuple) else [(mlp, None)]

    names = [k.name for k in knobs]

    def to_kwargs(v: dict[str, Value]) -> tuple[dict, dict]:
        kwargs = {n: v[n] for n in names if n not in (knob_name, "img_size")}
        if takes_size:
            kwargs["img_size"] = v.get("img_size", img)
        if expand and knob_name in v:
            kwargs.update(expand(_as_tuple(v[knob_name])))
        if prober.source:
            kwargs = {**args, **kwargs}
        s = v.get("img_size", img)
        return kwargs, {"image_size": (s, s)}

    return Family(
        name=f"timm {cls.__name__} (generic)", knobs=tuple(knobs), read=lambda m: dict(values), to_kwargs=to_kwargs,
        trims=tuple(trims), source=prober.source,
        description=f"{cls.__name__}'s own arguments: {', '.join(names)}"
                    + (f" ({kept_heads})" if kept_heads else "")
                    + (f"; built from {prober.source}, since the entry point fixes them" if prober.source else "")
                    + (f"; not scaled: {'; '.join(dropped)}" if dropped else ""))
