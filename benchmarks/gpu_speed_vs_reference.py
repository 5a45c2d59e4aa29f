"""fairness's throughput and latency against a plain reference loop, on one GPU.

For each model (bfloat16 autocast, batch 256, channels_last for the convnets,
cudnn.benchmark on), in one run and three repeats, alternating the two:
  - fairness: `fairness.measure(..., speed=RunSettings(...))`: throughput at
    batch 256 (median over blocks, CUDA events) and latency at batch 1
    (per-call CUDA events; median, p99, n);
  - reference: the loop of timm's benchmark.py (10 warm-up steps, 40 timed
    steps, host clock with a synchronize after every step; samples/s = steps x
    batch / elapsed), and its batch-1 latency as the median of 200 such steps.
Prints both side by side, their ratio, and fairness's spread over the repeats
((max - min) / median). Exits non-zero if fairness is more than 3% from the
reference or spreads over 1% between repeats.

    python benchmarks/gpu_speed_vs_reference.py          # needs a CUDA device
"""

import statistics
import sys
import time
import warnings

import timm
import torch

import fairness
from fairness.runner import RunSettings

warnings.filterwarnings("ignore")

MODELS = [  # (timm name, channels_last)
    ("resnet50", True),
    ("vit_base_patch16_224", False),
    ("convnext_tiny", True),
    ("efficientnet_b0", True),
    ("swin_tiny_patch4_window7_224", False),
]
BATCH = 256
REPEATS = 3
AGREE = 0.03
SPREAD = 0.01


def reference(name: str, channels_last: bool, batch: int, warm: int = 10, steps: int = 40) -> list[float]:
    """timm benchmark.py's InferenceBenchmarkRunner, reduced to its timing: per-step times."""
    model = timm.create_model(name, pretrained=False).cuda().eval()
    x = torch.randn(batch, 3, 224, 224, device="cuda")
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    def step():
        t0 = time.perf_counter()
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            model(x)
        torch.cuda.synchronize()
        return time.perf_counter() - t0

    for _ in range(warm):
        step()
    start = time.perf_counter()
    times = [step() for _ in range(steps)]
    total = time.perf_counter() - start
    model = x = None  # free before emptying the cache
    torch.cuda.empty_cache()
    return [total] + times


def main() -> int:
    torch.backends.cudnn.benchmark = True
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, timm {timm.__version__}, "
          f"bfloat16 autocast, throughput at batch {BATCH}, latency at batch 1\n")
    fair_tp = {n: [] for n, _ in MODELS}
    ref_tp = {n: [] for n, _ in MODELS}
    fair_lat = {n: [] for n, _ in MODELS}
    ref_lat = {n: [] for n, _ in MODELS}
    for rep in range(REPEATS):
        for name, cl in MODELS:
            settings = RunSettings(device="cuda", dtype="bfloat16", channels_last=cl, batch_sizes=(BATCH,),
                                   min_duration_s=3.0, idle=False, energy=False)
            rec = fairness.measure(f"timm:{name}", fvcore=False, speed=settings)
            tp, lat = rec.speed.throughput, rec.speed.latency
            fair_tp[name].append(tp["samples_per_s"])
            fair_lat[name].append(lat)
            torch.cuda.empty_cache()
            run = reference(name, cl, BATCH)
            ref_tp[name].append(BATCH * (len(run) - 1) / run[0])
            lat1 = reference(name, cl, 1, warm=20, steps=200)[1:]
            ref_lat[name].append((statistics.median(lat1), lat1))
            print(f"repeat {rep + 1}: {name}: fairness {tp['samples_per_s']:.1f}/s (n={tp['n']} blocks), "
                  f"reference {ref_tp[name][-1]:.1f}/s", flush=True)

    ok = True
    print(f"\nthroughput at batch {BATCH} (samples/s), median of {REPEATS} repeats")
    print(f"{'model':<30} {'fairness':>10} {'reference':>10} {'ratio':>7} {'fairness spread':>16} {'ref spread':>11}")
    for name, _ in MODELS:
        f, r = statistics.median(fair_tp[name]), statistics.median(ref_tp[name])
        fs = (max(fair_tp[name]) - min(fair_tp[name])) / f
        rs = (max(ref_tp[name]) - min(ref_tp[name])) / r
        flag = "" if abs(f / r - 1) <= AGREE and fs <= SPREAD else "  <-- outside 3% / 1%"
        ok &= not flag
        print(f"{name:<30} {f:>10.1f} {r:>10.1f} {f / r:>7.3f} {fs:>15.2%} {rs:>10.2%}{flag}")

    print("\nlatency at batch 1 (ms), last repeat: fairness median / p90 / p99 (n) | reference median of 200 steps")
    for name, _ in MODELS:
        lat = fair_lat[name][-1]
        med_spread = (max(x["median_s"] for x in fair_lat[name]) - min(x["median_s"] for x in fair_lat[name])) \
            / statistics.median(x["median_s"] for x in fair_lat[name])
        print(f"{name:<30} {lat['median_s'] * 1e3:7.3f} / {lat['p90_s'] * 1e3:7.3f} / {lat['p99_s'] * 1e3:7.3f} "
              f"(n={lat['n']}{'' if lat['p99_reliable'] else ', few'}) | {ref_lat[name][-1][0] * 1e3:7.3f}"
              f"   median spread over repeats {med_spread:.2%}")
    print("\nall within 3% of the reference, spread under 1%" if ok else "\nSOME MODELS OUTSIDE THE BOUNDS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
