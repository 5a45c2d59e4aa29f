"""A family declared in YAML, for a `python:` factory whose kwargs are its knobs.

    name: my-net                      # shown in reports
    knobs:
      - {name: depth, role: depth, base: 12, min: 1, max: 48}
      - {name: width, role: width, base: 384, min: 32, max: 4096, multiple_of: 32}
      - {name: image_size, role: input, base: 224, min: 32, max: 1024, multiple_of: 32}

Each knob is a keyword argument of the factory, except an input knob named
`image_size` or `seq_len`, which sets the example input. `base` is the
baseline's value (a `-k` given with the source overrides it). `flops_power`
(how FLOPs grow with the knob) defaults to 2 for width and image_size, else 1.
"""

from __future__ import annotations

from ..errors import FairnessError
from ..spec import read_yaml
from .base import Family, Knob, Value

ROLES = ("depth", "width", "input")
KNOB_KEYS = {"name", "role", "base", "min", "max", "multiple_of", "flops_power", "note"}


def load_family_spec(path: str) -> dict:
    spec = read_yaml(path, f"--family {path}")
    if not isinstance(spec, dict) or not isinstance(spec.get("knobs"), list) or not spec["knobs"]:
        raise FairnessError(f"--family {path}: expected a mapping with a non-empty 'knobs' list "
                            f"(see examples/family.yaml)")
    spec["_path"] = path
    return spec


def _knob(entry, path: str) -> tuple[Knob, int]:
    if not isinstance(entry, dict):
        raise FairnessError(f"--family {path}: each knob is a mapping, got {entry!r}")
    unknown = set(entry) - KNOB_KEYS
    if unknown:
        raise FairnessError(f"--family {path}: knob {entry.get('name')!r} has unknown keys "
                            f"{sorted(map(str, unknown))}; known: {sorted(KNOB_KEYS)}")
    name, role = entry.get("name"), entry.get("role")
    if not isinstance(name, str) or role not in ROLES:
        raise FairnessError(f"--family {path}: knob {entry!r} needs a name and a role in {ROLES}")
    ints = {k: entry.get(k, d) for k, d in (("min", 1), ("max", 65536), ("multiple_of", 1))}
    if not all(isinstance(v, int) and v > 0 for v in ints.values()) or ints["min"] > ints["max"]:
        raise FairnessError(f"--family {path}: knob {name}: min, max and multiple_of are positive integers "
                            f"with min <= max, got {ints}")
    base = entry.get("base")
    if not isinstance(base, int) or base <= 0:
        raise FairnessError(f"--family {path}: knob {name}: 'base' (the baseline's value) is a positive integer")
    power = entry.get("flops_power", 2 if role == "width" or name == "image_size" else 1)
    return Knob(name, role, ints["multiple_of"], ints["min"], ints["max"], float(power),
                str(entry.get("note", ""))), base


def declared_family(spec: dict) -> Family:
    path = spec["_path"]
    pairs = [_knob(e, path) for e in spec["knobs"]]
    knobs = tuple(k for k, _ in pairs)
    bases = {k.name: b for k, b in pairs}
    inputs = {"image_size", "seq_len"}

    def read(model) -> dict[str, Value]:
        return dict(bases)

    def to_kwargs(v: dict[str, Value]) -> tuple[dict, dict]:
        kwargs = {k: val for k, val in v.items() if k not in inputs}
        spec_in = {}
        if "image_size" in v:
            spec_in["image_size"] = (v["image_size"], v["image_size"])
        if "seq_len" in v:
            spec_in["seq_len"] = v["seq_len"]
        return kwargs, spec_in

    return Family(name=str(spec.get("name", path)), knobs=knobs, read=read, to_kwargs=to_kwargs,
                  description=f"declared in {path}")
