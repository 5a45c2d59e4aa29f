"""Runs models on the target device: batch sizes, the interleaved timing of a group of
models, and every run-time indicator gathered into their records (throughput, latency,
peak memory, idle share, energy, achieved FLOP/s and MFU). What runs one model (settings,
the step, Prepared) is step.py's, shared with the `--isolate` workers.

Several models given together are timed in interleaved rounds (speed.py), so
that drift on a shared machine hits them alike, and each model's speed-up over
the first comes with a confidence interval from rounds paired in time.
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import torch

from .errors import FairnessError, brief
from .flags import run_host_bound
from .indicators import energy as energy_mod
from .indicators import memory as memory_mod
from .indicators.env import peak_flops
from .indicators.gpu_state import (SUSTAIN_AFTER_CAPPED_S, SUSTAIN_SETTLE_S, SUSTAIN_TIMED_S, SUSTAIN_TOLERANCE,
                                   held_by_power, power_limited)
from .indicators.speed import (KNOWN_WITHIN, P99_MIN_SAMPLES, Throughput, TimerFailed, Timing, calls_for,
                               latency_from, median_known, paired_ratio, run_interleaved, throughput_from)
from .step import (AUTO_BATCH_CAP, BLOCK_S, COMPILE_MODES, DTYPES, PRECISIONS, TRAIN_FLOPS_FACTOR, TRAIN_OPTIMIZER,
                   Prepared, Progress,
                   Runnable, RunSettings, apply_settings, auto_batch, channels_last_for, channels_last_inputs,
                   check_settings, free_cache, is_oom, make_step, precision_context)

# The run-time API of the package (`from fairness.runner import RunSettings`): the step's names too.
__all__ = ["AUTO_BATCH_CAP", "COMPILE_MODES", "DTYPES", "PRECISIONS", "Prepared", "Runnable", "RunSettings", "apply_settings", "auto_batch",
           "channels_last_for", "channels_last_inputs", "check_settings", "free_cache", "make_step",
           "measure_rate", "prepare", "set_up", "time_models"]

GRAPH_WARMUP_S = 0.1  # each model's warm-up before its replays are timed (the eager phase warmed the GPU)


def _batch_plan(runs: list[Runnable], s: RunSettings, progress: Progress) -> list[list[tuple[int, str]]]:
    """Per model, the batch sizes to run and why: batch 1 always (latency at batch 1 is the
    paper's latency), then the requested sizes in increasing order. Nothing is changed silently."""
    plans = []
    for run in runs:
        if run.failed:
            plans.append([])
            continue
        if run.fixed_batch is not None:
            plans.append([(run.fixed_batch, "the batch of the inputs given")])
            continue
        sizes: dict[int, str] = {1: "batch 1: latency"}
        for b in s.batch_sizes:
            if b == "auto":
                size, why = auto_batch(run, s, progress)
                sizes[size] = why
            else:
                sizes[b] = "requested"
        plans.append(sorted(sizes.items()))
    return plans


# --- the measurement ------------------------------------------------------------------------


def _throughput_record(tp: Throughput, tokens: int | None) -> dict:
    rec = {"batch_size": tp.batch_size, "samples_per_s": tp.samples_per_s, "ci95": list(tp.ci95), "n": tp.n,
           "calls_per_block": tp.calls_per_block, "noisy": tp.noisy}
    if tokens:
        rec["tokens_per_s"] = tp.samples_per_s * tokens
    return rec


def _mfu(s: RunSettings, env: dict, macs: float | None, samples_per_s: float, factor: int) -> dict:
    if not macs:
        return {"achieved_flops_per_s": None, "mfu": None, "peak_flops_per_s": None, "peak_source": None}
    achieved = factor * 2 * macs * samples_per_s
    # float32 counts as TF32 when either switch allows it: cuDNN convolutions use TF32 by default
    # even though matmuls do not, so a convnet in float32 would otherwise show an MFU over 100%.
    tf32 = bool(env.get("tf32") or env.get("tf32_cudnn"))
    peak = peak_flops(env["device_name"], s.dtype, tf32) if s.torch_device.type == "cuda" else None
    return {"achieved_flops_per_s": achieved, "mfu": achieved / peak[0] if peak else None,
            "peak_flops_per_s": peak[0] if peak else None,
            "peak_source": peak[1] if peak else "no peak known for this device"}


def prepare(run: Runnable, b: int, s: RunSettings, train: bool, graph: bool = False):
    """The model at batch b, ready to time: in its worker process with --isolate, else here."""
    return run.worker.prepare(b, train, graph) if run.worker else Prepared(run, b, s, train, graph)


def _fail(run: Runnable, b: int, s: RunSettings, what: str, e: Exception) -> dict:
    if is_oom(e):
        reason = (f"out of memory at batch {b} ({what}) on {s.device}; use a smaller --batch, "
                  f"or --batch auto to find the largest that fits")
    elif isinstance(e, FairnessError):
        reason = e.message
    else:
        reason = f"{what} at batch {b} on {s.device} raised {brief(e, 300)}"
    run.failed = f"{run.name}: {reason}"
    free_cache(s.torch_device)
    return {"batch_size": b, "error": reason}


@dataclass
class _Timed:
    """One model of a phase: prepared at its batch size, and its partial run record."""
    run: Runnable
    b: int
    p: object  # Prepared, or a worker's answer to the same calls
    calls: int  # calls per timed block
    rec: dict


def _phase(runs: list[Runnable], b_of: dict, s: RunSettings, train: bool, progress: Progress,
           graph: bool = False, per_call: bool = True, sustain: frozenset = frozenset(),
           refs: frozenset = frozenset()) -> dict:
    """One phase (inference, training, or inference replayed from CUDA graphs) at one batch
    position for every live model, interleaved. Returns per model name: its partial run record,
    or an error record. A model that cannot be captured in a graph keeps its eager numbers: its
    graph record says why (`unavailable`), and it is not marked failed.

    `per_call`: time the latency call by call (the first batch position: batch 1, the paper's
    latency). At larger batches the latency is read from the throughput blocks instead: each
    block is synchronized, so its time over its calls is a call's time; when a call outlasts a
    block (calls_per_block 1) it is exactly a per-call timing. A second timed phase there would
    cost a comparison as much again for the same number.

    `sustain`: the models whose throughput here is their headline, to time again alone where their
    window reports the board at its power limit (_sustain).

    `refs`: the references of the paired speed ratios, timed while any other model is
    (run_interleaved's `keep`)."""
    out: dict[str, dict] = {}
    kind = "training step" if train else "forward pass (CUDA graph)" if graph else "forward pass"

    def fail(run, b, what, e):
        if not graph:
            return _fail(run, b, s, what, e)
        free_cache(s.torch_device)
        return {"batch_size": b, "unavailable": f"{what} failed ({brief(e)}); eager numbers only"}

    prepared = []
    for run in runs:
        b = b_of[run.name]
        progress(f"{run.name}@{b}: first call and warm-up ({kind})")
        try:
            p = prepare(run, b, s, train, graph)
        except Exception as e:
            out[run.name] = fail(run, b, "capturing the CUDA graph" if graph else kind, e)
            continue
        rec = {"first_call_s": p.first_call_s}
        if s.compile:
            rec["compile_s"] = p.first_call_s  # the first call of a compiled model is its compilation
        prepared.append(_Timed(run, b, p, calls_for(p.per_call_s, BLOCK_S), rec))
        out[run.name] = rec
    timed = _time_interleaved(prepared, s, kind, graph, not train and per_call, progress, fail, out, refs)
    if timed is None:
        return out
    tp_rounds, lat_rounds, window = timed
    for i, t in enumerate(prepared):
        _record_rounds(t, tp_rounds[i], lat_rounds[i] if lat_rounds is not None else None, window, train)
        if s.torch_device.type == "cuda":
            _secondary(t.rec, "gpu_state", True, progress, None, t.p.gpu_state)  # sampled while timed
    if not train:
        _sustain_limited(prepared, sustain, tp_rounds, lat_rounds, window, progress)
    if graph:  # the replay's memory, idle share and energy are not what a user's eager run costs
        return out
    if s.torch_device.type == "cuda":
        for t in prepared:
            failed = _measure_around(t, s, kind, train, progress)
            if failed is not None:
                out[t.run.name] = failed
    else:
        out.update(_cpu_peaks([t for t in prepared if t.run.rebuild is not None], s, kind, train, progress))
    return out


def _time_interleaved(prepared: list[_Timed], s: RunSettings, kind: str, graph: bool, per_call: bool,
                      progress: Progress, fail, out: dict, refs: frozenset = frozenset()):
    """The phase's timed rounds, every prepared model interleaved: (throughput rounds, latency
    rounds or None, the timed window's seconds); None where no model is left. A model whose timer
    fails is recorded in `out` by `fail` and leaves `prepared`; the others are timed again."""
    timing = _timing(s, graph)
    # A model leaves the phase once its median is known within KNOWN_WITHIN: more rounds would not
    # move its number by more than that (min_duration_s of its own stays the ceiling for an
    # unsteady one, such as a host-bound eager batch 1). Latency keeps P99_MIN_SAMPLES calls, so
    # that its p99 stays one to read.
    tp_stop = {"known": median_known(s.min_samples)}
    lat_stop = {"known": median_known(max(s.min_samples, P99_MIN_SAMPLES))}
    window = time.perf_counter()  # the timed window: what a comparison cannot do without
    while prepared:
        names = ", ".join(f"{t.run.name}@{t.b}" for t in prepared)
        where = "interleaved, a process each" if prepared[0].run.worker else "interleaved"
        try:
            until = f"until each median is known within {KNOWN_WITHIN:.1%}, at most {s.min_duration_s:g} s each"
            progress(f"timing {kind} throughput: {names} ({until}, {where})")
            keep = {i for i, t in enumerate(prepared) if t.run.name in refs}
            tp_rounds = run_interleaved([t.p for t in prepared], per_call=False, keep=keep,
                                        calls_per_block=[t.calls for t in prepared], **timing, **tp_stop)
            lat_rounds = None
            if per_call:
                progress(f"timing {kind} latency: {names}")
                # each model ran its throughput blocks just now, at this batch: a brief warm-up does
                # (eager's full one, 0.5 s a model, cost a 12-model comparison 5 s here)
                lat_timing = dict(timing, warmup_s=min(timing["warmup_s"], GRAPH_WARMUP_S))
                lat_rounds = run_interleaved([t.p for t in prepared], per_call=True, keep=keep, **lat_timing,
                                             **lat_stop)
            return tp_rounds, lat_rounds, time.perf_counter() - window
        except TimerFailed as e:  # that model fails alone; the others are timed again without it
            t = prepared.pop(e.index)
            out[t.run.name] = fail(t.run, t.b, f"timing the {kind}", e.error)
        except Exception as e:
            for t in prepared:
                out[t.run.name] = fail(t.run, t.b, f"timing the {kind}", e)
            return None
    return None


def _timing(s: RunSettings, graph: bool) -> dict:
    """run_interleaved's warm-up and floor for a phase or a speed search. Replays follow the eager
    phase (autotuned, clocks up) and their capture's own warm-up: they warm up briefly."""
    return dict(warmup_s=min(s.warmup_s, GRAPH_WARMUP_S) if graph else s.warmup_s, min_samples=s.min_samples,
                min_duration_s=s.min_duration_s)


def _record_rounds(t: _Timed, tp_rounds: list, lat_rounds: list | None, window: float, train: bool) -> None:
    """A model's throughput and latency (or training step) from its timed rounds, into its record."""
    rec, b, calls = t.rec, t.b, t.calls
    tp = throughput_from(Timing(tuple(x for r in tp_rounds for x in r)), b, calls)
    rec["throughput"] = _throughput_record(tp, t.p.tokens)
    rec["timed_window_s"] = window  # the whole interleaved phase, shared by its models
    rec["rounds"] = {"throughput": [list(r) for r in tp_rounds]}
    if train:
        rec["step_s"] = tp.batch_size / tp.samples_per_s
        return
    if lat_rounds is not None:
        lat = latency_from(Timing(tuple(x for r in lat_rounds for x in r)), b)
        rec["rounds"]["latency"] = [list(r) for r in lat_rounds]
        extra = {"p99_reliable": lat.p99_reliable}
    else:
        lat = latency_from(Timing(tuple(x / calls for r in tp_rounds for x in r)), b)
        extra = {"p99_reliable": lat.p99_reliable and calls == 1,
                 "from_blocks": "each timed block's time over its calls" + (
                     "" if calls == 1 else f" ({calls} calls a block: tails are averaged)")}
    rec["latency"] = {"batch_size": b, "median_s": lat.median_s, "p90_s": lat.p90_s, "p99_s": lat.p99_s,
                      "iqr_s": lat.iqr_s, "n": lat.n, "noisy": lat.noisy, **extra}


def _sustain_limited(prepared: list[_Timed], sustain: frozenset, tp_rounds: list, lat_rounds: list | None,
                     window: float, progress: Progress) -> None:
    """_sustain for each model named in `sustain` whose window reports the board at its power
    limit, one after another: the first settles SUSTAIN_SETTLE_S from the interleaved phase, and
    one that follows a model alone at the cap SUSTAIN_AFTER_CAPPED_S."""
    settle_s = SUSTAIN_SETTLE_S
    for i, t in enumerate(prepared):
        if t.run.name in sustain and power_limited(t.rec.get("gpu_state")):
            at_cap = _sustain(t, tp_rounds[i], lat_rounds[i] if lat_rounds is not None else None, window, settle_s,
                              progress)
            settle_s = SUSTAIN_AFTER_CAPPED_S if at_cap else SUSTAIN_SETTLE_S


def _sustain(t: _Timed, tp_rounds: list, lat_rounds: list | None, window: float, settle_s: float,
             progress: Progress) -> bool:
    """A model whose window reports the board at its power limit, timed again alone
    (Prepared.sustained; gpu_state.py says why). Where its sustained rate is over SUSTAIN_TOLERANCE
    below the interleaved one, its throughput rounds are scaled to it: its throughput, the latency
    read from its blocks and its paired speed-ups (_ratios) then read the rate it sustains alone,
    while the pairing still removes the drift. The record keeps the interleaved number. Returns
    whether the power limit held the clock down as this model ran alone: the board is at its cap,
    and the next one settles for SUSTAIN_AFTER_CAPPED_S only."""
    progress(f"{t.run.name}@{t.b}: throughput alone at the board's power limit "
             f"({settle_s:g} s to settle, {SUSTAIN_TIMED_S:g} s timed)")
    try:
        alone = t.p.sustained(t.calls, settle_s)
    except Exception as e:  # the interleaved number stands, and the record says why nothing else does
        t.rec["throughput"]["sustained"] = {"unavailable": brief(e)}
        return False
    interleaved = t.rec["throughput"]["samples_per_s"]
    factor = alone["samples_per_s"] / interleaved
    applied = factor < 1 - SUSTAIN_TOLERANCE
    if applied:
        _record_rounds(t, [[x / factor for x in r] for r in tp_rounds], lat_rounds, window, False)
    t.rec["throughput"]["sustained"] = {
        **alone, "interleaved_samples_per_s": interleaved, "over_interleaved": factor, "applied": applied,
        "definition": "samples/s alone, back to back, after the board reached its power limit; where "
                      f"over {SUSTAIN_TOLERANCE:.0%} below the interleaved rate it is the throughput "
                      "(every timed round scaled to it), else the interleaved rate stands"}
    return held_by_power(alone.get("gpu_state"))


def _measure_around(t: _Timed, s: RunSettings, kind: str, train: bool, progress: Progress) -> dict | None:
    """What is measured around an eager model's timing on CUDA: its peak memory, idle share and
    energy. Returns an error record where the peak memory could not be measured, else None."""
    run, b, p, rec = t.run, t.b, t.p, t.rec
    try:
        rec["memory"] = p.cuda_memory()
    except Exception as e:
        return _fail(run, b, s, f"measuring the peak memory of the {kind}", e)
    if not train:
        _secondary(rec, "idle_share", s.idle, progress, f"{run.name}@{b}: device idle share (torch.profiler)",
                   lambda: p.idle(max(3, min(t.calls, 50))))
        _secondary(rec, "energy", s.energy and energy_mod.energy_unavailable(s.torch_device) is None, progress,
                   f"{run.name}@{b}: energy (NVML, over its timed blocks)", p.energy)
    return None


def _cpu_peaks(timed: list[_Timed], s: RunSettings, kind: str, train: bool, progress: Progress) -> dict:
    """Each model's CPU peak memory: the peak resident set of a fresh process of its own
    (memory_mod.cpu_peak_rss). The processes run after the phase's timing, several at a time: a
    process's resident set is its own, so its neighbours do not change it, and most of each one's
    time is importing torch. One that fails beside others (killed when they did not all fit in
    memory) runs again alone. Returns an error record per model whose peak could not be measured."""
    if not timed:
        return {}
    workers = memory_mod.fresh_workers(len(timed))
    progress(f"peak resident memory, a fresh process each, {workers} at a time ({kind}): "
             + ", ".join(f"{t.run.name}@{t.b}" for t in timed))

    def peak(t: _Timed) -> dict:
        return memory_mod.cpu_peak_rss(t.run.rebuild, t.b, replace(s, channels_last=t.run.channels_last,
                                                                   precision=t.run.precision), train)

    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(peak, t) for t in timed]
    out = {}
    for t, future in zip(timed, futures):
        try:
            try:
                t.rec["memory"] = future.result()
            except Exception:
                if workers == 1:
                    raise
                t.rec["memory"] = peak(t)  # alone
        except Exception as e:
            out[t.run.name] = _fail(t.run, t.b, s, f"measuring the peak memory of the {kind}", e)
    return out


