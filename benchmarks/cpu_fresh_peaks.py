"""CPU peak memory, fresh processes one at a time against several at a time (runner._cpu_peaks).

Each model's CPU peak memory is the peak resident set of a fresh process of its own that builds it
and runs one step (indicators/memory.py). A process's resident set is its own, so running several at
once should not change any peak, only the wall time (most of each process's time is importing
torch). For four timm models at 96 px, batch 8, float32, this prints each model's peak measured in
turn and all at once (twice each, alternating, so that run-to-run movement shows beside the
difference), and the wall time of each way.

    python benchmarks/cpu_fresh_peaks.py        # CPU only; about a minute on 2 cores
"""

import os
import statistics
import time

import torch

from fairness import runner
from fairness.indicators import memory
from fairness.runner import RunSettings
from fairness.sources import InputSpec, parse_source, recipe

MODELS = ["timm:resnet18", "timm:resnet34", "timm:convnext_atto", "timm:mobilenetv3_small_100"]
BATCH, REPEATS = 8, 2


def peaks(workers: int) -> tuple[dict, float]:
    """Each model's peak (MiB) and the wall time, `workers` fresh processes at a time."""
    settings = RunSettings(device="cpu", threads=torch.get_num_threads())  # as check_settings resolves it
    timed = [runner._Timed(runner.Runnable(text, None, None, rebuild=recipe(parse_source(text, None),
                                                                             InputSpec(image_size=(96, 96)))),
                           BATCH, None, 1, {}) for text in MODELS]
    saved = memory.fresh_workers
    memory.fresh_workers = lambda n: min(n, workers)
    try:
        t0 = time.perf_counter()
        failed = runner._cpu_peaks(timed, settings, "forward pass", False, lambda m: None)
        wall = time.perf_counter() - t0
    finally:
        memory.fresh_workers = saved
    assert not failed, failed
    return {t.run.name: t.rec["memory"]["peak_rss_bytes"] / 2**20 for t in timed}, wall


def main() -> int:
    together = min(len(MODELS), os.cpu_count() or 1, memory.MAX_FRESH)
    runs = {1: [], together: []}
    for _ in range(REPEATS):
        for workers in runs:
            runs[workers].append(peaks(workers))
    print(f"{os.cpu_count()} CPUs; {len(MODELS)} models at 96 px, batch {BATCH}, float32; peak resident set in MiB\n")
    head = " ".join(f"{'1 at a time #' + str(i + 1):>16}" for i in range(REPEATS)) + " " + " ".join(
        f"{str(together) + ' at a time #' + str(i + 1):>16}" for i in range(REPEATS))
    print(f"{'model':<28} {head} {'together/alone':>15}")
    for name in MODELS:
        alone = [r[0][name] for r in runs[1]]
        both = [r[0][name] for r in runs[together]]
        cells = " ".join(f"{x:16.0f}" for x in alone + both)
        print(f"{name:<28} {cells} {statistics.mean(both) / statistics.mean(alone):15.3f}")
    walls = " ".join(f"{r[1]:16.1f}" for r in runs[1] + runs[together])
    print(f"{'wall time, s':<28} {walls}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
