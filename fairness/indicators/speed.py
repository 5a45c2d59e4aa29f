"""Timing primitives: the statistics of repeated timings, and the timing loops.

Follows the anchors' practice (torch.utils.benchmark, timm's benchmark.py,
optimum-benchmark): warm up until compilation and autotuning are out of the
numbers; on CUDA read CUDA events, synchronizing once per timed block for
throughput and once per call for latency; repeat until both a minimum count
and a minimum duration are met; keep the raw times and derive median, spread
and a confidence interval from them. A measurement whose IQR is over 10% of
its median is marked noisy (torch.utils.benchmark's threshold).

Several models in one comparison are timed in interleaved rounds, and their
speed ratios are paired round by round, with a confidence interval.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Collection

import torch

NOISY_IQR_RATIO = 0.10  # IQR over 10% of the median: torch.utils.benchmark warns at the same point
P99_MIN_SAMPLES = 100  # below this, the 99th percentile is one of the last couple of samples
SETTLE_ROUNDS = 6  # the fewest rounds whose order-statistic 95% CI of a paired ratio is worth reading
# Graph replays are steady (IQR 0.1-0.9% on an H200, benchmarks/RESULTS.md): a model leaves a
# phase's timing once its median is known within this, half the 95% CI over the median (issue 27).
KNOWN_WITHIN = 0.005


def _quantile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default, 'linear')."""
    pos = (len(sorted_values) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def median_ci95(values: list[float]) -> tuple[float, float]:
    """Distribution-free 95% confidence interval of the median, from order statistics:
    the r-th and s-th smallest values, r = floor(n/2 - 1.96 sqrt(n)/2) and
    s = ceil(1 + n/2 + 1.96 sqrt(n)/2), 1-based (Conover, Practical Nonparametric
    Statistics, the large-sample interval for a quantile)."""
    s = sorted(values)
    n = len(s)
    half = 1.96 * math.sqrt(n) / 2
    lo = max(0, math.floor(n / 2 - half) - 1)
    hi = min(n - 1, math.ceil(1 + n / 2 + half) - 1)
    return s[lo], s[hi]


@dataclass(frozen=True)
class Timing:
    """Repeated timings of one thing, in seconds, raw values kept."""

    times_s: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.times_s)

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)

    @property
    def iqr_s(self) -> float:
        s = sorted(self.times_s)
        return _quantile(s, 0.75) - _quantile(s, 0.25)

    def percentile_s(self, q: float) -> float:
        return _quantile(sorted(self.times_s), q)

    @property
    def noisy(self) -> bool:
        return self.median_s > 0 and self.iqr_s / self.median_s > NOISY_IQR_RATIO


class StepTimer:
    """Times one step in this process. run_interleaved drives a model through these four calls;
    a model in a worker process of its own (`--isolate`, isolate.py) answers the same four."""

    def __init__(self, step: Callable[[], object], device):
        self.step = step
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"

    def _sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def warmup(self, seconds: float, min_calls: int) -> None:
        start, done = time.perf_counter(), 0
        while done < min_calls or time.perf_counter() - start < seconds:
            self.step()
            done += 1
        self._sync()

    def rewarm(self) -> None:
        """One untimed call, so that switching models stays out of the next times."""
        self.step()
        self._sync()

    def block(self, calls: int) -> float:
        """Seconds for `calls` calls in a row, with one synchronize at the end."""
        if self.cuda:
            with torch.cuda.device(self.device):  # events on the timed device's stream, cuda:N too
                t0, t1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                t0.record()
                for _ in range(calls):
                    self.step()
                t1.record()
                t1.synchronize()
            return t0.elapsed_time(t1) / 1e3  # CUDA events read milliseconds
        t0 = time.perf_counter()
        for _ in range(calls):
            self.step()
        return time.perf_counter() - t0

    def singles(self, n: int) -> tuple[float, ...]:
        """n single-call times (latency): each call timed on its own."""
        return tuple(self.block(1) for _ in range(n))


