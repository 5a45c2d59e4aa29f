"""The comparison as Markdown: for a GitHub issue or an OpenReview comment, whose limit is 5,000
characters. So it holds what a reviewer pastes: the verdict and its summary, each finding on one
line (its first sentence and the advice), and the models on the judged indicators; the
evidence, the other pairs of each finding, the matched comparisons indicator by indicator, the
arguments that build each variant and the figures are in report.html, which it points to. A pure function of the results
file; every user string is escaped (render/escape.py's `md`)."""

from __future__ import annotations


from .. import readings as rd
from ..judgement import first_sentence, judgement_of
from ..readings import INDICATORS
from ..results import failures, typed_models
from ..units import in_one_unit
from .columns import caveat, caveat_notes, missing_quality, ratio_keys
from .escape import md, md_table

LIMIT = 5000  # characters of an OpenReview comment
# (indicator, header, format): the judged indicators, read through readings.py; MACs stand in for
# FLOPs where FLOPs were not counted (an audit that states only MACs)
# (indicator, header, (kind, unit) for units.in_one_unit: each column in one unit)
_COLUMNS = (("params", "params", ("si", "")), ("flops", "FLOPs", ("si", "")), ("macs", "MACs", ("si", "")),
            ("throughput", "throughput", ("si", "/s")), ("latency", "latency (b=1)", ("seconds", "")),
            ("peak_memory", "peak memory", ("size", "")))


def _cell(m: dict, base: dict, key: str, fmt) -> str:
    v = rd.measured(m, key)
    if v is None:
        return "not measured"
    r = rd.ratio(key, v, rd.measured(base, key)) if m is not base else None
    why = caveat(m, INDICATORS[key])
    return fmt(v) + (f" ({r:.2f}x)" if r else "") + (f" ({why})" if why else "")


def _role(m: dict) -> str:
    """A variant's name says what it is matched on and how; its role adds how close, and whether it
    keeps under half of the baseline's capacity."""
    if m.role != "variant" or not m.match:
        return str(m.role)
    return f"variant, {m.match['rel_error']:+.1%}" + (", capacity loss" if m.capacity_loss else "")


def _findings(res: dict, advice: bool) -> list[str]:
    j = judgement_of(res)
    lines = [f"- **{f['severity']}** `{f['id']}`: {md(first_sentence(f['message']))}"
             + (f" *Advice:* {md(f['advice'])}" if advice else "")
             + (f" (+{f['others']} more pair{'s' if f['others'] > 1 else ''})" if f.get("others") else "")
             for f in j["findings"] if f["scope"] == "principal"]
    # findings about the variants fairness built are not in the verdict: named, not told
    others = [f"`{f['id']}` ({md(', '.join(f['models']))})" for f in j["findings"] if f["scope"] != "principal"]
    if others:
        lines.append("- about the matched variants, not in the verdict: " + "; ".join(others))
    return lines or ["No rule fired: the indicators known agree on this comparison."]


def comparison_markdown(res: dict) -> str:
    """The comparison in at most LIMIT characters where it can be: a comparison with many variants
    drops the findings' advice, then keeps the first variant matched on each indicator."""
    res = typed_models(res)  # a hand-built results dict reads as a file's
    for advice, per_indicator, details in ((True, None, True), (False, None, True), (False, None, False),
                                           (False, 1, False)):
        text = _markdown(res, advice, per_indicator, details)
        if len(text) <= LIMIT:
            break
    return text  # where even the shortest form is longer (very long names), the shortest


def _markdown(res: dict, advice: bool, per_indicator: int | None, details: bool = True) -> str:
    cmp = res.get("comparison") or {}
    name = cmp.get("name", "comparison")
    models = [m for m in res["models"] if not m.failed]
    base = next((m for m in models if m.role == "baseline"), models[0])
    counted = {k for k, _, _ in _COLUMNS if any(rd.measured(m, k) for m in models)}
    columns = [c for c in _COLUMNS if c[0] in counted and not (c[0] == "macs" and "flops" in counted)]
    # a speed in the implementation the judgement reads: one ratio, one value (columns.ratio_keys)
    judged = ratio_keys(models)
    columns = [("graph_" + k, head[:-1] + ", CUDA graph)" if head.endswith(")") else f"{head} (CUDA graph)", f)
               if "graph_" + k in judged else (k, head, f) for k, head, f in columns]
    shown, seen = [], {}
    # a curve's members last, after the variants, as in the report's table (columns.groups)
    for m in sorted(models, key=lambda m: m.role == "curve"):
        on = (m.match or {}).get("indicator") if m.role == "variant" else None
        seen[on] = seen.get(on, 0) + 1
        if on is None or per_indicator is None or seen[on] <= per_indicator:
            shown.append(m)
    header = ["model", "role"] + [h for _, h, _ in columns] + ["quality"]
    fmts = {k: in_one_unit(kind, [rd.measured(m, k) for m in shown], unit) for k, _, (kind, unit) in columns}
    rows = [[m.name, _role(m)] + [_cell(m, base, k, fmts[k]) for k, _, _ in columns]
             + [", ".join(f"{k} {v:g}" for k, v in rd.quality(m).items()) or missing_quality(m)] for m in shown]
    j = judgement_of(res)
    # the headline, then the findings (their first sentences are the first screen's findings)
    lines = [f"### fairness: {md(name)}", "", f"**Verdict: {j['verdict']}**", "", md(j["summary"][0])]
    if j.get("curve"):  # whether the quality win survives at equal cost: the first screen's second line
        lines += ["", md(j["curve"]["sentence"])]
    lines += ["", "#### Findings", ""] + _findings(res, advice) + ["", "#### Models", ""] + md_table(header, rows)
    if details:  # below the table: what was not judged, and the comparisons at equal cost
        lines += [x for s in (j.get("not_judged") or []) + (j.get("details") or []) for x in ("", md(s))]
    if len(shown) < len(models):
        lines += ["", f"{len(models) - len(shown)} more variants, matched by other strategies: in report.html."]
    lines += [f"\n**Failed:** {md(who)}: {md(why)}" for who, why in failures(res)]
    env = res["environment"]
    timed = any(m.speed is not None for m in res["models"])
    where = (f" Speed on {md(env['device_name'])} ({env['dtype']}), throughput at the largest batch measured."
             if timed else " Speed not measured.")
    lines += ["", "Ratios to the baseline: cost ratios for counts and memory (< 1: cheaper), speed-ups for speed "
                  "(> 1: faster). Per example, one forward pass; FLOPs = 2 x MACs + other ops." + where
              + caveat_notes(models),
              "", f"Evidence, every pair, matched comparisons, how to build each variant, figures and environment: "
                  f"report.html of `fairness compare` ({md(name)}), with results.json."]
    return "\n".join(lines) + "\n"
