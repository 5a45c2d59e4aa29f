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

COUNTS = (("params", "total"), ("params", "active"), ("flops", "macs"), ("flops", "flops"))


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


def _count(m: dict, key: tuple[str, str]):
    return (m.get(key[0]) or {}).get(key[1])


def _group(m: dict):
    return (m.get("zoo") or {}).get("group")


def table(folders: list[str]) -> None:
    runs = [_load(f) for f in folders]
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
    print("| run A | run B | common | counts identical | throughput: median, max abs diff | "
          "latency: median, max abs diff | cross-group pairs | through the reference vs direct, throughput: median, "
          "max abs diff | the same, latency |")
    print("|---|---|---:|---|---|---|---:|---|---|")
    for a, b in itertools.combinations(runs, 2):
        common = sorted(set(a["models"]) & set(b["models"]))
        same = all(_count(a["models"][k], c) == _count(b["models"][k], c) for k in common for c in COUNTS)
        cells = []
        for ind in ("throughput", "latency"):
            d = [abs(a["models"][k]["zoo"][ind] / b["models"][k]["zoo"][ind] - 1) for k in common
                 if (a["models"][k].get("zoo") or {}).get(ind) and (b["models"][k].get("zoo") or {}).get(ind)]
            cells.append(f"{100 * statistics.median(d):.1f}%, {100 * max(d):.1f}%" if d else "-")
        # pairs split across groups in one run and together in one group in the other
        cross = {"throughput": [], "latency": []}
        for x, y in itertools.combinations(common, 2):
            for split, joint in ((a, b), (b, a)):
                ms, mj = split["models"], joint["models"]
                if _group(ms[x]) != _group(ms[y]) and _group(mj[x]) == _group(mj[y]):
                    for ind in ("throughput", "latency"):
                        if all((m.get("zoo") or {}).get(ind) for m in (ms[x], ms[y], mj[x], mj[y])):
                            via = ms[x]["zoo"][ind] / ms[y]["zoo"][ind]
                            direct = mj[x]["zoo"][ind] / mj[y]["zoo"][ind]
                            cross[ind].append(abs(via / direct - 1))
                    break
        cc = [f"{100 * statistics.median(d):.1f}%, {100 * max(d):.1f}%" if d else "-" for d in cross.values()]
        print(f"| {a['name']} | {b['name']} | {len(common)} | {'yes' if same else 'NO'} | {cells[0]} | {cells[1]} "
              f"| {len(cross['throughput'])} | {cc[0]} | {cc[1]} |")


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "run" and sys.argv[3] == "--":
        run(sys.argv[2], sys.argv[4:])
    elif len(sys.argv) >= 3 and sys.argv[1] == "table":
        table(sys.argv[2:])
    else:
        sys.exit(__doc__)
