"""The gallery: the paper's comparisons measured on the GPU, written to reports/NAME/.

Runs `fairness compare` on each config (bfloat16, batch 1 and 256 (64 for the seq2seq
pair and the decoders generating text), match as each config says, every strategy, --cuda-graphs beside eager) and writes
results.json and every rendered format into OUT/NAME/. Prints each one's wall time and its
NOISY count: models whose headline latency is noisy (an eager host-bound latency with a
steady graph replay beside it does not count, as in the noisy-timing rule).

    python benchmarks/gpu_gallery.py [OUT [NAME ...]]   # needs a CUDA device; OUT defaults to reports/;
                                                         # NAME: only the configs whose file names hold one
"""

import sys
import time
import warnings
from pathlib import Path

import torch

from fairness import results as results_mod
from fairness.compare import compare_config, load_config, safe_name
from fairness.flags import view
from fairness.render.report import render

warnings.filterwarnings("ignore")

ROOT = Path(__file__).resolve().parent.parent / "examples"
CASES = [ROOT / "paper" / "vit_patch.yaml", ROOT / "paper" / "depth_vs_width.yaml",
         ROOT / "paper" / "efficientnet_vs_resnet.yaml", ROOT / "albert_vs_bert.yaml",
         ROOT / "paper" / "switch_vs_t5.yaml", ROOT / "paper" / "convnext_vs_swin.yaml",
         ROOT / "paper" / "deit_vs_resnet50.yaml", ROOT / "paper" / "mobilenetv3_vs_resnet18.yaml",
         # issue 26: decoders generating text (prompt 512, 128 new tokens), matched at equal decode tokens/s too
         ROOT / "generation" / "llama_vs_gpt2.yaml", ROOT / "generation" / "mistral_gqa_vs_mha.yaml",
         ROOT / "generation" / "mixtral_vs_dense.yaml"]
SETTINGS = {"speed": True, "dtype": "bfloat16", "batch": [1, 256], "cuda_graphs": True}


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("reports")
    only = sys.argv[2:]  # parts of config file names: only those configs
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, bfloat16, --cuda-graphs\n")
    print(f"{'comparison':<34} {'models':>6} {'noisy':>5} {'wall s':>7}  verdict")
    for path in CASES:
        if only and not any(o in path.name for o in only):
            continue
        settings = dict(SETTINGS)
        if "switch" in path.name or path.parent.name == "generation":
            settings["batch"] = [1, 64]  # encoder and decoder at 128 tokens each; decoders at 512 + 128
        t0 = time.perf_counter()
        res = results_mod.as_written(compare_config(str(path), device="cuda", overrides=settings))
        wall = time.perf_counter() - t0
        name = load_config(str(path))["name"]
        res["comparison"]["name"] = name
        folder = out / safe_name(name)
        results_mod.write(res, folder / "results.json")
        render(res, folder)
        timed = [m for m in res["models"] if not m.failed]
        noisy = sum(1 for m in timed if view(m)["noisy"])
        print(f"{name:<34} {len(timed):>6} {noisy:>5} {wall:7.1f}  {res['verdict']}", flush=True)


if __name__ == "__main__":
    main()