def _secondary(rec: dict, key: str, wanted: bool, progress: Progress, message: str | None, fn) -> None:
    """Idle share, energy and the GPU's state complete the picture but are not the measurement:
    when one cannot be read, the record says why and the run goes on."""
    if not wanted:
        return
    if message:
        progress(message)
    try:
        rec[key] = fn()
    except Exception as e:
        rec.setdefault("unavailable", {})[key] = f"{type(e).__name__}: {str(e).strip()[:200]}"


def time_models(runs: list[Runnable], s: RunSettings, env: dict, progress: Progress,
                references: int = 1) -> tuple[list[dict], list[dict]]:
    """Time every model on the target device. Returns a speed record per model (in order) and
    the paired speed ratios of every model to each of the first `references` models. Failures
    are recorded, not raised."""
    if s.isolate:
        from . import isolate

        isolate.check_isolatable(runs)
        with isolate.workers(runs, s, progress):
            speeds, ratios = _time_all(runs, s, env, progress, references)
        for rec in speeds if s.generate else []:
            rec["generate"] = {"unavailable": "not timed with --isolate (its workers time forward passes only)"}
        return speeds, ratios
    dev = s.torch_device
    modes = [run.module.training for run in runs]
    for run in runs:
        run.compile = s.compile
        if s.inference_precision:
            check = ", its output checked against float32" if s.inference_precision == "native" else ""
            progress(f"{run.name}: {s.dtype}, {s.inference_precision} precision{check}")
        set_up(run, s, train=s.train)
    try:
        speeds, ratios = _time_all(runs, s, env, progress, references)
        if s.generate:
            _generation(runs, speeds, s, env, progress)
        return speeds, ratios
    finally:
        for run, mode in zip(runs, modes):  # a caller's own object is given back as it came
            run.module.train(mode)
            if run.channels_last and run.rebuild is None:
                run.module.to(memory_format=torch.contiguous_format)
        free_cache(dev)


