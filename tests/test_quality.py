"""The quality hook (fairness/quality.py, issue 25): its checks, each way it can fail, its cache,
and the digits example end to end (examples/digits: real training on scikit-learn's bundled digits)."""

import json
import sys
from pathlib import Path

import pytest

from cli_run import one_line_exit_2, run
from fairness.errors import FairnessError
from fairness.quality import HookFailed, answer, check_hook, run_hook

ROOT = Path(__file__).parent.parent
FAMILY = str(ROOT / "examples" / "family.yaml")
MLP = "python:tiny_models:mlp_stack"
MODEL = {"name": "m", "source": MLP, "kwargs": {"width": 8}, "input": None, "role": "variant"}
PY = sys.executable


def hook(**kw):
    return check_hook({"metric": "acc", "timeout_s": 20, **kw}, "test")


@pytest.mark.parametrize("value, expected", [
    ({"metric": "acc"}, "exactly one of command"),
    ({"command": "x", "python": "a:b", "metric": "acc"}, "got command and python"),
    ({"command": "run {kwarg_json}", "metric": "acc"}, "unknown placeholder {kwarg_json}"),
    ({"command": "run {", "metric": "acc"}, "literal brace"),
    ({"python": "nocolon", "metric": "acc"}, "package.module:function"),
    ({"command": "x"}, "metric: name the quality metric"),
    ({"command": "x", "metric": "acc", "timeout_s": 0}, "timeout_s: 0"),
    ({"command": "x", "metric": "acc", "retries": 2}, "unknown key 'retries'"),
])
def test_a_bad_hook_is_refused(value, expected):
    with pytest.raises(FairnessError) as e:
        check_hook(value, "config c.yaml")
    assert expected in e.value.message


def test_answers_a_number_or_the_metric_of_a_mapping():
    assert answer("0.93", "acc", "x") == 0.93 and answer('{"acc": 97, "loss": 0.1}', "acc", "x") == 97.0
    for text, why in (("abc", "not JSON"), ('{"loss": 1}', "no 'acc'"), ('"0.9"', "expected a finite number"),
                      ("true", "expected a finite number"), ("NaN", "expected a finite number")):
        with pytest.raises(HookFailed) as e:
            answer(text, "acc", "x")
        assert why in str(e.value)


def test_a_command_fills_in_the_model_and_reads_its_answer(tmp_path):
    script = tmp_path / "h.py"
    script.write_text("import json, sys\nkw = json.loads(sys.argv[1])\n"
                      "open(sys.argv[3], 'w').write(json.dumps({'acc': kw['width'] * 10, 'name': sys.argv[2]}))\n")
    h = hook(command=f"{PY} {script} '{{kwargs_json}}' '{{name}}' {{out}}")
    assert run_hook(h, MODEL) == 80.0
    # without {out}: the last line of its output
    assert run_hook(hook(command="echo starting; echo 0.75"), MODEL) == 0.75


@pytest.mark.parametrize("command, why", [
    ("echo bad >&2; exit 3", "exit 3: bad"),
    ("echo abc", "not JSON"),
    (f"{PY} -c 'import time; time.sleep(30)'", "timed out after 0.5 s"),
    ("true {out}", "wrote no answer"),
])
def test_each_way_a_command_fails_says_why(command, why):
    h = hook(command=command)
    h["timeout_s"] = 0.5 if "sleep" in command else h["timeout_s"]
    with pytest.raises(HookFailed) as e:
        run_hook(h, MODEL)
    assert why in str(e.value)


def test_a_python_hook_gets_the_built_model_in_a_child_process():
    """tests/tiny_models.py's MLPStack at width 8: 8*8 + 8 + 4*(64 + 8) = 360 parameters."""
    assert run_hook(hook(python="tiny_models:count_params"), MODEL) == 360.0
    with pytest.raises(HookFailed) as e:
        run_hook(hook(python="tiny_models:broken_hook"), MODEL)
    assert "RuntimeError: the evaluation crashed" in str(e.value)


