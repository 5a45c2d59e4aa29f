"""Figures for the report and for papers: pure functions of a results file.

- tradeoff: quality against parameters, FLOPs, throughput and latency, one row of small
  multiples, so a reader sees the ranking change with the indicator (the paper's point);
  without quality, each model's position on each indicator;
- matched: the proposed model's cost ratio or speed-up against the baseline and against each
  matched variant, grouped by the indicator matched on, with the 95% CI of the paired speed-up
  where the models were timed together;
- batch: latency and throughput against batch size.

Every model has one number and one marker in every figure, the same as its row in the tables'
order: the proposed model a red star, the baseline a black square, the variants circles in the
colour of the indicator they are matched on. Numbers next to points are placed by measuring
their extents with matplotlib's renderer, so that no two overlap and none leaves its axes.

Sizes follow the venues (tueplots' figure widths and font sizes, from the venues' style files):
ICLR and NeurIPS 5.5 in; ICML 6.75 in across both columns and 3.25 in in one. The text is
set at the venue's size: 10 pt for NeurIPS and ICLR, 9 pt for ICML (tueplots: ICML's body is
10 pt, but its captions, which figures sit beside, are 9), ticks and legends 2 pt smaller.
Output is deterministic: no dates in the files, fixed SVG ids.
"""

from __future__ import annotations

import io
import math
import shutil
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display; the only backend every machine has
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter, NullLocator  # noqa: E402
from tueplots import figsizes, fontsizes  # noqa: E402

from ..flags import judged_replay, pair_ratios, view  # noqa: E402
from ..judgement import judgement_of  # noqa: E402
from ..readings import INDICATORS, JUDGED, SPEED, generation_runs, measured, quality  # noqa: E402
from .columns import groups, quality_keys  # noqa: E402

# default_smaller=0: labels at the size tueplots gives the venue's text, not one point under it
STYLES = {
    "neurips": {"text": figsizes.neurips2024()["figure.figsize"][0], "fonts": fontsizes.neurips2024(default_smaller=0)},
    "iclr": {"text": figsizes.iclr2024()["figure.figsize"][0], "fonts": fontsizes.iclr2024(default_smaller=0)},
    "icml": {"text": figsizes.icml2024_full()["figure.figsize"][0],
             "column": figsizes.icml2024_half()["figure.figsize"][0], "fonts": fontsizes.icml2024(default_smaller=0)},
}
FULL_WIDTH = ("fig_tradeoff", "fig_matched")  # across the text; fig_batch fits one column where there are two
CAPTIONS = {
    "tradeoff": "Quality against each cost indicator (one panel each; log axes where the values span 5x or more): "
                "the ranking depends on the indicator. Without quality, each model's position on each indicator. "
                "Where the comparison names a family's curve, the grey line is the best quality its published "
                "members (grey diamonds) reach at each cost; speeds are CUDA graph replays where every model has one.",
    "matched": "The proposed model against the baseline (as compared) and against each matched variant, grouped "
               "by the indicator matched on: cost ratios for counts and memory (< 1: cheaper), speed-ups for "
               "throughput and latency (> 1: faster), log scale, 95% CI of the paired speed-up where timed "
               "together. A hollow grey marker: the indicator that group is matched on.",
    "batch": "Latency of one call and throughput against batch size.",
    "generate": "Text generation against batch size (--generate): decode tokens/s (the median step after the "
                "prefill, times the batch) and time to first token. Solid: the static cache with its decode step "
                "replayed from a CUDA graph; dashed: transformers' dynamic cache called eagerly (dotted: the static "
                "cache eager, on the CPU). A ranking that changes with the implementation or the batch is the "
                "implementation's, not the model's.",
}
# line style per generation implementation (indicators/generate.py's names)
_IMPL_LINES = {"static cache, CUDA graph": "-", "dynamic cache, eager": "--", "static cache, eager": ":"}
_PANELS = ("params", "flops", "throughput", "latency")  # the cost indicators of the trade-off figure
# two lines: a panel of a row of four is about an inch wide
_AXIS = {"params": "parameters\n(M)", "flops": "FLOPs\n(G)", "throughput": "throughput\n(samples/s)",
         "latency": "latency\n(ms)", "peak_memory": "peak memory\n(MiB)"}