def _time_all(runs: list[Runnable], s: RunSettings, env: dict, progress: Progress,
              references: int) -> tuple[list[dict], list[dict]]:
    records: dict[str, list[dict]] = {r.name: [] for r in runs}
    for r in runs:
        if r.failed:  # its worker could not start
            records[r.name].append({"batch_size": 1, "batch_note": "batch 1: latency",
                                    "error": r.failed.removeprefix(f"{r.name}: ")})
    plans = _batch_plan(runs, s, progress)
    refs = frozenset(r.name for r in runs[:references])  # timed while any other model is (_phase)
    positions = max(len(p) for p in plans)
    ratios: list[dict] = []
    for pos in range(positions):
        live = [r for r, p in zip(runs, plans) if pos < len(p) and r.failed is None]
        b_of = {r.name: p[pos][0] for r, p in zip(runs, plans) if pos < len(p)}
        why = {r.name: p[pos][1] for r, p in zip(runs, plans) if pos < len(p)}
        if not live:
            continue
        # the models whose headline throughput this position holds (_speed_record: the largest batch),
        # in the phase the judgement reads (replays where there are any)
        last = frozenset(r.name for r, p in zip(runs, plans) if pos == len(p) - 1)
        infer = _phase(live, b_of, s, False, progress, per_call=pos == 0,
                       sustain=frozenset() if s.graphs else last, refs=refs)
        train = _phase([r for r in live if r.failed is None], b_of, s, True, progress) if s.train else {}
        graphs = _phase([r for r in live if r.failed is None], b_of, s, False, progress, graph=True,
                        per_call=pos == 0, sustain=last, refs=refs) \
            if s.graphs else {}
        side = _autocast_phases([r for r in live if r.failed is None], b_of, s, progress, pos == 0, refs) \
            if len(s.precisions) > 1 else {}
        for r in live:
            rec = {"batch_size": b_of[r.name], "batch_note": why[r.name], **infer.get(r.name, {})}
            if r.name in train:
                rec["train"] = train[r.name]
            if r.name in graphs:
                rec["cuda_graph"] = graphs[r.name]
            if r.name in side:
                rec["autocast"] = side[r.name]
            records[r.name].append(rec)
        for i, ref in enumerate(runs[:references]):  # each pair once: later models against each reference
            later = [r for r in live if all(r is not x for x in runs[:i + 1])]
            ratios += _ratios(ref, later, infer, b_of)
            ratios += _ratios(ref, later, graphs, b_of, "cuda_graph") if graphs else []
            if side:
                ratios += _ratios(ref, later, side, b_of, "autocast")
                ratios += _ratios(ref, later, {n: x["cuda_graph"] for n, x in side.items() if "cuda_graph" in x}, b_of,
                                  "autocast_cuda_graph")
        for r in live:
            rec = records[r.name][-1]
            macs = r.macs_per_example
            if "throughput" in rec:
                rec.update(_mfu(s, env, macs, rec["throughput"]["samples_per_s"], 1))
            if "throughput" in rec.get("train", {}):
                rec["train"].update(_mfu(s, env, macs, rec["train"]["throughput"]["samples_per_s"],
                                         TRAIN_FLOPS_FACTOR))
    return [_speed_record(records[r.name], r, s) for r in runs], ratios


