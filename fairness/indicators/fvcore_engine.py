"""fvcore's FlopCountAnalysis as a second, independent engine.

fvcore traces the model with torch.jit and counts matrix ops on the traced
graph (one fused multiply-add = one "flop" in its words, a MAC in ours).
We keep only its matrix-op handles, so its total is comparable to our
`macs`, and add a handle for scaled_dot_product_attention, which fvcore
lacks. A difference over 1% between the engines is shown to the user.

torch.jit cannot trace on the meta device, so fvcore needs real tensors:
`measure` runs it on a CPU copy when the model is small enough.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from .flops import attention_cost

# fvcore also costs these non-matrix ops by default; dropped so its total is MACs only.
_NON_MATRIX_DEFAULTS = (
    "aten::batch_norm", "aten::group_norm", "aten::layer_norm", "aten::instance_norm",
    "aten::upsample_nearest2d", "aten::upsample_bilinear2d", "aten::adaptive_avg_pool2d",
    "aten::grid_sampler",
)


@dataclass(frozen=True)
class FvcoreCounts:
    macs: int
    activations: int
    unsupported_ops: dict


def _zero(inputs, outputs) -> int:
    return 0


def _sdpa_macs(inputs, outputs) -> int:
    from fvcore.nn.jit_handles import get_shape

    # aten::scaled_dot_product_attention(query, key, value, attn_mask, dropout_p, is_causal, scale, ...)
    q, k, v = (get_shape(inputs[i]) for i in range(3))
    return attention_cost(q, k, v, False, False).macs


def _sdpa_activations(inputs, outputs) -> int:
    from fvcore.nn.jit_handles import get_shape

    q, k, v = (get_shape(inputs[i]) for i in range(3))
    return attention_cost(q, k, v, False, False).activations


class _Positional(torch.nn.Module):
    """torch.jit traces positional tensors and tuple outputs only; this adapts a model
    that takes keyword inputs (Hugging Face) or returns a dict-like output."""

    def __init__(self, model: torch.nn.Module, arg_count: int, kw_names: list[str]):
        super().__init__()
        self.model = model
        self.arg_count = arg_count
        self.kw_names = kw_names

    def forward(self, *tensors):
        args = tensors[: self.arg_count]
        kwargs = dict(zip(self.kw_names, tensors[self.arg_count:]))
        return tuple(_tensors(self.model(*args, **kwargs)))


def _tensors(value):
    """The tensors in a model's output (tuples, dicts, HF ModelOutputs, caches skipped)."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v)


def fvcore_count(model: torch.nn.Module, args: tuple, kwargs: dict) -> FvcoreCounts:
    """Count MACs and activations with fvcore (the model must be on a real device)."""
    wrapped = _Positional(model, len(args), list(kwargs))
    inputs = tuple(args) + tuple(kwargs.values())
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # torch.jit's deprecation and tracer warnings are not the user's concern
        from fvcore.nn import ActivationCountAnalysis, FlopCountAnalysis

        flops = FlopCountAnalysis(wrapped, inputs)
        # A None handle only marks an op ignored and leaves fvcore's own handle in
        # place (fvcore 0.1.5); a handle that returns 0 really drops it.
        flops.set_op_handle(**{op: _zero for op in _NON_MATRIX_DEFAULTS})
        flops.set_op_handle("aten::scaled_dot_product_attention", _sdpa_macs)
        flops.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
        acts = ActivationCountAnalysis(wrapped, inputs)
        acts.set_op_handle("aten::scaled_dot_product_attention", _sdpa_activations)
        acts.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
        return FvcoreCounts(macs=int(flops.total()), activations=int(acts.total()),
                            unsupported_ops=dict(flops.unsupported_ops()))
