"""fairness's CUDA-graph speeds against a plain replay loop of each model alone (issues 27, 29).

Ten timm models whose bfloat16 weights span 3 MB to 396 MB (under and over the H200's 50 MB L2):
  - plain loop, before: each model alone, cast with `.to(torch.bfloat16)` (channels_last where
    fairness puts it), one forward pass captured in a CUDA graph; batch-1 latency is the median of
    300 replays each between two CUDA events, throughput at batch 256 the median of 5 blocks of
    back-to-back replays (about 0.25 s each) between two CUDA events;
  - fairness: `measure_models` of all ten together (interleaved), with the defaults a user gets on
    CUDA (native bfloat16, CUDA graph replays beside eager), batch 1 and 256;
  - plain loop, after: the same loop again, so that a drift of the machine over the run shows;
    cuDNN autotuning is on for both passes, as fairness sets it (apply_settings).
The loop's reference is the mean of its two passes. Each row gives fairness's graph number over
that reference (1.000: the same), the two passes' spread, and the median SM clock NVML read in
fairness's window and in the loop's (MHz).

    python benchmarks/gpu_latency_reference.py     # needs a CUDA device; about 5 minutes on an H200
Run it twice (two processes) to see what moves between processes.
"""

import statistics
import sys
import warnings

import timm
import torch

from fairness.indicators.gpu_state import StateLog
from fairness.indicators.speed import StepTimer
from fairness.measure import Target, measure_models
from fairness.runner import RunSettings, channels_last_for

from plain_loop import capture  # benchmarks/plain_loop.py: the reference loop's capture

warnings.filterwarnings("ignore")

MODELS = [  # (timm name, label)
    ("mobilenetv3_small_050", "MobileNetV3-S-0.5"),
    ("mobilenetv3_large_100", "MobileNetV3-L"),
    ("efficientnet_b0", "EfficientNet-B0"),
    ("resnet18", "ResNet-18"),
    ("deit_small_patch16_224", "DeiT-S"),
    ("resnet50", "ResNet-50"),
    ("convnext_tiny", "ConvNeXt-T"),
    ("swin_tiny_patch4_window7_224", "Swin-T"),
    ("vit_base_patch16_224", "ViT-B/16"),
    ("convnext_large", "ConvNeXt-L"),
]
BATCH = 256
AGREE = 0.03
BLOCK_S = 0.25


def _graph(model, x):
    graph = capture(model, x)
    for _ in range(20):
        graph.replay()
    torch.cuda.synchronize()
    return graph


def plain_loop(name: str, channels_last: bool, log: StateLog | None, neighbour=None) -> dict:
    """{"b1": latency s, "tp": samples/s at BATCH, "clock": median SM MHz} for the model alone."""
    model = timm.create_model(name, pretrained=False).cuda().eval().to(torch.bfloat16)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    out = {}
    for batch in (1, BATCH):
        x = torch.randn(batch, 3, 224, 224, device="cuda", dtype=torch.bfloat16)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        graph = _graph(model, x)
        if batch == 1:
            times = []
            for i in range(300):
                start.record()
                graph.replay()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end) / 1e3)
                if log and i % 50 == 49:
                    log.sample()
            out["b1"] = statistics.median(times)
            # fairness's own timer (StepTimer.singles: CUDA events around each call) on the same
            # graph, alone: separates the timing code from the interleaving
            out["b1_timer"] = statistics.median(StepTimer(graph.replay, "cuda").singles(300))
            if neighbour is not None:  # as fairness times it: chunks of 10 after one untimed call,
                times = []             # another model's replay between chunks
                for _ in range(30):
                    neighbour.replay()
                    graph.replay()
                    torch.cuda.synchronize()
                    for _ in range(10):
                        start.record()
                        graph.replay()
                        end.record()
                        end.synchronize()
                        times.append(start.elapsed_time(end) / 1e3)
                out["b1_chunked"] = statistics.median(times)
        else:
            start.record()
            graph.replay()
            end.record()
            end.synchronize()
            calls = max(1, round(BLOCK_S / (start.elapsed_time(end) / 1e3)))
            rates = []
            for _ in range(5):
                start.record()
                for _ in range(calls):
                    graph.replay()
                end.record()
                end.synchronize()
                rates.append(calls * BATCH / (start.elapsed_time(end) / 1e3))
                if log:
                    log.sample()
            out["tp"] = statistics.median(rates)
        del graph
    del model
    torch.cuda.empty_cache()
    return out