def _generation(runs: list[Runnable], speeds: list[dict], s: RunSettings, env: dict, progress: Progress) -> None:
    """--generate: each model's text generation at each batch size in each implementation
    (indicators/generate.py), after the interleaved forward phases, under the precision its forward
    passes ran in. At one batch size and implementation the models' runs are interleaved round by
    round, as the forward phases are, so drift falls on all alike. A model that does not generate
    text says why; one whose batch size fails (out of memory) says so and skips the larger ones."""
    from .indicators.env import peak_bandwidth
    from .indicators.generate import DYNAMIC, RUNS, Generation, GenerateSpec, check_generation, decode_idle_share, \
        decode_weight_bytes, implementations

    spec = GenerateSpec(*s.generate)
    cuda = s.torch_device.type == "cuda"
    bandwidth = peak_bandwidth(env.get("device_name") or "") if cuda else None
    batches = sorted({b for b in s.batch_sizes if isinstance(b, int)} or {1})
    dtype = getattr(torch, s.dtype)
    models = []  # (run, its generate record, module, decode weight bytes)
    for run, rec in zip(runs, speeds):
        if run.failed or run.module is None:
            continue
        module = run.module_for(False)
        try:
            check_generation(module, spec, s.device, run.name)
        except FairnessError as e:
            rec["generate"] = {"unavailable": e.message}
            progress(f"{run.name}: no generation timed: {e.message}")
            continue
        weights = decode_weight_bytes(module)
        rec["generate"] = {"prompt": spec.prompt, "new": spec.new, "runs": [], "weight_bytes": weights}
        models.append((run, rec["generate"], module, weights))

    full = set()  # models out of memory at a smaller batch size: a larger one would not fit either
    for b in batches:
        for impl in implementations(s.device):
            live = []
            for run, gen, module, weights in models:
                if id(run) in full:
                    continue
                progress(f"{run.name}@{b}: generation ({impl}), {spec.prompt} prompt tokens, {spec.new} new")
                try:
                    with precision_context(run, s):
                        live.append((run, gen, Generation(module, spec, b, s.device, dtype, module.config.vocab_size,
                                                          weights, bandwidth, impl)))
                except Exception as e:  # a graph that cannot be captured; out of memory at a large batch
                    _generation_failed(run, gen, b, impl, e, full, s, progress)
            if len(live) > 1:
                progress(f"timing generation at batch {b} ({impl}): {', '.join(r.name for r, _, _ in live)}, "
                         f"{RUNS} rounds, interleaved")
            for _ in range(RUNS):
                for entry in list(live):
                    run, gen, g = entry
                    try:
                        with precision_context(run, s):
                            g.run_once()
                    except Exception as e:
                        live.remove(entry)
                        _generation_failed(run, gen, b, impl, e, full, s, progress)
            for run, gen, g in live:
                gen["runs"].append(g.result())
                if impl == DYNAMIC and s.torch_device.type == "cuda":  # does the host set the eager decode?
                    with precision_context(run, s):
                        _secondary(gen["runs"][-1], "idle_share", s.idle, progress,
                                   f"{run.name}@{b}: device idle share of eager decode (torch.profiler)",
                                   lambda: decode_idle_share(g.model, g.ids, s.device))
            live = None  # the caches and prompts go before the next implementation's
            free_cache(s.torch_device)
    order = {impl: i for i, impl in enumerate(implementations(s.device))}
    for _, gen, _, _ in models:  # each model's runs by batch size, then implementation
        gen["runs"].sort(key=lambda r: (r["batch_size"], order.get(r["implementation"], 0)))


