"""The judgement: the verdict on the comparison as made, findings folded by kind, the matched
comparisons, one ratio convention; on records built by hand, then on real architectures
(counts on meta) and on claims files as a reviewer writes them."""

import json
import re

import pytest
from markdown_it import MarkdownIt

from fairness.audit import audit
from fairness.judgement import judge, outcome
from fairness.record import ModelRecord
from fairness.render.report import render
from fairness.render.escape import md
from fairness.results import dumps
from cli_run import run
from test_flags import EXAMPLES, rec


def record(**fields):
    """A model record with only these fields, as a results file holds it."""
    return ModelRecord.from_plain(fields)


def variant(name, indicator, **kw):
    return rec(name, "variant", match={"indicator": indicator, "strategy": "width", "rel_error": 0.004,
                                       "within_tolerance": True}, **kw)


def kinds(j):
    return [f["id"] for f in j["findings"]]


# --- the comparison as made ------------------------------------------------------------------


def test_verdict_judges_the_comparison_as_made_not_the_variants():
    """P shares its weights (applied 1.6x unique). Against the baseline, P has 2x its parameters:
    sharing flatters nothing there, a note; against the variant matched on parameters it is unfair.
    The verdict is the first pair's: fair; the variant's flag is kept, scoped to the matched
    comparison."""
    p = rec("P", "proposed", params=2e6, applied=3.2e6)
    j = judge({"models": [p, rec("B"), variant("B params-matched", "params", params=2e6)]})
    assert j["verdict"] == "fair"
    sharing = {(tuple(f["models"]), f["severity"], f["scope"]) for f in j["flags"] if f["id"] == "parameter-sharing"}
    assert sharing == {(("P", "B"), "info", "principal"), (("P", "B params-matched"), "unfair", "matched")}
    (f,) = [f for f in j["findings"] if f["id"] == "parameter-sharing"]
    assert f["models"] == ["P", "B"] and f["others"] == 1 and len(f["flags"]) == 2  # principal first, the rest kept


def test_sharing_that_buys_the_parameter_advantage_is_unfair():
    """ALBERT's shape: a tenth of the unique parameters, about the same applied: unfair as made."""
    p = rec("P", "proposed", params=1e6, applied=9e6)
    j = judge({"models": [p, rec("B", params=10e6)]})
    assert j["verdict"] == "unfair" and j["findings"][0]["id"] == "parameter-sharing"
    assert "what sharing buys" in j["findings"][0]["message"]


def test_insufficient_when_fewer_than_two_indicators_are_known():
    only_params = record(name="P", role="proposed", params={"unique": 1e6})
    j = judge({"models": [only_params, record(name="B", role="baseline", params={"unique": 2e6})]})
    assert j["verdict"] == "insufficient" and j["pairs"][0]["known"] == ["params"]
    assert "Too little is known" in " ".join(j["summary"])
    nothing = judge({"models": [record(name="P", role="proposed"), record(name="B", role="baseline")]})
    assert nothing["verdict"] == "insufficient"  # never fair by default
    assert judge({"models": []})["verdict"] == "insufficient"


def test_an_unfair_flag_outweighs_too_little_known():
    a = record(name="P", role="proposed", claims={"flops": 1e9}, flops={"flops": 2e9, "macs": 1e9})
    b = record(name="B", role="baseline", claims={"flops": 2e9}, flops={"flops": 2e9, "macs": 1e9})
    assert judge({"models": [a, b]})["verdict"] == "unfair"  # FLOPs in two conventions: off by 2x


def test_findings_fold_by_kind_principal_pair_first():
    """Three variants that all disagree with P on indicators: one finding, the principal pair's
    flag at its head, the other three counted and kept."""
    p = rec("P", "proposed", params=0.5e6, macs=1.2e9)
    vs = [variant(f"V{i}", "flops", params=0.1e6 * (i + 1), macs=1.25e9) for i in range(3)]
    j = judge({"models": [p, rec("B"), *vs]})
    (f,) = [f for f in j["findings"] if f["id"] == "indicators-disagree"]
    assert f["models"] == ["P", "B"] and f["others"] == 3 and len(f["flags"]) == 4
    assert "Also 3 more of this kind" in f["others_text"]
    assert len(kinds(j)) == len(set(kinds(j)))  # one finding per kind


