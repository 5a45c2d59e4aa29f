"""Generation: what it costs a causal language model to write text (issue 26).

One forward pass over a fixed sequence is the prefill's cost only. Generation is a prefill over
the prompt, which gives the first token, then one decode step per further token, each reading
every weight and the whole KV cache written so far. The two are timed apart:

- time to first token (TTFT): the prefill, prompt tokens in, the first new token's logits out;
- time per output token (TPOT): a decode step with the cache, each run's median step, the median
  over the runs (the prefill is not in it), and decode tokens/s = batch / TPOT;
- KV-cache bytes per token, counted: layers x KV heads x head size x 2 (keys and values) x the
  dtype's bytes; checked against the cache the model allocates (`allocated_kv_bytes`);
- the memory-bound floor of a decode step: the bytes it must read (the weights, and the cache
  at the mean context) over the device's memory bandwidth (indicators/env.py, with its source).

The loop is greedy decoding, in named implementations: transformers' dynamic cache called
eagerly (a plain `generate` call, timed step by step by a logits processor), a static cache
preallocated for the prompt and the new tokens (fairness's own loop), and on CUDA that static
cache's decode step captured once in a CUDA graph and replayed (no host launches per step).
The static caches are timed with a synchronize before each host clock read (each step ends in an
argmax the next step waits on). The dynamic cache's steps, which are the host's, are stamped with
CUDA events instead, which do not wait: a synchronize a step inside generate slowed GPT-2 124M's
steps by 2% at batch 1 and 11% at batch 64, where the events read 1.000x and 1.017x a plain
generate's step (benchmarks/gpu_generate_host.py on an H200, benchmarks/RESULTS.md).

An encoder-decoder (T5, Switch) generates with its decoder: the prompt is the encoder's input,
the prefill is the encoder's pass and the decoder's first step (from its start token), and each
decode step reads the decoder's weights, its own cache (one token more each step) and the
cross-attention cache of the encoded prompt (written once, in the prefill). Its KV bytes per
token are the decoder's self-attention ones; the cross-attention cache is counted per prompt token.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import re
import statistics
import sys
import time
from dataclasses import asdict, dataclass

import torch

from ..errors import FairnessError

# runs of the whole prefill-and-decode sequence; the medians over them are reported
RUNS = 3


@dataclass(frozen=True)
class GenerateSpec:
    prompt: int  # prompt tokens
    new: int  # tokens generated: the first from the prefill, the rest from decode steps

    @property
    def decode_steps(self) -> int:
        return self.new - 1


def parse_generate(text, what: str = "--generate") -> GenerateSpec:
    """'512:128' (prompt tokens : new tokens), or a config's {prompt: 512, new: 128}."""
    if isinstance(text, dict):
        prompt, new = text.get("prompt"), text.get("new")
        unknown = set(text) - {"prompt", "new"}
        if unknown:
            raise FairnessError(f"{what}: unknown key {sorted(unknown)[0]!r}; expected {{prompt: 512, new: 128}}")
    else:
        m = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", str(text))
        prompt, new = (int(m.group(1)), int(m.group(2))) if m else (None, None)
    ok = all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in (prompt, new)) and new >= 2
    if not ok:
        raise FairnessError(f"{what} {text!r}: expected PROMPT:NEW, prompt tokens and new tokens, e.g. 512:128 "
                            f"(at least 1 prompt token and 2 new ones: the first comes from the prefill)")
    return GenerateSpec(prompt, new)


def _config(model, name: str = ""):
    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "num_hidden_layers"):
        who = f"{name} ({type(model).__name__})" if name else type(model).__name__
        raise FairnessError(f"--generate: {who} is not a transformers language model; generation is measured for "
                            f"causal LMs (hf:gpt2, hf:llama, hf:mistral, ...)")
    return config


def is_encoder_decoder(model) -> bool:
    return bool(getattr(getattr(model, "config", None), "is_encoder_decoder", False))


