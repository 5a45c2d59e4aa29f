"""fairness's generation numbers against a plain `generate` loop (issue 26).

For GPT-2 124M and a Llama-style 124M (12 layers of 768, 12 query heads, 4 KV heads), bfloat16
weights, a 512-token prompt and 128 new tokens, at batch 1 and 64, in each implementation fairness
times (indicators/generate.py: the dynamic cache eager, the static cache with its decode step
replayed from a CUDA graph; greedy, medians of 3 runs): time to first token and decode tokens/s,
beside transformers' own `model.generate` (torch.compile off) with the dynamic cache and with the
static cache. generate's TTFT is generate(max_new_tokens=1); its decode is generate(128) minus that,
tokens/s = batch x 127 / the decode time (medians of 3). generate's runs alternate with fairness's in
one process, so that a board's power cap, which comes and goes, moves both alike. "mean steps,
paired": per run, generate's mean decode step over fairness's mean step in the run beside it, the
median over the runs: like for like where fairness's own number is the median step. Target: fairness's dynamic-cache decode
within 5% of generate's (fairness's dynamic cache is generate itself, stamped at each step's logits:
the check is that the stamps cost nothing and the median step is the mean one). The replayed decode
has no `generate` twin without torch.compile; the static generate column shows what it saves. Before timing, the replayed graph's cache is checked
against the eager static cache's after 16 steps from the same prompt (max abs difference). "cache
copied": whether fairness counted its decode step copying the KV cache from the KV heads up to the
query heads (generate.cache_expansion; transformers' SDPA path does so where it passes a mask and
cannot pack the query), e.g. "4->12", or "no". "GPU idle": the share of eager dynamic-cache decode
steps in which the GPU ran nothing (generate.decode_idle_share, torch.profiler), beside what it
would be if the eager step ran the replay's GPU work and idled for the rest (1 - replay/eager).

    python benchmarks/gpu_generate.py          # needs a CUDA device and transformers
"""

import statistics
import time
import warnings

import torch

from fairness.flags import HOST_BOUND
from fairness.indicators.env import peak_bandwidth
from fairness.indicators.generate import (DYNAMIC, STATIC, STATIC_GRAPH, GenerateSpec, Generation, _one_run,
                                          decode_idle_share, implementations)

warnings.filterwarnings("ignore")
PROMPT, NEW, RUNS = 512, 128, 3
MODELS = {
    "GPT-2 124M": ("gpt2", {}),
    "Llama-124M (GQA 4)": ("llama", dict(hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
                                         num_attention_heads=12, num_key_value_heads=4, vocab_size=50257,
                                         max_position_embeddings=1024)),
}


def _generate_s(model, ids, new: int, cache: str | None, logits_processor=None) -> float:
    """Seconds for one `generate` call of `new` tokens (gpu_generate_host.py passes a processor)."""
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    # an unpadded batch's mask, as fairness passes: without it generate masks the prompt's 0s (the
    # padding id it falls back on), which a random batch-64 prompt holds about every other draw
    model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new, min_new_tokens=new,
                   do_sample=False, pad_token_id=0, cache_implementation=cache, disable_compile=True,
                   logits_processor=logits_processor)
    torch.cuda.synchronize()
    return time.perf_counter() - t0


def _paired(model, cache: str | None, g: Generation) -> tuple[float, float, float]:
    """generate's (TTFT seconds, decode tokens/s) with one cache implementation, on fairness's own
    prompt (`g.ids`), its runs alternated with fairness's (`g.run_once()`), fairness first in every
    other run, so that both sides see the same prompt, board and host state (gpu_generate_host.py,
    which does so, read fairness's dynamic decode at 1.000-1.017x generate's where this script, with
    a prompt of its own and generate always first, read 1.12-1.27x; benchmarks/RESULTS.md); and the
    median over the runs of a like-for-like ratio: generate's mean decode step over fairness's mean
    step in the run beside it (fairness reports the median step; a host-bound eager decode has a
    tail that a mean counts and a median does not)."""
    ids = g.ids
    first, whole, ratios = [], [], []
    with torch.inference_mode():
        _generate_s(model, ids[:, :8], 4, cache)  # warm-up
        for run in range(RUNS):
            if run % 2:
                g.run_once()
            first.append(_generate_s(model, ids, 1, cache))
            whole.append(_generate_s(model, ids, NEW, cache))
            if not run % 2:
                g.run_once()
            steps = g.runs[-1][1]
            ratios.append((whole[-1] - first[-1]) / (NEW - 1) / (sum(steps) / len(steps)))
    decode = ids.shape[0] * (NEW - 1) / (statistics.median(whole) - statistics.median(first))
    return statistics.median(first), decode, statistics.median(ratios)


