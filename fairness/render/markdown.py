"""The comparison as Markdown: for a GitHub issue or an OpenReview comment. A pure
function of the results file."""

from __future__ import annotations

from ..results import failures
from .flags import _counts, _evidence, _md_cell
from .units import seconds, si, size


def _row(m: dict, base: dict) -> list[str]:
    p, f, sp = m["params"], m["flops"], m.get("speed") or {}
    tp, lat = sp.get("throughput") or {}, sp.get("latency") or {}

    def vs(value, ref):
        return f" ({value / ref:.2f}x)" if value and ref and m is not base else ""

    quality = ", ".join(f"{k} {v}" for k, v in (m.get("quality") or {}).items())
    if not quality and m["role"] == "variant":
        quality = "train this: " + " ".join(f"-k {k}={v}" for k, v in m["kwargs"].items())
    match = m.get("match")
    return [m["name"], m["role"],
            si(p["unique"]) + vs(p["unique"], base["params"]["unique"]),
            si(p["applied"]), si(p["active"]),
            si(f["macs"]) + vs(f["macs"], base["flops"]["macs"]),
            si(tp.get("samples_per_s"), "/s") + vs(tp.get("samples_per_s"), (base.get("speed") or {}).get(
                "throughput", {}).get("samples_per_s")) if tp else "n/a",
            seconds(lat.get("median_s")) if lat else "n/a",
            size((m.get("memory") or {}).get("peak_bytes")),
            f"{match['indicator']} {match['strategy']} {match['rel_error']:+.1%}" if match else "",
            ("capacity loss: " + "; ".join(m["capacity_loss"])) if m.get("capacity_loss") else "",
            quality]


def comparison_markdown(res: dict) -> str:
    cmp = res.get("comparison") or {}
    models = [m for m in res["models"] if not m.get("failed")]
    base = next((m for m in models if m["role"] == "baseline"), models[0])
    header = ["model", "role", "params (unique)", "applied", "active", "MACs", "throughput", "latency (b=1)",
              "peak memory", "matched on", "", "quality"]
    lines = [f"### fairness: {_md_cell(cmp.get('name', 'comparison'))}", "",
             f"**Verdict: {res.get('verdict', 'n/a')}** ({_counts(res.get('flags') or [])})", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in _row(m, base)) + " |" for m in models]
    lines += [f"\n**Failed:** {_md_cell(name)}: {_md_cell(why)}" for name, why in failures(res)]
    env = res["environment"]
    timed = any(m.get("speed") for m in res["models"])
    where = (f" Speed on {env['device_name']} ({env['device']}, {env['dtype']}, torch {env['torch']}), "
             f"throughput at the largest batch measured." if timed else " Speed not measured.")
    lines += ["", "Ratios in parentheses are to the baseline. Counts per example, one forward pass (MACs: "
                  "multiply-accumulates; FLOPs = 2 x MACs + other ops)." + where, "", "#### Flags", ""]
    seen = set()
    for f in res.get("flags") or []:
        if (f["id"], f["severity"]) in seen:  # one line per kind; every instance is in the JSON
            continue
        seen.add((f["id"], f["severity"]))
        lines += [f"- **{f['severity']} `{f['id']}`** ({_md_cell(', '.join(f['models']))}): {_md_cell(f['message'])}",
                  f"  - evidence: {_md_cell(_evidence(f['evidence']))}", f"  - advice: {_md_cell(f['advice'])}",
                  f"  - see: *The Efficiency Misnomer*, {_md_cell(f['reference'])}"]
    n = len(res.get("flags") or [])
    if n > len(seen):
        lines.append(f"- ... {n - len(seen)} more of the same kinds, for other pairs: see results.json")
    return "\n".join(lines) + "\n"