def _config(tmp_path, command: str) -> Path:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"""
name: hooked
proposed: {{name: wide, source: "{MLP}", kwargs: {{width: 32}}, quality: {{acc: 50}}}}
baseline: {{name: base, source: "{MLP}"}}
family: {FAMILY}
match: [params]
strategies: [width]
measure: {{speed: false, inputs: "python:tiny_models:mlp_inputs"}}
quality: {{command: "{command}", metric: acc}}
""")
    return cfg


def test_the_hook_fills_every_cell_and_a_second_run_reuses_it(tmp_path):
    """The command answers the width it is given and counts its calls: the proposed model, the
    baseline and the params-matched variant each get their own number, and a second run into the
    same folder calls it no more."""
    calls = tmp_path / "calls"
    script = tmp_path / "h.py"
    script.write_text(f"import json, sys\nopen({str(calls)!r}, 'a').write('x')\n"
                      "print(json.loads(sys.argv[1]).get('width', 16))\n")
    cfg = _config(tmp_path, f"{PY} {script} '{{kwargs_json}}'")
    for _ in range(2):
        r = run("compare", str(cfg), "-q", "--out", str(tmp_path / "out"))
        assert r.exit_code == 0, r.output
    assert calls.read_text() == "xxx"
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    acc = {m["name"]: m["quality"].get("acc") for m in res["models"]}
    variant = next(m for m in res["models"] if m["role"] == "variant")
    assert acc == {"wide": 32.0, "base": 16.0, variant["name"]: float(variant["knobs"]["width"])}
    assert "train it" not in (tmp_path / "out" / "report.md").read_text()


def test_a_failing_hook_leaves_its_cells_failed_and_the_report_whole(tmp_path):
    cfg = _config(tmp_path, "echo no GPU here >&2; exit 1")
    r = run("compare", str(cfg), "-q", "--out", str(tmp_path / "out"))
    assert r.exit_code == 3, r.output  # some results are missing; the others and the report are complete
    assert r.stderr.count("quality hook: exit 1: no GPU here") == 3
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {m["quality_failed"] for m in res["models"]} == {"exit 1: no GPU here"}
    assert res["models"][0]["quality"] == {"acc": 50.0}  # the config's number stays where the hook gave none
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| base | baseline |" in md and md.count("| failed: exit 1: no GPU here |") == 2  # the cells without one
    assert md.count("quality hook: exit 1: no GPU here") == 3  # the Failed lines
    assert "failed: exit 1: no GPU here" in (tmp_path / "out" / "report.html").read_text()


def test_a_bad_hook_in_a_config_is_one_line_before_anything_is_measured(tmp_path):
    cfg = _config(tmp_path, "run {oops}")
    one_line_exit_2(run("compare", str(cfg), "-q", "--out", str(tmp_path / "out")), "unknown placeholder {oops}")
    assert not (tmp_path / "out").exists()


def test_digits_accuracy_rises_with_capacity():
    """Real training (examples/digits/train.py): over widths 2 to 16 the accuracy rises on
    average; the larger half of the widths beats the smaller half by a wide margin."""
    pytest.importorskip("sklearn")
    from examples.digits.model import digits_cnn
    from examples.digits.train import evaluate

    acc = {w: evaluate(digits_cnn(width=w)) for w in (2, 4, 8, 16)}
    assert all(0 <= a <= 100 for a in acc.values())
    assert (acc[8] + acc[16]) / 2 > (acc[2] + acc[4]) / 2 + 10, acc


def test_the_digits_example_trains_every_variant(tmp_path):
    """examples/digits/compare.yaml, counts only (the speed-matched variant is timed on a GPU or a
    quiet CPU): the proposed model, the baseline and its params- and FLOP-matched variants are all
    trained and evaluated by the example's hook; none is left "train it"."""
    pytest.importorskip("sklearn")
    r = run("compare", str(ROOT / "examples" / "digits" / "compare.yaml"), "--no-speed", "--match", "params,flops",
            "-q", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "results.json").read_text())
    assert len(res["models"]) >= 4
    for m in res["models"]:
        assert 50 < m["quality"]["accuracy"] <= 100, m["name"]
    rows = [r for m in res["judgement"]["matched"] for r in m["rows"] if r["kind"] == "quality"]
    assert rows and all(r["matched"] is not None for r in rows)
