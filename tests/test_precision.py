"""Precision as deployed (issue 29): bfloat16 and float16 run inference with the model and its
floating inputs cast to the dtype (native), autocast on request; what ran is recorded with the
number, with the native output's error against float32; a model whose native output overflows
falls back to autocast with the reason. On the CPU, with tiny models."""

import pytest
import torch
from torch import nn

from fairness.measure import Target, bytes_in, measure_models
from fairness.runner import RunSettings
from cli_run import one_line_exit_2, run

FAST = dict(device="cpu", min_duration_s=0.05, warmup_s=0.01, min_samples=3, idle=False, energy=False)


def tiny():
    return nn.Sequential(nn.Linear(16, 32), nn.LayerNorm(32), nn.GELU(), nn.Linear(32, 4))


class Overflows(nn.Module):
    """A product of eight values over 300: about 6.6e19, past float16's 65,504 when run natively;
    autocast runs prod in float32 (it is on autocast's float32 list, CPU and CUDA alike)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return (self.fc(x).abs() + 300).prod(-1)


def _record(model, dtype, precision=None):
    res = measure_models([Target(model, inputs=torch.randn(1, 16 if not isinstance(model, Overflows) else 8))],
                         fvcore=False, speed=RunSettings(dtype=dtype, precision=precision, **FAST))
    return res["models"][0]


def _speed(model, dtype, precision=None):
    return _record(model, dtype, precision).speed


def test_native_bfloat16_is_the_default_and_is_recorded():
    sp = _speed(tiny(), "bfloat16")
    assert sp.settings["precision"] == "native"
    p = sp.precision
    assert p["inference"] == "native" and p["weights"] == "bfloat16" and p["dtype"] == "bfloat16"
    # bfloat16 keeps about 3 significant digits: the output moves by a few parts in a thousand
    assert 0 < p["rel_error_vs_float32"] < 0.05
    assert sp.throughput["samples_per_s"] > 0


def test_bytes_follow_the_dtype_the_weights_ran_in():
    # tiny(): 16*32+32 + 2*32 + 32*4+4 = 740 parameters, all floating; its input is floating too
    native, auto, fp32 = (_record(tiny(), "bfloat16").memory, _record(tiny(), "bfloat16", "autocast").memory,
                          _record(tiny(), "float32").memory)
    assert fp32["param_bytes"] == auto["param_bytes"] == 740 * 4 and native["param_bytes"] == 740 * 2
    assert native["bytes_dtype"] == "bfloat16" and "bytes_dtype" not in auto
    assert fp32["bytes_moved"] == auto["bytes_moved"] == 2 * native["bytes_moved"] > 0


def test_bytes_in_another_dtype_keep_integer_tensors_whole():
    # token ids (int64) are not cast; float32 bytes halve in bfloat16 and float16
    assert bytes_in({"float32": 400, "int64": 80}, "bfloat16") == 200 + 80
    assert bytes_in({"float32": 400, "bool": 3}, "float16") == 203
    assert bytes_in({"float32": 400}, "float32") == 400


def test_autocast_on_request_keeps_float32_weights():
    sp = _speed(tiny(), "bfloat16", "autocast")
    assert sp.settings["precision"] == "autocast"
    assert sp.precision["inference"] == "autocast" and sp.precision["weights"] == "float32"


def test_float32_has_no_precision_to_choose():
    sp = _speed(tiny(), "float32")
    assert sp.settings["precision"] is None and sp.precision is None


def test_a_caller_model_is_given_back_in_float32():
    model = tiny()
    _speed(model, "bfloat16")
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_a_model_that_overflows_in_float16_falls_back_to_autocast_with_the_reason():
    sp = _speed(Overflows(), "float16")
    p = sp.precision
    assert p["inference"] == "autocast" and "not finite" in p["fallback"]
    assert sp.throughput["samples_per_s"] > 0  # timed all the same, under autocast


@pytest.mark.parametrize("args, expected", [
    (["--dtype", "bfloat16", "--precision", "fast"], "--precision fast: expected native"),
    (["--dtype", "float32", "--precision", "native"], "--precision native with --dtype float32"),
    (["--precision", "autocast"], "--precision autocast with --dtype float32"),
])
def test_bad_precision_is_one_line_exit_2(args, expected):
    one_line_exit_2(run("measure", "timm:resnet18", "--device", "cpu", "--image-size", "32", "-q", *args), expected)


def test_native_and_autocast_side_by_side_give_paired_ratios_per_precision():
    """`--precision native,autocast`: both timed in one interleaved run; each precision's headline
    and its own paired speed-ups, the native one first."""
    res = measure_models([Target(tiny(), inputs=torch.randn(1, 16)), Target(tiny(), inputs=torch.randn(1, 16),
                                                                             role="baseline")],
                         fvcore=False, speed=RunSettings(dtype="bfloat16", precision="native,autocast", **FAST))
    sp = res["models"][0].speed
    assert sp.settings["precisions"] == ["native", "autocast"] and sp.precision["inference"] == "native"
    assert sp.throughput["samples_per_s"] > 0 and sp.autocast["throughput"]["samples_per_s"] > 0
    impls = {r["implementation"] for r in res["speed_ratios"]}
    assert {"eager", "autocast"} <= impls


def test_a_ranking_that_flips_between_precisions_is_a_finding():
    from fairness.judgement import judge
    from test_flags import rec, with_speed

    p = with_speed(rec("P", "proposed", throughput=130.0), autocast={"throughput": {"samples_per_s": 80.0}})
    b = with_speed(rec("B", throughput=100.0), autocast={"throughput": {"samples_per_s": 100.0}})
    (f,) = [f for f in judge({"models": [p, b]})["findings"] if f["id"] == "precision-flip"]
    assert f["cuts"] == "against" and "P has the higher throughput with native" in f["message"]
    p = with_speed(p, autocast={"throughput": {"samples_per_s": 120.0}})  # P wins both ways: no flip
    assert "precision-flip" not in [f["id"] for f in judge({"models": [p, b]})["findings"]]


def test_both_precisions_with_isolate_is_one_line_exit_2():
    one_line_exit_2(run("measure", "timm:resnet18", "--device", "cpu", "--image-size", "32", "-q", "--dtype",
                        "bfloat16", "--precision", "native,autocast", "--isolate"), "with --isolate")


class Spy(nn.Module):
    """Notes cuDNN's autotuning and TF32 flags at each call, with the dtype of its weights, in
    one list that the native copy (a deepcopy) shares."""

    def __init__(self, seen: list):
        super().__init__()
        self.fc, self.seen = nn.Linear(16, 4), seen

    def __deepcopy__(self, memo):
        twin = Spy(self.seen)
        twin.fc.load_state_dict(self.fc.state_dict())
        return twin

    def forward(self, x):
        cudnn = torch.backends.cudnn
        self.seen.append((self.fc.weight.dtype, cudnn.benchmark, cudnn.allow_tf32))
        return self.fc(x)


def test_the_float32_reference_runs_without_autotuning_or_tf32_and_the_flags_come_back():
    # the reference's float32 shapes are never timed: autotuning them cost EfficientNet-B4 20 s
    cudnn = torch.backends.cudnn
    saved = cudnn.benchmark, cudnn.allow_tf32
    cudnn.benchmark, cudnn.allow_tf32 = True, True
    try:
        spy = Spy([])
        _speed(spy, "bfloat16")
        first_native = next(i for i, seen in enumerate(spy.seen) if seen[0] == torch.bfloat16)
        # the call before the first native one is the precision check's reference (counting runs earlier)
        assert spy.seen[first_native - 1] == (torch.float32, False, False)
        assert spy.seen[first_native][1:] == (True, True)  # the native shapes are the timed ones: autotuned
        assert (cudnn.benchmark, cudnn.allow_tf32) == (True, True)
    finally:
        cudnn.benchmark, cudnn.allow_tf32 = saved
