"""The columns of a comparison table, with their units and which way is better: one home
for the HTML and LaTeX tables. Each is an indicator of readings.py, read the same way."""

from __future__ import annotations

from ..readings import INDICATORS, Indicator, measured

# The table's columns, in order; applied and active parameters show sharing and sparsity.
COLUMNS = tuple(INDICATORS[k] for k in ("params", "applied", "active", "macs", "flops", "throughput", "latency",
                                        "graph_throughput", "graph_latency", "peak_memory"))


HOST_BOUND_NOTE = (" host-bound: the GPU idled over half of each batch-1 step, so the host's kernel launches (its "
                   "CPU, thread count and load) set that latency more than the model; the CUDA graph latency, "
                   "where given, is the model's cost without them.")


def host_bound(m: dict, col: Indicator = INDICATORS["latency"]) -> bool:
    """An eager batch-1 latency the host's kernel launches set (the GPU idles over half the step)."""
    return col.key == "latency" and bool(((m.get("speed") or {}).get("latency") or {}).get("host_bound"))


def host_bound_note(models: list[dict]) -> str:
    return HOST_BOUND_NOTE if any(host_bound(m) for m in models) else ""


def cell_value(m: dict, col: Indicator) -> float | None:
    return measured(m, col.key)


def text(col: Indicator, v: float | None) -> str:
    return "not measured" if v is None else f"{v / col.scale:,.{col.digits}f}"


def tex_header(col: Indicator) -> str:
    return col.header.replace("%", r"\%")


def tex_number(col: Indicator, v: float) -> str:
    return f"{v / col.scale:.{col.digits}f}"


def best_rows(models: list[dict], cols: list[Indicator], quality: list[str]) -> set[tuple[str, int]]:
    """(column key, row) of the best value in each column: lowest cost, highest throughput,
    highest quality. Ties are all best."""
    best = set()
    for c in cols:
        vals = [(i, v) for i, m in enumerate(models) if (v := cell_value(m, c)) is not None]
        if len(vals) >= 2:
            target = min(v for _, v in vals) if c.lower_is_better else max(v for _, v in vals)
            best |= {(c.key, i) for i, v in vals if v == target}
    for q in quality:
        vals = [(i, (m.get("quality") or {}).get(q)) for i, m in enumerate(models)]
        vals = [(i, float(v)) for i, v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(vals) >= 2:
            top = max(v for _, v in vals)
            best |= {(q, i) for i, v in vals if v == top}
    return best
