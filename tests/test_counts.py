"""Hand-worked counts on tiny models. Every expected number is derived in the test."""

import pytest
import torch
from torch import nn

import fairness
from fairness.indicators.flops import causal_pairs, count
from fairness.results import to_plain
from tiny_models import Attention, ListedTwice, SharedBlock, TiedLM, Top1MoE


def m(model, inputs, **kw):
    return to_plain(fairness.measure(model, inputs, fvcore=False, **kw))


def test_linear():
    r = m(nn.Linear(4, 3), torch.randn(2, 4))
    # per example: 4 x 3 multiply-accumulates, plus 3 bias adds
    assert r["flops"]["macs"] == 12
    assert r["flops"]["other_flops"] == 3
    assert r["flops"]["flops"] == 2 * 12 + 3
    assert r["params"]["unique"] == r["params"]["total"] == r["params"]["applied"] == 15
    assert r["activations"] == 3
    # bytes (float32, batch of 2): addmm reads bias 3, input 2x4, weight 4x3 and writes 2x3
    assert r["memory"]["bytes_moved"] == (3 + 8 + 12 + 6) * 4 / 2
    assert r["input"]["batch_size"] == 2


def test_conv2d():
    r = m(nn.Conv2d(3, 8, 3, padding=1), torch.randn(1, 3, 8, 8))
    out = 8 * 8 * 8  # C_out x H x W
    assert r["flops"]["macs"] == out * 3 * 3 * 3  # each output: C_in x 3 x 3 products
    assert r["flops"]["other_flops"] == out  # bias
    assert r["params"]["unique"] == 8 * 3 * 9 + 8
    assert r["activations"] == out


