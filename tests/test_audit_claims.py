"""The input side of `fairness audit`: a reviewer's claims file to the records the rules read.
Numbers as papers print them, the precision they were printed with, the new claim keys, the
roles of a multi-row table, and one-line errors for every bad input. Files are written by
each test; only the scaled_from and decoder_seq_len tests build models (small ones, on meta)."""

from pathlib import Path

import pytest

from fairness import FairnessError
from fairness.audit import audit, load_claims, parse_quantity, parse_stated
from cli_run import one_line_exit_2, run

EXAMPLES = Path(__file__).parent.parent / "examples"
T5_TINY = "{d_model: 64, d_ff: 128, num_layers: 2, num_heads: 2, d_kv: 32, vocab_size: 1000}"


def claims_file(tmp_path, models: str, top: str = "claim: x\nquality: top1\n") -> str:
    path = tmp_path / "c.yaml"
    path.write_text(top + "models:\n" + models)
    return str(path)


def models_of(tmp_path, models: str) -> dict:
    return {m["name"]: m for m in load_claims(claims_file(tmp_path, models))["models"]}


# --- numbers as printed --------------------------------------------------------------------------


@pytest.mark.parametrize("text, number, unit", [
    ("4.1 MACs", 4.1, "MACs"),          # the M of MACs is no mega prefix
    ("4.1 GMACs", 4.1e9, "MACs"),       # exactly 4.1e9, not 4.1 * 1e9
    ("4.4 GFLOPs", 4.4e9, "FLOPs"),
    ("86 Mparams", 86e6, "params"),
    ("86M", 86e6, None),
    ("7B", 7e9, None),
    ("5 ms", 5.0, "ms"),                # the m of ms is no milli prefix (there is none)
    ("3k img/s", 3000.0, "img/s"),
    ("1.5e+3", 1500.0, None),
])
def test_numbers_with_prefixes_and_units(text, number, unit):
    assert parse_quantity(text, "x") == (number, unit)


@pytest.mark.parametrize("value", ["-5M", -5, 0, "0 GFLOPs"])
def test_zero_and_negative_must_be_positive(value):
    with pytest.raises(FairnessError, match="must be positive"):
        parse_quantity(value, "x")


@pytest.mark.parametrize("value", ["4.4 Gfoo", "1,000", "M", "abc"])
def test_not_a_number(value):
    with pytest.raises(FairnessError, match="is not a number"):
        parse_quantity(value, "x")


@pytest.mark.parametrize("value, digits", [
    ("29M", 29),          # 29M +- 0.5M
    ("4.40G", 440),       # a trailing zero after the point is printed on purpose
    ("86e6", 86),         # how YAML 1.1 reads 86e6: a string
    (86e6, 86),           # the same number given as a float: its ".0" says nothing
    (86000000, 86),       # an integer's trailing zeros are not significant
    ("20M", 20),          # before a prefix they are printed on purpose: 20M is no tie with 25.6M
    ("1B", 1),
    ("88.2e6", 882),
    (88.2e6, 882),
    (0.004, 4),
])
def test_precision_is_half_the_last_printed_digit(value, digits):
    assert parse_stated(value, "x")[2] == pytest.approx(0.5 / digits)


def test_precision_and_parameter_counts_in_the_claims(tmp_path):
    m = models_of(tmp_path, "  - {name: A, params: 29M, active_params: 4.40G, applied_params: 86e6, macs: 4.1 GMACs,\n"
                            "     latency: {value: 4 ms}, throughput: 88.2e6}\n"
                            "  - {name: B, params: 86000000, flops: 0.004 TFLOPs}\n")
    a, b = m["A"]["claims"], m["B"]["claims"]
    assert (a["params"], a["active_params"], a["applied_params"], a["macs"]) == (29e6, 4.4e9, 86e6, 4.1e9)
    assert a["latency"]["value"] == pytest.approx(0.004) and a["latency"]["unit"] == "s"
    assert a["precision"] == pytest.approx({"params": 0.5 / 29, "active_params": 0.5 / 440, "applied_params": 0.5 / 86,
                                            "macs": 0.5 / 41, "latency": 0.5 / 4, "throughput": 0.5 / 882})
    assert b["precision"] == pytest.approx({"params": 0.5 / 86, "flops": 0.5 / 4})


# --- speed-ups, matching, scaling ----------------------------------------------------------------


def test_speedup_over_a_named_model_with_its_setting(tmp_path):
    m = models_of(tmp_path, "  - {name: Ours, speedup: {value: 2.1x, over: R50, indicator: latency, device: V100,"
                            " batch_size: 1}}\n"
                            "  - {name: R50}\n  - {name: R101}\n")
    assert m["Ours"]["claims"]["speedup"] == {"value": 2.1, "over": "R50", "indicator": "latency", "device": "V100",
                                              "batch_size": 1}
    assert m["Ours"]["claims"]["precision"]["speedup"] == pytest.approx(0.5 / 21)


def test_a_bare_speedup_is_over_the_one_baseline(tmp_path):
    m = models_of(tmp_path, "  - {name: Ours, speedup: 2.1}\n  - {name: R50}\n")
    assert m["Ours"]["claims"]["speedup"] == {"value": 2.1, "over": "R50", "indicator": "throughput"}


def test_matched_on_and_scaled_from_are_kept(tmp_path):
    m = models_of(tmp_path, "  - {name: Ours}\n  - {name: R10, matched_on: params, scaled_from: timm:resnet18}\n")
    assert m["R10"]["claims"] == {"matched_on": "params", "scaled_from": "timm:resnet18"}


