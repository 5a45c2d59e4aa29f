"""Audit mode: a reviewer's claims file in, flags with their evidence out.

    claim: "Ours beats ViT-B/16 at equal parameters"
    quality: top1
    models:
      - name: Ours
        role: proposed
        source: python:ours.model:build     # optional: measured when given
        params: 86e6                        # numbers, or strings with a prefix: 86M, 4.4G
        flops: 4.4e9                        # as printed; `macs:` also accepted
        throughput: {value: 3000, unit: img/s, device: V100, batch_size: 256, dtype: float16}
        latency: {value: 0.004, unit: s, device: V100, batch_size: 1}
        top1: 81.0

Stated numbers are kept as `claims` in each model's record; a model with a
source is also measured (counts on the meta device), and its stated numbers
are checked against the measurement. Works without any model code.
"""

from __future__ import annotations

import re
from typing import Callable

from .errors import FairnessError
from .spec import check_name, read_yaml

TOP_KEYS = {"claim", "quality", "models", "name"}
MODEL_KEYS = {"name", "role", "source", "kwargs", "params", "flops", "macs", "throughput", "latency", "depth",
              "image_size", "seq_len", "quality"}
SPEED_KEYS = {"value", "unit", "device", "batch_size", "dtype", "threads", "compile"}
ROLES = ("proposed", "baseline")
_PREFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "B": 1e9, "T": 1e12}
_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}
_RATE_UNITS = ("img/s", "images/s", "samples/s", "examples/s", "ex/s", "seq/s", "sequences/s", "tokens/s")


def parse_quantity(value, what: str) -> tuple[float, str | None]:
    """86e6, "86M", "4.4 GFLOPs", "4.1 GMACs" -> (number, unit word or None)."""
    if isinstance(value, bool) or value is None:
        raise FairnessError(f"{what}: expected a number such as 86e6 or 86M, got {value!r}")
    if isinstance(value, (int, float)):
        number, unit = float(value), None
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([kKMGBT]?)\s*([A-Za-z/µ]*)\s*", str(value))
        if not m:
            raise FairnessError(f"{what}: {value!r} is not a number; write 86e6, 86M or 4.4 GFLOPs")
        number, unit = float(m.group(1)) * _PREFIX[m.group(2)], (m.group(3) or None)
    if number <= 0 or number != number or number == float("inf"):
        raise FairnessError(f"{what}: {value!r} must be a positive, finite number")
    return number, unit


def _speed(entry, what: str, is_latency: bool) -> dict:
    if isinstance(entry, (int, float, str)) and not isinstance(entry, bool):
        entry = {"value": entry}
    if not isinstance(entry, dict) or "value" not in entry:
        raise FairnessError(f"{what}: expected a number or a mapping with 'value' (and unit, device, batch_size, "
                            f"dtype)")
    unknown = set(entry) - SPEED_KEYS
    if unknown:
        raise FairnessError(f"{what}: unknown keys {sorted(map(str, unknown))}; known: {sorted(SPEED_KEYS)}")
    value, unit_in_value = parse_quantity(entry["value"], f"{what}.value")
    unit = entry.get("unit") or unit_in_value
    out = {k: v for k, v in entry.items() if k not in ("value", "unit")}
    if is_latency:
        if unit is not None and unit not in _TIME_UNITS:
            raise FairnessError(f"{what}.unit: {unit!r} is not a time; use s, ms or us")
        out["value"] = value * _TIME_UNITS.get(unit or "s", 1.0)
        out["unit"] = "s"
    else:
        if unit is not None and unit not in _RATE_UNITS:
            raise FairnessError(f"{what}.unit: {unit!r} is not a rate; use one of {', '.join(_RATE_UNITS)}")
        out["value"], out["unit"] = value, unit or "samples/s"
    if "batch_size" in out and (not isinstance(out["batch_size"], int) or out["batch_size"] <= 0):
        raise FairnessError(f"{what}.batch_size: expected a positive integer, got {out['batch_size']!r}")
    return out


