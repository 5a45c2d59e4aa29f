"""CPU peak memory: the peak resident set of a fresh process running one step.

A fresh process is the only clean way on the CPU: the allocator of a process
that has already run other models keeps their pages, and the peak resident
set (getrusage's ru_maxrss) only ever grows. The child imports torch and
fairness, notes its resident peak so far, builds the model, makes the inputs,
runs one step (forward pass, or training step) and reports its peak. Both
numbers are returned, so a reader can subtract what torch's import costs.
(The CUDA peak is measured in-process, after a reset: see runner.cuda_peak.)
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

from ..errors import FairnessError

CHILD_TIMEOUT_S = 900


def _maxrss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # Linux reports KiB, macOS bytes


def cpu_peak_rss(rebuild: dict, batch_size: int, settings, train: bool) -> dict:
    """Run one step of the model described by `rebuild` (source, kwargs, input spec) in a fresh
    Python process on the CPU, with the same dtype, channels_last and thread count."""
    task = {**rebuild, "batch_size": batch_size, "train": train, "dtype": settings.dtype,
            "channels_last": settings.channels_last, "threads": settings.threads}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))  # python: sources import alike
    proc = subprocess.run([sys.executable, "-m", "fairness.indicators.memory", json.dumps(task)],
                          capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, env=env)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]
        raise FairnessError(f"the fresh process measuring peak memory failed (exit {proc.returncode}): {tail}")
    return json.loads(lines[-1])


def _child(task: dict) -> dict:
    import torch

    from ..runner import RunSettings, channels_last_inputs, make_step
    from ..sources import InputSpec, build, make_inputs, parse_source

    torch.set_num_threads(task["threads"])
    before = _maxrss_bytes()
    src = parse_source(task["source"], task["kwargs"])
    module = build(src, "cpu")
    size = task.get("image_size")
    spec = InputSpec(image_size=tuple(size) if size else None, seq_len=task.get("seq_len"),
                     factory=task.get("factory"))
    inputs = make_inputs(module, src, spec, task["batch_size"], "cpu")
    settings = RunSettings(device="cpu", dtype=task["dtype"], channels_last=task["channels_last"],
                           threads=task["threads"])
    if settings.channels_last:
        module.to(memory_format=torch.channels_last)
        inputs = channels_last_inputs(inputs)
    module.train(task["train"])
    make_step(module, inputs, settings, train=task["train"])()
    return {"peak_rss_bytes": _maxrss_bytes(), "rss_before_model_bytes": before,
            "definition": "peak resident set of a fresh process (getrusage ru_maxrss) that imported torch, "
                          "built the model with random weights and ran one step (eager, uncompiled)"}


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.argv[1]))))