def test_specific_causes_come_before_their_symptoms():
    """About equal parameters (3% fewer) and 4x the FLOPs (ViT-B/16 against ViT-B/32): sequence
    length first, then the indicators that disagree because of it."""
    j = judge({"models": [rec("P", "proposed", params=0.97e6, macs=4e9), rec("B")]})
    assert kinds(j)[:2] == ["sequence-length", "indicators-disagree"] and j["verdict"] == "questionable"


def test_measurement_notes_do_not_change_the_verdict():
    j = judge({"models": [rec("P", "proposed", throughput=100.0, noisy=True), rec("B", throughput=100.0)]})
    assert "noisy-timing" in kinds(j) and j["verdict"] == "fair"
    (f,) = [f for f in j["findings"] if f["id"] == "noisy-timing"]
    assert f["scope"] == "principal" and f["severity"] == "info"


def test_quality_is_used_cheaper_at_lower_quality_is_a_tradeoff():
    p = rec("P", "proposed", throughput=400.0, quality={"top1": 76.0})
    j = judge({"models": [p, rec("B", throughput=100.0, quality={"top1": 80.5})]})
    (f,) = [f for f in j["findings"] if f["id"] == "quality-tradeoff"]
    assert "4x the throughput of B" in f["message"] and "4.5 points lower top1" in f["message"]
    better = rec("P", "proposed", throughput=400.0, quality={"top1": 81.0})
    assert "quality-tradeoff" not in kinds(judge({"models": [better, rec("B", throughput=100.0,
                                                                          quality={"top1": 80.5})]}))


# --- one ratio convention ----------------------------------------------------------------------


def test_speed_is_a_speedup_and_counts_a_cost_ratio():
    """P has 2.13x B's throughput and half its latency at 0.25x its FLOPs: the messages and the
    evidence say so in that direction, and nothing calls a time ratio 'throughput'."""
    p = rec("P", "proposed", params=2e6, macs=0.25e9, throughput=213.0, latency=0.002)
    j = judge({"models": [p, rec("B", throughput=100.0, latency=0.004)]})
    ev = j["pairs"][0]["ratios"]
    assert ev["throughput_speedup"] == pytest.approx(2.13) and ev["latency_speedup"] == pytest.approx(2.0)
    assert ev["flops_ratio"] == pytest.approx(0.25)
    text = json.dumps(j)
    assert "2.13x the throughput of B" in text and "0.25x the FLOPs of B" in text and "2x as fast as B" in text
    assert "throughput_ratio" not in text and "time_ratio" not in text


# --- the matched comparisons --------------------------------------------------------------------


@pytest.mark.parametrize("as_made, matched, expected", [
    (2.0, 1.97, "survives"),  # within the 2% margin of the advantage it had
    (2.0, 2.5, "survives"),
    (2.0, 1.3, "shrinks"),
    (2.0, 1.0, "shrinks"),  # to a tie
    (2.0, 0.8, "reverses"),
    (1.0, 1.5, "appears"),
    (1.0, 0.5, "falls behind"),
    (0.5, 0.3, "falls behind"),
    (0.5, 0.5, "none"),
])
def test_outcome_of_an_advantage_under_matching(as_made, matched, expected):
    def cell(a):
        return {"advantage": a, "margin": 0.02}

    assert outcome(cell(as_made), cell(matched)) == expected
    assert outcome(cell(as_made), None) == "not measured"


