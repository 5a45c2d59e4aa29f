"""Golden counts of real architectures, each with its source named."""

import pytest

import fairness
from fairness.results import to_plain


def measure(source, **kw):
    return to_plain(fairness.measure(source, **kw))


def test_resnet50():
    r = measure("timm:resnet50")
    # 25.557M parameters: torchvision's model card for resnet50 (25,557,032).
    assert r["params"]["unique"] == 25_557_032
    # 4.089 GMACs: torchvision's published operation count ("GFLOPS 4.09", which are MACs).
    assert r["flops"]["macs"] == pytest.approx(4.089e9, rel=5e-4)
    # The independent engine agrees exactly once fvcore's norm and pooling extras are dropped.
    assert r["flops"]["fvcore_macs"] == r["flops"]["macs"]
    assert r["fvcore_activations"] == r["activations"]
    assert r["flops"]["coverage"] == 1.0


def test_vit_base_patch16_224():
    r = measure("timm:vit_base_patch16_224")
    # 86.568M parameters: timm's model card for vit_base_patch16_224.augreg2_in21k_ft_in1k (86.6M).
    assert r["params"]["unique"] == 86_567_656
    # 17.56 GMACs: timm's results table (17.6 GMACs), which fvcore under-reads without SDPA.
    assert r["flops"]["macs"] == pytest.approx(17.564e9, rel=5e-4)
    # Attention: 12 layers x 2 matmuls x 197^2 x 768.
    assert r["flops"]["attention"]["macs_dense"] == 12 * 2 * 197**2 * 768
    assert r["flops"]["fvcore_macs"] == r["flops"]["macs"]
    # Embeddings: patch projection (768*3*16*16 + 768), positions (197 x 768), class token (768).
    assert r["params"]["embedding"] == 768 * 3 * 16 * 16 + 768 + 197 * 768 + 768


def test_vit_cpu_flash_attention_is_counted():
    """torch's FlopCounterMode misses _scaled_dot_product_flash_attention_for_cpu (16.85 G)."""
    r = measure("timm:vit_base_patch16_224", device="cpu", fvcore=False)
    assert r["flops"]["macs"] == pytest.approx(17.564e9, rel=5e-4)
    assert r["flops"]["unknown_ops"] == {}


def test_bert_default_config():
    r = measure("hf:bert", fvcore=False)
    # 109.48M: BERT-base as reported by transformers' BertModel (with pooler).
    assert r["params"]["unique"] == 109_482_240
    # word (30522 x 768) + position (512 x 768) + token type (2 x 768) embeddings
    assert r["params"]["embedding"] == (30522 + 512 + 2) * 768
    assert r["input"]["seq_len"] == 128


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_hf_llama_gqa_attention_and_causal(device):
    # A small Llama: 2 layers, 4 query heads sharing 2 key/value heads.
    r = measure("hf:llama", kwargs=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, vocab_size=100),
                seq_len=16, fvcore=False, device=device)
    att = r["flops"]["attention"]
    head_dim = 16
    assert att["macs_dense"] == 2 * 4 * 16 * 16 * 2 * head_dim
    assert att["causal_calls"] == 2
    assert att["macs_effective"] == 2 * 4 * (16 * 17 // 2) * 2 * head_dim
    # q, o: 64x64; k, v: 64x32 (2 kv heads); MLP: 3 x 64x128 -- per token, per layer
    per_token = 64 * 64 * 2 + 64 * 32 * 2 + 3 * 64 * 128
    # Some transformers versions build the rotary table with a matmul (positions x frequencies);
    # it is counted under its module, and left out of the hand count.
    rotary = r["flops"]["by_module"].get("rotary_emb", {}).get("macs", 0)
    assert rotary in (0, 16 * head_dim // 2)
    assert r["flops"]["macs"] - rotary == 16 * 2 * per_token + att["macs_dense"]


def test_t5_gets_decoder_inputs():
    r = measure("hf:t5", kwargs=dict(d_model=32, d_ff=64, num_layers=1, num_heads=2, d_kv=16,
                                     vocab_size=50), seq_len=8)
    assert r["input"]["decoder_seq_len"] == 8
    # shared embedding used by encoder and decoder lookups: applied twice, stored once
    assert r["params"]["applied"] - r["params"]["unique"] == 50 * 32
    assert r["flops"]["fvcore_macs"] == r["flops"]["macs"]
