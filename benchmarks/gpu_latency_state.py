"""What moves a model's batch-1 replay latency within one process (issue 27).

gpu_latency_reference.py found a plain replay loop 5-18% slower after fairness's run than before
it, in the same process at the same 1980 MHz SM clock, and fairness's numbers beside the later
pass. This script repeats the same plain loop (one forward pass captured in a CUDA graph, bfloat16,
cuDNN autotuning on; the median of 300 replays, each between two CUDA events) after each of:
  fresh       the first GPU work of the process;
  again       nothing: the same loop straight after;
  heat        45 s of bfloat16 matmuls at full load (the GPU hot, as after a batch-256 phase);
  idle        20 s of nothing;
  resident    every model of the list kept on the GPU with its graph, as fairness keeps them;
  emptied     those freed and torch.cuda.empty_cache();
  big         60 GB more held in 1 GB tensors;
  reserved    those freed but kept by the caching allocator (no empty_cache);
  scattered   22 GB in 40,000 tensors of 64 KB-1 MB, every other one then freed;
  neighbour   a batch-64 ResNet-50 graph held (as gpu_latency_reference.py holds it), the rest freed;
  profiled    a torch.profiler window (CUDA activities: CUPTI) over a ResNet-50, as an idle share opens;
  profiled+20s, profiled+loop   20 s later, and one more loop later;
and prints each stage's latencies over the fresh ones, with the GPU temperature and SM clock.

    python benchmarks/gpu_latency_state.py     # needs a CUDA device; about 3 minutes on an H100
    python benchmarks/gpu_latency_state.py --profiler    # fresh and the profiled stages only
    TEARDOWN_CUPTI=1 python benchmarks/gpu_latency_state.py --profiler    # Kineto finalizes CUPTI
"""

import gc
import os
import statistics
import sys
import time
import warnings

import timm
import torch
from torch.profiler import ProfilerActivity, profile

from fairness.indicators.gpu_state import StateLog

from plain_loop import capture  # benchmarks/plain_loop.py: the reference loop's capture

warnings.filterwarnings("ignore")

MODELS = [  # (timm name, label, channels_last as fairness chooses it)
    ("mobilenetv3_large_100", "MobileNetV3-L", True),
    ("efficientnet_b0", "EfficientNet-B0", True),
    ("resnet18", "ResNet-18", True),
    ("deit_small_patch16_224", "DeiT-S", False),
    ("resnet50", "ResNet-50", True),
    ("swin_tiny_patch4_window7_224", "Swin-T", False),
]


def build(name: str, channels_last: bool):
    model = timm.create_model(name, pretrained=False).cuda().eval().to(torch.bfloat16)
    x = torch.randn(1, 3, 224, 224, device="cuda", dtype=torch.bfloat16)
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    return build_graph(model, x)


def build_graph(model, x):
    graph = capture(model, x)
    graph.keep = (model, x)
    return graph


def b1(graph) -> float:
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(20):
        graph.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(300):
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def loop(graphs: dict | None = None) -> dict:
    """Each model's median batch-1 replay (ms): built afresh and freed, or from `graphs`."""
    out = {}
    for name, label, cl in MODELS:
        graph = graphs[label] if graphs else build(name, cl)
        out[label] = b1(graph)
        if not graphs:
            del graph
            gc.collect()
            torch.cuda.empty_cache()
    return out


def heat(seconds: float) -> None:
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(20):
            a @ a
        torch.cuda.synchronize()


def profile_once() -> None:
    """torch.profiler with CUDA activities (through CUPTI) over ten ResNet-50 forward passes at
    batch 1, as fairness's device idle share profiled them before it set TEARDOWN_CUPTI=1 itself
    (Kineto reads the variable as this process was given it)."""
    model = timm.create_model("resnet50", pretrained=False).cuda().eval().to(torch.bfloat16)
    x = torch.randn(1, 3, 224, 224, device="cuda", dtype=torch.bfloat16)

    def step():
        with torch.no_grad():
            return model(x)

    step()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]):
        for _ in range(10):
            step()
        torch.cuda.synchronize()


def main() -> None:
    torch.backends.cudnn.benchmark = True  # as fairness sets it (apply_settings)
    log = StateLog.for_device(torch.device("cuda"))
    nvml, handle = log.nvml, log.handle
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, timm {timm.__version__}, "
          f"TEARDOWN_CUPTI={os.environ.get('TEARDOWN_CUPTI', '(unset)')}\n")
    stages = {}

    def stage(name: str, fn=None, graphs=None):
        if fn:
            fn()
        temp = nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)
        stages[name] = (loop(graphs), temp, nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM))
        print(f"  {name} done", flush=True)

    stage("fresh")
    if "--profiler" not in sys.argv:
        other_stages(stage)
    stage("profiled", profile_once)
    stage("profiled+20s", lambda: time.sleep(20))
    stage("profiled+loop")
    report(stages)


def other_stages(stage) -> None:
    stage("again")
    stage("heat", lambda: heat(45))
    stage("idle", lambda: time.sleep(20))
    resident = {label: build(name, cl) for name, label, cl in MODELS}
    stage("resident", graphs=resident)
    del resident
    gc.collect()
    stage("emptied", torch.cuda.empty_cache)
    big = [torch.ones(2 ** 29, device="cuda", dtype=torch.bfloat16) for _ in range(60)]
    stage("big")
    del big
    stage("reserved")
    torch.cuda.empty_cache()
    sizes = [2 ** 16 * (1 + i % 16) for i in range(40_000)]
    small = [torch.ones(n // 2, device="cuda", dtype=torch.bfloat16) for n in sizes]
    del small[::2]
    stage("scattered")
    del small
    torch.cuda.empty_cache()
    model = timm.create_model("resnet50", pretrained=False).cuda().eval().to(torch.bfloat16)
    neighbour = build_graph(model, torch.randn(64, 3, 224, 224, device="cuda", dtype=torch.bfloat16))
    stage("neighbour")
    del neighbour, model


def report(stages: dict) -> None:
    fresh = stages["fresh"][0]
    print("\nbatch-1 replay latency: fresh in ms, every later stage over fresh")
    print(f"{'model':<16} {'fresh ms':>9} " + " ".join(f"{s:>9}" for s in stages if s != "fresh"))
    for _, label, _ in MODELS:
        print(f"{label:<16} {fresh[label]:>9.3f} " + " ".join(f"{v[0][label] / fresh[label]:>9.3f}"
                                                          for s, v in stages.items() if s != "fresh"))
    print(f"{'GPU temp, C':<16} " + " ".join(f"{v[1]:>9}" for v in stages.values()))
    print(f"{'SM clock, MHz':<16} " + " ".join(f"{v[2]:>9}" for v in stages.values()))


if __name__ == "__main__":
    main()
