"""`measure`: models in, results records out.

Counting: builds the model (or takes the user's nn.Module), makes its
example inputs, runs the dispatch-level counter once, counts parameters,
cross-checks MACs with fvcore, and assembles the record with the field
names of the results-file contract. Counting runs on the meta device by
default: no memory for weights, and the counts do not depend on the device.

Speed (optional): the models are built again on the target device with
random weights and timed together by the runner, interleaved.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch

from .errors import FairnessError
from .indicators import flops as flops_mod
from .indicators.fvcore_engine import fvcore_count
from .indicators.env import environment
from .indicators.params import count_params
from .cache import Cache, identity
from .record import ModelRecord, with_unique_id
from .results import new_results, record_of
from .runner import Runnable, RunSettings, apply_settings, channels_last_for, check_settings, time_models
from .readings import describe_input
from .sources import (InputSpec, Inputs, Source, architecture, build, make_inputs, parse_source, recipe,
                      split_input_value)

# fvcore's cross-check (torch.jit cannot trace on meta) builds a CPU copy of a model counted
# on meta only up to this size of parameters: it is a check, and should cost little.
CPU_COPY_MAX_PARAM_BYTES = 2 * 2**30
# A model whose forward needs values (`.item()`, a router that moe.py does not know) cannot be
# counted on meta; it is counted on the CPU up to this size: 2B float32 parameters, which a
# 16 GiB laptop holds with one forward pass. Known mixture-of-experts blocks need no copy:
# moe.py balances their routing on meta.
CPU_COUNT_MAX_PARAM_BYTES = 8 * 2**30
# Engines that disagree by more than this are shown to the user.
ENGINE_TOLERANCE = 0.01

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def param_bytes(model: torch.nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def _model_device(model: torch.nn.Module) -> torch.device:
    first = next(itertools.chain(model.parameters(), model.buffers()), None)
    return first.device if first is not None else torch.device("cpu")


def _wrap_inputs(inputs, batch_size: int) -> Inputs:
    """User-supplied example inputs; the batch size is read off the first tensor."""
    if isinstance(inputs, Inputs):
        return inputs
    args, kwargs, shapes = split_input_value(inputs, "inputs: got")
    first = next((t for t in list(args) + list(kwargs.values()) if isinstance(t, torch.Tensor)), None)
    batch = int(first.shape[0]) if first is not None and first.dim() else batch_size
    return Inputs(args, kwargs, {"kind": "given", "batch_size": batch, "shapes": shapes})


class ForwardFailed(FairnessError):
    """The model's forward pass raised while being counted; `reason` is its error in one line."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def _count(model, inputs: Inputs, what: str) -> flops_mod.CountResult:
    try:
        return flops_mod.count(model, inputs.args, inputs.kwargs)
    except FairnessError:
        raise
    except Exception as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        reason = f"{type(e).__name__}: {msg[:300]}"
        raise ForwardFailed(f"{what}: the forward pass raised {reason} (input: {describe_input(inputs.record)}); "
                            f"check --image-size/--seq-len, or pass --inputs python:module:function", reason) from None


@dataclass
class Target:
    """One model to measure: a source string, a Source or an nn.Module, and how to name it."""

    model: Any
    inputs: Any = None  # example inputs (tensor, tuple or dict); None: the model's default input
    kwargs: dict | None = None  # constructor arguments of a source string
    name: str | None = None
    role: str = "proposed"
    # its own input (an input-matched variant: another resolution or length), timed in the same
    # interleaved group as the others; None: the group's input
    spec: InputSpec | None = None


def target_label(t: Target) -> str:
    """A target's name in progress lines and failure records: its own, else its source's, else its
    class's. Nothing is parsed: a source that does not parse fails in its counting, in its place."""
    if t.name:
        return t.name
    if isinstance(t.model, Source):
        return t.model.text
    return t.model if isinstance(t.model, str) else type(t.model).__name__


def _resolve(model, kwargs) -> Source | None:
    if isinstance(model, str):
        return parse_source(model, kwargs)
    if isinstance(model, Source):
        return model
    if not isinstance(model, torch.nn.Module):
        raise FairnessError(f"model: got {type(model).__name__}; expected a source string such as "
                            f"'timm:resnet50' or a torch.nn.Module")
    return None


