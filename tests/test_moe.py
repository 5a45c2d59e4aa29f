"""Mixture-of-experts models counted on meta, where routers cannot run: balanced top-k routing
(fairness/indicators/moe.py), against hand counts and against routing measured on the CPU."""

import pytest

import fairness
from fairness.results import to_plain

TINY_MIXTRAL = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, num_local_experts=8, num_experts_per_tok=2, vocab_size=100)
TINY_SWITCH = dict(d_model=32, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=2, d_kv=16, num_experts=4,
                   vocab_size=50, encoder_sparse_step=1, decoder_sparse_step=1)


def measure(source, **kw):
    return to_plain(fairness.measure(source, fvcore=False, **kw))


def test_tiny_mixtral_on_meta_by_hand():
    """transformers' Mixtral runs its experts as one grouped GEMM over stacked weights."""
    r = measure("hf:mixtral", kwargs=TINY_MIXTRAL, seq_len=32)
    assert (r["counted_on"], r["flops"]["routing"]) == ("meta", "balanced top-k (meta)")
    experts = 8 * 3 * 64 * 128  # per layer: 8 experts of gate, up and down projections
    # per layer: q, o 64x64; k, v 64x32 (2 of 4 heads); router 64x8; two RMSNorm weights
    attention, router, norms = 2 * 64 * 64 + 2 * 64 * 32, 8 * 64, 2 * 64
    p = r["params"]
    # final norm, embedding, and the causal LM's head (64 x 100, untied in Mixtral)
    assert p["unique"] == 2 * (attention + router + experts + norms) + 64 + 100 * 64 + 64 * 100
    assert p["active"] == pytest.approx(p["unique"] - 2 * experts * 6 / 8)  # 2 of 8 experts per token
    # per token per layer: attention projections, router, 2 experts; plus attention itself
    per_token = attention + router + 2 * 3 * 64 * 128
    assert r["flops"]["macs"] == 32 * 2 * per_token + 2 * 4 * 32 * 32 * 32 + 32 * 64 * 100


@pytest.mark.parametrize("source, kwargs", [("hf:mixtral", TINY_MIXTRAL), ("hf:switch_transformers", TINY_SWITCH)])
def test_balanced_routing_agrees_with_measured_routing(source, kwargs):
    """Top-k routing without dropped tokens sends every token to k experts, however unevenly:
    the experts' token shares add up to k, so active parameters and the experts' MACs are
    the same for the router's real choice (random weights, on the CPU) as for a balanced one.
    Equal up to float rounding of the shares (pytest.approx's 1e-6)."""
    meta, cpu = measure(source, kwargs=kwargs, seq_len=32), measure(source, kwargs=kwargs, seq_len=32, device="cpu")
    assert (meta["flops"]["routing"], cpu["flops"]["routing"]) == ("balanced top-k (meta)", "measured (cpu)")
    assert meta["params"]["active"] == pytest.approx(cpu["params"]["active"])
    assert meta["flops"]["macs"] == cpu["flops"]["macs"]


def test_tiny_switch_on_meta_by_hand():
    r = measure("hf:switch_transformers", kwargs=TINY_SWITCH, seq_len=32)
    assert (r["counted_on"], r["flops"]["routing"]) == ("meta", "balanced top-k (meta)")
    expert = 32 * 64 + 64 * 32  # wi, wo
    experts = 4 * 4 * expert  # 4 sparse layers (2 encoder, 2 decoder) x 4 experts
    assert r["params"]["active"] == pytest.approx(r["params"]["unique"] - experts * 3 / 4)  # top-1 of 4
    # every expert read by the 8 of 32 tokens a balanced router sends it
    assert r["flops"]["by_module"]["encoder.block.0.layer.1.mlp.experts.expert_3"]["macs"] == 8 * expert


def test_switch_capacity_drops_tokens():
    """An expert takes at most expert_capacity tokens of a sequence: 4 of the 8 a balanced
    router sends it, so half the tokens skip each sparse layer."""
    r = measure("hf:switch_transformers", kwargs=dict(TINY_SWITCH, expert_capacity=4), seq_len=32)
    expert = 32 * 64 + 64 * 32
    experts = 4 * 4 * expert
    # each sparse layer: 4 experts x 4 of 32 tokens -> half an expert's parameters per token
    assert r["params"]["active"] == pytest.approx(r["params"]["unique"] - experts + 4 * expert / 2)
    assert r["flops"]["by_module"]["encoder.block.0.layer.1.mlp.experts.expert_0"]["macs"] == 4 * expert


def test_mixtral_8x7b_at_full_size_on_meta():
    """Mixtral-8x7B from its default config, with its LM head as hf: builds it, counted on meta
    without memory for weights. Config: hidden 4096, intermediate 14336, 32 layers, 32 heads of
    128, 8 key/value heads, vocab 32000 (untied head), 8 experts, top-2."""
    r = measure("hf:mixtral", seq_len=8)
    hidden, inter, layers, kv = 4096, 14336, 32, 8 * 128
    attention = 2 * hidden * hidden + 2 * hidden * kv  # q, o; k, v
    expert = 3 * hidden * inter  # gate, up, down
    router, norms = 8 * hidden, 2 * hidden
    shared = 2 * 32000 * hidden + hidden  # embedding, LM head, final norm
    p = r["params"]
    # Mistral AI's "46.7B total, 12.9B active" (Mixtral of Experts, Jiang et al. 2024)
    assert p["unique"] == layers * (attention + router + 8 * expert + norms) + shared == 46_702_792_704
    assert p["active"] == layers * (attention + router + 2 * expert + norms) + shared == 12_879_925_248
    assert r["counted_on"] == "meta" and r["flops"]["coverage"] == 1.0


def test_pooling_one_token_of_a_dense_model_is_not_routing():
    """Issue 31: CLIP's text tower pools the end-of-text token, picked by an argmax over the token
    ids, and its projection reads that one row; read as routing, its active parameters came out
    below its unique ones (151.02 M against 151.28 M). A dense model's are equal."""
    r = measure("hf:clip")
    p = r["params"]
    assert p["unique"] == 151_277_313  # openai/clip-vit-base-patch32's config, as transformers builds it
    assert p["active"] == p["applied"] == p["unique"]
