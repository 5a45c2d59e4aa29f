"""The dispatch-level counter: MACs, FLOPs, bytes moved, activations and parameter uses.

One forward pass runs under a `TorchDispatchMode`, so every aten op that
executes is seen once, after autograd and composite decompositions, on any
device (meta included). What the counter does with an op is one row of the
registry `OPS`: an `OpRule` with its cost formula, whether it moves bytes,
whether its extra outputs are saved statistics, and its part in
mixture-of-experts routing (`register_op(aten.x, formula, ...)`). An op with
no row is

* a view (from its schema): free, and moves nothing,
* pointwise (torch tags it so): one flop per output element, or
* unknown: listed in `unknown_ops` and left out of `coverage`.

Conventions, stated wherever a number is printed:

* macs: multiply-accumulates of matrix-type ops (mm, addmm, bmm, baddbmm,
  convolution, attention). One MAC is one multiply plus one add.
* other_flops: everything else that does arithmetic (pointwise ops, norms,
  softmax, reductions, pooling), counted with the per-element costs below.
* flops = 2 * macs + other_flops.
* bytes_moved: bytes each op reads plus bytes it writes, as if no op were
  fused: an upper bound on memory traffic. Views move nothing; a broadcast
  (stride 0) input is counted once per distinct element.
* activations: fvcore's definition, the number of output elements of the
  matrix-type ops (conv, linear, matmul, attention's two matmuls).

Attention is counted at the function level: `F.scaled_dot_product_attention`
is intercepted by a `TorchFunctionMode` and costed by one formula, whatever
kernel then runs (CPU flash, CUDA flash, memory-efficient, cuDNN, or the
math path on meta). That keeps counts identical on every device and backend.
The fused kernels also have handles, for when they are reached without the
Python function (from C++). Attention written out as two batched products
around a softmax (q @ k^T in eager code, an einsum, which reaches dispatch as
a bmm, or the math path of SDPA) is recognised from the data flow: the
product whose output the softmax reads and the product that reads the
softmax's output are attention's MACs (see `_Counter._track_attention`).

Mixture-of-experts: the tokens a router picks are followed through the ops
that select and combine them (`routing` in an op's rule), so that an expert's
parameters are active for the share of tokens routed to it. On meta, where a
router's choice has no values, the blocks registered in moe.py split the
tokens evenly over the experts instead (`CountResult.routing` says which).
"""

from __future__ import annotations

import itertools
import math
import weakref
from collections import defaultdict
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from . import moe

aten = torch.ops.aten

# Per-element costs of the non-matrix ops (flops per element).
SOFTMAX_FLOPS = 5  # max, subtract, exp, sum, divide
NORMALIZE_FLOPS = 5  # mean, subtract, square, variance, scale: statistics from the input
AFFINE_FLOPS = 2  # multiply by weight, add bias
STORED_STATS_NORM_FLOPS = 2  # batch norm in eval folds to one scale and one shift


@dataclass
class OpCost:
    """What one op call costs. `macs` for matrix-type work, `other_flops` for the rest."""

    macs: int = 0
    other_flops: int = 0
    activations: int = 0
    # Attention only: MACs a causal mask lets through (dense otherwise).
    effective_macs: int | None = None


ZERO = OpCost()


def _numel(shape: Iterable[int]) -> int:
    return math.prod(int(s) for s in shape)


def _distinct_elements(t: torch.Tensor) -> int:
    """Elements a tensor really holds: a broadcast (stride 0) dimension counts once."""
    return math.prod(int(s) for s, st in zip(t.shape, t.stride()) if st != 0)


def _first_tensor(x):
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, (list, tuple)):
        for y in x:
            if isinstance(y, torch.Tensor):
                return y
    return None


def _is_view(func) -> bool:
    return any(r.alias_info is not None and not r.alias_info.is_write for r in func._schema.returns)


def _rows(t: torch.Tensor) -> int:
    """Token rows of an activation: everything but the feature dimension."""
    return t.numel() // t.shape[-1] if t.dim() else 1


# --- matrix-type ops --------------------------------------------------------


def _mm(args, kwargs, out) -> OpCost:
    a, b = args[0], args[1]
    m, k = a.shape
    n = b.shape[-1]
    return OpCost(macs=m * k * n, activations=out.numel())


def _addmm(args, kwargs, out) -> OpCost:
    # addmm(bias, a, b): the bias add is one flop per output element.
    cost = _mm(args[1:3], kwargs, out)
    cost.other_flops = out.numel()
    return cost


def _bmm(args, kwargs, out) -> OpCost:
    a, b = args[0], args[1]
    batch, m, k = a.shape
    n = b.shape[-1]
    return OpCost(macs=batch * m * k * n, activations=out.numel())


def _baddbmm(args, kwargs, out) -> OpCost:
    cost = _bmm(args[1:3], kwargs, out)
    cost.other_flops = out.numel()
    return cost


def _grouped_mm(args, kwargs, out) -> OpCost:
    """_grouped_mm(a, b, offs): mixture-of-experts GEMM. With a [M, K] and b [G, K, N]
    each of the M rows is multiplied by one group's K x N matrix; with a [G, M, K],
    a batched product. Either way every output element is a K-long dot product."""
    a = args[0]
    return OpCost(macs=out.numel() * a.shape[-1], activations=out.numel())


