"""Why the GQA Mistral decodes at half the MHA one's tokens/s in graph replays (issue 26).

The gallery's mistral-gqa-vs-mha-generation (H100, bf16, batch 64, prompt 512, 128 new tokens)
reads 13,665 decode tokens/s for 4 key-value heads against 27,581 for 16, a static cache replayed
in a CUDA graph; eagerly the two are even (0.96x). GQA reads a quarter of the KV cache, so the
gap is the implementation's. This script takes the compare out of it: fairness's own static-cache
decode (prefill, capture, replays) of both models with each scaled-dot-product-attention backend
forced in turn, with transformers' enable_gqa forced (TRANSFORMERS_SDPA_FORCE_GQA=1, read by 5.25),
with transformers 5.25's packed single-query decode registered as an attention function (for a
transformers that lacks it: the GPU machine has 5.17), and the attention ops one eager decode step
dispatches to (read by the CPU-side profiler).

    python benchmarks/gpu_gqa_decode.py        # needs a CUDA device; about 1 minute
"""

import os
import statistics
import warnings

import torch
import transformers
from torch.nn.attention import SDPBackend, sdpa_kernel
from transformers import AutoConfig, AutoModelForCausalLM

from fairness.indicators.generate import STATIC, STATIC_GRAPH, _one_run

warnings.filterwarnings("ignore")
BATCH, PROMPT, STEPS = 64, 512, 32
CONFIG = dict(hidden_size=1024, intermediate_size=2816, num_hidden_layers=12, num_attention_heads=16,
              vocab_size=32000, max_position_embeddings=4096, sliding_window=None)
BACKENDS = {"default": None, "efficient": SDPBackend.EFFICIENT_ATTENTION, "math": SDPBackend.MATH,
            "cudnn": SDPBackend.CUDNN_ATTENTION, "flash": SDPBackend.FLASH_ATTENTION}


def packed_sdpa(module, query, key, value, attention_mask, **kwargs):
    """transformers 5.25's decode path for GQA (integrations/sdpa_attention.py, pack_gqa), for a
    transformers without it: a single query token's heads packed into the key-value heads, so SDPA
    reads the cache as it is instead of repeat_kv's copy of it. Anything else: the library's sdpa."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    groups = getattr(module, "num_key_value_groups", 1)
    if groups == 1 or query.shape[2] != 1:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    b, heads, _, dim = query.shape
    q = query.reshape(b, heads // groups, groups, dim)
    mask = attention_mask if attention_mask is None or attention_mask.shape[1] == 1 else \
        attention_mask.reshape(b, heads // groups, groups, -1)
    out = torch.nn.functional.scaled_dot_product_attention(q, key, value, attn_mask=mask,
                                                           scale=kwargs.get("scaling"))
    return out.reshape(b, heads, 1, dim).transpose(1, 2).contiguous(), None


def register_packed():
    """packed_sdpa as an attention implementation, with sdpa's masks (a name transformers does not
    know gets no mask of sdpa's kind)."""
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import sdpa_mask

    AttentionInterface.register("packed_sdpa", packed_sdpa)
    AttentionMaskInterface.register("packed_sdpa", sdpa_mask)


def model_of(kv_heads, attention="sdpa"):
    config = AutoConfig.for_model("mistral", num_key_value_heads=kv_heads, **CONFIG)
    config._attn_implementation = attention
    return AutoModelForCausalLM.from_config(config).to("cuda", torch.bfloat16).eval()


def tokens_per_s(model, ids, backend, force_gqa=False):
    """Decode tokens/s of the replayed static-cache step: median of STEPS steps, second run."""
    os.environ["TRANSFORMERS_SDPA_FORCE_GQA"] = "1" if force_gqa else "0"
    try:
        with sdpa_kernel(backend) if backend is not None else torch.no_grad(), torch.no_grad():
            _one_run(model, ids, 4, "cuda", STATIC_GRAPH)  # warm: kernels chosen
            _, times, _ = _one_run(model, ids, STEPS, "cuda", STATIC_GRAPH)
        return f"{ids.shape[0] / statistics.median(times):>10,.0f}"
    except Exception as e:  # a backend that cannot take this call says so
        return f"{'fails':>10} ({type(e).__name__}: {str(e).splitlines()[0][:60]})"
    finally:
        os.environ["TRANSFORMERS_SDPA_FORCE_GQA"] = "0"


def attention_ops(model, ids):
    """The aten ops of one eager static-cache decode step whose names say attention, repeat or expand."""
    with torch.no_grad():
        _one_run(model, ids, 1, "cuda", STATIC)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            _one_run(model, ids, 1, "cuda", STATIC)
    names = {e.key: e.count for e in prof.key_averages()
             if any(w in e.key for w in ("attention", "repeat", "expand", "clone", "contiguous"))}
    return ", ".join(f"{k} x{v}" for k, v in sorted(names.items()))


def main():
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, transformers {transformers.__version__}")
    print(f"bf16, batch {BATCH}, prompt {PROMPT}, static cache, decode step replayed in a CUDA graph, tokens/s\n")
    models = {kv: model_of(kv) for kv in (4, 16)}
    ids = torch.randint(0, 32000, (BATCH, PROMPT), device="cuda")
    print(f"{'SDPA backend':<22} {'GQA 4 kv':>10} {'MHA 16 kv':>10}")
    for name, backend in BACKENDS.items():
        print(f"{name:<22} {tokens_per_s(models[4], ids, backend)} {tokens_per_s(models[16], ids, backend)}", flush=True)
    print(f"{'default, enable_gqa':<22} {tokens_per_s(models[4], ids, None, force_gqa=True)}", flush=True)
    register_packed()
    packed = model_of(4, "packed_sdpa")
    packed.load_state_dict(models[4].state_dict())
    print(f"{'packed query (5.25)':<22} {tokens_per_s(packed, ids, None)}", flush=True)
    del packed
    one = ids[:1]
    print(f"{'default, batch 1':<22} {tokens_per_s(models[4], one, None)} {tokens_per_s(models[16], one, None)}\n")
    for kv, model in models.items():
        print(f"ops of one eager decode step, {kv} kv heads: {attention_ops(model, ids)}")


if __name__ == "__main__":
    main()
