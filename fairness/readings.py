"""One reader of a model record: indicator name -> value, unit, convention, better direction.

The flags, the tables, the figures, Markdown and the matched comparisons all read a cost
indicator out of a record here, by the same name, so that every part of a report prints the
same number for it. A record is a plain dict of the results file (results.py); a paper's
stated numbers sit in its `claims` (audit mode).

Ratios have one convention, everywhere:
- counts and memory: a *cost ratio*, a / b (< 1: a is cheaper);
- throughput and latency: a *speed-up* of a over b (> 1: a is faster). For throughput it is
  a's rate / b's rate; for latency, b's time / a's time.
`advantage` turns either into one direction (> 1: a is better), for the rules that ask
"who wins on this indicator?".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

COST, SPEED = "cost", "speed"
# Two speeds closer than this are not told apart: two processes timing the same model differ by
# that much (eager medians 0.6-2.7% apart, issue 14; on one H200, speed-ups paired within a zoo's
# group moved by 1.1-6.0% at batch 1 between processes, benchmarks/RESULTS.md, issue 17).
SPEED_NOISE = 0.03


def num(x) -> float | None:
    """A finite number, or None (bools, strings, NaN and missing values are not numbers)."""
    ok = isinstance(x, (int, float)) and not isinstance(x, bool) and x == x and abs(x) != float("inf")
    return float(x) if ok else None


def _at(m: dict, *path):
    for key in path:
        m = m.get(key) if isinstance(m, dict) else None
    return m


@dataclass(frozen=True)
class Indicator:
    key: str
    label: str  # in sentences: "0.25x the {label} of B"
    header: str  # a table column, with its unit
    scale: float  # a table prints value / scale
    convention: str  # COST (ratio a/b, lower is better) or SPEED (speed-up, higher is better)
    measured: Callable[[dict], object]
    stated: Callable[[dict], object] = lambda claims: None  # from a paper's claims (audit)
    digits: int = 2
    higher_is_better: bool = False  # of the raw value: a rate; costs and times are better low

    @property
    def lower_is_better(self) -> bool:
        return not self.higher_is_better

    @property
    def ratio_name(self) -> str:
        return "speedup" if self.convention == SPEED else "ratio"

    def words(self, r: float, other: str) -> str:
        """A ratio in words: '0.25x the FLOPs of B', '2.13x the throughput of B'."""
        if self.convention == SPEED and not self.higher_is_better:
            return f"{r:.3g}x as fast as {other} at batch 1" + (" (CUDA graphs)" if self.key == "graph_latency" else "")
        return f"{r:.3g}x the {self.label} of {other}"


def _stated_flops(c: dict):
    return c.get("flops") or (2 * c["macs"] if num(c.get("macs")) else None)


INDICATORS = {i.key: i for i in (
    Indicator("params", "parameters", "Params (M)", 1e6, COST, lambda m: _at(m, "params", "unique"),
              lambda c: c.get("params")),
    Indicator("applied", "applied parameters", "Applied params (M)", 1e6, COST,
              lambda m: _at(m, "params", "applied"), lambda c: c.get(CLAIM_KEYS["applied"])),
    Indicator("active", "active parameters", "Active params (M)", 1e6, COST,
              lambda m: _at(m, "params", "active"), lambda c: c.get(CLAIM_KEYS["active"])),
    Indicator("embedding", "embedding parameters", "Embedding params (M)", 1e6, COST,
              lambda m: _at(m, "params", "embedding")),
    Indicator("macs", "MACs", "MACs (G)", 1e9, COST, lambda m: _at(m, "flops", "macs"), lambda c: c.get("macs")),
    Indicator("flops", "FLOPs", "FLOPs (G)", 1e9, COST, lambda m: _at(m, "flops", "flops"), _stated_flops),
    Indicator("activations", "activations", "Activations (M)", 1e6, COST, lambda m: m.get("activations")),
    Indicator("bytes_moved", "bytes moved", "Bytes moved (MiB)", 2**20, COST,
              lambda m: _at(m, "memory", "bytes_moved"), digits=1),
    Indicator("throughput", "throughput", "Throughput (samples/s)", 1.0, SPEED,
              lambda m: _at(m, "speed", "throughput", "samples_per_s"),
              lambda c: _at(c, "throughput", "value"), digits=1, higher_is_better=True),
    Indicator("latency", "latency", "Latency, batch 1 (ms)", 1e-3, SPEED,
              lambda m: _at(m, "speed", "latency", "median_s"), lambda c: _at(c, "latency", "value")),
    # the same forward pass replayed from a CUDA graph (--cuda-graphs): without the host's launches
    Indicator("graph_throughput", "throughput with CUDA graphs", "Throughput, CUDA graph (samples/s)", 1.0, SPEED,
              lambda m: _at(m, "speed", "cuda_graph", "throughput", "samples_per_s"), digits=1,
              higher_is_better=True),
    Indicator("graph_latency", "latency with CUDA graphs", "Latency, CUDA graph, batch 1 (ms)", 1e-3, SPEED,
              lambda m: _at(m, "speed", "cuda_graph", "latency", "median_s")),
    Indicator("peak_memory", "peak memory", "Peak memory (MiB)", 2**20, COST,
              lambda m: _at(m, "memory", "peak_bytes"), digits=1),
)}

# The cost indicators a comparison is judged on, in the order reports list them. Applied and
# active parameters, activations and bytes moved explain these; they are not judged alone.
JUDGED = ("params", "flops", "throughput", "latency", "peak_memory")


# where a claims file keeps a parameter sense the indicators call by a shorter name
CLAIM_KEYS = {"applied": "applied_params", "active": "active_params"}


def measured(m: dict, key: str) -> float | None:
    return num(INDICATORS[key].measured(m))


def stated(m: dict, key: str) -> float | None:
    return num(INDICATORS[key].stated(m.get("claims") or {}))


def value(m: dict, key: str) -> float | None:
    """The number a comparison rests on: a paper's stated one where it states one (audit), else
    the measured one."""
    s = stated(m, key)
    return s if s is not None else measured(m, key)


def precision(m: dict, key: str) -> float:
    """The relative precision of the number `value` gives: half a unit of the last printed digit
    for a stated number ("29M": 0.5/29), 0 for a measured one."""
    if stated(m, key) is None:
        return 0.0
    claims = m.get("claims") or {}
    if key == "flops" and "flops" not in claims:  # stated as MACs, doubled
        key = "macs"
    key = CLAIM_KEYS.get(key, key)
    return num((claims.get("precision") or {}).get(key)) or 0.0


def ratio(key: str, a: float | None, b: float | None) -> float | None:
    """The ratio of a to b in the one convention: cost ratio (a/b) or speed-up of a over b."""
    if not a or not b:
        return None
    i = INDICATORS[key]
    return b / a if i.convention == SPEED and not i.higher_is_better else a / b


def advantage(key: str, r: float) -> float:
    """A ratio in the one convention as an advantage: > 1 means a is better than b on `key`."""
    return r if INDICATORS[key].convention == SPEED else 1 / r


def quality(m: dict) -> dict:
    """The quality numbers given for a model (never measured): {metric: value}."""
    q = m.get("quality") or (m.get("claims") or {}).get("quality") or {}
    return {k: float(v) for k, v in q.items() if num(v) is not None}


def speed_setting(m: dict, key: str) -> dict | None:
    """What a throughput or latency depends on, compared before two speeds are: the device,
    dtype, batch size, threads and compile setting (measured, or as a paper states them)."""
    rec = _at(m, "speed", key)
    if rec:
        st = _at(m, "speed", "settings") or {}
        src = {**st, "batch_size": rec.get("batch_size")}
    else:
        src = _at(m, "claims", key)
        if not src:
            return None
    return {"device": src.get("device"), "dtype": src.get("dtype", "float32"), "batch_size": src.get("batch_size"),
            "threads": src.get("threads"), "compile": src.get("compile") or False}


def depth(m: dict) -> float | None:
    """Sequential matrix ops per forward pass (calls of ops with MACs), or a paper's stated depth."""
    by_op = _at(m, "flops", "by_op") or {}
    d = sum(v.get("calls", 0) for v in by_op.values() if v.get("macs"))
    return num(d) if d else num((m.get("claims") or {}).get("depth"))
