"""The GPU's state over each timed window (issue 27): NVML read after every block, summarized per
window; a throttle reason other than idle marks the model, and windows whose SM clocks moved more
than 5% between the two models of a pair say so. NVML is faked here; the H200 reads it for real
(benchmarks/gpu_latency_reference.py)."""


import torch

from fairness.indicators.gpu_state import StateLog, reasons
from fairness.judgement import judge
from test_flags import rec


class FakeNvml:
    """pynvml's calls that StateLog makes, answering from a list of states, one per sample."""
    NVML_CLOCK_SM, NVML_CLOCK_MEM, NVML_TEMPERATURE_GPU = 1, 2, 0

    def __init__(self, states):
        self.states, self.i = states, -1

    def _now(self):
        return self.states[self.i]

    def nvmlDeviceGetClockInfo(self, handle, which):
        if which == self.NVML_CLOCK_SM:
            self.i += 1  # the first query of a sample
            return self._now()["sm"]
        return 3201

    def nvmlDeviceGetMaxClockInfo(self, handle, which):
        return 1980

    def nvmlDeviceGetTemperature(self, handle, which):
        return self._now().get("temp", 40)

    def nvmlDeviceGetPowerUsage(self, handle):
        return self._now().get("mw", 300_000)

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle):
        return self._now().get("mask", 0)


def _log(states):
    log = StateLog(handle=None, nvml=FakeNvml(states))
    for _ in states:
        log.sample()
    return log.summary()


def test_reasons_name_the_bits():
    assert reasons(0x1 | 0x4) == ["gpu_idle", "sw_power_cap"]
    assert reasons(0x1000) == ["0x1000"]  # a bit a newer driver adds stays visible


def test_a_window_held_down_by_its_power_cap_is_throttled():
    s = _log([{"sm": 1980, "mask": 0x1}, {"sm": 1755, "mask": 0x4, "temp": 61, "mw": 699_500},
              {"sm": 1800, "mask": 0x4}])
    assert s["samples"] == 3
    assert s["sm_clock_mhz"] == {"min": 1755, "median": 1800, "max": 1980, "gpu_max": 1980}
    assert s["temperature_c"]["max"] == 61 and s["power_w"]["max"] == 699.5
    assert s["throttle_reasons"] == ["gpu_idle", "sw_power_cap"] and s["throttled"] == ["sw_power_cap"]


def test_idle_or_a_power_cap_that_barely_moves_the_clock_is_not_throttled():
    assert _log([{"sm": 1980, "mask": 0x1}])["throttled"] is None  # idle between blocks: not a slowdown
    # what the H200 shows at batch 256: sw_power_cap set, the median clock 0.8% under its maximum
    s = _log([{"sm": 1965, "mask": 0x4}] * 3)
    assert s["throttle_reasons"] == ["sw_power_cap"] and s["throttled"] is None


def test_no_samples_no_state():
    assert StateLog(None, FakeNvml([])).summary() is None


def test_cpu_has_no_state():
    assert StateLog.for_device(torch.device("cpu")) is None


def _timed(name, role, clock, mask=0):  # mask 0x4: sw_power_cap
    state = _log([{"sm": clock, "mask": mask}] * 3)
    runs = [{"batch_size": 256, "throughput": {"samples_per_s": 1000.0}, "gpu_state": state,
             "cuda_graph": {"throughput": {"samples_per_s": 1000.0}, "gpu_state": state}}]
    return rec(name, role, throughput=1000.0, runs=runs)


def _flags(a, b):
    return {f["id"]: f for f in judge({"models": [a, b]})["flags"]}


def test_a_throttled_window_is_a_note_on_its_model():
    flags = _flags(_timed("P", "proposed", 1800, mask=0x4), _timed("B", "baseline", 1800, mask=0x1))
    f = flags["gpu-throttled"]
    assert f["models"] == ["P"] and f["cuts"] == "note" and "sw_power_cap" in f["message"]
    assert "batch 256, CUDA graph: sw_power_cap" in f["message"]
    assert "gpu-throttled" not in _flags(_timed("P", "proposed", 1980), _timed("B", "baseline", 1980))


def test_clocks_more_than_5_percent_apart_between_the_two_models_say_so():
    f = _flags(_timed("P", "proposed", 1980), _timed("B", "baseline", 1860))["clocks-moved"]  # 6.5% apart
    assert f["cuts"] == "note" and "1980 against 1860 MHz" in f["message"]
    assert "clocks-moved" not in _flags(_timed("P", "proposed", 1980), _timed("B", "baseline", 1900))  # 4.2%
