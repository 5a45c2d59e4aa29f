"""Matching every built-in family on a 2-core CPU: how close each strategy gets and how long a
target takes.

Twelve families and nine models of the generic timm family, each at its library's default
size, matched to half and to double its own unique parameters and FLOPs (2 x MACs + other),
with every strategy of its family, counted on meta. Requirement (issue 15): within 1% where the strategy can reach the target, each target
(all strategies) in under 10 s. A cell is the relative error of the variant found; "oor" a
target out of the strategy's reach (no variant is given), "-" a strategy that does not apply
(the input for parameters; a family without the knob); "nr" a target the strategy's lattice
does not reach within 1% (its closest point is listed under the table); "failed" a candidate
the model cannot be built at. A model without a family prints the reason.

    python benchmarks/match_families.py            # every family
    python benchmarks/match_families.py timm:regnetx_002
"""

import os
import platform
import sys
import time

import torch

from fairness.families import NoFamily
from fairness.indicators.env import cpu_name
from fairness.matching import STRATEGIES, count_indicator, default_strategies, load_baseline, match_counts, unreachable
from fairness.sources import InputSpec

FAMILIES = [
    "timm:vit_base_patch16_224", "timm:resnet50", "timm:convnext_tiny", "timm:swin_tiny_patch4_window7_224",
    "timm:efficientnet_b0", "timm:mobilenetv3_large_100", "timm:regnetx_002", "timm:mixer_b16_224",
    "torchvision:resnet50", "hf:bert", "hf:gpt2", "hf:t5",
    # the generic timm family (issue 31, item 10): the smallest of each architecture
    "timm:eva02_tiny_patch14_224", "timm:hiera_tiny_224", "timm:maxvit_tiny_tf_224", "timm:fastvit_t8",
    "timm:efficientvit_b0", "timm:efficientvit_m0", "timm:coatnet_0_rw_224", "timm:mambaout_femto", "timm:levit_128",
    # issue 31's decoders and the configs it found failing, at their libraries' default sizes: GQA
    # (Llama, Mistral, Qwen2, Gemma), MoE (Mixtral, Qwen2-MoE), DeBERTa-v2, RegNetY-4GF
    "hf:llama", "hf:mistral", "hf:qwen2", "hf:gemma", "hf:mixtral", "hf:qwen2_moe", "hf:deberta-v2",
    "timm:regnety_040",
]
# Models of the configs without a family: the row prints the reason family_for gives.
NO_FAMILY = ["torchvision:swin_t", "hf:clip", "hf:whisper", "hf:mamba"]
COLUMNS = list(STRATEGIES)


def cell(v) -> str:
    """The relative error; "oor" out of the strategy's reach; "nr" not reachable within 1%, the
    closest point's error listed below the table; "failed" a candidate the model cannot build."""
    if "values" not in v:
        return "-" if "skipped" in v else "failed"
    m = v["match"]
    if unreachable(m["indicator"], m):
        return "oor" if m.get("reason", "").startswith("out of reach") else "nr"
    return f"{m['rel_error']:+.2%}"


def main(sources):
    torch.set_num_threads(2)
    print(f"machine: {cpu_name()}, {len(os.sched_getaffinity(0))} CPUs, Python {platform.python_version()}, "
          f"torch {torch.__version__}\n")
    print(f"{'baseline':<36} {'target':<12} " + " ".join(f"{c:>9}" for c in COLUMNS) + f"  {'seconds':>7}")
    slowest, worst, misses, failures = 0.0, 0.0, [], []
    for source in sources:
        try:
            b = load_baseline(source, {}, InputSpec())
        except NoFamily as e:
            print(f"{source:<36} no family: {e.message.split(': no family for ', 1)[-1].split('; declare')[0]}")
            continue
        for indicator in ("params", "flops"):
            base = count_indicator(b, b.values, indicator)
            for factor in (0.5, 2.0):
                t0 = time.perf_counter()
                found = {v["strategy"]: v for v in match_counts(b, indicator, base * factor, default_strategies(b.family))}
                took = time.perf_counter() - t0
                slowest = max(slowest, took)
                cells = [cell(found[c]) if c in found else "-" for c in COLUMNS]
                for c in COLUMNS:
                    m = found.get(c, {}).get("match")
                    if m and m["within_tolerance"]:
                        worst = max(worst, abs(m["rel_error"]))
                    elif m and not m.get("reason", "").startswith("out of reach"):
                        misses.append(f"{source} {indicator} x{factor:g} {c}: {m['rel_error']:+.2%}")
                    elif "failed" in found.get(c, {}):
                        failures.append(f"{source} {indicator} x{factor:g} {c}: {found[c]['failed'][:160]}")
                print(f"{source:<36} {indicator + ' x' + format(factor, 'g'):<12} "
                      + " ".join(f"{x:>9}" for x in cells) + f"  {took:>7.1f}", flush=True)
    print(f"\nslowest target (all strategies): {slowest:.1f} s; largest error within 1%: {worst:.2%}")
    print("not reachable within 1% (nr; the closest point found): " + ("; ".join(misses) if misses else "none"))
    print("failed (a candidate the model cannot build): " + ("; ".join(failures) if failures else "none"))


if __name__ == "__main__":
    main(sys.argv[1:] or FAMILIES + NO_FAMILY)
