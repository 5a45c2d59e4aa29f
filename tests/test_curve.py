"""A family's curve (fairness/curve.py, issue 25): the interpolation on hand-made points, the
config's checks, and a comparison with a curve of MLPStack widths, whose counts are worked out by
hand (tests/tiny_models.py: params = 8w + w + depth (w^2 + w))."""

import json
import math
from pathlib import Path

import pytest

from cli_run import one_line_exit_2, run
from fairness.curve import check_curve, cost, frontier, quality_at, sentence

FAMILY = str(Path(__file__).parent.parent / "examples" / "family.yaml")
MLP = "python:tiny_models:mlp_stack"


def test_inside_the_curve_quality_is_linear_in_log_cost():
    points = [(1.0, 70.0), (4.0, 76.0), (16.0, 80.0)]
    assert quality_at(points, 2.0) == pytest.approx(73.0)  # halfway in log between 1 and 4
    assert quality_at(points, 8.0) == pytest.approx(78.0)


def test_at_a_member_the_curve_is_its_quality():
    points = [(1.0, 70.0), (4.0, 76.0), (16.0, 80.0)]
    assert [quality_at(points, c) for c, _ in points] == [70.0, 76.0, 80.0]


def test_outside_the_members_range_there_is_no_value():
    points = [(1.0, 70.0), (4.0, 76.0)]
    assert quality_at(points, 0.99) is None and quality_at(points, 4.01) is None


def test_a_member_beaten_by_a_cheaper_one_is_off_the_curve():
    """(2, 68) is dearer than (1, 70) and worse: the family reaches 70 at cost 1, so the curve
    goes from (1, 70) straight to (4, 76); (8, 75) past the best leaves it flat to the dearest."""
    points = [(1.0, 70.0), (2.0, 68.0), (4.0, 76.0), (8.0, 75.0)]
    assert frontier(points) == [(1.0, 70.0), (4.0, 76.0)]
    assert quality_at(points, 2.0) == pytest.approx(73.0)
    assert quality_at(points, 6.0) == 76.0 and quality_at(points, 8.0) == 76.0
    # two members at one cost: the better one stands for it
    assert frontier([(1.0, 70.0), (1.0, 72.0), (2.0, 71.0)]) == [(1.0, 72.0)]


def test_a_rate_is_drawn_against_its_inverse():
    assert cost("throughput", 200.0) == 0.005 and cost("latency", 0.002) == 0.002 and cost("params", 5.0) == 5.0


def _member(name, width, top1, **extra):
    return {"name": name, "source": MLP, "kwargs": {"width": width}, "quality": {"top1": top1}, **extra}


@pytest.mark.parametrize("curve, expected", [
    ([_member("a", 8, 70)], "at least two members"),
    ([_member("a", 8, 70), _member("a", 16, 75)], "the same name as members[0]"),
    ([_member("a", 8, 70), _member("b", 8, 75)], "the same model as members[0]"),
    ([_member("a", 8, 70), {"name": "b", "source": MLP}], "members[1] (b): no quality"),
    ([_member("a", 8, 70), {**_member("b", 16, 75), "quality": {"top5": 90}}], "share no metric"),
    ([_member("a", 8, 70), {**_member("b", 16, 75), "paper": "x"}], "unknown key 'paper'"),
    ({"members": [_member("a", 8, 70), _member("b", 16, 75)], "quality": "top5"}, "'top5' is not a metric"),
    ({"name": "x", "members": "a, b"}, "at least two members"),
])
def test_a_bad_curve_is_refused_naming_the_member(curve, expected):
    with pytest.raises(Exception) as e:
        check_curve(curve, "config c.yaml", {"top1": 80})
    assert expected in str(e.value)


def test_a_bad_curve_is_refused_in_one_line_before_anything_is_measured(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"""
proposed: {{name: wide, source: "{MLP}", kwargs: {{width: 32}}, quality: {{top1: 82}}}}
baseline: {{name: base, source: "{MLP}"}}
family: {FAMILY}
measure: {{speed: false, inputs: "python:tiny_models:mlp_inputs"}}
curve: [{{name: w8, source: "{MLP}", kwargs: {{width: 8}}, quality: {{top1: 70}}}}]
""")
    one_line_exit_2(run("compare", str(cfg), "-q", "--out", str(tmp_path / "out")), "at least two members")
    assert not (tmp_path / "out").exists()


def test_a_comparison_against_a_curve_of_widths(tmp_path):
    """MLPStack at depth 4: params 360 (w 8), 1,232 (w 16), 4,512 (w 32), 17,216 (w 64). The
    proposed width 32 at top1 82 against the curve 8/16/64 at 70/75/85 sits at
    75 + 10 log(4512/1232) / log(17216/1232) = 79.92: +2.08 above it at equal parameters. The
    baseline (the default width, 16) is a member too: measured once."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"""