def _grouped_mm_on_meta(args, kwargs) -> torch.Tensor:
    """_grouped_mm's output on meta, whose own meta kernel takes bfloat16 only (the CUDA
    kernel's limit; the CPU kernel takes float32 too). Shapes as torch documents them:
    a [M, K] x b [G, K, N] -> [M, N]; [G, M, K] x [G, K, N] -> [G, M, N];
    [M, K] x [K, N] with G offsets -> [G, M, N]; [G, M, K] x [K, N] -> [M, N]."""
    a, b = args[0], args[1]
    offs = args[2] if len(args) > 2 else kwargs.get("offs")
    out_dtype = (args[4] if len(args) > 4 else kwargs.get("out_dtype")) or a.dtype
    if a.dim() == 2 and b.dim() == 2:
        shape = (offs.shape[0], a.shape[0], b.shape[-1])
    elif a.dim() == 3 and b.dim() == 3:
        shape = (a.shape[0], a.shape[1], b.shape[-1])
    else:
        shape = (a.shape[-2], b.shape[-1])
    return torch.empty(shape, dtype=out_dtype, device="meta")


def _mv(args, kwargs, out) -> OpCost:
    m, n = args[0].shape
    return OpCost(macs=m * n, activations=out.numel())


def _dot(args, kwargs, out) -> OpCost:
    return OpCost(macs=args[0].numel(), activations=1)


def _convolution(args, kwargs, out) -> OpCost:
    # convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups)
    x, w, bias = args[0], args[1], args[2]
    transposed = bool(args[6]) if len(args) > 6 else False
    kernel = _numel(w.shape[2:])
    if transposed:
        # weight is [C_in, C_out/groups, k...]: every input element is spread over the kernel.
        macs = x.numel() * w.shape[1] * kernel
    else:
        # weight is [C_out, C_in/groups, k...]: every output element sums C_in/groups * kernel products.
        macs = out.numel() * w.shape[1] * kernel
    other = out.numel() if bias is not None else 0
    return OpCost(macs=macs, other_flops=other, activations=out.numel())


# --- attention --------------------------------------------------------------


def causal_pairs(q_len: int, k_len: int) -> int:
    """Query-key pairs a causal mask keeps. torch's `is_causal` is top-left aligned:
    query i sees keys 0..i."""
    full = min(q_len, k_len)
    return full * (full + 1) // 2 + max(0, q_len - k_len) * k_len


def attention_cost(q_shape, k_shape, v_shape, is_causal: bool, has_mask: bool,
                   allowed_pairs: int | None = None) -> OpCost:
    """Cost of softmax(q k^T * scale + mask) v.

    q is [..., Hq, L, E], k is [..., Hkv, S, E], v is [..., Hkv, S, Ev]. With
    grouped-query attention Hkv < Hq: every query head still attends over S
    keys, so the cost follows q's heads. MACs count the dense score matrix;
    `effective_macs` counts only the query-key pairs a causal mask keeps, or
    `allowed_pairs` (over all heads) when an explicit mask's values were read.
    """
    heads = _numel(q_shape[:-2])
    q_len, e = int(q_shape[-2]), int(q_shape[-1])
    k_len, ev = int(k_shape[-2]), int(v_shape[-1])
    per_pair = e + ev  # q.k then p.v
    macs = heads * q_len * k_len * per_pair
    if is_causal:
        effective = heads * causal_pairs(q_len, k_len) * per_pair
    elif allowed_pairs is not None:
        effective = allowed_pairs * per_pair
    else:
        effective = macs
    scores = heads * q_len * k_len
    other = scores * (1 + SOFTMAX_FLOPS + (1 if has_mask else 0))  # scale, softmax, mask add
    activations = scores + heads * q_len * ev  # outputs of the two matmuls
    return OpCost(macs=macs, other_flops=other, activations=activations, effective_macs=effective)


def attention_bytes(q, k, v, mask, out) -> int:
    """Unfused traffic of attention, as the math path would move it: read q, k,
    write scores; softmax reads and writes them; read probabilities and v,
    write the output. The score matrix is touched four times."""
    scores = _numel(q.shape[:-1]) * int(k.shape[-2]) * q.element_size()
    mask_bytes = _distinct_elements(mask) * mask.element_size() if isinstance(mask, torch.Tensor) else 0
    return sum(_distinct_elements(t) * t.element_size() for t in (q, k, v, out)) + 4 * scores + mask_bytes


def _sdpa_kernel(q_i, k_i, v_i, causal_i, mask_i=None) -> Callable:
    """Handle for a fused attention kernel whose arguments sit at these positions."""

    def handle(args, kwargs, out):
        def arg(i, name):
            if i is not None and len(args) > i:
                return args[i]
            return kwargs.get(name)

        q, k, v = args[q_i], args[k_i], args[v_i]
        is_causal = bool(arg(causal_i, "is_causal"))
        mask = arg(mask_i, "attn_mask")
        return attention_cost(q.shape, k.shape, v.shape, is_causal, mask is not None)

    return handle


