"""Every op that common vision and language models execute has a rule: counted on meta,
each of these has coverage of at least 99% and no unknown ops. Hugging Face language models
run from small configs of their own family (two layers: the ops of one layer are the ops of
all); timm and torchvision models at their own size (counting on meta does no arithmetic, so
size costs little: the time goes to the number of ops)."""

import pytest

import fairness
from fairness.flags import COVERAGE_MIN
from fairness.results import to_plain

SMALL_LM = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, vocab_size=100)

SOURCES = {
    "timm:resnet50": {},
    "timm:efficientnet_b0": {},
    "timm:mobilenetv3_large_100": {},  # hardswish, hardsigmoid
    "timm:regnety_016": {},
    "timm:mixer_b16_224": {},
    "timm:levit_128": {},  # attention written as q @ k^T
    "timm:eva02_tiny_patch14_224": {},  # rotary embeddings, SwiGLU
    "timm:swin_tiny_patch4_window7_224": {},  # windowed attention with a relative position bias
    "timm:convnext_tiny": {},  # channels-last pooling (as_strided_)
    "timm:vit_base_patch16_224": {},
    "timm:deit_small_patch16_224": {},
    "torchvision:resnet50": {},
    "torchvision:vit_b_16": {},  # nn.MultiheadAttention
    "torchvision:convnext_tiny": {},
    "torchvision:efficientnet_b0": {},
    "torchvision:mobilenet_v3_large": {},
    "hf:bert": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                    vocab_size=100),
    "hf:gpt2": dict(n_embd=64, n_layer=2, n_head=4, vocab_size=100),
    "hf:t5": dict(d_model=64, d_ff=128, num_layers=2, num_heads=4, d_kv=16, vocab_size=100),
    "hf:distilbert": dict(dim=64, hidden_dim=128, n_layers=2, n_heads=4, vocab_size=100),
    "hf:clip": dict(text_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                     num_attention_heads=4, vocab_size=100),
                    vision_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                       num_attention_heads=4, image_size=64, patch_size=16),
                    projection_dim=32),
    "hf:whisper": dict(d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                       decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128, num_mel_bins=16,
                       max_source_positions=32, max_target_positions=32, vocab_size=100, pad_token_id=0,
                       bos_token_id=1, eos_token_id=2, decoder_start_token_id=1),
    "hf:llama": SMALL_LM,
    "hf:mistral": SMALL_LM,
    "hf:qwen2": SMALL_LM,
    "hf:gemma": dict(SMALL_LM, head_dim=16),
}


@pytest.mark.parametrize("source", SOURCES)
def test_every_op_is_counted(source):
    r = to_plain(fairness.measure(source, kwargs=SOURCES[source], fvcore=False))
    flops = r["flops"]
    assert r["counted_on"] == "meta"
    assert flops["unknown_ops"] == {}
    assert flops["coverage"] >= COVERAGE_MIN
    assert flops["macs"] > 0