def _generation_failed(run, gen: dict, batch: int, impl: str, e: Exception, full: set, s: RunSettings,
                       progress: Progress) -> None:
    why = brief(e)
    gen["runs"].append({"batch_size": batch, "implementation": impl, "error": why})
    progress(f"{run.name}@{batch}: generation ({impl}) failed: {why}")
    free_cache(s.torch_device)
    if is_oom(e):
        full.add(id(run))


def _autocast_phases(live: list[Runnable], b_of: dict, s: RunSettings, progress: Progress, per_call: bool,
                     refs: frozenset) -> dict:
    """`--precision native,autocast`: the same models, interleaved again under autocast (float32
    weights), eager and, with --cuda-graphs, replayed: per model its run record, with the replay's
    under "cuda_graph"."""
    auto = replace(s, precision="autocast")
    with contextlib.ExitStack() as stack:
        for r in live:
            stack.enter_context(r.under_autocast())
        infer = _phase(live, b_of, auto, False, progress, per_call=per_call, refs=refs)
        graphs = _phase([r for r in live if r.failed is None], b_of, auto, False, progress, graph=True,
                        per_call=per_call, refs=refs) if s.graphs else {}
    for name, g in graphs.items():
        infer.setdefault(name, {})["cuda_graph"] = g
    return infer


