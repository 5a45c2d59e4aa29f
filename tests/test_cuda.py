"""CUDA attention backends count like meta. Skipped without a GPU (CI has none);
benchmarks/gpu_count_invariance.py is the full check on a GPU."""

import pytest
import torch

from fairness.indicators.flops import count
from tiny_models import Attention

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
@pytest.mark.parametrize("backend", ["FLASH_ATTENTION", "EFFICIENT_ATTENTION", "CUDNN_ATTENTION", "MATH"])
def test_attention_backends_count_like_meta(backend):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    def run(device):
        q = torch.randn(2, 8, 64, 64, device=device, dtype=torch.float16)
        kv = torch.randn(2, 2, 64, 64, device=device, dtype=torch.float16)
        r = count(Attention(is_causal=True, gqa=True), (q, kv, kv))
        return r.macs, r.other_flops, r.attention_effective_macs, r.bytes_moved, r.activations

    with sdpa_kernel(getattr(SDPBackend, backend)):
        try:
            on_cuda = run("cuda")
        except RuntimeError as e:
            pytest.skip(f"backend unavailable here: {e}")
    assert on_cuda == run("meta")