def _count_one(t: Target, spec: InputSpec, batch_size: int, device: str, fvcore: bool,
               progress: Progress) -> dict:
    """Every counting indicator of one model: its results record, without speed."""
    model, inputs, name, role = t.model, t.inputs, t.name, t.role
    src = _resolve(model, t.kwargs)
    what = src.text if src else (name or type(model).__name__)
    started = time.perf_counter()
    if src is not None:
        progress(f"building {what} on {device}")
        module = build(src, device)
    else:
        module = model
        device = str(_model_device(module))
    given = _wrap_inputs(inputs, batch_size) if inputs is not None else None
    batch = given.record["batch_size"] if given else batch_size
    ins = given or make_inputs(module, src, spec, batch, device)

    progress(f"counting one forward pass ({describe_input(ins.record)}) on {device}")
    counted_on = str(device)
    try:
        counted = _count(module, ins, what)
    except ForwardFailed as e:
        # Ops that read values (`.item()`, a router's nonzero, boolean indexing) cannot run on
        # meta, where tensors have none; a model that is not too large is counted on the CPU.
        if str(device) != "meta":
            raise
        size = param_bytes(module)
        if src is None or size > CPU_COUNT_MAX_PARAM_BYTES:
            why = ("it is a model object, which cannot be built again" if src is None else
                   f"its {size / 2**30:.1f} GiB of weights are over the {CPU_COUNT_MAX_PARAM_BYTES / 2**30:.0f} GiB "
                   f"limit for a CPU copy")
            raise FairnessError(f"{e.message}. On the meta device tensors have no values, and the model was not "
                                f"counted on the CPU instead: {why}; if the model needs values (routing, "
                                f"data-dependent shapes), pass --count-device cpu or cuda") from None
        progress(f"{what} cannot run on meta, where tensors have no values ({e.reason}); counting it on "
                 f"the cpu instead, with {size / 2**30:.1f} GiB of random weights (counts do not depend on the device)")
        module = build(src, "cpu")
        ins = make_inputs(module, src, spec, batch, "cpu")
        counted = _count(module, ins, what)
        counted_on = "cpu"

    params = count_params(module, counted)
    fv, note = None, None
    if fvcore:
        progress("cross-checking MACs with fvcore (torch.jit trace)")
        fv, note = _fvcore_check(module, ins, src, spec, batch, counted_on, counted.routing)
    fvcore_macs = fv.macs if fv else None
    if fv and counted.macs and abs(fv.macs - counted.macs) / counted.macs > ENGINE_TOLERANCE:
        diff = (fv.macs - counted.macs) / counted.macs
        matrix_like = [op for op in sorted(fv.unsupported_ops)
                       if any(w in op for w in ("mm", "conv", "matmul", "einsum", "linear", "attention"))]
        skipped = ", ".join(matrix_like) or "none of them matrix ops"
        note = (f"fvcore counts {abs(diff):.1%} {'more' if diff > 0 else 'fewer'} MACs than fairness "
                f"(matrix ops fvcore does not count: {skipped})")
    flop_counts = flops_mod.summarize(counted, batch, fvcore_macs, note)

    record = {
        "id": name or what,
        "role": role,
        "name": name or what,
        "source": src.text if src else f"object:{type(model).__module__}.{type(model).__qualname__}",
        "kwargs": dict(src.kwargs) if src else {},
        "architecture": architecture(module),
        "input": ins.record,
        "match": None,
        "counted_on": counted_on,
        "params": params,
        "flops": flop_counts,
        "activations": flops_mod.per_example(counted.activations, batch),
        "fvcore_activations": flops_mod.per_example(fv.activations, batch) if fv else None,
        "memory": {
            "peak_bytes": None,  # measured by the timing code on the target device
            "param_bytes": params.bytes,
            "bytes_moved": flops_mod.per_example(counted.bytes_moved, batch),
            # by dtype, so that a native low-precision run can state its own bytes (_timed)
            "param_bytes_by_dtype": params.bytes_by_dtype,
            "bytes_moved_by_dtype": {k: flops_mod.per_example(v, batch)
                                     for k, v in sorted(counted.bytes_by_dtype.items())},
        },
        "speed": None,
        "quality": {},
        "seconds_to_measure": round(time.perf_counter() - started, 3),
    }
    return record


