"""Batch-1 latency drifts between repeats; a ratio timed in interleaved rounds drifts less.

Times resnet50 and swin_tiny_patch4_window7_224 together (bfloat16 autocast,
batch 1, 3 s per quantity and model) three times in one process. Prints, per
repeat, each model's latency (median, p90, p99, n, noise flag) and the paired
speed-up of swin over resnet50 with its 95% CI; then how far each moved
between repeats ((max - min) / median).

    python benchmarks/gpu_latency_drift.py          # needs a CUDA device
"""

import statistics
import warnings

import torch

from fairness.measure import Target, measure_models
from fairness.runner import RunSettings

warnings.filterwarnings("ignore")

MODELS = ["timm:resnet50", "timm:swin_tiny_patch4_window7_224"]
REPEATS = 3


def spread(values):
    return (max(values) - min(values)) / statistics.median(values)


def main():
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, bfloat16, batch 1\n")
    medians = {m: [] for m in MODELS}
    ratios = []
    for rep in range(REPEATS):
        res = measure_models([Target(m) for m in MODELS], fvcore=False,
                             speed=RunSettings(device="cuda", dtype="bfloat16", batch_sizes=(1,),
                                               min_duration_s=3.0, idle=True, energy=False))
        for m in res["models"]:
            lat, run = m.speed.latency, m.speed.runs[0]
            medians[m.name].append(lat["median_s"])
            print(f"repeat {rep + 1}: {m.name:<36} latency {lat['median_s'] * 1e3:6.3f} / {lat['p90_s'] * 1e3:6.3f}"
                  f" / {lat['p99_s'] * 1e3:6.3f} ms (n={lat['n']}, noisy={lat['noisy']}), "
                  f"GPU idle {run.get('idle_share', float('nan')):.1%}")
        r = next(x for x in res["speed_ratios"] if x["indicator"] == "latency")
        ratios.append(r["speedup"])
        print(f"repeat {rep + 1}: speed-up of swin over resnet50 at batch 1: {r['speedup']:.3f} "
              f"[95% CI {r['ci95'][0]:.3f}-{r['ci95'][1]:.3f}, {r['n']} rounds]\n")
    for m in MODELS:
        print(f"{m}: latency median moved {spread(medians[m]):.1%} between repeats")
    print(f"paired latency ratio moved {spread(ratios):.1%} between repeats")


if __name__ == "__main__":
    main()