# one colour per matched indicator, the same in every figure
_GROUP_COLORS = {"params": "#1f77b4", "applied": "#1f77b4", "active": "#1f77b4", "macs": "#2ca02c",
                 "flops": "#2ca02c", "throughput": "#9467bd", "latency": "#ff7f0e", "peak_memory": "#8c564b",
                 "decode_throughput": "#bcbd22", "ttft": "#e377c2"}  # not the proposed model's red
_OTHER_COLOR = "#17becf"
# one marker per strategy, so that two variants matched on one indicator are told apart in grayscale too
_STRATEGY_MARKERS = {"width": "o", "depth": "^", "compound": "v", "input": "<", "experts": "P", "kv-heads": "X"}
# a panel of a row of five is under an inch wide: its label must be too
_SHORT_NAMES = {"params": "parameters", "flops": "FLOPs", "throughput": "throughput", "latency": "latency",
                "peak_memory": "memory", "ttft": "first token", "decode_throughput": "decode"}
_WIDE_SPAN = 5.0  # values spanning this factor or more get a log axis: on a linear one the small ones crowd at 0


def _label(text, tex: bool = False) -> str:
    """A user string as figure text. For PGF every LaTeX special character is escaped (the text
    goes through LaTeX); otherwise only `$`, which would start mathtext."""
    if tex:
        from .escape import tex

        # matplotlib turns "\$" back into "$" (mathtext unescaping) before LaTeX sees it
        return tex(text).replace(r"$\$$", r"\textdollar{}")
    return str(text).replace("$", r"\$")


def style_rc(style: str) -> dict:
    return {**STYLES[style]["fonts"], "svg.hashsalt": "fairness", "svg.fonttype": "none", "pdf.fonttype": 42,
            "font.family": "DejaVu Sans", "axes.linewidth": 0.6, "xtick.major.width": 0.6,
            "ytick.major.width": 0.6, "lines.linewidth": 1.0}


def figure_width(style: str, full: bool) -> float:
    s = STYLES[style]
    return s["text"] if full else s.get("column", s["text"])


# --- who is who ------------------------------------------------------------------------------


def numbered(results: dict) -> list[tuple[int, dict, dict]]:
    """(number, record, marker style) for each model, in the tables' order: proposed, baseline,
    then the variants by the indicator they are matched on."""
    out = []
    for g in groups(results):
        for m in g.models:
            if m.role == "proposed":
                look = {"marker": "*", "color": "#c62828", "markersize": 9, "zorder": 5}
            elif m.role == "curve":
                look = {"marker": "D", "color": "#757575", "markersize": 4, "zorder": 2}
            elif m.role != "variant":
                look = {"marker": "s", "color": "black", "markersize": 5, "zorder": 4}
            else:  # the colour says the indicator matched on, the marker the strategy
                look = {"marker": _STRATEGY_MARKERS.get((m.match or {}).get("strategy"), "o"),
                        "color": _GROUP_COLORS.get(g.indicator, _OTHER_COLOR), "markersize": 5, "zorder": 3}
            out.append((len(out) + 1, m, look))
    return out


def _legend(fig, entries: list[tuple[int, dict, dict]], tex: bool, width_in: float, font: float,
            panels_in: float, lines: bool = False, extras: tuple[tuple[Line2D, str], ...] = ()) -> None:
    """A legend of numbered markers (with their lines, for a line plot) under the axes, in as many
    columns as fit the figure, which grows by the legend's height so the panels keep theirs.
    `extras`: more entries after the models' (a family's curve, the generation implementations)."""
    handles = [Line2D([], [], linestyle="-" if lines else "none", markeredgewidth=0.8,
                      linewidth=1.4 if m.role != "variant" else 0.8,
                      **{k: v for k, v in look.items() if k != "zorder"}) for _, m, look in entries]
    chars = max(12, int(width_in * 72 / (0.62 * font)))  # characters in a line as wide as the figure
    wrap = chars // 2 - 4 if len(entries) > 3 else chars - 6  # two columns of legend where there are many
    # wrapped before escaping, so that no line ends inside a LaTeX command
    names = [f"{n} {m.name}" for n, m, _ in entries] + [text for _, text in extras]
    handles += [handle for handle, _ in extras]
    labels = ["\n".join(_label(line, tex) for line in textwrap.wrap(
        textwrap.shorten(name, 3 * wrap, placeholder="..."), wrap)) for name in names]
    renderer = fig.canvas.get_renderer()
    for ncol in range(min(len(entries), 4), 0, -1):
        leg = fig.legend(handles, labels, loc="outside lower center", ncol=ncol, frameon=False,
                         handletextpad=0.3, columnspacing=1.0, borderaxespad=0.2)
        box = leg.get_window_extent(renderer)
        if box.width <= fig.bbox.width * 0.98 or ncol == 1:
            break
        leg.remove()
    fig.set_figheight(panels_in + box.height / fig.dpi + 0.08)


