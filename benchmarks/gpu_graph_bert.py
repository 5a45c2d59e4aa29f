"""Why BERT's and ALBERT's CUDA graph replays read half their eager throughput (issue 32, item 6).

In the gallery (H100, bf16 native, batch 256, 128 tokens) ALBERT reads 11,604 samples/s eager and
5,902 replayed; BERT-base 19,170 and 7,376. ViT-B/16, DeiT-S, T5 and GPT-2 replay as fast as
eager or faster. This script takes fairness out of it: a plain eager loop and a plain loop of
graph replays of the same model, with each scaled-dot-product-attention backend forced in turn,
and the attention ops that eager and capture dispatch to (read by the CPU-side profiler, so no
CUPTI is attached to the GPU timings).

    python benchmarks/gpu_graph_bert.py        # needs a CUDA device; about 1 minute
"""

import contextlib
import time
import warnings

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from transformers import AutoConfig, AutoModel

warnings.filterwarnings("ignore")
BATCH, SEQ = 256, 128
BACKENDS = {"default": None, "flash": SDPBackend.FLASH_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION,
            "cudnn": SDPBackend.CUDNN_ATTENTION, "math": SDPBackend.MATH}


def loop(fn, seconds=1.0):
    """Samples/s of `fn` over about `seconds`, after a warm-up; median of 5 blocks."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    calls = max(1, int(seconds / 5 / (time.perf_counter() - t0)))
    rates = []
    for _ in range(5):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        torch.cuda.synchronize()
        rates.append(BATCH * calls / (time.perf_counter() - t0))
    return sorted(rates)[2]


def attention_ops(fn):
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()
    names = {e.name for e in prof.events() if "attention" in e.name or "sdpa" in e.name.lower()
             or e.name.startswith("aten::baddbmm") or e.name.startswith("aten::bmm")}
    return ", ".join(sorted(names)) or "-"


def main():
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, "
          f"transformers {__import__('transformers').__version__}; bf16 weights, batch {BATCH}, {SEQ} tokens\n")
    print(f"{'model':<8} {'sdpa backend':<10} {'eager /s':>9} {'graph /s':>9} {'graph/eager':>11}  ops eager | ops at capture")
    for name in ("bert", "albert"):
        cfg = AutoConfig.for_model(name) if name == "bert" else AutoConfig.for_model(
            "albert", hidden_size=768, num_attention_heads=12, intermediate_size=3072)
        model = AutoModel.from_config(cfg).cuda().to(torch.bfloat16).eval()
        ids = torch.randint(0, cfg.vocab_size, (BATCH, SEQ), device="cuda")
        for label, backend in BACKENDS.items():
            try:
                with torch.inference_mode(), (sdpa_kernel(backend) if backend is not None else contextlib.nullcontext()):
                    def eager():
                        return model(input_ids=ids)
                    eager_rate = loop(eager)
                    eager_ops = attention_ops(eager)
                    graph = torch.cuda.CUDAGraph()
                    stream = torch.cuda.Stream()
                    stream.wait_stream(torch.cuda.current_stream())
                    with torch.cuda.stream(stream):
                        for _ in range(3):
                            model(input_ids=ids)
                    torch.cuda.current_stream().wait_stream(stream)
                    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
                        with torch.cuda.graph(graph):
                            model(input_ids=ids)
                    capture_ops = ", ".join(sorted({e.name for e in prof.events() if "attention" in e.name
                                                    or e.name.startswith("aten::bmm") or e.name.startswith("aten::baddbmm")})) or "-"
                    graph_rate = loop(graph.replay)
                print(f"{name:<8} {label:<10} {eager_rate:>9,.0f} {graph_rate:>9,.0f} {graph_rate / eager_rate:>10.3f}x  "
                      f"{eager_ops} | {capture_ops}", flush=True)
            except Exception as e:  # a backend this shape or card cannot run: say so, go on
                print(f"{name:<8} {label:<10} failed: {str(e).splitlines()[0][:120]}", flush=True)
        model = graph = None  # free the card for the next model
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
