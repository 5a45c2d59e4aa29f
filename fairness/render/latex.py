"""LaTeX: table.tex for \\input into a paper, and report.tex, a standalone document that
compiles with pdflatex. Pure functions of a results file; every user string escaped.

table.tex is a whole float: rows grouped as in the HTML report (the comparison as made, then
the variants by the indicator they are matched on, a \\midrule between groups, a "Matched on"
column), the proposed row starred, each judged indicator beside its ratio to the baseline (an
siunitx number), quality last. It is sized for the venue's column at \\small with no
\\resizebox: the widths of its columns are estimated from the widths of Computer Modern at 9 pt
(measured with pdflatex, rounded up), and where they do not fit, a two-column venue (ICML)
gets a table* across both columns, and otherwise the columns that do not fit move to a second
tabular under the first. The file's first lines and the HTML report say which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..judgement import judgement_of
from ..flags import REPLAY_SLOWER, replay_slower
from ..readings import GRAPH_DECODE, INDICATORS, Indicator, decode_expansion, measured, quality, ratio
from ..results import failures, typed_models
from .columns import (CAVEATS, SHORT_HEADS, best_cells, caveat, cell_value, columns_of, groups, quality_keys,
                      ratio_keys)
from .escape import tex

PACKAGES = r"\usepackage{booktabs}, \usepackage{siunitx} with \sisetup{detect-weight=true, detect-family=true}"

# The venues' widths in inches (their style files): the text, and one column where there are two.
WIDTHS = {"neurips": {"text": 5.5, "column": 5.5}, "iclr": {"text": 5.5, "column": 5.5},
          "icml": {"text": 6.75, "column": 3.25}}
# Widths at \small (9 pt Computer Modern), measured with pdflatex and rounded up about 5%: narrow
# letters and punctuation 2.9 pt, other lowercase 4.8, m and w 7.1, capitals 6.4 (M and W 9.0),
# digits 4.6 (5.3 bold, which a column may hold), the decimal point 2.6; \tabcolsep is 6 pt a side.
_NARROW, _LOWER, _WIDE_LOWER, _UPPER, _WIDE_UPPER = 3.1, 5.0, 7.5, 6.8, 9.5
_DIGIT, _POINT, _SEP = 5.4, 2.7, 12.0
_QUAD_PT = 9.0  # \quad at \small
_MARK_PT = 5.0  # a caveat's superscript ($^h$, $^s$) after a number: 4.85 pt at \small, measured
_SAFETY = 0.97  # of the line width: the estimate's margin for fonts it did not measure

# Which columns go in the first tabular when not all fit: the judged indicators and quality first
_PRIORITY = ("params", "flops", "quality", "graph_throughput", "graph_latency", "throughput", "latency",
             "peak_memory", "ttft", "graph_decode_throughput", "decode_throughput", "kv_cache", "applied", "active",
             "macs")


def _text_pt(s: str) -> float:
    def width(c: str) -> float:
        if c.isdigit():
            return _DIGIT
        if c in "MW@%&_{}<>\\~^#$|":  # the specials are printed by commands about as wide as a capital M
            return _WIDE_UPPER
        if c.isupper():
            return _UPPER
        if c in "mw":
            return _WIDE_LOWER
        return _NARROW if c in "iljtfr.,:;()[]-!' " else _LOWER

    return sum(width(c) for c in s)


def _number_pt(whole: int, decimals: int) -> float:
    return _DIGIT * (whole + decimals) + (_POINT if decimals else 0)


@dataclass(frozen=True)
class Column:
    """One block of the table: an indicator (its value, and its ratio to the baseline where it is
    judged) or a quality metric."""
    key: str
    quality: bool = False
    has_ratio: bool = False  # its ratio to the baseline beside it (columns.ratio_keys)


@dataclass(frozen=True)
class Layout:
    """How table.tex is laid out for a venue: which float, and the columns of each tabular."""
    env: str  # "table" or "table*"
    width_in: float  # the width it must fit
    tabulars: tuple  # of tuples of Column
    description: str  # one line for the report and the .tex


def _row_label(m: dict) -> str:
    """A variant's row, under its group's heading ('BERT-base matched on FLOPs'), is named by how
    the baseline was scaled ('width'), indented; every other row by its model."""
    if m.role == "variant" and m.match:
        return m.match["strategy"]
    return m.name


def _heading(g, base: str) -> str | None:
    """The row that heads a group below the comparison as made: what its rows are."""
    if g.curve:
        return g.title.split(":")[0]  # 'The ResNet (A1 recipe) curve'
    return f"{base} {g.title[0].lower()}{g.title[1:]}" if g.indicator else None  # 'BERT-base matched on FLOPs'


def _decimals(values: list[float], limit: int = 2) -> int:
    return min(limit, max((len(f"{v:g}".partition(".")[2]) for v in values), default=0))


def _formats(results: dict) -> dict:
    """Per column key: (integer digits, decimals) of its values, and of its ratios."""
    models = [m for m in results["models"] if not m.failed]
    base = _baseline(models)
    out = {}
    for c in columns_of(models):
        vals = [v / c.scale for m in models if (v := cell_value(m, c)) is not None]
        out[c.key] = (len(str(int(max(vals, default=0)))), c.digits)
        rs = [r for m in models if m is not base and (r := ratio(c.key, cell_value(m, c), cell_value(base, c)))]
        out[c.key + "/ratio"] = (len(str(int(max(rs, default=0)))), 3 if rs and min(rs) < 0.1 else 2)
        out[c.key + "/mark"] = any(caveat(m, c) for m in models if cell_value(m, c) is not None)
    for q in quality_keys(models):
        vals = [quality(m)[q] for m in models if q in quality(m)]
        out["q/" + q] = (len(str(int(max(vals, default=0)))), _decimals(vals))
    return out


def _baseline(models: list[dict]) -> dict:
    return next((m for m in models if m.role == "baseline"), models[0])


def _width(col: Column, fmt: dict) -> float:
    """Points the block of one column takes: the wider of its header and its numbers."""
    if col.quality:
        whole, dec = fmt["q/" + col.key]
        return max(_text_pt(col.key), _number_pt(whole, dec)) + _SEP
    head, unit = SHORT_HEADS[col.key]
    whole, dec = fmt[col.key]
    value = max(_text_pt(unit), _number_pt(whole, dec) + (_MARK_PT if fmt[col.key + "/mark"] else 0)) + _SEP
    if not col.has_ratio:
        return max(_text_pt(head) + _SEP, value)
    rwhole, rdec = fmt[col.key + "/ratio"]
    rel = max(_text_pt("rel."), _number_pt(rwhole, rdec)) + _SEP
    return max(_text_pt(head) + _SEP, value + rel)


def _fixed_width(results: dict) -> float:
    """The Model column, which every tabular repeats (a variant's name indented by a quad)."""
    models = [m for m in results["models"] if not m.failed]
    name = max(_text_pt(_row_label(m)) + (5 if m.role == "proposed" or m.capacity_loss else 0)
               + (_QUAD_PT if m.role == "variant" else 0) for m in models)
    return max(name, _text_pt("Model")) + _SEP


def paper_columns(models: list[dict]) -> list[Indicator]:
    """The columns of a paper's table: the report's (columns_of) less what the verdict does not
    read and a reader can do without, so that a comparison with its variants fits a column: of a
    speed timed both ways, the implementation not judged (the replays where the proposed model and
    the baseline have judged ones, else eager: ratio_keys), and MACs (FLOPs are 2 x MACs + other
    operations). report.html and results.json keep every column."""
    judged = ratio_keys(models)
    left_out = {"macs"} | {(k if "graph_" + k in judged else "graph_" + k)
                           for k in ("throughput", "latency", "decode_throughput")}
    return [c for c in columns_of(models) if c.key not in left_out]


def table_layout(results: dict, style: str = "neurips") -> Layout:
    """Which columns go in which tabular, in which float, to fit the venue's column at \\small."""
    results = typed_models(results)  # records, from a file or built by hand
    models = [m for m in results["models"] if not m.failed]
    with_ratio = ratio_keys(models)
    cols = [Column(c.key, has_ratio=c.key in with_ratio) for c in paper_columns(models)] + \
        [Column(q, True) for q in quality_keys(models)]
    fmt = _formats(results)
    rank = {k: i for i, k in enumerate(_PRIORITY)}
    by_priority = sorted(cols, key=lambda c: rank["quality" if c.quality else c.key])
    need = _fixed_width(results) + sum(_width(c, fmt) for c in cols)
    widths = WIDTHS[style]
    env, width = "table", widths["column"]
    if need > width * 72.27 * _SAFETY and widths["text"] > widths["column"]:
        env, width = "table*", widths["text"]  # a two-column venue: across both columns
    room = width * 72.27 * _SAFETY - _fixed_width(results)
    tabulars: list[list[Column]] = []
    for c in by_priority:  # in priority order, each into the first tabular with room for it, or a new one
        home = next((t for t in tabulars if sum(_width(x, fmt) for x in t) + _width(c, fmt) <= room), None)
        if home is None:
            tabulars.append(home := [])
        home.append(c)
    order = {c: i for i, c in enumerate(cols)}
    tabulars = [sorted(t, key=order.__getitem__) for t in tabulars]
    where = f"{width:g} in ({'across both columns' if env == 'table*' else 'one column'}) at \\small"
    if len(tabulars) == 1:
        desc = f"every column fits {where} in a {env}" + (
            f", as the {widths['column']:g} in column cannot hold them" if env == "table*" else "")
    else:
        moved = [_name(c) for t in tabulars[1:] for c in t]
        desc = (f"the columns do not fit {where}: {', '.join(moved)} "
                f"{'are' if len(moved) > 1 else 'is'} in a second tabular under the first"
                + (f" ({len(tabulars)} in all)" if len(tabulars) > 2 else ""))
    return Layout(env, width, tuple(tuple(t) for t in tabulars), desc)


def _name(c: Column) -> str:
    return c.key if c.quality else INDICATORS[c.key].label


def _tabular(results: dict, columns: tuple, fmt: dict) -> list[str]:
    models = [m for m in results["models"] if not m.failed]
    base = _baseline(models)
    gs = groups(results)
    best = best_cells(gs, [INDICATORS[c.key] for c in columns if not c.quality], [c.key for c in columns if c.quality])
    spec, head, units, rules, at = "l", [""], ["{Model}"], [], 2
    replayed = any(cell_value(m, INDICATORS[k]) is not None for m in models
                   for k in ("graph_throughput", "graph_latency"))
    for c in columns:
        if c.quality:
            whole, dec = fmt["q/" + c.key]
            spec += f"S[table-format={whole}.{dec}]"
            head.append(f"{{{tex(c.key)}}}")
            units.append("{}")
            at += 1
            continue
        whole, dec = fmt[c.key]
        # a caveat's superscript after the number: siunitx sizes the column for it, or it overflows
        post = r", table-space-text-post={$^h$}" if fmt[c.key + "/mark"] else ""
        spec += f"S[table-format={whole}.{dec}{post}]"
        name, unit = SHORT_HEADS[c.key]
        if c.key in ("throughput", "latency") and replayed:  # beside the replayed columns: say which
            name = {"throughput": "Thr., eager", "latency": "Lat., eager"}[c.key]
        if c.has_ratio:
            rwhole, rdec = fmt[c.key + "/ratio"]
            spec += f"S[table-format={rwhole}.{rdec}]"
            head.append(rf"\multicolumn{{2}}{{c}}{{{name}}}")
            units += [f"{{{unit}}}", "{rel.}"]
            rules.append(rf"\cmidrule(lr){{{at}-{at + 1}}}")
            at += 2
        else:
            head.append(f"{{{name}}}")
            units.append(f"{{{unit}}}")
            at += 1
    lines = [r"\begin{tabular}{" + spec + "}", r"\toprule", " & ".join(head) + r" \\"]
    lines += ([" ".join(rules)] if rules else []) + [" & ".join(units) + r" \\"]
    width = spec.count("S[") + 1  # the Model column and the numbers
    for g in gs:
        if not g.models:
            continue
        lines.append(r"\midrule")
        if (heading := _heading(g, base.name)) is not None:
            lines.append(rf"\multicolumn{{{width}}}{{l}}{{\emph{{{tex(heading)}}}}} \\")
        for m in g.models:
            mark = r"$^\star$" if m.role == "proposed" else r"$^\dagger$" if m.capacity_loss else ""
            cells = [(r"\quad " if m.role == "variant" else "") + tex(_row_label(m)) + mark]
            for c in columns:
                if c.quality:
                    v = quality(m).get(c.key)
                    text = "{--}" if v is None else f"{v:.{fmt['q/' + c.key][1]}f}"
                    cells.append((r"\bfseries " + text) if (c.key, id(m)) in best and v is not None else text)
                    continue
                ind = INDICATORS[c.key]
                v = cell_value(m, ind)
                text = "{--}" if v is None else f"{v / ind.scale:.{fmt[c.key][1]}f}"
                if v is not None and (why := caveat(m, ind)):
                    text += "{$^%s$}" % CAVEATS[why][0]  # braced: after the number siunitx aligns
                cells.append((r"\bfseries " + text) if (c.key, id(m)) in best and v is not None else text)
                if c.has_ratio:
                    r = ratio(c.key, v, cell_value(base, ind)) if m is not base else None
                    cells.append("{--}" if r is None else f"{r:.{fmt[c.key + '/ratio'][1]}f}")
            lines.append(" & ".join(cells) + r" \\")
    return lines + [r"\bottomrule", r"\end{tabular}"]


def _notes(results: dict, layout: Layout) -> str:
    models = [m for m in results["models"] if not m.failed]
    base = _baseline(models)
    speed = [m for m in models if m.speed is not None]
    batch = ((speed[0].speed.throughput or {}).get("batch_size")) if speed else None
    text = (r"$^\star$ proposed. Per example, one forward pass; FLOPs = 2$\times$MACs + other operations. "
            rf"rel.: to {tex(base.name)}, a cost ratio for counts and memory ($<$1: cheaper), a speed-up "
            r"for throughput and latency ($>$1: faster).")
    if batch:
        text += f" Throughput in samples/s at batch {batch}; latency at batch 1."
    shown = {c.key for t in layout.tabulars for c in t if not c.quality}
    found = {caveat(m, INDICATORS[k]) for m in models for k in shown}
    if note := _implementations_note(models, shown):
        text += tex(note)
    if any(m.capacity_loss for m in models):
        text += r" $^\dagger$ keeps under half of the baseline's capacity: a win against it means little."
    text += "".join(f" $^{mark}$" + tex(note) for why, (mark, note, _) in CAVEATS.items() if why in found)
    # host-bound is always named: an eager speed may be, whether or not this table shows one
    unranked = [words for why, (_, _, words) in CAVEATS.items() if why in found or why == "host-bound"]
    text += (" Bold: the better of the proposed model and the baseline, and the best variant within a matched "
             "group on what it was not matched on; no speed is bold where one of its group is "
             + " or ".join(unranked) + ".")
    notes = [f"{g.title}: {'; '.join(g.notes)}." for g in groups(results) if g.notes]
    if notes:
        text += " " + tex(" ".join(notes))
    return text


def _implementations_note(models: list[dict], shown: set[str]) -> str:
    """Which implementation each speed timed both ways is shown in (paper_columns), and why: the
    replays, or eager where a replay ran slower, a replayed decode copied its cache, or not every
    model was replayed; '' where none was."""
    timed_both = [k for k in ("throughput", "latency", "decode_throughput")
                  if any(measured(m, "graph_" + k) is not None for m in models)]
    if not timed_both:
        return ""
    replayed = [INDICATORS[k].label for k in timed_both if "graph_" + k in shown]
    parts = [f"{', '.join(replayed)} replayed from a CUDA graph (graph), without the host's kernel launches"] \
        if replayed else []
    for k in (k for k in timed_both if k in shown):
        slower = k != "decode_throughput" and any(replay_slower(m.speed, k) for m in models)
        copied = k == "decode_throughput" and any(decode_expansion(m, GRAPH_DECODE) for m in models)
        why = (f"a replay ran over {REPLAY_SLOWER - 1:.0%} slower: other kernels under capture" if slower
               else "a replayed decode copied its KV cache up to the query heads" if copied
               else "not every model was replayed")
        parts.append(f"{INDICATORS[k].label} eager ({why})")
    return (" Each speed as the verdict reads it: " + "; ".join(parts)
            + "; the others and MACs are in report.html and results.json.")


def table_tex(results: dict, style: str = "neurips") -> str:
    """booktabs + siunitx in a table (or table*) float, sized for the venue (see the module's docstring)."""
    results = typed_models(results)  # records, from a file or built by hand
    layout = table_layout(results, style)
    fmt = _formats(results)
    cmp = results.get("comparison") or {}
    label = re.sub(r"[^A-Za-z0-9-]+", "-", cmp.get("name") or "comparison")
    lines = [f"% fairness table: needs {PACKAGES} in the preamble.",
             f"% Layout: {layout.description}.", rf"\begin{{{layout.env}}}[t]", r"\centering", r"\small",
             rf"\caption{{{tex(_caption(results))}}}", rf"\label{{tab:fairness-{label}}}"]
    for i, cols in enumerate(layout.tabulars):
        if i:
            lines.append(r"\par\smallskip")  # a tall table (three groups, notes) must still fit a page
        lines += _tabular(results, cols, fmt)
    lines += [r"\par\smallskip", r"{\footnotesize\raggedright " + _notes(results, layout) + r"\par}", rf"\end{{{layout.env}}}",
              ""]
    return "\n".join(lines)


def _caption(results: dict) -> str:
    cmp = results.get("comparison") or {}
    models = [m for m in results["models"] if not m.failed]
    matched = [g.title.replace("Matched on ", "") for g in groups(results) if g.indicator and g.models]
    text = f"{cmp.get('proposed', models[0].name)} against {cmp.get('baseline', _baseline(models).name)}"
    if matched:
        text += f" and its variants matched on {', '.join(matched)}"
    env = results.get("environment") or {}
    timed = any(m.speed is not None for m in models)
    return text + (f"; speed on {env.get('device_name')} ({env.get('dtype')})." if timed else "; counts only.")


def report_tex(results: dict, figures: list[str], style: str = "neurips", template_dir=None) -> str:
    """A standalone article at the venue's text width, so the table and figures appear at the
    size they will have in the paper: verdict and summary, table, findings, figures. Laid out by
    report.tex.j2 (a user's own from `template_dir`); every string given to it is LaTeX."""
    from .figures import CAPTIONS, FULL_WIDTH
    from .templates import render_template

    results = typed_models(results)  # records, from a file or built by hand
    cmp = results.get("comparison") or {}
    j = judgement_of(results)
    w = WIDTHS[style]
    two = w["text"] > w["column"]
    env = results.get("environment") or {}
    findings = [{"severity": tex(f["severity"]), "id": tex(f["id"]), "message": tex(f["message"]),
                 "scope": "" if f["scope"] == "principal" else tex(" (matched variants; not in the verdict)"),
                 "advice": tex(f["advice"]), "reference": tex(f["reference"]),
                 "others": f" {tex(f['others_text'])}." if f["others_text"] else ""} for f in j["findings"]]
    return render_template(
        "report.tex.j2", template_dir,
        class_options="10pt" + (",twocolumn" if two else ""),
        geometry=f"textwidth={w['text']:g}in" + (f", columnsep={w['text'] - 2 * w['column']:g}in" if two else "")
        + ", textheight=9in",
        title=tex(cmp.get("name") or "fairness report"), verdict=j["verdict"],
        summary_head=tex(j["summary"][0]), summary_rest=tex(" ".join(j["summary"][1:])),
        failed=[(tex(name), tex(why)) for name, why in failures(results)], findings=findings,
        # at their own size: sized for this venue's text or column width
        figures=[{"env": "figure*" if two and name in FULL_WIDTH else "figure", "file": f"{name}.pdf",
                  "caption": tex(CAPTIONS.get(name.removeprefix("fig_"), name))} for name in figures],
        environment=tex(f"Device {env.get('device_name')} ({env.get('device')}), dtype {env.get('dtype')}, torch "
                           f"{env.get('torch')}, timm {env.get('timm')}. Counts are per example for one forward "
                           f"pass; MACs are multiply-accumulates; FLOPs = 2 x MACs + other operations."))