# --- axes ------------------------------------------------------------------------------------


class _Short(matplotlib.ticker.Formatter):
    """Tick labels of a few characters (0.25, 3, 120, 12k, 1.5M), with as many digits as it takes
    to tell neighbouring ticks apart (80, 80.05, 80.1; never 80, 80, 80.1)."""

    def __call__(self, x, pos=None):
        return self.format_ticks([x])[0]

    def format_ticks(self, values):
        values = list(values)
        for digits in range(2, 8):
            labels = [_short(v, digits) for v in values]
            if len(set(labels)) == len(labels):
                return labels
        return labels


def _short(x: float, digits: int = 3) -> str:
    for scale, suffix in ((1e6, "M"), (1e3, "k"), (1, "")):
        if abs(x) >= scale or scale == 1:
            v = x / scale
            whole = len(str(int(abs(v))))  # never fewer digits than the integer part: 500, not 5e+02
            return f"{v:.{max(digits, whole)}g}{suffix}"


def scale_axis(ax, axis: str, values: list[float]) -> None:
    """Log where the values span 5x or more, padded so no marker sits on the frame; at most 3-4
    tick labels, short."""
    lo, hi = min(values), max(values)
    log = lo > 0 and hi / lo >= _WIDE_SPAN
    a = ax.xaxis if axis == "x" else ax.yaxis
    set_lim = ax.set_xlim if axis == "x" else ax.set_ylim
    if log:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
        pad = max(1.25, (hi / lo) ** 0.12)
        set_lim(lo / pad, hi * pad)
        a.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if hi / lo < 30 else (1.0,), numticks=4))
        a.set_minor_formatter(NullFormatter())
    else:
        pad = (hi - lo) * 0.12 or abs(hi) * 0.1 or 1.0
        set_lim(lo - pad, hi + pad)
        a.set_major_locator(MaxNLocator(nbins=3, steps=[1, 2, 2.5, 5, 10]))
    a.set_major_formatter(_Short())


def _ratio_ticks(ax, values: list[float]) -> None:
    """A log axis of ratios around 1: ticks at 1-2-5 steps that always include 1 (the reference
    line), at most four of them: whole decades where 1-2-5 gives more, every other one after that."""
    lo, hi = min(values + [1.0]), max(values + [1.0])
    pad = max(1.25, (hi / lo) ** 0.12)
    ax.set_xscale("log")
    ax.set_xlim(lo / pad, hi * pad)
    low, high = math.floor(math.log10(lo / pad)), math.ceil(math.log10(hi * pad))
    steps = [m * 10.0 ** e for e in range(low, high + 1) for m in (1, 2, 5)]
    ticks = [t for t in steps if lo / pad <= t <= hi * pad]
    if len(ticks) > 4:
        ticks = [t for t in ticks if math.isclose(math.log10(t), round(math.log10(t)))]
    while len(ticks) > 4:  # every other decade, keeping 1
        i = ticks.index(1.0)
        ticks = ticks[i % 2::2]
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(ticks))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(_Short())


def _thin_ticks(fig) -> None:
    """Drop every other tick label of an axis whose labels touch (a narrow panel, long numbers)."""
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            labels = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
            boxes = [t.get_window_extent(renderer) for t in labels]
            if any(a.overlaps(b) for a, b in zip(boxes, boxes[1:])):
                axis.set_major_locator(matplotlib.ticker.FixedLocator(list(axis.get_majorticklocs())[::2]))


