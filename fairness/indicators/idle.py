"""Device idle share: the paper's "pipeline bubble".

The fraction of a window of back-to-back steps in which the GPU runs no
kernel, memory copy or memset, read from torch.profiler's device timeline.
The window opens when the first step starts on the host and closes when the
last GPU activity ends. A model whose GPU idles between kernels is bound by
launch overhead (Python, the dispatcher, small kernels), not by compute; more
FLOPs would then cost it little time, and fewer would save it little.
The profiler adds a little host overhead, so the share is an upper bound.

The profiler must not outlive its window. Kineto leaves CUPTI attached after a profile ends unless
TEARDOWN_CUPTI=1, and an attached CUPTI slows every later kernel by 10-20% (pytorch/pytorch#144455).
On an H100 a plain batch-1 replay loop ran 5-22% slower after fairness's run (which profiles every
model's idle share) than before it, the many-small-kernel models most, while heat, idle time,
resident models, allocator state and a large neighbour graph each moved it under 2.5%
(benchmarks/RESULTS.md, gpu_latency_state.py). So each profile asks Kineto to tear CUPTI down.
torch keeps CUPTI attached itself where CUDA graphs and teardown crashed together (CUDA before
12.6); there the idle share is not measured, and the record says why.
"""

from __future__ import annotations

import os
from typing import Callable

import torch

STEP_LABEL = "fairness.idle.step"


def _merged_busy_ns(intervals: list[tuple[int, int]], lo: int, hi: int) -> int:
    busy, end = 0, lo
    for s, e in sorted(intervals):
        s, e = max(s, end), min(e, hi)
        if e > s:
            busy += e - s
            end = e
    return busy


def _is_annotation(event) -> bool:
    """The profiler also draws user annotations (record_function ranges) on the GPU timeline,
    spanning whole steps; they are not device work. Torch versions expose this differently."""
    flag = getattr(event, "is_user_annotation", None)
    if flag is not None and flag():
        return True
    kind = getattr(event, "activity_type", None)
    if kind is not None and "annotation" in str(kind()).lower():
        return True
    return event.name() == STEP_LABEL


def cupti_teardown_unavailable() -> str | None:
    """Why CUPTI would stay attached after a profile (None: Kineto tears it down)."""
    if os.environ.get("TEARDOWN_CUPTI", "1") != "1":
        return (f"TEARDOWN_CUPTI={os.environ['TEARDOWN_CUPTI']} keeps CUPTI attached after a profile, which "
                f"slows every later kernel; unset it to measure the idle share")
    cuda = tuple(int(x) for x in (torch.version.cuda or "0.0").split(".")[:2])
    if cuda < (12, 6):
        return (f"CUDA {torch.version.cuda}: CUPTI cannot be torn down after a profile beside CUDA graphs (torch "
                f"keeps it attached before CUDA 12.6), and an attached CUPTI slows every later kernel")
    return None


def idle_share(step: Callable[[], object], device: torch.device, steps: int = 10) -> float:
    """Idle fraction of the GPU over `steps` back-to-back calls of a warmed-up `step`."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile, record_function

    why = cupti_teardown_unavailable()
    if why:
        raise RuntimeError(why)
    os.environ["TEARDOWN_CUPTI"] = "1"  # read by Kineto when the profile stops
    torch.cuda.synchronize(device)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        with record_function(STEP_LABEL):
            for _ in range(steps):
                step()
        torch.cuda.synchronize(device)
    events = prof.profiler.kineto_results.events()
    start = min(e.start_ns() for e in events if e.name() == STEP_LABEL)
    gpu = [(e.start_ns(), e.start_ns() + e.duration_ns()) for e in events
           if e.device_type() == DeviceType.CUDA and e.duration_ns() > 0 and not _is_annotation(e)]
    if not gpu:
        raise RuntimeError("the profiler recorded no GPU activity for the step")
    end = max(e for _, e in gpu)
    return 1.0 - _merged_busy_ns(gpu, start, end) / max(1, end - start)
