"""Matched baselines: variants of a baseline's family that hit a target
parameter count, FLOP count, throughput or latency.

A strategy spreads a change over the family's knobs by role. For a change of
the FLOPs by a factor s, a knob whose FLOPs grow as value^p and whose role
gets a share a of the change is multiplied by s^(a/p):

    width     width 1                   (FLOPs ~ width^2: width x s^0.5)
    depth     depth 1                   (depth x s)
    compound  depth 0.2, width 0.8      (Dollar, Singh, Girshick 2021, "Fast and Accurate
                                          Model Scaling": most of the change on width)
    input     input 1                   (image side x s^0.5, or sequence length x s)
    experts   experts 1                 (a mixture of experts: parameter targets only, since
                                          top-k routing keeps each token's FLOPs)
    kv-heads  kv_heads 1                (a GQA/MQA or MHA decoder's key-value heads, the width and
                                          the query heads kept: the same model with more or fewer
                                          key-value heads, its MLP trimmed to the target)

Counts (params, MACs, FLOPs) are measured on the meta device by default (`count_device`), so
each candidate costs a fraction of a second and no memory. The search solves along s in log
space (Newton steps with a secant slope), then moves to lattice neighbours (one
knob element a step up or down) while that brings it closer, and keeps the
closest point found. Speed targets
are measured on the target device: the first candidate is the FLOP match
implied by the baseline's speed (time ~ FLOPs), then each next one comes from
a least-squares fit of log time against log FLOPs over the points measured so
far, until one is within the tolerance or the candidate budget is spent.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from .errors import FairnessError, brief
from .families import Family, family_for, size_of
from .families.base import Value
from .families.generic import check_knobs_take_effect
from .flags import CAPACITY_FLOOR  # one threshold for a variant fairness builds and a baseline a paper scaled
from .indicators import flops as flops_mod
from .indicators.speed import NOISY_IQR_RATIO
from .readings import measured
from .sources import InputSpec, Source, build, make_inputs, parse_source

STRATEGIES: dict[str, dict[str, float]] = {
    "width": {"width": 1.0},
    "depth": {"depth": 1.0},
    "compound": {"depth": 0.2, "width": 0.8},
    "input": {"input": 1.0},
    "experts": {"experts": 1.0},  # a mixture of experts' number of experts: parameters, not FLOPs
    "kv-heads": {"kv_heads": 1.0},  # a decoder's key-value heads: GQA against MHA at equal cost
}
# strategies of a knob only some families have: not tried by default where the family lacks it
OPTIONAL_STRATEGIES = ("experts", "kv-heads")


def default_strategies(family: Family | None) -> list[str]:
    """Every strategy; experts and kv-heads only for a family with that knob (a dense model's or
    an encoder's matches would list them as skipped everywhere)."""
    return [s for s in STRATEGIES if s not in OPTIONAL_STRATEGIES
            or (family is not None and set(STRATEGIES[s]) & family.roles())]

COUNT_INDICATORS = ("params", "macs", "flops")
# --generate's: decode tokens/s at the largest batch size (the replayed static cache on CUDA, as the
# judgement reads it), time to first token at the smallest
GENERATION_INDICATORS = ("decode_throughput", "ttft")
SPEED_INDICATORS = ("throughput", "latency") + GENERATION_INDICATORS
RATES = ("throughput", "decode_throughput")  # matched as times: a rate R is 1/R seconds per example or token
TOLERANCE = {"params": 0.01, "macs": 0.01, "flops": 0.01, "throughput": 0.03, "latency": 0.03,
             "decode_throughput": 0.03, "ttft": 0.03}
MATCH_CONVENTION = {
    "params": "unique parameters (each storage once)",
    "macs": "multiply-accumulates per example",
    "flops": "FLOPs per example = 2 x MACs + other FLOPs",
    "throughput": "samples/s at the stated batch size",
    "latency": "seconds per call at batch 1 (median)",
    "decode_throughput": "decoded tokens/s at the stated batch size (median step, after the prefill)",
    "ttft": "seconds to the first token (the prefill) at the smallest batch size (median)",
}
MAX_SOLVE_STEPS = 10
MAX_DESCENT_SWEEPS = 4  # rounds of lattice-neighbour moves after solving along the path
MAX_SPEED_CANDIDATES = 6
# A trim is a fine correction: it moves one element (an MLP's hidden size, one stage's channels)
# at most this share of its size, so it cannot hollow a layer out to reach a target.
MAX_TRIM = 0.25


@dataclass
class Baseline:
    """The model being scaled: its source, family, knob values and input."""

    src: Source
    family: Family
    values: dict[str, Value]
    spec: InputSpec
    count_device: str = "meta"  # where each candidate is built and counted
    meta_failure: str | None = None  # why counting on meta failed, and the CPU counts instead

    def variant(self, values: dict[str, Value]) -> tuple[Source, InputSpec]:
        kwargs, inputs = self.family.to_kwargs(values)
        kind, name = (self.family.source.split(":", 1) if self.family.source else (self.src.kind, self.src.name))
        src = Source(kind, name, {**self.src.kwargs, **kwargs})
        spec = InputSpec(image_size=inputs.get("image_size", self.spec.image_size),
                         seq_len=inputs.get("seq_len", self.spec.seq_len), factory=self.spec.factory)
        return src, spec


def load_baseline(text: str, kwargs: dict | None, spec: InputSpec, family_file: str | None = None,
                  count_device: str = "meta") -> Baseline:
    src = parse_source(text, kwargs)
    model = build(src, count_device)
    family = family_for(model, src, spec.image_size, spec.seq_len, family_file)
    values = family.read(model)
    for k in family.knobs:  # a -k for a declared knob is the baseline's value
        if k.name in src.kwargs:
            v = src.kwargs[k.name]
            if isinstance(values.get(k.name), tuple) and not isinstance(v, (list, tuple)):
                continue  # one element of a knob read as a tuple (T5's num_layers, with num_decoder_layers)
            values[k.name] = tuple(v) if isinstance(v, list) else v
    # Only what the user set is held to the lattice: a value read from the model is what it runs
    # at (timm's resnet10t and resnet14t take 176 px, off the total stride's multiples of 32), and
    # a strategy's candidates snap onto the lattice from there.
    family.check(values, {k.name for k in family.knobs if k.name in src.kwargs})
    b = Baseline(src, family, values, spec, count_device)
    if family_file:  # a declared knob the factory fixes itself would make every variant the baseline
        check_knobs_take_effect(family, values, lambda v: count_indicator(b, v, "params"), f"--family {family_file}")
    return b


def count_indicator(b: Baseline, values: dict[str, Value], indicator: str) -> float:
    """params, MACs or FLOPs per example of one variant, on the baseline's count device."""
    src, spec = b.variant(values)
    model = build(src, b.count_device)
    if indicator == "params":
        seen, total = set(), 0
        for p in model.parameters():
            st = p.untyped_storage()
            if st._cdata not in seen:
                seen.add(st._cdata)
                total += p.numel()
        return float(total)
    ins = make_inputs(model, src, spec, 1, b.count_device)
    try:
        r = flops_mod.count(model, ins.args, ins.kwargs)
    except Exception as e:
        from .measure import CPU_COUNT_MAX_PARAM_BYTES, param_bytes

        if b.count_device == "meta" and "meta" in str(e) and param_bytes(model) <= CPU_COUNT_MAX_PARAM_BYTES:
            # ops that read values (.item(), data-dependent shapes) cannot run on meta: as measure does,
            # with measure's bound on the copy's size, this baseline's candidates are counted on the CPU
            # from now on (counts do not depend on it)
            b.count_device, b.meta_failure = "cpu", brief(e)
            return count_indicator(b, values, indicator)
        raise FairnessError(f"{src.text} with {values}: the forward pass on {b.count_device} raised "
                            f"{brief(e)}") from None
    return float(r.macs if indicator == "macs" else 2 * r.macs + r.other_flops)


def values_at(b: Baseline, shares: dict[str, float], s: float) -> dict[str, Value]:
    """The lattice point of a strategy at FLOP factor s (1 is the baseline)."""
    out = {}
    for k in b.family.knobs:
        share = 0.0 if k.follows else shares.get(k.role, 0.0)
        out[k.name] = k.scale(b.values[k.name], s ** (share / k.flops_power)) if share else b.values[k.name]
    return _followed(b, out)


def _followed(b: Baseline, values: dict[str, Value]) -> dict[str, Value]:
    """`values` with every follower at its leader's factor, as the leader landed on its lattice."""
    out = dict(values)
    for k in b.family.knobs:
        if k.follows:
            factor = size_of(out[k.follows]) / size_of(b.values[k.follows])
            out[k.name] = k.scale(b.values[k.name], factor) if factor != 1 else b.values[k.name]
    return out


def _key(values: dict[str, Value]) -> tuple:
    return tuple(sorted(values.items()))


@dataclass
class Search:
    """One strategy's search: every candidate evaluated, by its knob values."""

    baseline: Baseline
    shares: dict[str, float]
    measure: Callable[[dict[str, Value]], float]
    tried: dict[tuple, tuple[dict[str, Value], float | None]] = field(default_factory=dict)
    # candidates the model cannot be built or run at (RegNet's widths that leave fewer than timm's 4
    # stages; an attention width with no whole head): skipped, the search going on around them
    unbuildable: list[str] = field(default_factory=list)

    def value(self, values: dict[str, Value]) -> float | None:
        """The indicator at `values`; None where the model cannot be built there."""
        key = _key(values)
        if key not in self.tried:
            try:
                self.tried[key] = (values, self.measure(values))
            except FairnessError as e:
                self.tried[key] = (values, None)
                self.unbuildable.append(e.message)
        return self.tried[key][1]

    def built(self) -> list[tuple[dict[str, Value], float]]:
        return [vf for vf in self.tried.values() if vf[1] is not None]

    def best(self, target: float) -> tuple[dict[str, Value], float]:
        if not self.built():  # not even the baseline: nothing to search from
            raise FairnessError(self.unbuildable[0])
        return min(self.built(), key=lambda vf: abs(math.log(vf[1] / target)))


def solve_count(b: Baseline, strategy: str, indicator: str, target: float, tol: float,
                measure: Callable[[dict[str, Value]], float] | None = None, trim: bool = True,
                measured: list | None = None, unbuildable: list | None = None) -> tuple[dict[str, Value], float, int]:
    """The lattice point along `strategy` whose indicator is closest to `target`, then trimmed
    (the family's fine steps) when the strategy's own lattice misses it by more than `tol`.
    Returns (knob values, achieved value, candidates evaluated); `measured`, where given, receives
    every value measured, and `unbuildable`, why each candidate skipped could not be built."""
    shares = STRATEGIES[strategy]
    search = Search(b, shares, measure or (lambda v: count_indicator(b, v, indicator)))
    result = _solve(b, search, shares, target, tol, trim)
    if measured is not None:
        measured.extend(value for _, value in search.built())
    if unbuildable is not None:
        unbuildable.extend(search.unbuildable)
    return result


def _solve(b: Baseline, search: Search, shares: dict[str, float], target: float, tol: float, trim: bool
           ) -> tuple[dict[str, Value], float, int]:
    base = search.value(b.values)
    if base is None:
        raise FairnessError(search.unbuildable[0])
    log_t = math.log(target)
    log_s, slope = log_t - math.log(base), 1.0  # first guess: the indicator grows like s
    points = [(0.0, math.log(base))]
    for _ in range(MAX_SOLVE_STEPS):
        log_s = max(-30.0, min(30.0, log_s))
        got = search.value(values_at(b, shares, math.exp(log_s)))
        prev_s, prev_got = points[-1]
        if got is None:  # the model cannot be built there: back off halfway to the last point that built
            log_s = (log_s + prev_s) / 2
            continue
        got = math.log(got)
        if abs(got - log_t) <= math.log1p(tol):
            break
        points.append((log_s, got))
        if abs(log_s - prev_s) > 1e-9 and abs(got - prev_got) > 1e-12:
            slope = max(0.05, (got - prev_got) / (log_s - prev_s))  # the indicator never falls as s grows
        step = (log_t - got) / slope
        if abs(step) < 1e-6:
            break
        log_s += step
    # Rounding to the lattice makes the indicator a staircase: try the lattice neighbours of the
    # best point, one knob element a step up or down at a time, while that brings it closer.
    for _ in range(MAX_DESCENT_SWEEPS):
        best_values, best_value = search.best(target)
        if abs(best_value / target - 1) <= tol:
            break
        # the indicator grows with every knob: only steps towards the target can come closer
        for values in _neighbours(b, shares, best_values, 1 if best_value < target else -1):
            search.value(values)
        if search.best(target)[0] is best_values:
            break
    if trim:
        for knob, element in b.family.trims:
            if abs(search.best(target)[1] / target - 1) <= tol:
                break
            _trim(b, search, target, tol, knob, element)
    best_values, best_value = search.best(target)
    return best_values, best_value, len(search.tried)


def brackets(search_values, target: float) -> bool:
    """Whether points were measured on both sides of the target: then it lies within the
    strategy's reach, whose ends need not be built (a Swin at 64 times its image side builds
    attention masks for minutes)."""
    return min(search_values) <= target <= max(search_values)


def _trim(b: Baseline, search: Search, target: float, tol: float, name: str, element: int | None) -> None:
    """Move one element of one knob, from the best point so far, towards the target, within
    MAX_TRIM of the element's size, until a point is within `tol`. The indicator grows with the
    element, close to linearly over a trim's range, so each next count of steps is where the
    line through the two nearest points meets the target (a secant step), kept strictly inside
    the bracket found so far (or at the end of the range, where the line meets the target beyond
    it); where it is not, the steps double (no bracket yet) or halve the bracket. Every point is kept in `search`; a value the model cannot be built at ends the walk."""
    knob = b.family.knob(name)
    start, value = search.best(target)
    v = start[name]
    items = list(v) if isinstance(v, tuple) else [v]
    i = (element or 0) % len(items)
    sign = 1 if value < target else -1  # the direction that moves towards the target
    bound = knob.maximum if sign > 0 else knob.minimum
    most = knob.steps_in(min(MAX_TRIM * items[i], abs(bound - items[i])))  # steps allowed
    seen = {0: value}  # steps -> the indicator there

    def at(steps: int) -> float | None:
        moved = items[:i] + [knob.step(items[i], sign * steps)] + items[i + 1:]
        try:
            return search.value({**start, name: tuple(moved) if isinstance(v, tuple) else moved[0]})
        except FairnessError:
            return None

    # lo steps fall short of the target, hi steps reach or pass it; the first try is a 64th of the
    # range (one step of a hidden size; a few units of a float knob in steps of 0.01)
    lo, hi, steps = 0, None, max(1, most // 64)
    while 0 < steps <= most and steps not in seen:
        got = at(steps)
        if got is None:
            return
        seen[steps] = got
        if abs(got / target - 1) <= tol:
            return
        lo, hi = (lo, steps) if (got - target) * sign >= 0 else (steps, hi)
        if hi is not None and hi - lo <= 1:
            return
        a, c = (lo, hi) if hi is not None else sorted(seen)[-2:]  # the two nearest points
        rise = seen[c] - seen[a]
        guess = round(a + (target - seen[a]) * (c - a) / rise) if rise else None
        if hi is None and guess is not None and guess > most:
            guess = most  # the line passes the target beyond the trim's range: try its end
        elif guess is None or not lo < guess < (hi if hi is not None else most + 1):
            guess = (lo + hi) // 2 if hi is not None else min(2 * lo, most)
        steps = guess


def _neighbours(b: Baseline, shares: dict[str, float], values: dict[str, Value],
                direction: int | None = None) -> list[dict[str, Value]]:
    """Lattice points one step from `values` in one element of a knob the strategy scales, its
    followers moved with it (a follower on its own is a trim's to move, after this descent);
    only steps up (direction 1) or down (-1) where a direction is given."""
    out = []
    for k in b.family.knobs:
        if not shares.get(k.role) or k.follows:
            continue
        v = values[k.name]
        elements = list(v) if isinstance(v, tuple) else [v]
        for i, e in enumerate(elements):
            for step in (direction,) if direction else (-1, 1):
                if k.on_lattice(k.step(e, step)):
                    moved = elements[:i] + [k.step(e, step)] + elements[i + 1:]
                    out.append(_followed(b, {**values, k.name: tuple(moved) if isinstance(v, tuple) else moved[0]}))
    return out


def reachable(b: Baseline, strategy: str, indicator: str, ends: str = "both") -> tuple[float | None, float | None]:
    """The indicator at the ends of the strategy's path: every scaled knob at its minimum ("lo"),
    and at the largest lattice value up to 64x the baseline's ("hi"); None for an end not asked
    for (the far end of an image side can take minutes to build: Swin's attention masks)."""
    shares = STRATEGIES[strategy]
    lo = count_indicator(b, values_at(b, shares, 1e-12), indicator) if ends in ("both", "lo") else None
    hi = count_indicator(b, values_at(b, shares, 64.0 ** max(k.flops_power / shares.get(k.role, 1)
                                                              for k in b.family.knobs
                                                              if shares.get(k.role))), indicator) \
        if ends in ("both", "hi") else None
    return lo, hi


def reach_text(lo: float | None, hi: float | None) -> str:
    """A strategy's reach in words: "4.1e+06 to 9.8e+07", or the one end that was measured."""
    return f"{lo:.4g} to {hi:.4g}" if lo is not None and hi is not None else \
        f"down to {lo:.4g}" if lo is not None else f"up to {hi:.4g}"


def applicable(b: Baseline, strategy: str, indicator: str) -> str | None:
    """Why a strategy cannot serve a target, or None."""
    roles = set(STRATEGIES[strategy])
    if not roles & b.family.roles():
        return f"the {b.family.name} family has no {'/'.join(sorted(roles))} knob"
    if strategy == "input" and indicator == "params":
        return "the input size does not change the parameters"
    if strategy == "experts" and indicator != "params":
        return "the number of experts does not change the FLOPs (each token is routed to as many)"
    return None


def capacity_loss(b: Baseline, values: dict[str, Value], params: float, base_params: float) -> list[str]:
    """What the variant keeps under half of (params, depth, width), in words."""
    out = []
    if base_params and params / base_params < CAPACITY_FLOOR:
        out.append(f"params {params / base_params:.0%} of the baseline's")
    for k in b.family.knobs:
        if k.role in ("depth", "width", "experts") and not k.follows:  # a follower kept what its leader kept
            kept = size_of(values[k.name]) / size_of(b.values[k.name])
            if kept < CAPACITY_FLOOR:
                out.append(f"{k.role}{f' ({k.name})' if k.name != k.role else ''} {kept:.0%} of the baseline's")
    return out


def unreachable(indicator: str, match: dict) -> bool:
    """A target a strategy did not get within tolerance of: out of its reach, or between lattice
    points too far apart even after the trims (Swin's image side in steps of 224, RegNet's stage
    widths). A variant there would not be matched, so none is given; the reason is listed."""
    return not match["within_tolerance"]


def match_record(indicator: str, strategy: str, target: float, achieved: float, tol: float, evaluations: int,
                 seconds: float, **extra) -> dict:
    rel = achieved / target - 1
    return {"indicator": indicator, "strategy": strategy, "target": target, "achieved": achieved,
            "rel_error": rel, "tolerance": tol, "within_tolerance": abs(rel) <= tol,
            "convention": MATCH_CONVENTION[indicator], "candidates": evaluations, "seconds": round(seconds, 3), **extra}


def match_counts(b: Baseline, indicator: str, target: float, strategies: list[str], tol: float | None = None,
                 progress: Callable[[str], None] = lambda m: None) -> list[dict]:
    """One variant per applicable strategy for a params / MACs / FLOPs target."""
    tol = TOLERANCE[indicator] if tol is None else tol
    out = []
    for strategy in strategies:
        why = applicable(b, strategy, indicator)
        if why:
            out.append({"strategy": strategy, "skipped": why})
            continue
        progress(f"{strategy}: searching {b.family.name} for {indicator} = {target:.6g}")
        t0 = time.perf_counter()
        try:
            seen: list[float] = []
            skipped: list[str] = []
            values, achieved, n = solve_count(b, strategy, indicator, target, tol, measured=seen, unbuildable=skipped)
        except FairnessError as e:  # the baseline itself cannot be built: this strategy fails alone
            out.append({"strategy": strategy, "failed": e.message})
            continue
        rec = match_record(indicator, strategy, target, achieved, tol, n, time.perf_counter() - t0)
        if skipped:  # the search went around them; the first says why
            rec["unbuildable"] = {"candidates": len(skipped), "first": skipped[0]}
        if not rec["within_tolerance"]:
            lo = hi = None
            if not brackets(seen, target):  # the one end on the target's side says whether it is in reach
                try:
                    lo, hi = reachable(b, strategy, indicator, "lo" if target < min(seen) else "hi")
                except FairnessError:  # an end of the path the model cannot be built at: its range is unknown
                    pass
            if lo is not None or hi is not None:
                rec["reachable"] = [lo, hi]
            beyond = (lo is not None and target < lo) or (hi is not None and target > hi)
            rec["reason"] = (f"out of reach: this strategy reaches {reach_text(lo, hi)}" if beyond
                             else "closest lattice point found")
            if skipped:  # the model could not be built nearer the target: say why
                rec["reason"] += (f"; {len(skipped)} candidate{'s' if len(skipped) > 1 else ''} nearer it could not "
                                  f"be built ({skipped[0]})")
        out.append({"strategy": strategy, "values": values, "match": rec})
    return out


def _lstsq(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """Least squares of y = a + b x; None with fewer than two distinct x."""
    xs = [p[0] for p in points]
    if len(points) < 2 or max(xs) - min(xs) < 1e-9:
        return None
    mx, my = sum(xs) / len(xs), sum(p[1] for p in points) / len(points)
    b = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x in xs)
    return my - b * mx, b


def match_speed(b: Baseline, indicator: str, target: float, strategies: list[str],
                time_of: Callable[[dict[str, Value]], tuple[float, bool]], tol: float | None = None,
                progress: Callable[[str], None] = lambda m: None) -> list[dict]:
    """One variant per strategy for a throughput (samples/s) or latency (s) target.

    `time_of(values)` measures a variant on the target device and returns (seconds per
    example for throughput, or per call for latency; noise as IQR / median). Both indicators
    are matched as times: throughput T is a time of 1/T per example."""
    tol = TOLERANCE[indicator] if tol is None else tol
    t_target = 1.0 / target if indicator in RATES else target
    out = []
    timed: dict[tuple, tuple[float, float]] = {}  # knob values -> (time, noise), across strategies
    for strategy in strategies:
        why = applicable(b, strategy, "flops")
        if why:
            out.append({"strategy": strategy, "skipped": why})
            continue
        t0 = time.perf_counter()
        measured: list[tuple[dict, float, float, float]] = []  # values, flops, time, noise

        def measure(values):
            # Every strategy starts from the baseline, and two may propose one point: a candidate
            # is timed once per search, not once per strategy.
            flops = count_indicator(b, values, "flops")
            if (key := _key(values)) in timed:
                progress(f"{strategy}: candidate {len(measured) + 1} {values} was timed already")
            else:
                progress(f"{strategy}: timing candidate {len(measured) + 1} {values}")
                timed[key] = time_of(values)
            t, noise = timed[key]
            measured.append((values, flops, t, noise))
            return t

        try:
            _speed_search(b, strategy, t_target, tol, measured, measure)
        except FairnessError as e:
            out.append({"strategy": strategy, "failed": e.message})
            continue
        values, flops, t, noise = min(measured, key=lambda m: abs(math.log(m[2] / t_target)))
        achieved = 1.0 / t if indicator in RATES else t
        # The tolerance means little below the measurement's own noise: both are recorded.
        rec = match_record(indicator, strategy, target, achieved, tol, len(measured), time.perf_counter() - t0,
                           noise=noise, noisy=noise > NOISY_IQR_RATIO, flops=flops,
                           paired_with=getattr(time_of, "paired_with", None),
                           timed_as=time_of.timed_as() if hasattr(time_of, "timed_as") else None)
        if not rec["within_tolerance"]:
            reached = [1.0 / m[2] if indicator in RATES else m[2] for m in measured]
            rec["reachable"] = [min(reached), max(reached)]  # what the candidates measured spanned
            rec["reason"] = (f"closest of {len(measured)} measured candidates, which spanned "
                             f"{min(reached):.4g} to {max(reached):.4g}")
        out.append({"strategy": strategy, "values": values, "match": rec})
    return out


def _speed_search(b: Baseline, strategy: str, t_target: float, tol: float, measured: list, measure) -> None:
    """Measure candidates until one is within `tol` of the target time, or the budget is spent:
    the baseline first, then proposals from a fit of log time against log FLOPs."""
    measure(b.values)
    for _ in range(MAX_SPEED_CANDIDATES - 1):
        values, _, t, _ = min(measured, key=lambda m: abs(math.log(m[2] / t_target)))
        if abs(t / t_target - 1) <= tol:
            break
        fit = _lstsq([(math.log(f), math.log(tt)) for _, f, tt, _ in measured])
        a, slope = fit if fit else (math.log(measured[0][2]) - math.log(measured[0][1]), 1.0)
        slope = max(slope, 0.05)  # more FLOPs never run faster, in this model
        # a strategy whose knob barely moves FLOPs (kv_heads) gives a near-flat fit whose inverse can
        # under- or overflow: propose within 4x of the FLOPs measured so far
        flops = [f for _, f, _, _ in measured]
        flops_goal = math.exp(min(max((math.log(t_target) - a) / slope, math.log(min(flops) / 4)),
                                  math.log(max(flops) * 4)))
        values, _, _ = solve_count(b, strategy, "flops", flops_goal, 0.005, trim=False)  # time is not that exact
        done = {_key(m[0]) for m in measured}
        if _key(values) in done:
            # The goal lies between lattice points already measured: try the unmeasured
            # neighbour of the best one whose FLOPs come closest to the goal.
            best = min(measured, key=lambda m: abs(math.log(m[2] / t_target)))[0]
            fresh = [n for n in _neighbours(b, STRATEGIES[strategy], best) if _key(n) not in done]
            if not fresh:
                break
            values = min(fresh, key=lambda n: abs(math.log(count_indicator(b, n, "flops") / flops_goal)))
        measure(values)


def _on_device(src: Source, spec: InputSpec, device: str, channels_last: bool = False):
    """A source built on the timing device, with its inputs at any batch size; in channels_last
    where that was resolved for it (runner.set_up applies it, as for the final timing)."""
    from .runner import Runnable
    from .sources import recipe

    module = build(src, device)
    return Runnable(src.text, module, lambda n: make_inputs(module, src, spec, n, device), rebuild=recipe(src, spec),
                    channels_last=channels_last)


def device_timer(b: Baseline, settings, indicator: str, batch: int, reference: Source | None = None,
                 target: float | None = None, tol: float | None = None, reference_spec: InputSpec | None = None,
                 channels_last: bool = False, reference_channels_last: bool = False, replay: bool | None = None):
    """time_of(values) for match_speed: build the variant on the settings' device and time it, set
    up as the final timing runs it (its precision, channels_last) and in the mode the judgement
    reads: replayed from CUDA graphs where they are on (`replay`: the target's judged mode, from
    speed_of), eager where a model cannot be captured.
    With `reference` (the model whose speed is the `target`), each candidate is timed in
    interleaved rounds with it, in the same mode, so drift on the machine is paired out, and its
    timing stops as soon as its speed-up's CI lies wholly outside the tolerance band; its time is
    the target's divided by that speed-up, and its noise the CI's half-width over the speed-up.
    `time_of.timed_as` says how the search timed."""
    from .runner import GraphUnavailable, generation_rate, measure_against, measure_rate, search_prepared

    tol = TOLERANCE[indicator] if tol is None else tol
    band = (1 / (1 + tol), 1 / (1 - tol))
    refs: dict = {}  # graph replays or not -> the reference, prepared once on first use
    if indicator in GENERATION_INDICATORS:
        reference = None  # generation runs model after model, as in the final timing: nothing to pair
    # generation has its own replayed implementation (generation_rate); forward passes replay here
    graph = settings.graphs and indicator not in GENERATION_INDICATORS and replay is not False
    eager_because: list[str] = []  # why a search meant to replay timed a model eagerly

    def reference_at(replay: bool):
        if replay not in refs:
            run = _on_device(reference, reference_spec or b.spec, settings.device, reference_channels_last)
            refs[replay] = search_prepared(run, batch if indicator == "throughput" else 1, settings, replay)
        return refs[replay]

    def once(values, replay: bool):
        src, spec = b.variant(values)
        run = _on_device(src, spec, settings.device, channels_last)
        if indicator in GENERATION_INDICATORS:
            return generation_rate(run, settings, indicator, batch, replay is not False)[:2]
        if reference is None:
            return measure_rate(run, settings, indicator, batch, replay)
        t_target = 1.0 / target if indicator == "throughput" else target
        speedup, ci = measure_against(reference_at(replay), run, settings, indicator, batch, band, replay)
        return t_target / speedup, (ci[1] - ci[0]) / 2 / speedup

    def time_of(values):
        nonlocal graph
        try:
            return once(values, graph)
        except GraphUnavailable as e:  # this candidate is timed eagerly (against an eager reference)
            eager_because.append(e.message)
            if reference is not None and True not in refs:
                graph = False  # the reference itself cannot be captured: the rest of the search is eager
            return once(values, False)
        finally:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()  # the variant is freed before the next is built

    def timed_as() -> str:
        n = len(eager_because)
        return ("CUDA graph replays" if graph else "eager") + (
            f"; {n} model{'s' if n > 1 else ''} timed eagerly, not captured ({eager_because[0]})" if n else "")

    time_of.paired_with = reference.text if reference is not None else None
    time_of.timed_as = timed_as
    return time_of


def speed_of(text: str, kwargs: dict | None, spec: InputSpec, indicator: str, settings, batch: int = 1,
             channels_last: bool = False) -> tuple[float, bool]:
    """Another model's speed (--match-to; compare's proposed model) as the judgement reads it, and
    whether that is its CUDA graph replay: set up as the final timing runs it, timed eagerly and,
    where graphs are on, replayed; the replay is the one unless it cannot be captured or runs over
    REPLAY_SLOWER slower than eager (flags.replay_slower: the capture ran other kernels). A speed
    search then times its candidates in the same mode (device_timer's `replay`)."""
    from .flags import HOST_BOUND, REPLAY_SLOWER
    from .runner import GraphUnavailable, HostBoundTarget, generation_idle, generation_rate, measure_rate

    run = _on_device(parse_source(text, kwargs), spec, settings.device, channels_last)
    if indicator in GENERATION_INDICATORS:
        seconds, _, replay = generation_rate(run, settings, indicator, batch)
        # an eager decode or prefill the host sets is not judged (flags.decode_host_bound,
        # flags.ttft_host_bound): no variant is matched on it. On an H100 a GQA model whose replay
        # copied its cache left the GPU 94% idle in its eager decode, and the width strategy matched
        # it with a 58M variant of a 220M model.
        # an eager target (the prefill is never the replay): does the host set it?
        idle = generation_idle(run, settings, indicator, batch) \
            if not replay and settings.torch_device.type == "cuda" and settings.idle else None
        if idle is not None and idle > HOST_BOUND:
            what, fix = {"decode_throughput": (f"the eager decode at batch {batch} (read where the replayed decode "
                                               f"copied its KV cache)",
                                               "time where the replayed decode reads the cache as held"),
                         "ttft": (f"the prefill at batch {batch} (a forward pass over the prompt)",
                                  "time a batch size that keeps the GPU busy")}[indicator]
            raise HostBoundTarget(text, f"the target is host-bound: {what} left the GPU idle {idle:.0%} of each step, "
                                        f"so the host's kernel launches set its speed; match on params or flops, or "
                                        f"{fix}")
    else:
        seconds, _ = measure_rate(run, settings, indicator, batch)
        replay = False
        if settings.graphs:
            try:
                graph, _ = measure_rate(run, settings, indicator, batch, True)
            except GraphUnavailable:
                graph = None
            if graph is not None and graph / seconds <= REPLAY_SLOWER:
                seconds, replay = graph, True
    return (1.0 / seconds if indicator in RATES else seconds), replay


def match_variants(baseline: str, kwargs: dict, spec: InputSpec, *, indicator: str, target: float | None,
                   match_to: str | None = None, strategies: list[str] | None = None, tolerance: float | None = None,
                   family_file: str | None = None, device: str = "cpu", batch_size: int = 1, dtype: str = "float32",
                   min_time: float = 1.0, count_device: str = "meta",
                   progress: Callable[[str], None] = lambda m: None) -> dict:
    """The whole `fairness match`: a results file with the baseline, the target model (with
    --match-to) and one variant per strategy, each with every count and its match record.
    Every count, the search's candidates included, runs on `count_device`."""
    from .indicators.env import environment
    from .measure import check_count_device, measure
    from .results import new_results
    from .runner import RunSettings, apply_settings, channels_last_for, check_settings

    b = load_baseline(baseline, kwargs, spec, family_file, check_count_device(count_device))
    if indicator in ("macs", "flops"):
        count_indicator(b, b.values, indicator)  # falls back to the CPU where meta cannot run the model
        if b.meta_failure:
            progress(f"{b.src.text} cannot be counted on meta ({b.meta_failure}); every candidate is counted on "
                     f"the cpu instead (counts do not depend on the device)")
            count_device = "cpu"
    strategies = strategies or default_strategies(b.family)
    progress(f"{b.src.text}: family {b.family.name}; knobs {b.values}")
    settings, env = None, environment(count_device)
    if indicator in SPEED_INDICATORS:
        settings = check_settings(RunSettings(device=device, dtype=dtype, batch_sizes=(batch_size,),
                                              min_duration_s=min_time, idle=False, energy=False))
        env = apply_settings(settings)
    models, replay = [], None  # replay: the target model's judged mode (speed_of); None: as the settings say
    # each model timed in the layout its counted record resolves (channels_last for a convnet), as measure times it
    layout = (lambda rec: channels_last_for(settings.channels_last, rec)) if settings else (lambda rec: False)
    if match_to:
        progress(f"measuring the target: {match_to} {indicator}")
        models.append(measure(match_to, image_size=spec.image_size, seq_len=spec.seq_len,
                              input_factory=spec.factory, fvcore=False, role="proposed", device=count_device))
        if indicator in SPEED_INDICATORS:
            target, replay = speed_of(match_to, None, spec, indicator, settings, batch_size, layout(models[0]))
        else:
            target = measured(models[0], indicator)
    base_rec = measure(b.src, image_size=spec.image_size, seq_len=spec.seq_len, input_factory=spec.factory,
                       fvcore=False, role="baseline", device=count_device).with_(knobs=b.values)
    models.append(base_rec)
    if indicator in COUNT_INDICATORS:
        variants = match_counts(b, indicator, target, strategies, tolerance, progress)
    else:
        timer = device_timer(b, settings, indicator, batch_size, parse_source(match_to) if match_to else None, target,
                             tolerance, channels_last=layout(base_rec),
                             reference_channels_last=bool(models[:-1]) and layout(models[0]), replay=replay)
        variants = match_speed(b, indicator, target, strategies, timer, tolerance, progress)
    found = [v for v in variants if "values" in v]
    if not found:
        raise FairnessError(f"{b.src.text}: no strategy gave a variant for the {indicator} target: "
                            + "; ".join(f"{v['strategy']}: {v.get('skipped') or v.get('failed')}" for v in variants))
    if all(v["match"].get("reason", "").startswith("out of reach") for v in found):
        ranges = "; ".join(f"{v['strategy']} {reach_text(*v['match']['reachable'])}" for v in found)
        raise FairnessError(f"{indicator} target {target:.4g} is out of reach of every strategy for "
                            f"{b.src.text} ({ranges}); choose a target within their reach")
    gone = {v["strategy"]: v["match"] for v in found if unreachable(indicator, v["match"])}
    found = [v for v in found if v["strategy"] not in gone]
    if not found:
        # every strategy is named: one that failed or does not apply says why (issue 31: RegNetY's
        # width and compound candidates failed in timm's constructor and went unmentioned)
        others = [f"{v['strategy']} {'failed' if 'failed' in v else 'skipped'}: {v.get('failed') or v.get('skipped')}"
                  for v in variants if "values" not in v]
        raise FairnessError(f"{indicator} target {target:.4g} is not reachable by scaling {b.src.text}: "
                            + "; ".join([f"{s} {m['rel_error']:+.1%} at best ({m['reason']})" for s, m in gone.items()]
                                        + others)
                            + f"; give a target within reach (tolerance {next(iter(gone.values()))['tolerance']:.0%})")
    base_params = measured(base_rec, "params")
    for v in found:
        src, vspec = b.variant(v["values"])
        rec = measure(src, image_size=vspec.image_size, seq_len=vspec.seq_len, input_factory=vspec.factory,
                      fvcore=False, role="variant", device=count_device,
                      name=f"{b.src.text} {v['strategy']}-matched on {indicator}")
        models.append(rec.with_(match=v["match"], knobs=v["values"],
                                capacity_loss=capacity_loss(b, v["values"], measured(rec, "params"), base_params)))
    res = new_results(models, env)
    res["matching"] = {
        "baseline": b.src.text, "family": b.family.name, "family_description": b.family.description,
        "knobs": [{"name": k.name, "role": k.role, "multiple_of": k.multiple_of, "minimum": k.minimum,
                   "maximum": k.maximum, "note": k.note} for k in b.family.knobs],
        "indicator": indicator, "target": target, "match_to": match_to, "convention": MATCH_CONVENTION[indicator],
        "skipped": {v["strategy"]: v["skipped"] for v in variants if "skipped" in v},
        "failed": {v["strategy"]: v["failed"] for v in variants if "failed" in v},
        "unreachable": {s: f"{m['rel_error']:+.1%} at best ({m['reason']})" for s, m in gone.items()},
        "settings": settings.record() if settings else None, "count_device": count_device,
    }
    return res
