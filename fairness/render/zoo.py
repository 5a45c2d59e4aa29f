"""A zoo's formats: HTML, Markdown, LaTeX (table and figures), CSV and JSON, from its results file.

The table lists every model with its quality and each cost indicator; a star marks the models
on that indicator's Pareto front. The figures: quality against each indicator as one row of
small multiples with the front drawn, and a heat map of the rank agreement (Kendall's tau-b)
between indicators. Pure: the same results file gives the same files.
"""

from __future__ import annotations

import csv
import io
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from markupsafe import Markup  # noqa: E402

from ..readings import INDICATORS, SPEED_NOISE, speed_part  # noqa: E402
from ..record import ModelRecord  # noqa: E402
from ..results import dumps, typed_models, write  # noqa: E402
from ..zoo import ZOO_SPEEDS, cost, family_summary, shown  # noqa: E402
from .columns import SHORT_HEADS, host_bound, tex_number, text  # noqa: E402
from .figures import STYLES, freeze_layout, place_numbers, style_rc, scale_axis, figure_width, svg_text  # noqa: E402
from .escape import md, md_table, tex  # noqa: E402
from .templates import check_template_dir, render_template  # noqa: E402

STAR = "\u2605"
SUMMARY_DISAGREEMENTS = 4  # in the summary; every one is listed under the findings
PANEL_LABEL_CHARS = 18  # an axis label's line under a panel a third of the text wide
COUNTS, SPEEDS = {"params", "macs", "flops"}, set(ZOO_SPEEDS)


def _ok(res: dict) -> list[ModelRecord]:
    return [m for m in res["models"] if not m.failed]


def _batch(m: ModelRecord, part: str, default=None):
    """The batch size of a model's eager throughput or latency run (`part`)."""
    return (speed_part(m, part) or {}).get("batch_size", default)


def table_rows(res: dict) -> tuple[list[str], list[list[str]]]:
    z = res["zoo"]
    q = z["quality"]
    header = ["model", q or "quality"] + [INDICATORS[k].header for k in z["indicators"]]
    rows = []
    for m in _ok(res):
        cells = [m.name, f"{m.quality[q]:g}" if q in m.quality else "no quality"]
        for k in z["indicators"]:
            star = f" {STAR}" if m.name in z["fronts"].get(k, []) else ""
            cells.append(text(INDICATORS[k], shown(m, k)) + star)
        rows.append(cells)
    return header, rows