def test_scaled_from_is_measured_as_the_baseline_is(tmp_path):
    """ResNet-18: 11,689,512 parameters (torchvision's and timm's count); 21 matrix ops in one
    pass (a 7x7 stem, 16 block convs, 3 downsampling 1x1 convs, the classifier)."""
    path = claims_file(tmp_path, "  - {name: Ours, params: 5M}\n"
                                 "  - {name: R10, source: timm:resnet10t, matched_on: params,"
                                 " scaled_from: timm:resnet18, image_size: 224}\n"
                                 "  - {name: R10b, scaled_from: timm:no_such_model_xyz}\n")
    res = audit(path)
    ten, unknown = res["models"][1], res["models"][2]
    assert ten.scaled_from == {"source": "timm:resnet18", "params": 11_689_512, "depth": 21}
    assert unknown.scaled_from["source"] == "timm:no_such_model_xyz"
    assert "unknown timm model" in unknown.scaled_from["error"]
    assert not audit(path, measure_sources=False)["models"][1].has("scaled_from")


def test_decoder_seq_len_reaches_the_measurement(tmp_path):
    """T5's printed FLOPs are for 512 encoder and 114 decoder tokens: fewer decoder tokens, fewer MACs."""
    res = audit(claims_file(tmp_path, f"  - {{name: T5-114, source: hf:t5, kwargs: {T5_TINY}, seq_len: 512,"
                                      f" decoder_seq_len: 114}}\n"
                                      f"  - {{name: T5-512, source: hf:t5, kwargs: {T5_TINY}, seq_len: 512}}\n"))
    short, full = res["models"]
    assert (short.input["seq_len"], short.input["decoder_seq_len"]) == (512, 114)
    assert full.input["decoder_seq_len"] == 512
    assert short.flops["macs"] < full.flops["macs"]


# --- roles ---------------------------------------------------------------------------------------


def test_a_table_of_several_proposed_models(tmp_path):
    m = models_of(tmp_path, "  - {name: B0, role: proposed}\n  - {name: B1, role: proposed}\n  - {name: R50}\n")
    assert [x["role"] for x in m.values()] == ["proposed", "proposed", "baseline"]


def test_the_efficientnet_table_example():
    spec = load_claims(str(EXAMPLES / "claims" / "efficientnet_table.yaml"))
    assert [m["role"] for m in spec["models"]] == ["proposed"] * 5 + ["baseline"]
    b4, r50 = spec["models"][4]["claims"], spec["models"][5]["claims"]
    assert (b4["params"], b4["macs"], b4["quality"]) == (19e6, 4.2e9, {"top1": 82.9})
    assert r50["precision"]["params"] == pytest.approx(0.5 / 26)
    assert spec["models"][4]["image_size"] == 380
    assert run("audit", str(EXAMPLES / "claims" / "efficientnet_table.yaml"), "--no-measure", "-q").exit_code == 0


# --- bad input: one line, exit 2 -----------------------------------------------------------------


@pytest.mark.parametrize("models, expected", [
    ("  - {name: A, params: -5M}\n  - {name: B}\n", "models[0] (A).params: '-5M' must be positive"),
    ("  - {name: A, params: -5}\n  - {name: B}\n", "models[0] (A).params: -5 must be positive"),
    ("  - {name: A, flops: 5 img/s}\n  - {name: B}\n", "is not an operation count"),
    ("  - {name: A, active_params: 4 GFLOPs}\n  - {name: B}\n", "active_params: unit 'FLOPs' is not a parameter"),
    ("  - {name: A, speedup: {value: 2, over: C}}\n  - {name: B}\n", "speedup.over: 'C' is not another model"),
    ("  - {name: A, speedup: {value: 2, over: A}}\n  - {name: B}\n", "speedup.over: 'A' is not another model"),
    ("  - {name: A, speedup: 2}\n  - {name: B}\n  - {name: C}\n", "speedup: over which model?"),
    ("  - {name: A, speedup: {value: 2, indicator: flops}}\n  - {name: B}\n", "expected throughput"),
    ("  - {name: A}\n  - {name: B, matched_on: accuracy}\n", "matched_on: 'accuracy'; expected"),
    ("  - {name: A}\n  - {name: B, scaled_from: resnet18}\n", "scaled_from: model source 'resnet18'"),
    ("  - {name: A, decoder_seq_len: 0}\n  - {name: B}\n", "decoder_seq_len: expected a positive"),
    ("  - {name: A, role: proposed}\n  - {name: B, role: proposed}\n", "at least one proposed and one baseline"),
    ("  - {name: A, role: baseline}\n  - {name: B}\n", "at least one proposed and one baseline"),
    ("  - {name: A, parms: 1M}\n  - {name: B}\n", "'scaled_from', 'seq_len', 'source', 'speedup'"),
])
def test_bad_claims_one_line_exit_2(tmp_path, models, expected):
    one_line_exit_2(run("audit", claims_file(tmp_path, models), "-q"), expected)


def test_yaml_errors_keep_pyyaml_problem_and_position(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("claim: x\nmodels:\n  - name: A: b\n")
    one_line_exit_2(run("audit", str(path), "-q"),
                    f"claims file {path}: not valid YAML at line 3, column 12: mapping values are not allowed here")
    path.write_text("claim: x\nmodels: [{name: A},\n  {name: B}\nquality: top1\n")
    one_line_exit_2(run("audit", str(path), "-q"), "at line 4, column 1: expected ',' or ']', but got '<scalar>' "
                                                   "(while parsing a flow sequence started at line 2, column 9)")