def _runnable(t: Target, record: ModelRecord, spec: InputSpec, s: RunSettings, progress: Progress) -> Runnable:
    """The model on the target device with random weights, and its inputs at any batch size.
    With `isolate`, only its recipe: its worker process builds it."""
    run = _placed(t, record, spec, s.device, s.isolate, progress)
    run.channels_last = channels_last_for(s.channels_last, record)
    return run


def _placed(t: Target, record: ModelRecord, spec: InputSpec, device: str, isolate: bool,
            progress: Progress) -> Runnable:
    src = _resolve(t.model, t.kwargs)
    name = record.name
    macs = record.flops["macs"]
    if src is not None and isolate:
        return Runnable(name, None, None, macs, rebuild=recipe(src, spec))
    if src is not None:
        progress(f"building {name} on {device} for timing")
        module = build(src, device)
        rebuild = recipe(src, spec)
        return Runnable(name, module, lambda b: make_inputs(module, src, spec, b, device), macs, rebuild=rebuild)
    module = t.model
    here, there = _model_device(module), torch.device(device)
    if here.type != there.type or (here.index or 0) != (there.index or 0):  # "cuda" is "cuda:0"
        raise FairnessError(f"{name}: the model object is on {here} but speed is measured on "
                            f"{device}; move it first (model.to('{device}')) or measure on its device")
    if t.inputs is not None:
        given = _wrap_inputs(t.inputs, 1)
        return Runnable(name, module, lambda b: given, macs, fixed_batch=given.record["batch_size"])
    return Runnable(name, module, lambda b: make_inputs(module, None, spec, b, device), macs)


def bytes_in(by_dtype: dict, dtype: str):
    """Bytes counted by dtype ({"float32": ..., "int64": ...}) as they are when every floating
    tensor is held in `dtype` instead: what casting a model and its inputs (native precision) does.
    Integer tensors (token ids, indices) keep their size."""
    size = torch.empty((), dtype=getattr(torch, dtype)).element_size()
    total = 0
    for name, n in by_dtype.items():
        held = getattr(torch, name, None)
        if isinstance(held, torch.dtype) and held.is_floating_point:
            n = n // torch.empty((), dtype=held).element_size() * size
        total += n
    return total


def _timed(record: ModelRecord, speed: dict | None) -> ModelRecord:
    """The record with its timing: the headline peak memory (inference at the largest batch that
    ran, from the speed runs), and bytes in the dtype the weights were run in: with native
    bfloat16 or float16 weights, parameter bytes, bytes moved and arithmetic intensity are
    restated from the float32 count. Under autocast (float32 weights) and in float32 they stay
    as counted."""
    record = record.with_(speed=speed)
    mem, flops = dict(record.memory), dict(record.flops)
    weights = ((speed or {}).get("precision") or {}).get("weights")
    if weights not in (None, "float32") and "bytes_moved_by_dtype" in mem:  # records counted before issue 29 lack it
        mem["param_bytes"] = bytes_in(mem["param_bytes_by_dtype"], weights)
        mem["bytes_moved"] = bytes_in(mem["bytes_moved_by_dtype"], weights)
        mem["bytes_dtype"] = weights
        if mem["bytes_moved"] and flops.get("arithmetic_intensity") is not None:
            flops["arithmetic_intensity"] = round(flops["flops"] / mem["bytes_moved"], 4)
    runs = [r for r in (speed or {}).get("runs") or [] if "memory" in r]
    if runs:
        run = max(runs, key=lambda r: r["batch_size"])
        peak = run["memory"]
        cuda = "peak_allocated_bytes" in peak
        mem.update({
            "peak_bytes": peak["peak_allocated_bytes"] if cuda else peak["peak_rss_bytes"],
            "peak_batch_size": run["batch_size"],
            "peak_definition": ("CUDA peak allocated after a reset: the model's weights, buffers and inputs "
                                "plus the most one forward pass added" if cuda else peak["definition"]),
        })
        if cuda:
            mem["peak_reserved_bytes"] = peak["peak_reserved_bytes"]
        train_mem = run.get("train", {}).get("memory")
        if train_mem:
            mem["train_peak_bytes"] = train_mem["peak_allocated_bytes" if cuda else "peak_rss_bytes"]
    return record.with_(memory=mem, flops=flops)


