"""`measure`: one model in, one results record out.

Builds the model (or takes the user's nn.Module), makes its example inputs,
runs the dispatch-level counter once, counts parameters, cross-checks MACs
with fvcore, and assembles the record with the field names of the
results-file contract.
"""

from __future__ import annotations

import itertools
import time
from typing import Callable

import torch

from .errors import FairnessError
from .indicators import flops as flops_mod
from .indicators.fvcore_engine import fvcore_count
from .indicators.params import count_params
from .sources import (InputSpec, Inputs, Source, build, describe_input, make_inputs, parse_source,
                      split_input_value)

# A model counted on meta is built again on the CPU only up to this size of parameters:
# for fvcore (torch.jit cannot trace on meta) and for models whose forward needs values
# (mixture-of-experts routing). Above it, counting stays free of memory for weights.
CPU_COPY_MAX_PARAM_BYTES = 2 * 2**30
# Engines that disagree by more than this are shown to the user.
ENGINE_TOLERANCE = 0.01

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def _param_bytes(model: torch.nn.Module) -> int:
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


def _count(model, inputs: Inputs, what: str) -> flops_mod.CountResult:
    try:
        return flops_mod.count(model, inputs.args, inputs.kwargs)
    except FairnessError:
        raise
    except Exception as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise FairnessError(f"{what}: the forward pass raised {type(e).__name__}: {msg[:300]} "
                            f"(input: {describe_input(inputs.record)}); check --image-size/--seq-len, "
                            f"or pass --inputs python:module:function") from None


def measure(
    model: torch.nn.Module | str | Source,
    inputs=None,
    *,
    kwargs: dict | None = None,
    image_size: tuple[int, int] | int | None = None,
    seq_len: int | None = None,
    input_factory: str | None = None,
    batch_size: int = 1,
    device: str = "meta",
    name: str | None = None,
    role: str = "proposed",
    fvcore: bool = True,
    progress: Progress = _quiet,
) -> dict:
    """Measure every counting indicator of one model; return its results record.

    `model` is a source (`"timm:resnet50"`, `"hf:bert"`, ...) or an nn.Module
    object. `inputs` are example inputs (tensor, tuple or dict of keyword
    tensors); without them, the model's default input is made, or the one
    described by `image_size` / `seq_len` / `input_factory`. Counts are per
    example and do not depend on `device`; "meta" needs no memory for weights.
    """
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    spec = InputSpec(image_size=image_size, seq_len=seq_len, factory=input_factory)
    src: Source | None = None
    if isinstance(model, str):
        src = parse_source(model, kwargs)
    elif isinstance(model, Source):
        src = model
    elif not isinstance(model, torch.nn.Module):
        raise FairnessError(f"model: got {type(model).__name__}; expected a source string such as "
                            f"'timm:resnet50' or a torch.nn.Module")

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
    except FairnessError as e:
        # Data-dependent ops (a router's nonzero, boolean indexing) cannot run on meta,
        # where tensors have no values; a small model is counted on the CPU instead.
        if str(device) != "meta":
            raise
        if src is None or _param_bytes(module) > CPU_COPY_MAX_PARAM_BYTES:
            raise FairnessError(f"{e.message}. On the meta device tensors have no values; if the model "
                                f"needs them (routing, data-dependent shapes), pass --device cpu or cuda") from None
        progress("the meta device cannot run this model (data-dependent ops); counting on cpu")
        module = build(src, "cpu")
        ins = make_inputs(module, src, spec, batch, "cpu")
        counted = _count(module, ins, what)
        counted_on = "cpu"

    params = count_params(module, counted)
    fv, note = None, None
    if fvcore:
        progress("cross-checking MACs with fvcore (torch.jit trace)")
        fv, note = _fvcore_check(module, ins, src, spec, batch, counted_on)
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
        },
        "speed": None,
        "quality": {},
        "seconds_to_measure": round(time.perf_counter() - started, 3),
    }
    return record


def _fvcore_check(module, ins: Inputs, src, spec, batch, counted_on):
    """Run fvcore on real tensors; returns (FvcoreCounts for the whole batch or None, note)."""
    if counted_on == "meta":
        if src is None:
            return None, "fvcore skipped: the model object is on meta and cannot be copied with its buffers"
        size = _param_bytes(module)
        if size > CPU_COPY_MAX_PARAM_BYTES:
            return None, (f"fvcore skipped: {size / 2**30:.1f} GiB of parameters is over the "
                          f"{CPU_COPY_MAX_PARAM_BYTES / 2**30:.0f} GiB limit for a CPU copy")
        module = build(src, "cpu")
        ins = make_inputs(module, src, spec, batch, "cpu")
    try:
        return fvcore_count(module, ins.args, ins.kwargs), None
    except Exception as e:  # fvcore's tracer fails on some models; the main engine stands
        return None, f"fvcore failed: {type(e).__name__}: {str(e).strip()[:200]}"
