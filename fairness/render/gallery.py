"""The gallery: a folder of comparisons (reports/ in this repository, the paper's findings) and
its README.md, one line per comparison with links to its report. Each comparison is named by
its config; where the config's results file exists it is rendered again by the current
renderers, and where it does not, the line says how to make it.

Each report's folder holds what a reader opens (report.html, report.pdf compiled by pdflatex
where it is installed, report.md, report.tex with table.tex and the PDF figures it includes) and
results.json; not the PGF figures, which report.tex does not use, nor pdflatex's by-products.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

from ..compare import load_config, safe_name
from ..errors import FairnessError
from ..judgement import judgement_of
from ..results import load
from ..spec import read_yaml
from ..zoo import load_zoo, reanalysed
from .escape import md
from .report import load_for_render, render
from .templates import check_template_dir

FILES = (("report", "report.html"), ("PDF", "report.pdf"), ("Markdown", "report.md"), ("LaTeX", "report.tex"),
         ("table", "table.tex"), ("results", "results.json"))
PDFLATEX_MISSING = ("pdflatex is not installed, so the gallery has no report.pdf (an earlier one is removed); install it (Debian: "
                    "texlive-latex-base texlive-latex-recommended texlive-science) and run the gallery again")


def _link(text: str, target: Path, base: Path) -> str:
    return f"[{md(text)}]({os.path.relpath(target, base).replace(os.sep, '/')})"


def _links(folder: Path, index_dir: Path) -> str:
    """Links to the files of a report's folder that exist."""
    return " · ".join(_link(text, folder / f, index_dir) for text, f in FILES if (folder / f).exists())


def _line(config: Path, cfg: dict, folder: Path, index_dir: Path) -> str:
    """One comparison: its name and config, the pair, the verdict and its findings, the links."""
    name = cfg["name"]
    pair = f"{cfg['proposed'].get('name') or cfg['proposed']['source']} against " \
           f"{cfg['baseline'].get('name') or cfg['baseline']['source']}"
    head = f"- **{md(name)}** ({_link(str(config), config, index_dir)}): {md(pair)}"
    results = folder / "results.json"
    if not results.exists():
        device = cfg["measure"].device or "the default device"
        return (f"{head}: not run yet; `fairness compare {config} --out {os.path.relpath(folder)}` "
                f"(speed on {md(device)}), then `fairness gallery` again.")
    res = load_for_render(str(results))
    j = judgement_of(res)
    kinds = [f["id"] for f in j["findings"] if f["scope"] == "principal" and f["cuts"] == "against"]
    timed = any(m.speed is not None for m in res["models"] if not m.failed)
    env = res.get("environment") or {}
    where = f"speed on {env.get('device_name')}" if timed else "counts only"
    return (f"{head}, {md(where)}: **{j['verdict']}**" + (f" ({md(', '.join(kinds))})" if kinds else "")
            + f". {_links(folder, index_dir)}")


def _zoo_line(config: Path, zoo: dict, folder: Path, index_dir: Path) -> str:
    """One zoo: its name and config, how many models, where it was timed, its fronts' sizes."""
    head = f"- **{md(zoo['name'])}** ({_link(str(config), config, index_dir)}): {len(zoo['models'])} models"
    results = folder / "results.json"
    if not results.exists():
        return (f"{head}: not run yet; `fairness zoo {config} --out {os.path.relpath(folder)}`, then "
                f"`fairness gallery` again.")
    res = load(str(results))
    timed = any(m.speed is not None for m in res["models"] if not m.failed)
    where = f"speed on {(res.get('environment') or {}).get('device_name')}" if timed else "counts only"
    z = res["zoo"]
    fronts = ", ".join(f"{k} {len(v)}" for k, v in z["fronts"].items())
    return (f"{head}, {md(where)}: models on each front: {md(fronts)}; {len(z['disagreements'])} disagreements "
            f"between indicators. {_links(folder, index_dir)}")


def compile_pdf(folder: Path, created: str | None) -> Path:
    """report.pdf from report.tex with pdflatex, its .aux, .log and .out removed. The PDF's dates
    and ID are set from when the results were measured (SOURCE_DATE_EPOCH), so the same results
    compile to the same bytes and a committed gallery does not change on every run."""
    env = dict(os.environ)
    if created:
        env.update(SOURCE_DATE_EPOCH=str(int(datetime.fromisoformat(created).timestamp())), FORCE_SOURCE_DATE="1")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"], cwd=folder,
                          env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:  # the log stays, for the whole story
        error = next((line for line in proc.stdout.splitlines() if line.startswith("!")), "no error line")
        raise FairnessError(f"pdflatex could not compile {folder / 'report.tex'}: {error} (see "
                            f"{folder / 'report.log'}); check that its packages are installed")
    for suffix in (".aux", ".log", ".out"):
        (folder / f"report{suffix}").unlink(missing_ok=True)
    return folder / "report.pdf"


def gallery(configs: list[str], out: str | Path = "reports", style: str = "neurips", template_dir=None,
            say=lambda line: None) -> Path:
    """Render each config's results file found under `out`/NAME again, with report.pdf where
    pdflatex is installed (`say` tells where it is not), and write `out`/README.md indexing every
    config, run or not. Returns the index's path."""
    check_template_dir(template_dir)
    pdflatex = shutil.which("pdflatex") is not None
    if not pdflatex:
        say(PDFLATEX_MISSING)
    out = Path(out)
    lines = ["# The gallery", "",
             "The comparisons of \"The Efficiency Misnomer\" (Dehghani et al., ICLR 2022), each made by "
             "`fairness compare` from its config and rendered from its results file, and a zoo of ImageNet "
             "models (`fairness zoo`). Regenerate with "
             f"`fairness gallery {' '.join(configs)}`; each report is re-rendered from its results.json by "
             "the current renderers (no measuring).", ""]
    for path in configs:
        if "models" in (read_yaml(path, f"gallery config {path}") or {}):  # a zoo (fairness zoo), not a comparison
            from .zoo import render_zoo

            zoo = load_zoo(path)
            folder = out / safe_name(zoo["name"])
            if (folder / "results.json").exists():
                render_zoo(reanalysed(load(str(folder / "results.json"))), folder, style=style,
                           template_dir=template_dir)
            lines.append(_zoo_line(Path(path), zoo, folder, out))
            continue
        cfg = load_config(path)
        folder = out / safe_name(cfg["name"])
        if (folder / "results.json").exists():
            res = load_for_render(str(folder / "results.json"))
            render(res, folder, style=style, template_dir=template_dir, pgf=False)
            for stale in folder.glob("fig_*.pgf"):  # written by compare, for a paper; report.tex uses the PDFs
                stale.unlink()
            if pdflatex:
                compile_pdf(folder, (res.get("environment") or {}).get("created"))
            else:  # one from an earlier render would not match this one
                (folder / "report.pdf").unlink(missing_ok=True)
        lines.append(_line(Path(path), cfg, folder, out))
    out.mkdir(parents=True, exist_ok=True)
    index = out / "README.md"
    index.write_text("\n".join(lines) + "\n")
    return index
