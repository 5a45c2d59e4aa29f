"""A measured model as a typed record: what every layer passes, and results.py turns into JSON.

`ModelRecord` is one model of a results file; `Speed` its timing (one implementation, one
precision, per batch size). Both are frozen: a later stage (matching, the curve, the quality
hook, merge) makes a new record with `with_`, so no stage edits what another handed it.

The file is the contract (results.py): field names are the file's keys, never renamed. A key
this version does not know (a newer writer's) is kept in `extra` and written back, and the keys
are written in the order the record was made or read with (`_present`), so a results file read
and written again is the same bytes.

Nested parts (counts, throughput and latency, match) stay plain mappings: each has one reader,
readings.py for counts and speeds, matching for the match. A record is not a mapping: it is read
by attribute (`m.speed.latency`), so a stray `m["speed"]` fails where it is written; a test on the
syntax tree (tests/test_record.py) keeps string-key reads of records out of every module but
results.py and this one.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Role(str, Enum):
    """Why a model is in the results. A `str` so that the file and the old comparisons read it."""
    PROPOSED = "proposed"
    BASELINE = "baseline"
    VARIANT = "variant"    # the baseline matched to the proposed model on one indicator
    CURVE = "curve"        # a published member of the baseline's family (curve.py)
    ZOO = "zoo"            # one of many, no proposed model (zoo.py)

    def __str__(self) -> str:
        return self.value


def to_plain(value: Any) -> Any:
    """Records, dataclasses, enums and tuples to JSON-ready dicts, lists and strings."""
    if isinstance(value, _Record):
        return value.to_plain()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class _Record:
    """Fields named as the file's keys, `extra` for keys this version does not know, `_present`
    for the keys the record has (in the file's order). A field not in `_present` is absent from
    the file, not None in it: older files lack newer keys and must be written back as they were."""
    extra: dict = field(default_factory=dict)
    _present: tuple = ()

    @classmethod
    def _fields(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls) if f.name not in ("extra", "_present"))

    @classmethod
    def _split(cls, data: Mapping) -> dict:
        names = cls._fields()
        known = {k: v for k, v in data.items() if k in names}
        return {**known, "extra": {k: v for k, v in data.items() if k not in names},
                "_present": tuple(data.keys())}

    @classmethod
    def from_plain(cls, data: Mapping | None):
        if data is None or isinstance(data, cls):
            return data
        return cls(**cls._split(data))

    def with_(self, **changes):
        """A copy with these keys set (each is added to the file if it was absent)."""
        names = self._fields()
        known = {k: v for k, v in changes.items() if k in names}
        extra = {**self.extra, **{k: v for k, v in changes.items() if k not in names}}
        present = self._present + tuple(k for k in changes if k not in self._present)
        return dataclasses.replace(self, **known, extra=extra, _present=present)

    def without(self, *keys):
        """A copy without these keys in the file (fields go back to their defaults)."""
        names = self._fields()
        defaults = {f.name: (f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default)
                    for f in dataclasses.fields(self) if f.name in keys and f.name in names}
        extra = {k: v for k, v in self.extra.items() if k not in keys}
        return dataclasses.replace(self, **defaults, extra=extra,
                                   _present=tuple(k for k in self._present if k not in keys))

    def to_plain(self) -> dict:
        return {k: to_plain(getattr(self, k) if k in self._fields() else self.extra[k]) for k in self._present}

    def has(self, key: str) -> bool:
        """Whether the file has this key (a newer field absent from an older file is not)."""
        return key in self._present

    __eq__ = object.__eq__
    __hash__ = object.__hash__


@dataclass(frozen=True, eq=False)
class Speed(_Record):
    """Timing on the target: the headline implementation and precision at every batch size."""
    settings: dict | None = None        # step.RunSettings as recorded
    precision: dict | None = None       # native or autocast, the weights' dtype, the error against float32
    throughput: dict | None = None      # at the largest batch that ran: samples/s and its 95% interval
    latency: dict | None = None         # at batch 1: median, p90, p99, IQR, in seconds
    runs: list = field(default_factory=list)    # every batch size, each with its own numbers
    errors: list = field(default_factory=list)  # a batch size that failed, as one line each
    unavailable: dict | None = None     # an indicator that could not be read here (idle share, energy): why
    workload: dict | None = None        # what one timed call computes
    cuda_graph: dict | None = None      # the same model as CUDA graph replays, beside eager
    autocast: dict | None = None        # the same model under autocast, with --precision native,autocast
    train: dict | None = None           # a training step, with --train
    generate: dict | None = None        # text generation, with --generate (issue 26)


@dataclass(frozen=True, eq=False)
class ModelRecord(_Record):
    """One model of a results file."""
    name: str = ""
    id: str = ""
    role: Role | str = Role.PROPOSED   # `fairness measure` of one model: proposed, as measure says
    source: str | None = None
    kwargs: dict = field(default_factory=dict)
    family: str | None = None           # zoo and curve: the family it is joined with
    architecture: dict | None = None
    input: dict | None = None
    match: dict | None = None           # a variant: the indicator, target, error and strategy
    knobs: dict | None = None           # a variant: what the strategy moved
    capacity_loss: list | None = None
    counted_on: str | None = None
    params: dict | None = None
    flops: dict | None = None
    activations: Any = None
    fvcore_activations: Any = None
    memory: dict | None = None
    speed: Speed | None = None
    quality: dict = field(default_factory=dict)
    quality_source: str | None = None
    quality_failed: str | None = None   # the quality hook gave no number: why
    claims: dict = field(default_factory=dict)   # what a paper states (audit)
    assumed: dict | None = None
    scaled_from: dict | None = None
    measure_error: str | None = None
    zoo: dict | None = None
    targets: dict | None = None         # merge: this model's record on each target
    seconds_to_measure: float | None = None
    failed: str | None = None           # why it could not be measured: the record has no counts

    @classmethod
    def _split(cls, data: Mapping) -> dict:
        out = super()._split(data)
        if out.get("role") in Role._value2member_map_:
            out["role"] = Role(out["role"])
        if isinstance(out.get("speed"), Mapping):
            out["speed"] = Speed.from_plain(out["speed"])
        return out

    def with_(self, **changes):
        if isinstance(changes.get("speed"), Mapping):
            changes["speed"] = Speed.from_plain(changes["speed"])
        return super().with_(**changes)

    @classmethod
    def failure(cls, name: str, role: Role | str, why: str) -> ModelRecord:
        """A model that could not be measured: its name, its role and one line saying why."""
        return cls.from_plain({"id": str(name), "name": str(name), "role": role, "failed": why})


def typed(models) -> list[ModelRecord]:
    """The models of a results file, as records (a record already typed is kept as it is)."""
    return [ModelRecord.from_plain(m) for m in models]


def with_unique_id(record: ModelRecord, taken: set[str]) -> ModelRecord:
    """The record, its id (and name) made unique among `taken`: the same model measured twice is
    "x" and "x (2)", as a results file needs."""
    if record.id not in taken:
        return record
    unique = next(f"{record.id} ({k})" for k in itertools.count(2) if f"{record.id} ({k})" not in taken)
    return record.with_(id=unique, name=unique)