def place_numbers(fig, ax, points: list[tuple[float, float, str]], font: float) -> None:
    """Each point's number beside it, at the first of a ring of offsets where it overlaps no
    number placed before and no other marker and stays inside the axes (renderer extents)."""
    renderer = fig.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    to_px = fig.dpi / 72
    markers = [ax.transData.transform((x, y)) for x, y, _ in points]
    r = 3.5 * to_px
    taken = []
    offsets = [(dx * k, dy * k) for k in (1, 1.8, 2.6)
               for dx, dy in ((4, 3), (4, -3), (-4, 3), (-4, -3), (0, 6), (0, -6), (6, 0), (-6, 0))]
    for (x, y, text), (px, py) in zip(points, markers):
        for dx, dy in offsets:
            t = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=font,
                            ha="left" if dx > 0 else "right" if dx < 0 else "center",
                            va="bottom" if dy > 0 else "top" if dy < 0 else "center", annotation_clip=False)
            box = t.get_window_extent(renderer)
            clear = (box.x0 >= inside.x0 and box.x1 <= inside.x1 and box.y0 >= inside.y0 and box.y1 <= inside.y1
                     and not any(box.overlaps(b) for b in taken)
                     and not any(box.x0 - r < qx < box.x1 + r and box.y0 - r < qy < box.y1 + r
                                 for qx, qy in markers if (qx, qy) != (px, py)))
            if clear:
                taken.append(box)
                break
            t.remove()  # where no offset is clear the point goes unnumbered: its marker and the
            # legend still say who it is, and a number on top of another would say nothing


def freeze_layout(fig) -> None:
    """Keep the layout constrained_layout found, so that numbers placed against it stay put."""
    fig.canvas.draw()
    fig.set_layout_engine("none")


# --- the figures -----------------------------------------------------------------------------


def _value(m: dict, key: str) -> float | None:
    v = measured(m, key)
    return None if v is None else v / INDICATORS[key].scale


def _panel_key(models: list[dict], key: str, curve: dict | None) -> str:
    """The reading a trade-off panel plots: a speed from CUDA graph replays where the judgement reads
    every timed model's replay (flags.judged_replay: there is one, not slower than eager), as the
    family's curve is drawn where there is one."""
    if INDICATORS[key].convention != SPEED:
        return key
    row = next((r for r in (curve or {}).get("rows", []) if r["indicator"] == key and r.get("implementation")), None)
    timed = [m for m in models if measured(m, key) is not None]
    graphed = timed and all(judged_replay(m, key) for m in timed)
    if (row["implementation"] == "cuda_graph" if row else graphed):
        return f"graph_{key}"
    return key


def _curve_line(ax, row: dict, key: str) -> bool:
    """The family's curve on one panel: its frontier through the members (curve.py), straight
    between them on the log axis its interpolation is linear on, flat to the dearest member."""
    from ..curve import cost, polyline

    points = [(cost(key, m["value"]), m["quality"]) for m in row.get("members") or [] if m["value"]]
    if len(points) < 2:
        return False
    front = polyline(points)
    scale = INDICATORS[key].scale
    ax.plot([cost(key, c) / scale for c, _ in front], [q for _, q in front], color="#9e9e9e", linewidth=0.9,
            zorder=1, solid_capstyle="round")
    return True