def summary(res: dict) -> list[str]:
    """What a reader needs first: how many models, which indicators disagree most, and the models
    the fronts disagree about."""
    z = res["zoo"]
    ok = _ok(res)
    lines = [f"{len(ok)} models" + (f" ({len(res['models']) - len(ok)} failed)" if len(ok) < len(res["models"]) else "")
             + f"; quality: {z['quality'] or 'none given'}" + (" (lower is better)" if z["lower_is_better"] else "")
             + ((f"; speed timed in one interleaved group, paired with {z['reference']}" if len(z["groups"]) == 1 else
                 f"; speed timed in {len(z['groups'])} interleaved groups, each with {z['reference']}")
                + f". Each model's throughput and latency here is {z['reference']}'s median times the model's "
                  f"speed-up over it, paired round by round, so that every speed compares through one reference; "
                  f"each model's own medians are in results.json"
                if any(m.speed is not None for m in ok) else "; counts only")]
    if z.get("no_quality"):
        lines.append(f"No {z['quality']} given for {', '.join(z['no_quality'])}: kept out of the fronts; their costs "
                     f"are still ranked.")
    types = z.get("gpu_types") or {}
    if len(types) > 1:
        lines.append("The groups were timed on different GPUs ("
                     + "; ".join(f"{t}: group{'s' if len(g) > 1 else ''} {', '.join(map(str, g))}" for t, g in types.items())
                     + f"): a speed here compares across them only through {z['reference']}, each model's speed-up "
                     f"over it measured on its own group's GPU; time on one type of GPU to compare them directly.")
    bound = [m.name for m in ok if host_bound(m)]
    if bound:  # then latency ranks how many kernels a model launches, not the work its device does
        lines.append(f"Latency at batch {_batch(ok[0], 'latency', 1)} is "
                     f"bound by the host's kernel launches for {len(bound)} of {len(ok)} models: it ranks how many "
                     f"kernels they launch more than the device's work"
                     + ("; CUDA graph replays (--cuda-graphs) time the device's." if "graph_latency" not in
                        z["indicators"] else "; the CUDA graph columns time the device's."))
    bound = [m.name for m in ok if host_bound(m, INDICATORS["throughput"])]
    if bound:  # the small convnets at batch 256, eager, when the host is slow
        lines.append(f"Throughput at batch {_batch(ok[0], 'throughput')} "
                     f"is bound by the host's kernel launches for {', '.join(bound)} (the GPU idled over half of "
                     f"each step)" + ("; CUDA graph replays (--cuda-graphs) time the device's." if "graph_throughput"
                                      not in z["indicators"] else "; the CUDA graph column times the device's."))
    pairs = sorted(((t, a, b) for a, row in z["tau"].items() for b, t in row.items() if a < b))
    if pairs:
        t, a, b = pairs[0]
        lines.append(f"The rankings by {INDICATORS[a].label} and by {INDICATORS[b].label} agree least "
                     f"(Kendall's tau-b {t:.2f}; 1 is the same order, -1 the reverse).")
    fronts = {k: v for k, v in z["fronts"].items()}
    if fronts:
        lines.append("Pareto fronts: " + "; ".join(f"{INDICATORS[k].label}: {', '.join(v)}" for k, v in fronts.items())
                     + ".")
    if z["disagreements"]:
        # the paper's finding first: on a count's front (parameters, MACs, FLOPs) but dominated on
        # speed, throughput before latency (at batch 1 often bound by the host's launches)
        first = sorted(z["disagreements"], key=lambda d: (not (set(d["on_front"]) & COUNTS
                                                               and set(d["dominated_on"]) & SPEEDS),
                                                          not {"throughput", "graph_throughput"} & set(d["dominated_on"])))
        lines += [d["text"] + "." for d in first[:SUMMARY_DISAGREEMENTS]]
        if len(first) > SUMMARY_DISAGREEMENTS:
            lines.append(f"{len(first) - SUMMARY_DISAGREEMENTS} more disagreements under \"Where the indicators "
                         f"disagree\".")
    elif fronts:
        lines.append("No model is on one front and dominated on another: the indicators agree on this table.")
    return lines + family_summary(z.get("families") or {}, z["quality"])


def _tie_rule(z: dict) -> str:
    """The tie rule of the speeds' fronts, where speeds have fronts."""
    return f"speeds within {SPEED_NOISE:.0%} of each other are a tie" if set(z["fronts"]) & SPEEDS else ""


def front_note(z: dict) -> str:
    """What the star means, and the tie rule."""
    ties = f"; {_tie_rule(z)}, as two processes timing one model differ by that much" if _tie_rule(z) else ""
    return (f"on the Pareto front of {z['quality'] or 'quality'} against that indicator (no other model is at "
            f"least as good on both and better on one{ties}).")


def zoo_markdown(res: dict) -> str:
    z = res["zoo"]
    header, rows = table_rows(res)
    out = [f"# {md(z['name'])}", ""] + [f"- {md(line)}" for line in summary(res)] + ["", f"{STAR}: {front_note(z)}", ""]
    out += md_table(header, rows)
    if z["tau"]:
        keys = [k for k in z["indicators"] if k in z["tau"]]
        out += ["", "Rank agreement between indicators (Kendall's tau-b):", "",
                "| | " + " | ".join(INDICATORS[k].label for k in keys) + " |", "|---|" + "---|" * len(keys)]
        for a in keys:
            out.append(f"| {INDICATORS[a].label} | " + " | ".join(
                "1" if a == b else f"{z['tau'][a].get(b, float('nan')):.2f}" for b in keys) + " |")
    if z["disagreements"]:
        out += ["", "## Where the indicators disagree", ""] + [f"- {md(d['text'])}." for d in z["disagreements"]]
    sources = [(m.name, m.quality_source) for m in _ok(res) if m.quality_source]
    if sources:
        out += ["", "Quality numbers, as given: " + "; ".join(f"{md(n)}: {md(s)}" for n, s in sources) + "."]
    failed = [m for m in res["models"] if m.failed]
    if failed:
        out += ["", "Failed: " + "; ".join(f"{md(m.name)}: {md(m.failed)}" for m in failed)]
    return "\n".join(out) + "\n"


