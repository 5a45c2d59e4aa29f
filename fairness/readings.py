"""One reader of a model record: indicator name -> value, unit, convention, better direction.

The flags, the tables, the figures, Markdown and the matched comparisons all read a cost
indicator out of a record here, by the same name, so that every part of a report prints the
same number for it. A record is a model of a results file (record.ModelRecord); a paper's
stated numbers sit in its `claims` (audit mode).

Ratios have one convention, everywhere:
- counts and memory: a *cost ratio*, a / b (< 1: a is cheaper);
- throughput and latency: a *speed-up* of a over b (> 1: a is faster). For throughput it is
  a's rate / b's rate; for latency, b's time / a's time.
`advantage` turns either into one direction (> 1: a is better), for the rules that ask
"who wins on this indicator?".
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable

from .indicators.speed import median_ci95
from .record import ModelRecord

COST, SPEED = "cost", "speed"
# Two speeds closer than this are not told apart: two processes timing the same model differ by
# that much (eager medians 0.6-2.7% apart, issue 14; on one H200, speed-ups paired within a zoo's
# group moved by 1.1-6.0% at batch 1 between processes, benchmarks/RESULTS.md, issue 17).
SPEED_NOISE = 0.03


def num(x) -> float | None:
    """A finite number, or None (bools, strings, NaN and missing values are not numbers)."""
    ok = isinstance(x, (int, float)) and not isinstance(x, bool) and x == x and abs(x) != float("inf")
    return float(x) if ok else None


def _at(m: Mapping | None, *path):
    """A value down a path of plain mappings (counts, a speed's parts, claims); None where one is missing."""
    for key in path:
        m = m.get(key) if isinstance(m, Mapping) else None
    return m


def speed_part(m: ModelRecord, part: str):
    """One part of a record's timing (throughput, latency, cuda_graph, generate, settings); None
    for a model that was not timed."""
    return getattr(m.speed, part) if m.speed is not None else None


@dataclass(frozen=True)
class Indicator:
    key: str
    label: str  # in sentences: "0.25x the {label} of B"
    header: str  # a table column, with its unit
    scale: float  # a table prints value / scale
    convention: str  # COST (ratio a/b, lower is better) or SPEED (speed-up, higher is better)
    measured: Callable[[ModelRecord], object]
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
        if self.key == "ttft":
            return f"{r:.3g}x as fast to the first token as {other}"
        if self.convention == SPEED and not self.higher_is_better:
            return f"{r:.3g}x as fast as {other} at batch 1" + (" (CUDA graphs)" if self.key == "graph_latency" else "")
        return f"{r:.3g}x the {self.label} of {other}"


def _stated_flops(c: dict):
    return c.get("flops") or (2 * c["macs"] if num(c.get("macs")) else None)


INDICATORS = {i.key: i for i in (
    Indicator("params", "parameters", "Params (M)", 1e6, COST, lambda m: _at(m.params, "unique"),
              lambda c: c.get("params")),
    Indicator("applied", "applied parameters", "Applied params (M)", 1e6, COST,
              lambda m: _at(m.params, "applied"), lambda c: c.get(CLAIM_KEYS["applied"])),
    Indicator("active", "active parameters", "Active params (M)", 1e6, COST,
              lambda m: _at(m.params, "active"), lambda c: c.get(CLAIM_KEYS["active"])),
    Indicator("embedding", "embedding parameters", "Embedding params (M)", 1e6, COST,
              lambda m: _at(m.params, "embedding")),
    Indicator("macs", "MACs", "MACs (G)", 1e9, COST, lambda m: _at(m.flops, "macs"), lambda c: c.get("macs")),
    Indicator("flops", "FLOPs", "FLOPs (G)", 1e9, COST, lambda m: _at(m.flops, "flops"), _stated_flops),
    Indicator("activations", "activations", "Activations (M)", 1e6, COST, lambda m: m.activations),
    Indicator("bytes_moved", "bytes moved", "Bytes moved (MiB)", 2**20, COST,
              lambda m: _at(m.memory, "bytes_moved"), digits=1),
    Indicator("throughput", "throughput", "Throughput (samples/s)", 1.0, SPEED,
              lambda m: _at(speed_part(m, "throughput"), "samples_per_s"),
              lambda c: _at(c, "throughput", "value"), digits=1, higher_is_better=True),
    Indicator("latency", "latency", "Latency, batch 1 (ms)", 1e-3, SPEED,
              lambda m: _at(speed_part(m, "latency"), "median_s"), lambda c: _at(c, "latency", "value")),
    # the same forward pass replayed from a CUDA graph (--cuda-graphs): without the host's launches
    Indicator("graph_throughput", "throughput with CUDA graphs", "Throughput, CUDA graph (samples/s)", 1.0, SPEED,
              lambda m: _at(speed_part(m, "cuda_graph"), "throughput", "samples_per_s"), digits=1,
              higher_is_better=True),
    Indicator("graph_latency", "latency with CUDA graphs", "Latency, CUDA graph, batch 1 (ms)", 1e-3, SPEED,
              lambda m: _at(speed_part(m, "cuda_graph"), "latency", "median_s")),
    Indicator("peak_memory", "peak memory", "Peak memory (MiB)", 2**20, COST,
              lambda m: _at(m.memory, "peak_bytes"), digits=1),
    # --generate (indicators/generate.py): decode at the largest batch timed, the prefill at the smallest;
    # the dynamic cache called eagerly (what a plain `generate` runs), and the static cache's decode
    # step replayed from a CUDA graph
    Indicator("decode_throughput", "decode throughput", "Decode (tokens/s)", 1.0, SPEED,
              lambda m: (generation_run(m, "decode_throughput") or {}).get("decode_tokens_per_s"), digits=1,
              higher_is_better=True),
    Indicator("graph_decode_throughput", "decode throughput with CUDA graphs", "Decode, CUDA graph (tokens/s)", 1.0,
              SPEED, lambda m: (generation_run(m, "decode_throughput", GRAPH_DECODE) or {}).get("decode_tokens_per_s"),
              digits=1, higher_is_better=True),
    Indicator("ttft", "time to first token", "Time to first token (ms)", 1e-3, SPEED,
              lambda m: (generation_run(m, "ttft") or {}).get("ttft_s")),
    Indicator("kv_cache", "KV-cache bytes per token", "KV cache (KiB/token)", 2**10, COST,
              lambda m: (_generation(m, min) or {}).get("kv_bytes_per_token"), digits=1),
)}


EAGER_DECODE, GRAPH_DECODE = "dynamic cache, eager", "static cache, CUDA graph"  # indicators/generate.py


def generation_runs(m: ModelRecord) -> list[dict]:
    """A record's generation runs (speed.generate.runs) that gave numbers: one that failed (out of
    memory, a graph that could not be captured) holds only why."""
    return [r for r in _at(speed_part(m, "generate"), "runs") or [] if "error" not in r]


def _generation(m: ModelRecord, pick, implementation: str = EAGER_DECODE) -> dict | None:
    """The generation run of one implementation at the batch size `pick` (max or min) chooses.
    Records written before implementations were named hold the dynamic cache's."""
    runs = [r for r in generation_runs(m) if r.get("implementation", EAGER_DECODE) == implementation]
    return pick(runs, key=lambda r: r["batch_size"]) if runs else None


def by_run(run: dict, key: str) -> list[float] | None:
    """One generation run's time per run for `key`: its prefill ("ttft") or its median decode step."""
    return run.get("ttft_by_run_s" if key == "ttft" else "tpot_by_run_s")


def generation_noise(run: dict, key: str) -> float:
    """The spread of one generation run's `key` ("decode_throughput" or "ttft") over its runs: half
    the 95% CI of the median (median_ci95, as forward passes' throughput has) over the median. With
    3 runs that is their range: a run the machine slowed widens it. 0 where the record keeps no
    per-run values (written before they were kept)."""
    values = by_run(run, key) if key == "ttft" else [run["batch_size"] / t for t in by_run(run, key) or [] if t]
    if not values or len(values) < 2:
        return 0.0
    lo, hi = median_ci95(values)
    return (hi - lo) / 2 / statistics.median(values)


def generation_run(m: ModelRecord, key: str, implementation: str = EAGER_DECODE) -> dict | None:
    """The run that `key`'s indicator reads: the prefill at the smallest batch, decode at the largest."""
    return _generation(m, min if key == "ttft" else max, implementation)


def decode_expansion(m: ModelRecord, implementation: str) -> dict | None:
    """The KV-cache copy (indicators/generate.cache_expansion) of the decode run that the decode
    indicator of `implementation` reads: each step copied the cache up to the query heads, so it
    read more than the cache holds. None where it did not, or where that was not recorded."""
    return (generation_run(m, "decode_throughput", implementation) or {}).get("kv_expanded")


# The cost indicators a comparison is judged on, in the order reports list them. Applied and
# active parameters, activations and bytes moved explain these; they are not judged alone. Time
# to first token and decode tokens/s exist where generation was timed (--generate).
JUDGED = ("params", "flops", "throughput", "latency", "peak_memory", "ttft", "decode_throughput")


# where a claims file keeps a parameter sense the indicators call by a shorter name
CLAIM_KEYS = {"applied": "applied_params", "active": "active_params"}


def measured(m: ModelRecord, key: str) -> float | None:
    return num(INDICATORS[key].measured(m))


def stated(m: ModelRecord, key: str) -> float | None:
    return num(INDICATORS[key].stated(m.claims))


# A stated count further than this (plus its printed precision) from the measured one is contradicted.
CLAIM_MISMATCH = 0.05
# A stated parameter or FLOP count more than 2x from what the source built: not a miscount but another
# model (a config's defaults where the paper meant a smaller size). No finding may rest on it.
WRONG_MODEL = 2.0
# The counts that depend on the input (its resolution or length): an input the audit assumed is no
# evidence against a stated number.
INPUT_DEPENDENT = ("macs", "flops", "activations", "bytes_moved")


def stated_over_measured(m: ModelRecord, key: str) -> float | None:
    """stated / measured for one count; for FLOPs the nearer of the measured FLOPs and 2 x MACs
    (a paper's "2 x MACs" leaves the few other ops out, and is the same count)."""
    s, meas = stated(m, key), measured(m, key)
    if not s or not meas:
        return None
    if key == "flops" and (macs := measured(m, "macs")):
        return min(s / meas, s / (2 * macs), key=lambda r: abs(r - 1))
    return s / meas


UNITS_TOLERANCE = 0.12  # FLOPs are 2 x MACs plus a few % of other ops: 12% covers that


def flops_convention(m: ModelRecord) -> str | None:
    """How a paper's stated "FLOPs" relate to the measured count of the same model: "FLOPs", "MACs"
    (multiply-accumulates printed as FLOPs) or "2x FLOPs"; None where it cannot tell (nothing
    stated or measured, an assumed input, or neither convention fits)."""
    stated_flops, meas = num(m.claims.get("flops")), measured(m, "flops")
    if not stated_flops or not meas or assumed(m):
        return None
    r = stated_flops / meas
    for name, at in (("FLOPs", 1.0), ("MACs", 0.5), ("2x FLOPs", 2.0)):
        if abs(r - at) <= at * UNITS_TOLERANCE:
            return name
    return None


def assumed(m: ModelRecord) -> dict:
    """The inputs an audit assumed because the paper's row did not state them ({} for a
    measurement, whose inputs are what the user asked for)."""
    return m.assumed or {}


def contradicted(m: ModelRecord, key: str) -> bool:
    """A stated count that the measurement of the same model contradicts beyond its printed
    precision, where the measurement rests on no assumed input."""
    r = stated_over_measured(m, key)
    if r is None or (key in INPUT_DEPENDENT and assumed(m)):
        return False
    if key == "flops" and flops_convention(m) in ("MACs", "2x FLOPs"):
        return False  # another convention, not another count: the paper's table stays self-consistent
    return abs(r - 1) > CLAIM_MISMATCH + precision(m, key)


def wrong_model(m: ModelRecord) -> dict | None:
    """What shows that the source built another model than the paper's row: a stated parameter or
    FLOP count over 2x from the measured one (a MACs-as-FLOPs count is a convention, within 2x of
    2 x MACs; an assumed input cannot show it). None when nothing does."""
    for key in ("params", "flops", "macs"):
        r = stated_over_measured(m, key)
        if key == "flops" and r is not None and (macs := measured(m, "macs")) and stated(m, key):
            r = min(r, stated(m, key) / macs, key=lambda x: abs(x - 1))  # "FLOPs" printed as MACs
        if r is None or (key in INPUT_DEPENDENT and assumed(m)):
            continue
        if max(r, 1 / r) > WRONG_MODEL:
            return {"indicator": key, "stated": stated(m, key), "measured": measured(m, key), "ratio": r}
    return None


def value(m: ModelRecord, key: str) -> float | None:
    """The number a comparison rests on: a paper's stated one where it states one (audit), else
    the measured one. Measured numbers win once they contradict the stated one beyond its printed
    precision; a stated number stays where the source built another model (wrong_model), whose
    measurement says nothing about the paper's."""
    s = stated(m, key)
    if s is None:
        return measured(m, key)
    if contradicted(m, key) and not wrong_model(m):
        return measured(m, key)
    return s


def precision(m: ModelRecord, key: str) -> float:
    """The relative precision of a stated number: half a unit of the last printed digit ("29M":
    0.5/29); 0 where none is stated."""
    if stated(m, key) is None:
        return 0.0
    claims = m.claims
    if key == "flops" and "flops" not in claims:  # stated as MACs, doubled
        key = "macs"
    key = CLAIM_KEYS.get(key, key)
    return num((claims.get("precision") or {}).get(key)) or 0.0


def value_precision(m: ModelRecord, key: str) -> float:
    """The relative precision of the number `value` gives: a stated one's, 0 for a measured one."""
    return precision(m, key) if value(m, key) == stated(m, key) else 0.0


def ratio(key: str, a: float | None, b: float | None) -> float | None:
    """The ratio of a to b in the one convention: cost ratio (a/b) or speed-up of a over b."""
    if not a or not b:
        return None
    i = INDICATORS[key]
    return b / a if i.convention == SPEED and not i.higher_is_better else a / b


def advantage(key: str, r: float) -> float:
    """A ratio in the one convention as an advantage: > 1 means a is better than b on `key`."""
    return r if INDICATORS[key].convention == SPEED else 1 / r


def quality(m: ModelRecord) -> dict:
    """The quality numbers given for a model (never measured): {metric: value}; a paper's stated
    ones (claims) where the record has none of its own."""
    return quality_numbers(m.quality or m.claims.get("quality") or {})


def quality_numbers(q: Mapping) -> dict:
    """The numbers of a quality section ({metric: value}, a record's or a curve member's), as floats."""
    return {k: float(v) for k, v in q.items() if num(v) is not None}


def speed_setting(m: ModelRecord, key: str) -> dict | None:
    """What a throughput or latency depends on, compared before two speeds are: the device,
    dtype, batch size, threads and compile setting (measured, or as a paper states them)."""
    rec = speed_part(m, key)
    if rec:
        st = speed_part(m, "settings") or {}
        src = {**st, "batch_size": rec.get("batch_size")}
    else:
        src = m.claims.get(key)
        if not src:
            return None
    return {"device": src.get("device"), "dtype": src.get("dtype", "float32"), "batch_size": src.get("batch_size"),
            "threads": src.get("threads"), "compile": src.get("compile") or False}


# A module of one expert of a mixture-of-experts block: "....mlp.experts.expert_3.wi", "....experts.3.w1".
_EXPERT = re.compile(r"^(?P<block>.*\bexperts)\.(?P<expert>[^.]+)\.(?P<rest>.+)$")


def depth(m: ModelRecord) -> float | None:
    """Sequential matrix ops per forward pass (calls of ops with MACs), or a paper's stated depth.
    The experts of a mixture-of-experts block run side by side on different tokens, so a loop over
    them (Hugging Face's Switch) is one step of depth, not one per expert: each expert's modules
    beyond the busiest expert's are taken out."""
    by_op = _at(m.flops, "by_op") or {}
    d = sum(v.get("calls", 0) for v in by_op.values() if v.get("macs"))
    if not d:
        return num(m.claims.get("depth"))
    siblings: dict[tuple, list[int]] = {}
    for name, t in (_at(m.flops, "by_module") or {}).items():
        if t.get("macs") and (x := _EXPERT.match(name)) and "." not in x["rest"]:
            siblings.setdefault((x["block"], x["rest"]), []).append(t.get("calls", 0))
    return num(d - sum(sum(c) - max(c) for c in siblings.values()))


CONV_CALLS = 4  # convolutions beyond a patch or stem embedding (ViT has one): a convolutional network


def convolutional(record: ModelRecord) -> bool:
    """A convolutional network: its counted forward pass runs CONV_CALLS or more convolutions."""
    conv = _at(record.flops, "by_op", "convolution") or {}
    return conv.get("calls", 0) >= CONV_CALLS


def unreachable_note(u: Mapping, baseline: str = "") -> str:
    """Why a strategy (or several) gave no variant of `baseline` on an indicator (a comparison's
    `unreachable`): short of the target even at its best, or not searched at all (rel_error None:
    the target is not one to match, with the reason, e.g. runner.HostBoundTarget's)."""
    of = f" of {baseline}" if baseline else ""
    if u.get("rel_error") is None:
        return f"no variant{of} matched ({u['strategy']}), as {u['reason']}"
    return (f"{u['strategy']} scaling{of} does not reach it ({u['rel_error']:+.1%} at best; "
            f"{u.get('reason') or 'not within tolerance'})")


def describe_input(record: dict) -> str:
    """An input record in a few words: 'image 1x3x224x224', 'tokens 1x128'."""
    if record.get("kind") == "image":
        return f"image {record['batch_size']}x{record['channels']}x{record['height']}x{record['width']}"
    if record.get("kind") == "tokens":
        image = record.get("image")
        return f"tokens {record['batch_size']}x{record['seq_len']}" + (
            f" + image {record['batch_size']}x{image['channels']}x{image['height']}x{image['width']}" if image else "")
    if record.get("kind") == "features":
        return (f"features {record['batch_size']}x{record['channels']}x{record['frames']} + decoder tokens "
                f"{record['batch_size']}x{record['decoder_seq_len']}")
    return f"inputs {record.get('shapes')}"


def input_text(inp: dict) -> str:
    text = describe_input(inp)
    if inp.get("kind") == "tokens":
        text += f" (vocabulary {inp['vocab_size']})"
        if inp.get("decoder_seq_len"):
            text += f" + decoder tokens {inp['batch_size']}x{inp['decoder_seq_len']}"
    if inp.get("default_from"):
        text += f"; default from {inp['default_from']}"
    return text
