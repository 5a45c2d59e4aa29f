"""The GPU's state while a model was timed, from NVML (nvidia-ml-py): SM and memory clocks,
temperature, board power and the clock throttle reasons.

A speed number is only as good as the clocks it ran at. NVML is read after every timed
throughput block and after each group of single-call latencies (a read costs well under a
millisecond against blocks of about 50 ms), so the state covers the timed window itself and
costs no window of its own. A window held down by a throttle reason other than the GPU being idle,
to a median SM clock more than CLOCK_SPREAD below the GPU's maximum, is flagged on its model
(flags.rule_gpu_throttled); a comparison whose models' windows ran at SM clocks more than
CLOCK_SPREAD apart says so (flags.rule_clocks_moved). The reasons alone are not enough: on an
H200 every window at batch 256 reports sw_power_cap with its median clock at 1935-1965 of
1980 MHz (benchmarks/RESULTS.md), under 3%, which a note on every model would only bury.
What an interleaved window cannot show is a model's clock when it runs alone: a model that draws
more than the board's limit borrows its neighbours' headroom. ViT-B/16 at batch 256 on an H100
settles at 1680-1845 MHz alone and 5.8% below its rate in 50 ms blocks alternating with ResNet-50
(benchmarks/gpu_power_settle.py; issue 29). So a model whose window reports a power limit
(POWER_REASONS) is timed again alone, back to back (step.Prepared.sustained): SUSTAIN_SETTLE_S for
the board to reach its limit, then SUSTAIN_TIMED_S timed. Where that sustained rate is more than
SUSTAIN_TOLERANCE below the interleaved one, it is the model's throughput (runner._sustain).
"""

from __future__ import annotations

import statistics

import torch

from .env import nvml_handle

# The names of NVML's clock throttle reasons (nvmlClocksEventReason*, formerly
# nvmlClocksThrottleReason*), by bit. GpuIdle is the GPU waiting for work, which a timed window
# has between its blocks; every other bit means the clocks were held below what was asked.
THROTTLE_REASONS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}
BENIGN = {"gpu_idle"}
# The reasons that say the board is at its power limit. The bit can be set from the first replay,
# at a sixth of the limit (ViT-B/16 on an H100), so it says "time this model alone", not "capped".
POWER_REASONS = {"sw_power_cap", "hw_power_brake_slowdown"}
# On the H100 ViT-B/16 at batch 256 reaches the 700 W limit within 0.75 s of back-to-back replays;
# its clock then swings between 1680 and 1845 MHz over about a second, which the timed part spans
# (benchmarks/gpu_power_settle.py).
SUSTAIN_SETTLE_S = 0.75
SUSTAIN_TIMED_S = 1.0
# Right after another model alone at the cap, the board is there already: ViT-L/16 after ViT-B/16
# reads 0.984-1.011 of its settled rate in every 0.25 s bin from the switch on, where from idle its
# first 0.75 s read up to 1.053 (gpu_power_settle.py --switch, H100, 2026-12-07). One bin's settle
# covers the change of clocks between the two models.
SUSTAIN_AFTER_CAPPED_S = 0.25
# A model alone cannot run faster for lack of power: a sustained rate above the interleaved one, or
# within this below it, is noise (a lone window is not paired) and the interleaved number stands.
SUSTAIN_TOLERANCE = 0.01
# Two models' windows whose median SM clocks differ by more than this ran on different GPUs, as far
# as their speed goes: 5% is what the issue that asked for it set, and above the 3% speed noise.
CLOCK_SPREAD = 0.05


def reasons(mask: int) -> list[str]:
    """NVML's throttle-reason bit mask as names (an unknown bit as its hex value)."""
    names = [name for bit, name in THROTTLE_REASONS.items() if mask & bit]
    rest = mask & ~sum(THROTTLE_REASONS)
    return names + ([hex(rest)] if rest else [])


class StateLog:
    """NVML samples over one model's timed window; `sample()` after each block, `summary()` at
    the end. `nvml` is the pynvml module (a fake in tests)."""

    def __init__(self, handle, nvml):
        self.handle, self.nvml = handle, nvml
        self.samples: list[dict] = []
        self.max_sm_clock_mhz = nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_SM)

    @classmethod
    def for_device(cls, device: torch.device) -> "StateLog | None":
        """A log for a CUDA device whose NVML answers; None elsewhere (CPU, no driver library)."""
        if device.type != "cuda":
            return None
        handle = nvml_handle(device)
        if handle is None:
            return None
        import pynvml

        try:
            log = cls(handle, pynvml)
            log.sample()
        except Exception:  # a GPU or driver that does not expose these queries
            return None
        log.samples.clear()
        return log

    def sample(self) -> None:
        n = self.nvml
        self.samples.append({
            "sm_clock_mhz": n.nvmlDeviceGetClockInfo(self.handle, n.NVML_CLOCK_SM),
            "mem_clock_mhz": n.nvmlDeviceGetClockInfo(self.handle, n.NVML_CLOCK_MEM),
            "temperature_c": n.nvmlDeviceGetTemperature(self.handle, n.NVML_TEMPERATURE_GPU),
            "power_w": n.nvmlDeviceGetPowerUsage(self.handle) / 1e3,  # milliwatts
            # renamed "clocks event reasons" in newer drivers' bindings; the old name is kept there
            "throttle": getattr(n, "nvmlDeviceGetCurrentClocksEventReasons",
                                getattr(n, "nvmlDeviceGetCurrentClocksThrottleReasons", None))(self.handle),
        })

    def summary(self) -> dict | None:
        if not self.samples:
            return None
        s = self.samples
        sm = [x["sm_clock_mhz"] for x in s]
        mask = 0
        for x in s:
            mask |= x["throttle"]
        held = statistics.median(sm) < (1 - CLOCK_SPREAD) * self.max_sm_clock_mhz
        throttled = [r for r in reasons(mask) if r not in BENIGN] if held else []
        return {
            "samples": len(s),
            "sm_clock_mhz": {"min": min(sm), "median": statistics.median(sm), "max": max(sm),
                             "gpu_max": self.max_sm_clock_mhz},
            "mem_clock_mhz": statistics.median(x["mem_clock_mhz"] for x in s),
            "temperature_c": {"max": max(x["temperature_c"] for x in s)},
            "power_w": {"median": round(statistics.median(x["power_w"] for x in s), 1),
                        "max": round(max(x["power_w"] for x in s), 1)},
            "throttle_reasons": reasons(mask),
            # what flags the window: a throttle reason other than idle that held the median SM
            # clock over CLOCK_SPREAD below the GPU's maximum
            "throttled": throttled or None,
            "definition": "NVML, read after every timed block of this window",
        }


def _power_in(summary: dict | None, key: str) -> bool:
    """Whether a window's state (StateLog.summary) lists a power reason under `key`."""
    return bool(summary and POWER_REASONS & set(summary.get(key) or []))


def power_limited(summary: dict | None) -> bool:
    """Whether a window's state (StateLog.summary) reports the board at its power limit."""
    return _power_in(summary, "throttle_reasons")


def held_by_power(summary: dict | None) -> bool:
    """Whether the power limit held the window's clock down (its `throttled`): the board was at its
    cap, not merely reporting the bit, which it can set at a sixth of the limit (POWER_REASONS)."""
    return _power_in(summary, "throttled")
