"""Fifty timm models counted on meta, as `fairness zoo --no-speed` counts them (issue 16: under
5 minutes on the 2-core CPU).

The fifty are the 24 of examples/zoo/imagenet24.yaml and 26 more across timm's families, each at
its default configuration; no weights are downloaded (models are built on meta). Quality is not
needed to count: the zoo is built without it. Prints one row per model (parameters, GMACs, the
seconds its count took) and the wall time of the whole zoo, with the machine.

    python benchmarks/count_zoo50.py                  # the local executor, one model at a time
    python benchmarks/count_zoo50.py --executor ray   # counting tasks in parallel over the CPUs
"""

import os
import platform
import sys
import tempfile
import time

import torch
import yaml

from fairness.indicators.env import cpu_name
from fairness.zoo import run_zoo

EXTRA = [
    "resnet26", "resnet50d", "seresnet50", "resnext101_32x8d", "wide_resnet101_2", "densenet169", "inception_v3",
    "efficientnet_b2", "efficientnet_b3", "efficientnetv2_rw_s", "mobilenetv3_small_100", "mnasnet_100",
    "ghostnet_100", "lcnet_100", "regnetx_032", "regnety_080", "convnext_base", "convnextv2_tiny",
    "swin_base_patch4_window7_224", "vit_large_patch16_224", "deit_base_distilled_patch16_224", "beit_base_patch16_224",
    "levit_128", "poolformer_s12", "coat_lite_tiny", "xcit_tiny_12_p16_224",
]


def main() -> None:
    executor = sys.argv[sys.argv.index("--executor") + 1] if "--executor" in sys.argv else "local"
    here = os.path.dirname(os.path.abspath(__file__))
    base = yaml.safe_load(open(os.path.join(here, "..", "examples", "zoo", "imagenet24.yaml")))
    models = [{"name": m["name"], "source": m["source"]} for m in base["models"]]
    models += [{"name": n, "source": f"timm:{n}"} for n in EXTRA]
    assert len(models) == 50, len(models)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "zoo50.yaml")
        yaml.safe_dump({"name": "timm-50", "models": models}, open(path, "w"))
        start = time.perf_counter()
        res = run_zoo(path, no_speed=True, executor=executor)
        wall = time.perf_counter() - start
    print("| model | params (M) | GMACs | count (s) |\n|---|---:|---:|---:|")
    for m in res["models"]:
        if m.failed:
            print(f"| {m.name} | failed: {m.failed[:80]} | | |")
            continue
        seconds = m.seconds_to_measure if m.seconds_to_measure is not None else float("nan")
        print(f"| {m.name} | {m.params['total'] / 1e6:.2f} | {m.flops['macs'] / 1e9:.2f} | {seconds:.1f} |")
    failed = sum(1 for m in res["models"] if m.failed)
    print(f"\n50 models ({failed} failed) counted on meta in {wall:.0f} s with the {executor} executor; "
          f"{cpu_name()}, {os.cpu_count()} CPUs, torch {torch.__version__}, Python {platform.python_version()}")


if __name__ == "__main__":
    main()