def check_generation(model, spec: GenerateSpec, device: str, name: str) -> None:
    """A causal LM or an encoder-decoder, on a device that runs, with room for the prompt and the
    new tokens."""
    if str(device) == "meta":
        raise FairnessError("--generate times text generation, which runs the model: give --device cpu or cuda, "
                            "not meta")
    config = _config(model, name)
    if not callable(getattr(model, "can_generate", None)) or not model.can_generate():
        raise FairnessError(f"--generate: {name} ({type(model).__name__}) does not generate text; give a causal "
                            f"language model (hf:gpt2, hf:llama, hf:mistral, hf:mixtral, ...) or an encoder-decoder "
                            f"(hf:t5, hf:switch_transformers)")
    positions = getattr(config, "max_position_embeddings", None)
    if positions and spec.prompt + spec.new > positions:
        raise FairnessError(f"--generate {spec.prompt}:{spec.new}: {spec.prompt + spec.new} tokens, but {name} has "
                            f"{positions} positions; shorten the prompt or the new tokens")


def check_sources(models: list[tuple[str, dict | None, str]], spec: GenerateSpec, device: str) -> None:
    """Before anything is measured: each (source, kwargs, name) builds a causal LM (on meta, from its
    config: no memory) with room for the tokens, on a device that runs. One line names the first
    that does not."""
    from ..sources import build, parse_source

    if str(device) == "meta":
        check_generation(None, spec, device, "")
    for source, kwargs, name in models:
        if not isinstance(source, str):
            continue  # a module: checked when it is timed
        check_generation(build(parse_source(source, kwargs), "meta"), spec, device, name)


def kv_layout(model) -> dict:
    """Layers, KV heads and head size of the attention that generates (GQA: fewer KV heads than
    query heads; MQA: one): an encoder-decoder's decoder (T5's num_decoder_layers and d_kv)."""
    config = _config(model)
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or getattr(config, "d_kv", None) or config.hidden_size // heads
    layers = (getattr(config, "num_decoder_layers", None) or config.num_hidden_layers) if is_encoder_decoder(model) \
        else config.num_hidden_layers
    return {"layers": layers, "kv_heads": kv_heads, "head_dim": head_dim, "query_heads": heads,
            "sliding_window": getattr(config, "sliding_window", None), "encoder_decoder": is_encoder_decoder(model)}


def kv_bytes_per_token(model, dtype: torch.dtype) -> int:
    """KV-cache bytes one token of one sequence adds: layers x KV heads x head size x 2 x bytes."""
    k = kv_layout(model)
    return k["layers"] * k["kv_heads"] * k["head_dim"] * 2 * torch.empty((), dtype=dtype).element_size()


def decode_weight_bytes(model) -> int:
    """The weight bytes a decode step reads: every parameter of a causal LM; an encoder-decoder's
    decoder and output head (the encoder ran once, in the prefill). Shared storage counts once."""
    parts = [model] if not is_encoder_decoder(model) else [model.get_decoder(), model.get_output_embeddings()]
    # a tied head is the embedding's own Parameter: counted once
    params = {id(p): p for part in parts if part is not None for p in part.parameters()}
    return sum(p.numel() * p.element_size() for p in params.values())


def allocated_kv_bytes(cache) -> int:
    """The bytes of the keys and values a transformers cache holds (every layer; an encoder-decoder's
    self-attention and cross-attention caches both)."""
    if hasattr(cache, "self_attention_cache"):
        return allocated_kv_bytes(cache.self_attention_cache) + allocated_kv_bytes(cache.cross_attention_cache)
    layers = getattr(cache, "layers", None)
    if layers is not None:
        return sum(t.numel() * t.element_size() for layer in layers for t in (layer.keys, layer.values)
                   if isinstance(t, torch.Tensor))
    return sum(t.numel() * t.element_size() for kv in cache for t in kv if isinstance(t, torch.Tensor))


@functools.lru_cache(maxsize=None)
def _parameters(forward) -> frozenset[str]:
    return frozenset(inspect.signature(forward).parameters)


