"""How long a comparison takes, against the floor of its timed windows.

Runs the paper's four comparisons and DeiT-S vs ResNet-50 with `fairness compare` on the
GPU (bfloat16, batch 1 and 256, graph replays beside eager, every strategy, every model in
one interleaved group): examples/paper/vit_patch.yaml, depth_vs_width.yaml,
efficientnet_vs_resnet.yaml, deit_vs_resnet50.yaml and examples/albert_vs_bert.yaml (timed
here). Prints each one's wall time, also per model timed (a comparison's models grow with
its curve and its matched variants), the sum of its timed windows (the interleaved timing
phases: what a comparison cannot do without), their ratio, how many models' batch-1
latency is NOISY (IQR over 10% of the median), the verdict and the findings. Target
(issue 27): at most 90 s each on an H200, matching on params, FLOPs and throughput.

    python benchmarks/gpu_compare_wall.py                  # needs a CUDA device; the config's match
    python benchmarks/gpu_compare_wall.py --match params,flops,throughput vit_patch deit_vs_resnet50
    python benchmarks/gpu_compare_wall.py --breakdown vit_patch   # where one comparison's time goes
    python benchmarks/gpu_compare_wall.py --breakdown vit_patch --match params,flops,throughput
"""

import argparse
import re
import statistics
import time
from collections import defaultdict
import warnings
from pathlib import Path

import torch

from fairness.compare import compare_config
from fairness.indicators.speed import KNOWN_WITHIN, median_ci95

warnings.filterwarnings("ignore")

ROOT = Path(__file__).resolve().parent.parent / "examples"
CASES = {"vit_patch": ROOT / "paper" / "vit_patch.yaml", "depth_vs_width": ROOT / "paper" / "depth_vs_width.yaml",
         "efficientnet_vs_resnet": ROOT / "paper" / "efficientnet_vs_resnet.yaml",
         "deit_vs_resnet50": ROOT / "paper" / "deit_vs_resnet50.yaml",
         "albert_vs_bert": ROOT / "albert_vs_bert.yaml"}
SETTINGS = {"speed": True, "dtype": "bfloat16", "batch": [1, 256]}


def windows(res: dict) -> float:
    """The timed windows of the group: each phase's once (every model of a phase shares it)."""
    first = next(m for m in res["models"] if not m.failed)
    total = 0.0
    for r in first.speed.runs:
        for part in (r, r.get("train") or {}, r.get("cuda_graph") or {}):
            total += part.get("timed_window_s", 0.0)
    return total


class Stages:
    """Wall time between progress messages, summed by the kind of step (model names removed)."""

    def __init__(self):
        self.last, self.kind, self.spent = time.perf_counter(), "start", defaultdict(float)

    def __call__(self, message: str) -> None:
        now = time.perf_counter()
        self.spent[self.kind] += now - self.last
        self.last = now
        # "timm:resnet50@256: device idle share (torch.profiler)" -> "@N: device idle share"
        # "(CUDA graph)" names the phase: kept, where other parentheses are details
        text = re.sub(r"\S+:\S+|\S*@\d+", "", message.replace("(CUDA graph)", "CUDA graph").split("(")[0])
        self.kind = re.sub(r"\d[\d.e+-]*", "N", " ".join(text.split()))[:70]

    def report(self) -> None:
        self("end")
        total = sum(self.spent.values())
        print(f"\n{'step':<72} {'s':>7} {'share':>6}")
        for kind, s in sorted(self.spent.items(), key=lambda kv: -kv[1])[:20]:
            print(f"{kind:<72} {s:7.1f} {s / total:6.1%}")


def phases(res: dict) -> None:
    """Per timed phase and batch size: its window, and how many models' medians were known within
    KNOWN_WITHIN (the rule by which a model leaves the phase, runner._time_interleaved), with the
    least settled one and its rounds. A model not known ran to its own ceiling of --min-time."""
    models = [m for m in res["models"] if not m.failed and m.speed is not None]
    by_batch: dict[int, list[tuple[str, dict]]] = defaultdict(list)
    for m in models:
        for r in m.speed.runs:
            by_batch[r["batch_size"]].append((m.name, r))
    print(f"\n{'phase':<28} {'batch':>5} {'window s':>8} {'rounds':>6} {'known':>7}  least settled: median CI half-width")
    for b in sorted(by_batch):
        for label, part in (("eager", lambda r: r), ("CUDA graph", lambda r: r.get("cuda_graph") or {})):
            recs = [(n, part(r)) for n, r in by_batch[b] if part(r).get("rounds")]
            if not recs:
                continue
            for quantity in ("throughput", "latency"):
                widths = []
                for n, rec in recs:
                    times = [t for rnd in rec["rounds"].get(quantity, []) for t in rnd]
                    if times:
                        lo, hi = median_ci95(times)
                        widths.append(((hi - lo) / 2 / statistics.median(times), n, len(rec["rounds"][quantity])))
                if not widths:
                    continue
                worst = max(widths)
                known = sum(w <= KNOWN_WITHIN for w, _, _ in widths)
                window = recs[0][1].get("timed_window_s", 0.0)  # throughput and latency share one window
                shown = f"{window:8.1f}" if quantity == "throughput" else f"{'same':>8}"
                print(f"{label + ' ' + quantity:<28} {b:>5} {shown} "
                      f"{worst[2]:>6} {known:>3}/{len(widths):<3}  {worst[1]}: {worst[0]:.2%}")


def breakdown(name: str, match: list[str] | None) -> None:
    stages = Stages()
    t0 = time.perf_counter()
    res = compare_config(str(CASES[name]), device="cuda", overrides=SETTINGS, match=match, progress=stages)
    print(f"{name}: {time.perf_counter() - t0:.1f} s wall")
    stages.report()
    phases(res)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="*", metavar="CASE",
                        help="comparisons to run (default: all)")
    parser.add_argument("--match", help="indicators to match, comma-separated (default: each config's)")
    parser.add_argument("--breakdown", choices=list(CASES), help="where one comparison's time goes")
    args = parser.parse_args()
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        parser.error(f"unknown comparison {', '.join(unknown)}; expected one of {', '.join(CASES)}")
    match = args.match.split(",") if args.match else None
    if args.breakdown:
        return breakdown(args.breakdown, match)
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, bfloat16, batch 1 and 256, "
          f"match: {args.match or 'as each config says'}\n")
    print(f"{'comparison':<24} {'models':>6} {'noisy':>5} {'wall s':>7} {'s/model':>7} {'windows s':>9} {'wall/windows':>12}  verdict: findings")
    for name in args.cases or CASES:
        t0 = time.perf_counter()
        res = compare_config(str(CASES[name]), device="cuda", overrides=SETTINGS, match=match)
        wall = time.perf_counter() - t0
        floor = windows(res)
        timed = sum(1 for m in res["models"] if not m.failed)
        noisy = sum(1 for m in res["models"] if m.speed is not None and (m.speed.latency or {}).get("noisy"))
        findings = ", ".join(f["id"] + ("" if f["scope"] == "principal" else " (variants)")
                             for f in res["judgement"]["findings"])
        print(f"{name:<24} {timed:>6} {noisy:>5} {wall:7.1f} {wall / max(timed, 1):7.1f} {floor:9.1f} {wall / floor:12.2f}  "
              f"{res['verdict']}: {findings}")
        for line in res["judgement"]["summary"]:
            print(f"    {line}")


if __name__ == "__main__":
    main()
