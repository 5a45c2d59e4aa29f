"""Batch-1 latency to trust: eager against CUDA graph replay, across processes, and the CPU
thread count's effect on eager latency.

1. Five timm models timed together in interleaved rounds (bfloat16 autocast, batch 1 and
   256, channels_last auto, 1 s per quantity), eager and replayed from CUDA graphs
   (`--cuda-graphs`), in REPEATS separate processes. Prints each process's medians and
   IQR / median, the GPU idle share at batch 1, then how far each median moved between the
   processes ((max - min) / median). Targets (issue 14): graph-replay batch-1 IQR under 3%
   of the median; repeats in separate processes within 5%.
2. Eager batch-1 latency of the same models at 1, 2, 4, 8 and 16 CPU threads (one process
   per thread count): median and IQR / median, to choose the thread count for GPU runs.

    python benchmarks/gpu_cuda_graphs.py            # needs a CUDA device; about 5 minutes on an H200
"""

import json
import statistics
import subprocess
import sys
import warnings

MODELS = ["timm:resnet50", "timm:vit_base_patch16_224", "timm:convnext_tiny", "timm:efficientnet_b0",
          "timm:swin_tiny_patch4_window7_224"]
REPEATS = 2
THREADS = (1, 2, 4, 8, 16)


def child(mode: str, threads: int | None) -> dict:
    """One process's measurement: {model: numbers}."""
    warnings.filterwarnings("ignore")
    from fairness.measure import Target, measure_models
    from fairness.runner import RunSettings

    graphs = mode == "graphs"
    s = RunSettings(device="cuda", dtype="bfloat16", batch_sizes=(1, 256) if graphs else (1,), cuda_graphs=graphs,
                    channels_last="auto", min_duration_s=1.0, idle=graphs, energy=False, threads=threads)
    res = measure_models([Target(m) for m in MODELS], fvcore=False, speed=s)
    out = {}
    for m in res["models"]:
        sp = m.speed
        at1 = next(r for r in sp.runs if r["batch_size"] == 1)
        row = {"eager_lat": sp.latency["median_s"], "eager_iqr": sp.latency["iqr_s"] / sp.latency["median_s"],
               "threads": sp.settings["threads"]}
        if graphs:
            g = sp.cuda_graph
            row.update(idle=at1.get("idle_share"), eager_tp=sp.throughput["samples_per_s"],
                       graph_unavailable=g["unavailable"])
            lat = g["latency"]
            if lat:
                row.update(graph_lat=lat["median_s"], graph_iqr=lat["iqr_s"] / lat["median_s"],
                           graph_tp=g["throughput"]["samples_per_s"])
        out[m.name] = row
    return out


def run_child(mode: str, threads: int | None = None) -> dict:
    args = [sys.executable, __file__, "--child", mode] + ([str(threads)] if threads else [])
    proc = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def spread(values):
    return (max(values) - min(values)) / statistics.median(values)


def main():
    import torch

    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, bfloat16, channels_last auto\n")
    runs = [run_child("graphs") for _ in range(REPEATS)]
    print("eager and CUDA graph replay, batch 1 latency (median, IQR/median) and batch 256 throughput")
    print(f"{'process':<8} {'model':<36} {'threads':>7} {'idle b1':>7} {'eager ms':>9} {'IQR':>6} {'graph ms':>9} "
          f"{'IQR':>6} {'eager/s':>9} {'graph/s':>9}")
    for i, run in enumerate(runs):
        for name, r in run.items():
            if "graph_lat" in r:
                graph = f"{r['graph_lat'] * 1e3:9.3f} {r['graph_iqr']:6.1%}"
                rate = f"{r['graph_tp']:9.0f}"
            else:
                graph, rate = f"{'n/a':>9} {'':>6}", f"{'n/a':>9}"
            print(f"{i + 1:<8} {name:<36} {r['threads']:>7} {r['idle']:7.1%} {r['eager_lat'] * 1e3:9.3f} "
                  f"{r['eager_iqr']:6.1%} {graph} {r['eager_tp']:9.0f} {rate}")
            if r["graph_unavailable"]:
                print(f"         {name}: {r['graph_unavailable']}")
    print(f"\nmedians moved between the {REPEATS} processes ((max - min) / median):")
    for name in runs[0]:
        eager = spread([run[name]["eager_lat"] for run in runs])
        graph = spread([run[name]["graph_lat"] for run in runs]) if all("graph_lat" in run[name] for run in runs) \
            else float("nan")
        print(f"  {name:<36} eager latency {eager:6.1%}   graph latency {graph:6.1%}")

    print("\neager batch-1 latency by CPU thread count (ms, IQR/median), one process each")
    sweep = {t: run_child("eager", t) for t in THREADS}
    print(f"{'model':<36} " + " ".join(f"{f'{t} threads':>16}" for t in THREADS))
    for name in runs[0]:
        print(f"{name:<36} " + " ".join(f"{sweep[t][name]['eager_lat'] * 1e3:8.3f} ({sweep[t][name]['eager_iqr']:5.1%})"
                                        for t in THREADS))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None)))
    else:
        main()
