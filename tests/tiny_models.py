"""Tiny models whose counts can be worked out by hand (used in-process and as python: sources)."""

import os
import signal
import sys

import torch
import torch.nn.functional as F
from torch import nn


class SharedBlock(nn.Module):
    """One Linear(4, 4) applied `times` times: 20 unique parameters, 20 * times applied."""

    def __init__(self, times: int = 3):
        super().__init__()
        self.block = nn.Linear(4, 4)
        self.times = times

    def forward(self, x):
        for _ in range(self.times):
            x = self.block(x)
        return x


class ListedTwice(nn.Module):
    """The same Linear(4, 4) object registered twice in a ModuleList and run twice."""

    def __init__(self):
        super().__init__()
        block = nn.Linear(4, 4)
        self.layers = nn.ModuleList([block, block])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class TiedLM(nn.Module):
    """Embedding(10, 4) whose weight is also the output projection (weight tying)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.out = nn.Linear(4, 10, bias=False)
        self.out.weight = self.embed.weight

    def forward(self, ids):
        return self.out(self.embed(ids))


class Top1MoE(nn.Module):
    """A router Linear(8, 4) sends each token to one of 4 experts, each a Linear(8, 8).

    unique = router 36 + 4 experts x 72 = 324; active per token = 36 + 72 = 108,
    whatever the routing, because the experts' token shares add up to one.
    """

    def __init__(self, experts: int = 4, dim: int = 8):
        super().__init__()
        self.router = nn.Linear(dim, experts)
        self.experts = nn.ModuleList(nn.Linear(dim, dim) for _ in range(experts))

    def forward(self, x):  # x: [batch, tokens, dim]
        shape, x = x.shape, x.reshape(-1, x.shape[-1])
        choice = self.router(x).argmax(-1)
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            mask = choice == e
            out[mask] = expert(x[mask])
        return out.reshape(shape)


class Attention(nn.Module):
    """Bare scaled-dot-product attention, with optional GQA and causal mask."""

    def __init__(self, is_causal: bool = False, gqa: bool = False):
        super().__init__()
        self.is_causal = is_causal
        self.gqa = gqa

    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=self.is_causal, enable_gqa=self.gqa)


def shared_block(times: int = 3):
    return SharedBlock(times)


def vector_inputs(batch_size: int = 1, device="cpu"):
    return torch.randn(batch_size, 4, device=device)


def broken_factory():
    raise RuntimeError("this factory always fails")


def wide_inputs(batch_size: int = 1, device="cpu"):
    return torch.randn(batch_size, 64, device=device)


class FailsAbove(nn.Module):
    """A linear layer that fails like the CPU allocator above a batch size: the stand-in,
    on a machine without a GPU, for a batch that does not fit."""

    def __init__(self, max_batch: int = 2):
        super().__init__()
        self.max_batch = max_batch
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        if x.shape[0] > self.max_batch:
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 TB")
        return self.lin(x)


def fails_above(max_batch: int = 2):
    return FailsAbove(max_batch)


class MLPStack(nn.Module):
    """A family with two knobs worked out by hand: Linear(8, w), then `depth` x Linear(w, w).
    params = 8w + w + depth (w^2 + w); MACs per example = 8w + depth w^2."""

    def __init__(self, depth: int = 4, width: int = 16):
        super().__init__()
        self.inp = nn.Linear(8, width)
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))

    def forward(self, x):
        x = self.inp(x)
        for layer in self.layers:
            x = layer(x)
        return x


def mlp_stack(depth: int = 4, width: int = 16):
    return MLPStack(depth, width)


def mlp_inputs(batch_size: int = 1, device="cpu"):
    return torch.randn(batch_size, 8, device=device)


class SharedMLP(nn.Module):
    """Linear(8, w), then one Linear(w, w) applied `times` times (its input is mlp_inputs'):
    params = 9w + w^2 + w; MACs per example = 8w + times w^2. Few parameters, many MACs."""

    def __init__(self, times: int = 8, width: int = 8):
        super().__init__()
        self.inp = nn.Linear(8, width)
        self.layer = nn.Linear(width, width)
        self.times = times

    def forward(self, x):
        x = self.inp(x)
        for _ in range(self.times):
            x = self.layer(x)
        return x


def shared_mlp(times: int = 8, width: int = 8):
    return SharedMLP(times, width)


def fragile_mlp(depth: int = 4, width: int = 16):
    """MLPStack that cannot be built wider than 24: a variant that crashes, for the report."""
    if width > 24:
        raise RuntimeError(f"width {width} is not supported by this model")
    return MLPStack(depth, width)


class CrashyMLP(MLPStack):
    """MLPStack that builds and counts (on meta) at any width but whose forward pass on a real
    device fails wider than 24: a variant the search finds and the timing then loses."""

    def forward(self, x):
        if x.device.type != "meta" and self.inp.out_features > 24:
            raise RuntimeError(f"width {self.inp.out_features} is not supported by this model")
        return super().forward(x)


def crashy_mlp(depth: int = 4, width: int = 16):
    return CrashyMLP(depth, width)


def _in_worker() -> bool:
    """True inside an `--isolate` worker process (python -m fairness.isolate)."""
    return os.path.basename(sys.argv[0]) == "isolate.py"


class Chatty(MLPStack):
    """MLPStack that prints on every call: its output must not reach the worker's protocol."""

    def forward(self, x):
        print("chatty forward: {not json")
        return super().forward(x)


def chatty_mlp(depth: int = 2, width: int = 16):
    return Chatty(depth, width)


class DiesInWorker(MLPStack):
    """MLPStack whose worker process is killed (SIGKILL, as the kernel's out-of-memory killer
    does) after `calls` calls: a worker that dies in the middle of the timing."""

    def __init__(self, calls: int = 20):
        super().__init__(2, 16)
        self.calls, self.done = calls, 0

    def forward(self, x):
        self.done += 1
        if _in_worker() and x.device.type != "meta" and self.done > self.calls:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().forward(x)


def dies_in_worker(calls: int = 20):
    return DiesInWorker(calls)


def unbuildable_in_worker(depth: int = 2, width: int = 16):
    """Builds here (counting) but raises in a worker: a model that cannot be placed on the device."""
    if _in_worker():
        raise RuntimeError("cannot build in a worker")
    return MLPStack(depth, width)


class NaNOut(MLPStack):
    """MLPStack whose output is NaN on a real device (meta has no values: it counts normally)."""

    def forward(self, x):
        out = super().forward(x)
        return out if out.device.type == "meta" else out * float("nan")


def nan_out(depth: int = 2, width: int = 16):
    return NaNOut(depth, width)


class SyncsWithHost(MLPStack):
    """MLPStack that reads a value back to the host in its forward pass (a data-dependent branch):
    it runs eagerly, but cannot be captured in a CUDA graph."""

    def forward(self, x):
        out = super().forward(x)
        return out * 2 if out.sum().item() > 0 else out


def syncs_with_host(depth: int = 2, width: int = 16):
    return SyncsWithHost(depth, width)


class Determinant(nn.Module):
    """An op fairness does not count (aten.linalg_det): its FLOPs are a lower bound."""

    def forward(self, x):
        return torch.linalg.det(x)


def determinant():
    return Determinant()


def square_inputs(batch_size: int = 1, device="cpu"):
    return torch.randn(batch_size, 3, 3, device=device)


def tiny_conv(channels: int = 4, bias: bool = True):
    """One 3x3 convolution from RGB, padded: params 27c (+ c with bias); MACs per example at
    H x W = 27 c H W. It takes any image size, so each model's own input is easy to check."""
    return nn.Conv2d(3, channels, 3, padding=1, bias=bias)


def killed_in_ray_worker(trace: str, depth: int = 2, width: int = 8):
    """MLPStack whose Ray worker is killed (SIGKILL, as the out-of-memory killer does) as it builds
    the model; each attempt first appends its process id to the file `trace`. Only where the test
    cluster sets FAIRNESS_TEST_RAY_WORKER, so the same zoo runs whole with --executor local."""
    if os.environ.get("FAIRNESS_TEST_RAY_WORKER"):
        with open(trace, "a") as f:
            f.write(f"{os.getpid()}\n")
        os.kill(os.getpid(), signal.SIGKILL)
    return MLPStack(depth, width)


def ratio_mlp(depth: int = 2, width: int = 32, ratio: float = 2.0, heads: int = 2):
    """MLPStack-like blocks of Linear(width, int(width x ratio)) and back, for a family with a
    float knob (ratio) and a derived argument (heads = width / 16, checked here).
    params = 8w + w + depth (2 w h + h + w), h = int(w ratio)."""
    if width != 16 * heads:
        raise ValueError(f"width {width} is not 16 x heads ({heads})")
    hidden = int(width * ratio)
    layers = [nn.Linear(8, width)]
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.Linear(hidden, width)]
    return nn.Sequential(*layers)


