"""--template-dir: a user's template replaces the built-in one of its name, may extend it, and a
template that uses what the report does not define is one line naming the file, the line and
the variable. Rendered from a committed results file (resnet18 against resnet50, timed on a CPU)."""

from pathlib import Path

import pytest

from fairness.errors import FairnessError
from fairness.render.report import render
from fairness.render.templates import render_template
from cli_run import one_line_exit_2, run

RESULTS = str(Path(__file__).parent / "data" / "resnet18_vs_resnet50_cpu.json")
EXAMPLES = str(Path(__file__).parent.parent / "examples" / "templates")


def _render(tmp_path, *args):
    return run("render", RESULTS, "--out", str(tmp_path / "out"), *args)


def test_a_user_template_replaces_the_builtin_and_may_extend_it(tmp_path):
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "report.html.j2").write_text('{% extends "builtin/report.html.j2" %}\n'
                                        '{% block header %}<p>LAB-MARKER {{ verdict }}</p>{{ super() }}{% endblock %}\n')
    r = _render(tmp_path, "--format", "html,md", "--template-dir", str(lab))
    assert r.exit_code == 0, r.output
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<p>LAB-MARKER " in html and "<h1>fairness report: resnet18-vs-resnet50</h1>" in html
    assert 'id="models"' in html  # the rest of the built-in report is still there


def test_the_example_templates_render_html_and_latex(tmp_path):
    r = _render(tmp_path, "--format", "html,tex", "--template-dir", EXAMPLES)
    assert r.exit_code == 0, r.output
    assert '<div class="lab">Example Lab' in (tmp_path / "out" / "report.html").read_text()
    tex = (tmp_path / "out" / "report.tex").read_text()
    assert r"\usepackage{mathptmx}" in tex and r"\section*{Example Lab review: resnet18-vs-resnet50}" in tex
    assert r"\input{table.tex}" in tex


def test_builtin_templates_unchanged_when_the_folder_does_not_replace_them(tmp_path):
    """A folder replacing only the zoo's template leaves a comparison's report byte for byte."""
    only_zoo = tmp_path / "only-zoo"
    only_zoo.mkdir()
    (only_zoo / "zoo.html.j2").write_text("ZOO {{ title }}\n")
    from fairness.render.report import load_for_render

    res = load_for_render(RESULTS)
    plain = render(res, tmp_path / "plain", formats=("html", "tex"))
    given = render(res, tmp_path / "given", formats=("html", "tex"), template_dir=only_zoo)
    for a, b in zip(plain, given):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_a_missing_variable_names_the_template_line_and_variable(tmp_path):
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "report.html.j2").write_text("<h1>{{ title }}</h1>\n<p>{{ verdict }}</p>\n<p>{{ foo }}</p>\n")
    r = _render(tmp_path, "--format", "html", "--template-dir", str(lab))
    one_line_exit_2(r, f"--template-dir {lab}: report.html.j2 line 3 uses 'foo', which the report does not define")
    assert "the variables are: " in r.stderr and "verdict" in r.stderr


def test_a_missing_variable_in_a_latex_template(tmp_path):
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "report.tex.j2").write_text("\\BLOCK{extends \"builtin/report.tex.j2\"}\n"
                                       "\\BLOCK{block header}\n\\section*{\\VAR{title.nope}}\n\\BLOCK{endblock}\n")
    r = _render(tmp_path, "--format", "tex", "--template-dir", str(lab))
    one_line_exit_2(r, "report.tex.j2 line 3 uses 'nope'")


@pytest.mark.parametrize("content, expected", [
    (None, "no such folder"),
    ({"report.html": "<p>{{ title }}</p>"}, "holds none of the template names report.html.j2"),
    ({"report.html.j2": "{% if title %}unclosed"}, "report.html.j2 line 1: "),
    ({"report.html.j2": '{% extends "builtin/nothing.j2" %}'}, "refers to the template builtin/nothing.j2"),
    ({"report.html.j2": "<h1>{{ title }}</h1>\n{{ title + 1 }}"}, "report.html.j2 line 2: TypeError: "),
])
def test_bad_template_folders_are_one_line(tmp_path, content, expected):
    lab = tmp_path / "lab"
    if content is not None:
        lab.mkdir()
        for name, text in content.items():
            (lab / name).write_text(text)
    one_line_exit_2(_render(tmp_path, "--format", "html", "--template-dir", str(lab)), expected)


def test_a_bad_folder_is_refused_before_compare_measures(tmp_path):
    r = run("compare", "--proposed", "timm:resnet18", "--baseline", "timm:resnet50", "--no-speed",
            "--out", str(tmp_path / "out"), "--template-dir", str(tmp_path / "nowhere"))
    one_line_exit_2(r, "no such folder")
    assert not (tmp_path / "out").exists()


def test_a_builtin_template_failing_is_a_bug_not_bad_input():
    """Without --template-dir a missing variable is the package's own bug: it raises as one."""
    with pytest.raises(Exception) as e:
        render_template("report.html.j2", None, title="t")
    assert not isinstance(e.value, FairnessError)


def test_the_zoo_page_takes_a_user_template(tmp_path):
    from test_zoo import ZOO

    (tmp_path / "zoo.yaml").write_text(ZOO)
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "zoo.html.j2").write_text('{% extends "builtin/zoo.html.j2" %}{% block header %}<p>LAB-ZOO</p>'
                                     '{{ super() }}{% endblock %}')
    r = run("zoo", str(tmp_path / "zoo.yaml"), "--out", str(tmp_path / "out"), "-q", "--template-dir", str(lab))
    assert r.exit_code == 0, r.output
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<p>LAB-ZOO</p>" in html and "tiny-zoo" in html


def test_the_example_latex_template_compiles(tmp_path):
    import subprocess

    from test_report import need

    pdflatex = need("pdflatex")
    assert _render(tmp_path, "--format", "tex", "--template-dir", EXAMPLES).exit_code == 0
    proc = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "report.tex"],
                          cwd=tmp_path / "out", capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-2000:]