name: widths
proposed: {{name: wide, source: "{MLP}", kwargs: {{width: 32}}, quality: {{top1: 82}}}}
baseline: {{name: base, source: "{MLP}", quality: {{top1: 75}}}}
family: {FAMILY}
match: [params]
strategies: [width]
measure: {{speed: false, inputs: "python:tiny_models:mlp_inputs"}}
curve:
  name: MLP widths
  members:
    - {{name: w8, source: "{MLP}", kwargs: {{width: 8}}, quality: {{top1: 70}}, cite: "made up for the test"}}
    - {{name: w16, source: "{MLP}", quality: {{top1: 75}}}}
    - {{name: w64, source: "{MLP}", kwargs: {{width: 64}}, quality: {{top1: 85}}}}
""")
    r = run("compare", str(cfg), "-q", "--out", str(tmp_path / "out"))
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    members = {m["name"]: m for m in res["models"] if m["role"] == "curve"}
    assert {n: m["params"]["unique"] for n, m in members.items()} == {"w8": 360, "w64": 17216}
    assert members["w8"]["quality"] == {"top1": 70.0}
    # w16 is the baseline's model (same source, arguments and input): its costs are the baseline's record
    assert [m["model"] for m in res["curve"]["members"]] == ["w8", "base", "w64"]
    curve = res["judgement"]["curve"]
    rows = {r["indicator"]: r for r in curve["rows"]}
    expected = 75 + 10 * math.log(4512 / 1232) / math.log(17216 / 1232)
    assert rows["params"]["status"] == "inside" and rows["params"]["curve"] == pytest.approx(expected)
    assert rows["params"]["delta"] == pytest.approx(82 - expected) and rows["throughput"]["status"] == "not timed"
    assert res["judgement"]["summary"][1] == curve["sentence"]
    assert curve["sentence"].startswith("Against the MLP widths curve (top1), wide is +2.1 at equal parameters")
    # the params-matched variant has no quality of its own: the curve gives it at the proposed model's cost
    (params,) = [m for m in res["judgement"]["matched"] if m["indicator"] == "params"]
    (q,) = [r for r in params["rows"] if r["kind"] == "quality"]
    assert q["as_made"] == pytest.approx(7) and q["matched"] == pytest.approx(82 - expected)
    assert q["curve"] == "MLP widths" and q["outcome"] == "shrinks"
    assert "top1 +7 points → +2.08 points against the MLP widths curve (shrinks)" in params["answer"]
    # dearer at higher quality, but above the family's curve at its own cost: a note, not a warning
    (tradeoff,) = [f for f in res["flags"] if f["id"] == "quality-tradeoff"]
    assert tradeoff["severity"] == "info" and "above the MLP widths curve" in tradeoff["message"]
    assert res["verdict"] == "fair"
    md = (tmp_path / "out" / "report.md").read_text()
    assert curve["sentence"] in md and md.index("| w64 | curve |") > md.index("width-matched on params")
    assert "curve" in (tmp_path / "out" / "table.tex").read_text()


def test_below_the_curve_the_tradeoff_warning_says_so():
    """The same points with the proposed model at 78: 1.9 points below the curve at equal
    parameters, so the family does better at its cost, and the warning stays."""
    from fairness.flags import rule_quality_tradeoff, view
    from fairness.record import ModelRecord

    a = view(ModelRecord.from_plain({"name": "wide", "role": "proposed", "params": {"unique": 4512},
                                     "quality": {"top1": 78.0}}))
    b = view(ModelRecord.from_plain({"name": "base", "role": "baseline", "params": {"unique": 1232},
                                     "quality": {"top1": 75.0}}))
    row = {"indicator": "params", "label": "parameters", "status": "inside", "curve": 79.92, "delta": -1.92}
    a["curve"] = {"name": "MLP widths", "quality": "top1", "rows": [row]}
    (f,) = rule_quality_tradeoff(a, b)
    assert f.severity == "warn" and "the MLP widths curve reaches higher top1 (-1.9 at equal parameters)" in f.message


def test_the_sentence_names_what_lies_outside_the_curve():
    a = {"name": "B4", "quality": "top1", "proposed": "EfficientNet-B4", "device": "H200", "rows": [
        {"indicator": "flops", "label": "FLOPs", "status": "inside", "delta": 2.41},
        {"indicator": "throughput", "label": "throughput", "status": "inside", "delta": -0.62,
         "implementation": "cuda_graph", "dtype": "bfloat16", "batch_size": 256},
        {"indicator": "latency", "label": "latency", "status": "outside", "side": "above", "range": [0.001, 0.004]}]}
    assert sentence(a) == (
        "Against the B4 curve (top1), EfficientNet-B4 is +2.4 at equal FLOPs; -0.6 at equal throughput (CUDA graph, "
        "bfloat16, batch 256, H200); outside it in latency (slower than every member: 1.00-4.00 ms). Its quality win "
        "survives at equal FLOPs, not at equal throughput.")