def _takes(model, name: str) -> bool:
    """Whether the model's forward takes `name`: its signature read once per forward function, not
    once per decode step (a timed step would pay for it)."""
    return name in _parameters(getattr(model.forward, "__func__", model.forward))


def _cache_kwarg(model) -> str:
    """The name a model's forward takes its cache under (`cache` from transformers 5.2x on)."""
    return "cache" if _takes(model, "cache") else "past_key_values"


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


# how the decode steps run: transformers' dynamic cache called eagerly (what a plain `generate` runs),
# a static cache preallocated for prompt + new tokens (eager), and that static cache's decode step
# captured once in a CUDA graph and replayed (CUDA only: no host launches per step)
DYNAMIC, STATIC, STATIC_GRAPH = "dynamic cache, eager", "static cache, eager", "static cache, CUDA graph"


def implementations(device) -> tuple[str, ...]:
    """The implementations timed on `device`: on CUDA the dynamic cache and the replayed static one;
    on the CPU, which has no graphs, the dynamic and the static cache, both eager."""
    return (DYNAMIC, STATIC_GRAPH) if torch.device(device).type == "cuda" else (DYNAMIC, STATIC)


def _new_cache(model, impl: str, length: int, prompt: int):
    """A cache for `length` positions; an encoder-decoder's is its decoder's (`length`) with the
    cross-attention cache of the encoded prompt beside it."""
    from transformers import DynamicCache, EncoderDecoderCache, StaticCache

    config = model.config
    if is_encoder_decoder(model):  # a static cache has the config's layers: the decoder's, not the encoder's
        config = copy.copy(config)
        config.num_hidden_layers = kv_layout(model)["layers"]

    def one(n):
        return DynamicCache() if impl == DYNAMIC else StaticCache(config=config, max_cache_len=n)

    return EncoderDecoderCache(one(length), one(prompt)) if is_encoder_decoder(model) else one(length)


def _step(model, key: str, cache, token, position, encoded=None):
    """One forward step over `token` with the cache: the next token, greedy. An encoder-decoder
    runs its decoder on `token` over the `encoded` prompt."""
    kwargs = {} if position is None else {"cache_position": position}
    if _takes(model, "logits_to_keep"):  # the last position's logits only, as generate asks: a prefill's full-vocabulary
        kwargs["logits_to_keep"] = 1  # logits at every prompt position are not part of generating
    if encoded is None:
        out = model(input_ids=token, use_cache=True, **{key: cache}, **kwargs)
    else:
        out = model(encoder_outputs=encoded, decoder_input_ids=token, use_cache=True, **{key: cache}, **kwargs)
    return out.logits[:, -1].argmax(-1, keepdim=True)


def _generate_run(model, ids: torch.Tensor, steps: int, device) -> tuple[float, list[float], object]:
    """The dynamic cache, eagerly: transformers' own `generate` (greedy, torch.compile off), each step
    stamped by a logits processor as its logits come out. The prefill is the time to the first
    stamp; a step, from one stamp to the next: generate's whole iteration, its own bookkeeping in.
    On CUDA a stamp is an event recorded on the stream, read after the run, so that stamping adds no
    wait for the device to a decode this small, which is the host's (a synchronize a step slowed it
    by 2-11%, the module's docstring says where). On the CPU it is the clock."""
    from transformers import LogitsProcessor, LogitsProcessorList

    cuda = torch.device(device).type == "cuda"
    stamps = []

    def stamp():
        if cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record(torch.cuda.current_stream(device))  # the model's device, cuda:N too
            return event
        return time.perf_counter()

    class Clock(LogitsProcessor):
        def __call__(self, input_ids, scores):
            stamps.append(stamp())
            return scores

    pad = getattr(model.config, "pad_token_id", None)
    # an encoder-decoder gets its cache made here: generate's own is sized by the encoder's layers
    # (T5 with 2 encoder and 3 decoder layers fails at the third)
    kwargs = {"decoder_start_token_id": _decoder_start(model),
              "past_key_values": _new_cache(model, DYNAMIC, 0, 0)} if is_encoder_decoder(model) else {}
    _sync(device)
    t0 = stamp()
    # the mask of an unpadded batch: without one, generate masks every prompt token that equals the
    # padding id (random prompts hold it now and then) and times a padded batch's attention
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=steps + 1,
                         min_new_tokens=steps + 1, do_sample=False, num_beams=1,
                         logits_processor=LogitsProcessorList([Clock()]), return_dict_in_generate=True,
                         disable_compile=True, pad_token_id=0 if pad is None else pad, **kwargs)
    if cuda:
        _sync(device)
        at = [t0.elapsed_time(e) / 1e3 for e in stamps]  # CUDA events read milliseconds
    else:
        at = [t - t0 for t in stamps]
    return at[0], [b - a for a, b in zip(at, at[1:])], out.past_key_values