def tradeoff_figure(results: dict, style: str = "neurips", tex: bool = False):
    """Quality (or each model's position) against each cost indicator, one row of panels."""
    entries = numbered(results)
    curve = judgement_of(results).get("curve")
    keys = [k for k in _PANELS if sum(_value(m, k) is not None for _, m, _ in entries) >= 2]
    if not keys or len(entries) < 2:
        return None
    reads = {k: _panel_key([m for _, m, _ in entries], k, curve) for k in keys}
    drawn = False
    metrics = quality_keys([m for _, m, _ in entries])
    metric = metrics[0] if metrics else None
    known = [e for e in entries if metric in quality(e[1])] if metric else []
    with_quality = len(known) >= 2
    unknown = [e for e in entries if e not in known] if with_quality else entries
    font = STYLES[style]["fonts"]["font.size"]
    width = figure_width(style, True)
    with plt.rc_context(style_rc(style)):
        strip = 0.14 * len(unknown) + 0.25 if unknown else 0
        panels = (1.45 if with_quality else 0) + strip + 0.6  # the axes, their tick labels and x labels
        fig = plt.figure(figsize=(width, panels), layout="constrained")
        rows = ([1.45] if with_quality else []) + ([strip] if unknown else [])
        grid = fig.add_gridspec(len(rows), len(keys), height_ratios=rows)
        top = [fig.add_subplot(grid[0, i]) for i in range(len(keys))]
        bottom = [fig.add_subplot(grid[len(rows) - 1, i], sharex=top[i]) for i in range(len(keys))] \
            if with_quality and unknown else ([] if with_quality else top)
        for i, k in enumerate(keys):
            xs = [v for _, m, _ in entries if (v := _value(m, reads[k])) is not None]
            if with_quality:
                ax = top[i]
                row = next((r for r in (curve or {}).get("rows", []) if r["indicator"] == k), None)
                if row and curve["quality"] == metric:
                    drawn |= _curve_line(ax, row, k)
                for n, m, look in known:
                    if (v := _value(m, reads[k])) is not None:
                        ax.plot([v], [quality(m)[metric]], linestyle="none", markeredgewidth=0.6, **look)
                scale_axis(ax, "y", [quality(m)[metric] for _, m, _ in known])
                ax.grid(True, linewidth=0.3, alpha=0.6)
                if i:
                    ax.tick_params(labelleft=False)
                else:
                    ax.set_ylabel(_label(metric, tex))
            if unknown:
                ax = bottom[i]
                for j, (n, m, look) in enumerate(unknown):
                    if (v := _value(m, reads[k])) is not None:
                        ax.plot([v], [j], linestyle="none", markeredgewidth=0.6, **look)
                ax.set_ylim(len(unknown) - 0.5, -0.5)
                ax.set_yticks(range(len(unknown)), [str(n) for n, _, _ in unknown] if i == 0 else [])
                ax.tick_params(axis="y", length=0)
                ax.grid(True, axis="x", linewidth=0.3, alpha=0.6)
                if i == 0:
                    ax.set_ylabel("no quality" if with_quality else "model", fontsize=font - 2)
            if with_quality and unknown:
                top[i].tick_params(labelbottom=False)
            scale_axis(top[i], "x", xs)
            (bottom[i] if unknown else top[i]).set_xlabel(_AXIS[k])
        line = (Line2D([], [], color="#9e9e9e", linewidth=0.9), f"the {curve['name']} curve") if drawn else None
        _legend(fig, entries, tex, width, font - 2, panels, extras=(line,) if line else ())
        freeze_layout(fig)
        _thin_ticks(fig)
        if with_quality:
            for i, k in enumerate(keys):
                place_numbers(fig, top[i], [(v, quality(m)[metric], str(n)) for n, m, _ in known
                                             if (v := _value(m, reads[k])) is not None], font - 2)
    return fig


def _matched_rows(results: dict) -> list[dict]:
    """The rows of the matched figure: the comparison as made, then each matched variant (or the
    baseline where it is itself the match), grouped by indicator; each with its ratios."""
    j = judgement_of(results)
    entries = [m for m in j.get("matched") or [] if not m.get("unreachable")]
    first = next((m for m in entries if m["rows"]), None)
    if first is None:  # no matched variant: the comparison as made alone
        made = groups(results)[0].models
        if len(made) < 2:
            return []
        ratios = pair_ratios(view(made[0]), view(made[1]))
        return [{"label": "as compared", "group": None, "cells": {k: (r, None, False) for k, r in ratios.items()}}]
    out = [{"label": "as compared", "group": None,
            "cells": {r["indicator"]: (r["as_made"], r.get("as_made_ci95"), False) for r in first["rows"]
                      if r["kind"] != "quality" and r["as_made"] is not None}}]
    for m in entries:
        label = INDICATORS[m["indicator"]].label if m["indicator"] in INDICATORS else m["indicator"]
        who = "baseline itself" if m["is_baseline"] else m["strategy"]
        out.append({"label": f"{label}: {who}", "group": m["indicator"],
                    "cells": {r["indicator"]: (r["matched"], r.get("matched_ci95"), r["outcome"] == "matched")
                              for r in m["rows"] if r["kind"] != "quality" and r["matched"] is not None}})
    return out


