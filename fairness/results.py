"""The results file (schema "fairness/v1"): the one canonical artifact.

Every renderer reads it; nothing else is the source of a printed number.
Field names are a contract with every reader of an older file: add freely, never rename.
Counts are per example (one sample through one forward pass at the stated
input shape); times in seconds, sizes in bytes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import FairnessError
from .record import ModelRecord, to_plain, typed

SCHEMA = "fairness/v1"


def failures(results: dict) -> list[tuple[str, str]]:
    """(model name, reason) for every model that failed, whose timing failed at a batch size, or
    whose quality hook gave no number."""
    models = typed(results["models"])
    out = [(m.name, m.failed) for m in models if m.failed]
    out += [(m.name, e) for m in models if m.speed is not None for e in m.speed.errors or []]
    out += [(m.name, f"quality hook: {m.quality_failed}") for m in models if m.quality_failed]
    return out


def new_results(models: list[ModelRecord | dict], env: dict, flags: list[dict] | None = None,
                speed_ratios: list[dict] | None = None) -> dict:
    """A results file. `speed_ratios`: each model's speed-up over the first, paired in time."""
    return {"schema": SCHEMA, "environment": env, "models": typed(models), "speed_ratios": speed_ratios or [],
            "flags": flags or []}


def as_written(results: dict) -> dict:
    """The results as their file holds them (lists for tuples, counts as mappings), the models as
    records: what a fresh run hands the judgement and the renderers is what a re-render reads."""
    data = to_plain(results)
    data["models"] = typed(data.get("models") or [])
    return data


def typed_models(results: dict) -> dict:
    """The results with their models as records, those already typed kept as they are (so a
    record's identity holds): what a renderer reads, from a file or built by hand."""
    return {**results, "models": typed(results.get("models") or [])}


def dumps(results: dict) -> str:
    return json.dumps(to_plain(results), indent=1, allow_nan=False)


def canonical(value) -> str:
    """One JSON text for a value that may hold records, dataclasses and enums: keys sorted, any
    other object as its str. The cache's keys and entries: the same inputs give the same text."""
    return json.dumps(to_plain(value), sort_keys=True, default=str)


def record_of(counted: dict) -> ModelRecord:
    """A model's counts as measure makes them (counts as dataclasses) turned into the record the
    file holds (counts as mappings): what the cache keeps and every later stage reads."""
    return ModelRecord.from_plain(to_plain(counted))


def file_entry(model: ModelRecord) -> dict:
    """A model as the results file holds it (the CSV's columns are its keys, flattened)."""
    return to_plain(model)


def write(results: dict, path: str | os.PathLike) -> Path:
    """Write atomically: a temporary file beside the target, then a rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(dumps(results))
        os.replace(tmp, path)
    except OSError as e:
        raise FairnessError(f"cannot write results to {path}: {e.strerror}; choose another --out") from None
    return path


def check_writable(folder: str | os.PathLike, what: str) -> Path:
    """Make `folder` and write a file there, before anything is measured: an hour of timing
    must not end in a folder that cannot take the results."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".fairness-probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise FairnessError(f"{what}: cannot write into {folder} ({e.strerror}); choose another --out") from None
    return folder


def load(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as e:
        raise FairnessError(f"results file {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise FairnessError(f"results file {path}: not valid JSON at line {e.lineno} column {e.colno} "
                            f"(truncated?); re-run the measurement") from None
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema != SCHEMA:
        raise FairnessError(f"results file {path}: schema {schema!r}, this fairness reads {SCHEMA!r}; "
                            f"upgrade fairness or re-run the measurement")
    data["models"] = typed(data.get("models") or [])
    return data
