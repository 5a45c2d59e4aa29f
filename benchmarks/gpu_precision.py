"""Precision as deployed (issue 29): native bfloat16 weights against autocast, on one GPU.

For seven ImageNet models (channels_last for the convnets, cudnn.benchmark on):
  - fairness, native: `measure_models` of all seven together (interleaved), bfloat16 with
    native precision (the default), CUDA graph replays beside eager, batch 1 and 256;
  - fairness, autocast: the same with `precision="autocast"` (float32 weights, torch.autocast);
  - plain loop, first (before any other GPU work): each model alone, cast with `.to(torch.bfloat16)`, one forward pass captured in
    a CUDA graph and replayed: throughput at batch 256 from 50 back-to-back replays between two
    CUDA events (median of 5 such blocks), batch-1 latency as the median of 300 replays each
    between two CUDA events.
Prints fairness's native graph throughput and batch-1 latency beside the plain loop's (and their
ratio: within 3% is the target), then the native / autocast table, and each model's relative
error of the native output against float32 (the record's precision.rel_error_vs_float32).
*interleaved*: the graph throughput before a power-limited model's rate alone replaced it
(runner._sustain), with its ratio to the loop; *alone*: whether that happened ("applied"), the
rate alone was within 1% ("within 1%"), or the window showed no power limit ("-").

    python benchmarks/gpu_precision.py          # needs a CUDA device; about 6 minutes on an H200
"""

import statistics
import sys
import warnings

import timm
import torch

from fairness.measure import Target, measure_models
from fairness.runner import RunSettings

from plain_loop import capture  # benchmarks/plain_loop.py: the reference loop's capture

warnings.filterwarnings("ignore")

MODELS = [  # (timm name, label, channels_last)
    ("resnet50", "ResNet-50", True),
    ("efficientnet_b0", "EfficientNet-B0", True),
    ("mobilenetv3_large_100", "MobileNetV3-L", True),
    ("vit_base_patch16_224", "ViT-B/16", False),
    ("deit_small_patch16_224", "DeiT-S", False),
    ("swin_tiny_patch4_window7_224", "Swin-T", False),
    ("convnext_tiny", "ConvNeXt-T", True),
]
BATCH = 256
AGREE = 0.03


def plain_loop(name: str, channels_last: bool) -> tuple[float, float]:
    """(samples/s at BATCH, batch-1 latency in s): graph replays of the model cast to bfloat16."""
    model = timm.create_model(name, pretrained=False).cuda().eval().to(torch.bfloat16)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    out = []
    for batch in (BATCH, 1):
        x = torch.randn(batch, 3, 224, 224, device="cuda", dtype=torch.bfloat16)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        graph = capture(model, x)
        for _ in range(20):
            graph.replay()
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        if batch == BATCH:
            rates = []
            for _ in range(5):
                start.record()
                for _ in range(50):
                    graph.replay()
                end.record()
                end.synchronize()
                rates.append(50 * BATCH / (start.elapsed_time(end) / 1e3))
            out.append(statistics.median(rates))
        else:
            times = []
            for _ in range(300):
                start.record()
                graph.replay()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end) / 1e3)
            out.append(statistics.median(times))
        del graph
    del model
    torch.cuda.empty_cache()
    return out[0], out[1]


def measured(precision: str | None) -> dict:
    settings = RunSettings(device="cuda", dtype="bfloat16", precision=precision, channels_last="auto",
                           cuda_graphs=True, batch_sizes=(1, BATCH))
    res = measure_models([Target(f"timm:{name}") for name, _, _ in MODELS], speed=settings, fvcore=False)
    out = {}
    for (name, label, _), m in zip(MODELS, res["models"]):
        sp = m.speed
        graph = sp.cuda_graph or {}
        tp = graph.get("throughput") or {}
        out[label] = {"graph_tp": tp.get("samples_per_s"),
                      # before a power-limited model's rate alone replaced it (runner._sustain)
                      "graph_interleaved": (tp.get("sustained") or {}).get("interleaved_samples_per_s",
                                                                            tp.get("samples_per_s")),
                      "sustained": "applied" if (tp.get("sustained") or {}).get("applied") else
                                   "within 1%" if "samples_per_s" in (tp.get("sustained") or {}) else "-",
                      "graph_lat": (graph.get("latency") or {}).get("median_s"),
                      "eager_tp": (sp.throughput or {}).get("samples_per_s"),
                      "peak": (m.memory or {}).get("peak_bytes"),
                      "precision": sp.precision or {}}
    return out


def main() -> int:
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, timm {timm.__version__}, "
          f"bfloat16, batch {BATCH} and 1, CUDA graph replays\n", flush=True)
    # The plain loop first, as the first GPU work of the process: the clean reference, which no
    # earlier profiler window or other model's run can touch (gpu_latency_reference.py).
    plain = {label: plain_loop(name, cl) for name, label, cl in MODELS}
    native = measured(None)
    autocast = measured("autocast")
    print(f"{'model':<16} {'fairness tp/s':>13} {'loop tp/s':>10} {'ratio':>6}   {'fairness b1 ms':>14} "
          f"{'loop b1 ms':>10} {'ratio':>6}   {'interleaved':>11} {'ratio':>6} {'alone':>9}")
    bad = 0
    for _, label, _ in MODELS:
        n, (ptp, plat) = native[label], plain[label]
        r_tp, r_lat = n["graph_tp"] / ptp, n["graph_lat"] / plat
        bad += abs(r_tp - 1) > AGREE or abs(r_lat - 1) > AGREE
        print(f"{label:<16} {n['graph_tp']:>13,.0f} {ptp:>10,.0f} {r_tp:>6.3f}   {n['graph_lat'] * 1e3:>14.3f} "
              f"{plat * 1e3:>10.3f} {r_lat:>6.3f}   {n['graph_interleaved']:>11,.0f} "
              f"{n['graph_interleaved'] / ptp:>6.3f} {n['sustained']:>9}")
    print(f"\n{'model':<16} {'native/autocast tp':>18} {'autocast/native b1':>18} {'native/autocast peak':>20} "
          f"{'rel. error':>10}")
    for _, label, _ in MODELS:
        n, a = native[label], autocast[label]
        print(f"{label:<16} {n['graph_tp'] / a['graph_tp']:>18.3f} {a['graph_lat'] / n['graph_lat']:>18.3f} "
              f"{n['peak'] / a['peak']:>20.3f} {n['precision'].get('rel_error_vs_float32', float('nan')):>10.2e}")
    dn = native["DeiT-S"]["graph_tp"] / native["ResNet-50"]["graph_tp"]
    da = autocast["DeiT-S"]["graph_tp"] / autocast["ResNet-50"]["graph_tp"]
    print(f"\nDeiT-S over ResNet-50, graph throughput at batch {BATCH}: {dn:.2f}x native, {da:.2f}x autocast")
    print(f"{bad} of {len(MODELS)} models outside {AGREE:.0%} of the plain loop on throughput or latency")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