def test_matched_table_speedups_with_cis_and_capacity_of_the_variant():
    """The proposed model beside the baseline (paired: 2x [1.9-2.1]) and beside the FLOPs-matched
    variant, timed in the same group (0.8x [0.78-0.82]): the speed advantage reverses; quality is
    unknown until the variant is trained; the variant's capacity loss is said in the answer."""
    def at_64(m):  # timed on one device and dtype, the headline throughput at batch 64
        m = ModelRecord.from_plain(m)
        return m.with_(speed=m.speed.with_(settings={"device": "cuda", "dtype": "float32"},
                                           throughput={**m.speed.throughput, "batch_size": 64}))

    p = at_64(rec("P", "proposed", throughput=200.0, quality={"top1": 80.0}))
    b = at_64(rec("B", macs=4e9, params=4e6, throughput=100.0, quality={"top1": 79.0}))
    v = at_64(variant("V", "flops", params=1.5e6, throughput=250.0, capacity_loss=["params 38% of the baseline's"]))
    ratios = [{"model": "B", "reference": "P", "indicator": "throughput", "batch_size": 64, "speedup": 0.5,
               "ci95": [0.4762, 0.5263]},
              {"model": "V", "reference": "P", "indicator": "throughput", "batch_size": 64, "speedup": 1.25,
               "ci95": [1.2195, 1.2821]}]
    j = judge({"models": [p, b, v], "speed_ratios": ratios})
    (m,) = j["matched"]
    rows = {r["indicator"]: r for r in m["rows"]}
    assert rows["flops"]["outcome"] == "matched"
    assert rows["throughput"]["outcome"] == "reverses"
    assert rows["throughput"]["as_made"] == pytest.approx(2.0) and rows["throughput"]["matched"] == pytest.approx(0.8)
    assert rows["throughput"]["matched_ci95"] == pytest.approx([0.78, 0.82], abs=1e-3)
    assert rows["params"]["outcome"] == "shrinks"  # 0.25x of B's parameters, 0.67x of the variant's
    assert rows["top1"]["outcome"] == "unknown until trained" and rows["top1"]["as_made"] == pytest.approx(1.0)
    assert "means little" in m["answer"] and "throughput 2x → 0.8x (reverses)" in m["answer"]
    assert any("At equal FLOPs (V" in s for s in j["details"])  # below the table, not on the first screen


def test_speeds_timed_apart_are_marked():
    p, b = rec("P", "proposed", throughput=200.0), rec("B", throughput=100.0)
    v = variant("V", "flops", throughput=100.0)
    ratios = [{"model": "B", "reference": "P", "indicator": "throughput", "batch_size": 64, "speedup": 0.5,
               "ci95": [0.49, 0.51]}]
    (m,) = judge({"models": [p, b, v], "speed_ratios": ratios})["matched"]
    (row,) = [r for r in m["rows"] if r["indicator"] == "throughput"]
    assert row.get("matched_apart") and not row.get("as_made_apart") and "(timed apart)" in m["answer"]


# --- claims: what a reviewer has ----------------------------------------------------------------


def _claims(tmp_path, text):
    path = tmp_path / "claims.yaml"
    path.write_text(text)
    return str(path)


def test_printed_precision_makes_a_tie(tmp_path):
    """29M against 28M is a tie at two significant digits: no indicators-disagree for it."""
    res = audit(_claims(tmp_path, "models:\n  - {name: A, params: 29M, flops: 1.0G}\n"
                                  "  - {name: B, params: 28M, flops: 1.3G}\n"), measure_sources=False)
    assert "indicators-disagree" not in kinds(res["judgement"])
    res = audit(_claims(tmp_path, "models:\n  - {name: A, params: 29.0M, flops: 1.0G}\n"
                                  "  - {name: B, params: 28.0M, flops: 1.3G}\n"), measure_sources=False)
    assert "indicators-disagree" in kinds(res["judgement"])  # three digits: 3.6% is a real loss