class TimerFailed(Exception):
    """A model raised while it was timed with others: `index` says which, `error` what."""

    def __init__(self, index: int, error: Exception):
        super().__init__(str(error))
        self.index, self.error = index, error


def run_interleaved(timers: list, *, per_call: bool, calls_per_block: list[int] | int = 1,
                    chunk_calls: int = 10, warmup_s: float = 0.5, min_warmup: int = 3, min_samples: int = 10,
                    min_duration_s: float = 1.0, max_duration_s: float = 60.0,
                    settled: Callable[[list], bool] | None = None,
                    known: Callable[[list], bool] | None = None,
                    keep: Collection[int] = ()) -> list[list[tuple[float, ...]]]:
    """Time several models in rounds (A B, B A, A B, ...), so drift on a shared machine hits them alike.

    `timers`: one StepTimer (or a worker answering its calls) per model. Each model warms up
    for at least `min_warmup` calls and `warmup_s` seconds. Then, each round, every model in
    turn gives one timed block (`per_call=False`: `calls_per_block` calls, one synchronize at
    the end) or a chunk of `chunk_calls` single-call times (`per_call=True`: CUDA events
    around every call). With more than one model, one untimed call precedes each block or
    chunk, so switching models stays out of the times. Returns, per model, its times grouped by
    round. An error in one model of several is raised as TimerFailed, naming the model, so the
    caller can go on without it.

    When to stop, one of two ways:
      - `settled(rounds)`, a rule over all the models (a speed search's paired ratio): rounds
        continue until every model has `min_samples` times and each has run for `min_duration_s`
        on average, or, from SETTLE_ROUNDS rounds on, until the rule holds;
      - `known(model_rounds)`, a rule over one model's rounds (median_known): each model leaves
        the rotation once it has had its own share (`min_samples` times and `min_duration_s` of
        its own time) or, from SETTLE_ROUNDS rounds on, once its rule holds. A steady model then
        stops costing time while an unsteady one is still timed (issue 27). The models in `keep`
        (the references of paired ratios) stay while any other is timed, so every paired ratio
        has all the rounds of the model it pairs: paired_ratio pairs a model's rounds with the
        reference's first ones, which were taken beside them.
    Either way `max_duration_s` in all is the ceiling.
    """
    if isinstance(calls_per_block, int):
        calls_per_block = [calls_per_block] * len(timers)
    rewarm = len(timers) > 1
    for i, timer in enumerate(timers):
        with _blame(i, len(timers)):
            timer.warmup(warmup_s, min_warmup)

    rounds: list[list[tuple[float, ...]]] = [[] for _ in timers]
    counts = [0] * len(timers)
    own = [0.0] * len(timers)  # seconds each model has taken, its untimed switching call included
    active = list(range(len(timers)))
    began, n = time.perf_counter(), 0
    while True:
        n += 1
        # A B, then B A: a model that always ran second would always run after the other one
        # (caches, clocks), and that order would show up in the ratio.
        for i in (active if n % 2 else reversed(active)):
            timer, start = timers[i], time.perf_counter()
            with _blame(i, len(timers)):
                if rewarm:
                    timer.rewarm()
                if per_call:
                    times = timer.singles(chunk_calls if rewarm else 1)
                else:
                    times = (timer.block(calls_per_block[i]),)
            rounds[i].append(tuple(times))
            counts[i] += len(times)
            own[i] += time.perf_counter() - start
        elapsed = time.perf_counter() - began
        if elapsed >= max_duration_s:
            return rounds
        if known is None:
            if min(counts) >= min_samples and elapsed >= min_duration_s * len(timers):
                return rounds
            if settled and n >= SETTLE_ROUNDS and settled(rounds):
                return rounds
            continue
        done = {i for i in active if (counts[i] >= min_samples and own[i] >= min_duration_s)
                or (n >= SETTLE_ROUNDS and known(rounds[i]))}
        others_done = all(i in done for i in active if i not in keep)
        active = [i for i in active if i not in done or (i in keep and not others_done)]
        if not active:
            return rounds