def fixed_width_mlp(depth: int = 4, **kwargs):
    """An entry point that swallows the width: always 16 wide (the ignored-knob case)."""
    return MLPStack(depth, 16)


def fixed_depth_mlp(**kwargs):
    """An entry point that passes its own depth, as timm's do: a second depth is refused."""
    return mlp_stack(**dict(depth=4, **kwargs))


def widths_from_tensors(depth: int = 3) -> nn.Module:
    """A constructor that computes its widths with tensor ops, as timm <= 1.0.29's RegNet generator
    does (torch.unique), which cannot run under the meta device: Linear(4, 8) stacked `depth` times
    over unique widths [4, 8] -> 4*8+8 + (depth-1) * (8*8+8) parameters."""
    widths = torch.unique(torch.tensor([4.0, 8.0, 8.0]))
    n_in, n_out = int(widths[0].item()), int(widths[1].item())
    layers = [nn.Linear(n_in, n_out)] + [nn.Linear(n_out, n_out) for _ in range(depth - 1)]
    return nn.Sequential(*layers)


def four_stages(stages: int = 4) -> nn.Module:
    """A constructor that checks its arguments with a bare assert, as timm's RegNet does
    (`assert len(per_stage_args) == 4`): the error carries no message."""
    assert stages == 4
    return nn.Linear(4, 4)


def count_params(model, spec):
    """A quality hook (tests/test_quality.py): the model's parameter count, from the model it is given."""
    return sum(p.numel() for p in model.parameters())


def broken_hook(model, spec):
    raise RuntimeError("the evaluation crashed")
