"""Speed matching on one GPU: how many measured candidates it takes to get within 3%.

resnet50 matched to resnet18's throughput, and vit_base_patch16_224 to
vit_small_patch16_224's, at batch 256 in bfloat16 autocast, every strategy.
Requirement (issue 4): within 3% in at most 6 measured candidates. Prints, per
strategy, the candidates measured, the knobs chosen and the error, beside the
target's own noise (the target re-measured).

    python benchmarks/gpu_speed_match.py          # needs a CUDA device
"""

import time
import warnings

import torch

from fairness.matching import match_variants, speed_of
from fairness.runner import RunSettings, apply_settings, check_settings
from fairness.sources import InputSpec

warnings.filterwarnings("ignore")
PAIRS = [("timm:resnet50", "timm:resnet18"), ("timm:vit_base_patch16_224", "timm:vit_small_patch16_224")]
BATCH = 256


def main():
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, bfloat16, throughput at batch {BATCH}\n")
    settings = check_settings(RunSettings(device="cuda", dtype="bfloat16", batch_sizes=(BATCH,), idle=False,
                                          energy=False))
    apply_settings(settings)
    for base, ref in PAIRS:
        t0 = time.perf_counter()
        res = match_variants(base, {}, InputSpec(), indicator="throughput", target=None, match_to=ref,
                             device="cuda", batch_size=BATCH, dtype="bfloat16", min_time=1.0)
        took = time.perf_counter() - t0
        again = [speed_of(ref, None, InputSpec(), "throughput", settings, BATCH)[0] for _ in range(2)]
        target = res["matching"]["target"]
        noise = max(abs(a / target - 1) for a in again)
        print(f"{base} -> {ref}: target {target:,.0f} samples/s (re-measured: "
              f"{', '.join(f'{a:,.0f}' for a in again)}; {noise:.1%} from the first)")
        for m in res["models"]:
            if m.role != "variant":
                continue
            mt = m.match
            knobs = " ".join(f"{k}={v}" for k, v in m.knobs.items())
            print(f"  {mt['strategy']:<9} {knobs:<62} {mt['achieved']:>9,.0f}/s {mt['rel_error']:>+7.2%}  "
                  f"{mt['candidates']} candidates  {'within 3%' if mt['within_tolerance'] else mt.get('reason')}"
                  f"  noise {mt['noise']:.1%}{' NOISY' if mt.get('noisy') else ''}")
        print(f"  ({took:.0f} s for all strategies)\n")


if __name__ == "__main__":
    main()