def _count_key(t: Target, spec: InputSpec, batch: int, device: str, fvcore: bool, env: dict) -> dict | None:
    """What a count depends on; None for a model given as an object (no stable identity)."""
    if not isinstance(t.model, (str, Source)):
        return None
    src = _resolve(t.model, t.kwargs)
    return {"kind": "count", "label": t.name or src.text, "source": src.text, "kwargs": src.kwargs,
            "name": t.name, "role": t.role, "inputs": t.inputs is None and [spec.image_size, spec.seq_len,
                                                                             spec.factory],
            # only when given, so that the keys of caches written before it still match
            **({"decoder_seq_len": spec.decoder_seq_len} if spec.decoder_seq_len else {}),
            "batch": batch, "count_device": device, "fvcore": fvcore, "env": identity(env)}


def check_count_device(device: str) -> str:
    """Where counting runs (`--count-device`), refused before anything is built when it cannot."""
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError):
        kind = None
    if kind not in ("meta", "cpu", "cuda"):
        raise FairnessError(f"--count-device {device}: expected meta, cpu, cuda or cuda:N; meta (the default) "
                            f"counts any size of model without memory for weights")
    if kind == "cuda" and not torch.cuda.is_available():
        raise FairnessError(f"--count-device {device}: no CUDA device is visible (torch.cuda.is_available() is "
                            f"False); count on meta (the default) or cpu")
    return device


def measure_models(targets: list[Target], *, image_size: tuple[int, int] | int | None = None,
                   seq_len: int | None = None, input_factory: str | None = None, batch_size: int = 1,
                   count_device: str = "meta", fvcore: bool = True, speed: RunSettings | None = None,
                   progress: Progress = _quiet, on_record: Callable[[dict], None] | None = None,
                   keep_going: bool = False, cache: Cache | None = None,
                   decoder_seq_len: int | None = None, references: int = 1,
                   counted: list[ModelRecord] | None = None) -> dict:
    """Measure several models for one comparison; return a results file (dict).

    Every model is counted first (`count_device`, meta by default). With `speed`, all of them
    are then built on `speed.device` and timed together, interleaved; the results gain each
    model's speed record, its measured peak memory, and every model's speed-up over the first.
    `on_record(results)` is called whenever a part is done, so a caller can save it.
    `keep_going`: a model that cannot be built or counted is recorded as failed (with the
    reason) and the others go on; otherwise its error stops the run.
    `cache`: each finished count, and the group's timing, is stored as it is done, and reused
    when the cache was opened to resume (models given as objects are always measured).
    `decoder_seq_len`: decoder tokens of encoder-decoder models (None: as many as `seq_len`).
    `references`: speed-ups are paired against each of the first this many models (compare: the
    proposed model and the baseline).
    `counted`: the targets' records as their counting made them (orchestrate.run_groups, which
    counts each model in a task of its own): timed as they are, not counted again.
    """
    cache = cache or Cache(None)
    check_count_device(count_device)
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    spec = InputSpec(image_size=image_size, seq_len=seq_len, factory=input_factory, decoder_seq_len=decoder_seq_len)
    if speed is not None:
        speed = check_settings(speed)
        if speed.cuda_graphs and not speed.graphs:
            progress(f"note: --cuda-graphs applies to CUDA only; {speed.device} runs eager")
        env = apply_settings(speed)
    else:
        env = environment(count_device)
    results = new_results([], env)
    # a count depends on where it is counted, not on the timing's device or dtype: a count made
    # without timing (a zoo's counting task) is the one a timed run of the same models reuses
    count_env = environment(count_device) if speed is not None else env
    ok_targets, count_keys = [], []
    for i, t in enumerate(targets):
        key = _count_key(t, t.spec or spec, batch_size, count_device, fvcore, count_env)
        try:
            record = counted[i] if counted is not None else cache.get(key) if key else None
            if record is None:
                record = record_of(_count_one(t, t.spec or spec, batch_size, count_device, fvcore, progress))
                if key:
                    cache.put(key, record)
            record = ModelRecord.from_plain(record)
        except FairnessError as e:
            if not keep_going:
                raise
            name = t.name or (t.model if isinstance(t.model, str) else type(t.model).__name__)
            progress(f"{name}: failed: {e.message}")
            results["models"].append(ModelRecord.failure(name, t.role, e.message))
            continue
        ok_targets.append(t)
        count_keys.append(key)
        results["models"].append(with_unique_id(record, {m.id for m in results["models"]}))
        if on_record:
            on_record(results)
    if speed is None:
        return results
    counted = [m for m in results["models"] if not m.failed]
    speed_key = ({"kind": "timing", "label": ", ".join(m.name for m in counted), "models": count_keys,
                  "settings": speed.record(), "env": identity(env),
                  **({"references": references} if references != 1 else {})} if all(count_keys) else None)
    timed = cache.get(speed_key) if speed_key else None
    if timed is not None:
        speeds, ratios = timed["speeds"], timed["ratios"]
    else:
        runs = [_runnable(t, rec, t.spec or spec, speed, progress)
                for t, rec in zip(ok_targets, counted)]
        speeds, ratios = time_models(runs, speed, env, progress, references) if runs else ([], [])
        if speed_key:
            cache.put(speed_key, {"speeds": speeds, "ratios": ratios})
    timed_by_id = {rec.id: _timed(rec, sp) for rec, sp in zip(counted, speeds)}
    results["models"] = [timed_by_id.get(m.id, m) for m in results["models"]]
    results["speed_ratios"] = ratios
    if on_record:
        on_record(results)
    return results