def test_claims_without_numbers_are_insufficient_and_params_only_is_flagged(tmp_path):
    res = audit(_claims(tmp_path, "models:\n  - {name: A}\n  - {name: B}\n"), measure_sources=False)
    assert res["verdict"] == "insufficient"
    res = audit(_claims(tmp_path, "models:\n  - {name: A, params: 5M}\n  - {name: B, params: 25M}\n"),
                measure_sources=False)
    assert res["verdict"] == "insufficient"
    measured = audit(_claims(tmp_path, "models:\n  - {name: A, params: 11.7M, source: timm:resnet18}\n"
                                       "  - {name: B, params: 25.6M, source: timm:resnet50}\n"))
    (f,) = [f for f in measured["flags"] if f["id"] == "single-indicator"]
    assert f["evidence"]["rests_on"] == "params" and "flops" in f["evidence"]["also_known"]
    # A (ResNet-18) is cheaper on the FLOPs measured too: the one stated indicator hides no loss
    assert measured["verdict"] == "fair" and f["cuts"] == "note" and "no worse" in f["message"]
    dearer = audit(_claims(tmp_path, "models:\n  - {name: A, params: 21.8M, source: timm:resnet34}\n"
                                     "  - {name: B, params: 25.6M, source: timm:resnet50}\n"))
    (f,) = [f for f in dearer["flags"] if f["id"] == "single-indicator"]  # ResNet-34: 3.6 against 4.1 GMACs
    assert f["cuts"] == "note" and dearer["verdict"] == "fair"
    wide = audit(_claims(tmp_path, "models:\n  - {name: A, params: 25.6M, source: timm:resnet50}\n"
                                   "  - {name: B, params: 21.8M, source: timm:resnet34}\n"))
    assert wide["verdict"] == "fair"  # A loses on params and FLOPs alike: nothing hidden, no finding


def test_a_multi_row_table_is_every_proposed_row_against_every_baseline():
    res = audit(str(EXAMPLES / "claims" / "efficientnet_table.yaml"), measure_sources=False)
    pairs = [tuple(p["models"]) for p in res["judgement"]["pairs"]]
    assert pairs == [(f"EfficientNet-B{i}", "ResNet-50") for i in range(5)]
    assert all(p["known"] == ["params", "flops"] for p in res["judgement"]["pairs"])


def test_a_claimed_baseline_scaled_down_is_a_capacity_handicap():
    """In an audit the paper's own baseline can be the shrunk one: unfair on the comparison as made."""
    b = rec("B-small", params=3e6, claims={"matched_on": "flops"},
            scaled_from={"source": "timm:resnet50", "params": 25.6e6, "depth": 54})
    j = judge({"models": [rec("P", "proposed", params=3e6), b]})
    assert j["verdict"] == "unfair" and j["findings"][0]["id"] == "capacity-handicap"
    assert "keeps 12% of its params" in j["findings"][0]["message"]


def test_stated_flops_30_percent_off_is_caught(tmp_path):
    res = audit(_claims(tmp_path, "models:\n  - {name: A, source: timm:resnet18, flops: 4.7G, image_size: 224}\n"
                                  "  - {name: B, source: timm:resnet50, flops: 8.2G, image_size: 224}\n"))
    (f,) = [f for f in res["flags"] if f["id"] == "claim-mismatch"]
    assert f["models"] == ["A"] and f["evidence"]["indicator"] == "flops" and f["evidence"]["off"] > 0.25
    assert "timm:resnet18 with its defaults" in f["message"] and "image 1x3x224x224" in f["message"]


def test_render_of_an_audit_results_file(tmp_path):
    """Every format of an audit without model code: unmeasured cells say so."""
    res = audit(_claims(tmp_path, "claim: A is faster\nquality: top1\nmodels:\n"
                                  "  - {name: A, params: 22M, flops: 4.6G, top1: 79.0, throughput: 1000}\n"
                                  "  - {name: B, params: 86M, flops: 17.6G, top1: 81.1, throughput: 300}\n"),
                measure_sources=False)
    path = tmp_path / "audit.json"
    path.write_text(dumps(res))
    r = run("render", str(path), "--out", str(tmp_path / "out"))
    assert r.exit_code == 0, r.output
    text = (tmp_path / "out" / "report.md").read_text()
    assert "not measured" in text and "quality-tradeoff" in text and "2.1 points lower top1" in text


# --- Markdown for an OpenReview comment ---------------------------------------------------------