def _native_mha(args, kwargs, out) -> OpCost:
    """nn.MultiheadAttention's fused fast path, projections included.

    _native_multi_head_attention(query, key, value, embed_dim, num_head,
    qkv_weight, qkv_bias, proj_weight, proj_bias, mask, ...). Only reached if
    the fast path is on; `count` turns it off so that MHA decomposes into
    the same ops on every device, but a direct call is still counted whole.
    """
    query, key = args[0], args[1]  # value has the shape of key
    embed_dim, heads = int(args[3]), int(args[4])
    batch, q_len = query.shape[0], query.shape[1]
    k_len = key.shape[1]
    head_dim = embed_dim // heads
    proj = (batch * q_len + 2 * batch * k_len) * embed_dim * embed_dim + batch * q_len * embed_dim * embed_dim
    attn = attention_cost((batch, heads, q_len, head_dim), (batch, heads, k_len, head_dim),
                          (batch, heads, k_len, head_dim), False, len(args) > 9 and args[9] is not None)
    return OpCost(macs=proj + attn.macs, other_flops=attn.other_flops + 4 * batch * q_len * embed_dim,
                  activations=attn.activations + 4 * batch * q_len * embed_dim)


# --- other ops with their own cost -------------------------------------------


def _per_input_element(flops_per_element: int) -> Callable:
    def handle(args, kwargs, out):
        return OpCost(other_flops=flops_per_element * _first_tensor(args).numel())

    return handle


def _normalize(weight_arg: int) -> Callable:
    """Norms that compute statistics from their input; the weight sits at `weight_arg`.
    native_layer_norm(input, normalized_shape, weight, bias, eps): 2;
    native_group_norm(input, weight, bias, ...) and batch norm in training: 1."""

    def handle(args, kwargs, out):
        affine = AFFINE_FLOPS if len(args) > weight_arg and args[weight_arg] is not None else 0
        return OpCost(other_flops=(NORMALIZE_FLOPS + affine) * args[0].numel())

    return handle


def _rms_norm(args, kwargs, out) -> OpCost:
    # _fused_rms_norm(input, normalized_shape, weight, eps): square, mean, scale (+ weight).
    affine = 1 if len(args) > 2 and args[2] is not None else 0
    return OpCost(other_flops=(3 + affine) * args[0].numel())


_batch_norm_training = _normalize(1)


def _batch_norm_eval(args, kwargs, out) -> OpCost:
    return OpCost(other_flops=STORED_STATS_NORM_FLOPS * args[0].numel())


def _native_batch_norm(args, kwargs, out) -> OpCost:
    # native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps)
    training = bool(args[5]) if len(args) > 5 else False
    return (_batch_norm_training if training else _batch_norm_eval)(args, kwargs, out)


def _pool_window(args, kwargs, out) -> OpCost:
    # max/avg pool: one comparison or add per window element per output element.
    kernel = args[1]
    window = _numel(kernel) if isinstance(kernel, (list, tuple)) else int(kernel) ** (args[0].dim() - 2)
    return OpCost(other_flops=_first_tensor(out).numel() * window)


def _source_elements(args, kwargs, out) -> OpCost:
    # index_add(self, dim, index, source) / scatter_add(self, dim, index, src): one add per source element
    return OpCost(other_flops=args[3].numel())


def _adaptive_avg_pool(args, kwargs, out) -> OpCost:
    return OpCost(other_flops=args[0].numel() + out.numel())  # sum every input, divide every output


def _zero(args, kwargs, out) -> OpCost:
    return ZERO


def _per_output_element(args, kwargs, out) -> OpCost:
    """Pointwise: one op per output element."""
    return OpCost(other_flops=sum(t.numel() for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)))


# --- the registry: one row per op --------------------------------------------

# What an op does to mixture-of-experts routing (see _Counter._track_routing).
SOURCE = "source"  # its integer or boolean outputs pick tokens (a router's argmax, topk) where it reads activations
DISPATCH = "dispatch"  # its outputs pick tokens whatever it reads (nonzero over an expert's dispatch mask)
SELECTOR = "selector"  # selects rows of its first tensor argument by an index or mask
COMBINER = "combiner"  # writes selected rows back into dense rows: its output is not routed

# Its part in attention written out as matrix products (see _Counter._track_attention).
PRODUCT = "product"  # a batched matrix product: scores if a softmax reads it, values if it reads one
SOFTMAX = "softmax"


@dataclass(frozen=True)
class OpRule:
    """Everything the counter does with one aten op.

    formula: (args, kwargs, out) -> OpCost. A cost with `effective_macs` is attention.
    traffic: False for ops that allocate or query shapes without reading or writing data;
      such ops move no bytes and use no parameters.
    statistics: outputs after the first are statistics saved for the backward pass, whose
      shapes differ by device (CPU returns empty ones in eval): only the first is charged.
    routing: SOURCE, DISPATCH, SELECTOR, COMBINER or None (marks pass through to outputs).
    expert_groups: (args) -> how many stacked expert matrices one call holds; each
      parameter element is then used by 1/groups of the rows.
    attention: PRODUCT, SOFTMAX or None, for attention that is not one
      scaled_dot_product_attention call.
    on_meta: (args, kwargs) -> the output, for an op whose meta kernel refuses calls that
      other devices run.
    """

    formula: Callable[[tuple, dict, Any], OpCost]
    traffic: bool = True
    statistics: bool = False
    routing: str | None = None
    expert_groups: Callable[[tuple], int] | None = None
    attention: str | None = None
    on_meta: Callable[[tuple, dict], Any] | None = None


OPS: dict[Any, OpRule] = {}  # aten overload packet -> its rule


