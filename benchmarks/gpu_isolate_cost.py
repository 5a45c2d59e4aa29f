"""What `--isolate` (a worker process per model) costs, and whether it changes the numbers.

Runs `fairness measure` as a user would, a fresh command each time, with --no-isolate and
--isolate in the order A B B A (so drift on the machine hits both modes alike), for two
scenarios:

  typical   three models, --batch 1,256 --dtype bfloat16, idle share and energy on (the defaults)
  smallest  two models, --batch 1 --no-idle --no-energy: the least timing work, where the
            cost of starting the workers weighs most
  alone-b1, twice-b1   resnet50 alone and against itself at batch 1 (launch-bound): a
            same-model speed-up should read 1.0

Prints per run: wall-clock seconds of the whole command and of its timing stage (the
command minus counting), each model's throughput at the largest batch and latency at
batch 1, the speed-up of every model over the first, and CUDA peak reserved memory
(process-wide: in one process it includes the models measured before). Then, per
scenario, the cost of --isolate (mean wall time, isolated / in-process - 1) and how far
the isolated numbers sit from the in-process ones.

    python benchmarks/gpu_isolate_cost.py            # needs a CUDA device; about 10 minutes on an H200
    python benchmarks/gpu_isolate_cost.py --scenarios alone-b1,twice-b1   # batch 1 only
    python benchmarks/gpu_isolate_cost.py --device cpu --quick   # the same on the CPU, small models
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCENARIOS = {
    "cuda": {
        "typical": (["timm:resnet50", "timm:vit_base_patch16_224", "timm:convnext_tiny"],
                    ["--batch", "1,256", "--dtype", "bfloat16"]),
        "smallest": (["timm:resnet50", "timm:vit_base_patch16_224"], ["--batch", "1", "--no-idle", "--no-energy"]),
        # batch 1 is launch-bound (the host's time per call): alone, and the same model twice
        "alone-b1": (["timm:resnet50"], ["--batch", "1", "--no-idle", "--no-energy"]),
        "twice-b1": (["timm:resnet50", "timm:resnet50"], ["--batch", "1", "--no-idle", "--no-energy"]),
    },
    "cpu": {
        "typical": (["timm:resnet18", "timm:vit_tiny_patch16_224", "timm:mobilenetv3_small_100"],
                    ["--batch", "1,8"]),
        "smallest": (["timm:resnet18", "timm:vit_tiny_patch16_224"], ["--batch", "1"]),
    },
}
ORDER = ["--no-isolate", "--isolate", "--isolate", "--no-isolate"]


def run_once(models, extra, mode, device, out):
    cmd = [sys.executable, "-m", "fairness.cli", "measure", *models, *extra, mode, "--device", device,
           "--no-fvcore", "--format", "json", "--out", str(out), "-q"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    res = json.loads(Path(out).read_text())
    counting = sum(m["seconds_to_measure"] for m in res["models"])
    return wall, counting, res


def short(name):
    return name.split(":")[-1][:14]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="only the smallest scenario")
    ap.add_argument("--scenarios", help="comma-separated names of the scenarios to run (default: all)")
    args = ap.parse_args()
    scenarios = SCENARIOS["cuda" if args.device.startswith("cuda") else "cpu"]
    if args.quick:
        scenarios = {"smallest": scenarios["smallest"]}
    if args.scenarios:
        scenarios = {k: scenarios[k] for k in args.scenarios.split(",")}
    tmp = Path(tempfile.mkdtemp())
    summary = []
    for scen, (models, extra) in scenarios.items():
        print(f"\n== {scen}: {' '.join(short(m) for m in models)}  {' '.join(extra)}")
        print(f"{'mode':13} {'wall s':>7} {'timing s':>8}  " + "  ".join(
            f"{short(m):>14}" for m in models) + "   speed-up over the first (throughput; latency)")
        rows = {"--isolate": [], "--no-isolate": []}
        for i, mode in enumerate(ORDER):
            wall, counting, res = run_once(models, extra, mode, args.device, tmp / f"{scen}{i}.json")
            ms = res["models"]
            assert all(m["speed"]["settings"]["isolate"] == (mode == "--isolate") for m in ms)
            tp = [m["speed"]["throughput"]["samples_per_s"] for m in ms]
            lat = [m["speed"]["latency"]["median_s"] for m in ms]
            reserved = [m["memory"].get("peak_reserved_bytes") for m in ms]
            big = max((r["batch_size"] for r in res["speed_ratios"]), default=1)
            ratios = {(r["model"], r["indicator"]): r["speedup"] for r in res["speed_ratios"]
                      if r["batch_size"] in (big, 1)}
            rows[mode].append({"wall": wall, "timing": wall - counting, "tp": tp, "lat": lat, "ratios": ratios,
                               "reserved": reserved})
            others = [m["name"] for m in ms[1:]]
            print(f"{mode:13} {wall:7.1f} {wall - counting:8.1f}  " + "  ".join(f"{t:10.0f} /s " for t in tp)
                  + "   " + ", ".join(f"{short(m)} {ratios.get((m, 'throughput'), float('nan')):.3f}; "
                                      f"{ratios.get((m, 'latency'), float('nan')):.3f}" for m in others))
            print(f"{'':13} {'':7} {'':8}  " + "  ".join(f"{x * 1e3:9.2f} ms  " for x in lat) + "   latency median, batch 1")
            if reserved[0] is not None:
                print(f"{'':13} {'':7} {'':8}  " + "  ".join(f"{r / 2**20:9.0f} MiB " for r in reserved)
                      + "   CUDA peak reserved")
        iso, inp = rows["--isolate"], rows["--no-isolate"]

        def mean(rs, key):
            return statistics.mean(r[key] for r in rs)

        cost_wall = mean(iso, "wall") / mean(inp, "wall") - 1
        cost_timing = mean(iso, "timing") / mean(inp, "timing") - 1
        tp_dev = [statistics.mean(r["tp"][k] for r in iso) / statistics.mean(r["tp"][k] for r in inp) - 1
                  for k in range(len(models))]
        lat_dev = [statistics.mean(r["lat"][k] for r in iso) / statistics.mean(r["lat"][k] for r in inp) - 1
                   for k in range(len(models))]
        ratio_keys = sorted(inp[0]["ratios"])
        ratio_dev = [statistics.mean(r["ratios"][k] for r in iso) / statistics.mean(r["ratios"][k] for r in inp) - 1
                     for k in ratio_keys]
        summary.append((scen, mean(inp, "wall"), mean(iso, "wall"), cost_wall, cost_timing, tp_dev, lat_dev,
                        ratio_dev))
    print("\n== cost of --isolate (mean of 2 runs each) and isolated / in-process - 1")
    print(f"{'scenario':9} {'in-process s':>12} {'isolated s':>10} {'cost':>7} {'timing':>7}  "
          f"{'throughput':>22}  {'latency':>22}  {'speed-ups':>16}")
    for scen, a, b, cw, ct, tp, lat, rat in summary:
        fmt = lambda xs: " ".join(f"{x:+.1%}" for x in xs)  # noqa: E731
        print(f"{scen:9} {a:12.1f} {b:10.1f} {cw:+7.1%} {ct:+7.1%}  {fmt(tp):>22}  {fmt(lat):>22}  {fmt(rat):>16}")


if __name__ == "__main__":
    main()
