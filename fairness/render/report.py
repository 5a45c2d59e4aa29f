"""`render`: every format of a results file into a folder. Pure: the same results file
gives the same files, byte for byte."""

from __future__ import annotations

from pathlib import Path

import jinja2
from markupsafe import Markup

from ..errors import FairnessError
from ..results import dumps, failures
from .columns import COLUMNS, best_rows, cell_value
from .figures import STYLES, inline_svgs, write_figures
from .flags import _evidence
from .latex import report_tex, table_tex
from .markdown import comparison_markdown
from .table import csv_text

FORMATS = ("html", "tex", "md", "csv", "json")
_SEVERITY_ORDER = ("unfair", "warn", "info")


def _env():
    return jinja2.Environment(loader=jinja2.PackageLoader("fairness", "templates"),
                              autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def _flag_groups(flags: list[dict]) -> list[dict]:
    """Flags of one kind and severity together: a comparison with several variants repeats them."""
    groups: dict[tuple, dict] = {}
    for f in flags:
        g = groups.setdefault((f["severity"], f["id"]), {"severity": f["severity"], "id": f["id"],
                                                         "advice": f["advice"], "reference": f["reference"],
                                                         "flags": []})
        g["flags"].append({**f, "evidence_text": _evidence(f["evidence"])})
    return sorted(groups.values(), key=lambda g: _SEVERITY_ORDER.index(g["severity"]))


def html_text(results: dict, style: str = "neurips") -> str:
    models = [m for m in results["models"] if not m.get("failed")]
    base = next((m for m in models if m["role"] == "baseline"), models[0])
    cols = [c for c in COLUMNS if any(cell_value(m, c) is not None for m in models)]
    best = best_rows(models, cols, [])
    rows = []
    for i, m in enumerate(models):
        cells = []
        for c in cols:
            v, ref = cell_value(m, c), cell_value(base, c)
            ratio = f"{v / ref:.2f}x" if v is not None and ref and m is not base else ""
            cells.append({"text": c.text(v), "best": (c.key, i) in best, "ratio": ratio})
        match = m.get("match")
        quality = ", ".join(f"{k} {v}" for k, v in (m.get("quality") or {}).items())
        if not quality and m["role"] == "variant":
            quality = "train this: " + " ".join(f"-k {k}={v}" for k, v in (m.get("kwargs") or {}).items())
        if m.get("capacity_loss"):
            quality += (" | " if quality else "") + "capacity loss: " + "; ".join(m["capacity_loss"])
        rows.append({"name": m["name"], "role": m["role"], "cells": cells, "quality": quality,
                     "match": f"{match['indicator']} ({match['strategy']}, {match['rel_error']:+.1%})" if match else ""})
    groups = _flag_groups(results.get("flags") or [])
    env = results.get("environment") or {}
    cmp = results.get("comparison") or {}
    verdict = results.get("verdict") or "n/a"
    reasons = ", ".join(g["id"] for g in groups if g["severity"] == "unfair") or \
        ", ".join(g["id"] for g in groups if g["severity"] == "warn")
    figures = [(name, Markup(svg)) for name, svg in inline_svgs(results, style).items()]  # matplotlib escapes text
    return _env().get_template("report.html.j2").render(
        title=cmp.get("name") or "comparison",
        subtitle=f"{cmp.get('proposed', models[0]['name'])} against {cmp.get('baseline', base['name'])}"
                 + (f" and {len(models) - 2} matched variants" if len(models) > 2 else ""),
        verdict=verdict, reasons=reasons, flag_groups=groups, headers=[c.header for c in cols], rows=rows,
        figures=figures, environment=[(k, v) for k, v in env.items()], raw_json=dumps(results),
        failed=failures(results),
        isolated=any(((m.get("speed") or {}).get("settings") or {}).get("isolate") for m in models))


def render(results: dict, out: str | Path, formats=FORMATS, style: str = "neurips") -> list[Path]:
    """Write the chosen formats of a results file into `out`; return the paths written."""
    if style not in STYLES:
        raise FairnessError(f"--figure-style {style}: expected one of {', '.join(STYLES)}")
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise FairnessError(f"--format {','.join(unknown)}: expected some of {', '.join(FORMATS)}")
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
            put("report.html", html_text(results, style))
        if "tex" in formats:
            figures = write_figures(results, folder, style)
            written += figures
            put("table.tex", table_tex(results))
            put("report.tex", report_tex(results, [p.stem for p in figures if p.suffix == ".pdf"]))
    except OSError as e:
        raise FairnessError(f"cannot write the report into {folder}: {e.strerror}; choose another --out") from None
    return written


def load_for_render(path: str) -> dict:
    from ..results import load

    data = load(path)
    if not data.get("models"):
        raise FairnessError(f"results file {path}: no models to render")
    return data
