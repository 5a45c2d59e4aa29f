"""Counts must not depend on the device or the attention backend.

Counts each model on meta, on CPU and on CUDA, and on CUDA once per
scaled-dot-product-attention backend (flash, memory-efficient, cuDNN, math),
and prints one row per run. Every row of a model must hold the same numbers;
the script exits non-zero if one differs.

    python benchmarks/gpu_count_invariance.py       # needs a CUDA device
"""

import sys
import warnings

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

import fairness
from fairness import sources

warnings.filterwarnings("ignore")

MODELS = [
    ("timm:vit_base_patch16_224", {}, {}),
    ("timm:resnet50", {}, {}),
    ("hf:bert", {}, {"seq_len": 128}),
    # GQA (8 query heads, 2 key/value heads) with a causal mask, in half precision on CUDA
    ("hf:llama", dict(hidden_size=512, intermediate_size=1024, num_hidden_layers=2, num_attention_heads=8,
                      num_key_value_heads=2, vocab_size=1000), {"seq_len": 256}),
]
BACKENDS = {"flash": SDPBackend.FLASH_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION,
            "cudnn": SDPBackend.CUDNN_ATTENTION, "math": SDPBackend.MATH}
KEYS = ("macs", "flops", "attention", "bytes_moved", "activations", "applied", "coverage")


def counts(source, kwargs, inputs, device, dtype=torch.float32):
    src = sources.parse_source(source, kwargs)
    model = sources.build(src, device).to(dtype)
    ins = sources.make_inputs(model, src, sources.InputSpec(seq_len=inputs.get("seq_len")), 2, device)
    ins.args = tuple(a.to(dtype) if a.is_floating_point() else a for a in ins.args)
    ins.kwargs = {k: a.to(dtype) if a.is_floating_point() else a for k, a in ins.kwargs.items()}
    r = fairness.measure(model, ins, fvcore=False)
    f = r.flops
    return {"macs": f["macs"], "flops": f["flops"], "attention": f["attention"]["macs_effective"],
            "bytes_moved": r.memory["bytes_moved"], "activations": r.activations,
            "applied": r.params["applied"], "coverage": f["coverage"], "by_op": f["by_op"]}


def main():
    if not torch.cuda.is_available():
        sys.exit("needs a CUDA device")
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    print("counts per example, batch of 2; 'same' compares with the meta run in the same dtype\n")
    print(f"{'model':<26} {'run':<20} {'MACs':>16} {'FLOPs':>16} {'attn eff. MACs':>15} "
          f"{'bytes moved':>14} {'activations':>12}  same")
    failures = 0
    for source, kwargs, inputs in MODELS:
        for dtype in (torch.float32, torch.float16):
            tag = str(dtype).replace("torch.", "")
            reference = counts(source, kwargs, inputs, "meta", dtype)
            runs = {f"meta {tag}": reference, f"cuda {tag} default": counts(source, kwargs, inputs, "cuda", dtype)}
            if dtype == torch.float32:
                runs[f"cpu {tag}"] = counts(source, kwargs, inputs, "cpu", dtype)
            for name, backend in BACKENDS.items():
                try:
                    with sdpa_kernel(backend):
                        runs[f"cuda {tag} {name}"] = counts(source, kwargs, inputs, "cuda", dtype)
                except fairness.FairnessError as e:  # e.g. flash attention has no float32 kernel
                    runs[f"cuda {tag} {name}"] = f"backend refused: {str(e).splitlines()[0][:60]}"
            for run, c in runs.items():
                if isinstance(c, str):
                    print(f"{source:<26} {run:<20} {c}")
                    continue
                same = all(c[k] == reference[k] for k in KEYS)
                failures += not same
                print(f"{source:<26} {run:<20} {c['macs']:>16,} {c['flops']:>16,} {c['attention']:>15,} "
                      f"{c['bytes_moved']:>14,.0f} {c['activations']:>12,}  {'yes' if same else 'NO'}")
                if not same:  # say which ops differ
                    for op in sorted(set(c["by_op"]) | set(reference["by_op"])):
                        if c["by_op"].get(op) != reference["by_op"].get(op):
                            print(f"    {op}: {c['by_op'].get(op)} on this run, {reference['by_op'].get(op)} on meta")
    print(f"\n{failures} run(s) differ from meta")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