def measure(model: torch.nn.Module | str | Source, inputs=None, *, kwargs: dict | None = None,
            image_size: tuple[int, int] | int | None = None, seq_len: int | None = None,
            input_factory: str | None = None, batch_size: int = 1, device: str = "meta",
            name: str | None = None, role: str = "proposed", fvcore: bool = True,
            speed: RunSettings | None = None, progress: Progress = _quiet,
            decoder_seq_len: int | None = None) -> dict:
    """Measure every indicator of one model; return its results record.

    `model` is a source (`"timm:resnet50"`, `"hf:bert"`, ...) or an nn.Module
    object. `inputs` are example inputs (tensor, tuple or dict of keyword
    tensors); without them, the model's default input is made, or the one
    described by `image_size` / `seq_len` (`decoder_seq_len`) / `input_factory`. Counts are per
    example and do not depend on `device` (where counting runs); "meta" needs
    no memory for weights. `speed=RunSettings(device="cuda", ...)` also times it.
    """
    results = measure_models([Target(model, inputs, kwargs, name, role)], image_size=image_size, seq_len=seq_len,
                             input_factory=input_factory, batch_size=batch_size, count_device=device,
                             fvcore=fvcore, speed=speed, progress=progress, decoder_seq_len=decoder_seq_len)
    return results["models"][0]


def _fvcore_check(module, ins: Inputs, src, spec, batch, counted_on, routing=None):
    """Run fvcore on real tensors; returns (FvcoreCounts for the whole batch or None, note)."""
    if routing and routing.startswith("balanced"):
        return None, ("fvcore skipped: routing was balanced on meta, and a CPU copy would route "
                      "by its random weights; the engines would count different routings")
    if counted_on == "meta":
        if src is None:
            return None, "fvcore skipped: the model object is on meta and cannot be copied with its buffers"
        size = param_bytes(module)
        if size > CPU_COPY_MAX_PARAM_BYTES:
            return None, (f"fvcore skipped: {size / 2**30:.1f} GiB of parameters is over the "
                          f"{CPU_COPY_MAX_PARAM_BYTES / 2**30:.0f} GiB limit for a CPU copy")
        module = build(src, "cpu")
        ins = make_inputs(module, src, spec, batch, "cpu")
    try:
        return fvcore_count(module, ins.args, ins.kwargs), None
    except Exception as e:  # fvcore's tracer fails on some models; the main engine stands
        return None, f"fvcore failed: {type(e).__name__}: {str(e).strip()[:200]}"
