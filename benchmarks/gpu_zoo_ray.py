"""A zoo on one GPU and on several, through the local executor and through Ray (issues 17, 18).

Two steps. `run` times one `fairness zoo` command and keeps its results and its wall time:

    python benchmarks/gpu_zoo_ray.py run OUT/ray-2gpu -- examples/zoo/imagenet24.yaml --executor ray
    CUDA_VISIBLE_DEVICES=0 python benchmarks/gpu_zoo_ray.py run OUT/ray-1gpu -- examples/zoo/imagenet24.yaml --executor ray

`table` reads those folders and prints, for every pair of runs of the same models:
- the wall times, and the groups: which GPU timed which group, in how many seconds;
- whether the counts (params, MACs, FLOPs) are identical;
- how far apart the speeds are (throughput at the largest batch and latency at batch 1, as the
  zoo reports them: through the reference);
- for models timed in different groups in one run and in one group in the other, their speed-up
  over each other through the reference against the one paired directly.

    python benchmarks/gpu_zoo_ray.py table OUT/ray-2gpu OUT/ray-1gpu OUT/local-12

On the device machine, tar the run folders into one file under $OUT: a call brings back at
most 8 files. Results and the machine are written down in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from fairness.readings import measured
from fairness.record import ModelRecord

COUNTS = ("params", "applied", "active", "macs", "flops")


def run(out: str, zoo_args: list[str]) -> None:
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "fairness", "zoo", *zoo_args, "--out", str(folder)]
    start = time.perf_counter()
    proc = subprocess.run(cmd)
    wall = time.perf_counter() - start
    # the cache is for --resume, which a benchmark does not use; a device call brings back 8 files
    shutil.rmtree(folder / ".fairness-cache", ignore_errors=True)
    (folder / "wall.json").write_text(json.dumps({"cmd": cmd[3:], "wall_s": wall, "rc": proc.returncode,
                                                  "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}))
    print(f"{folder.name}: {wall:.0f} s, exit {proc.returncode}")


def _load(folder: str) -> dict:
    res = json.loads((Path(folder) / "results.json").read_text())
    wall = json.loads((Path(folder) / "wall.json").read_text())
    models = {(m["source"], json.dumps(m.get("kwargs") or {}, sort_keys=True)): m
              for m in res["models"] if not m.get("failed")}
    return {"name": Path(folder).name, "res": res, "wall": wall, "models": models}


def _counts(m: dict) -> tuple:
    """A model's counts (COUNTS), read from its entry in a results file (a plain dict)."""
    record = ModelRecord.from_plain(m)
    return tuple(measured(record, c) for c in COUNTS)


def _group(m: dict):
    return (m.get("zoo") or {}).get("group")


