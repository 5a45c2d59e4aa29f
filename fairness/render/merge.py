"""A merge's formats: HTML, Markdown, LaTeX, CSV and JSON, from its results file.

One row per model: its counts (the same on every target), its quality where a zoo gave one, then
for throughput, latency and peak memory one column per target; a speed cell carries the model's
rank on that target (#1 the fastest), so a swap reads off the table. Pure: the same results file
gives the same files.
"""

from __future__ import annotations

import csv
import json
import io
from pathlib import Path

from ..merge import COUNTS, PER_TARGET, cell, describe, quality_of
from ..readings import INDICATORS, SPEED_NOISE, measured
from ..record import ModelRecord
from ..results import typed_models, write
from .columns import tex_number, text
from .escape import md, md_table, tex
from .templates import check_template_dir
from .zoo import html_page, tex_table


def _columns(res: dict) -> list[tuple[str, str | None]]:
    """(indicator, target label or None for a count) of every column some model has a value in."""
    models, labels = res["models"], [t["label"] for t in res["merge"]["targets"]]
    counts = [(k, None) for k in COUNTS if any(measured(m, k) is not None for m in models)]
    return counts + [(k, lab) for k in PER_TARGET for lab in labels
                     if any(cell(m, lab, k) is not None for m in models)]


def _value(m: ModelRecord, key: str, label: str | None) -> float | None:
    return measured(m, key) if label is None else cell(m, label, key)


def _ranks(res: dict, key: str, label: str) -> dict[str, int]:
    """1 for the fastest model on the target, by throughput or latency."""
    vals = [(m.name, v) for m in res["models"] if (v := cell(m, label, key)) is not None]
    vals.sort(key=lambda x: -x[1] if INDICATORS[key].higher_is_better else x[1])
    return {n: i + 1 for i, (n, _) in enumerate(vals)}


def _header(res: dict, cols) -> list[str]:
    q = res["merge"]["quality"]
    return ["model"] + [INDICATORS[k].header + (f" {lab}" if lab else "") for k, lab in cols] + ([q] if q else [])


def _absent(m: ModelRecord, label: str | None) -> str:
    if label is None:
        return "n/a"
    on = m.targets.get(label)
    return "missing" if on is None else "failed" if on.get("failed") else "not measured"


def table_rows(res: dict, number=text) -> tuple[list[str], list[list[str]]]:
    """The table's header and rows, numbers formatted by `number` (columns.text, or tex_number)."""
    cols = _columns(res)
    ranks = {(k, lab): _ranks(res, k, lab) for k, lab in cols if k in ("throughput", "latency")}
    q = res["merge"]["quality"]
    rows = []
    for m in res["models"]:
        cells = [m.name]
        for k, lab in cols:
            v = _value(m, k, lab)
            rank = ranks.get((k, lab), {}).get(m.name)
            cells.append(_absent(m, lab) if v is None else number(INDICATORS[k], v) + (f" #{rank}" if rank else ""))
        if q:
            v = quality_of(m, q)
            cells.append("no quality" if v is None else f"{v:g}")
        rows.append(cells)
    return _header(res, cols), rows


def summary(res: dict) -> list[str]:
    mg = res["merge"]
    lines = [f"{len(res['models'])} models on {len(mg['targets'])} targets: "
             + ", ".join(f"{t['label']} ({t['file']})" for t in mg["targets"]) + "."]
    for r in mg["rankings"]:
        if r["swap"] is None:
            a, b = r["targets"]
            lines.append(f"The ranking by {INDICATORS[r['indicator']].label} is the same on {a} and {b} "
                         f"({r['models']} models; tau {r['tau']:.2f}"
                         + ("" if r["tau"] == 1 else f"; the pairs in another order are within "
                                                     f"{SPEED_NOISE:.0%} of each other on one target") + ").")
    lines += [f["message"] + "." for f in res["flags"] if f["id"] == "hardware-mismatch"]
    lines += [f"{x['model']} is missing from {', '.join(x['from'])}." for x in mg["missing"]]
    lines += [f"{x['model']} failed on {x['target']}: {x['reason']}." for x in mg["failed"]]
    return lines


NOTE = ("Counts are the same on every target (the merge checks it); speeds and peak memory have a column per "
        "target, and #N is the model's rank on that target, #1 the fastest. 'missing': not in that target's file.")


def merge_markdown(res: dict) -> str:
    header, rows = table_rows(res)
    return "\n".join([f"# {md(res['merge']['name'])}", ""] + [f"- {md(line)}" for line in summary(res)]
                     + ["", md(NOTE), ""] + md_table(header, rows) + ["", "Targets:", ""]
                     + [f"- {md(t['label'])}: {md(describe(t))}; {md(t['file'])}" for t in res["merge"]["targets"]]) \
        + "\n"


def merge_csv(res: dict) -> str:
    """Wide: one column per count and per (indicator, target), raw numbers in their base units."""
    cols = _columns(res)
    q = res["merge"]["quality"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model", "source", "kwargs"] + [k if lab is None else f"{k}@{lab}" for k, lab in cols]
               + ([q] if q else []) + ["missing_from"])
    for m in res["models"]:
        labels = [t["label"] for t in res["merge"]["targets"] if t["label"] not in m.targets]
        values = [_value(m, k, lab) for k, lab in cols]
        w.writerow([m.name, m.source, json.dumps(m.kwargs) if m.kwargs else ""]
                   + ["" if v is None else repr(v) for v in values]
                   + ([quality_of(m, q) if quality_of(m, q) is not None else ""] if q else []) + [";".join(labels)])
    return buf.getvalue()


def merge_table_tex(res: dict) -> str:
    header, rows = table_rows(res, number=tex_number)
    rows = [[tex(c) for c in r] for r in rows]
    names = ", ".join(tex(t["label"]) for t in res["merge"]["targets"])
    return tex_table([tex(h) for h in header], rows,
                     f"{tex(res['merge']['name'])}: the same models on {names}; \\#N is the rank on that target.",
                     "fairness merge: one column per target")


def render_merge(res: dict, folder: str | Path, template_dir=None) -> list[Path]:
    """Every format of a merge into `folder`; its page is zoo.html.j2, from `template_dir` where it
    holds one."""
    check_template_dir(template_dir)
    res = typed_models(res)  # a results dict built by hand too
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = [write(res, folder / "results.json")]
    for name, make in (("report.md", merge_markdown), ("results.csv", merge_csv), ("table.tex", merge_table_tex)):
        (folder / name).write_text(make(res))
        written.append(folder / name)
    header, rows = table_rows(res)
    mg = res["merge"]
    html = html_page(
        kind="merge", title=mg["name"], summary_lines=summary(res), header=header, rows=rows, note=NOTE,
        findings_title="Where the targets rank the models differently",
        findings=[f["message"] for f in res["flags"] if f["id"] == "hardware-mismatch"], figures=[],
        environment_title="Targets", environment=[(t["label"], f"{describe(t)}; {t['file']}") for t in mg["targets"]],
        res=res, failed=[], template_dir=template_dir)
    (folder / "report.html").write_text(html)
    written.append(folder / "report.html")
    return written