def matched_figure(results: dict, style: str = "neurips", tex: bool = False):
    """The proposed model's ratio against the baseline and each matched variant, one panel per
    judged indicator (one convention per axis), rows grouped by the indicator matched on."""
    rows = _matched_rows(results)
    keys = [k for k in JUDGED if any(k in r["cells"] for r in rows)]
    if not rows or not keys:
        return None
    width = figure_width(style, True)
    # five panels fit a text width; more (generation's TTFT and decode beside the five) take two rows
    lines = 1 if len(keys) <= 5 else 2
    per_line = math.ceil(len(keys) / lines)
    with plt.rc_context(style_rc(style)):
        fig, axes = plt.subplots(lines, per_line, figsize=(width, lines * (0.9 + 0.17 * len(rows))), sharey=True,
                                 squeeze=False, layout="constrained")
        for ax in axes.flat[len(keys):]:
            fig.delaxes(ax)
        for ax, k in zip(axes.flat, keys):
            values = []
            for y, r in enumerate(rows):
                if k not in r["cells"]:
                    continue
                v, ci, is_match = r["cells"][k]
                values += [v] + (list(ci) if ci else [])
                color = "black" if r["group"] is None else _GROUP_COLORS.get(r["group"], _OTHER_COLOR)
                err = [[v - ci[0]], [ci[1] - v]] if ci else None
                ax.errorbar([v], [y], xerr=err, linestyle="none", marker="o", markersize=4, capsize=2,
                            elinewidth=0.8, color="#9e9e9e" if is_match else color,
                            markerfacecolor="white" if is_match else color, markeredgewidth=0.8)
            ax.axvline(1.0, color="#616161", linewidth=0.6, linestyle="--", zorder=0)
            _ratio_ticks(ax, values)
            for y in range(1, len(rows)):
                if rows[y]["group"] != rows[y - 1]["group"]:
                    ax.axhline(y - 0.5, color="#bdbdbd", linewidth=0.5)
            ax.set_xlabel(f"{_SHORT_NAMES[k]}\n" + ("speed-up" if INDICATORS[k].convention == SPEED else "cost ratio"))
            ax.grid(True, axis="x", linewidth=0.3, alpha=0.6)
            ax.tick_params(axis="y", length=0)
        axes[0][0].set_ylim(len(rows) - 0.5, -0.5)
        for line in axes:
            line[0].set_yticks(range(len(rows)), [_label(r["label"], tex) for r in rows])
        freeze_layout(fig)
        _thin_ticks(fig)
    return fig


def batch_figure(results: dict, style: str = "neurips", tex: bool = False):
    """Latency of one call and throughput against batch size, for models timed at several sizes;
    the legend under the axes."""
    series = []
    for n, m, look in numbered(results):
        runs = [r for r in ((m.speed.runs if m.speed is not None else None) or [])
                if r.get("latency") or r.get("throughput")]
        if len(runs) >= 2:
            series.append((n, m, look, runs))
    if not series:
        return None
    font = STYLES[style]["fonts"]["font.size"]
    width = figure_width(style, False)
    with plt.rc_context(style_rc(style)):
        panels = 1.8
        fig, (lat, thr) = plt.subplots(1, 2, figsize=(width, panels), layout="constrained")
        lat_values, thr_values, batches = [], [], []
        for n, m, look, runs in series:
            style_ = {"color": look["color"], "marker": look["marker"], "markersize": look["markersize"] * 0.7,
                      "linewidth": 1.4 if m.role != "variant" else 0.8, "zorder": look["zorder"]}
            pts = [(r["batch_size"], r["latency"]["median_s"] * 1e3) for r in runs if r.get("latency")]
            if pts:
                lat.plot(*zip(*pts), **style_)
                lat_values += [y for _, y in pts]
            pts = [(r["batch_size"], r["throughput"]["samples_per_s"]) for r in runs if r.get("throughput")]
            if pts:  # no CIs here: eight models' bars would hide the lines; fig_matched has the paired ones
                thr.plot(*zip(*pts), **style_)
                thr_values += [y for _, y in pts]
            batches += [r["batch_size"] for r in runs]
        for ax, values, name in ((lat, lat_values, "latency per call\n(ms)"), (thr, thr_values, _AXIS["throughput"])):
            ax.set_xscale("log", base=2)
            ax.set_xlim(min(batches) / 1.3, max(batches) * 1.3)
            ax.xaxis.set_major_formatter(_Short())
            ax.xaxis.set_minor_formatter(NullFormatter())
            if values:
                scale_axis(ax, "y", values)
            ax.set_xlabel("batch size")
            ax.set_ylabel(name)
            ax.grid(True, linewidth=0.3, alpha=0.6)
        _legend(fig, [(n, m, look) for n, m, look, _ in series], tex, width, font - 2, panels, lines=True)
        freeze_layout(fig)
        _thin_ticks(fig)
    return fig