def register_op(ops, formula: Callable, **treatment) -> None:
    """Register one rule for `ops` (an aten op or a tuple of them). An op has one rule:
    registering it twice is an error, so a row is the op's whole treatment."""
    rule = OpRule(formula, **treatment)
    for op in ops if isinstance(ops, tuple) else (ops,):
        if op in OPS:
            raise ValueError(f"{op} is registered twice; change its one row instead")
        OPS[op] = rule


# Ops that no row names follow these defaults: a view (recognised from its schema) does
# nothing and moves nothing; an op torch tags pointwise costs one op per output element;
# anything else is unknown, reported in `unknown_ops` and left out of `coverage`.
_VIEW = OpRule(_zero, traffic=False)
_POINTWISE = OpRule(_per_output_element)


def rule_for(func) -> OpRule | None:
    """The rule of an op overload: its row, or the default; None if unknown."""
    rule = OPS.get(func.overloadpacket)
    if rule is not None:
        return rule
    if _is_view(func):
        return _VIEW
    if torch.Tag.pointwise in func.tags:
        return _POINTWISE
    return None


# Matrix-type ops: their work is MACs.
register_op(aten.mm, _mm)
register_op((aten.addmm, aten._addmm_activation), _addmm)
# Batched products are where attention written as q @ k^T, as an einsum (which reaches
# dispatch as permutes, views and bmm) or as the math path of SDPA does its MACs.
register_op(aten.bmm, _bmm, attention=PRODUCT)
register_op(aten.baddbmm, _baddbmm, attention=PRODUCT)
register_op(aten._grouped_mm, _grouped_mm, on_meta=_grouped_mm_on_meta,
            expert_groups=lambda args: args[1].shape[0] if args[1].dim() == 3 else 1)
register_op(aten.mv, _mv)
register_op(aten.dot, _dot)
register_op((aten.convolution, aten._convolution), _convolution)
register_op(aten._scaled_dot_product_flash_attention_for_cpu, _sdpa_kernel(0, 1, 2, 4, 5))
register_op(aten._scaled_dot_product_flash_attention, _sdpa_kernel(0, 1, 2, 4))
register_op(aten._scaled_dot_product_efficient_attention, _sdpa_kernel(0, 1, 2, 6, 3))
register_op(aten._scaled_dot_product_cudnn_attention, _sdpa_kernel(0, 1, 2, 6, 3))
register_op(aten._native_multi_head_attention, _native_mha)

# Softmax and norms. Norms also return statistics for the backward pass.
register_op((aten._softmax, aten._safe_softmax), _per_input_element(SOFTMAX_FLOPS), attention=SOFTMAX)
register_op(aten._log_softmax, _per_input_element(SOFTMAX_FLOPS))  # a classifier's, not attention's
register_op(aten.native_layer_norm, _normalize(2), statistics=True)
register_op(aten.native_group_norm, _normalize(1), statistics=True)
# cudnn and miopen: same arguments as native_batch_norm; what CUDA runs in float32
register_op((aten.native_batch_norm, aten.cudnn_batch_norm, aten.miopen_batch_norm), _native_batch_norm,
            statistics=True)
register_op(aten._native_batch_norm_legit, _batch_norm_training, statistics=True)
register_op(aten._native_batch_norm_legit_no_training, _batch_norm_eval, statistics=True)
if hasattr(aten, "_fused_rms_norm"):
    register_op(aten._fused_rms_norm, _rms_norm)

# Pooling.
register_op((aten.max_pool2d_with_indices, aten.max_pool3d_with_indices, aten.avg_pool2d, aten.avg_pool3d),
            _pool_window)
register_op((aten._adaptive_avg_pool2d, aten._adaptive_avg_pool3d), _adaptive_avg_pool)

# Pointwise, though torch does not tag them all so: one op per output element, the convention
# torch's tag gives every other activation (gelu, silu, sigmoid), so that the choice of an
# activation does not change a model's FLOPs. hardswish (MobileNetV3, LeViT) and
# hardsigmoid (MobileNetV3's squeeze-excite, tagged) are x * relu6(x + 3) / 6 and
# relu6(x + 3) / 6: a few comparisons per element, no transcendental. glu halves its input:
# one sigmoid-and-multiply per output element. _prelu_kernel: one comparison-and-multiply.
register_op((aten.hardswish, aten.hardswish_, aten.hardsigmoid, aten.hardsigmoid_, aten.gelu_, aten.mish_,
             aten.glu, aten._prelu_kernel), _per_output_element)
# logsigmoid also returns a buffer for the backward pass (empty on CUDA): a statistics output.
register_op(aten.log_sigmoid_forward, _per_input_element(1), statistics=True)
register_op(aten.floor_divide, _per_output_element)  # a division and a floor: torch does not tag it

# Reductions and scans: one op per input element. The arg- and top-k ones are also how a
# router picks experts (argsort reaches dispatch as sort).
register_op((aten.sum, aten.mean, aten.prod, aten.amax, aten.amin, aten.var, aten.var_mean, aten.std,
             aten.std_mean, aten.cumsum, aten.cumprod, aten.logsumexp, aten.any, aten.all, aten.norm,
             aten.linalg_vector_norm, aten.aminmax, aten.histc, aten.bincount), _per_input_element(1))
register_op((aten.argmax, aten.argmin, aten.max, aten.min, aten.topk, aten.sort), _per_input_element(1),
            routing=SOURCE)
# Sampling experts: a cumulative sum over the probabilities, then a search.
register_op(aten.multinomial, _per_input_element(1), routing=SOURCE)

