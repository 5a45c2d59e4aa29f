"""The gallery: a folder of comparisons (reports/ in this repository, the paper's findings) and
its README.md, one line per comparison with links to its report. Each comparison is named by
its config; where the config's results file exists it is rendered again by the current
renderers, and where it does not, the line says how to make it.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..compare import load_config, safe_name
from ..judgement import judgement_of
from .flags import md
from .report import load_for_render, render
from .templates import check_template_dir

FILES = (("report", "report.html"), ("Markdown", "report.md"), ("LaTeX", "report.tex"), ("table", "table.tex"),
         ("results", "results.json"))


def _link(text: str, target: Path, base: Path) -> str:
    return f"[{md(text)}]({os.path.relpath(target, base).replace(os.sep, '/')})"


def _line(config: Path, cfg: dict, folder: Path, index_dir: Path) -> str:
    """One comparison: its name and config, the pair, the verdict and its findings, the links."""
    name = cfg["name"]
    pair = f"{cfg['proposed'].get('name') or cfg['proposed']['source']} against " \
           f"{cfg['baseline'].get('name') or cfg['baseline']['source']}"
    head = f"- **{md(name)}** ({_link(str(config), config, index_dir)}): {md(pair)}"
    results = folder / "results.json"
    if not results.exists():
        device = (cfg["measure"] or {}).get("device") or "the default device"
        return (f"{head}: not run yet; `fairness compare {config} --out {os.path.relpath(folder)}` "
                f"(speed on {md(device)}), then `fairness gallery` again.")
    res = load_for_render(str(results))
    j = judgement_of(res)
    kinds = [f["id"] for f in j["findings"] if f["scope"] == "principal" and f["severity"] != "info"]
    timed = any(m.get("speed") for m in res["models"] if not m.get("failed"))
    env = res.get("environment") or {}
    where = f"speed on {env.get('device_name')}" if timed else "counts only"
    links = " · ".join(_link(text, folder / f, index_dir) for text, f in FILES if (folder / f).exists())
    return (f"{head}, {md(where)}: **{j['verdict']}**" + (f" ({md(', '.join(kinds))})" if kinds else "")
            + f". {links}")


def gallery(configs: list[str], out: str | Path = "reports", style: str = "neurips", template_dir=None) -> Path:
    """Render each config's results file found under `out`/NAME again, and write `out`/README.md
    indexing every config, run or not. Returns the index's path."""
    check_template_dir(template_dir)
    out = Path(out)
    lines = ["# The gallery", "",
             "The comparisons of \"The Efficiency Misnomer\" (Dehghani et al., ICLR 2022), each made by "
             "`fairness compare` from its config and rendered from its results file. Regenerate with "
             f"`fairness gallery {' '.join(configs)}`; each report is re-rendered from its results.json by "
             "the current renderers (no measuring).", ""]
    for path in configs:
        cfg = load_config(path)
        folder = out / safe_name(cfg["name"])
        if (folder / "results.json").exists():
            render(load_for_render(str(folder / "results.json")), folder, style=style, template_dir=template_dir)
        lines.append(_line(Path(path), cfg, folder, out))
    out.mkdir(parents=True, exist_ok=True)
    index = out / "README.md"
    index.write_text("\n".join(lines) + "\n")
    return index