def generate_figure(results: dict, style: str = "neurips", tex: bool = False):
    """Decode tokens/s and time to first token against batch size, one line per model and
    generation implementation, for models whose generation was timed (--generate)."""
    series = []
    for n, m, look in numbered(results):
        runs = [r for r in generation_runs(m) if r.get("decode_tokens_per_s")]
        if runs:
            series.append((n, m, look, runs))
    if not series:
        return None
    font = STYLES[style]["fonts"]["font.size"]
    width = figure_width(style, False)
    with plt.rc_context(style_rc(style)):
        panels = 1.8
        fig, (dec, first) = plt.subplots(1, 2, figsize=(width, panels), layout="constrained")
        dec_values, first_values, batches, impls = [], [], set(), []
        for n, m, look, runs in series:
            for impl in dict.fromkeys(r["implementation"] for r in runs):
                mine = sorted((r for r in runs if r["implementation"] == impl), key=lambda r: r["batch_size"])
                line = {"color": look["color"], "marker": look["marker"], "markersize": look["markersize"] * 0.7,
                        "linestyle": _IMPL_LINES.get(impl, "-."), "linewidth": 1.2, "zorder": look["zorder"]}
                dec.plot([r["batch_size"] for r in mine], [r["decode_tokens_per_s"] for r in mine], **line)
                first.plot([r["batch_size"] for r in mine], [r["ttft_s"] * 1e3 for r in mine], **line)
                dec_values += [r["decode_tokens_per_s"] for r in mine]
                first_values += [r["ttft_s"] * 1e3 for r in mine]
                batches |= {r["batch_size"] for r in mine}
                impls += [impl] if impl not in impls else []
        for ax, values, name in ((dec, dec_values, "decode\n(tokens/s)"), (first, first_values,
                                                                          "time to first\ntoken (ms)")):
            ax.set_xscale("log", base=2)
            ax.set_xlim(min(batches) / 1.3, max(batches) * 1.3)
            ax.set_xticks(sorted(batches))  # only the measured batch sizes are labelled
            ax.xaxis.set_major_formatter(_Short())
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.xaxis.set_minor_locator(NullLocator())
            scale_axis(ax, "y", values)
            ax.set_xlabel("batch size")
            ax.set_ylabel(name)
            ax.grid(True, linewidth=0.3, alpha=0.6)
        styles = tuple((Line2D([], [], color="black", linewidth=1.0, linestyle=_IMPL_LINES.get(impl, "-.")), impl)
                       for impl in impls)
        _legend(fig, [(n, m, look) for n, m, look, _ in series], tex, width, font - 2, panels, lines=True,
                extras=styles)
        freeze_layout(fig)
        _thin_ticks(fig)
    return fig


FIGURES = {"tradeoff": tradeoff_figure, "matched": matched_figure, "batch": batch_figure,
           "generate": generate_figure}


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


def write_figures(results: dict, folder: Path, style: str, pgf: bool = True) -> list[Path]:
    """PDF figures for LaTeX, and PGF too (for a paper that \\inputs them) where pdflatex is installed
    and `pgf`; returns the files written. Saved at their own size (no tight bounding box), so that
    they are the venue's width."""
    written = []
    for name, make in FIGURES.items():
        fig = make(results, style)
        if fig is None:
            continue
        path = folder / f"fig_{name}.pdf"
        with plt.rc_context(style_rc(style)):  # pdf.fonttype is read when saving: TrueType (42), not Type 3
            fig.savefig(path, metadata={"CreationDate": None, "ModDate": None, "Creator": "fairness",
                                        "Producer": "fairness"})
        written.append(path)
        plt.close(fig)
        if pgf and pgf_available():
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
