"""A family declared in YAML, for a `python:` factory whose kwargs are its knobs.

    name: my-net                      # shown in reports
    knobs:
      - {name: depth, role: depth, base: 12, min: 1, max: 48}
      - {name: width, role: width, base: 384, min: 64, max: 4096, multiple_of: 64}
      - {name: mlp_ratio, role: width, base: 4.0, min: 1.0, max: 8.0, multiple_of: 0.25}
      - {name: image_size, role: input, base: 224, min: 32, max: 1024, multiple_of: 32}
    derived:                          # more kwargs, worked out from the knobs
      num_heads: width / 64

Each knob is a keyword argument of the factory, except an input knob named
`image_size` or `seq_len`, which sets the example input only. An input knob under the
model's own name (`img_size`, which sizes a ViT's position embeddings) is both: passed to the
factory and the example input's image side (`input: seq_len` makes it the sequence length
instead), so that the model and its input agree. `base` is the
baseline's value (a `-k` given with the source overrides it). A knob lives on the
multiples of `multiple_of` in [min, max]; a float `multiple_of` (0.05, 0.25) makes a
float knob, such as a multiplier; min and max are rounded inwards onto the lattice.
`flops_power` (how FLOPs grow with the knob) defaults to 2 for width and an image side,
else 1. A derived argument is an expression of knob names and numbers with + - * /
// and parentheses, nothing else: a whole result is passed as an integer (width / 64
for num_heads: give width a multiple_of of 64, or write width // 64 to round down).

A knob the factory fixes itself (timm's entry points pass their own depth and width to
the model, so a second is refused or ignored) is found when the baseline is loaded:
`check_knobs_take_effect` builds the family at another value of each knob.
"""

from __future__ import annotations

import ast
import math
import operator
import re

from ..errors import FairnessError
from ..spec import read_yaml
from .base import DECIMALS, Family, Knob, Value

ROLES = ("depth", "width", "input")
KNOB_KEYS = {"name", "role", "base", "min", "max", "multiple_of", "flops_power", "note", "input"}
TOP_KEYS = {"name", "knobs", "derived"}
INPUTS = ("image_size", "seq_len")
OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
             ast.FloorDiv: operator.floordiv}


def load_family_spec(path: str) -> dict:
    spec = read_yaml(path, f"--family {path}")
    if not isinstance(spec, dict) or not isinstance(spec.get("knobs"), list) or not spec["knobs"]:
        raise FairnessError(f"--family {path}: expected a mapping with a non-empty 'knobs' list "
                            f"(see examples/family.yaml)")
    unknown = set(spec) - TOP_KEYS
    if unknown:
        raise FairnessError(f"--family {path}: unknown keys {sorted(map(str, unknown))}; known: {sorted(TOP_KEYS)}")
    spec["_path"] = path
    return spec


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0


def _input_of(entry: dict, path: str) -> str | None:
    """Which example input an input knob sets: its own name where that is image_size or seq_len,
    else `input:` (image_size by default); None for other roles."""
    name, role = entry.get("name"), entry.get("role")
    if role != "input":
        if "input" in entry:
            raise FairnessError(f"--family {path}: knob {name}: 'input' is for input knobs only (role: input)")
        return None
    which = entry.get("input", name if name in INPUTS else "image_size")
    if which not in INPUTS or (name in INPUTS and which != name):
        raise FairnessError(f"--family {path}: knob {name}: input: {which!r}; expected one of {', '.join(INPUTS)}"
                            + (f" (a knob named {name} sets {name})" if name in INPUTS else ""))
    return which


def _knob(entry, path: str) -> tuple[Knob, Value]:
    if not isinstance(entry, dict):
        raise FairnessError(f"--family {path}: each knob is a mapping, got {entry!r}")
    unknown = set(entry) - KNOB_KEYS
    if unknown:
        raise FairnessError(f"--family {path}: knob {entry.get('name')!r} has unknown keys "
                            f"{sorted(map(str, unknown))}; known: {sorted(KNOB_KEYS)}")
    name, role = entry.get("name"), entry.get("role")
    if not isinstance(name, str) or not name.isidentifier() or role not in ROLES:
        raise FairnessError(f"--family {path}: knob {entry!r} needs a name (a keyword argument) and a role in {ROLES}")
    step = entry.get("multiple_of", 1)
    if isinstance(step, float) and step.is_integer():
        step = int(step)  # 8.0 is the integer lattice of 8
    floats = isinstance(step, float)
    lo, hi = entry.get("min", step), entry.get("max", 65536)
    if not all(_number(v) for v in (step, lo, hi)) or (not floats and not all(isinstance(v, int) for v in (lo, hi))):
        kind = "positive numbers" if floats else "positive integers (a float multiple_of, e.g. 0.05, makes a float knob)"
        raise FairnessError(f"--family {path}: knob {name}: min, max and multiple_of are {kind}, got "
                            f"min={lo!r}, max={hi!r}, multiple_of={step!r}")
    # the bounds rounded inwards onto the lattice, so that every value in them is on it
    lo_n, hi_n = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    if lo_n > hi_n:
        raise FairnessError(f"--family {path}: knob {name}: no multiple of {step} lies in [min {lo}, max {hi}]; "
                            f"widen the range or change multiple_of")
    minimum, maximum = ((round(n * step, DECIMALS) if floats else n * step) for n in (lo_n, hi_n))
    base = entry.get("base")
    if not _number(base) or (not floats and not isinstance(base, int)):
        raise FairnessError(f"--family {path}: knob {name}: 'base' (the baseline's value) is a positive "
                            f"{'number' if floats else 'integer'}, got {base!r}")
    power = entry.get("flops_power", 2 if role == "width" or _input_of(entry, path) == "image_size" else 1)
    note = str(entry.get("note", "")) or (f"multiples of {step} in [{minimum}, {maximum}]"
                                          + (f" (max {hi} rounded down)" if maximum != hi else ""))
    return Knob(name, role, step, minimum, maximum, float(power), note), base


