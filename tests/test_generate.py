"""Generation (fairness/indicators/generate.py, issue 26) on tiny Hugging Face configs: the
KV-cache bytes counted against the cache the model allocates, the prefill kept out of the time per
token, and bad input refused in one line before anything is measured."""

import json
import time

import pytest
import torch

from cli_run import one_line_exit_2, run
from fairness.errors import FairnessError
from fairness.indicators.generate import (GenerateSpec, RUNS, kv_bytes_per_token, parse_generate,
                                          time_generation)

transformers = pytest.importorskip("transformers")
TINY_GPT2 = ["-k", "n_layer=2", "-k", "n_embd=64", "-k", "n_head=4", "-k", "vocab_size=128", "-k", "n_positions=64"]


def tiny_llama(kv_heads: int = 2):
    """2 layers, 4 query heads of 16, `kv_heads` KV heads (GQA with 2, MQA with 1)."""
    cfg = transformers.AutoConfig.for_model("llama", hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                            num_attention_heads=4, num_key_value_heads=kv_heads, vocab_size=128,
                                            max_position_embeddings=64)
    return transformers.AutoModelForCausalLM.from_config(cfg).eval()


def test_prompt_and_new_tokens_are_read():
    assert parse_generate("512:128") == GenerateSpec(512, 128) and parse_generate({"prompt": 8, "new": 2}).new == 2
    for bad in ("512", "0:8", "8:1", "a:b", {"prompt": 8, "tokens": 4}):
        with pytest.raises(FairnessError):
            parse_generate(bad)


@pytest.mark.parametrize("kv_heads, dtype, expected", [
    (4, torch.float32, 2 * 4 * 16 * 2 * 4),  # layers x KV heads x head size x (K, V) x bytes
    (2, torch.float32, 2 * 2 * 16 * 2 * 4),  # GQA: half the KV heads, half the cache
    (1, torch.bfloat16, 2 * 1 * 16 * 2 * 2),  # MQA in bfloat16
])
def test_kv_cache_bytes_counted_match_the_cache_allocated(kv_heads, dtype, expected):
    model = tiny_llama(kv_heads).to(dtype)
    assert kv_bytes_per_token(model, dtype) == expected
    spec = GenerateSpec(prompt=10, new=5)
    r = time_generation(model, spec, 3, "cpu", dtype, 128, weight_bytes=0)
    # after the prefill (10 tokens) and 4 decode steps, 14 tokens of each of the 3 sequences are held
    assert r["kv_tokens_held"] == 3 * 14 and r["kv_bytes_allocated"] == expected * 3 * 14
    assert r["steps"] == RUNS * 4 and r["decode_tokens_per_s"] == pytest.approx(3 / r["tpot_s"])


class SlowPrefill(torch.nn.Module):
    """A tiny Llama whose calls over more than one token (the prefill) take 60 ms longer."""

    def __init__(self):
        super().__init__()
        self.inner = tiny_llama()
        self.config = self.inner.config

    def forward(self, input_ids, cache=None, use_cache=True):
        if input_ids.shape[1] > 1:
            time.sleep(0.06)
        return self.inner(input_ids=input_ids, cache=cache, use_cache=use_cache)


def test_the_prefill_is_not_in_the_time_per_token():
    r = time_generation(SlowPrefill(), GenerateSpec(prompt=6, new=4), 1, "cpu", torch.float32, 128, weight_bytes=0)
    assert r["ttft_s"] >= 0.06 and r["tpot_s"] < 0.03


def test_measure_generate_writes_each_batch_size(tmp_path):
    out = tmp_path / "r.json"
    r = run("measure", "hf:gpt2", *TINY_GPT2, "--device", "cpu", "--generate", "16:4", "--batch", "1,2",
            "--min-time", "0.05", "--no-fvcore", "-q", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert "generation: 16 prompt tokens, 4 new" in r.output and "TTFT" in r.output
    gen = json.loads(out.read_text())["models"][0]["speed"]["generate"]
    assert [x["batch_size"] for x in gen["runs"]] == [1, 2]
    assert all(x["kv_bytes_per_token"] == 2 * 4 * 16 * 2 * 4 for x in gen["runs"])


@pytest.mark.parametrize("args, expected", [
    (["timm:resnet18", "--generate", "8:4"], "timm:resnet18 (ResNet) is not a transformers language model"),
    (["hf:gpt2", *TINY_GPT2, "--generate", "60:8"], "68 tokens, but hf:gpt2 has 64 positions"),
    (["hf:gpt2", *TINY_GPT2, "--generate", "8:4", "--device", "meta"], "not meta"),
    (["hf:gpt2", *TINY_GPT2, "--generate", "8"], "expected PROMPT:NEW"),
    (["hf:t5", "--generate", "8:4"], "encoder-decoder"),
])
def test_bad_generate_is_one_line_exit_2(args, expected):
    device = [] if "--device" in args else ["--device", "cpu"]
    one_line_exit_2(run("measure", *args, *device, "-q"), expected)
