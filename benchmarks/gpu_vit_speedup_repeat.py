"""Is the speed-up of ViT-B/32 over ViT-B/16 at batch 256 stable across processes?

Issue 14 saw it read 2.07x in one compare and 2.79-2.82x in three others the same day.
Each run is a separate process that times the models together, interleaved (bfloat16,
batch 256, 1 s per quantity, as compare does, with --cuda-graphs), and prints ViT-B/32's
paired throughput speed-up over ViT-B/16 with its 95% CI, eager and replayed from a CUDA
graph, ViT-B/32's GPU idle share at batch 256 and its eager batch-1 latency (how fast this
process's host launches kernels), and the GPU's SM clock, temperature, power and clock-event
reasons read from NVML right after. "pair": the two models alone; "group":
with the variants the vit_patch comparison times beside them (ViT-B/16 at depth 3 and at
112 px), as compare does.

    python benchmarks/gpu_vit_speedup_repeat.py [N]      # needs a CUDA device
"""

import json
import subprocess
import sys

CHILD = r"""
import json, sys, warnings
warnings.filterwarnings("ignore")
from fairness.measure import Target, measure_models
from fairness.runner import RunSettings
group = sys.argv[1] == "group"
targets = [Target("timm:vit_base_patch32_224", name="B/32"), Target("timm:vit_base_patch16_224", name="B/16")]
if group:
    from fairness.sources import InputSpec
    targets += [Target("timm:vit_base_patch16_224", kwargs={"depth": 3}, name="B/16 d3"),
                Target("timm:vit_base_patch16_224", kwargs={"img_size": 112}, name="B/16 112px",
                       spec=InputSpec(image_size=(112, 112)))]
from fairness.runner import apply_settings, check_settings
s = check_settings(RunSettings(device="cuda", dtype="bfloat16", batch_sizes=(256,), channels_last="auto",
                               cuda_graphs=True))
apply_settings(s)
res = measure_models(targets, speed=s, fvcore=False, references=2)
at256 = {m.name: m.speed.runs[-1] for m in res["models"]}
def up(impl):
    r = next(r for r in res["speed_ratios"] if r["model"] == "B/16" and r["reference"] == "B/32"
             and r["indicator"] == "throughput" and r["batch_size"] == 256 and r["implementation"] == impl)
    return 1 / r["speedup"], [1 / r["ci95"][1], 1 / r["ci95"][0]]
b32 = next(m for m in res["models"] if m.name == "B/32").speed
print(json.dumps({"tp": {k: r["throughput"]["samples_per_s"] for k, r in at256.items()},
                  "idle": at256["B/32"].get("idle_share"), "b1_ms": 1e3 * b32.runs[0]["latency"]["median_s"],
                  "eager": up("eager"), "graph": up("cuda_graph")}))
"""


def nvml() -> str:
    try:
        import pynvml

        pynvml.nvmlInit()
        h = pynvml.nvmlDeviceGetHandleByIndex(0)
        sm = pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM)
        temp = pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU)
        watts = pynvml.nvmlDeviceGetPowerUsage(h) / 1000
        reasons = pynvml.nvmlDeviceGetCurrentClocksEventReasons(h)
        return f"SM {sm} MHz, {temp} C, {watts:.0f} W, reasons 0x{reasons:x}"
    except Exception as e:  # NVML is a nice-to-have here
        return f"NVML unavailable ({type(e).__name__})"


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    print(f"{'run':>3} {'group':>5} {'B/32 img/s':>10} {'B/16 img/s':>10} {'B/32 idle':>9} {'B/32 b1 ms':>10} "
          f"{'eager speed-up [95% CI]':>25} {'graph speed-up [95% CI]':>25}  GPU after")
    for i in range(2 * n):
        kind = "pair" if i % 2 == 0 else "group"
        out = subprocess.run([sys.executable, "-c", CHILD, kind], check=True, capture_output=True, text=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        e, g = r["eager"], r["graph"]
        print(f"{i + 1:>3} {kind:>5} {r['tp']['B/32']:10.0f} {r['tp']['B/16']:10.0f} {r['idle'] or 0:9.1%} "
              f"{r['b1_ms']:10.2f} {e[0]:8.3f} [{e[1][0]:.3f}, {e[1][1]:.3f}] {g[0]:8.3f} [{g[1][0]:.3f}, {g[1][1]:.3f}]"
              f"  {nvml()}", flush=True)


if __name__ == "__main__":
    main()
