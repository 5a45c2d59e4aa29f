"""`render`: every format of a results file into a folder. Pure: the same results file
gives the same files, byte for byte."""

from __future__ import annotations

import re
from pathlib import Path

from markupsafe import Markup

from ..errors import FairnessError
from ..results import dumps, failures, typed_models
from ..flags import built_text
from ..judgement import judgement_of
from ..readings import quality, ratio
from .columns import (best_cells, cell_value, columns_of, groups, caveat, caveat_notes, missing_quality,
                      quality_keys, ratio_keys, strategy_label, text)
from .figures import CAPTIONS, STYLES, inline_svgs, write_figures
from .judgement import RATIO_CONVENTION, evidence_text, matched_table
from .latex import report_tex, table_layout, table_tex
from .markdown import comparison_markdown
from .table import csv_text
from .templates import check_template_dir, render_template

FORMATS = ("html", "tex", "md", "csv", "json")


def _cell(m: dict, base: dict, c, best: set, with_ratio: set) -> dict:
    v = cell_value(m, c)
    r = ratio(c.key, v, cell_value(base, c)) if m is not base and c.key in with_ratio else None
    why = caveat(m, c)
    return {"text": text(c, v) + (f" ({why})" if why else ""), "best": (c.key, id(m)) in best,
            "ratio": f"{r:.2f}x" if r else ""}


def _header(c, cols: list) -> str:
    """A column's header; an eager speed beside its replayed column says that it is eager."""
    if c.key in ("throughput", "latency") and any(x.key == "graph_" + c.key for x in cols):
        return re.sub(r"^(\w+)", r"\1, eager", c.header)  # "Latency, batch 1 (ms)": "Latency, eager, batch 1 (ms)"
    return c.header


def _row(m: dict, base: dict, cols: list, metrics: list[str], best: set, with_ratio: set) -> dict:
    q = quality(m)
    return {"name": m.name, "role": m.role,
            "how": strategy_label(m) if m.match and m.role == "variant" else m.role,
            "cells": [_cell(m, base, c, best, with_ratio) for c in cols],
            "quality": [{"text": f"{q[k]:g}" if k in q else missing_quality(m),
                         "best": (k, id(m)) in best, "missing": k not in q} for k in metrics],
            "notes": ("keeps " + "; ".join(m.capacity_loss) + ": a win against it means little")
            if m.capacity_loss else ""}


def html_text(results: dict, style: str = "neurips", template_dir=None) -> str:
    """The report: title, the summary a reviewer can paste, the main table (grouped by what the
    variants are matched on), then findings, matched comparisons, figures, environment and
    methods, and the raw results. Laid out by report.html.j2 (a user's own from `template_dir`)."""
    results = typed_models(results)  # a hand-built results dict reads as a file's
    models = [m for m in results["models"] if not m.failed]
    base = next((m for m in models if m.role == "baseline"), models[0])
    table_groups = groups(results)
    cols = columns_of(models)
    metrics = quality_keys(models, results)
    best = best_cells(table_groups, cols, metrics)
    body = [{"title": g.title, "as_made": g.indicator is None and not g.curve, "notes": list(g.notes),
             "rows": [_row(m, base, cols, metrics, best, ratio_keys(models)) for m in g.models]}
            for g in table_groups]
    j = judgement_of(results)
    findings = [{**f, "evidence_text": evidence_text(f["evidence"])} for f in j["findings"]]
    env = results.get("environment") or {}
    cmp = results.get("comparison") or {}
    figures = [(name, Markup(svg), CAPTIONS[name]) for name, svg in inline_svgs(results, style).items()]
    matched = matched_table(j)
    variants = sum(len(g.models) for g in table_groups if g.indicator)
    return render_template(
        "report.html.j2", template_dir,
        title=cmp.get("name") or (results.get("audit") or {}).get("claim") or "comparison",
        subtitle=f"{cmp.get('proposed', models[0].name)} against {cmp.get('baseline', base.name)}"
                 + (f" and {variants} matched variant{'s' if variants != 1 else ''}" if variants else ""),
        verdict=j["verdict"], summary=j["summary"], details=j.get("details") or [],
        not_judged=j.get("not_judged") or [], findings=findings, matched_header=matched[0],
        matched_rows=matched[1:], convention=RATIO_CONVENTION, host_bound_note=caveat_notes(models),
        headers=[_header(c, cols) for c in cols], metrics=metrics, groups=body, ncols=2 + len(cols) + len(metrics),
        built=[(m.name, built_text(m)) for m in models if built_text(m)],
        figures=figures, environment=[(k, v) for k, v in env.items()], raw_json=dumps(results),
        failed=failures(results), latex_layout=table_layout(results, style).description,
        isolated=any(((m.speed.settings if m.speed is not None else None) or {}).get("isolate") for m in models))


def render(results: dict, out: str | Path, formats=FORMATS, style: str = "neurips",
           template_dir: str | Path | None = None, pgf: bool = True) -> list[Path]:
    """Write the chosen formats of a results file into `out`; return the paths written. Templates
    in `template_dir` replace the built-in ones of the same name (render/templates.py). `pgf`:
    the figures as PGF too, for a paper; report.tex itself includes the PDFs."""
    check_template_dir(template_dir)
    if style not in STYLES:
        raise FairnessError(f"--figure-style {style}: expected one of {', '.join(STYLES)}")
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise FairnessError(f"--format {','.join(unknown)}: expected some of {', '.join(FORMATS)}")
    results = typed_models(results)  # every format reads records, from a file or built by hand
    folder = Path(out)
    written: list[Path] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)

        def put(name: str, text: str) -> None:
            (folder / name).write_text(text)
            written.append(folder / name)

        if "json" in formats:
            put("results.json", dumps(results))
        if "csv" in formats:
            put("results.csv", csv_text(results))
        if "md" in formats:
            put("report.md", comparison_markdown(results))
        if "html" in formats:
            put("report.html", html_text(results, style, template_dir))
        if "tex" in formats:
            figures = write_figures(results, folder, style, pgf)
            written += figures
            put("table.tex", table_tex(results, style))
            put("report.tex", report_tex(results, [p.stem for p in figures if p.suffix == ".pdf"], style, template_dir))
    except OSError as e:
        raise FairnessError(f"cannot write the report into {folder}: {e.strerror}; choose another --out") from None
    return written


def load_for_render(path: str) -> dict:
    """A results file, judged again by this fairness's rules: measurements are kept as they are,
    the verdict and findings follow the current rules (and files written before there was a
    judgement get one)."""
    from ..judgement import attach
    from ..results import load

    data = load(path)
    if not data.get("models"):
        raise FairnessError(f"results file {path}: no models to render")
    return attach(data, (data.get("audit") or {}).get("claim") or "")
