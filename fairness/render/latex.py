"""LaTeX: table.tex for \\input into a paper, and report.tex, a standalone document that
compiles with pdflatex. Pure functions of a results file; every user string escaped."""

from __future__ import annotations

import re

from ..results import failures
from ..judgement import judgement_of
from .columns import COLUMNS, best_rows, cell_value, tex_header, tex_number

_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
            "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
            "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}"}
PACKAGES = r"\usepackage{booktabs}, \usepackage{siunitx}"


def escape(text) -> str:
    """Any user string (model names, kwargs, claims) safe in LaTeX text mode."""
    return re.sub(r"[&%$#_{}~^\\<>|]", lambda m: _SPECIAL[m.group()], str(text))


def table_tex(results: dict) -> str:
    """booktabs + siunitx: numbers aligned on the decimal point, units in the header, best in bold."""
    models = [m for m in results["models"] if not m.get("failed")]
    cols = [c for c in COLUMNS if any(cell_value(m, c) is not None for m in models)]
    quality = sorted({k for m in models for k in (m.get("quality") or {})})
    best = best_rows(models, cols, quality)
    def fmt(c) -> str:  # integer digits the column needs, so siunitx reserves no more width than that
        values = [abs(v) / c.scale for m in models if (v := cell_value(m, c)) is not None]
        return f"{max((len(str(int(v))) for v in values), default=1)}.{c.digits}"

    spec = "l" + "".join(f"S[table-format={fmt(c)}]" for c in cols) + "S[table-format=3.2]" * len(quality)
    head = ["{Model}"] + [f"{{{tex_header(c)}}}" for c in cols] + [f"{{{escape(q)}}}" for q in quality]
    lines = [f"% fairness table: needs {PACKAGES} in the preamble.",
             "% Counts per example (one forward pass); MACs: multiply-accumulates. Best in each column in bold.",
             r"\begin{tabular}{" + spec + "}", r"\toprule", " & ".join(head) + r" \\", r"\midrule"]
    for i, m in enumerate(models):
        cells = [escape(m["name"])]
        for c in cols:
            v = cell_value(m, c)
            text = "{--}" if v is None else tex_number(c, v)
            cells.append((r"\bfseries " + text) if (c.key, i) in best and v is not None else text)
        for q in quality:
            v = (m.get("quality") or {}).get(q)
            text = "{--}" if v is None else f"{float(v):.2f}"
            cells.append((r"\bfseries " + text) if (q, i) in best and v is not None else text)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def report_tex(results: dict, figures: list[str]) -> str:
    """A standalone article: verdict and summary, table, findings, figures."""
    cmp = results.get("comparison") or {}
    title = escape(cmp.get("name") or "fairness report")
    j = judgement_of(results)
    lines = [r"\documentclass[10pt]{article}", r"\usepackage[margin=1in]{geometry}", r"\usepackage{booktabs}",
             r"\usepackage{siunitx}", r"\sisetup{detect-weight=true, detect-family=true}", r"\usepackage{graphicx}",
             r"\begin{document}", rf"\section*{{{title}}}",
             rf"\textbf{{{escape(j['summary'][0])}}} " + escape(" ".join(j["summary"][1:])), "",
             r"\begin{center}", r"\resizebox{\textwidth}{!}{\input{table.tex}}", r"\end{center}", ""]
    for name, why in failures(results):
        lines.append(rf"\noindent\textbf{{Failed:}} {escape(name)}: {escape(why)}\par")
    if j["findings"]:
        lines += [r"\subsection*{Findings}", r"\begin{itemize}"]
        for f in j["findings"]:
            scope = "" if f["scope"] == "principal" else " (matched variants; not in the verdict)"
            lines.append(rf"\item \textbf{{{escape(f['severity'])}: {escape(f['id'])}}}{escape(scope)}. "
                         rf"{escape(f['message'])} \emph{{Advice:}} {escape(f['advice'])} "
                         rf"\emph{{See}} The Efficiency Misnomer, {escape(f['reference'])}."
                         + (rf" {escape(f['others_text'])}." if f["others_text"] else ""))
        lines.append(r"\end{itemize}")
    for name in figures:
        lines += [r"\begin{figure}[h]", r"\centering", rf"\includegraphics[width=\textwidth]{{{name}.pdf}}",
                  rf"\caption{{{escape(_CAPTIONS.get(name, name))}}}", r"\end{figure}"]
    env = results.get("environment") or {}
    lines += ["", r"\subsection*{Environment and conventions}",
              escape(f"Device {env.get('device_name')} ({env.get('device')}), dtype {env.get('dtype')}, torch "
                     f"{env.get('torch')}, timm {env.get('timm')}. Counts are per example for one forward pass; "
                     f"MACs are multiply-accumulates; FLOPs = 2 x MACs + other operations."),
              r"\end{document}", ""]
    return "\n".join(lines)


_CAPTIONS = {"fig_ratios": "Each model's cost relative to the baseline (log scale; 1 is the baseline).",
             "fig_quality": "Quality against each cost indicator: the ranking depends on the indicator.",
             "fig_latency": "Latency against batch size."}
