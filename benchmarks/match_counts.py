"""Parameter and FLOP matching on a 2-core CPU: how close each strategy gets and how long it takes.

vit_base_patch16_224 matched to vit_small_patch16_224, and resnet50 to resnet18, on
unique parameters and on FLOPs (2 x MACs + other), every strategy. Requirement
(issue 4): each strategy within 1% or at the closest lattice point, each target
(all strategies) in under 10 s. Prints one row per strategy and the time per target.

    python benchmarks/match_counts.py
"""

import platform
import time

import torch

from fairness.indicators.env import cpu_name
from fairness.matching import count_indicator, load_baseline, match_counts
from fairness.sources import InputSpec

PAIRS = [("timm:vit_base_patch16_224", "timm:vit_small_patch16_224"), ("timm:resnet50", "timm:resnet18")]


def main():
    torch.set_num_threads(2)
    print(f"machine: {cpu_name()}, {len(__import__('os').sched_getaffinity(0))} CPUs, Python "
          f"{platform.python_version()}, torch {torch.__version__}\n")
    print(f"{'baseline -> target':<48} {'indicator':<7} {'strategy':<9} {'knobs':<48} {'error':>8}  "
          f"{'cand.':>5}  status")
    slowest = 0.0
    for base, ref in PAIRS:
        for indicator in ("params", "flops"):
            r = load_baseline(ref, {}, InputSpec())
            target = count_indicator(r, r.values, indicator)
            t0 = time.perf_counter()
            b = load_baseline(base, {}, InputSpec())
            variants = match_counts(b, indicator, target, ["width", "depth", "compound", "input"])
            took = time.perf_counter() - t0
            slowest = max(slowest, took)
            for v in variants:
                name = f"{base.split(':')[1]} -> {ref.split(':')[1]}"
                if "skipped" in v:
                    print(f"{name:<48} {indicator:<7} {v['strategy']:<9} {'-':<48} {'':>8}  {'':>5}  {v['skipped']}")
                    continue
                m = v["match"]
                knobs = " ".join(f"{k}={val}" for k, val in v["values"].items())
                status = "within 1%" if m["within_tolerance"] else m["reason"]
                print(f"{name:<48} {indicator:<7} {v['strategy']:<9} {knobs:<48} {m['rel_error']:>+8.2%}  "
                      f"{m['candidates']:>5}  {status}")
            print(f"{'':<48} target {target:.5g}: all strategies in {took:.1f} s\n")
    print(f"slowest target: {slowest:.1f} s")


if __name__ == "__main__":
    main()
