"""The comparison as Markdown: for a GitHub issue or an OpenReview comment. A pure
function of the results file; every user string is escaped (render/flags.py's `md`)."""

from __future__ import annotations

from .. import readings as rd
from ..flags import built_text
from ..results import failures
from ..readings import INDICATORS
from .columns import host_bound, host_bound_note
from .flags import judgement_markdown, md, md_table
from .units import seconds, si, size

# (indicator, header, format): the model table's columns, read through readings.py
_COLUMNS = (("params", "params (unique)", si), ("applied", "applied", si), ("active", "active", si),
            ("macs", "MACs", si), ("throughput", "throughput", lambda v: si(v, "/s")),
            ("latency", "latency (b=1)", seconds), ("graph_latency", "latency, CUDA graph (b=1)", seconds),
            ("peak_memory", "peak memory", size))


def _row(m: dict, base: dict, columns) -> list[str]:
    cells = [m["name"], m["role"]]
    for key, _, fmt in columns:
        v = rd.measured(m, key)
        r = rd.ratio(key, v, rd.measured(base, key)) if m is not base else None
        cells.append("not measured" if v is None else fmt(v) + (f" ({r:.2f}x)" if r else "")
                     + (" (host-bound)" if host_bound(m, INDICATORS[key]) else ""))
    quality = ", ".join(f"{k} {v:g}" for k, v in rd.quality(m).items())
    if not quality and m["role"] == "variant":
        quality = "train this: " + " ".join(f"-k {k}={v}" for k, v in (m.get("kwargs") or {}).items())
    match = m.get("match")
    cells += [f"{match['indicator']} {match['strategy']} {match['rel_error']:+.1%}" if match else "",
              ("capacity loss: " + "; ".join(m["capacity_loss"])) if m.get("capacity_loss") else "", quality]
    return cells


def comparison_markdown(res: dict) -> str:
    cmp = res.get("comparison") or {}
    models = [m for m in res["models"] if not m.get("failed")]
    base = next((m for m in models if m["role"] == "baseline"), models[0])
    columns = [c for c in _COLUMNS if c[0] in ("params", "macs") or any(rd.measured(m, c[0]) for m in models)]
    header = ["model", "role"] + [h for _, h, _ in columns] + ["matched on", "", "quality"]
    lines = [f"### fairness: {md(cmp.get('name', 'comparison'))}", ""] + judgement_markdown(res)
    lines += ["", "#### Models", ""] + md_table([header] + [_row(m, base, columns) for m in models])
    lines += [""] + [f"- {md(m['name'])}: {md(built_text(m))}" for m in models if built_text(m)]
    lines += [f"\n**Failed:** {md(name)}: {md(why)}" for name, why in failures(res)]
    env = res["environment"]
    timed = any(m.get("speed") for m in res["models"])
    where = (f" Speed on {md(env['device_name'])} ({md(env['device'])}, {env['dtype']}, torch {env['torch']}), "
             f"throughput at the largest batch measured." if timed else " Speed not measured.")
    lines += ["", "Ratios in parentheses are to the baseline: cost ratios for counts and memory (< 1: cheaper), "
                  "speed-ups for throughput and latency (> 1: faster). Counts per example, one forward pass (MACs: "
                  "multiply-accumulates; FLOPs = 2 x MACs + other ops)." + where + host_bound_note(models)]
    return "\n".join(lines) + "\n"
