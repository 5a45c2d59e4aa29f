"""Terminal and CSV views of a results file. Pure functions of the results dict."""

from __future__ import annotations

import csv
import io

from ..sources import describe_input
from .units import percent, si, size


def _input_text(inp: dict) -> str:
    text = describe_input(inp)
    if inp.get("kind") == "tokens":
        text += f" (vocabulary {inp['vocab_size']})"
        if inp.get("decoder_seq_len"):
            text += f" + decoder tokens {inp['batch_size']}x{inp['decoder_seq_len']}"
    if inp.get("default_from"):
        text += f"; default from {inp['default_from']}"
    return text


def model_table(m: dict, detail: bool = False) -> str:
    """One model's counting indicators, with units and conventions."""
    p, f, mem = m["params"], m["flops"], m["memory"]
    att = f.get("attention") or {}
    rows: list[tuple[str, str, str]] = [
        ("parameters (unique)", si(p["unique"]), "each storage once; tied weights once"),
        ("  total", si(p["total"]), "every registration; tied weights at each place"),
        ("  applied", si(p["applied"]), "once per use in one forward pass"),
        ("  active", si(p["active"]), "touched per token on average (MoE: routed share)"),
        ("  embedding", si(p["embedding"]), "token, position and patch embeddings"),
        ("  non-embedding", si(p["non_embedding"]), "unique minus embedding"),
        ("  trainable", si(p["trainable"]), "requires_grad"),
        ("  size", size(p["bytes"]), "bytes of unique parameters as stored"),
        ("MACs", si(f["macs"]), "multiply-accumulates of linear, conv, matmul, attention"),
    ]
    if att.get("calls"):
        note = "dense score matrix"
        if att.get("causal_calls"):
            note += f"; causal mask keeps {si(att['macs_effective'])} MACs"
        rows.append(("  in attention", si(att["macs_dense"]), note))
    rows += [
        ("FLOPs", si(f["flops"]), "2 x MACs + other FLOPs"),
        ("  other FLOPs", si(f["other_flops"]), "pointwise, norms, softmax, reductions, pooling"),
        ("activations", si(m["activations"]), "elements out of conv/linear/matmul ops (fvcore's definition)"),
        ("bytes moved", size(mem["bytes_moved"]), "read + written by every op, unfused: an upper bound"),
        ("arithmetic intensity", f"{f['arithmetic_intensity']:.4g}" if f.get("arithmetic_intensity") else "n/a",
         "FLOPs per byte moved"),
        ("coverage", percent(f["coverage"]), "executed ops counted or zero by definition"),
    ]
    if f.get("fvcore_macs") is not None:
        rows.append(("fvcore MACs", si(f["fvcore_macs"]), "second engine (torch.jit trace)"))
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    lines = [
        f"{m['name']}  ({m['source']}{_kwargs_text(m.get('kwargs'))})",
        f"input: {_input_text(m['input'])}; counted on {m.get('counted_on', '?')}",
        "",
        f"{'indicator':<{width}}  {'value':>{vwidth}}  definition",
        f"{'-' * width}  {'-' * vwidth}  {'-' * 10}",
    ]
    lines += [f"{name:<{width}}  {value:>{vwidth}}  {note}" for name, value, note in rows]
    if f.get("unknown_ops"):
        ops = ", ".join(f"{k} x{v}" for k, v in sorted(f["unknown_ops"].items()))
        lines.append(f"not counted (unknown ops): {ops}")
    if f.get("fvcore_note"):
        lines.append(f"note: {f['fvcore_note']}")
    if detail:
        lines += ["", _breakdown("by op", f["by_op"], 15), "", _breakdown("by module (depth <= 2)", {
            k: v for k, v in f["by_module"].items() if k == "(model)" or k.count(".") <= 1}, 25)]
    lines += [
        "",
        f"Counts per example (batch of {m['input'].get('batch_size', 1)} divided by its size), "
        "one forward pass in eval mode. 1 MAC = one multiply + one add; FLOPs = 2 x MACs + other FLOPs. "
        "Prefixes are decimal (G = 1e9); bytes are binary (MiB = 2^20 B).",
    ]
    return "\n".join(lines)


def _kwargs_text(kwargs) -> str:
    return "".join(f" -k {k}={v}" for k, v in (kwargs or {}).items())


def _breakdown(title: str, entries: dict, limit: int) -> str:
    ranked = sorted(entries.items(), key=lambda kv: -kv[1]["flops"])[:limit]
    width = max([len(k) for k, _ in ranked] + [len(title)])
    lines = [f"{title:<{width}}  {'calls':>6}  {'MACs':>10}  {'FLOPs':>10}  {'bytes moved':>11}"]
    lines += [f"{k:<{width}}  {v['calls']:>6}  {si(v['macs']):>10}  {si(v['flops']):>10}  "
              f"{size(v['bytes_moved']):>11}" for k, v in ranked]
    if len(entries) > limit:
        lines.append(f"... {len(entries) - limit} more in the JSON output")
    return "\n".join(lines)


def _flatten(prefix: str, value, out: dict) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = value


# Breakdowns are tables of their own, not columns.
_CSV_SKIP = ("flops.by_op", "flops.by_module")


def csv_text(results: dict) -> str:
    """One row per model, flat dotted columns, raw numbers (no prefixes, no separators)."""
    rows = []
    for m in results["models"]:
        flat: dict = {}
        _flatten("", m, flat)
        rows.append({k: v for k, v in flat.items() if not k.startswith(_CSV_SKIP)})
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()
