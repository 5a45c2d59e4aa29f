"""The judgement for people: terminal text and Markdown (a GitHub issue, an OpenReview comment).
Pure functions of a results file: the verdict and its summary, the findings, the matched
comparisons, and for an audit the stated numbers beside the measured ones."""

from __future__ import annotations

import textwrap

from .. import readings as rd
from ..judgement import fmt, judgement_of
from ..readings import INDICATORS
from .escape import md, md_table
from .table import aligned
from ..units import seconds, si

_MARK = {"unfair": "UNFAIR", "warn": "warn", "info": "info"}
RATIO_CONVENTION = ("Ratios: counts and memory as a cost ratio (< 1: cheaper); throughput and latency as a speed-up "
              "(> 1: faster), with the 95% CI of the speed-up where the models were timed in one interleaved group; "
              "'timed apart': not timed together, so machine drift is not paired out. Outcomes: what happens to the "
              "proposed model's advantage when the baseline is replaced by its matched variant.")


def evidence_text(ev: dict) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k}: {fmt(x)}" for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ", ".join(fmt(x) for x in v) + "]"
        return str(v)

    return ", ".join(f"{k}={fmt(v)}" for k, v in ev.items())


def matched_table(j: dict) -> list[list]:
    """Rows of the matched comparisons: header, then per variant and indicator its cells."""
    rows = [["matched on", "variant", "indicator", "vs baseline", "vs variant", "outcome"]]
    for m in j.get("matched") or []:
        on = m["indicator"] + (f" (+{', '.join(m['also'])})" if m.get("also") else "")
        if m.get("unreachable") and m["rel_error"] is None:  # not searched (comparison.unreachable)
            rows.append([on, f"{m['strategy']}: none", "", "", "", "not matched"])
            continue
        if m.get("unreachable"):
            rows.append([on, f"{m['strategy']}: none ({m['rel_error']:+.1%} at best)", "", "", "", "not reachable"])
            continue
        variant = m["variant"] + (f" ({m['rel_error']:+.1%})" if m.get("rel_error") is not None else "")
        for i, r in enumerate(m["rows"]):
            rows.append([on if i == 0 else "", variant if i == 0 else "", _indicator_name(r),
                         fmt(r, "as_made", table=True), fmt(r, "matched", table=True), r["outcome"]])
    return rows


def _indicator_name(r: dict) -> str:
    if r["kind"] == "quality":
        return f"{r['indicator']} (points)"
    return INDICATORS[r["indicator"]].label + (" (speed-up)" if r["kind"] == rd.SPEED else " (cost ratio)")


def judgement_text(res: dict) -> str:
    j = judgement_of(res)
    lines = [f"verdict: {j['verdict'].upper()}"]
    for s in j["summary"]:
        lines += textwrap.wrap(s, 100, initial_indent="  ", subsequent_indent="  ")
    lines += ["", f"findings ({len(j['findings'])}):"] if j["findings"] else \
        ["", "No rule fired: the indicators known agree on this comparison."]
    for f in j["findings"]:
        where = "" if f["scope"] == "principal" else " (matched variants; not in the verdict)"
        lines += ["", f"[{_MARK[f['severity']]}] {f['id']}: {', '.join(f['models'])}{where}"]
        lines += textwrap.wrap(f["message"], 100, initial_indent="  ", subsequent_indent="  ")
        lines += textwrap.wrap(f"evidence: {evidence_text(f['evidence'])}", 100, initial_indent="  ",
                               subsequent_indent="    ")
        lines += textwrap.wrap(f"advice: {f['advice']}", 100, initial_indent="  ", subsequent_indent="    ")
        lines.append(f"  see: The Efficiency Misnomer, {f['reference']}")
        if f["others_text"]:
            lines += textwrap.wrap(f["others_text"], 100, initial_indent="  ", subsequent_indent="    ")
    for s in j.get("not_judged") or []:
        lines += [""] + textwrap.wrap(s, 100)
    if j.get("matched"):
        lines += ["", "matched comparisons: the proposed model against the baseline, and against each variant", ""]
        lines += aligned(matched_table(j), left={0, 1, 2, 5})
        lines += [""] + textwrap.wrap(RATIO_CONVENTION, 100)
    for s in j.get("details") or []:
        lines += [""] + textwrap.wrap(s, 100)
    return "\n".join(lines)


