"""The environment a speed number depends on: device, driver, versions, CPU,
threads, numeric settings; and the peak FLOP/s of common accelerators for MFU.

Everything here is read from the running machine, never assumed. The peak
table is the one exception: vendor datasheet numbers, each with its source.
"""

from __future__ import annotations

import datetime
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import torch


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def physical_cores() -> int:
    """Physical cores this process may run on: its CPU affinity, with SMT siblings
    counted once (Linux sysfs topology). Elsewhere, the logical count."""
    try:
        cpus = os.sched_getaffinity(0)
    except AttributeError:
        return os.cpu_count() or 1
    cores = set()
    for cpu in cpus:
        topo = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add((topo.joinpath("physical_package_id").read_text().strip(),
                       topo.joinpath("core_id").read_text().strip()))
        except OSError:
            cores.add(("?", str(cpu)))
    return max(1, len(cores))


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return None


def nvml_handle(device: torch.device):
    """An NVML handle for a CUDA device, or None where nvidia-ml-py or the driver
    library is missing. Found by UUID, so CUDA_VISIBLE_DEVICES cannot mismatch it."""
    try:
        import pynvml

        pynvml.nvmlInit()
        uuid = getattr(torch.cuda.get_device_properties(device), "uuid", None)
        if uuid is not None:
            return pynvml.nvmlDeviceGetHandleByUUID(f"GPU-{uuid}")
        return pynvml.nvmlDeviceGetHandleByIndex(device.index or 0)
    except Exception:
        return None


def driver_version() -> str | None:
    try:
        import pynvml

        pynvml.nvmlInit()
        v = pynvml.nvmlSystemGetDriverVersion()
        return v.decode() if isinstance(v, bytes) else v
    except Exception:
        return None


def environment(device: str, *, dtype: str = "float32", threads: int | None = None, compile_mode: str | None = None,
                channels_last: bool = False) -> dict:
    """What a number depends on besides the model, as it was when measured."""
    dev = torch.device(device)
    cuda = dev.type == "cuda" and torch.cuda.is_available()
    if cuda:
        name = torch.cuda.get_device_name(dev)
    else:
        name = "meta (no data)" if dev.type == "meta" else cpu_name()
    return {
        "device": str(device),
        "device_name": name,
        "device_memory_bytes": torch.cuda.get_device_properties(dev).total_memory if cuda else None,
        "torch": torch.__version__,
        "timm": _version("timm"),
        "fvcore": _version("fvcore"),
        "transformers": _version("transformers"),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "driver": driver_version() if cuda else None,
        "cpu": cpu_name(),
        "physical_cores": physical_cores(),
        "threads": threads if threads is not None else torch.get_num_threads(),
        "dtype": dtype,
        # TF32 changes float32 matmul and convolution speed on Ampere and later; torch
        # keeps separate switches for the two.
        "tf32": torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn": torch.backends.cudnn.allow_tf32,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "compile": compile_mode or False,
        "channels_last": channels_last,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
    }


@dataclass(frozen=True)
class Peak:
    """Dense (no structured sparsity) peak FLOP/s of one accelerator, by math mode."""

    match: str  # substring of torch.cuda.get_device_name()
    fp32: float
    tf32: float | None
    half: float  # bfloat16 / float16 tensor cores, FP32 accumulate
    source: str
    bandwidth: float | None = None  # memory bandwidth, bytes/s, from the same datasheet


_TB = 1e12  # bytes/s: datasheets give TB/s (10^12 bytes)


_TF = 1e12
# NVIDIA datasheets list tensor-core peaks "with sparsity" for Ampere and later; the dense
# figure used here is half of it. Order matters: more specific names first.
PEAKS = (
    Peak("H200", 67 * _TF, 494.5 * _TF, 989.5 * _TF,
         "NVIDIA H200 Tensor Core GPU datasheet (SXM; 989 TF32 / 1,979 BF16 TFLOPS with sparsity; 4.8 TB/s HBM3e)",
         4.8 * _TB),
    Peak("H100 PCIe", 51 * _TF, 378 * _TF, 756 * _TF,
         "NVIDIA H100 Tensor Core GPU datasheet (PCIe; 756 TF32 / 1,513 BF16 TFLOPS with sparsity; 2 TB/s HBM2e)",
         2.0 * _TB),
    Peak("H100", 67 * _TF, 494.5 * _TF, 989.5 * _TF,
         "NVIDIA H100 Tensor Core GPU datasheet (SXM; 989 TF32 / 1,979 BF16 TFLOPS with sparsity; 3.35 TB/s HBM3)",
         3.35 * _TB),
    Peak("A100", 19.5 * _TF, 156 * _TF, 312 * _TF,
         "NVIDIA A100 Tensor Core GPU datasheet (156 TF32 / 312 BF16 TFLOPS dense)"),
    Peak("A10G", 31.2 * _TF, 62.5 * _TF, 125 * _TF,
         "NVIDIA A10 Tensor Core GPU datasheet (A10G taken as A10; 62.5 TF32 / 125 BF16 TFLOPS dense)"),
    Peak("A10", 31.2 * _TF, 62.5 * _TF, 125 * _TF,
         "NVIDIA A10 Tensor Core GPU datasheet (62.5 TF32 / 125 BF16 TFLOPS dense)"),
    Peak("L4", 30.3 * _TF, 60 * _TF, 121 * _TF,
         "NVIDIA L4 Tensor Core GPU datasheet (120 TF32 / 242 BF16 TFLOPS with sparsity)"),
    Peak("V100", 15.7 * _TF, None, 125 * _TF,
         "NVIDIA V100 Tensor Core GPU datasheet (SXM2; 125 FP16 tensor TFLOPS; no BF16 or TF32)"),
    Peak("T4", 8.1 * _TF, None, 65 * _TF,
         "NVIDIA T4 Tensor Core GPU datasheet (65 FP16 mixed-precision TFLOPS; no BF16 or TF32)"),
)


def peak_bandwidth(device_name: str) -> tuple[float, str] | None:
    """(memory bandwidth in bytes/s, its source) for this device, or None where the table has none."""
    for p in PEAKS:
        if p.match in device_name:
            return (p.bandwidth, p.source) if p.bandwidth else None
    return None


def peak_flops(device_name: str, dtype: str, tf32: bool) -> tuple[float, str] | None:
    """(peak FLOP/s, its source and math mode) for this device and dtype, or None when unknown."""
    for p in PEAKS:
        if p.match in device_name:
            if dtype in ("bfloat16", "float16"):
                return p.half, f"{p.source}; {dtype} tensor cores"
            if tf32 and p.tf32:
                return p.tf32, f"{p.source}; TF32 (float32 with TF32 allowed for matmul or cuDNN convolutions)"
            return p.fp32, f"{p.source}; float32 without tensor cores"
    return None