def median_known(min_samples: int, within: float = KNOWN_WITHIN) -> Callable[[list], bool]:
    """A `known` rule for run_interleaved: the model has `min_samples` times and the 95% CI of its
    median (median_ci95) spans at most `within` of the median on either side. Then more rounds
    would not move its number by more than that, and it can leave the rotation."""

    def known(model_rounds: list[tuple[float, ...]]) -> bool:
        times = [t for r in model_rounds for t in r]
        if len(times) < min_samples:
            return False
        lo, hi = median_ci95(times)
        return (hi - lo) / 2 <= within * statistics.median(times)

    return known


@contextlib.contextmanager
def _blame(index: int, count: int):
    """Name the model an error came from, when several are timed together."""
    try:
        yield
    except Exception as e:
        if count == 1:
            raise
        raise TimerFailed(index, e) from e


def run_timed(step: Callable[[], object], device, *, per_call: bool, calls_per_block: int = 1,
              warmup_s: float = 0.5, min_warmup: int = 3, min_blocks: int = 10, min_duration_s: float = 1.0,
              max_duration_s: float = 30.0) -> Timing:
    """Time one step: per-block times (`per_call=False`) or per-call times (`per_call=True`)."""
    rounds = run_interleaved([StepTimer(step, device)], per_call=per_call, calls_per_block=calls_per_block,
                             warmup_s=warmup_s, min_warmup=min_warmup, min_samples=min_blocks,
                             min_duration_s=min_duration_s, max_duration_s=max_duration_s)[0]
    return Timing(tuple(t for r in rounds for t in r))


def calls_for(seconds_per_call: float, block_s: float) -> int:
    """Calls per timed block so that a block lasts about `block_s`: one synchronize per block
    then costs little against the block, and a block stays short enough to give many samples."""
    return max(1, math.ceil(block_s / max(seconds_per_call, 1e-9)))


@dataclass(frozen=True)
class Ratio:
    """How many times faster `model` is than the reference, paired round by round."""

    batch_size: int
    indicator: str  # "throughput" (ratio of samples/s) or "latency" (reference latency / model latency)
    ratio: float
    ci95: tuple[float, float]
    n: int  # rounds


def paired_ratio(model_rounds: list[tuple[float, ...]], ref_rounds: list[tuple[float, ...]], batch_size: int,
                 indicator: str) -> Ratio:
    """Speed-up of a model over the reference from times taken in the same rounds: per round,
    reference time / model time (block times, or the median of each chunk of call times);
    the median and its order-statistic 95% CI over rounds."""
    per_round = [statistics.median(r) / statistics.median(m) for m, r in zip(model_rounds, ref_rounds)]
    lo, hi = median_ci95(per_round)
    return Ratio(batch_size, indicator, statistics.median(per_round), (lo, hi), len(per_round))


@dataclass(frozen=True)
class Throughput:
    batch_size: int
    samples_per_s: float
    ci95: tuple[float, float]
    n: int  # timed blocks
    calls_per_block: int
    noisy: bool


@dataclass(frozen=True)
class Latency:
    batch_size: int
    median_s: float
    p90_s: float
    p99_s: float
    iqr_s: float
    n: int
    noisy: bool
    p99_reliable: bool  # False when n < P99_MIN_SAMPLES


def throughput_from(timing: Timing, batch_size: int, calls_per_block: int) -> Throughput:
    """Samples per second per block; the median and its 95% CI over blocks."""
    rates = [batch_size * calls_per_block / t for t in timing.times_s]
    lo, hi = median_ci95(rates)
    return Throughput(batch_size, statistics.median(rates), (lo, hi), timing.n, calls_per_block, timing.noisy)


def latency_from(timing: Timing, batch_size: int) -> Latency:
    return Latency(batch_size, timing.median_s, timing.percentile_s(0.90), timing.percentile_s(0.99),
                   timing.iqr_s, timing.n, timing.noisy, timing.n >= P99_MIN_SAMPLES)