def judgement_markdown(res: dict) -> list[str]:
    """The verdict, its summary, the findings and the matched comparisons as Markdown lines."""
    j = judgement_of(res)
    lines = [f"**Verdict: {j['verdict']}**", "", md(j["summary"][0]), "", "#### Findings", ""]
    for f in j["findings"]:
        where = "" if f["scope"] == "principal" else " (matched variants; not in the verdict)"
        lines += [f"- **{f['severity']} `{f['id']}`** ({md(', '.join(f['models']))}){where}: {md(f['message'])}",
                  f"  - evidence: {md(evidence_text(f['evidence']))}", f"  - advice: {md(f['advice'])}",
                  f"  - see: *The Efficiency Misnomer*, {md(f['reference'])}"]
        if f["others_text"]:
            lines.append(f"  - {md(f['others_text'])}")
    if not j["findings"]:
        lines.append("No rule fired: the indicators known agree on this comparison.")
    if j.get("matched"):
        table = matched_table(j)
        lines += ["", "#### Matched comparisons", ""] + md_table(table[0], table[1:]) + ["", md(RATIO_CONVENTION)]
    return lines


# --- audit -----------------------------------------------------------------------------------------


def _stated_measured(m: dict, key: str) -> tuple[str, str]:
    """A count as the paper states it, and as measured ('not measured' where nothing was)."""
    stated = rd.stated(m, key)
    if key == "flops" and "flops" not in m.claims:
        stated = None  # stated MACs go in the MACs column, not doubled here
    measured = rd.measured(m, key)
    return si(stated) if stated else "", si(measured) if measured else "not measured"


def _speed_claim(c: dict | None, is_latency: bool) -> str:
    if not c:
        return ""
    value = seconds(c["value"]) if is_latency else f"{si(c['value'])} {c.get('unit', 'samples/s')}"
    where = ", ".join(str(x) for x in (c.get("device"), f"batch {c['batch_size']}" if c.get("batch_size") else None,
                                       c.get("dtype")) if x)
    return f"{value} ({where})" if where else value


def _model_rows(res: dict) -> list[tuple]:
    rows = [("model", "role", "params stated", "measured", "FLOPs stated", "measured", "MACs stated", "measured",
             "throughput stated", "latency stated", "quality")]
    for m in res["models"]:
        claims = m.claims
        quality = ", ".join(f"{k} {v:g}" for k, v in rd.quality(m).items())
        rows.append((m.name, m.role, *_stated_measured(m, "params"), *_stated_measured(m, "flops"),
                     *_stated_measured(m, "macs"), _speed_claim(claims.get("throughput"), False),
                     _speed_claim(claims.get("latency"), True), quality))
    return rows


def _built_lines(res: dict) -> list[str]:
    from ..flags import built_text

    out = [f"{m.name}: measured {built_text(m)}" for m in res["models"] if built_text(m)]
    return out + [f"{m.name}: not measured: {m.measure_error}" for m in res["models"] if m.measure_error]


def audit_text(res: dict) -> str:
    a = res["audit"]
    rows = _model_rows(res)
    lines = [f"audit of {a['file']}", f"claim: {a['claim']}" if a["claim"] else "claim: (none stated)", ""]
    lines += aligned(rows, left=set(range(len(rows[0]))))
    lines += ["", "Measured: counted on the meta device where a source is given (FLOPs = 2 x MACs + other ops)."]
    lines += _built_lines(res)
    return "\n".join(lines + ["", judgement_text(res)])


def audit_markdown(res: dict) -> str:
    a = res["audit"]
    lines = [f"### fairness audit: {md(a['claim'] or a['file'])}", ""] + judgement_markdown(res)
    table = _model_rows(res)
    lines += ["", "#### The numbers", ""] + md_table(table[0], table[1:]) + [""]
    lines += [f"- {md(x)}" for x in _built_lines(res)]
    lines += ["", "FLOPs = 2 x MACs + other ops; measured counts come from one forward pass on the meta device "
                  "(fairness audit)."]
    return "\n".join(lines)