def _decoder_start(model) -> int:
    """The token an encoder-decoder's decoder starts from (T5 and Switch: the padding token, 0)."""
    for source in (getattr(model, "generation_config", None), model.config):
        start = getattr(source, "decoder_start_token_id", None) if source is not None else None
        if start is not None:
            return start
    return getattr(model.config, "pad_token_id", None) or 0


def _one_run(model, ids: torch.Tensor, steps: int, device, impl: str = DYNAMIC) -> tuple[float, list[float], object]:
    """One prefill and `steps` greedy decode steps: (prefill seconds, each step's seconds, the cache).
    The dynamic cache is generate's (`_generate_run`). A static cache is written at explicit
    positions; its CUDA graph is captured after the prefill (the capture is not timed) and replayed
    once per step, the token and position copied into the graph's input buffers first."""
    if impl == DYNAMIC:
        return _generate_run(model, ids, steps, device)
    key = _cache_kwarg(model)
    prompt = ids.shape[1]
    encoder_decoder = is_encoder_decoder(model)
    # the decoder's positions: a causal LM continues after the prompt; an encoder-decoder's decoder
    # starts at 0 with its start token
    first = 1 if encoder_decoder else prompt
    cache = _new_cache(model, impl, first + steps + 1, prompt)
    static = impl != DYNAMIC
    positions = torch.arange(first, device=ids.device) if static else None
    _sync(device)
    t0 = time.perf_counter()
    if encoder_decoder:
        encoded = model.get_encoder()(input_ids=ids)
        start = torch.full((ids.shape[0], 1), _decoder_start(model), dtype=ids.dtype, device=ids.device)
        token = _step(model, key, cache, start, positions, encoded)
    else:
        encoded = None
        token = _step(model, key, cache, ids, positions)
    _sync(device)
    prefill = time.perf_counter() - t0
    times = []
    if impl == STATIC_GRAPH:
        replay, token_in, position_in, token_out = _captured(model, key, cache, token, first, encoded)
        for i in range(steps):
            t0 = time.perf_counter()
            token_in.copy_(token)
            position_in.fill_(first + i)
            replay()
            token = token_out.clone()
            _sync(device)
            times.append(time.perf_counter() - t0)
        return prefill, times, cache
    for i in range(steps):
        t0 = time.perf_counter()
        token = _step(model, key, cache, token, torch.tensor([first + i], device=ids.device) if static else None,
                      encoded)
        _sync(device)
        times.append(time.perf_counter() - t0)
    return prefill, times, cache


def _rewind(cache, position: int) -> None:
    """Back to `position` after the warm-up steps. transformers 5's static cache writes where its own
    device-side counter (`cumulative_length`) says, each call one further, not at the position
    passed: left alone, the warm-up's two steps shift every replayed write by two (and the last ones
    past the cache's end: an index_copy_ out of bounds). Older caches write at the position passed."""
    for layer in getattr(getattr(cache, "self_attention_cache", cache), "layers", None) or []:
        counter = getattr(layer, "cumulative_length", None)
        if isinstance(counter, torch.Tensor):
            counter.fill_(position)