def _expression(name, text, knobs: set[str], path: str) -> ast.Expression:
    """A derived argument's expression, parsed and checked: numbers, knob names, + - * / // and
    parentheses (no calls, no attributes: nothing runs but arithmetic)."""
    what = f"--family {path}: derived {name}: {text!r}"
    if not isinstance(name, str) or not name.isidentifier() or name in knobs:
        raise FairnessError(f"--family {path}: derived {name!r}: expected a keyword argument's name that is no knob's")
    if not isinstance(text, (str, int, float)) or isinstance(text, bool):
        raise FairnessError(f"{what}: expected an expression such as \"width / 64\"")
    try:
        tree = ast.parse(str(text), mode="eval")
    except SyntaxError:
        raise FairnessError(f"{what}: not an expression; write e.g. \"width / 64\" or \"4 * width\"") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in knobs:
            raise FairnessError(f"{what}: {node.id!r} is no knob; knobs: {', '.join(sorted(knobs))}")
        ok = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.USub, ast.UAdd, ast.Name, ast.Load, *OPERATORS)
        number = isinstance(node, ast.Constant) and type(node.value) in (int, float)
        if not isinstance(node, ok) and not number:
            raise FairnessError(f"{what}: only numbers, knob names, + - * / // and parentheses are allowed")
    return tree


def _evaluate(node, values: dict[str, Value], name: str):
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, values, name)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.UnaryOp):
        v = _evaluate(node.operand, values, name)
        return -v if isinstance(node.op, ast.USub) else v
    left, right = _evaluate(node.left, values, name), _evaluate(node.right, values, name)
    if isinstance(node.op, (ast.Div, ast.FloorDiv)) and right == 0:
        raise FairnessError(f"derived {name}: division by zero at {values}")
    return OPERATORS[type(node.op)](left, right)


def declared_family(spec: dict) -> Family:
    path = spec["_path"]
    pairs = [_knob(e, path) for e in spec["knobs"]]
    knobs = tuple(k for k, _ in pairs)
    bases = {k.name: b for k, b in pairs}
    derived = spec.get("derived") or {}
    if not isinstance(derived, dict):
        raise FairnessError(f"--family {path}: derived: expected a mapping of argument: expression, e.g. "
                            f"num_heads: width / 64")
    expressions = {name: _expression(name, text, set(bases), path) for name, text in derived.items()}
    inputs = {e["name"]: _input_of(e, path) for e in spec["knobs"] if e.get("role") == "input"}

    def read(model) -> dict[str, Value]:
        return dict(bases)

    def to_kwargs(v: dict[str, Value]) -> tuple[dict, dict]:
        kwargs = {k: val for k, val in v.items() if k not in INPUTS}
        for name, tree in expressions.items():
            value = _evaluate(tree, v, name)
            kwargs[name] = int(value) if isinstance(value, float) and value.is_integer() else value
        spec_in = {}
        for name, which in inputs.items():  # img_size: the factory's argument and the input alike
            if name in v:
                spec_in[which] = (v[name], v[name]) if which == "image_size" else v[name]
        return kwargs, spec_in

    return Family(name=str(spec.get("name", path)), knobs=knobs, read=read, to_kwargs=to_kwargs,
                  description=f"declared in {path}" + (f"; derived {', '.join(derived)}" if derived else ""))


def check_knobs_take_effect(family: Family, values: dict[str, Value], params_at, what: str) -> None:
    """Every depth and width knob of a declared family changes the model: `params_at(values)` at the
    baseline and at the knob moved (doubled, or halved at its maximum). A factory that fixes the
    argument itself (as timm's entry points do: dict(depth=12, **kwargs) refuses a second depth;
    a keyword it swallows is ignored) refuses the knob or gives the same model: one error names it."""
    def advice(name: str) -> str:
        return (f"the factory fixes {name} itself; pass it through a python: factory that takes it, e.g. "
                f"def build({name}, **kwargs): return Net({name}={name}, **kwargs)")

    def params(v: dict[str, Value]) -> float:
        try:
            return params_at(v)
        except FairnessError as e:
            refused = re.search(r"multiple values for (?:keyword )?argument '(\w+)'", e.message)
            if refused:
                raise FairnessError(f"{what}: knob {refused.group(1)}: {refused.group(0)}: {advice(refused.group(1))}"
                                    ) from None
            raise

    base = params(values)
    for k in family.knobs:
        if k.role not in ("depth", "width"):
            continue
        for factor in (2.0, 0.5):  # a model that cannot be built at one size is tried at the other
            moved = k.scale(values[k.name], factor)
            if moved == values[k.name]:
                continue
            try:
                got = params({**values, k.name: moved})
            except FairnessError:
                continue  # not buildable there (a limit of the model's own): says nothing of the knob
            if got == base:
                raise FairnessError(f"{what}: knob {k.name}: {k.name}={moved} builds the baseline's {base:.0f} "
                                    f"parameters, so the argument is ignored: {advice(k.name)}")
            break