# Adds of selected rows into dense ones: one add per source element.
register_op((aten.index_add, aten.index_add_, aten.scatter_add, aten.scatter_add_), _source_elements,
            routing=COMBINER)

# Zero by definition: data movement, indexing and tensor creation do no arithmetic (their
# bytes still count). Copies and selects that torch tags pointwise (_to_copy, where,
# masked_fill) are named here, so the pointwise default does not apply to them.
register_op((
    aten.clone, aten.copy_, aten._to_copy, aten.copy, aten.contiguous, aten.cat, aten.stack,
    aten.embedding, aten.constant_pad_nd, aten.reflection_pad2d, aten.replication_pad2d, aten.repeat,
    aten.repeat_interleave, aten.roll, aten.flip, aten.tril, aten.triu, aten.one_hot, aten.index_copy,
    aten.index_copy_, aten.slice_scatter, aten.select_scatter, aten.diagonal_scatter,
    aten.zeros, aten.zeros_like, aten.ones, aten.ones_like, aten.full, aten.full_like,
    aten.new_zeros, aten.new_ones, aten.new_full, aten.scalar_tensor, aten.arange,
    aten.linspace, aten.fill, aten.fill_, aten.zero_, aten.lift_fresh, aten.lift_fresh_copy,
    aten.detach, aten.alias, aten._unsafe_view, aten.randint, aten.randn, aten.rand,
    aten.randperm, aten.bernoulli, aten.bernoulli_, aten.normal_, aten.uniform_,
    aten._local_scalar_dense, aten.item, aten.split_with_sizes_copy, aten.unbind_copy,
    aten.upsample_nearest2d, aten.upsample_nearest1d, aten.upsample_nearest3d,
    aten.pixel_shuffle, aten.pixel_unshuffle, aten.im2col, aten.col2im, aten.unfold_copy,
    aten.is_nonzero, aten.equal, aten.allclose, aten._assert_async, aten._assert_tensor_metadata,
    aten.resize_, aten.set_, aten.masked_fill, aten.masked_fill_, aten.where,
), _zero)
register_op(aten.nonzero, _zero, routing=DISPATCH)
register_op((aten.index, aten.index_select, aten.masked_select, aten.gather, aten.take), _zero,
            routing=SELECTOR)
register_op((aten.index_put, aten.index_put_, aten.scatter, aten.scatter_), _zero, routing=COMBINER)
# Allocation without writing, and shape queries: nothing moved.
register_op((aten.empty, aten.empty_like, aten.empty_strided, aten.new_empty, aten.new_empty_strided,
             aten.sym_size, aten.sym_stride, aten.sym_numel, aten.sym_storage_offset), _zero, traffic=False)
# Changes a tensor's strides in place (adaptive_avg_pool2d's channels-last output): metadata only.
register_op(aten.as_strided_, _zero, traffic=False)

_ROUTING = "_fairness_routing"  # attribute on a tensor: it holds routing indices or masks
_ROUTED = "_fairness_routed_rows"  # attribute on a tensor: rows selected from a source of that many rows
_SCORES = "_fairness_scores"  # attribute on a tensor: elementwise from a batched product's output (_Scores)
_PROBS = "_fairness_probabilities"  # attribute on a tensor: elementwise from a softmax of scores
_MARKS = (_ROUTING, _ROUTED, _SCORES, _PROBS)


@dataclass
class _Scores:
    """A batched product that may turn out to be attention scores: its MACs, and whether a
    softmax has already claimed them."""

    macs: int
    claimed: bool = False


@dataclass
class OpTotals:
    calls: int = 0
    macs: int = 0
    other_flops: int = 0
    bytes: int = 0

    def add(self, cost: OpCost, nbytes: int) -> None:
        self.calls += 1
        self.macs += cost.macs
        self.other_flops += cost.other_flops
        self.bytes += nbytes

    def as_dict(self) -> dict:
        return {"calls": self.calls, "macs": self.macs, "flops": 2 * self.macs + self.other_flops,
                "other_flops": self.other_flops, "bytes_moved": self.bytes}


@dataclass
class ParamUse:
    """One read of a parameter by an op: how many of its elements, and what share
    of the tokens flowed through it (below 1 only for rows picked by a router)."""

    elements: int
    token_share: float


@dataclass
class CountResult:
    """Raw totals of one forward pass (for the whole batch; `measure` divides per example)."""

    macs: int = 0
    other_flops: int = 0
    bytes_moved: int = 0
    # bytes_moved by the dtype of the tensors moved ("float32": ..., "int64": ...): native
    # low-precision inference moves its floating tensors in fewer bytes (readings.bytes_in)
    bytes_by_dtype: dict = field(default_factory=lambda: defaultdict(int))
    activations: int = 0
    attention_macs: int = 0
    attention_effective_macs: int = 0
    causal_attention_calls: int = 0
    attention_calls: int = 0
    op_calls: int = 0
    known_calls: int = 0
    unknown_ops: dict = field(default_factory=dict)
    by_op: dict = field(default_factory=lambda: defaultdict(OpTotals))
    by_module: dict = field(default_factory=lambda: defaultdict(OpTotals))
    module_calls: dict = field(default_factory=lambda: defaultdict(int))
    # storage id -> uses of that storage's parameter(s)
    param_uses: dict = field(default_factory=lambda: defaultdict(list))
    # how mixture-of-experts routers were treated: "balanced top-k (meta)", "measured (cpu)";
    # None for a model without routers
    routing: str | None = None

    @property
    def flops(self) -> int:
        return 2 * self.macs + self.other_flops

    @property
    def coverage(self) -> float:
        return self.known_calls / self.op_calls if self.op_calls else 1.0


