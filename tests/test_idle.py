"""The device idle share opens a torch.profiler window only where Kineto can tear CUPTI down after
it: an attached CUPTI slows every later kernel, and so every model timed after the profile
(benchmarks/RESULTS.md, gpu_latency_state.py)."""

import pytest
import torch

from fairness.indicators import idle


def test_teardown_is_available_on_cuda_12_6_and_later(monkeypatch):
    monkeypatch.delenv("TEARDOWN_CUPTI", raising=False)
    monkeypatch.setattr(torch.version, "cuda", "12.6")
    assert idle.cupti_teardown_unavailable() is None
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    assert idle.cupti_teardown_unavailable() is None


def test_before_cuda_12_6_the_idle_share_is_not_measured_and_says_why(monkeypatch):
    monkeypatch.delenv("TEARDOWN_CUPTI", raising=False)
    monkeypatch.setattr(torch.version, "cuda", "12.4")
    why = idle.cupti_teardown_unavailable()
    assert "CUDA 12.4" in why and "12.6" in why
    with pytest.raises(RuntimeError, match="CUDA 12.4"):
        idle.idle_share(lambda: None, torch.device("cuda"))


def test_a_user_who_keeps_cupti_attached_is_told_what_it_costs(monkeypatch):
    monkeypatch.setenv("TEARDOWN_CUPTI", "0")
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    why = idle.cupti_teardown_unavailable()
    assert "TEARDOWN_CUPTI=0" in why and "unset it" in why