def _captured(model, key: str, cache, token, position: int, encoded=None):
    """The decode step captured in a CUDA graph over input buffers (the token, its position; an
    encoder-decoder's encoded prompt stays where the prefill left it): warmed up on a side stream
    first, as torch.cuda.graphs asks; the warm-up writes the cache slot the first replay writes again."""
    token_in, position_in = token.clone(), torch.tensor([position], device=token.device)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):
            _step(model, key, cache, token_in, position_in, encoded)
    torch.cuda.current_stream().wait_stream(side)
    _rewind(cache, position)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        token_out = _step(model, key, cache, token_in, position_in, encoded)
    return graph.replay, token_in, position_in, token_out


def _repeat_kv_homes(model) -> list:
    """The modules whose `repeat_kv` the model's attention calls: transformers' SDPA integration and
    the model's own modeling modules (their eager attention)."""
    homes = []
    with contextlib.suppress(ImportError):
        from transformers.integrations import sdpa_attention

        homes.append(sdpa_attention)
    for name in dict.fromkeys(type(m).__module__ for m in model.modules()):
        home = sys.modules.get(name)
        if home is not None and callable(getattr(home, "repeat_kv", None)) and home not in homes:
            homes.append(home)
    return homes


@contextlib.contextmanager
def _counting_repeat_kv(model, calls: list):
    """transformers' `repeat_kv` (keys or values copied from the KV heads up to the query heads),
    counted into `calls` while the block runs; put back after."""
    saved = [(home, home.repeat_kv) for home in _repeat_kv_homes(model)]

    def counting(f):
        @functools.wraps(f)
        def counted(*args, **kwargs):
            n_rep = args[1] if len(args) > 1 else kwargs.get("n_rep", 1)
            if n_rep > 1:
                calls.append(n_rep)
            return f(*args, **kwargs)
        return counted

    try:
        for home, f in saved:
            home.repeat_kv = counting(f)
        yield
    finally:
        for home, f in saved:
            home.repeat_kv = f


def cache_expansion(model, ids: torch.Tensor, device, impl: str) -> dict | None:
    """Whether a decode step copies a GQA or MQA model's KV cache up to its query heads before
    attending (transformers' `repeat_kv`), so that it reads heads/KV-heads times the cache it holds:
    {"from_heads", "to_heads", "copies_per_step"}; None where it reads the cache as held (or the
    model has as many KV heads as query heads). Counted, not inferred from versions: the `repeat_kv`
    calls of a run with two decode steps less those of a run with one, on the short prompt `ids`.
    A replayed step is the eager static step captured, so that is the one counted for it.
    The case that found it: transformers 5.17's SDPA path passes a static cache's mask and so cannot
    use PyTorch's own GQA; it copies every layer's cache from 4 to 16 heads each step, and a GQA
    model decoded at 0.57x its MHA twin's tokens/s on an H100, where a packed single query (5.25's)
    read 1.10x (benchmarks/gpu_gqa_decode.py)."""
    layout = kv_layout(model)
    if layout["kv_heads"] >= layout["query_heads"]:
        return None
    probe = STATIC if impl == STATIC_GRAPH else impl
    counts = []
    for steps in (1, 2):
        calls: list = []
        with _counting_repeat_kv(model, calls), torch.inference_mode():
            _one_run(model, ids, steps, device, probe)
        counts.append(len(calls))
    per_step = counts[1] - counts[0]
    return {"from_heads": layout["kv_heads"], "to_heads": layout["query_heads"],
            "copies_per_step": per_step} if per_step > 0 else None


def prompt_ids(vocab: int, batch_size: int, length: int, device) -> torch.Tensor:
    """The prompt every generation timing runs on: random tokens from a fixed seed, the same for
    every model of one vocabulary."""
    gen = torch.Generator().manual_seed(0)
    return torch.randint(0, vocab, (batch_size, length), generator=gen).to(device)