def _graph_matches_eager(model, vocab: int) -> float:
    """Max abs difference between the caches that 16 replayed and 16 eager static steps write."""
    ids = torch.randint(0, vocab, (2, 64), generator=torch.Generator().manual_seed(1)).cuda()
    with torch.inference_mode():
        eager = _one_run(model, ids, 16, "cuda", STATIC)[2]
        graph = _one_run(model, ids, 16, "cuda", STATIC_GRAPH)[2]
    return max((a.keys.float() - b.keys.float()).abs().max().item() for a, b in zip(eager.layers, graph.layers))


def _copied(r: dict) -> str:
    e = r.get("kv_expanded")
    return f"{e['from_heads']}->{e['to_heads']}" if e else "no"


def main():
    import transformers

    dev = "cuda"
    name = torch.cuda.get_device_name()
    print(f"device: {name}, torch {torch.__version__}, transformers {transformers.__version__}, bfloat16, "
          f"prompt {PROMPT}, {NEW} new tokens, greedy\n")
    rows = []
    for label, (kind, kw) in MODELS.items():
        config = transformers.AutoConfig.for_model(kind, **kw)
        model = transformers.AutoModelForCausalLM.from_config(config).to(dev, torch.bfloat16).eval()
        print(f"{label}: replayed graph vs eager static cache, max abs key difference after 16 steps: "
              f"{_graph_matches_eager(model, config.vocab_size):.3g}", flush=True)
        weights = sum(p.numel() * p.element_size() for p in model.parameters())
        for batch in (1, 64):
            for impl in implementations(dev):
                g = Generation(model, GenerateSpec(PROMPT, NEW), batch, dev, torch.bfloat16, config.vocab_size,
                               weights, peak_bandwidth(name), impl)
                first, tps, paired = _paired(model, None if impl == DYNAMIC else "static", g)
                r = g.result()
                if impl == DYNAMIC:  # the GPU's idle share over eager decode steps, as fairness records it
                    r["idle_share"] = decode_idle_share(model, g.ids, dev)
                rows.append((label, batch, impl, r, first, tps, paired))
                share = f"{r['floor_share']:.1%}" if r.get("floor_share") is not None else "n/a"
                print(f"  batch {batch:>3} {impl:<26} TTFT {r['ttft_s'] * 1e3:7.2f} ms (generate {first * 1e3:7.2f}) "
                      f"decode {r['decode_tokens_per_s']:9.1f} tok/s (generate {'static' if impl != DYNAMIC else 'dynamic'}"
                      f" {tps:9.1f}, ratio {r['decode_tokens_per_s'] / tps:5.3f}, mean steps paired {paired:5.3f}) "
                      f"floor/TPOT {share}, cache copied {_copied(r)}, GPU idle {_idle(r)}", flush=True)
        del model
        torch.cuda.empty_cache()
    print("\n| model | batch | implementation | TTFT ms | generate TTFT ms | decode tok/s | generate tok/s "
          "(same cache, eager) | ratio | mean steps, paired | floor / TPOT | cache copied | GPU idle | "
          "1 - replay/eager |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    replay = {(label, batch): r["tpot_s"] for label, batch, impl, r, *_ in rows if impl == STATIC_GRAPH}
    for label, batch, impl, r, first, tps, paired in rows:
        share = f"{r['floor_share']:.1%}" if r.get("floor_share") is not None else "n/a"
        # what the idle share would be if the eager step ran the replay's GPU work and idled the rest
        bound = f"{1 - replay[(label, batch)] / r['tpot_s']:.1%}" if impl == DYNAMIC and (label, batch) in replay \
            else ""
        print(f"| {label} | {batch} | {impl} | {r['ttft_s'] * 1e3:.2f} | {first * 1e3:.2f} | "
              f"{r['decode_tokens_per_s']:,.0f} | {tps:,.0f} | {r['decode_tokens_per_s'] / tps:.3f} | {paired:.3f} | "
              f"{share} | {_copied(r)} | {_idle(r)} | {bound} |")
    print("\nthe 5% check (fairness's dynamic-cache decode against generate's):")
    for line in _check(rows):
        print("  " + line)


def _check(rows: list) -> list[str]:
    """The 5% check, one line per dynamic-cache cell: fairness's decode tokens/s over generate's, and
    the paired mean steps, each within 5% or not, with the GPU's idle share (over HOST_BOUND the
    cell times the host's launches, which move run to run)."""
    def within(x: float) -> str:
        return f"{x:.3f} ({'within 5%' if abs(x - 1) <= 0.05 else 'OUTSIDE 5%'})"

    out = []
    for label, batch, impl, r, first, tps, paired in rows:
        if impl != DYNAMIC:
            continue
        idle = r.get("idle_share")
        host = "" if idle is None else (", host-bound" if idle > HOST_BOUND else ", not host-bound")
        out.append(f"{label} batch {batch}: ratio {within(r['decode_tokens_per_s'] / tps)}, paired mean steps "
                   f"{within(paired)}; GPU idle {_idle(r) or 'n/a'}{host}")
    return out


def _idle(r: dict) -> str:
    return f"{r['idle_share']:.1%}" if r.get("idle_share") is not None else ""


if __name__ == "__main__":
    main()
