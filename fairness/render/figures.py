"""Figures for the report and for papers: pure functions of a results file.

- ratios: each model's cost indicators as ratios to the baseline (log scale, 1 = the baseline);
- quality: quality against each indicator, one panel per indicator, so a reader sees the
  ranking change with the indicator (the paper's point);
- latency: latency against batch size, where several batch sizes were measured.

Sizes follow the venues' text widths: ICLR and NeurIPS 5.5 in; ICML 3.25 in (one column)
and 6.75 in (two). Fonts are 8-9 pt to sit beside 10 pt body text; no usetex is needed.
Output is deterministic: no dates in the files, fixed SVG ids.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display; the only backend every machine has
import matplotlib.pyplot as plt  # noqa: E402

from ..readings import measured  # noqa: E402

STYLES = {  # figure width in inches, and the base font size
    "neurips": {"width": 5.5, "font": 8},
    "iclr": {"width": 5.5, "font": 8},
    "icml": {"width": 6.75, "font": 8, "column": 3.25},
}
COSTS = (("params", "parameters (unique)"), ("macs", "MACs"), ("throughput", "time per example"),
         ("latency", "latency (batch 1)"), ("peak_memory", "peak memory"))


def _values(m: dict) -> dict:
    """Costs, lower is cheaper: throughput turned into time per example."""
    tp = measured(m, "throughput")
    return {"params": measured(m, "params"), "macs": measured(m, "macs"), "throughput": 1 / tp if tp else None,
            "latency": measured(m, "latency"), "peak_memory": measured(m, "peak_memory")}


def _label(text, tex: bool = False) -> str:
    """A user string as figure text. For PGF every LaTeX special character is escaped (the text
    goes through LaTeX); otherwise only `$`, which would start mathtext."""
    if tex:
        from .latex import escape

        # matplotlib turns "\$" back into "$" (mathtext unescaping) before LaTeX sees it
        return escape(text).replace(r"\$", r"\textdollar{}")
    return str(text).replace("$", r"\$")


def _models(results: dict) -> list[dict]:
    return [m for m in results["models"] if not m.get("failed")]


def _baseline(results: dict) -> dict:
    return next((m for m in _models(results) if m["role"] == "baseline"), _models(results)[0])


def _rc(style: str):
    font = STYLES[style]["font"]
    return {"font.size": font, "axes.titlesize": font + 1, "axes.labelsize": font, "legend.fontsize": font - 1,
            "xtick.labelsize": font - 1, "ytick.labelsize": font - 1, "svg.hashsalt": "fairness",
            "svg.fonttype": "none", "pdf.fonttype": 42, "font.family": "DejaVu Sans"}


def ratios_figure(results: dict, style: str = "neurips", tex: bool = False):
    """Horizontal bars per model: cost ratio to the baseline on each indicator (log scale)."""
    base = _values(_baseline(results))
    models = [m for m in _models(results) if m is not _baseline(results)]
    keys = [(k, label) for k, label in COSTS if base.get(k) and any(_values(m).get(k) for m in models)]
    if not models or not keys:
        return None
    with plt.rc_context(_rc(style)):
        height = 0.35 + 0.22 * len(models) * len(keys)
        fig, ax = plt.subplots(figsize=(STYLES[style]["width"], min(8.0, max(2.0, height))))
        y, labels = 0, []
        colors = plt.get_cmap("tab10").colors
        for i, (k, label) in enumerate(keys):
            for m in models:
                v = _values(m).get(k)
                if v:
                    ax.barh(y, v / base[k], left=0, color=colors[i % 10], height=0.8)
                    ax.text(v / base[k], y, f" {v / base[k]:.2f}x", va="center", fontsize=STYLES[style]["font"] - 2)
                labels.append(f"{_label(m['name'], tex)}: {label}")
                y += 1
        ax.set_xscale("log")
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_yticks(range(len(labels)), labels)
        ax.invert_yaxis()
        ax.set_xlabel(f"cost relative to the baseline ({_label(_baseline(results)['name'], tex)} = 1; lower is cheaper)")
        fig.tight_layout()
    return fig


def quality_figure(results: dict, style: str = "neurips", tex: bool = False):
    """One panel per indicator: the quality metric against that indicator, every model that has both."""
    with_q = [m for m in _models(results) if m.get("quality")]
    if len(with_q) < 2:
        return None
    metric = next(iter(with_q[0]["quality"]))
    with_q = [m for m in with_q if metric in m["quality"]]
    keys = [(k, label) for k, label in COSTS if sum(1 for m in with_q if _values(m).get(k)) >= 2]
    if not keys:
        return None
    with plt.rc_context(_rc(style)):
        fig, axes = plt.subplots(1, len(keys), figsize=(STYLES[style]["width"], 2.0), sharey=True, squeeze=False)
        for ax, (k, label) in zip(axes[0], keys):
            for j, m in enumerate(with_q):
                v = _values(m).get(k)
                if v:
                    ax.scatter([v], [m["quality"][metric]], s=18, color=plt.get_cmap("tab10").colors[j % 10],
                               label=_label(m["name"], tex), zorder=3)
            ax.set_xscale("log")
            ax.set_xlabel(label)
            ax.grid(True, linewidth=0.3)
        axes[0][0].set_ylabel(_label(metric, tex))
        handles, names = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, names, loc="upper center", ncol=min(4, len(names)), frameon=False,
                   bbox_to_anchor=(0.5, 1.12))
        fig.tight_layout()
    return fig


def latency_figure(results: dict, style: str = "neurips", tex: bool = False):
    """Latency (median, one call) against batch size, for models measured at several sizes."""
    series = []
    for m in _models(results):
        runs = [r for r in ((m.get("speed") or {}).get("runs") or []) if r.get("latency")]
        if len(runs) >= 2:
            series.append((m["name"], [r["batch_size"] for r in runs], [r["latency"]["median_s"] for r in runs]))
    if not series:
        return None
    with plt.rc_context(_rc(style)):
        fig, ax = plt.subplots(figsize=(STYLES[style].get("column", STYLES[style]["width"] / 2) * 1.2, 2.2))
        for name, xs, ys in series:
            ax.plot(xs, [y * 1e3 for y in ys], marker="o", markersize=3, label=_label(name, tex))
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel("latency (ms)")
        ax.grid(True, linewidth=0.3)
        ax.legend(frameon=False)
        fig.tight_layout()
    return fig


FIGURES = {"ratios": ratios_figure, "quality": quality_figure, "latency": latency_figure}


def svg_text(fig) -> str:
    """The figure as inline SVG (no XML prolog, no date)."""
    buf = io.StringIO()
    # ids in the SVG are hashes salted at save time: a fixed salt makes them the same every run
    with plt.rc_context({"svg.hashsalt": "fairness", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "fairness"})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def pgf_available() -> bool:
    """PGF export measures text with a TeX engine; without one, only PDF figures are written."""
    return shutil.which("pdflatex") is not None


def write_figures(results: dict, folder: Path, style: str) -> list[Path]:
    """PDF figures for LaTeX, and PGF too where pdflatex is installed; returns the files written."""
    written = []
    for name, make in FIGURES.items():
        fig = make(results, style)
        if fig is None:
            continue
        path = folder / f"fig_{name}.pdf"
        fig.savefig(path, metadata={"CreationDate": None, "ModDate": None, "Creator": "fairness",
                                    "Producer": "fairness"})
        written.append(path)
        plt.close(fig)
        if pgf_available():
            with plt.rc_context({"pgf.texsystem": "pdflatex", "pgf.rcfonts": False}):
                fig = make(results, style, tex=True)  # its text goes through LaTeX: escaped for it
                fig.savefig(folder / f"fig_{name}.pgf")
                plt.close(fig)
            written.append(folder / f"fig_{name}.pgf")
    return written


def inline_svgs(results: dict, style: str) -> dict[str, str]:
    out = {}
    for name, make in FIGURES.items():
        fig = make(results, style)
        if fig is not None:
            out[name] = svg_text(fig)
    return out