def table(folders: list[str]) -> None:
    missing = [f for f in folders if not (Path(f) / "results.json").exists()]
    for f in missing:
        print(f"{f}: no results.json (the run failed or was cut short)")
    runs = [_load(f) for f in folders if f not in missing]
    print("| run | models | failed | groups | wall (s) | where each group ran (s) |")
    print("|---|---:|---:|---:|---:|---|")
    for r in runs:
        z = r["res"]["zoo"]
        placed = "; ".join(f"g{p['group'] + 1}: GPU {','.join(p.get('gpus') or ['-'])} {p['seconds']:.0f}"
                           for p in z["executor"]["groups"])
        failed = sum(1 for m in r["res"]["models"] if m.get("failed"))
        print(f"| {r['name']} ({z['executor']['name']}) | {len(r['res']['models'])} | {failed} | {len(z['groups'])} "
              f"| {r['wall']['wall_s']:.0f} | {placed} |")
    print()
    print("Between runs, for each speed the zoo reports (eager and CUDA graph replays; throughput at the largest")
    print("batch, latency at batch 1): median and largest |A/B - 1| over the common models, of the value and of")
    print("the speed-up over the reference paired within its group.")
    print()
    print("| run A | run B | common | counts identical | " + " | ".join(
        f"{label}: value | {label}: speed-up" for label in SPEED_LABELS.values()) + " |")
    print("|---|---|---:|---|" + "---|" * (2 * len(SPEED_LABELS)))
    pairs, split_any = list(itertools.combinations(runs, 2)), False
    for a, b in pairs:
        common = sorted(set(a["models"]) & set(b["models"]))
        same = all(_counts(a["models"][k]) == _counts(b["models"][k]) for k in common)
        cells = []
        for ind in SPEED_LABELS:
            va, vb = _zoo_values(a, ind), _zoo_values(b, ind)
            cells.append(_spread([va[k] / vb[k] for k in common if k in va and k in vb]))
            ref_a, ref_b = _reference_key(a), _reference_key(b)
            cells.append(_spread([(va[k] / va[ref_a]) / (vb[k] / vb[ref_b]) for k in common
                                  if k in va and k in vb and k != ref_a and ref_a in va and ref_b in vb]))
        print(f"| {a['name']} | {b['name']} | {len(common)} | {'yes' if same else 'NO'} | " + " | ".join(cells) + " |")
    print()
    print("Pairs in different groups in one run and in one group in the other: their speed-up over each other")
    print("through the reference (each paired with it in its own group) against the one paired directly.")
    print()
    print("| run A | run B | cross-group pairs | eager throughput | eager latency | graph throughput | graph latency |")
    print("|---|---|---:|---|---|---|---|")
    for a, b in pairs:
        common = sorted(set(a["models"]) & set(b["models"]))
        cross = {}
        for impl, ind, batch in (("eager", "throughput", None), ("eager", "latency", 1),
                                 ("cuda_graph", "throughput", None), ("cuda_graph", "latency", 1)):
            sa, sb = _speedups(a, impl, ind, batch), _speedups(b, impl, ind, batch)
            diffs = []
            for x, y in itertools.combinations(common, 2):
                for split, joint, ss, sj in ((a, b, sa, sb), (b, a, sb, sa)):
                    ms, mj = split["models"], joint["models"]
                    if _group(ms[x]) != _group(ms[y]) and _group(mj[x]) == _group(mj[y]) \
                            and all(k in s_ for s_ in (ss, sj) for k in (x, y)):
                        diffs.append((ss[x] / ss[y]) / (sj[x] / sj[y]))
                        break
            cross[(impl, ind)] = diffs
        if cross[("eager", "throughput")]:
            split_any = True
            print(f"| {a['name']} | {b['name']} | {len(cross[('eager', 'throughput')])} | "
                  + " | ".join(_spread(d) for d in cross.values()) + " |")
    if not split_any:
        print("| (no pair of runs splits a pair of models over groups) | | | | | | |")


SPEED_LABELS = {"throughput": "eager throughput", "latency": "eager latency",
                "graph_throughput": "graph throughput", "graph_latency": "graph latency"}


def _zoo_values(run: dict, indicator: str) -> dict:
    """The zoo's value of one speed for each model (the reference's median times the model's
    paired speed-up over it), by source and kwargs."""
    return {k: m["zoo"][indicator] for k, m in run["models"].items() if (m.get("zoo") or {}).get(indicator)}


def _reference_key(run: dict):
    return next((k for k, m in run["models"].items() if m["name"] == run["res"]["zoo"]["reference"]), None)


def _spread(ratios: list[float]) -> str:
    """Median and largest |ratio - 1|, in percent; '-' where nothing compares."""
    d = [abs(r - 1) for r in ratios]
    return f"{100 * statistics.median(d):.1f}%, {100 * max(d):.1f}%" if d else "-"


def _speedups(run: dict, impl: str, indicator: str, batch: int | None) -> dict:
    """Each model's speed-up over the reference in its own group (the reference itself: 1), by
    source and kwargs; batch None: the largest batch timed."""
    ratios = [r for r in run["res"].get("speed_ratios") or [] if r.get("implementation", "eager") == impl
              and r["indicator"] == indicator and r["reference"] == run["res"]["zoo"]["reference"]]
    if not ratios:
        return {}
    batch = batch or max(r["batch_size"] for r in ratios)
    by_name = {m["name"]: k for k, m in run["models"].items()}
    out = {by_name[r["model"]]: r["speedup"] for r in ratios if r["batch_size"] == batch and r["model"] in by_name}
    ref = _reference_key(run)
    if ref and out:
        out[ref] = 1.0
    return out


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "run" and sys.argv[3] == "--":
        run(sys.argv[2], sys.argv[4:])
    elif len(sys.argv) >= 3 and sys.argv[1] == "table":
        table(sys.argv[2:])
    else:
        sys.exit(__doc__)