def test_markdown_cannot_be_injected(tmp_path):
    evil = "<script>alert(1)</script> *bold* [link](http://x.invalid) a|b"
    res = audit(_claims(tmp_path, f"claim: {json.dumps(evil)}\nmodels:\n"
                                  f"  - {{name: {json.dumps(evil)}, params: 5M, flops: 1G}}\n"
                                  "  - {name: B, params: 25M, flops: 4G}\n"), measure_sources=False)
    r = run("audit", str(tmp_path / "claims.yaml"), "--no-measure", "--format", "md", "-q")
    html = MarkdownIt("commonmark").enable("table").render(r.stdout)
    assert "<script" not in html and "<a " not in html and "<em>bold" not in html
    assert "&lt;script&gt;" in html and "[link](http://x.invalid)" in html
    # the table keeps its columns: an escaped | in a name does not split a cell
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    assert len({r.count("<td") + r.count("<th") for r in rows}) <= 2  # matched table and numbers table
    assert md("a|b") == r"a\|b" and md("*x*") == r"\*x\*"
    render(res, tmp_path / "rendered", formats=("md",))


# --- real architectures, counts only ------------------------------------------------------------


def test_vit_patch32_against_patch16_is_fair_with_a_sequence_length_note(tmp_path):
    """ViT-B/32 ties ViT-B/16 on parameters and needs a quarter of its FLOPs: nothing flatters
    ViT-B/32, so the comparison (without quality) is fair; equal parameters hide ViT-B/16's extra
    compute, which the note says and which cuts for ViT-B/32."""
    r = run("compare", "--proposed", "timm:vit_base_patch32_224", "--baseline", "timm:vit_base_patch16_224",
            "--match", "params,flops", "--strategy", "width", "--strategy", "input", "--no-speed", "-q",
            "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    j = json.loads((tmp_path / "results.json").read_text())["judgement"]
    assert j["verdict"] == "fair" and j["findings"][0]["id"] == "sequence-length"
    assert j["findings"][0]["cuts"] == "for" and "hide timm:vit_base_patch16_224's extra compute" in j["findings"][0]["message"]
    assert r.stdout.startswith("verdict: FAIR")
    # ViT-B/16 is 1.9% short of ViT-B/32's parameters: outside the 1% tolerance, so a variant is built,
    # and the trim alone closes it (the width stays 768: a head more would be +17%)
    (params,) = [m for m in j["matched"] if m["indicator"] == "params"]
    assert not params["is_baseline"] and abs(params["rel_error"]) <= 0.01
    knobs = json.loads((tmp_path / "results.json").read_text())["models"][2]["knobs"]
    assert knobs["embed_dim"] == 768 and knobs["mlp_hidden"] > 3072
    (width,) = [m for m in j["matched"] if m["indicator"] == "flops" and m["strategy"] == "width"]
    assert {r["indicator"]: r["outcome"] for r in width["rows"]}["params"] == "falls behind"


def test_a_claim_checked_against_a_default_config_is_the_wrong_model(tmp_path):
    """hf:albert without kwargs is ALBERT-xxlarge (222.6M), 18.6x the stated 12M: what was measured is
    not the paper's model. That leads, the verdict is insufficient, and no finding rests on the
    xxlarge measurement (issue 24: it read "unfair, 22.3x its applied parameters")."""
    res = audit(_claims(tmp_path, "models:\n  - {name: ALBERT, source: 'hf:albert', params: 12M, flops: 22.5G}\n"
                                  "  - {name: BERT, source: 'hf:bert', params: 110M, flops: 22.4G}\n"))
    j = res["judgement"]
    assert j["verdict"] == "insufficient" and j["findings"][0]["id"] == "wrong-model"
    f = j["findings"][0]
    assert "hf:albert with its defaults" in f["message"] and "222.6 M" in f["message"]
    assert "hidden_size=4096" in f["advice"] and "kwargs" in f["advice"]
    assert not [f for f in res["flags"] if f["id"] == "parameter-sharing" and f["evidence"]["unique"] > 100e6]
    assert "wrong-model" in j["summary"][1] or "not the paper's model" in j["summary"][1]


def test_a_model_whose_output_is_nan_fails_as_a_model_not_as_bad_input():
    from fairness.errors import FairnessError, ModelFailed
    from fairness.runner import Prepared, Runnable, RunSettings
    from fairness.sources import Inputs
    from tiny_models import mlp_inputs, nan_out

    run_ = Runnable("nan", nan_out(), lambda b: Inputs((mlp_inputs(b),), {}, {"kind": "given", "batch_size": b}))
    with pytest.raises(ModelFailed, match="returned NaN or inf") as e:
        Prepared(run_, 1, RunSettings(device="cpu", min_duration_s=0.05, warmup_s=0.01, threads=1), False)
    assert isinstance(e.value, FairnessError) and e.value.exit_code == 3  # one line in the CLI, its own exit code


def test_sparsity_not_input_length_explains_equal_params_unequal_flops():
    """A mixture of experts at a dense model's parameters has a third of its FLOPs: that is sparsity
    (its own flag), not a different input length."""
    moe = rec("MoE", "proposed", params=3e6, active=1e6, macs=1e9)
    ids = kinds(judge({"models": [moe, rec("Dense", params=3e6, macs=3e9)]}))
    assert "sparsity" in ids and "sequence-length" not in ids


def test_printed_precision_of_every_stated_parameter_sense():
    """A claims file keeps active and applied parameters under their own keys; their printed
    precision widens a tie, or a claim-mismatch band, as the parameter count's does."""
    from fairness.readings import precision

    m = record(claims={"active_params": 7e6, "applied_params": 40e6, "params": 29e6,
                       "precision": {"active_params": 0.5 / 7, "applied_params": 0.5 / 40, "params": 0.5 / 29}})
    assert [precision(m, k) for k in ("active", "applied", "params")] == [0.5 / 7, 0.5 / 40, 0.5 / 29]
    assert precision(record(params={"active": 7e6}), "active") == 0.0  # a measured number is exact


def test_behind_as_made_and_ahead_within_the_ci_is_not_still_behind():
    """Switch-Base-8 against T5-Base on the H200: throughput 0.5x as made, 1.31x against a
    params-matched T5 whose paired CI is wide. The sentence must not call 1.31x 'still behind'."""
    from fairness.judgement import _answer

    rows = [{"indicator": "throughput", "kind": "speed", "as_made": 0.5, "matched": 1.31, "behind": True,
             "still_behind": False, "outcome": "none"},
            {"indicator": "latency", "kind": "speed", "as_made": 0.5, "matched": 0.8, "behind": True,
             "still_behind": True, "outcome": "none"}]
    text = _answer({"name": "P"}, {"name": "V", "capacity_loss": []}, {"indicator": "params", "rel_error": 0.0}, rows,
                   False)
    assert "throughput 0.5x → 1.31x (no clear advantage: within the CI)" in text
    assert "latency 0.5x → 0.8x (still behind)" in text


def test_at_equal_cost_the_strongest_matched_variant_heads_and_the_range_is_given():
    """Issue 32: Switch-Base-8 against T5-Base at equal parameters (the gallery's H200 run). Depth,
    width and compound T5s are all within tolerance (+0.0%, -0.0%, -0.6%); the depth one was chosen
    for being closest by a hair, and it is the weakest baseline. The line a reviewer reads is
    against the strongest, with the range over all three."""
    from pathlib import Path

    from fairness.judgement import judge
    from fairness.results import load

    res = load(Path(__file__).parent.parent / "reports" / "switch-base-8-vs-t5-base" / "results.json")
    res.pop("judgement", None)
    (params,) = [d for d in judge(res, "")["details"] if d.startswith("At equal parameters")]
    assert "(T5-Base width-matched on params" in params  # FLOPs 0.348x against it, 0.334x against depth
    assert "strongest of the 3 variants matched on parameters within tolerance (compound, depth, width)" in params
    assert "FLOPs 0.334x-0.348x" in params
