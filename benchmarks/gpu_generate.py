"""fairness's generation numbers against a plain `generate` loop (issue 26).

For GPT-2 124M and a Llama-style 124M (12 layers of 768, 12 query heads, 4 KV heads), bfloat16
weights, a 512-token prompt and 128 new tokens, at batch 1 and 64: fairness's time to first token
and decode tokens/s (indicators/generate.py, dynamic cache, greedy, medians of 3 runs) beside
transformers' own `model.generate` with the same cache: TTFT as generate(max_new_tokens=1), the
decode as generate(128) minus that, tokens/s = batch x 127 / the decode time (medians of 3). Target:
decode tokens/s within 5% of generate's.

    python benchmarks/gpu_generate.py          # needs a CUDA device and transformers
"""

import statistics
import time
import warnings

import torch

from fairness.indicators.env import peak_bandwidth
from fairness.indicators.generate import GenerateSpec, time_generation

warnings.filterwarnings("ignore")
PROMPT, NEW, RUNS = 512, 128, 3
MODELS = {
    "GPT-2 124M": ("gpt2", {}),
    "Llama-124M (GQA 4)": ("llama", dict(hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
                                         num_attention_heads=12, num_key_value_heads=4, vocab_size=50257,
                                         max_position_embeddings=1024)),
}


def _generate_s(model, ids, new: int) -> float:
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    model.generate(ids, max_new_tokens=new, min_new_tokens=new, do_sample=False, pad_token_id=0)
    torch.cuda.synchronize()
    return time.perf_counter() - t0


def main():
    import transformers

    dev = "cuda"
    name = torch.cuda.get_device_name()
    print(f"device: {name}, torch {torch.__version__}, transformers {transformers.__version__}, bfloat16, "
          f"prompt {PROMPT}, {NEW} new tokens, greedy, dynamic cache\n")
    print(f"{'model':<20} {'batch':>5} {'TTFT ms':>8} {'gen TTFT':>8} {'decode tok/s':>12} {'generate tok/s':>14} "
          f"{'ratio':>6} {'floor/TPOT':>10}")
    for label, (kind, kw) in MODELS.items():
        config = transformers.AutoConfig.for_model(kind, **kw)
        model = transformers.AutoModelForCausalLM.from_config(config).to(dev, torch.bfloat16).eval()
        weights = sum(p.numel() * p.element_size() for p in model.parameters())
        for batch in (1, 64):
            r = time_generation(model, GenerateSpec(PROMPT, NEW), batch, dev, torch.bfloat16, config.vocab_size,
                                weights, peak_bandwidth(name))
            ids = torch.randint(0, config.vocab_size, (batch, PROMPT), device=dev)
            with torch.inference_mode():
                _generate_s(model, ids[:, :8], 4)  # warm-up
                first = statistics.median(_generate_s(model, ids, 1) for _ in range(RUNS))
                whole = statistics.median(_generate_s(model, ids, NEW) for _ in range(RUNS))
            ref = batch * (NEW - 1) / (whole - first)
            share = f"{r['floor_share']:.1%}" if r.get("floor_share") is not None else "n/a"
            print(f"{label:<20} {batch:>5} {r['ttft_s'] * 1e3:8.2f} {first * 1e3:8.2f} {r['decode_tokens_per_s']:12.1f} "
                  f"{ref:14.1f} {r['decode_tokens_per_s'] / ref:6.3f} {share:>10}", flush=True)
        del model
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
