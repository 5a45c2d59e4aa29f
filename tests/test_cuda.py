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


@cuda
def test_speed_on_cuda_every_indicator():
    """On a GPU the record has CUDA peak memory, idle share, energy (where NVML reads) and MFU
    fields; a caller's model comes back in eval mode with its weights unchanged."""
    import fairness
    from fairness.runner import RunSettings

    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.GELU(), torch.nn.Linear(256, 64)).cuda().eval()
    before = [p.detach().clone() for p in model.parameters()]
    rec = fairness.measure(model, input_factory="python:tiny_models:wide_inputs",
                           speed=RunSettings(device="cuda", batch_sizes=(8,), train=True, min_duration_s=0.1,
                                             warmup_s=0.05))
    sp = rec["speed"]
    assert sp["errors"] == []
    assert [r["batch_size"] for r in sp["runs"]] == [1, 8]
    for r in sp["runs"]:
        mem = r["memory"]
        assert mem["peak_allocated_bytes"] >= sum(p.numel() * 4 for p in model.parameters())
        assert mem["peak_reserved_bytes"] >= mem["step_added_bytes"]
        assert 0.0 <= r["idle_share"] <= 1.0
        assert "energy" in r or "energy" in sp["unavailable"]
        assert r["achieved_flops_per_s"] > 0
        assert r["train"]["memory"]["peak_allocated_bytes"] > 0
    assert rec["memory"]["peak_bytes"] == sp["runs"][-1]["memory"]["peak_allocated_bytes"]
    assert not model.training
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


@cuda
def test_auto_batch_and_out_of_memory_on_cuda():
    """--batch auto finds a power of two and says so; a batch that cannot fit is an error
    in the record (exit 2 on the command line), and the batch before it is kept."""
    import fairness
    from fairness.runner import AUTO_BATCH_CAP, RunSettings

    fast = dict(device="cuda", min_duration_s=0.05, warmup_s=0.01, idle=False, energy=False)
    rec = fairness.measure("python:tiny_models:shared_block", input_factory="python:tiny_models:vector_inputs",
                           speed=RunSettings(batch_sizes=("auto",), **fast))
    auto = rec["speed"]["runs"][-1]
    assert auto["batch_size"] == AUTO_BATCH_CAP and auto["batch_note"].startswith("auto")
    free, _ = torch.cuda.mem_get_info()
    too_big = int(free // (4 * 4)) * 4  # [batch, 4] float32 inputs alone exceed free memory
    rec = fairness.measure("python:tiny_models:shared_block", input_factory="python:tiny_models:vector_inputs",
                           speed=RunSettings(batch_sizes=(too_big,), **fast))
    runs = rec["speed"]["runs"]
    assert "throughput" in runs[0] and runs[0]["batch_size"] == 1
    assert "out of memory" in runs[1]["error"]


@cuda
def test_isolate_keeps_memory_per_model_on_cuda():
    """A small model timed beside a large one: in one process the small one's peak reserved
    memory includes the large one's weights (the allocator is shared); with --isolate it is
    its own."""
    from fairness.measure import Target, measure_models
    from fairness.runner import RunSettings

    big_weights = 4 * (8 * 4096 + 4096 + 4 * (4096 * 4096 + 4096))  # MLPStack(4, 4096), float32
    targets = [Target("python:tiny_models:mlp_stack", kwargs={"width": 4096}, name="big"),
               Target("python:tiny_models:mlp_stack", kwargs={"width": 16}, name="small")]
    fast = dict(device="cuda", batch_sizes=(1,), min_duration_s=0.05, warmup_s=0.01, idle=True, energy=False)
    reserved = {}
    for isolate in (True, False):
        res = measure_models(targets, input_factory="python:tiny_models:mlp_inputs", fvcore=False,
                             speed=RunSettings(isolate=isolate, **fast))
        big, small = res["models"]
        assert big["speed"]["settings"]["isolate"] is isolate
        assert big["speed"]["errors"] == small["speed"]["errors"] == []
        assert 0.0 <= small["speed"]["runs"][0]["idle_share"] <= 1.0
        assert big["memory"]["peak_bytes"] >= big_weights
        reserved[isolate] = small["memory"]["peak_reserved_bytes"]
    assert reserved[False] >= big_weights  # in one process: the big model's blocks count
    assert reserved[True] < big_weights / 2  # in its own process: only its own (and its cuBLAS workspace)


@cuda
def test_cuda_graphs_beside_eager_and_a_model_that_cannot_be_captured():
    """--cuda-graphs: the replay is timed beside eager (throughput and batch-1 latency, paired
    speed-ups tagged cuda_graph); a model that syncs with the host keeps its eager numbers, and its
    graph record says why."""
    from fairness.measure import Target, measure_models
    from fairness.runner import RunSettings

    res = measure_models([Target("python:tiny_models:mlp_stack", name="ok"),
                          Target("python:tiny_models:mlp_stack", kwargs={"depth": 8}, name="deeper"),
                          Target("python:tiny_models:syncs_with_host", name="syncs")],
                         input_factory="python:tiny_models:mlp_inputs", fvcore=False,
                         speed=RunSettings(device="cuda", batch_sizes=(1, 64), cuda_graphs=True, min_duration_s=0.1,
                                           warmup_s=0.05))
    ok, deeper, syncs = res["models"]
    g = ok["speed"]["cuda_graph"]
    assert g["throughput"]["samples_per_s"] > 0 and g["latency"]["median_s"] > 0 and not g["unavailable"]
    assert syncs["speed"]["throughput"]["samples_per_s"] > 0 and syncs["speed"]["errors"] == []
    assert "capturing the CUDA graph failed" in syncs["speed"]["cuda_graph"]["unavailable"]
    graphed = {(r["model"], r["indicator"]) for r in res["speed_ratios"] if r["implementation"] == "cuda_graph"}
    assert graphed == {("deeper", "throughput"), ("deeper", "latency")} and deeper["speed"]["cuda_graph"]["latency"]
    assert ok["speed"]["settings"]["cuda_graphs"] is True