def storage_id(t: torch.Tensor) -> int:
    """Identity of a tensor's storage; works on meta, where data pointers are all 0."""
    return t.untyped_storage()._cdata


class _Counter(TorchDispatchMode):
    def __init__(self, result: CountResult, param_storages: set[int], module_stack: list[str]):
        super().__init__()
        self.r = result
        self.param_storages = param_storages
        self.module_stack = module_stack
        self.attention_depth = 0  # >0 while inside F.scaled_dot_product_attention
        self.marked: list[weakref.ref] = []  # tensors carrying routing marks, cleared on exit

    def _mark(self, t: torch.Tensor, attr: str, value) -> None:
        setattr(t, attr, value)
        self.marked.append(weakref.ref(t))

    def clear_marks(self) -> None:
        """Routing marks must not outlive the count (an in-place op may mark a model's buffer)."""
        for ref in self.marked:
            t = ref()
            if t is not None:
                for attr in _MARKS:
                    if attr in t.__dict__:
                        delattr(t, attr)
        self.marked.clear()

    def record(self, name: str, cost: OpCost, nbytes: int) -> None:
        r = self.r
        r.macs += cost.macs
        r.other_flops += cost.other_flops
        r.bytes_moved += nbytes
        r.activations += cost.activations
        r.by_op[name].add(cost, nbytes)
        for module in set(self.module_stack):
            r.by_module[module].add(cost, nbytes)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        rule = rule_for(func)
        flat_in = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        if rule is not None and rule.on_meta is not None and any(t.device.type == "meta" for t in flat_in):
            out = rule.on_meta(args, kwargs)
        else:
            out = func(*args, **kwargs)
        flat_out = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
        self._track_routing(rule.routing if rule else None, flat_in, flat_out, args)
        if self.attention_depth:
            return out  # costed whole by the attention function mode

        self.r.op_calls += 1
        if rule is None:
            self.r.unknown_ops[str(func.overloadpacket)] = self.r.unknown_ops.get(str(func.overloadpacket), 0) + 1
            cost = ZERO
        else:
            self.r.known_calls += 1
            cost = rule.formula(args, kwargs, out)
            if cost.effective_macs is not None:
                self._note_attention(cost, causal=cost.effective_macs != cost.macs)
        self._track_attention(rule.attention if rule else None, cost, flat_in, flat_out)

        # Unknown ops still read and write their tensors; views move nothing.
        if _is_view(func) or (rule is not None and not rule.traffic):
            nbytes = 0
        else:
            if rule is not None and rule.statistics:
                flat_out = flat_out[:1]
            nbytes = 0
            for t in flat_in + flat_out:
                moved = _distinct_elements(t) * t.element_size()
                self.r.bytes_by_dtype[str(t.dtype).replace("torch.", "")] += moved
                nbytes += moved
            groups = rule.expert_groups(args) if rule is not None and rule.expert_groups else 1
            self._note_param_uses(flat_in, groups)
        self.record(str(func.overloadpacket).replace("aten.", ""), cost, nbytes)
        return out

    def _note_attention(self, cost: OpCost, causal: bool) -> None:
        self.r.attention_calls += 1
        self.r.attention_macs += cost.macs
        self.r.attention_effective_macs += cost.effective_macs
        self.r.causal_attention_calls += int(causal)

    def route_index(self, rows: int, device) -> torch.Tensor:
        """An index of `rows` tokens that counts as picked by a router: a balanced router's
        choice, where values are unknown (moe.py). The index's values are never read."""
        idx = torch.zeros(rows, dtype=torch.long, device=device)
        self._mark(idx, _ROUTING, True)
        return idx

    def _track_attention(self, role: str | None, cost: OpCost, flat_in, flat_out) -> None:
        """Attention that is not one scaled_dot_product_attention call (q @ k^T written out,
        an einsum, the math path of SDPA inside nn.MultiheadAttention) runs as two batched
        products around a softmax. A batched product whose output reaches a softmax through
        elementwise ops only (scale, mask or bias add, dtype cast, views) holds the scores;
        a batched product that reads the softmax's output sums the values. Both are added to
        attention's MACs (dense: a mask's values are not read); the softmax is one call.
        `role` is the op's rule's (PRODUCT, SOFTMAX or None)."""
        if role == PRODUCT:
            if any(hasattr(t, _PROBS) for t in flat_in):
                self._add_attention_macs(cost.macs)
            else:
                for t in flat_out:
                    self._mark(t, _SCORES, _Scores(cost.macs))
            return
        if role == SOFTMAX:
            scores = next((getattr(t, _SCORES) for t in flat_in if hasattr(t, _SCORES)), None)
            if scores is not None and not scores.claimed:
                scores.claimed = True
                self.r.attention_calls += 1
                self._add_attention_macs(scores.macs)
                for t in flat_out:
                    self._mark(t, _PROBS, True)
            return
        if cost.macs:
            return  # another matrix op: what it computes is neither scores nor probabilities
        for attr in (_SCORES, _PROBS):
            marked = next((t for t in flat_in if hasattr(t, attr)), None)
            if marked is not None:
                for t in flat_out:
                    if t.numel() == marked.numel():  # elementwise (or a view): the same values, moved
                        self._mark(t, attr, getattr(marked, attr))

    def _add_attention_macs(self, macs: int) -> None:
        self.r.attention_macs += macs
        self.r.attention_effective_macs += macs

    def _note_param_uses(self, flat_in: list[torch.Tensor], groups: int = 1) -> None:
        """Record which parameters this op read, and for what share of the tokens: rows
        picked by a router over the rows they were picked from, divided among `groups`
        stacked experts when one op holds them all."""
        if not self.param_storages:
            return
        routed = [t for t in flat_in if hasattr(t, _ROUTED)]
        share = 1.0 / groups
        if routed:
            t = routed[0]
            share = min(1.0, _rows(t) / (max(1, getattr(t, _ROUTED)) * groups))
        for t in flat_in:
            sid = storage_id(t)
            if sid in self.param_storages:
                self.r.param_uses[sid].append(ParamUse(_distinct_elements(t), share))

    def _track_routing(self, routing: str | None, flat_in, flat_out, args) -> None:
        """Mark router outputs, and rows selected by them, so that experts' parameters
        are counted as active only for the share of tokens routed to them. `routing`
        is the op's rule's (SOURCE, DISPATCH, SELECTOR, COMBINER or None)."""
        if routing == DISPATCH or (routing == SOURCE and any(t.is_floating_point() or getattr(t, _ROUTING, False)
                                                             for t in flat_in)):
            # a decision on activations (a router's logits or probabilities), or on a router's
            # choice. On token ids an argmax routes nothing: CLIP's end-of-text argmax picks the
            # token to pool, and its projection reads that row for every example.
            for t in flat_out:
                if not t.is_floating_point():
                    self._mark(t, _ROUTING, True)
            return
        if routing == SELECTOR and len(flat_in) >= 2 and isinstance(args[0], torch.Tensor):
            source = args[0]
            if any(getattr(t, _ROUTING, False) for t in flat_in[1:]) and source.dim():
                for t in flat_out:
                    self._mark(t, _ROUTED, getattr(source, _ROUTED, _rows(source)))
                return
        if routing == COMBINER:
            return  # results are combined back into dense rows
        if any(getattr(t, _ROUTING, False) for t in flat_in) and not any(
                t.is_floating_point() for t in flat_out):
            for t in flat_out:
                self._mark(t, _ROUTING, True)
        routed = next((t for t in flat_in if hasattr(t, _ROUTED)), None)
        if routed is not None:
            for t in flat_out:
                if t.dim() and _rows(t) <= _rows(routed):
                    self._mark(t, _ROUTED, getattr(routed, _ROUTED))


