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
    # hf: builds the causal LM: its head (64 x 100, untied in Llama) at each of the 16 positions
    assert r["flops"]["macs"] - rotary == 16 * 2 * per_token + att["macs_dense"] + 16 * 64 * 100


def test_t5_gets_decoder_inputs():
    r = measure("hf:t5", kwargs=dict(d_model=32, d_ff=64, num_layers=1, num_heads=2, d_kv=16,
                                     vocab_size=50), seq_len=8)
    assert r["input"]["decoder_seq_len"] == 8
    # one embedding for the encoder's and the decoder's lookups and the tied output head: an embedding
    # counts once in every sense (a lookup reads rows; tying is storage, not the sharing of ALBERT)
    assert r["params"]["applied"] == r["params"]["unique"] == r["params"]["total"]
    assert r["flops"]["fvcore_macs"] == r["flops"]["macs"]


def test_gpt2_small():
    # 124,439,808: GPT-2 small (Radford et al. 2019; the gpt2 model card's 124M), as GPT2Model builds it:
    # token (50257 x 768) and position (1024 x 768) embeddings, 12 blocks of two layer norms, c_attn
    # (768 x 2304 + 2304), c_proj (768 x 768 + 768), c_fc (768 x 3072 + 3072) and the MLP's c_proj
    # (3072 x 768 + 768), and the final layer norm.
    block = 2 * 2 * 768 + (768 * 2304 + 2304) + (768 * 768 + 768) + (768 * 3072 + 3072) + (3072 * 768 + 768)
    assert measure("hf:gpt2", fvcore=False)["params"]["unique"] == 50257 * 768 + 1024 * 768 + 12 * block + 2 * 768 \
        == 124_439_808


def test_t5_small():
    # 60,506,624: T5-small (Raffel et al. 2020, "about 60 million"; the t5-small model card's 60.5M),
    # T5Config's defaults: a shared 32128 x 512 embedding; 6 encoder blocks of attention (4 x 512 x 512)
    # and a ReLU MLP (2 x 512 x 2048), 6 decoder blocks with cross-attention too, a layer norm (512)
    # before each, a final one and a relative-position bias (32 buckets x 8 heads) in each stack.
    encoder = 6 * (4 * 512 * 512 + 2 * 512 * 2048 + 2 * 512) + 32 * 8 + 512
    decoder = 6 * (8 * 512 * 512 + 2 * 512 * 2048 + 3 * 512) + 32 * 8 + 512
    r = measure("hf:t5", fvcore=False)
    assert r["params"]["unique"] == 32128 * 512 + encoder + decoder == 60_506_624


def test_distilbert_base():
    # 66,362,880: DistilBERT (Sanh et al. 2019, "66M"): BERT-base's embeddings (30522 + 512 positions,
    # no token types, a layer norm) and 6 of its 12 layers.
    layer = 4 * (768 * 768 + 768) + (768 * 3072 + 3072) + (3072 * 768 + 768) + 2 * 2 * 768
    r = measure("hf:distilbert", fvcore=False)
    assert r["params"]["unique"] == (30522 + 512) * 768 + 2 * 768 + 6 * layer == 66_362_880


def test_hf_language_models_are_built_with_their_head():
    # GPT-2 generates text through an output head tied to its token embedding (issue 31, item 9): the
    # head's MACs (positions x n_embd x vocab) are counted, its weight once in every parameter sense.
    # hf-base: builds the bare body.
    tiny = dict(n_layer=2, n_embd=64, n_head=4, vocab_size=1000, n_positions=64)
    lm = measure("hf:gpt2", kwargs=tiny, seq_len=16, fvcore=False)
    body = measure("hf-base:gpt2", kwargs=tiny, seq_len=16, fvcore=False)
    assert lm["flops"]["macs"] - body["flops"]["macs"] == 16 * 64 * 1000
    for sense in ("total", "unique", "applied", "active", "embedding", "non_embedding"):
        assert lm["params"][sense] == body["params"][sense], sense
    assert body["params"]["unique"] == (1000 + 64) * 64 + 2 * (2 * 2 * 64 + 64 * 192 + 192 + 64 * 64 + 64
                                                                 + 64 * 256 + 256 + 256 * 64 + 64) + 2 * 64
    # an encoder has no one head: hf:bert stays the bare model, as its paper counts it
    bert = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, vocab_size=100)
    assert (measure("hf:bert", kwargs=bert, seq_len=8, fvcore=False)["params"]
            == measure("hf-base:bert", kwargs=bert, seq_len=8, fvcore=False)["params"])
