"""Parameters, in every sense a comparison needs.

* total: every parameter as registered in the module tree: a tensor registered
  in two places (a block listed twice) counts twice, except a tied embedding
  (a language model's output head reusing its token embedding), which
  counts once in every sense: tying is how the model is stored, not sharing.
* trainable: unique parameters with requires_grad.
* unique: each storage once: tied weights once.
* applied: counted once per use in one forward pass: a block run 12 times
  counts 12 times. unique < applied means parameter sharing (ALBERT,
  Universal Transformers). An embedding counts once however often it is
  used: a lookup reads a few rows, and the head tied to it (GPT-2, T5) or a
  table shared by encoder and decoder (T5) is not the sharing the paper
  means; read as sharing, every tied language model would be flagged.
* active: what one token touches on average. Parameters reached only through
  a router (mixture of experts) count for the share of tokens routed to them;
  a dense model has active == the unique parameters its forward uses.
  active < unique means sparsity.
* embedding: token, position and patch embeddings (and class/register
  tokens); non_embedding = unique - embedding (nanoGPT's
  `get_num_params(non_embedding=True)` subtracts position embeddings for the
  same reason: they are lookups, not compute).
* bytes: bytes of the unique parameter storage, in the dtype they are held.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from .flops import CountResult, storage_id

# Parameter names that are embeddings wherever they appear (timm, HF, torchvision).
_EMBEDDING_NAME = re.compile(
    r"(^|\.)(pos_embed\w*|position_embedding\w*|position_embeddings|cls_token|dist_token|reg_token"
    r"|mask_token|absolute_pos_embed|class_embedding|register_tokens)(\.|$)"
)
# Module paths or class names of patch embeddings (timm's patch_embed, HF's *PatchEmbeddings).
_PATCH_EMBED_PATH = re.compile(r"(^|\.)(patch_embed|patch_embeddings|patch_embedding|conv_proj)(\.|$)")


@dataclass(frozen=True)
class ParamCounts:
    total: int
    trainable: int
    unique: int
    applied: int
    embedding: int
    non_embedding: int
    active: float
    bytes: int
    bytes_by_dtype: dict  # bytes by the dtype the parameters are held in ("float32": ...)


def _region(p: torch.Tensor) -> tuple:
    """What makes two parameter tensors the same memory: storage, offset, shape, strides."""
    return storage_id(p), p.storage_offset(), tuple(p.shape), tuple(p.stride())


def _embedding_regions(model: torch.nn.Module) -> set[tuple]:
    regions = set()
    for module_name, module in model.named_modules():
        is_embedding = isinstance(module, (torch.nn.Embedding, torch.nn.EmbeddingBag))
        is_patch = bool(_PATCH_EMBED_PATH.search(module_name)) or "PatchEmbed" in type(module).__name__
        for name, p in module.named_parameters(recurse=is_patch, remove_duplicate=False):
            if is_embedding or is_patch or _EMBEDDING_NAME.search(name):
                regions.add(_region(p))
    return regions


def count_params(model: torch.nn.Module, counted: CountResult | None = None) -> ParamCounts:
    """Count `model`'s parameters. `counted` (from `flops.count`) supplies the uses of
    each parameter in one forward pass; without it, applied and active equal unique."""
    registrations = list(model.named_parameters(remove_duplicate=False))
    unique: dict[tuple, torch.Tensor] = {}
    for _, p in registrations:
        unique.setdefault(_region(p), p)

    embedding_regions = _embedding_regions(model)
    embedding_storages = {r[0] for r in embedding_regions}
    # a tied embedding is registered twice (embedding and head) and counts once
    registered = [p for _, p in registrations if _region(p) not in embedding_regions]
    registered += [unique[r] for r in unique if r in embedding_regions]
    n_unique = sum(p.numel() for p in unique.values())
    n_embedding = sum(p.numel() for r, p in unique.items() if r in embedding_regions)

    if counted is None:
        applied, active = n_unique, float(n_unique)
    else:
        # Uses are recorded per storage; a storage's size is its parameters' elements.
        size_of_storage: dict[int, int] = {}
        for region, p in unique.items():
            size_of_storage[region[0]] = size_of_storage.get(region[0], 0) + p.numel()
        applied = 0
        active = 0.0
        for sid, uses in counted.param_uses.items():
            size = size_of_storage.get(sid, 0)
            applied += size if sid in embedding_storages else sum(min(u.elements, size) for u in uses)
            # A use by a share s of the tokens makes s of the parameter active per token;
            # shares of several uses add up, but a parameter is at most fully active.
            share = min(1.0, sum(u.token_share * min(u.elements, size) for u in uses) / size) if size else 0.0
            active += share * size

    return ParamCounts(
        total=sum(p.numel() for p in registered),
        trainable=sum(p.numel() for p in unique.values() if p.requires_grad),
        unique=n_unique,
        applied=applied,
        embedding=n_embedding,
        non_embedding=n_unique - n_embedding,
        active=round(active, 1),
        bytes=sum(p.numel() * p.element_size() for p in unique.values()),
        bytes_by_dtype=_bytes_by_dtype(unique.values()),
    )


def _bytes_by_dtype(tensors) -> dict:
    out: dict[str, int] = {}
    for p in tensors:
        name = str(p.dtype).replace("torch.", "")
        out[name] = out.get(name, 0) + p.numel() * p.element_size()
    return out