def _allowed_pairs(mask, q_shape, k_shape) -> int | None:
    """Query-key pairs an explicit mask lets through, summed over batch and heads.

    Needs the mask's values, so None on meta (there, a masked call counts as dense).
    Boolean masks keep True; additive masks keep entries above half the dtype's
    minimum (transformers fills masked entries with finfo.min, torch with -inf)."""
    if not isinstance(mask, torch.Tensor) or mask.device.type == "meta":
        return None
    keep = mask if mask.dtype == torch.bool else mask > torch.finfo(mask.dtype).min / 2
    shape = tuple(q_shape[:-1]) + (k_shape[-2],)
    return int(torch.broadcast_to(keep, shape).sum().item())


class _AttentionMode(TorchFunctionMode):
    """Costs F.scaled_dot_product_attention once, by formula, before any backend runs."""

    def __init__(self, counter: _Counter):
        super().__init__()
        self.counter = counter

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.multi_head_attention_forward:
            # A mode does not see the calls inside a function it was handed, so this one's
            # SDPA reaches dispatch as a kernel: fused on CPU and CUDA, the math path on meta.
            # The math path everywhere makes every device run (and count) the same ops.
            with sdpa_kernel(SDPBackend.MATH):
                return func(*args, **kwargs)
        if func is not F.scaled_dot_product_attention or self.counter.attention_depth:
            return func(*args, **kwargs)
        names = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal")
        bound = dict(zip(names, args))
        bound.update(kwargs)
        q, k, v = bound["query"], bound["key"], bound["value"]
        mask, is_causal = bound.get("attn_mask"), bool(bound.get("is_causal", False))
        self.counter.attention_depth += 1  # also keeps _allowed_pairs' own ops out of the counts
        try:
            out = func(*args, **kwargs)
            if out.dim() == 4:
                # The fused kernels return [B, H, L, D] stored as [B, L, H, D]; the math
                # path (meta) returns it contiguous. One layout everywhere keeps the ops
                # that follow (a transpose-reshape: a view or a copy) the same on every device.
                out = out.transpose(1, 2).contiguous().transpose(1, 2)
            allowed = _allowed_pairs(mask, q.shape, k.shape)
        finally:
            self.counter.attention_depth -= 1
        cost = attention_cost(q.shape, k.shape, v.shape, is_causal, mask is not None, allowed)
        counter = self.counter
        counter.r.op_calls += 1
        counter.r.known_calls += 1
        counter._note_attention(cost, causal=is_causal or cost.effective_macs < cost.macs)
        counter.record("scaled_dot_product_attention", cost, attention_bytes(q, k, v, mask, out))
        return out