def decode_idle_share(model, ids: torch.Tensor, device, steps: int = 16) -> float:
    """The share of `steps` dynamic-cache decode steps after the prompt `ids`, called eagerly, in
    which the GPU ran nothing (indicators/idle.py: torch.profiler's device timeline). The steps are
    the model's own calls without generate's bookkeeping, which only adds host time: a lower bound
    of the idle share of the decode timed. Over flags.HOST_BOUND, that decode's tokens/s time the
    host's launches. Measured, not argued from the replay: an eager decode step on an H100 ran 2-7x
    the replayed step's time, a gap that launches or the dynamic cache's own copies could each
    explain, and for GPT-2 at batch 64 "1 - replay/eager" read 77% where the GPU idled 40.5%
    (gpu_generate.py, benchmarks/RESULTS.md)."""
    from .idle import idle_share

    key = _cache_kwarg(model)
    cache = _new_cache(model, DYNAMIC, 0, 0)
    with torch.inference_mode():
        if is_encoder_decoder(model):
            encoded = model.get_encoder()(input_ids=ids)
            ids = torch.full((ids.shape[0], 1), _decoder_start(model), dtype=ids.dtype, device=ids.device)
        else:
            encoded = None
        token = [_step(model, key, cache, ids, None, encoded)]  # the prefill, not in the window

        def step():
            token[0] = _step(model, key, cache, token[0], None, encoded)

        step()
        return idle_share(step, torch.device(device), steps=steps)


def replay_copies(model, spec: GenerateSpec, device) -> dict | None:
    """cache_expansion of the replayed decode, probed on a short prompt: whether the number that
    the judgement would read from the replay times a copy of the cache (matching then times the
    dynamic cache instead, without timing the replay first)."""
    ids = torch.zeros(1, min(spec.prompt, 8), dtype=torch.long, device=device)
    return cache_expansion(model, ids, device, STATIC_GRAPH)


