"""CPU peak memory: the peak resident set of a fresh process running one step.

A fresh process is the only clean way on the CPU: the allocator of a process
that has already run other models keeps their pages, and the peak resident
set (getrusage's ru_maxrss) only ever grows. The child imports torch and
fairness, resets its peak resident set to the current one (Linux's clear_refs),
builds the model, makes the inputs, runs one step (forward pass, or training
step) and reports the peak. The resident set before the model is returned too,
so a reader can subtract what torch's import costs. Without the reset, the
import's own high-water mark could hide a small model entirely.
(The CUDA peak is measured in-process, after a reset: see runner.cuda_peak.)
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

from ..errors import FairnessError
from ..step import child_env

CHILD_TIMEOUT_S = 900
# At most this many fresh processes at once (runner._cpu_peaks): each holds torch's import (about
# 0.5 GB resident) and its model, so a machine's memory, not only its cores, bounds how many fit.
MAX_FRESH = 4


def fresh_workers(n: int) -> int:
    """How many of `n` fresh processes to run at once: one per core, at most MAX_FRESH."""
    return max(1, min(n, os.cpu_count() or 1, MAX_FRESH))


def _status_bytes(field: str) -> int | None:
    """A size from Linux's /proc/self/status (VmHWM, VmRSS: kB), or None elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _maxrss_bytes() -> int:
    """The process's peak resident set: VmHWM on Linux (which `_reset_peak` can reset), else
    getrusage's ru_maxrss (KiB on Linux, bytes on macOS)."""
    peak = _status_bytes("VmHWM")
    if peak is not None:
        return peak
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def _reset_peak() -> bool:
    """Reset the peak resident set to the current one (Linux >= 4.0, clear_refs 5), so the peak
    read later belongs to the model, not to importing torch. False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def cpu_peak_rss(rebuild: dict, batch_size: int, settings, train: bool) -> dict:
    """Run one step of the model described by `rebuild` (source, kwargs, input spec) in a fresh
    Python process on the CPU, with the same dtype, channels_last and thread count."""
    task = {**rebuild, "batch_size": batch_size, "train": train, "dtype": settings.dtype,
            "precision": settings.precision, "channels_last": settings.channels_last, "threads": settings.threads}
    proc = subprocess.run([sys.executable, "-m", "fairness.indicators.memory", json.dumps(task)],
                          capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, env=child_env())
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]
        raise FairnessError(f"the fresh process measuring peak memory failed (exit {proc.returncode}): {tail}")
    return json.loads(lines[-1])


def _child(task: dict) -> dict:
    import torch

    from ..step import DTYPES, RunSettings, cast_inputs, channels_last_inputs, make_step
    from ..sources import build_from

    torch.set_num_threads(task["threads"])
    reset = _reset_peak()
    before = _status_bytes("VmRSS") if reset else _maxrss_bytes()
    module, inputs_at = build_from(task, "cpu")
    inputs = inputs_at(task["batch_size"])
    settings = RunSettings(device="cpu", dtype=task["dtype"], channels_last=task["channels_last"],
                           threads=task["threads"], precision=task.get("precision"))
    if settings.channels_last:
        module.to(memory_format=torch.channels_last)
        inputs = channels_last_inputs(inputs)
    if settings.inference_precision == "native" and not task["train"]:  # as the timed step runs
        module.to(DTYPES[settings.dtype])
        inputs = cast_inputs(inputs, DTYPES[settings.dtype])
    module.train(task["train"])
    make_step(module, inputs, settings, train=task["train"])()
    how = ("its peak resident set (VmHWM) from after the imports" if reset
           else "its peak resident set since start (ru_maxrss; imports included)")
    return {"peak_rss_bytes": _maxrss_bytes(), "rss_before_model_bytes": before,
            "definition": f"a fresh process that imported torch, built the model with random weights and ran "
                          f"one step (eager, uncompiled): {how}, including the resident imports"}


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.argv[1]))))
