"""The step: what runs a model on the target device, in this process or in a `--isolate`
worker. The settings a speed number depends on, the callable that is timed (eager, a
training step, or a CUDA graph replay), a model placed on the device (`Runnable`), and a
model prepared at one batch size (`Prepared`) with what is measured around its timing:
CUDA peak memory, idle share, energy. `PreparedModel` is the interface both the runner and
a worker's parent use. A leaf: it imports no orchestration (runner.py, isolate.py).
"""

from __future__ import annotations

import contextlib
import copy
import gc
import os
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Protocol

import torch

from .errors import FairnessError, ModelFailed
from .indicators import energy as energy_mod
from .indicators.gpu_state import SUSTAIN_SETTLE_S, SUSTAIN_TIMED_S, StateLog
from .indicators import idle as idle_mod
from .indicators.env import environment, physical_cores
from .indicators.speed import StepTimer
from .readings import convolutional
from .sources import Inputs


def child_env() -> dict:
    """The environment of a child Python process: this one's, with its sys.path, so that
    `python:` sources import in the child as they do here."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p), PYTHONUNBUFFERED="1")


class PreparedModel(Protocol):
    """A model ready to time at one batch size: `Prepared` here, or a worker's answer to the
    same calls (isolate.RemotePrepared). The timing loops (speed.run_interleaved) drive it."""

    first_call_s: float  # the first call, on its own (with --compile: the compilation)
    per_call_s: float  # three more calls' mean, to size the timed blocks
    tokens: int | None  # tokens per example, for token inputs

    def warmup(self, seconds: float, min_calls: int) -> None: ...
    def rewarm(self) -> None: ...
    def block(self, calls: int) -> float: ...
    def singles(self, n: int) -> tuple[float, ...]: ...
    def cuda_memory(self) -> dict: ...
    def idle(self, steps: int) -> float: ...
    def energy(self) -> dict: ...
    def gpu_state(self) -> dict | None: ...
    def sustained(self, calls: int, settle_s: float = SUSTAIN_SETTLE_S) -> dict: ...


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
AUTO_BATCH_CAP = 4096  # `--batch auto` stops doubling here: beyond it throughput has long saturated
BLOCK_S = 0.05  # a timed block lasts about this long: one synchronize per 50 ms costs little
# Backward costs about twice the forward (one matmul for the input gradient, one for the
# weight gradient), so a training step is 3x the forward MACs: the convention of
# Kaplan et al. 2020 and of PaLM's MFU (Chowdhery et al. 2022, appendix B).
TRAIN_FLOPS_FACTOR = 3
TRAIN_OPTIMIZER = "SGD, momentum 0.9 (timm benchmark.py's default optimizer)"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RunSettings:
    """Everything that changes a speed number. Recorded with every measurement."""

    device: str = "cpu"
    dtype: str = "float32"  # float32, bfloat16 or float16
    # How a low-precision dtype runs inference: "native" (weights and floating inputs cast to the
    # dtype, as models are served and benchmarked: timm's --model-dtype) or "autocast" (float32
    # weights under torch.autocast, which keeps LayerNorm and softmax in float32: up to a third
    # slower for transformers on an H200, issue 29). None: native for bfloat16 and float16; float32
    # has no precision to choose. Training steps always run autocast with float32 master weights.
    precision: str | None = None
    # True, False, or "auto": on for convolutional models (channels_last_for), as a user would run them
    channels_last: bool | str = "auto"
    compile: str | None = None  # a torch.compile mode, or None for eager
    threads: int | None = None  # CPU threads for torch; None: this machine's physical cores
    train: bool = False  # also time one training step: forward, backward, optimizer step
    tf32: bool = False  # allow TF32 for float32 matmuls (torch's default is off)
    # also time each forward pass replayed from a CUDA graph, beside eager: the GPU's cost without
    # the host's kernel launches (batch-1 eager latency on a fast GPU is mostly launches, and moves
    # 25-42% between runs, issue 27). None: on for CUDA; CUDA only, so True elsewhere is off.
    cuda_graphs: bool | None = None
    cudnn_benchmark: bool = True  # let cuDNN pick convolution algorithms, as timm's benchmark.py does
    batch_sizes: tuple = (1,)  # ints, or "auto": the largest power of two that fits (CUDA)
    warmup_s: float = 0.5
    min_samples: int = 10  # timed blocks (throughput) and timed calls (latency), at least
    min_duration_s: float = 1.0  # per model and per quantity, at least
    idle: bool = True
    energy: bool = True
    workload_examples: int | None = None  # wall-clock estimate for this many examples (inference)
    workload_steps: int | None = None  # ... and for this many training steps (with train)
    # Each model in a worker process of its own (isolate.py). Off by default: it costs 25-83% more
    # wall time, and launch-bound ratios between processes are less stable (benchmarks/RESULTS.md).
    isolate: bool = False
    # (prompt tokens, new tokens): also time text generation, prefill and decode apart, for causal
    # LMs (indicators/generate.py); None: one forward pass only
    generate: tuple[int, int] | None = None

    @property
    def torch_device(self) -> torch.device:
        return torch.device(self.device)

    @property
    def graphs(self) -> bool:
        """Whether forward passes are also replayed from CUDA graphs: on CUDA unless turned off."""
        return self.cuda_graphs is not False and self.torch_device.type == "cuda"

    @property
    def precisions(self) -> tuple[str, ...]:
        """The precisions timed, the headline's first: ("native",), ("autocast",), or both side by
        side ("native,autocast"); () for float32."""
        if self.dtype == "float32":
            return ()
        return tuple((self.precision or "native").split(","))

    @property
    def inference_precision(self) -> str | None:
        """"native" or "autocast" for a low-precision dtype (the headline's); None for float32."""
        return self.precisions[0] if self.precisions else None

    def record(self) -> dict:
        cuda = self.torch_device.type == "cuda"
        return {"device": self.device, "dtype": self.dtype, "precision": self.inference_precision,
                "precisions": list(self.precisions) or None,
                "train_precision": "autocast, float32 master weights" if self.train and self.dtype != "float32"
                else None, "channels_last": self.channels_last,
                "compile": self.compile or False, "threads": self.threads, "train": self.train,
                # TF32 and cuDNN's autotuner exist on CUDA only
                "tf32": self.tf32 if cuda else None, "cudnn_benchmark": self.cudnn_benchmark if cuda else None,
                "cuda_graphs": self.graphs if cuda else None,
                **({"generate": {"prompt": self.generate[0], "new": self.generate[1]}} if self.generate else {}),
                "batch_sizes": list(self.batch_sizes), "min_duration_s": self.min_duration_s,
                "min_samples": self.min_samples, "warmup_s": self.warmup_s, "isolate": self.isolate}


def check_settings(s: RunSettings) -> RunSettings:
    """Refuse what the device cannot run, before anything is measured; fill in the thread count."""
    dev = s.torch_device
    if dev.type == "meta":
        raise FairnessError("--device meta has no clock: speed needs cpu or cuda; "
                            "pass --no-speed to count only, or --device cpu")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise FairnessError(f"--device {s.device}: no CUDA device is visible (torch.cuda.is_available() "
                            f"is False); use --device cpu")
    if dev.type not in ("cpu", "cuda"):
        raise FairnessError(f"--device {s.device}: expected cpu, cuda or cuda:N")
    if s.dtype not in DTYPES:
        raise FairnessError(f"--dtype {s.dtype}: expected one of {', '.join(DTYPES)}")
    check_precision(s.precision, s.dtype)
    if len(s.precisions) > 1 and s.isolate:
        raise FairnessError(f"--precision {s.precision} with --isolate: the two precisions are timed side by side "
                            f"in one process; give one precision, or drop --isolate")
    if s.compile and s.compile not in COMPILE_MODES:
        raise FairnessError(f"--compile {s.compile}: expected one of {', '.join(COMPILE_MODES)}")
    if s.channels_last not in (True, False, "auto"):
        raise FairnessError(f"channels_last {s.channels_last!r}: expected auto, true or false")
    if s.threads is not None and s.threads <= 0:
        raise FairnessError(f"--threads {s.threads}: expected a positive number of threads")
    for b in s.batch_sizes:
        if b == "auto":
            if dev.type != "cuda":
                raise FairnessError("--batch auto: needs a CUDA device, where running out of memory is "
                                    "caught; on the CPU give sizes, e.g. --batch 1,8,32")
        elif not isinstance(b, int) or b <= 0:
            raise FairnessError(f"--batch {b}: expected positive batch sizes or auto, e.g. --batch 1,32,256")
    if s.dtype == "bfloat16" and dev.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise FairnessError(f"--dtype bfloat16: {torch.cuda.get_device_name(dev)} has no bfloat16 support; "
                            f"use --dtype float16")
    try:  # a dtype the device's autocast cannot run fails here, on a tiny matmul, not mid-run
        with _autocast(s):
            torch.ones(2, 2, device=dev) @ torch.ones(2, 2, device=dev)
    except Exception as e:
        raise FairnessError(f"--dtype {s.dtype}: autocast on {dev.type} cannot run it ({type(e).__name__}: "
                            f"{str(e).splitlines()[0][:160]}); use --dtype float32") from None
    return replace(s, threads=s.threads or physical_cores())


PRECISIONS = ("native", "autocast")


def check_precision(precision: str | None, dtype: str) -> None:
    """A precision names how a low-precision dtype runs: one of PRECISIONS, and only with one."""
    if precision is None:
        return
    names = precision.split(",")
    if not all(n in PRECISIONS for n in names) or len(set(names)) != len(names):
        raise FairnessError(f"--precision {precision}: expected native (weights and inputs in the dtype), autocast "
                            f"(float32 weights under torch.autocast), or both side by side: native,autocast")
    if dtype == "float32":
        raise FairnessError(f"--precision {precision} with --dtype float32: float32 runs as it is; give --dtype "
                            f"bfloat16 or float16, or drop --precision")


def apply_settings(s: RunSettings) -> dict:
    """Set the process-wide switches a run depends on; return the environment as measured."""
    torch.set_num_threads(s.threads or physical_cores())
    if s.torch_device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = s.tf32
        torch.backends.cudnn.benchmark = s.cudnn_benchmark
    return environment(s.device, dtype=s.dtype, threads=torch.get_num_threads(), compile_mode=s.compile,
                       channels_last=s.channels_last)


def precision_context(run: "Runnable", s: RunSettings):
    """Inference as `run` runs it outside a timed step (generation): under autocast where its
    precision is autocast (asked for, or fallen back to), else as it is (native weights, float32)."""
    return _autocast(s) if run.precision == "autocast" else contextlib.nullcontext()


def _autocast(s: RunSettings, cache: bool = True):
    if s.dtype == "float32":
        return contextlib.nullcontext()
    # a CUDA graph cannot hold autocast's weight cache (torch's CUDA graphs notes): off when capturing
    return torch.autocast(s.torch_device.type, dtype=DTYPES[s.dtype], cache_enabled=cache)


# --- the timed step ----------------------------------------------------------------------


def _float_tensors(out):
    """Every floating-point tensor in a model's output (tensors, dicts such as Hugging Face
    ModelOutput, lists and tuples, nested)."""
    if isinstance(out, torch.Tensor):
        if out.is_floating_point():
            yield out
        return
    values = out.values() if isinstance(out, dict) else out if isinstance(out, (list, tuple)) else ()
    for v in values:
        yield from _float_tensors(v)




def channels_last_for(setting: bool | str, record: dict) -> bool:
    """channels_last for one model: as set, or with "auto" on for a convolutional network (its
    counted forward pass runs readings.CONV_CALLS or more convolutions), which is how such models are run
    for speed (timm's benchmark.py --channels-last; cuDNN's NHWC kernels)."""
    if setting != "auto":
        return bool(setting)
    return convolutional(record)


def cast_inputs(inputs: Inputs, dtype: torch.dtype) -> Inputs:
    """The floating-point tensors of the inputs in `dtype` (token ids and masks stay as they are)."""
    def cast(t):
        return t.to(dtype) if isinstance(t, torch.Tensor) and t.is_floating_point() else t

    return Inputs(tuple(cast(a) for a in inputs.args), {k: cast(v) for k, v in inputs.kwargs.items()}, inputs.record)


def channels_last_inputs(inputs: Inputs) -> Inputs:
    def cl(t):
        return t.contiguous(memory_format=torch.channels_last) if isinstance(t, torch.Tensor) and t.dim() == 4 else t

    return Inputs(tuple(cl(a) for a in inputs.args), {k: cl(v) for k, v in inputs.kwargs.items()}, inputs.record)


def make_step(module: torch.nn.Module, inputs: Inputs, s: RunSettings, train: bool = False,
              graph: bool = False) -> Callable[[], object]:
    """The callable that is timed: one forward pass under no_grad (inference), or one training
    step: forward, backward of the mean of the first floating-point output (a stand-in loss whose
    cost is negligible beside the model's), an optimizer step, gradients set to None.
    `graph`: the forward pass captured in a CUDA graph, and the step its replay."""
    args, kwargs = inputs.args, inputs.kwargs
    if not train:
        # native precision: the module and inputs are already in the dtype (Runnable.set_precision)
        cast = contextlib.nullcontext() if s.inference_precision == "native" else _autocast(s, cache=not graph)

        def infer():
            with torch.no_grad(), cast:
                return module(*args, **kwargs)

        return cuda_graph(infer, s.torch_device) if graph else infer

    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        raise FairnessError("--train: the model has no trainable parameters (requires_grad is False everywhere)")
    opt = torch.optim.SGD(params, lr=1e-6, momentum=0.9)
    # float16 gradients underflow without loss scaling; a real float16 training step has it.
    scaler = torch.amp.GradScaler(s.torch_device.type) if s.dtype == "float16" else None

    def train_step():
        with _autocast(s):
            out = module(*args, **kwargs)
        first = next(_float_tensors(out), None)
        if first is None:
            raise FairnessError("--train: the model returned no floating-point tensor to take a loss of")
        loss = first.float().mean()
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        opt.zero_grad(set_to_none=True)

    train_step.optimizer = opt
    return train_step


def cuda_graph(step: Callable[[], object], device: torch.device) -> Callable[[], object]:
    """`step` captured in a CUDA graph; the callable replays it (same inputs, same output tensors).
    Warm-up runs on a side stream first, as torch's CUDA graphs notes prescribe. A model that
    cannot be captured (data-dependent shapes, a sync with the host) raises here, found in the
    first warm-up call under torch's sync debug mode, before any capture begins: a capture that
    fails part-way leaves the CUDA random generator in capture state for the rest of the process."""
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        mode = torch.cuda.get_sync_debug_mode()
        torch.cuda.set_sync_debug_mode("error")
        try:
            step()
        finally:
            torch.cuda.set_sync_debug_mode(mode)
        for _ in range(2):
            step()
    current = torch.cuda.current_stream(device)
    current.wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    try:
        with torch.cuda.graph(graph):
            out = step()
    except Exception:
        # A failed capture can leave its capture stream current (torch.cuda.graph's __exit__ stops
        # at capture_end): the eager work that follows must run where it ran before.
        torch.cuda.set_stream(current)
        torch.cuda.synchronize(device)
        raise

    def replay():
        graph.replay()
        return out

    replay.graph = graph  # keeps the graph (and its memory pool) alive as long as the step
    return replay


def is_oom(e: BaseException) -> bool:
    oom_types = tuple(t for t in (getattr(torch, "OutOfMemoryError", None),
                                  getattr(torch.cuda, "OutOfMemoryError", None)) if t)
    text = str(e)
    return isinstance(e, oom_types) or "out of memory" in text or "can't allocate memory" in text


def free_cache(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


# --- models to run ------------------------------------------------------------------------


@dataclass
class Runnable:
    """A model placed on the target device, and how to make its inputs at any batch size."""

    name: str
    module: torch.nn.Module
    inputs_at: Callable[[int], Inputs]
    macs_per_example: float | None = None
    fixed_batch: int | None = None  # inputs given by the user: only their batch size can run
    rebuild: dict | None = None  # how a fresh process rebuilds it (source, kwargs, input spec), or None
    compile: str | None = None  # torch.compile mode, set by time_models
    failed: str | None = None  # set when a batch size failed; larger ones are skipped
    worker: object | None = None  # with --isolate: the process it runs in (isolate.Worker); module is None
    channels_last: bool = False  # model and 4-d inputs in channels_last (the setting, resolved for this model)
    # how inference runs in a low-precision dtype, resolved for this model (set_precision): "native",
    # "autocast" (asked for, or fallen back to), or None (float32)
    precision: str | None = None
    precision_record: dict | None = None
    is_set_up: bool = False  # runner.set_up has run: cast and laid out as timed, once
    _native: torch.nn.Module | None = None  # the module in the dtype, for native inference
    _train_copy: torch.nn.Module | None = None
    _targets: dict = field(default_factory=dict)

    def module_for(self, train: bool) -> torch.nn.Module:
        """The eager module: in the dtype for native inference, float32 for a training step (float32
        master weights under autocast). A caller's own object is trained as a copy, so measuring a
        training step never changes the caller's weights."""
        if train and self.rebuild is None:
            if self._train_copy is None:
                self._train_copy = copy.deepcopy(self.module)
            return self._train_copy
        if not train and self._native is not None:
            return self._native
        return self.module

    @contextlib.contextmanager
    def under_autocast(self):
        """This model as autocast runs it (float32 weights), for the side phase of
        `--precision native,autocast`; native again after."""
        saved = self._native, self.precision, self._targets
        self._native, self.precision, self._targets = None, "autocast", {}
        try:
            yield
        finally:
            self._native, self.precision, self._targets = saved

    def inputs_for(self, b: int, train: bool) -> Inputs:
        """The inputs at batch b as the step takes them: channels_last, and in the dtype for native
        inference."""
        inputs = self.inputs_at(b)
        if self.channels_last:
            inputs = channels_last_inputs(inputs)
        if not train and self._native is not None:
            inputs = cast_inputs(inputs, self.precision_record["dtype_torch"])
        return inputs

    def set_precision(self, s: RunSettings, keep_float32: bool) -> dict | None:
        """Resolve how this model runs inference in s.dtype, and record it. Native: the module is
        cast (a copy where the float32 one is still needed: a training step, or a caller's own
        object), and its output on the batch-1 input is compared with float32's: the relative error
        (Frobenius norm of the difference over the norm of float32's output, first floating output)
        is recorded. An output that is not finite falls back to autocast, with the reason."""
        want = s.inference_precision
        keep_float32 = keep_float32 or len(s.precisions) > 1  # autocast is timed too: its float32 weights stay
        self.precision = want
        if want is None:
            self.precision_record = None
            return None
        rec = {"inference": want, "dtype": s.dtype, "weights": "float32",
               "train": "autocast, float32 master weights" if s.train else None}
        if want == "native":
            inputs = self.inputs_at(self.fixed_batch or 1)
            if self.channels_last:
                inputs = channels_last_inputs(inputs)
            dtype = DTYPES[s.dtype]
            with torch.no_grad(), _plain_float32():
                ref = next(_float_tensors(self.module(*inputs.args, **inputs.kwargs)), None)
                ref = None if ref is None else ref.detach().float()
            with torch.no_grad():
                native = copy.deepcopy(self.module) if keep_float32 or self.rebuild is None else self.module
                native.to(dtype)
                low = cast_inputs(inputs, dtype)
                out = next(_float_tensors(native(*low.args, **low.kwargs)), None)
            if out is not None and not torch.isfinite(out).all():
                if native is self.module:
                    self.module.to(torch.float32)
                self.precision = "autocast"
                rec.update(inference="autocast", fallback=f"its {s.dtype} output on the batch-1 input is not finite "
                                                          f"(NaN or inf); timed under autocast instead")
            else:
                self._native = native
                rec["dtype_torch"] = dtype
                rec["weights"] = s.dtype
                if ref is not None and out is not None and ref.shape == out.shape:
                    rec["rel_error_vs_float32"] = float((out.float() - ref).norm() / ref.norm().clamp_min(1e-30))
                    rec["rel_error_definition"] = ("||native - float32|| / ||float32|| of the first floating "
                                                   "output, batch-1 input, same weights; float32 without TF32")
        self.precision_record = rec
        return {k: v for k, v in rec.items() if k != "dtype_torch"}

    def target(self, train: bool = False) -> torch.nn.Module:
        """The module to call: `module_for(train)`, compiled when a compile mode is set."""
        if train not in self._targets:
            module = self.module_for(train)
            if self.compile:
                # dynamic=False: one graph per batch size, each compiled in that size's first call.
                module = torch.compile(module, mode=None if self.compile == "default" else self.compile,
                                       dynamic=False)
            self._targets[train] = module
        return self._targets[train]


@contextlib.contextmanager
def _plain_float32():
    """The float32 reference of the precision check: true float32 (no TF32 convolutions), and no
    cuDNN autotuning, which would try every algorithm for float32 shapes that are never timed
    (20 s for EfficientNet-B4 at 380 px on an H100, benchmarks/RESULTS.md)."""
    cudnn = torch.backends.cudnn
    saved = cudnn.benchmark, cudnn.allow_tf32
    cudnn.benchmark, cudnn.allow_tf32 = False, False
    try:
        yield
    finally:
        cudnn.benchmark, cudnn.allow_tf32 = saved


def _tokens_per_example(record: dict) -> int | None:
    if record.get("kind") != "tokens":
        return None
    return record["seq_len"] + (record.get("decoder_seq_len") or 0)


def _static_bytes(module: torch.nn.Module, inputs: Inputs, step) -> int:
    """Bytes this model keeps on the device between steps: parameters, buffers, inputs and
    optimizer state, each storage once."""
    seen, total = set(), 0
    tensors = list(module.parameters()) + list(module.buffers())
    tensors += [t for t in list(inputs.args) + list(inputs.kwargs.values()) if isinstance(t, torch.Tensor)]
    opt = getattr(step, "optimizer", None)
    if opt is not None:
        tensors += [t for state in opt.state.values() for t in state.values() if isinstance(t, torch.Tensor)]
    for t in tensors:
        st = t.untyped_storage()
        key = (st.data_ptr(), st.nbytes())
        if key not in seen:
            seen.add(key)
            total += st.nbytes()
    return total


def cuda_peak(step, module, inputs: Inputs, device: torch.device) -> dict:
    """Peak CUDA memory of one warmed-up step, after a reset. Allocated: this model's resident
    bytes (weights, buffers, inputs, optimizer state) plus the most the step added on top, so
    other models resident for interleaving do not count. Reserved: the caching allocator's
    peak for the whole process."""
    free_cache(device)
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    step()
    torch.cuda.synchronize(device)
    added = torch.cuda.max_memory_allocated(device) - before
    return {"peak_allocated_bytes": _static_bytes(module, inputs, step) + added,
            "step_added_bytes": added,
            "peak_reserved_bytes": torch.cuda.max_memory_reserved(device)}


# --- batch sizes -------------------------------------------------------------------------


def auto_batch(run: Runnable, s: RunSettings, progress: Progress) -> tuple[int, str]:
    """Largest power of two whose step (training step with --train) runs without running out
    of memory; searched in eager mode."""
    if run.worker:
        progress(f"{run.name}: --batch auto, searched in its worker process")
        return run.worker.auto_batch()
    dev = s.torch_device
    module = run.module_for(s.train)
    module.train(s.train)
    best, b = None, 1
    while b <= AUTO_BATCH_CAP:
        progress(f"{run.name}: --batch auto, trying {b}")
        try:
            step = make_step(module, run.inputs_for(b, s.train), s, train=s.train)
            step()
            step()
            torch.cuda.synchronize(dev)
        except Exception as e:
            if not is_oom(e):
                raise
            break
        finally:
            step = None  # drop the step's tensors before the allocator's cache is emptied
            free_cache(dev)
        best, b = b, b * 2
    if best is None:
        raise FairnessError(f"{run.name}: --batch auto: even batch 1 runs out of memory on {s.device}")
    why = (f"auto: {best} is the largest power of two that fits; {best * 2} ran out of memory"
           if best * 2 <= AUTO_BATCH_CAP else f"auto: stopped at the cap of {AUTO_BATCH_CAP}")
    return best, why


class Prepared(StepTimer):
    """One model ready to time at one batch size, in this process: a StepTimer for its step,
    plus what is measured around the timing. The first call is timed on its own (with
    --compile it is the compilation); three more size the timed blocks. A model in a worker
    process (`--isolate`) is prepared there and answers the same calls (isolate.py)."""

    def __init__(self, run: Runnable, b: int, s: RunSettings, train: bool, graph: bool = False):
        inputs = run.inputs_for(b, train)
        if run.precision is not None and run.precision != s.inference_precision:
            s = replace(s, precision=run.precision)  # this model fell back to autocast
        target = run.target(train)
        target.train(train)
        super().__init__(make_step(target, inputs, s, train=train, graph=graph), s.device)
        self.target, self.inputs, self.batch_size = target, inputs, b
        self.tokens = _tokens_per_example(inputs.record)
        # energy is read around the timed throughput blocks: no window of its own (indicators/energy.py)
        wants_energy = s.energy and self.cuda and not train and not graph
        self.meter = energy_mod.EnergyMeter(self.device) if wants_energy and \
            energy_mod.energy_unavailable(self.device) is None else None
        self.state = StateLog.for_device(self.device)  # the clocks the timed window ran at
        t0 = time.perf_counter()
        out = self.step()
        self._sync()
        self.first_call_s = time.perf_counter() - t0
        # A model whose output is NaN or inf is broken at these settings: timing it would
        # measure a computation nobody can use, so it fails (alone) with the reason.
        if any(not torch.isfinite(t).all() for t in _float_tensors(out)):
            raise ModelFailed(f"{run.name}: the forward pass at batch {b} returned NaN or inf on {s.device} "
                                f"({s.dtype}); check the model and its inputs, or try --dtype float32")
        out = None
        t0 = time.perf_counter()
        for _ in range(3):
            self.step()
        self._sync()
        self.per_call_s = (time.perf_counter() - t0) / 3

    def cuda_memory(self) -> dict:
        return cuda_peak(self.step, self.target, self.inputs, self.device)

    def idle(self, steps: int) -> float:
        return idle_mod.idle_share(self.step, self.device, steps=steps)

    def block(self, calls: int) -> float:
        if self.meter is None:
            seconds = super().block(calls)
        else:
            seconds = self.meter.around(lambda: super(Prepared, self).block(calls), calls * self.batch_size)
        if self.state:
            self.state.sample()
        return seconds

    def singles(self, n: int) -> tuple[float, ...]:
        # single calls are too short for the energy counter's steps: energy comes from the blocks
        times = tuple(StepTimer.block(self, 1) for _ in range(n))
        if self.state:
            self.state.sample()
        return times

    def gpu_state(self) -> dict | None:
        return self.state.summary() if self.state else None

    def sustained(self, calls: int, settle_s: float = SUSTAIN_SETTLE_S) -> dict:
        """The model's rate alone once the board has reached its power limit: blocks of `calls`
        back to back, `settle_s` untimed (less where another model has just run at the cap) and then
        SUSTAIN_TIMED_S timed, with the GPU's state over the timed part (gpu_state.py says why)."""
        log = StateLog.for_device(self.device)
        start = time.perf_counter()
        while time.perf_counter() - start < settle_s:
            StepTimer.block(self, calls)
        seconds, done = 0.0, 0
        while seconds < SUSTAIN_TIMED_S:
            seconds += StepTimer.block(self, calls)
            done += calls
            if log:
                log.sample()
        return {"samples_per_s": done * self.batch_size / seconds, "settle_s": settle_s,
                "timed_s": round(seconds, 3), "calls": done, "gpu_state": log.summary() if log else None}

    def energy(self) -> dict:
        measured = self.meter.energy() if self.meter else None
        return (measured or energy_mod.measure_energy(self.step, self.device, self.batch_size)).record()