class Generation:
    """Greedy decoding of one model at one batch size in one implementation, run by run, so that
    several models' runs can be interleaved round by round (drift on the machine then falls on
    every model alike). Built warm: the first call chose kernels and filled caches. `model` is on
    `device` in `dtype`."""

    def __init__(self, model, spec: GenerateSpec, batch_size: int, device, dtype: torch.dtype, vocab: int,
                 weight_bytes: int, bandwidth: tuple[float, str] | None = None, impl: str = DYNAMIC):
        self.model, self.spec, self.batch_size, self.device, self.dtype = model, spec, batch_size, device, dtype
        self.weight_bytes, self.bandwidth, self.impl = weight_bytes, bandwidth, impl
        self.cuda = torch.device(device).type == "cuda"
        self.ids = prompt_ids(vocab, batch_size, spec.prompt, device)
        self.runs: list[tuple[float, list[float]]] = []  # (prefill seconds, each decode step's seconds)
        self.allocated, self.peak = 0, 0
        with torch.inference_mode():
            # warmed up on the very prompt and steps timed: the dynamic cache grows a position a step,
            # so each step is a shape of its own, and a first pass over those shapes is slow. On an
            # H100 (gallery, 2026-12-07) the first timed round of the dynamic cache at batch 1, after
            # a warm-up of 8 tokens, ran at 12-17 tokens/s against 70-148 in the next two for every
            # model whose head layout had not run before (a variant of another's width ran fast).
            _one_run(model, self.ids, spec.decode_steps, device, impl)
        self.expanded = cache_expansion(model, self.ids[:, : min(spec.prompt, 8)], device, impl)

    def run_once(self) -> None:
        """One prefill and the decode steps; the cache's bytes and this run's peak memory kept (the
        peak is read around this run alone: other models' runs sit between)."""
        if self.cuda:
            _sync(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        with torch.inference_mode():
            prefill, steps, cache = _one_run(self.model, self.ids, self.spec.decode_steps, self.device, self.impl)
        self.allocated = allocated_kv_bytes(cache)
        if self.cuda:
            self.peak = max(self.peak, torch.cuda.max_memory_allocated(self.device))
        self.runs.append((prefill, steps))

    def result(self) -> dict:
        """Time to first token, time per output token and decode tokens/s (medians over the runs;
        each run's median step beside them, for pairing), the KV cache counted and allocated, the
        peak memory, and the memory-bound floor of a decode step where the bandwidth is known."""
        model, spec, batch_size, dtype, impl, runs = (self.model, self.spec, self.batch_size, self.dtype, self.impl,
                                                      self.runs)
        weight_bytes, bandwidth, allocated = self.weight_bytes, self.bandwidth, self.allocated
        prefill = statistics.median(r[0] for r in runs)
        steps = [t for r in runs for t in r[1]]
        by_run = [statistics.median(r[1]) for r in runs]
        # the median of the runs' median steps, as the prefill is the median run: one slow run of three
        # (a first pass over new shapes, a board's power cap) is then outvoted, where over the steps
        # pooled it moved the median (GPT-2's batch-1 decode read 0.662x generate's on an H100)
        tpot = statistics.median(by_run)
        per_token = kv_bytes_per_token(model, dtype)
        # a dynamic cache holds what was written (the last step's token is not written back before the
        # run ends); a static one is allocated for every position it may hold. An encoder-decoder's
        # decoder holds its own tokens from the start token on, and its cross-attention cache the
        # encoded prompt, each position the same bytes (the decoder's layers, heads and head size).
        encoder_decoder = is_encoder_decoder(model)
        written = (1 if encoder_decoder else spec.prompt) + spec.decode_steps
        held = written + (0 if impl == DYNAMIC else 1) + (spec.prompt if encoder_decoder else 0)
        out = {"prompt": spec.prompt, "new": spec.new, "batch_size": batch_size, "implementation": impl,
               "ttft_s": prefill, "ttft_iqr_s": _iqr([r[0] for r in runs]), "tpot_s": tpot, "tpot_iqr_s": _iqr(steps),
               "decode_tokens_per_s": batch_size / tpot, "prefill_tokens_per_s": batch_size * spec.prompt / prefill,
               "runs": len(runs), "steps": len(steps), "kv_bytes_per_token": per_token, "kv_layout": kv_layout(model),
               "kv_bytes_allocated": allocated, "kv_tokens_held": batch_size * held,
               "peak_bytes": self.peak if self.cuda else None, "tpot_by_run_s": by_run,
               "ttft_by_run_s": [r[0] for r in runs], "kv_expanded": self.expanded}
        # a decode step reads the weights once and the cache at its context: the mean over the steps
        # (an encoder-decoder's: its decoder's tokens and the whole encoded prompt)
        mean_context = written - spec.decode_steps / 2 + (spec.prompt if encoder_decoder else 0)
        read = weight_bytes + batch_size * mean_context * per_token
        out["bytes_read_per_step"] = read
        if bandwidth:
            out["floor_s"], out["bandwidth"], out["bandwidth_source"] = read / bandwidth[0], bandwidth[0], bandwidth[1]
            out["floor_share"] = out["floor_s"] / tpot  # 1: at the memory-bound floor; small: far from it
        return out


def time_generation(model, spec: GenerateSpec, batch_size: int, device, dtype: torch.dtype, vocab: int,
                    weight_bytes: int, bandwidth: tuple[float, str] | None = None, impl: str = DYNAMIC) -> dict:
    """One model's generation on its own: RUNS runs back to back (Generation.result's record)."""
    g = Generation(model, spec, batch_size, device, dtype, vocab, weight_bytes, bandwidth, impl)
    for _ in range(RUNS):
        g.run_once()
    return g.result()


def _iqr(xs: list[float]) -> float:
    q = statistics.quantiles(xs, n=4) if len(xs) >= 2 else [0.0, 0.0, 0.0]
    return q[2] - q[0]


def spec_record(spec: GenerateSpec) -> dict:
    return asdict(spec)
