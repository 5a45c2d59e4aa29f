"""Mixture-of-experts blocks counted without values: balanced top-k routing.

A router picks experts by the values of its scores (argmax, topk, nonzero), and a
block that loops over the experts it picked needs those values to know how many
rows each expert gets. Meta tensors have no values, so on meta each registered
block runs an analytic forward instead: the router runs as it is (its linear
layer and softmax are counted), and the tokens are split over the experts as a
balanced router would split them, `tokens * k / experts` rows each (the remainder
one row each over the first experts, so that the rows add up to `tokens * k`).
MACs and active parameters are then the expected ones of a router that uses its
experts evenly, which is what load-balancing losses train routers to do. The
bookkeeping of a real block (counting tokens per expert, finding the experts hit)
is not run: it does no matrix work.

On a real device (`--count-device cpu`) routers run on random weights and the
counts are measured; the record says which (`flops.routing`).

A block type is registered with `@register_moe(matches)`; its analytic forward
takes the block, `route_index(rows, device)` (an index of `rows` tokens that the
counter treats as picked by a router, so the experts' parameters count for that
share of the tokens) and the block's own arguments.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

RouteIndex = Callable[[int, torch.device], torch.Tensor]


@dataclass(frozen=True)
class MoERule:
    matches: Callable[[nn.Module], bool]
    forward: Callable  # (block, route_index, *args, **kwargs) -> the block's output


MOE_BLOCKS: list[MoERule] = []


def register_moe(matches: Callable[[nn.Module], bool]):
    """Decorator: the function is the analytic forward of the blocks `matches` accepts."""

    def register(forward):
        MOE_BLOCKS.append(MoERule(matches, forward))
        return forward

    return register


def rule_for(module: nn.Module) -> MoERule | None:
    return next((r for r in MOE_BLOCKS if r.matches(module)), None)


def balanced_rows(tokens: int, k: int, experts: int) -> list[int]:
    """Rows each expert gets when `tokens` tokens each pick `k` of `experts` experts evenly."""
    base, extra = divmod(tokens * k, experts)
    return [base + (e < extra) for e in range(experts)]


@contextmanager
def balanced_routing(model: nn.Module, route_index: RouteIndex):
    """Every registered block of `model` runs its analytic forward (set on the instance,
    removed on exit). Yields the blocks, so a caller can tell whether there were any."""
    blocks = [(m, r) for m in model.modules() if (r := rule_for(m)) is not None]
    for module, rule in blocks:
        # bound now, per block: a lambda in a loop would see the last block only
        module.forward = _bind(rule.forward, module, route_index)
    try:
        yield [m for m, _ in blocks]
    finally:
        for module, _ in blocks:
            del module.forward


def _bind(forward, module, route_index):
    return lambda *args, **kwargs: forward(module, route_index, *args, **kwargs)


def has_moe_blocks(model: nn.Module) -> bool:
    return any(rule_for(m) is not None for m in model.modules())


# --- transformers' experts ----------------------------------------------------


def _is_transformers_experts(module: nn.Module) -> bool:
    """Classes decorated with transformers' `use_experts_implementation` (Mixtral, Qwen-MoE,
    OLMoE, DeepSeek and some 150 others in transformers 5): stacked expert weights and one
    forward(hidden_states [tokens, dim], top_k_index, top_k_weights) chosen by
    config._experts_implementation."""
    return hasattr(type(module), "_apply_gate") and hasattr(module, "_is_expert_parallel")


@register_moe(_is_transformers_experts)
def _transformers_experts(experts, route_index, hidden_states, top_k_index, top_k_weights):
    """transformers' own grouped-GEMM implementation: every (token, choice) pair is one row of
    one GEMM over the stacked experts, so its MACs and parameter shares (k of E experts per
    token) are the same for any routing, balanced included. Its eager implementation loops
    over the experts hit, which needs values."""
    from transformers.integrations.moe import grouped_mm_experts_forward

    return grouped_mm_experts_forward(experts, hidden_states, top_k_index, top_k_weights)


# --- Switch Transformers -------------------------------------------------------


@register_moe(lambda m: type(m).__name__ == "SwitchTransformersSparseMLP")
def _switch_sparse_mlp(block, route_index, hidden_states):
    """Switch: top-1 routing, an nn.ModuleDict of experts, and a capacity: an expert takes at
    most `expert_capacity` tokens of each sequence (the rest skip the layer)."""
    batch, seq, dim = hidden_states.shape
    router = block.router
    _, weights, _ = router(hidden_states)  # linear layer, softmax, argmax: no values needed
    x, weights = hidden_states.reshape(-1, dim), weights.reshape(-1, 1)
    out = torch.zeros_like(x)
    for e, per_sequence in enumerate(balanced_rows(seq, 1, router.num_experts)):
        idx = route_index(batch * min(per_sequence, router.expert_capacity), x.device)
        y = block.experts[f"expert_{e}"](x[idx]) * weights[idx]
        out.index_add_(0, idx, y.to(x.dtype))
    return out.reshape(batch, seq, dim)
