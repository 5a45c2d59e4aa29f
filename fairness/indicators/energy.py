"""Energy per example from NVML's cumulative energy counter (nvidia-ml-py).

`nvmlDeviceGetTotalEnergyConsumption` counts millijoules drawn by the whole
board since the driver loaded (Volta and later). It is read around every timed
throughput block (`EnergyMeter`), so energy costs no time of its own: the deltas
of all of a model's blocks (at least 10, and at least --min-time seconds) are
summed. The counter advances in steps of tens of milliseconds; a step's error at
each end of a block averages out over the blocks (about 4% for 20 blocks of 50 ms
with 20 ms steps, less for more). It includes the board's idle draw: the number is
what the example costs on this GPU, not what the kernels alone draw.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import torch

from .env import nvml_handle

ENERGY_WINDOW_S = 3.0


@dataclass(frozen=True)
class Energy:
    joules_per_example: float
    mean_power_w: float
    window_s: float
    examples: int

    def record(self) -> dict:
        return {"joules_per_example": self.joules_per_example, "mean_power_w": self.mean_power_w,
                "window_s": self.window_s, "examples": self.examples,
                "definition": "NVML board energy per example, summed over the timed throughput blocks "
                              "(idle draw included)"}


def energy_unavailable(device: torch.device) -> str | None:
    """Why energy cannot be read on this device, or None when it can."""
    if device.type != "cuda":
        return "energy is read from NVML, on NVIDIA GPUs only"
    handle = nvml_handle(device)
    if handle is None:
        return "NVML is not available (install nvidia-ml-py; needs the NVIDIA driver library)"
    try:
        import pynvml

        pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    except Exception as e:
        return f"this GPU does not expose NVML's energy counter ({type(e).__name__})"
    return None


class EnergyMeter:
    """Sums NVML energy over the timed blocks of one model: `around(fn, examples)` runs a block."""

    def __init__(self, device: torch.device):
        self.handle = nvml_handle(device)
        self.joules, self.seconds, self.examples = 0.0, 0.0, 0

    def around(self, block: Callable[[], float], examples: int) -> float:
        import pynvml

        e0 = pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
        seconds = block()  # synchronized at its end, so the counter's second read follows the work
        self.joules += (pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) - e0) / 1e3
        self.seconds += seconds
        self.examples += examples
        return seconds

    def energy(self) -> Energy | None:
        if not self.examples or not self.seconds:
            return None
        return Energy(self.joules / self.examples, self.joules / self.seconds, self.seconds, self.examples)


def measure_energy(step: Callable[[], object], device: torch.device, examples_per_call: int,
                   window_s: float = ENERGY_WINDOW_S) -> Energy:
    """Run `step` back to back for `window_s` after a synchronize; the counter read at both ends."""
    import pynvml

    handle = nvml_handle(device)
    torch.cuda.synchronize(device)
    e0 = pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    t0 = time.perf_counter()
    calls = 0
    while time.perf_counter() - t0 < window_s:
        step()
        calls += 1
        if calls % 8 == 0:  # bound the queue of launched work, so the clock and the GPU stay close
            torch.cuda.synchronize(device)
    torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - t0
    joules = (pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) - e0) / 1e3
    examples = calls * examples_per_call
    return Energy(joules / examples, joules / elapsed, elapsed, examples)
