"""`fairness demo`: the main job on a built-in default, in a few minutes on a laptop CPU.

The proposed model is a Vision Transformer whose blocks share their parameters,
Universal-Transformer style (Dehghani et al. 2019): one block applied `depth`
times. It has about a twelfth of a ViT's unique parameters and the same FLOPs,
which is the case "The Efficiency Misnomer" warns about. It is compared with
timm's ViT-Ti/16, matched on parameters, FLOPs and throughput, and the full
report is written. examples/shared_vit.py shows the same model as a user's
`python:` factory.
"""

from __future__ import annotations

from typing import Callable

import timm
import torch
from torch import nn

PROPOSED = "python:fairness.demo:shared_vit_tiny"
BASELINE = "timm:vit_tiny_patch16_224"
MATCH = ["params", "flops", "throughput"]
STRATEGIES = ["width", "depth"]  # enough to show both answers; `fairness compare` tries all four
MIN_TIME_S = 0.5  # per timing on the CPU: the demo stays within a few minutes on 2 cores


def shared_vit(depth: int = 12, embed_dim: int = 768, num_heads: int = 12, patch_size: int = 16,
               img_size: int = 224, **kwargs) -> nn.Module:
    """timm's VisionTransformer with every block replaced by the first one (shared weights)."""
    model = timm.create_model("vit_base_patch16_224", pretrained=False, depth=depth, embed_dim=embed_dim,
                              num_heads=num_heads, patch_size=patch_size, img_size=img_size, **kwargs)
    block = model.blocks[0]
    model.blocks = nn.Sequential(*([block] * depth))
    return model


def shared_vit_tiny(**kwargs) -> nn.Module:
    return shared_vit(**{"embed_dim": 192, "num_heads": 3, **kwargs})


def shared_vit_small(**kwargs) -> nn.Module:
    return shared_vit(**{"embed_dim": 384, "num_heads": 6, **kwargs})


def shared_vit_base(**kwargs) -> nn.Module:
    return shared_vit(**kwargs)


def run_demo(device: str | None = None, progress: Callable[[str], None] = lambda m: None) -> dict:
    from .compare import compare
    from .runner import RunSettings

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    speed = RunSettings(device=device, batch_sizes=(1,), min_duration_s=MIN_TIME_S, warmup_s=0.2)
    return compare(PROPOSED, BASELINE, name="demo-shared-vit-vs-vit-tiny", proposed_name="Shared ViT-Ti (ours)",
                   baseline_name="ViT-Ti/16", quality={"Shared ViT-Ti (ours)": {}, "ViT-Ti/16": {}},
                   match=MATCH, strategies=STRATEGIES, speed=speed, progress=progress)
