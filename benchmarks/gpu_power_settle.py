"""How a model's batch-256 throughput moves while it runs alone, and while it alternates with another
model in blocks of fairness's length (issue 29: ViT-B/16's throughput reads 3.6-4.0% above a plain
loop's).

For each model (bf16 weights, channels_last for the convnet, one forward pass captured in a CUDA
graph), after 2 s of idle:
  - alone: replays back to back for SECONDS, each between two CUDA events, with the SM clock, board
    power and throttle reasons read from NVML after each replay; printed in bins of BIN_S, so the
    settling of the clocks under the power cap shows as the throughput of each bin;
  - alternating: blocks of about 50 ms (fairness's BLOCK_S) of this model and of the other model in
    turn, for the same time; the throughput of this model's blocks, as fairness's interleaved
    throughput phase sees it.
Prints per-bin tables and, per model, the first bin, the last second and the alternating rate.

`--switch` (issue 27: fairness times each power-capped model alone after SUSTAIN_SETTLE_S of its
own, and a 12-ViT comparison spends 22 s on it): two power-hungry models back to back, as
runner._sustain runs them. After 2 s of idle, ViT-B/16 alone for SECONDS (the board reaches its
cap), then at once ViT-L/16 alone for SECONDS: ViT-L/16's bins from the switch, against its own
bins from idle. Where its first bin after the switch already reads its settled rate, a model that
follows another capped one needs no settle of its own.

    python benchmarks/gpu_power_settle.py            # needs a CUDA device; about a minute
    python benchmarks/gpu_power_settle.py --switch   # about 30 s
"""

import functools
import operator
import statistics
import sys
import time
import warnings

import pynvml
import timm
import torch

from plain_loop import capture  # benchmarks/plain_loop.py: the reference loop's capture

warnings.filterwarnings("ignore")

MODELS = [("vit_base_patch16_224", "ViT-B/16", False), ("resnet50", "ResNet-50", True)]
BATCH, SECONDS, BIN_S, BLOCK_S = 256, 4.0, 0.25, 0.05
# nvidia-ml-py renamed the throttle reasons to clock event reasons; either name answers the same bits.
REASONS = getattr(pynvml, "nvmlDeviceGetCurrentClocksEventReasons",
                  getattr(pynvml, "nvmlDeviceGetCurrentClocksThrottleReasons", None))


def captured(name: str, channels_last: bool):
    model = timm.create_model(name, pretrained=False).cuda().eval().to(torch.bfloat16)
    x = torch.randn(BATCH, 3, 224, 224, device="cuda", dtype=torch.bfloat16)
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    graph = capture(model, x)
    graph.replay()
    torch.cuda.synchronize()
    return model, x, graph


def timed(graph, calls: int) -> float:
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(calls):
        graph.replay()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1e3


def alone(graph, handle) -> list[dict]:
    rows, t0 = [], time.perf_counter()
    while time.perf_counter() - t0 < SECONDS:
        s = timed(graph, 1)
        rows.append({"t": time.perf_counter() - t0, "s": s,
                     "clock": pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_SM),
                     "power": pynvml.nvmlDeviceGetPowerUsage(handle) / 1e3,
                     "reasons": REASONS(handle)})
    return rows


def binned(rows: list[dict]) -> list[tuple]:
    out = []
    edge = 0.0
    while edge < SECONDS:
        part = [r for r in rows if edge <= r["t"] < edge + BIN_S]
        if part:
            out.append((edge, BATCH * len(part) / sum(r["s"] for r in part),
                        statistics.median(r["clock"] for r in part), statistics.median(r["power"] for r in part),
                        hex(functools.reduce(operator.or_, (r["reasons"] for r in part)))))
        edge += BIN_S
    return out


def _table(title: str, rows: list[dict]) -> list[tuple]:
    bins = binned(rows)
    print(f"\n{title}")
    print(f"{'from s':>7} {'samples/s':>10} {'SM MHz':>7} {'power W':>8} reasons")
    for edge, rate, clock, power, why in bins:
        print(f"{edge:7.2f} {rate:10,.0f} {clock:7.0f} {power:8.0f} {why}")
    return bins


def switch(handle) -> int:
    """ViT-B/16 to the cap, then ViT-L/16 at once; ViT-L/16 from idle for comparison."""
    # each graph replays its model's own tensors: the models and inputs are kept alive with it
    first = captured("vit_base_patch16_224", False)
    second = captured("vit_large_patch16_224", False)
    time.sleep(2.0)
    from_idle = _table("ViT-L/16 alone from idle", alone(second[2], handle))
    time.sleep(2.0)
    alone(first[2], handle)  # the board at its cap
    after = _table("ViT-L/16 alone right after ViT-B/16 alone", alone(second[2], handle))
    settled = statistics.median(rate for _, rate, *_ in from_idle[-4:])
    print(f"\nViT-L/16 settled (last second from idle) {settled:,.0f} samples/s; after the switch, per bin / settled:")
    print("  " + " ".join(f"{edge:.2f}s {rate / settled:.3f}" for edge, rate, *_ in after[:8]))
    return 0


def main() -> int:
    pynvml.nvmlInit()
    handle = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
    print(torch.cuda.get_device_name(), "power limit",
          pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1e3, "W, max SM clock",
          pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_SM), "MHz")
    torch.backends.cudnn.benchmark = True
    if "--switch" in sys.argv[1:]:
        return switch(handle)
    graphs = {label: captured(name, cl) for name, label, cl in MODELS}
    per_call = {label: timed(g[2], 10) / 10 for label, g in graphs.items()}
    summary = []
    for label, (_, _, graph) in graphs.items():
        other = next(g[2] for lab, g in graphs.items() if lab != label)
        time.sleep(2.0)
        rows = alone(graph, handle)
        bins = _table(f"{label} alone, batch {BATCH}, {len(rows)} replays of {per_call[label] * 1e3:.1f} ms", rows)
        last = [r for r in rows if r["t"] >= SECONDS - 1.0]
        last_rate = BATCH * len(last) / sum(r["s"] for r in last)
        time.sleep(2.0)
        mine = max(1, round(BLOCK_S / per_call[label]))
        theirs = max(1, round(BLOCK_S / per_call[next(lab for lab in graphs if lab != label)]))
        spent, t0 = [], time.perf_counter()
        while time.perf_counter() - t0 < SECONDS:
            spent.append(timed(graph, mine))
            timed(other, theirs)
        alt_rate = BATCH * mine * len(spent) / sum(spent)
        summary.append((label, bins[0][1], last_rate, alt_rate))
    print(f"\n{'model':<10} {'first bin /s':>12} {'last 1 s /s':>12} {'alternating /s':>15} {'alt / last s':>13}")
    for label, first, last_rate, alt_rate in summary:
        print(f"{label:<10} {first:12,.0f} {last_rate:12,.0f} {alt_rate:15,.0f} {alt_rate / last_rate:13.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
