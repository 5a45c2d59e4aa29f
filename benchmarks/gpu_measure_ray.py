"""`fairness measure` of two models through the local executor and through Ray, on one GPU (issue 17).

Runs the same measure command in four processes, local, ray, ray, local (so that a drift over
the minutes shows as one), and prints for each run its wall time, where the timing ran, the
counts, each model's speeds (eager and CUDA graph replays; throughput at the largest batch,
latency at batch 1) and the second model's speed-up over the first, paired in one interleaved
timing as fairness reports it.

    python benchmarks/gpu_measure_ray.py run OUT     # needs a CUDA device and Ray; about 4 minutes on an H200
    python benchmarks/gpu_measure_ray.py table OUT   # read the runs back

Results and the machine are written down in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

MODELS = ["timm:resnet50", "timm:vit_base_patch16_224"]
ORDER = ["local-a", "ray-a", "ray-b", "local-b"]
ARGS = ["--device", "cuda", "--dtype", "bfloat16", "--batch", "1,256", "--cuda-graphs", "--no-fvcore", "-q"]
SPEEDS = {"eager throughput": ("eager", "throughput"), "eager latency": ("eager", "latency"),
          "graph throughput": ("cuda_graph", "throughput"), "graph latency": ("cuda_graph", "latency")}


def run(out: str) -> None:
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ORDER:
        cmd = [sys.executable, "-m", "fairness", "measure", *MODELS, *ARGS, "--executor", name.split("-")[0],
               "--out", str(folder / f"{name}.json")]
        start = time.perf_counter()
        rc = subprocess.run(cmd).returncode
        (folder / f"{name}.wall.json").write_text(json.dumps({"wall_s": time.perf_counter() - start, "rc": rc}))
        print(f"{name}: {time.perf_counter() - start:.0f} s, exit {rc}", flush=True)


def _value(m: dict, impl: str, indicator: str) -> float | None:
    speed = m.get("speed") or {}
    r = ((speed.get("cuda_graph") or {}) if impl == "cuda_graph" else speed).get(indicator) or {}
    return r.get("samples_per_s") if indicator == "throughput" else r.get("median_s")


def _speedup(res: dict, impl: str, indicator: str) -> float | None:
    """The second model's speed-up over the first, paired in the interleaved timing."""
    a, b = (m["name"] for m in res["models"][:2])
    rs = [r for r in res.get("speed_ratios") or [] if r.get("implementation", "eager") == impl
          and r["indicator"] == indicator and {r["model"], r["reference"]} == {a, b}]
    if indicator == "latency":
        rs = [r for r in rs if r["batch_size"] == 1]
    elif rs:
        rs = [r for r in rs if r["batch_size"] == max(x["batch_size"] for x in rs)]
    if not rs:
        return None
    r = rs[0]
    return r["speedup"] if r["model"] == b else 1 / r["speedup"]


def table(out: str) -> None:
    folder = Path(out)
    runs = {n: json.loads((folder / f"{n}.json").read_text()) for n in ORDER if (folder / f"{n}.json").exists()}
    walls = {n: json.loads((folder / f"{n}.wall.json").read_text())["wall_s"] for n in runs}
    counts = {n: [(m["params"]["unique"], m["flops"]["macs"]) for m in r["models"]] for n, r in runs.items()}
    first = next(iter(counts.values()))
    print(f"Counts (unique params, MACs) identical in every run: {all(c == first for c in counts.values())}: {first}")
    print()
    print("| run | wall (s) | model | " + " | ".join(SPEEDS) + " |")
    print("|---|---:|---|" + "---:|" * len(SPEEDS))
    for n, r in runs.items():
        for m in r["models"]:
            cells = []
            for impl, ind in SPEEDS.values():
                v = _value(m, impl, ind)
                cells.append("-" if v is None else f"{v:.0f} /s" if ind == "throughput" else f"{1e3 * v:.3f} ms")
            print(f"| {n} | {walls[n]:.0f} | {m['name']} | " + " | ".join(cells) + " |")
    names = [m["name"] for m in next(iter(runs.values()))["models"]]
    print()
    print(f"{names[1]}'s speed-up over {names[0]}, paired in the interleaved timing:")
    print()
    print("| run | " + " | ".join(SPEEDS) + " |")
    print("|---|" + "---:|" * len(SPEEDS))
    for n, r in runs.items():
        print(f"| {n} | " + " | ".join("-" if (x := _speedup(r, impl, ind)) is None else f"{x:.4f}"
                                      for impl, ind in SPEEDS.values()) + " |")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] in ("run", "table"):
        (run if sys.argv[1] == "run" else table)(sys.argv[2])
    else:
        sys.exit(__doc__)
