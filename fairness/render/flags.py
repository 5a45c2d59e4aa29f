"""Flags and audits for people: terminal text and Markdown (a GitHub issue, an OpenReview
comment). Pure functions of a results file."""

from __future__ import annotations

import textwrap

from .table import aligned
from .units import seconds, si

_MARK = {"unfair": "UNFAIR", "warn": "warn", "info": "info"}


def _evidence(ev: dict) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k}: {fmt(x)}" for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ", ".join(fmt(x) for x in v) + "]"
        return str(v)

    return ", ".join(f"{k}={fmt(v)}" for k, v in ev.items())


def _counts(flags: list[dict]) -> str:
    return ", ".join(f"{sum(f['severity'] == s for f in flags)} {s}" for s in ("unfair", "warn", "info"))


def flags_text(flags: list[dict], verdict: str) -> str:
    lines = [f"verdict: {verdict.upper()} ({_counts(flags)})"]
    for f in flags:
        lines += ["", f"[{_MARK[f['severity']]}] {f['id']}: {', '.join(f['models'])}"]
        lines += textwrap.wrap(f["message"], 100, initial_indent="  ", subsequent_indent="  ")
        lines += textwrap.wrap(f"evidence: {_evidence(f['evidence'])}", 100, initial_indent="  ",
                               subsequent_indent="    ")
        lines += textwrap.wrap(f"advice: {f['advice']}", 100, initial_indent="  ", subsequent_indent="    ")
        lines.append(f"  see: The Efficiency Misnomer, {f['reference']}")
    if not flags:
        lines.append("No rule fired: the indicators known agree on this comparison.")
    return "\n".join(lines)


def _stated_measured(m: dict, key: str) -> tuple[str, str]:
    claims = m.get("claims") or {}
    stated = si(claims[key]) if claims.get(key) else ""
    measured = ""
    if key == "params" and m.get("params"):
        measured = si(m["params"]["unique"])
    elif key in ("flops", "macs") and m.get("flops"):
        measured = si(m["flops"][key])
    return stated, measured


def _speed_claim(c: dict | None, is_latency: bool) -> str:
    if not c:
        return ""
    value = seconds(c["value"]) if is_latency else f"{si(c['value'])} {c.get('unit', 'samples/s')}"
    where = ", ".join(str(x) for x in (c.get("device"), f"batch {c['batch_size']}" if c.get("batch_size") else None,
                                       c.get("dtype")) if x)
    return f"{value} ({where})" if where else value


def _model_rows(res: dict) -> list[tuple]:
    rows = [("model", "role", "params stated", "measured", "FLOPs stated", "measured", "MACs measured",
             "throughput stated", "latency stated")]
    for m in res["models"]:
        ps, pm = _stated_measured(m, "params")
        fs, fm = _stated_measured(m, "flops")
        claims = m.get("claims") or {}
        if not fs and claims.get("macs"):
            fs = f"{si(claims['macs'])} MACs"
        rows.append((m["name"], m["role"], ps, pm, fs, fm, _stated_measured(m, "macs")[1],
                     _speed_claim(claims.get("throughput"), False), _speed_claim(claims.get("latency"), True)))
    return rows


def audit_text(res: dict) -> str:
    a = res["audit"]
    rows = _model_rows(res)
    lines = [f"audit of {a['file']}", f"claim: {a['claim']}" if a["claim"] else "claim: (none stated)", ""]
    lines += aligned(rows, left=set(range(len(rows[0]))))
    lines += ["", "Measured: counted on the meta device where a source is given (FLOPs = 2 x MACs + other ops)."]
    lines += [f"not measured: {m['name']}: {m['measure_error']}" for m in res["models"] if m.get("measure_error")]
    lines.append("")
    lines.append(flags_text(res["flags"], res["verdict"]))
    return "\n".join(lines)


def _md_cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def audit_markdown(res: dict) -> str:
    a = res["audit"]
    rows = _model_rows(res)
    lines = [f"### fairness audit: {_md_cell(a['claim']) or a['file']}", "",
             f"**Verdict: {res['verdict']}** ({_counts(res['flags'])})", "",
             "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows[1:]]
    lines.append("")
    for f in res["flags"]:
        lines += [f"- **{_MARK[f['severity']]} `{f['id']}`** ({_md_cell(', '.join(f['models']))}): "
                  f"{_md_cell(f['message'])}",
                  f"  - evidence: {_md_cell(_evidence(f['evidence']))}",
                  f"  - advice: {_md_cell(f['advice'])}",
                  f"  - see: *The Efficiency Misnomer*, {_md_cell(f['reference'])}"]
    lines += ["", "FLOPs = 2 x MACs + other ops; measured counts come from one forward pass on the meta device "
                  "(fairness audit)."]
    return "\n".join(lines)