def _claims(entry: dict, what: str, quality_key: str | None) -> dict:
    claims: dict = {}
    if "params" in entry:
        claims["params"], unit = parse_quantity(entry["params"], f"{what}.params")
        if unit and unit.lower() not in ("params", "parameters", "p"):
            raise FairnessError(f"{what}.params: unit {unit!r} is not a parameter count")
    for key in ("flops", "macs"):
        if key in entry:
            number, unit = parse_quantity(entry[key], f"{what}.{key}")
            word = (unit or key).lower()
            if "mac" in word and key == "flops" or "flop" in word and key == "macs":
                raise FairnessError(f"{what}.{key}: {entry[key]!r} says {unit}, which contradicts the key {key!r}; "
                                    f"put MACs under 'macs:' and FLOPs under 'flops:'")
            claims[key] = number
    for key, is_latency in (("throughput", False), ("latency", True)):
        if key in entry:
            claims[key] = _speed(entry[key], f"{what}.{key}", is_latency)
    if "depth" in entry:
        claims["depth"] = parse_quantity(entry["depth"], f"{what}.depth")[0]
    if quality_key and quality_key in entry:
        claims["quality"] = {quality_key: entry[quality_key]}
    return claims


def load_claims(path: str) -> dict:
    """Read and check a claims file; one clear error naming the key for anything wrong."""
    data = read_yaml(path, f"claims file {path}")
    if not isinstance(data, dict):
        raise FairnessError(f"claims file {path}: expected a mapping with 'claim' and 'models' (see examples/claims/)")
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise FairnessError(f"claims file {path}: unknown keys {sorted(map(str, unknown))}; known: {sorted(TOP_KEYS)}")
    models = data.get("models")
    if not isinstance(models, list) or len(models) < 2:
        raise FairnessError(f"claims file {path}: 'models' must list at least two models (proposed and baseline)")
    quality_key = data.get("quality")
    if quality_key is not None and not isinstance(quality_key, str):
        raise FairnessError(f"claims file {path}: 'quality' names a key of the models, e.g. quality: top1")
    out = []
    for i, entry in enumerate(models):
        what = f"models[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
            raise FairnessError(f"claims file {path}: {what} needs a 'name'")
        check_name(entry["name"], f"claims file {path}: {what}.name")
        what = f"models[{i}] ({entry['name']})"
        unknown = set(entry) - MODEL_KEYS - ({quality_key} if quality_key else set())
        if unknown:
            raise FairnessError(f"claims file {path}: {what}: unknown keys {sorted(map(str, unknown))}; known: "
                                f"{sorted(MODEL_KEYS)} and the quality key {quality_key!r}")
        role = entry.get("role", "proposed" if i == 0 else "baseline")
        if role not in ROLES:
            raise FairnessError(f"claims file {path}: {what}.role: {role!r}; expected proposed or baseline")
        if entry.get("kwargs") is not None and not isinstance(entry["kwargs"], dict):
            raise FairnessError(f"claims file {path}: {what}.kwargs: expected a mapping")
        out.append({"name": entry["name"], "role": role, "source": entry.get("source"),
                    "kwargs": entry.get("kwargs") or {}, "image_size": entry.get("image_size"),
                    "seq_len": entry.get("seq_len"), "claims": _claims(entry, f"{path}: {what}", quality_key)})
    names = [m["name"] for m in out]
    if len(set(names)) != len(names):
        raise FairnessError(f"claims file {path}: model names repeat ({names}); give each a distinct name")
    return {"claim": str(data.get("claim") or ""), "quality": quality_key, "models": out}


def audit(path: str, *, measure_sources: bool = True, progress: Callable[[str], None] = lambda m: None) -> dict:
    """Check a claims file: a results file whose models carry their claims (and measurements
    where a source is given), with the flags."""
    from .flags import evaluate, verdict
    from .indicators.env import environment
    from .measure import measure
    from .results import new_results, to_plain

    spec = load_claims(path)
    records = []
    for m in spec["models"]:
        rec = {"id": m["name"], "name": m["name"], "role": m["role"], "source": m["source"], "kwargs": m["kwargs"]}
        if m["source"] and measure_sources:
            progress(f"measuring {m['name']} ({m['source']}) on meta")
            size = m["image_size"]
            try:
                rec = to_plain(measure(m["source"], kwargs=m["kwargs"], name=m["name"], role=m["role"],
                                       fvcore=False, image_size=tuple(size) if isinstance(size, list) else size,
                                       seq_len=m["seq_len"]))
            except FairnessError as e:
                # A reviewer often has the paper but not its code: the claims are still checked.
                progress(f"{m['name']}: not measured ({e.message}); checking its stated numbers only")
                rec["measure_error"] = e.message
        rec["claims"] = m["claims"]
        rec["quality"] = (m["claims"].get("quality") or {})
        records.append(rec)
    res = new_results(records, environment("meta"))
    res["audit"] = {"file": str(path), "claim": spec["claim"], "quality": spec["quality"]}
    res["flags"] = evaluate(res, spec["claim"])
    res["verdict"] = verdict(res["flags"])
    return res