def _per_example(rec: dict, indicator: str, batch: int) -> list[tuple[float, ...]]:
    """A run's times per round, as seconds per example: a throughput block holds
    calls_per_block calls of `batch` examples, a latency time one call."""
    calls = rec["throughput"]["calls_per_block"] if indicator == "throughput" else 1
    return [tuple(t / (calls * batch) for t in r) for r in rec["rounds"][indicator]]


def _ratios(ref: Runnable, live: list[Runnable], infer: dict, b_of: dict,
            implementation: str = "eager") -> list[dict]:
    """Every live model's speed-up over the reference in this phase (eager, or CUDA graph replays)."""
    out = []
    ref_rec = infer.get(ref.name, {})
    for r in live:
        rec = infer.get(r.name, {})
        if r is ref or "rounds" not in rec or "rounds" not in ref_rec:
            continue
        for indicator in ("throughput", "latency"):
            if indicator not in rec["rounds"] or indicator not in ref_rec["rounds"]:
                continue
            ratio = paired_ratio(_per_example(rec, indicator, b_of[r.name]),
                                 _per_example(ref_rec, indicator, b_of[ref.name]), b_of[r.name], indicator)
            out.append({"model": r.name, "reference": ref.name, "indicator": indicator,
                        "batch_size": b_of[r.name], "reference_batch_size": b_of[ref.name],
                        "speedup": ratio.ratio, "ci95": list(ratio.ci95), "n": ratio.n,
                        "implementation": implementation,
                        "definition": "reference time per example / model time per example, "
                                      "paired round by round; > 1: the model is faster"})
    return out