def zoo_csv(res: dict) -> str:
    z = res["zoo"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model", "quality"] + z["indicators"] + [f"front_{k}" for k in z["indicators"]] + ["group", "failed"])
    for m in res["models"]:
        q = m.quality.get(z["quality"]) if z["quality"] else None
        w.writerow([m.name, "" if q is None else q]
                   + [("" if m.failed or shown(m, k) is None else repr(shown(m, k))) for k in z["indicators"]]
                   + [int(m.name in z["fronts"].get(k, [])) for k in z["indicators"]]
                   + [(m.zoo or {}).get("group", ""), m.failed or ""])
    return buf.getvalue()


def tex_table(header: list[str], rows: list[list[str]], caption: str, comment: str,
              units: list[str] | None = None, size: str = "\\small") -> str:
    """A booktabs table of a text column and numbers; cells and caption come escaped. `units`: a
    second header row under the names, so that short names keep the columns narrow."""
    lines = [f"% {comment}", "\\begin{table}[t]", "\\centering", size, "\\setlength{\\tabcolsep}{3pt}",
             "\\begin{tabular}{l" + "r" * (len(header) - 1) + "}", "\\toprule", " & ".join(header) + " \\\\"]
    lines += ([" & ".join(units) + " \\\\"] if units else []) + ["\\midrule"]
    lines += [" & ".join(cells) + " \\\\" for cells in rows]
    lines += ["\\bottomrule", "\\end{tabular}", f"\\caption{{{caption}}}", "\\end{table}"]
    return "\n".join(lines) + "\n"


def zoo_table_tex(res: dict) -> str:
    """A booktabs table; the front's members are marked with a star."""
    z = res["zoo"]
    # a paper's table: speeds replayed from CUDA graphs where the zoo has them, eager ones in the page
    keys = [k for k in z["indicators"] if not (k in ("throughput", "latency") and f"graph_{k}" in z["indicators"])]
    rows = []
    for m in _ok(res):
        cells = [tex(m.name), f"{m.quality[z['quality']]:g}" if z["quality"] in m.quality else "--"]
        for k in keys:
            v = shown(m, k)
            star = "$^\\star$" if m.name in z["fronts"].get(k, []) else ""
            cells.append(("--" if v is None else tex_number(INDICATORS[k], v)) + star)
        rows.append(cells)
    # short names over their units: the full headers made the table 466 pt wider than a 5.5 in page
    header = [tex("Model"), tex(z["quality"] or "Quality")] + [tex(SHORT_HEADS[k][0]) for k in keys]
    units = ["", ""] + [tex(SHORT_HEADS[k][1]) for k in keys]
    return tex_table(header, rows, f"{tex(z['name'])}: $\\star$ marks the Pareto front of "
                                   f"{tex(z['quality'] or 'quality')} against each cost indicator"
                                   + (f" ({tex(_tie_rule(z))})." if _tie_rule(z) else "."),
                     "fairness zoo: $\\star$ marks the Pareto front of quality against that column", units,
                     # eight indicators, quality and the names: at \small 42 pt over a 5.5 in page
                     "\\footnotesize" if len(keys) > 7 else "\\small")


def fronts_figure(res: dict, style: str = "neurips"):
    """Quality against each indicator, one small multiple each, the front drawn as a step line.
    Models are numbered (placed where they overlap nothing, as in the comparison's figures) and
    keyed below the panels."""
    z = res["zoo"]
    q = z["quality"]
    models = [m for m in _ok(res) if q in m.quality]
    keys = [k for k in z["indicators"] if k in z["fronts"]]
    if not models or not keys:
        return None
    number = {m.name: i + 1 for i, m in enumerate(models)}
    font = STYLES[style]["fonts"]["font.size"]
    # one colour per family joined into a curve (not C3, the front's red)
    named = sorted({f for per in (z.get("families") or {}).values() for f in per["members"]})
    families = {f: c for f, c in zip(named, [c for c in (f"C{i}" for i in range(10)) if c != "C3"])}
    with plt.rc_context(style_rc(style)):
        # three panels a row: six in one row of a 5.5 in text left their axis labels on top of each other
        cols = min(3, len(keys))
        rows = -(-len(keys) // cols)
        # the numbered key below the panels, about 8 models a line, and a line naming the families' curves
        key_in = 0.3 + 0.12 * (len(models) // 8) + (0.14 if families else 0)
        height = 1.7 * rows + key_in
        fig = plt.figure(figsize=(figure_width(style, True), height), layout="constrained")
        grid = fig.subplots(rows, cols, sharey=True, squeeze=False)
        for ax in grid.flat[len(keys):]:
            ax.set_visible(False)
        axes = list(grid.flat[:len(keys)])
        for ax, k in zip(axes, keys):
            scale = INDICATORS[k].scale  # in the unit of the axis label: M parameters, G MACs, ms
            pts = [(shown(m, k) / scale, m.quality[q], m.name) for m in models if shown(m, k) is not None]
            on = set(z["fronts"][k])
            for x, y, n in pts:
                ax.scatter([x], [y], s=14, zorder=3, color="C3" if n in on else "0.55", linewidths=0)
            line = sorted((p for p in pts if p[2] in on), key=lambda p: p[0], reverse=INDICATORS[k].higher_is_better)
            if len(line) > 1:
                ax.step([p[0] for p in line], [p[1] for p in line], where="post", color="C3", linewidth=0.8)
            for fam, names in ((z.get("families") or {}).get(k) or {}).get("members", {}).items():
                _family_line(ax, k, [m for m in models if m.name in names], q, families[fam], z["lower_is_better"])
            scale_axis(ax, "x", [p[0] for p in pts])
            # "Latency, CUDA graph, batch 1 (ms)" on one line ran into its neighbour's label
            ax.set_xlabel(textwrap.fill(INDICATORS[k].header, PANEL_LABEL_CHARS))
            ax.grid(True, linewidth=0.3)
        for row in grid:
            row[0].set_ylabel(q + (" (lower is better)" if z["lower_is_better"] else ""))
        fig.get_layout_engine().set(rect=(0, key_in / height, 1, 1 - key_in / height))  # room for the key
        freeze_layout(fig)  # the layout, kept, before numbers are placed by their rendered extents
        for ax, k in zip(axes, keys):
            scale = INDICATORS[k].scale
            place_numbers(fig, ax, [(shown(m, k) / scale, m.quality[q], str(number[m.name]))
                                     for m in models if shown(m, k) is not None], font - 2)
        key = "   ".join(f"{number[m.name]} {m.name}" for m in models)
        if families:  # the families' curves, named in the key in their colours' order
            key += "\nlines: " + ", ".join(f"{f} ({_COLOR_NAMES[c]})" for f, c in families.items())
        fig.text(0.5, 0.01, key, ha="center", va="bottom", fontsize=font - 2, wrap=True)
    return fig


_COLOR_NAMES = {"C0": "blue", "C1": "orange", "C2": "green", "C4": "purple", "C5": "brown", "C6": "pink",
                "C7": "grey", "C8": "olive", "C9": "cyan"}


def _family_line(ax, key: str, members: list[ModelRecord], q: str, color: str, lower_is_better: bool) -> None:
    """A family's curve on one panel: its frontier through its members (curve.py), straight between
    them on the log axis its interpolation is linear on."""
    from ..curve import polyline

    sign = -1 if lower_is_better else 1
    # zoo.cost: lower is better, throughput as seconds per sample, the same space the curve is in
    points = [(cost(m, key), sign * m.quality[q]) for m in members if cost(m, key) is not None]
    front = polyline(points) if points else []
    if len(front) < 2:
        return
    scale, rate = INDICATORS[key].scale, INDICATORS[key].higher_is_better
    ax.plot([(1 / c if rate else c) / scale for c, _ in front], [sign * v for _, v in front], color=color,
            linewidth=0.8, alpha=0.9, zorder=2)


def agreement_figure(res: dict, style: str = "neurips"):
    """Kendall's tau-b between every pair of indicators, as a heat map."""
    z = res["zoo"]
    keys = [k for k in z["indicators"] if k in z["tau"]]
    if len(keys) < 2:
        return None
    font = STYLES[style]["fonts"]["font.size"]
    with plt.rc_context(style_rc(style)):
        # a column wide where the cells' numbers fit in it, else the text wide (figure*): eight
        # indicators in ICML's column put "1.00" over "0.75"
        wide = 0.55 * len(keys) + 1.8
        width = min(wide, figure_width(style, wide > figure_width(style, False)))
        fig, ax = plt.subplots(figsize=(width, 0.45 * len(keys) + 1.0), layout="constrained")
        grid = [[1.0 if a == b else z["tau"][a].get(b, float("nan")) for b in keys] for a in keys]
        image = ax.imshow(grid, vmin=-1, vmax=1, cmap="RdBu")
        labels = [INDICATORS[k].label for k in keys]
        ax.set_xticks(range(len(keys)), labels, rotation=90)  # turned 40 degrees, their boxes overlapped
        ax.set_yticks(range(len(keys)), labels)
        for i, row in enumerate(grid):
            for j, t in enumerate(row):
                ax.text(j, i, f"{t:.2f}", ha="center", va="center", fontsize=font - 2,
                        color="white" if abs(t) > 0.6 else "black")
        fig.colorbar(image, ax=ax, label="Kendall's tau-b", shrink=0.8)
    return fig


def html_page(*, kind: str, title: str, summary_lines: list[str], header: list[str], rows: list[list[str]], note: str,
              findings_title: str, findings: list[str], figures: list, environment_title: str, environment: list,
              res: dict, failed: list[dict], template_dir=None) -> str:
    """The zoo's page (zoo.html.j2, from `template_dir` where it holds one), for a zoo and for a
    merge: a summary, a table, findings, figures, the environment and the raw results."""
    return render_template(
        "zoo.html.j2", template_dir, kind=kind, title=title, summary=summary_lines, header=header, rows=rows,
        note=note, findings_title=findings_title, findings=findings, figures=figures,
        environment_title=environment_title, environment=environment, raw_json=dumps(res), failed=failed)


def where_timed(res: dict) -> list[tuple[str, str]]:
    """One row per timing group: its models, and where it ran (host, GPU and its name) in how long."""
    rows = []
    for p in (res["zoo"].get("executor") or {}).get("groups") or []:
        gpu = f", GPU {','.join(p['gpus'])}" + (f" ({p['gpu_name']})" if p.get("gpu_name") else "") if p.get("gpus") else ""
        state = f"failed: {p['failed']}" if p.get("failed") else f"{p['seconds']:.0f} s"
        rows.append((f"timing group {p['group'] + 1}", f"{', '.join(p['models'])}: on {p.get('host', '?')}{gpu}, {state}"))
    return rows


def render_zoo(res: dict, folder: str | Path, style: str = "neurips", template_dir=None) -> list[Path]:
    """Every format of a zoo into `folder`; zoo.html.j2 from `template_dir` where it holds one."""
    check_template_dir(template_dir)
    res = typed_models(res)  # a results dict built by hand too
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = [write(res, folder / "results.json")]
    figures = {}
    for name, make in (("fig_fronts", fronts_figure), ("fig_agreement", agreement_figure)):
        fig = make(res, style)
        if fig is None:
            continue
        with plt.rc_context(style_rc(style)):  # pdf.fonttype is read when saving: TrueType (42), not Type 3
            fig.savefig(folder / f"{name}.pdf", metadata={"CreationDate": None, "Producer": None, "Creator": None})
        written.append(folder / f"{name}.pdf")
        figures[name] = Markup(svg_text(fig))
        plt.close(fig)
    for name, body in (("report.md", zoo_markdown(res)), ("results.csv", zoo_csv(res)),
                       ("table.tex", zoo_table_tex(res))):
        (folder / name).write_text(body)
        written.append(folder / name)
    header, rows = table_rows(res)
    z = res["zoo"]
    html = html_page(
        kind="zoo", title=z["name"], summary_lines=summary(res), header=header, rows=rows,
        note=f"{STAR}: {front_note(z)}",
        findings_title="Where the indicators disagree", findings=[d["text"] for d in z["disagreements"]],
        figures=list(figures.items()), environment_title="Environment",
        environment=list((res.get("environment") or {}).items()) + where_timed(res), res=res, template_dir=template_dir,
        failed=[m for m in res["models"] if m.failed])
    (folder / "report.html").write_text(html)
    written.append(folder / "report.html")
    return written
