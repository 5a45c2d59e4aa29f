"""Energy per example from NVML's cumulative energy counter (nvidia-ml-py).

`nvmlDeviceGetTotalEnergyConsumption` counts millijoules drawn by the whole
board since the driver loaded (Volta and later). The counter advances in steps
of tens of milliseconds, so it is read around a window of back-to-back steps
lasting `ENERGY_WINDOW_S`, long enough for those steps to be under 1% of the
reading. It includes the board's idle draw: the number is what the example
costs on this GPU, not what the kernels alone draw.
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
                "definition": "NVML board energy over a window of back-to-back steps, per example"}


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