def test_grouped_and_transposed_conv():
    grouped = m(nn.Conv2d(4, 8, 3, padding=1, groups=2, bias=False), torch.randn(1, 4, 5, 5))
    assert grouped["flops"]["macs"] == 8 * 25 * (4 // 2) * 9
    up = m(nn.ConvTranspose2d(4, 2, 2, stride=2, bias=False), torch.randn(1, 4, 3, 3))
    assert up["flops"]["macs"] == 4 * 9 * 2 * 4  # every input element times C_out x kernel


def test_block_applied_three_times():
    r = m(SharedBlock(3), torch.randn(1, 4))
    assert r["params"]["unique"] == r["params"]["total"] == 20
    assert r["params"]["applied"] == 60
    assert r["params"]["active"] == 20  # one token touches each weight, however often
    assert r["flops"]["macs"] == 3 * 16
    assert r["flops"]["by_module"]["block"]["calls"] == 3
    assert r["flops"]["by_module"]["block"]["macs"] == 48  # shared module: one row, its calls summed
    assert r["flops"]["by_module"]["(model)"]["macs"] == 48  # not double-counted in the total


def test_same_block_registered_twice():
    r = m(ListedTwice(), torch.randn(1, 4))
    assert r["params"]["total"] == 40  # two registrations
    assert r["params"]["unique"] == 20  # one storage
    assert r["params"]["applied"] == 40  # two uses


def test_tied_embeddings():
    r = m(TiedLM(), torch.randint(0, 10, (1, 5)))
    p = r["params"]
    # read by the lookup and by the output projection, and counted once in every sense (issue 31: a
    # tied head is how the model is stored, not parameter sharing; read as sharing, every tied
    # language model would be flagged against an untied one)
    assert p["unique"] == p["total"] == p["applied"] == 40
    assert p["embedding"] == 40 and p["non_embedding"] == 0
    assert r["flops"]["macs"] == 5 * 4 * 10  # the lookup does no arithmetic


def test_top1_mixture_of_experts_active_params():
    r = m(Top1MoE(), torch.randn(1, 16, 8))  # one example of 16 tokens
    p = r["params"]
    assert p["unique"] == 36 + 4 * 72
    assert p["active"] == pytest.approx(36 + 72)
    assert p["applied"] == 36 + 4 * 72  # every expert got some tokens (seeded)
    # router: 16 tokens x 8 x 4; experts: each token through one 8 x 8 expert
    assert r["flops"]["macs"] == 16 * 8 * 4 + 16 * 64


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_gqa_and_causal_attention(device):
    q = torch.randn(1, 8, 6, 16, device=device)
    kv = torch.randn(1, 2, 6, 16, device=device)  # 2 key/value heads shared by 8 query heads
    dense = m(Attention(gqa=True), (q, kv, kv))
    assert dense["flops"]["macs"] == 8 * 6 * 6 * (16 + 16)
    causal = m(Attention(is_causal=True, gqa=True), (q, kv, kv))
    att = causal["flops"]["attention"]
    assert att["macs_dense"] == 8 * 6 * 6 * 32
    assert att["macs_effective"] == 8 * (6 * 7 // 2) * 32  # query i sees keys 0..i
    assert att["causal_calls"] == 1


def test_causal_pairs_rectangular():
    assert causal_pairs(3, 3) == 6
    assert causal_pairs(2, 5) == 3  # top-left aligned: rows see 1 and 2 keys
    assert causal_pairs(5, 2) == 1 + 2 + 2 + 2 + 2


@pytest.mark.parametrize("need_weights", [False, True])
def test_multihead_attention_fast_path_keeps_projections(need_weights):
    class MHA(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = nn.MultiheadAttention(16, 4, batch_first=True)

        def forward(self, x):
            return self.mha(x, x, x, need_weights=need_weights)[0]

    expected = 5 * 16 * 48 + 4 * 5 * 5 * (4 + 4) + 5 * 16 * 16  # in-proj, attention, out-proj
    records = []
    for device in ("cpu", "meta"):
        with torch.device(device):
            model, x = MHA().eval(), torch.randn(1, 5, 16)
        r = m(model, x)
        assert r["flops"]["macs"] == expected
        assert r["flops"]["attention"]["macs_dense"] == 4 * 5 * 5 * (4 + 4)
        records.append((r["flops"]["flops"], r["flops"]["by_op"], r["memory"]["bytes_moved"]))
    # The SDPA inside nn.MultiheadAttention runs its math path on every device: the same ops.
    assert records[0] == records[1]


def test_native_mha_op_counted_whole():
    """If the fused op is reached directly, its handle still counts the projections."""
    mha = nn.MultiheadAttention(16, 4, batch_first=True).eval()
    x = torch.randn(1, 5, 16)
    args = (x, x, x, 16, 4, mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight, mha.out_proj.bias)

    class Fused(nn.Module):
        def forward(self, x):
            return torch._native_multi_head_attention(*args, need_weights=False)[0]

    assert count(Fused(), (x,)).macs == 5 * 16 * 48 + 4 * 5 * 5 * 8 + 5 * 16 * 16


def test_counts_identical_on_meta_and_cpu():
    import timm

    def record(device):
        with torch.device(device):
            model = timm.create_model("vit_tiny_patch16_224", pretrained=False, depth=2)
        r = m(model, torch.randn(2, 3, 224, 224, device=device))
        return r["params"], r["activations"], r["memory"]["bytes_moved"], {
            k: r["flops"][k] for k in ("macs", "flops", "other_flops", "coverage", "by_op", "by_module", "attention")}

    assert record("meta") == record("cpu")


def test_unknown_ops_lower_coverage():
    class Odd(nn.Module):
        def forward(self, x):
            return torch.linalg.det(x)  # no handle: must be reported, not silently zero

    r = m(Odd(), torch.randn(1, 3, 3))
    assert r["flops"]["coverage"] < 1
    assert any("det" in op or "lu" in op for op in r["flops"]["unknown_ops"])


def test_module_object_on_meta_from_notebook():
    """A model defined here, not importable by name, measured from Python."""

    class Local(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(32, 32)

        def forward(self, x):
            return torch.relu(self.fc(x))

    with torch.device("meta"):
        model = Local()
    r = m(model, torch.empty(4, 32, device="meta"))
    assert r["flops"]["macs"] == 32 * 32
    assert r["flops"]["other_flops"] == 32 + 32  # bias add, relu
    assert r["counted_on"] == "meta"
    assert r["source"].startswith("object:")


def test_explicit_mask_effective_pairs_read_from_values():
    class Masked(nn.Module):
        def forward(self, q, mask):
            return torch.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=mask)

    q = torch.randn(1, 2, 4, 8)
    mask = torch.ones(4, 4, dtype=torch.bool).tril()  # causal, given as values: 10 of 16 pairs
    att = m(Masked(), (q, mask))["flops"]["attention"]
    assert att["macs_dense"] == 2 * 16 * 16
    assert att["macs_effective"] == 2 * 10 * 16
    additive = torch.zeros(4, 4).masked_fill(~mask, torch.finfo(torch.float32).min)
    assert m(Masked(), (q, additive))["flops"]["attention"]["macs_effective"] == 2 * 10 * 16


def test_count_leaves_nothing_behind():
    class KeepsIndices(nn.Module):
        """Stores router indices in a buffer, in place: the buffer must not stay marked."""

        def __init__(self):
            super().__init__()
            self.moe = Top1MoE()
            self.register_buffer("last_choice", torch.zeros(16, dtype=torch.long))

        def forward(self, x):
            self.last_choice.copy_(self.moe.router(x).argmax(-1).reshape(-1))
            return self.moe(x)

    model = KeepsIndices()
    before = torch.backends.mha.get_fastpath_enabled()
    count(model, (torch.randn(1, 16, 8),))
    assert torch.backends.mha.get_fastpath_enabled() == before
    assert all(not mod._forward_hooks and not mod._forward_pre_hooks for mod in model.modules())
    assert not [k for k in model.last_choice.__dict__ if k.startswith("_fairness")]
    assert model.training  # the mode the model came in with


def test_routing_model_on_meta_says_to_use_a_real_device():
    with torch.device("meta"):
        model = Top1MoE()
    with pytest.raises(fairness.FairnessError, match="pass --count-device cpu"):
        fairness.measure(model, torch.empty(1, 16, 8, device="meta"), fvcore=False)


def test_hardswish_is_pointwise_though_torch_does_not_tag_it():
    """MobileNetV3's activation: one op per element, in place or not (torch tags neither pointwise)."""

    class Hard(nn.Module):
        def forward(self, x):
            return nn.functional.hardswish(x) + nn.functional.hardswish(x.clone(), inplace=True)

    r = m(Hard(), torch.randn(2, 5))
    assert r["flops"]["coverage"] == 1.0 and not r["flops"]["unknown_ops"]
    assert r["flops"]["other_flops"] == 5 * 3  # per example: two hardswishes and the add, 5 elements each


def test_a_dual_encoder_gets_tokens_and_an_image():
    """CLIP's config holds a text and a vision config, and no vocab_size of its own: its input is
    tokens for the text tower (at most its 77 positions by default) and an image for the vision
    tower, both described in the record."""
    from fairness.measure import measure

    tiny = {"text_config": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                            "num_attention_heads": 2, "vocab_size": 100},
            "vision_config": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                              "num_attention_heads": 2, "image_size": 32, "patch_size": 16}, "projection_dim": 16}
    r = measure("hf:clip", kwargs=tiny, fvcore=False)
    inp = r.input
    assert (inp["kind"], inp["seq_len"], inp["vocab_size"]) == ("tokens", 77, 100)
    assert inp["image"] == {"channels": 3, "height": 32, "width": 32}
    assert r.flops["coverage"] == 1.0 and r.flops["macs"] > 0


def test_a_speech_encoder_decoder_gets_log_mel_features_and_decoder_tokens():
    """Whisper's default input: the longest clip its encoder takes (2 frames per position) and
    decoder tokens within its positions."""
    from fairness.measure import measure

    tiny = {"d_model": 16, "encoder_layers": 1, "decoder_layers": 1, "encoder_attention_heads": 2,
            "decoder_attention_heads": 2, "encoder_ffn_dim": 32, "decoder_ffn_dim": 32, "num_mel_bins": 8,
            "max_source_positions": 10, "max_target_positions": 16, "vocab_size": 50, "pad_token_id": 0,
            "bos_token_id": 1, "eos_token_id": 2, "decoder_start_token_id": 1}
    r = measure("hf:whisper", kwargs=tiny, fvcore=False)
    inp = r.input
    assert (inp["kind"], inp["channels"], inp["frames"], inp["decoder_seq_len"]) == ("features", 8, 20, 16)
    assert r.flops["coverage"] == 1.0 and r.flops["macs"] > 0


def test_an_op_has_one_rule():
    """The registry keeps one row per op: a second registration would hide the first."""
    from fairness.indicators.flops import OPS, register_op

    with pytest.raises(ValueError, match="registered twice"):
        register_op(torch.ops.aten.mm, lambda args, kwargs, out: None)
    assert OPS[torch.ops.aten.mm].formula.__name__ == "_mm"


def test_einsum_attention_is_attention():
    """An einsum reaches dispatch as permutes, views and a bmm: the bmm whose output a softmax
    reads holds the scores, the bmm that reads the softmax's output sums the values."""

    class Einsum(nn.Module):
        def forward(self, q, k, v):
            scores = torch.einsum("bhqd,bhkd->bhqk", q, k) * 8 ** -0.5
            return torch.einsum("bhqk,bhkd->bhqd", scores.softmax(-1), v)

    q, k = torch.randn(1, 2, 4, 8), torch.randn(1, 2, 6, 8)
    r = m(Einsum(), (q, k, k))
    # 2 heads x 4 queries x 6 keys, 8-long dot products: q.k, then the same for p.v
    assert r["flops"]["macs"] == 2 * 4 * 6 * 8 * 2
    assert r["flops"]["attention"] == {"calls": 1, "causal_calls": 0, "macs_dense": 2 * 4 * 6 * 8 * 2,
                                       "macs_effective": 2 * 4 * 6 * 8 * 2}
    # counted as the matrix products they are: the by-op table still says bmm
    assert r["flops"]["by_op"]["bmm"]["macs"] == 2 * 4 * 6 * 8 * 2


def test_a_softmax_over_a_linear_layer_is_not_attention():
    """A router's softmax reads a linear layer's output (mm, not a batched product)."""
    r = m(nn.Sequential(nn.Linear(8, 4), nn.Softmax(-1)), torch.randn(1, 16, 8))
    assert r["flops"]["attention"]["calls"] == 0 and r["flops"]["attention"]["macs_dense"] == 0


def test_activations_torch_does_not_tag_pointwise():
    """One op per output element, as torch's tag costs gelu or silu."""

    class Acts(nn.Module):
        def forward(self, x):
            return (nn.functional.hardsigmoid(x).sum() + nn.functional.glu(x).sum()
                    + nn.functional.logsigmoid(x).sum() + nn.functional.mish(x.clone(), inplace=True).sum())

    r = m(Acts(), torch.randn(1, 6))
    assert r["flops"]["coverage"] == 1.0 and not r["flops"]["unknown_ops"]
    # hardsigmoid 6, glu 3 (it halves the input), logsigmoid 6, mish 6; four sums over 6, 3, 6, 6
    # inputs; three adds of scalars
    assert r["flops"]["other_flops"] == 6 + 3 + 6 + 6 + (6 + 3 + 6 + 6) + 3


def test_a_model_that_reads_values_moves_to_the_cpu_by_itself():
    """DeBERTa-v2 checks its input for padding with `pad_token_id in input_ids` (an .item()),
    which meta tensors cannot answer: it is counted on the CPU, and the progress says why."""
    tiny = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, vocab_size=100)
    said = []
    r = to_plain(fairness.measure("hf:deberta-v2", kwargs=tiny, seq_len=16, fvcore=False, progress=said.append))
    assert r["counted_on"] == "cpu"
    assert any("cannot run on meta" in s and ".item()" in s and "counting it on the cpu" in s for s in said)
    # per token: q, k, v and output projections 4 x 32x32, feed-forward 32x64 and 64x32;
    # attention: 2 heads x 16 x 16 pairs x (16 + 16) for q.k and p.v (head size 16)
    att = 2 * 16 * 16 * 32
    assert r["flops"]["attention"]["macs_dense"] == att
    assert r["flops"]["macs"] == 16 * (4 * 32 * 32 + 2 * 32 * 64) + att


def test_a_constructor_that_computes_with_tensors_is_built_on_cpu_and_counted_on_meta():
    """torch.unique has no meta kernel: the model is built on the CPU, moved to meta, counted there."""
    rec = fairness.measure("python:tiny_models:widths_from_tensors", input_factory="python:tiny_models:vector_inputs",
                           fvcore=False)
    assert rec.params["total"] == 4 * 8 + 8 + 2 * (8 * 8 + 8)
    assert rec.flops["macs"] == 4 * 8 + 2 * 8 * 8
    assert rec.counted_on == "meta"