def _speed_record(runs: list[dict], run: Runnable, s: RunSettings) -> dict:
    ok = [r for r in runs if "throughput" in r]
    primary = max(ok, key=lambda r: r["batch_size"]) if ok else None
    at1 = next((r for r in ok if r["batch_size"] == 1 and "latency" in r), None)
    at_fixed = next((r for r in ok if "latency" in r), None)
    latency_run = at1 or at_fixed or {}
    for r in ok:
        if run_host_bound(r):
            for key in ("throughput", "latency"):
                if r.get(key):
                    r[key]["host_bound"] = True
    worker = getattr(run, "worker", None)
    precision = worker.precision if worker is not None else getattr(run, "precision_record", None)
    rec = {
        "settings": {**s.record(), "channels_last": run.channels_last},
        # how inference ran in a low-precision dtype, for this model (step.Runnable.set_precision)
        "precision": {k: v for k, v in precision.items() if k != "dtype_torch"} if precision else None,
        "throughput": primary["throughput"] if primary else None,
        "latency": latency_run.get("latency"),
        "runs": runs,
        "errors": [r["error"] for r in runs if "error" in r]
                  + [r["train"]["error"] for r in runs if "error" in r.get("train", {})],
        "unavailable": _unavailable(s),
        "workload": _workload(primary, s),
    }
    if s.graphs:  # beside eager, at the same batch sizes; or why a model has none
        graph_tp, graph_lat = (primary or {}).get("cuda_graph") or {}, latency_run.get("cuda_graph") or {}
        rec["cuda_graph"] = {"throughput": graph_tp.get("throughput"), "latency": graph_lat.get("latency"),
                             "unavailable": graph_tp.get("unavailable") or graph_lat.get("unavailable")}
    if len(s.precisions) > 1:  # the side precision's headline numbers, as the main ones
        tp_side, lat_side = (primary or {}).get("autocast") or {}, latency_run.get("autocast") or {}
        rec["autocast"] = {"throughput": tp_side.get("throughput"), "latency": lat_side.get("latency"),
                           "cuda_graph": {"throughput": (tp_side.get("cuda_graph") or {}).get("throughput"),
                                          "latency": (lat_side.get("cuda_graph") or {}).get("latency")}
                           if s.graphs else None}
    if s.train and primary and "throughput" in primary.get("train", {}):
        rec["train"] = {"throughput": primary["train"]["throughput"], "step_s": primary["train"]["step_s"],
                        "optimizer": TRAIN_OPTIMIZER, "loss": "mean of the first floating-point output"}
    return rec


def _unavailable(s: RunSettings) -> dict:
    dev = s.torch_device
    out = {}
    if dev.type != "cuda":
        out["idle_share"] = "needs a CUDA device (read from the GPU kernel timeline)"
    elif not s.idle:
        out["idle_share"] = "skipped (--no-idle)"
    reason = energy_mod.energy_unavailable(dev) if s.energy else "skipped (--no-energy)"
    if reason:
        out["energy"] = reason
    return out


def _workload(primary: dict | None, s: RunSettings) -> dict | None:
    if primary is None or not (s.workload_examples or s.workload_steps):
        return None
    out = {"estimate": True, "basis": f"median rate at batch {primary['batch_size']}, extrapolated"}
    if s.workload_examples:
        out["examples"] = s.workload_examples
        out["inference_s"] = s.workload_examples / primary["throughput"]["samples_per_s"]
    if s.workload_steps and "step_s" in primary.get("train", {}):
        out["train_steps"] = s.workload_steps
        out["train_s"] = s.workload_steps * primary["train"]["step_s"]
    return out


def set_up(run: Runnable, s: RunSettings, train: bool = False) -> None:
    """A model as every timing runs it: in channels_last where that was resolved for it, and in its
    precision (native weights, or autocast: Runnable.set_precision); float32 kept for a training
    step. The final timing and a speed search's candidates alike, so that a variant matched on
    speed is matched on the speed the report then shows. Once per model: a second call keeps it."""
    if run.is_set_up:
        return
    if run.channels_last:
        run.module.to(memory_format=torch.channels_last)
    run.set_precision(s, keep_float32=train)
    run.is_set_up = True


class GraphUnavailable(FairnessError):
    """A speed search's model could not be captured in a CUDA graph: the search times it eagerly."""


def search_prepared(run: Runnable, b: int, s: RunSettings, graph: bool) -> Prepared:
    """A speed search's model, set up and prepared at batch `b`: replayed from a CUDA graph when
    `graph` (as the judgement reads speed on CUDA), or eager. A capture that fails raises
    GraphUnavailable with the reason."""
    set_up(run, s)
    if not graph:
        return Prepared(run, b, s, train=False)
    try:
        return Prepared(run, b, s, train=False, graph=True)
    except Exception as e:
        free_cache(s.torch_device)
        raise GraphUnavailable(f"{run.name}: capturing the CUDA graph failed ({brief(e)})") from None


def known_against(ci: tuple[float, float], band: tuple[float, float]) -> bool:
    """Whether a candidate's speed-up CI settles its search step: wholly outside the band (the
    speed-ups within tolerance of the target: known not to match) or wholly inside it (known to
    match, so the search stops there). A CI across an edge needs more rounds."""
    lo, hi = ci
    return hi < band[0] or lo > band[1] or band[0] <= lo <= hi <= band[1]


def measure_against(reference: Prepared, run: Runnable, s: RunSettings, indicator: str, batch: int,
                    band: tuple[float, float], graph: bool = False) -> tuple[float, list[float]]:
    """A speed-search candidate timed in interleaved rounds with the reference (the model whose
    speed is the target, prepared once, in the same mode: `graph` replays or eager): the
    candidate's speed-up over it, paired round by round, and its 95% CI. Timing stops early once
    the CI tells which side of the band the candidate is on (`known_against`)."""
    b = batch if indicator == "throughput" else 1
    p = search_prepared(run, b, s, graph)
    timing = _timing(s, graph)

    throughput = indicator == "throughput"
    calls = [calls_for(x.per_call_s, BLOCK_S) for x in (reference, p)] if throughput else [1, 1]

    def ratio(rounds):  # blocks of the two hold different numbers of calls: a ratio of times per call
        ref, cand = ([tuple(t / c for t in r) for r in model] for model, c in zip(rounds, calls))
        return paired_ratio(cand, ref, b, indicator)

    def settled(rounds):
        return known_against(ratio(rounds).ci95, band)

    rounds = run_interleaved([reference, p], per_call=not throughput, calls_per_block=calls, settled=settled,
                             **timing)
    r = ratio(rounds)
    return r.ratio, list(r.ci95)


