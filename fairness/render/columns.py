"""The columns of a comparison table, with their units and which way is better: one home
for the HTML and LaTeX tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # with its unit
    scale: float  # value / scale is printed
    lower_is_better: bool
    get: Callable[[dict], float | None]
    digits: int = 2

    @property
    def tex_header(self) -> str:
        return self.header.replace("%", r"\%")

    def tex_number(self, v: float) -> str:
        return f"{v / self.scale:.{self.digits}f}"

    def text(self, v: float | None) -> str:
        return "n/a" if v is None else f"{v / self.scale:,.{self.digits}f}"


def _speed(m: dict, part: str, key: str):
    return ((m.get("speed") or {}).get(part) or {}).get(key)


COLUMNS = (
    Column("params", "Params (M)", 1e6, True, lambda m: (m.get("params") or {}).get("unique")),
    Column("applied", "Applied params (M)", 1e6, True, lambda m: (m.get("params") or {}).get("applied")),
    Column("active", "Active params (M)", 1e6, True, lambda m: (m.get("params") or {}).get("active")),
    Column("macs", "MACs (G)", 1e9, True, lambda m: (m.get("flops") or {}).get("macs")),
    Column("flops", "FLOPs (G)", 1e9, True, lambda m: (m.get("flops") or {}).get("flops")),
    Column("throughput", "Throughput (samples/s)", 1.0, False, lambda m: _speed(m, "throughput", "samples_per_s"), 1),
    Column("latency", "Latency, batch 1 (ms)", 1e-3, True, lambda m: _speed(m, "latency", "median_s")),
    Column("peak_memory", "Peak memory (MiB)", 2**20, True, lambda m: (m.get("memory") or {}).get("peak_bytes"), 1),
)


def cell_value(m: dict, col: Column) -> float | None:
    v = col.get(m)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def best_rows(models: list[dict], cols: list[Column], quality: list[str]) -> set[tuple[str, int]]:
    """(column key, row) of the best value in each column: lowest cost, highest throughput,
    highest quality. Ties are all best."""
    best = set()
    for c in cols:
        vals = [(i, cell_value(m, c)) for i, m in enumerate(models)]
        vals = [(i, v) for i, v in vals if v is not None]
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
