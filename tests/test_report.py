"""The report for real: LaTeX compiled by pdflatex, HTML opened in headless Chromium, every
format rendered twice to the same bytes, hostile model names shown as text.

pdflatex and chromium come from Debian (.ci/run installs them). Where they are missing the
tests that need them are skipped, unless FAIRNESS_REQUIRE_TOOLS=1 (set by .ci/run), which
turns a missing tool into a failure rather than a silent skip."""

import json
import os
import re
import shutil
import subprocess

import pytest

from fairness.compare import compare
from fairness.render.latex import escape
from fairness.render.report import render
from fairness.results import to_plain
from cli_run import one_line_exit_2, run

HOSTILE = "<script>alert(1)</script> a_b%c&d#e$f{g}~h^i\\j"


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("FAIRNESS_REQUIRE_TOOLS") == "1":
            pytest.fail(f"{tool} is required here (FAIRNESS_REQUIRE_TOOLS=1) but not installed")
        pytest.skip(f"{tool} is not installed")
    return path


@pytest.fixture(scope="module")
def results():
    """A real comparison, counted on meta: ALBERT-base under a hostile name against BERT."""
    albert_base = {"hidden_size": 768, "num_attention_heads": 12, "intermediate_size": 3072}
    res = compare("hf:albert", "hf:bert", proposed_name=HOSTILE, proposed_kwargs=albert_base, baseline_name="BERT",
                  quality={HOSTILE: {"glue": 89.4}, "BERT": {"glue": 82.1}}, match=["params", "flops"],
                  strategies=["width", "depth"], seq_len=64)
    return to_plain(res)


def test_latex_escapes_every_special_character():
    assert escape("a_b%c&d#e$f{g}~h^i\\j") == (r"a\_b\%c\&d\#e\$f\{g\}\textasciitilde{}h\textasciicircum{}i"
                                              r"\textbackslash{}j")


def test_render_is_deterministic(results, tmp_path):
    a, b = render(results, tmp_path / "a"), render(results, tmp_path / "b")
    assert [p.name for p in a] == [p.name for p in b]
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes(), pa.name


def test_report_tex_compiles_with_pdflatex(results, tmp_path):
    pdflatex = need("pdflatex")
    render(results, tmp_path, formats=("tex",))
    proc = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "report.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-2000:]
    pages = re.search(r"Output written on report\.pdf \((\d+) pages?", proc.stdout)
    assert pages and int(pages.group(1)) >= 1 and (tmp_path / "report.pdf").stat().st_size > 0
    table = (tmp_path / "table.tex").read_text()
    assert r"\toprule" in table and "S[table-format" in table and r"\bfseries" in table
    assert r"\textless{}script\textgreater{}" in table  # the hostile name, escaped


def test_report_html_in_headless_chromium(results, tmp_path):
    chromium = need("chromium")
    render(results, tmp_path, formats=("html",))
    html = (tmp_path / "report.html").read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    proc = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--no-first-run", "--enable-logging=stderr", "--v=0",
                           "--dump-dom", (tmp_path / "report.html").as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    assert console == []  # no console errors (nor any console output)
    assert "Verdict: <strong>unfair</strong>" in dom
    for m in results["models"]:
        name = m["name"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert name in dom, m["name"]
    assert "<script" not in dom.replace("&lt;script", "")  # shown as text, never as an element
    assert dom.count("<svg") >= 1  # the figures, inline


def test_render_command_and_bad_inputs(results, tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    r = run("render", str(path), "--format", "md,csv", "--out", str(tmp_path / "out"))
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "report.md").exists() and (tmp_path / "out" / "results.csv").exists()

    newer = dict(results, schema="fairness/v9")
    (tmp_path / "newer.json").write_text(json.dumps(newer))
    one_line_exit_2(run("render", str(tmp_path / "newer.json")), "fairness/v9")

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    one_line_exit_2(run("render", str(path), "--out", str(blocker / "sub")), "cannot write the report")

    one_line_exit_2(run("render", str(path), "--format", "pdf"), "--format pdf")