def generation_rate(run: Runnable, s: RunSettings, indicator: str, batch: int,
                    replay: bool = True) -> tuple[float, float, bool]:
    """One generation number for matching (--generate): seconds per decoded token at `batch`
    ("decode_throughput"), in the implementation the judgement reads: on CUDA the static cache
    replayed from a CUDA graph (with `replay`), unless its decode step copied the KV cache up to the
    query heads (flags._judged_speeds), else the dynamic cache; or the time to first token at
    `batch` ("ttft", dynamic cache). Returns it, its noise (IQR / median) and whether it is the
    replay. The model runs in the settings' precision."""
    from .indicators.generate import (DYNAMIC, STATIC_GRAPH, GenerateSpec, check_generation, replay_copies,
                                      time_generation)

    spec = GenerateSpec(*s.generate)
    set_up(run, s)
    module = run.module_for(False)
    check_generation(module, spec, s.device, run.name)
    decode = indicator == "decode_throughput"

    def timed(impl):
        try:
            with precision_context(run, s):
                return time_generation(module, spec, batch, s.device, getattr(torch, s.dtype),
                                       module.config.vocab_size, 0, None, impl)
        except Exception as e:  # a graph that cannot be captured, out of memory: the search says so, not a traceback
            raise FairnessError(f"{run.name}: generation at batch {batch} ({impl}) failed, so {indicator} cannot be "
                                f"matched: {brief(e)}") from None

    replay = replay and decode and s.torch_device.type == "cuda"
    if replay:  # a replay that copies the cache is not judged: probed on 8 tokens first, not timed in full
        with precision_context(run, s):
            replay = replay_copies(module, spec, s.device) is None
    r = timed(STATIC_GRAPH if replay else DYNAMIC)
    if decode:
        return r["tpot_s"] / batch, r["tpot_iqr_s"] / r["tpot_s"], replay
    return r["ttft_s"], r["ttft_iqr_s"] / r["ttft_s"], replay


class HostBoundTarget(FairnessError):
    """A speed search's target is a number the host's kernel launches set: a variant matched on it
    would be matched on the host, so none is searched for. `reason` is the message without the
    model's source, for a report that names the model itself."""

    def __init__(self, source: str, reason: str):
        super().__init__(f"{source}: {reason}")
        self.reason = reason


def generation_idle(run: Runnable, s: RunSettings, indicator: str, batch: int) -> float | None:
    """The GPU's idle share over the eager work that `indicator` times at `batch`, after or over a
    prompt of the settings' length, in the settings' precision: for "decode_throughput" the
    dynamic-cache decode steps (generate.decode_idle_share); for "ttft" the forward pass over the
    prompt, the prefill, read as flags.ttft_host_bound reads the final timing's forward pass (None
    for an encoder-decoder, whose prefill is its encoder and a first decoder step, not that pass)."""
    from .indicators.generate import GenerateSpec, decode_idle_share, is_encoder_decoder, prompt_ids
    from .indicators.idle import idle_share

    spec = GenerateSpec(*s.generate)
    set_up(run, s)
    module = run.module_for(False)
    ids = prompt_ids(module.config.vocab_size, batch, spec.prompt, s.device)
    with precision_context(run, s):
        if indicator == "decode_throughput":
            return decode_idle_share(module, ids, s.device)
        if is_encoder_decoder(module):
            return None
        with torch.inference_mode():
            module(input_ids=ids)  # warm: the timing before it ran generate, not this call
            return idle_share(lambda: module(input_ids=ids), s.torch_device)


def measure_rate(run: Runnable, s: RunSettings, indicator: str, batch: int, graph: bool = False) -> tuple[float, float]:
    """One quick speed number for matching: seconds per example at `batch` (throughput), or
    the median seconds per call at batch 1 (latency); and its noise, IQR / median. `graph`:
    replayed from a CUDA graph (GraphUnavailable where it cannot be captured). Timed as a phase of
    the final timing is: it stops once the median is known."""
    b = batch if indicator == "throughput" else 1
    p = search_prepared(run, b, s, graph)
    timing = dict(_timing(s, graph), known=median_known(s.min_samples))
    if indicator == "throughput":
        calls = calls_for(p.per_call_s, BLOCK_S)
        rounds = run_interleaved([p], per_call=False, calls_per_block=calls, **timing)[0]
        t = Timing(tuple(x for r in rounds for x in r))
        return t.median_s / (calls * b), t.iqr_s / t.median_s
    rounds = run_interleaved([p], per_call=True, **timing)[0]
    t = Timing(tuple(x for r in rounds for x in r))
    return t.median_s, t.iqr_s / t.median_s