def _module_names(model: torch.nn.Module) -> dict[int, str]:
    names = {}
    for name, module in model.named_modules():  # a shared module keeps its first name
        names.setdefault(id(module), name or "(model)")
    return names


@contextmanager
def _module_tracking(model: torch.nn.Module, stack: list[str], calls: dict):
    """Forward hooks that keep the stack of modules being executed. Removed on exit."""
    names = _module_names(model)
    handles = []

    def pre(module, inputs):
        name = names[id(module)]
        stack.append(name)
        calls[name] += 1

    def post(module, inputs, output):
        stack.pop()

    for module in model.modules():
        handles.append(module.register_forward_pre_hook(pre))
        handles.append(module.register_forward_hook(post, always_call=True))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@contextmanager
def _mha_fastpath_off():
    """nn.MultiheadAttention's fast path fuses projections and attention into one op
    on CPU and CUDA but not on meta; turning it off makes every device run the same
    ops, so counts agree. Restored on exit."""
    mha = getattr(torch.backends, "mha", None)
    if mha is None:
        yield
        return
    before = mha.get_fastpath_enabled()
    mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        mha.set_fastpath_enabled(before)


def param_storages(model: torch.nn.Module) -> set[int]:
    return {storage_id(p) for _, p in model.named_parameters(remove_duplicate=False)}


def run_forward(model: torch.nn.Module, args: tuple, kwargs: dict):
    with torch.no_grad():
        return model(*args, **kwargs)


def _device_of(model: torch.nn.Module) -> str:
    first = next(itertools.chain(model.parameters(), model.buffers()), None)
    return first.device.type if first is not None else "cpu"


def count(model: torch.nn.Module, args: tuple = (), kwargs: dict | None = None,
          balanced_routing: bool | None = None) -> CountResult:
    """Run one forward pass of `model` on `args`/`kwargs` and count everything it executes.

    The model is run in eval mode, without gradients. Nothing is left behind:
    hooks, modes, replaced forwards and the MHA fast-path setting are all restored.
    `balanced_routing`: mixture-of-experts blocks registered in moe.py split their tokens
    evenly over their experts instead of running their routers' choices. Default: on meta,
    where routers' choices cannot be read.
    """
    device = _device_of(model)
    if balanced_routing is None:
        balanced_routing = device == "meta"
    result = CountResult()
    stack: list[str] = []
    counter = _Counter(result, param_storages(model), stack)
    routing = moe.balanced_routing(model, counter.route_index) if balanced_routing else nullcontext([])
    was_training = model.training
    model.eval()
    try:
        with _mha_fastpath_off(), _module_tracking(model, stack, result.module_calls), routing as blocks, \
                _AttentionMode(counter), counter:
            run_forward(model, args, kwargs or {})
    finally:
        counter.clear_marks()
        model.train(was_training)
    if blocks:
        result.routing = f"balanced top-k ({device})"
    elif moe.has_moe_blocks(model) or any(u.token_share < 1 for uses in result.param_uses.values() for u in uses):
        result.routing = f"measured ({device})"
    return result


COUNT_CONVENTION = ("macs: multiply-accumulates of matrix ops (linear, conv, matmul, attention); "
              "flops = 2 x macs + other_flops (pointwise 1/element, softmax 5/element, "
              "norms 5+2/element, reductions 1/input element); per example")


def per_example(value, batch_size: int):
    """Batch totals divided per example; kept an integer when it divides exactly."""
    if isinstance(value, int) and value % batch_size == 0:
        return value // batch_size
    return value / batch_size


@dataclass(frozen=True)
class FlopCounts:
    """Per-example counts of one forward pass (field names: the results-file contract)."""

    macs: int
    flops: int
    other_flops: int
    coverage: float
    unknown_ops: dict
    by_op: dict
    by_module: dict
    engine: str
    fvcore_macs: int | None
    fvcore_note: str | None
    attention: dict
    arithmetic_intensity: float | None
    routing: str | None = None  # mixture of experts: "balanced top-k (meta)" or "measured (cpu)"
    convention: str = COUNT_CONVENTION


def summarize(r: CountResult, batch_size: int, fvcore_macs=None, fvcore_note=None) -> FlopCounts:
    def totals(d: dict) -> dict:
        return {k: {key: (per_example(v, batch_size) if key != "calls" else v)
                    for key, v in t.as_dict().items()} for k, t in d.items()}

    by_module = totals(r.by_module)
    for name, t in by_module.items():
        t["calls"] = r.module_calls.get(name, t["calls"])
    return FlopCounts(
        macs=per_example(r.macs, batch_size),
        flops=per_example(r.flops, batch_size),
        other_flops=per_example(r.other_flops, batch_size),
        coverage=round(r.coverage, 6),
        unknown_ops=dict(r.unknown_ops),
        by_op=dict(sorted(totals(r.by_op).items(), key=lambda kv: -kv[1]["flops"])),
        by_module=by_module,
        engine="fairness-dispatch",
        fvcore_macs=per_example(fvcore_macs, batch_size) if fvcore_macs is not None else None,
        fvcore_note=fvcore_note,
        attention={
            "calls": r.attention_calls,
            "causal_calls": r.causal_attention_calls,
            "macs_dense": per_example(r.attention_macs, batch_size),
            "macs_effective": per_example(r.attention_effective_macs, batch_size),
        },
        arithmetic_intensity=round(r.flops / r.bytes_moved, 4) if r.bytes_moved else None,
        routing=r.routing,
    )