def neighbour_graph():
    """A batch-64 ResNet-50 replay (over 50 MB of weights and activations: more than the L2)."""
    model = timm.create_model("resnet50", pretrained=False).cuda().eval().to(torch.bfloat16)
    x = torch.randn(64, 3, 224, 224, device="cuda", dtype=torch.bfloat16)
    graph = _graph(model, x)
    graph.keep = (model, x)
    return graph


def loop_pass(layout: dict, neighbour=None) -> dict:
    out = {}
    for name, label in MODELS:
        log = StateLog.for_device(torch.device("cuda"))
        out[label] = plain_loop(name, layout[label], log, neighbour)
        s = log.summary() if log else None
        out[label]["clock"] = s["sm_clock_mhz"]["median"] if s else None
    return out


def fairness_run() -> dict:
    settings = RunSettings(device="cuda", dtype="bfloat16", channels_last="auto", batch_sizes=(1, BATCH))
    res = measure_models([Target(f"timm:{name}", name=label) for name, label in MODELS], speed=settings,
                         fvcore=False)
    out = {}
    for (_, label), m in zip(MODELS, res["models"]):
        sp = m.speed
        graph = {r["batch_size"]: r.get("cuda_graph") or {} for r in sp.runs}
        out[label] = {"b1": graph[1]["latency"]["median_s"], "tp": graph[BATCH]["throughput"]["samples_per_s"],
                      "clock": ((graph[BATCH].get("gpu_state") or {}).get("sm_clock_mhz") or {}).get("median"),
                      "throttled": sorted({r for g in graph.values() for r in (g.get("gpu_state") or {}).get("throttled")
                                           or []}),
                      "mb": m.memory["param_bytes"] / 1e6}  # in bfloat16: bytes follow the dtype run
    return out


def main() -> int:
    # the process-wide switches fairness sets (apply_settings), set for the loop before it runs too:
    # cuDNN's autotuning changes the convolutions' kernels, and so the convnets' times
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, timm {timm.__version__}, "
          f"bfloat16 native, CUDA graph replays\n", flush=True)
    # the layout fairness chooses (channels_last for convnets) is read off a count-only run first
    layout = {label: channels_last_for("auto", m) for (_, label), m in
              zip(MODELS, measure_models([Target(f"timm:{n}", name=label) for n, label in MODELS],
                                         fvcore=False)["models"])}
    before = loop_pass(layout)
    ours = fairness_run()
    after = loop_pass(layout, neighbour_graph())
    print(f"{'model':<18} {'MB':>5} {'b1 ms':>7} {'loop ms':>8} {'ratio':>6} {'spread':>6}   {'tp/s':>8} "
          f"{'loop tp/s':>9} {'ratio':>6} {'spread':>6}   {'MHz':>5} {'loop MHz':>8}  throttled")
    bad = 0
    for _, label in MODELS:
        o, p, q = ours[label], before[label], after[label]
        ref_b1, ref_tp = (p["b1"] + q["b1"]) / 2, (p["tp"] + q["tp"]) / 2
        r_b1, r_tp = o["b1"] / ref_b1, o["tp"] / ref_tp
        s_b1, s_tp = abs(p["b1"] - q["b1"]) / ref_b1, abs(p["tp"] - q["tp"]) / ref_tp
        bad += abs(r_b1 - 1) > AGREE or abs(r_tp - 1) > AGREE
        clocks = f"{o['clock'] or 0:>5.0f} {p['clock'] or 0:>4.0f}/{q['clock'] or 0:<4.0f}"
        print(f"{label:<18} {o['mb']:>5.0f} {o['b1'] * 1e3:>7.3f} {ref_b1 * 1e3:>8.3f} {r_b1:>6.3f} {s_b1:>6.1%}   "
              f"{o['tp']:>8,.0f} {ref_tp:>9,.0f} {r_tp:>6.3f} {s_tp:>6.1%}   {clocks}  {', '.join(o['throttled']) or '-'}")
    print("\nbatch-1 latency, ms: the plain loop before and after fairness's run; fairness's timer on the loop's graph "
          "(after); the loop chunked between another model's replays (after)")
    print(f"{'model':<18} {'loop before':>11} {'after':>8} {'timer':>8} {'chunked':>8} {'fairness':>9}")
    for _, label in MODELS:
        p, q = before[label], after[label]
        print(f"{label:<18} {p['b1'] * 1e3:>11.3f} {q['b1'] * 1e3:>8.3f} {q['b1_timer'] * 1e3:>8.3f} "
              f"{q['b1_chunked'] * 1e3:>8.3f} {ours[label]['b1'] * 1e3:>9.3f}")
    print(f"\n{bad} of {len(MODELS)} models outside {AGREE:.0%} of the plain loop on batch-1 latency or throughput")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
