"""`fairness compare`: the config example end to end (counts on meta), and bad configs."""

import json
from pathlib import Path

import pytest

from cli_run import one_line_exit_2, run

EXAMPLE = str(Path(__file__).parent.parent / "examples" / "albert_vs_bert.yaml")


def test_albert_vs_bert_example(tmp_path):
    """ALBERT-base shares its layers: matched on parameters, BERT shrinks to a tenth (capacity
    handicap); matched on FLOPs, BERT-base is its own match. The folder holds every output."""
    r = run("compare", EXAMPLE, "-q", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("verdict: UNFAIR")
    res = json.loads((tmp_path / "results.json").read_text())
    roles = [m["role"] for m in res["models"]]
    assert roles[:2] == ["proposed", "baseline"] and set(roles[2:]) == {"variant"}
    ids = {(f["id"], f["severity"]) for f in res["flags"]}
    assert ("parameter-sharing", "unfair") in ids and ("capacity-handicap", "info") in ids
    j = res["judgement"]
    assert j["verdict"] == res["verdict"] == "unfair" and j["findings"][0]["id"] == "parameter-sharing"
    # the params-matched BERT is shown as a capacity loss in the matched table, not as the verdict's reason
    (width,) = [m for m in j["matched"] if m["indicator"] == "params" and m["strategy"] == "width"]
    # within 1% of ALBERT's 11.68M (10.7% of BERT-base's 109.5M) since the MLP trims the width's head steps
    assert width["capacity_loss"][:2] == ["params 11% of the baseline's", "width (hidden_size) 25% of the baseline's"]
    assert len(width["capacity_loss"]) == 2 and "means little" in width["answer"]
    (variant,) = [m for m in res["models"] if m["name"].endswith("width-matched on params")]
    assert abs(variant["match"]["rel_error"]) <= 0.01 and variant["knobs"]["intermediate_size"] != 768
    flops = {r["indicator"]: r["outcome"] for r in width["rows"]}
    assert flops["flops"] == "falls behind" and flops["glue"] == "unknown until trained"
    # depth cannot get BERT to 11.7M (one layer and the embeddings are 31.5M): no variant, the reason shown
    (depth,) = [m for m in j["matched"] if m["strategy"] == "depth"]
    assert depth["unreachable"] and "out of reach" in depth["answer"] and "no variant" in depth["answer"]
    assert not any("depth-matched" in m["name"] for m in res["models"])
    (own,) = [m for m in j["matched"] if m["indicator"] == "flops"]
    assert own["is_baseline"] and "BERT-base itself is the closest match" in own["answer"]
    variants = [m for m in res["models"] if m["role"] == "variant"]
    assert all(m["match"]["indicator"] == "params" for m in variants)  # FLOPs: BERT-base itself
    assert res["models"][0]["quality"] == {"glue": 89.4}
    report = (tmp_path / "report.md").read_text()
    assert "**Verdict: unfair**" in report and "| train it |" in report
    assert "What was built" in (tmp_path / "report.html").read_text()  # the variants' arguments, for training
    header = (tmp_path / "results.csv").read_text().splitlines()[0]
    assert "params.unique" in header and "flops.macs" in header


@pytest.mark.parametrize("text, expected", [
    ("proposed: {source: hf:albert}\n", "'baseline' is missing"),
    ("proposed: {source: hf:albert}\nbaseline: {source: hf:bert, kwarg: {}}\n", "did you mean 'kwargs'"),
    ("proposed: {source: hf:albert}\nbaseline: {source: hf:bert}\nmatch: [size]\n", "match:"),
    ("proposed: {source: hf:albert}\nbaseline: {source: hf:bert}\nmeasure: {devise: cpu}\n", "devise"),
    ("proposed: [\n", "line 2"),
])
def test_bad_config_one_line_exit_2(tmp_path, text, expected):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    one_line_exit_2(run("compare", str(cfg), "-q", "--out", str(tmp_path / "out")), expected)


def test_speed_targets_need_speed():
    r = run("compare", "--proposed", "hf:albert", "--baseline", "hf:bert", "--match", "throughput", "--no-speed", "-q")
    assert r.exit_code == 2 and "needs speed" in r.stderr


def test_unknown_match_indicator_on_the_command_line():
    r = run("compare", "--proposed", "hf:albert", "--baseline", "hf:bert", "--match", "size", "--no-speed", "-q")
    assert r.exit_code == 2 and "expected indicators from params" in r.stderr


def test_a_variant_the_model_cannot_be_built_at_is_searched_around(tmp_path):
    """The width-matched variant cannot be built at the target (width 32 > 24): the width search
    skips those candidates, gives no variant, and says why in the report's list of targets out of
    reach; the depth-matched variant, the flags and every report file are still there."""
    family = Path(__file__).parent.parent / "examples" / "family.yaml"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"""
name: fragile
proposed: {{name: wide, source: "python:tiny_models:mlp_stack", kwargs: {{width: 32}}}}
baseline: {{name: fragile, source: "python:tiny_models:fragile_mlp"}}
family: {family}
match: [params]
strategies: [width, depth]
measure: {{speed: false, inputs: "python:tiny_models:mlp_inputs"}}
""")
    r = run("compare", str(cfg), "-q", "--out", str(tmp_path / "out"))
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    (width,) = [u for u in res["comparison"]["unreachable"] if u["strategy"] == "width"]
    assert "could not be built" in width["reason"] and "width 32 is not supported" in width["reason"]
    assert any(m.get("match", {}) and m["match"]["strategy"] == "depth" for m in res["models"])
    for name in ("report.html", "report.md", "report.tex", "table.tex", "results.csv"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    assert "width 32 is not supported" in (tmp_path / "out" / "report.html").read_text()


def test_a_variant_that_crashes_fails_alone(tmp_path):
    """The width-matched variant counts on meta but its forward pass on the CPU fails (width 32 >
    24): its timing is lost with the reason; the depth-matched variant, the flags and every report
    file are still there, and the exit code says some models failed."""
    family = Path(__file__).parent.parent / "examples" / "family.yaml"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"""
name: crashy
proposed: {{name: wide, source: "python:tiny_models:mlp_stack", kwargs: {{width: 32}}}}
baseline: {{name: crashy, source: "python:tiny_models:crashy_mlp"}}
family: {family}
match: [params]
strategies: [width, depth]
measure: {{device: cpu, batch: [1], min_time: 0.05, inputs: "python:tiny_models:mlp_inputs"}}
""")
    r = run("compare", str(cfg), "-q", "--out", str(tmp_path / "out"))
    assert r.exit_code == 3, r.output  # some models failed; the others and the report are complete
    assert r.stderr.startswith("failed: crashy width-matched on params: ")
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    # its counts stand (made on meta); its timing failed, with the reason
    lost = [m for m in res["models"] if (m.get("speed") or {}).get("errors")]
    assert [m["name"] for m in lost] == ["crashy width-matched on params"]
    assert "width 32 is not supported" in lost[0]["speed"]["errors"][0] and lost[0]["speed"]["throughput"] is None
    assert any(m.get("match", {}) and m["match"]["strategy"] == "depth" for m in res["models"])
    for name in ("report.html", "report.md", "report.tex", "table.tex", "results.csv"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    assert "Failed:" in (tmp_path / "out" / "report.html").read_text()


def test_python_api_takes_a_module_and_renders(tmp_path):
    """fairness.compare with an nn.Module as the proposed model; fairness.render writes the formats."""
    import fairness
    from tiny_models import MLPStack

    family = str(Path(__file__).parent.parent / "examples" / "family.yaml")
    res = fairness.compare(MLPStack(4, 32), "python:tiny_models:mlp_stack", family_file=family,
                           input_factory="python:tiny_models:mlp_inputs", match=["params"], strategies=["width"])
    variant = res["models"][2]
    assert variant.knobs == {"depth": 4, "width": 32} and variant.match["rel_error"] == 0
    written = fairness.render(res, tmp_path, formats=("md", "json"))
    assert sorted(p.name for p in written) == ["report.md", "results.json"]


def test_an_input_matched_variant_is_timed_in_the_same_rounds():
    """ViT-S matched to ViT-Ti's FLOPs by its input alone (a smaller image): it is timed in the
    same interleaved rounds as the others, with the same n, and its speed-up over the proposed
    model and over the baseline is paired round by round."""
    from fairness import compare
    from fairness.runner import RunSettings

    speed = RunSettings(device="cpu", batch_sizes=(1,), min_duration_s=0.05, warmup_s=0.01, threads=1,
                        idle=False, energy=False)
    res = compare("timm:vit_tiny_patch16_224", "timm:vit_small_patch16_224", match=["flops"], strategies=["input"],
                  speed=speed, proposed_name="Ti", baseline_name="S")
    names = [m.name for m in res["models"]]
    assert names == ["Ti", "S", "S input-matched on flops"]
    variant = res["models"][2]
    assert variant.input["height"] < 224  # its own input, in the same group
    rounds = {m.name: len(m.speed.runs[0]["rounds"]["throughput"]) for m in res["models"]}
    assert len(set(rounds.values())) == 1
    pairs = {(r["model"], r["reference"]) for r in res["speed_ratios"] if r["indicator"] == "throughput"}
    assert pairs == {("S", "Ti"), ("S input-matched on flops", "Ti"), ("S input-matched on flops", "S")}
    (m,) = res["judgement"]["matched"]
    (row,) = [r for r in m["rows"] if r["indicator"] == "throughput"]
    assert "matched_ci95" in row and not row.get("matched_apart")


def test_compare_takes_every_run_setting_from_its_config_and_command_line(tmp_path, monkeypatch):
    """The measure: section takes what `fairness measure` takes; a command-line option overrides it."""
    import importlib

    cmp = importlib.import_module("fairness.compare")  # the module: fairness.compare is also the function
    cfg = tmp_path / "c.yaml"
    cfg.write_text("proposed: {source: timm:resnet18}\nbaseline: {source: timm:resnet34}\n"
                   "measure: {device: cpu, channels_last: false, compile: reduce-overhead, tf32: true, threads: 3,\n"
                   "          train: true, batch: [1, 8], min_time: 0.2, dtype: bfloat16}\n")
    seen = {}
    monkeypatch.setattr(cmp, "compare", lambda *a, **kw: seen.update(kw))
    cmp.compare_config(str(cfg), overrides={"threads": 2, "channels_last": "auto"})
    s = seen["speed"]
    assert (s.channels_last, s.compile, s.tf32, s.threads, s.train, s.batch_sizes, s.min_duration_s, s.dtype) == \
        ("auto", "reduce-overhead", True, 2, True, (1, 8), 0.2, "bfloat16")
    # convolutional models run channels_last by default, whoever builds the settings
    from fairness.runner import RunSettings
    from fairness.settings import MeasureSection
    assert MeasureSection().to_run_settings().channels_last == RunSettings().channels_last == "auto"


@pytest.mark.parametrize("measure, expected", [
    ("{channels_last: sometimes}", "channels_last: 'sometimes'; expected auto, true or false"),
    ("{compile: fastest}", "compile: 'fastest'"),
    ("{threads: 0}", "threads: 0; expected a positive integer"),
    ("{train: yes please}", "train: 'yes please'"),
])
def test_bad_run_settings_one_line_exit_2(tmp_path, measure, expected):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"proposed: {{source: hf:albert}}\nbaseline: {{source: hf:bert}}\nmeasure: {measure}\n")
    one_line_exit_2(run("compare", str(cfg), "-q", "--out", str(tmp_path / "out")), expected)


def test_channels_last_auto_is_on_for_convolutional_networks():
    from fairness.record import ModelRecord
    from fairness.runner import channels_last_for

    resnet = ModelRecord.from_plain({"flops": {"by_op": {"convolution": {"calls": 20}}}})
    vit = ModelRecord.from_plain({"flops": {"by_op": {"convolution": {"calls": 1}}}})  # the patch embedding
    assert channels_last_for("auto", resnet) and not channels_last_for("auto", vit)
    assert channels_last_for(True, vit) and not channels_last_for(False, resnet)


def test_a_baseline_without_a_family_still_gets_its_report(tmp_path):
    """torchvision's SqueezeNet has no built-in family: no matched variants, but the comparison as
    made is measured, judged and written, with the reason in the report."""
    r = run("compare", "--proposed", "timm:resnet10t", "--baseline", "torchvision:squeezenet1_0", "--no-speed", "-q",
            "--out", str(tmp_path / "out"))
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [m["role"] for m in res["models"]] == ["proposed", "baseline"]
    assert "no known scalable family for torchvision.models.squeezenet.SqueezeNet" in res["comparison"]["no_family"]
    assert res["judgement"]["verdict"] in ("fair", "questionable", "unfair")  # two indicators known: judged
    assert any(s.startswith("No matched baselines") for s in res["judgement"]["details"])
    assert "No matched baselines" in (tmp_path / "out" / "report.md").read_text()
    assert (tmp_path / "out" / "report.html").exists() and (tmp_path / "out" / "report.tex").exists()


def test_each_model_at_its_own_input(tmp_path):
    """A config may give each model its own image size (EfficientNet-B4 at 380 px against ResNet-50
    at 224): each is counted there, and the baseline's variants start from the baseline's."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("proposed: {source: timm:resnet10t, image_size: 160}\n"
                   "baseline: {source: timm:resnet18, image_size: 96}\n"
                   "match: [flops]\nstrategies: [width]\nmeasure: {speed: false}\n")
    r = run("compare", str(cfg), "-q", "--out", str(tmp_path / "out"))
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [m["input"]["height"] for m in res["models"]] == [160, 96, 96]
    cfg.write_text("proposed: {source: timm:resnet10t, image_size: 0}\nbaseline: {source: timm:resnet18}\n")
    one_line_exit_2(run("compare", str(cfg), "-q", "--out", str(tmp_path / "out2")), "proposed.image_size: 0")


FAMILY = str(Path(__file__).parent.parent / "examples" / "family.yaml")


@pytest.mark.parametrize("count_device", ["meta", "cpu"])
def test_each_model_takes_its_own_kwargs_on_the_command_line(tmp_path, count_device, build_devices):
    """MLPStack(depth, w) has 8w + w + depth (w^2 + w) parameters (tests/tiny_models.py). One source,
    depth 4, at width 32 against width 8: 288 + 4 x 1056 = 4512 against 72 + 4 x 72 = 360. The
    baseline's variants start from its own width 8: width-matched at width 32 (4512, exact);
    depth-matched where 72 + 72 d is closest to 4512, d = 62 (4536). The same on every count
    device, where every model and every candidate of the search is built."""
    r = run("compare", "--proposed", "python:tiny_models:mlp_stack", "--proposed-kwarg", "width=32",
            "--baseline", "python:tiny_models:mlp_stack", "--baseline-kwarg", "width=8", "--family", FAMILY,
            "--inputs", "python:tiny_models:mlp_inputs", "--match", "params", "--strategy", "width",
            "--strategy", "depth", "--count-device", count_device, "--no-speed", "-q", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    assert set(build_devices) == {count_device}
    res = json.loads((tmp_path / "results.json").read_text())
    assert {m["counted_on"] for m in res["models"]} == {count_device}
    got = [(m["name"], m["kwargs"], m["params"]["unique"]) for m in res["models"]]
    assert got == [("python:tiny_models:mlp_stack width=32", {"width": 32}, 4512),
                   ("python:tiny_models:mlp_stack width=8", {"width": 8}, 360),
                   ("python:tiny_models:mlp_stack width=8 width-matched on params", {"width": 32, "depth": 4}, 4512),
                   ("python:tiny_models:mlp_stack width=8 depth-matched on params", {"width": 8, "depth": 62}, 4536)]
    assert res["verdict"] in ("fair", "questionable", "unfair")


def test_the_command_line_wins_over_the_config_model_by_model(tmp_path):
    """tiny_conv(c, bias): params 27c (+ c), MACs 27 c H W. The config builds the proposed model
    (conv4) at c = 4 without bias and both at 8 px; the command line sets the proposed c = 2 (bias stays off:
    27 x 2 = 54 params; 27 x 2 x 64 = 3456 MACs) and the baseline's input to 16 px (c = 4 with
    bias: 112 params; 27 x 4 x 256 = 27648 MACs). No family: measured and judged, no variants."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("proposed: {name: conv4, source: 'python:tiny_models:tiny_conv', kwargs: {channels: 4, "
                   "bias: false}, image_size: 8, quality: {top1: 50}}\n"
                   "baseline: {source: 'python:tiny_models:tiny_conv', image_size: 8}\n"
                   "measure: {speed: false}\n")
    r = run("compare", str(cfg), "--proposed-kwarg", "channels=2", "--baseline-image-size", "16", "-q",
            "--out", str(tmp_path / "out"))
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    got = [(m["kwargs"], m["input"]["height"], m["params"]["unique"], m["flops"]["macs"]) for m in res["models"]]
    assert got == [({"channels": 2, "bias": False}, 8, 54, 3456), ({}, 16, 112, 27648)]
    # another model than the config's conv4: named by the change, without conv4's quality
    assert res["models"][0]["name"] == "conv4 channels=2" and res["models"][0]["quality"] == {}
    assert "no known scalable family" in res["comparison"]["no_family"]


def test_each_model_at_its_own_input_on_the_command_line(tmp_path):
    """Without a config: a shared --image-size, and the baseline's own, which wins for it."""
    r = run("compare", "--proposed", "python:tiny_models:tiny_conv", "--baseline", "python:tiny_models:tiny_conv",
            "--image-size", "8", "--baseline-image-size", "4,6", "--no-speed", "-q", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "results.json").read_text())
    got = [(m["input"]["height"], m["input"]["width"], m["flops"]["macs"]) for m in res["models"]]
    assert got == [(8, 8, 27 * 4 * 64), (4, 6, 27 * 4 * 24)]


@pytest.mark.parametrize("args, expected", [
    (["--proposed-kwarg", "oops"], "--proposed-kwarg 'oops': expected KEY=VALUE"),
    (["--baseline-image-size", "0"], "--baseline-image-size '0': expected a positive size"),
    (["--proposed-seq-len", "0"], "--proposed-seq-len 0: expected a positive number of tokens"),
    (["--count-device", "gpu"], "--count-device gpu: expected meta, cpu, cuda or cuda:N"),
])
def test_bad_model_options_one_line_exit_2(tmp_path, args, expected):
    one_line_exit_2(run("compare", "--proposed", "hf:albert", "--baseline", "hf:bert", *args, "--no-speed", "-q",
                        "--out", str(tmp_path / "out")), expected)
    assert not (tmp_path / "out").exists()  # checked before anything is written


def _mlp(width: int):
    """Linear(8, w), ReLU, Linear(w, 4): params 8w + w + 4w + 4 = 13w + 4; MACs 8w + 4w = 12w."""
    from torch import nn

    return nn.Sequential(nn.Linear(8, width), nn.ReLU(), nn.Linear(width, 4))


def test_python_api_compares_two_modules(tmp_path):
    """Both models as nn.Modules built in the test: 13 x 32 + 4 = 420 parameters and 384 MACs
    against 13 x 16 + 4 = 212 and 192. Both are measured and judged; a module has no source to
    build variants from, which the report says, naming the fix."""
    import fairness

    res = fairness.compare(proposed=_mlp(32), baseline=_mlp(16), proposed_name="wide", baseline_name="narrow",
                           input_factory="python:tiny_models:mlp_inputs", match=["params"])
    fairness.render(res, tmp_path, formats=("json", "md"))
    written = json.loads((tmp_path / "results.json").read_text())
    got = [(m["name"], m["role"], m["params"]["unique"], m["flops"]["macs"]) for m in written["models"]]
    assert got == [("wide", "proposed", 420, 384), ("narrow", "baseline", 212, 192)]
    assert written["verdict"] in ("fair", "questionable", "unfair")
    assert "nn.Module (Sequential) without the source" in written["comparison"]["no_family"]
    assert "No matched baselines: the baseline was given as an nn.Module" in (tmp_path / "report.md").read_text()


def test_a_module_baseline_is_scaled_from_its_source():
    """MLPStack(4, 8) built by the user, with the source it came from: it is measured as the
    baseline (72 + 4 x 72 = 360 parameters), and its width-matched variant for MLPStack(4, 32)'s
    4512 parameters is built from the source: width 32."""
    import fairness
    from tiny_models import MLPStack

    res = fairness.compare(MLPStack(4, 32), MLPStack(4, 8), baseline_source="python:tiny_models:mlp_stack",
                           baseline_kwargs={"width": 8}, family_file=FAMILY, baseline_name="narrow",
                           input_factory="python:tiny_models:mlp_inputs", match=["params"], strategies=["width"])
    base, variant = res["models"][1:]
    assert base.params["unique"] == 360 and base.source.startswith("object:")
    assert variant.knobs == {"depth": 4, "width": 32} and variant.params["unique"] == 4512
    assert res["comparison"]["baseline_source"] == "python:tiny_models:mlp_stack"


@pytest.mark.parametrize("kwargs, expected", [
    # the source at its default width 16 is 144 + 4 x 272 = 1232 parameters, not the module's 360
    ({"baseline_source": "python:tiny_models:mlp_stack"}, "builds a model of 1,232 parameters, but the "
                                                          "baseline module has 360"),
    ({"baseline_kwargs": {"width": 8}}, "baseline_kwargs: the baseline is an nn.Module"),
    ({"baseline_source": 3}, "baseline_source: got int"),
])
def test_a_module_baseline_with_a_wrong_source_is_refused(kwargs, expected):
    import fairness
    from tiny_models import MLPStack

    with pytest.raises(fairness.FairnessError, match=expected):
        fairness.compare(MLPStack(4, 32), MLPStack(4, 8), family_file=FAMILY, match=["params"],
                         input_factory="python:tiny_models:mlp_inputs", **kwargs)


def test_a_timm_module_without_its_source_is_told_its_name():
    """timm records the model name in pretrained_cfg: the report names the source to pass."""
    import timm

    import fairness

    res = fairness.compare(timm.create_model("resnet10t"), timm.create_model("resnet14t"), match=["params"])
    assert "baseline_source='timm:resnet14t'" in res["comparison"]["no_family"]
    assert [m.params["unique"] > 0 for m in res["models"]] == [True, True]


def test_a_source_baseline_takes_no_baseline_source():
    import fairness

    with pytest.raises(fairness.FairnessError, match="only for a baseline given as an nn.Module"):
        fairness.compare("hf:albert", "hf:bert", baseline_source="hf:bert")
    with pytest.raises(fairness.FairnessError, match="baseline: got int; expected a source"):
        fairness.compare("hf:albert", 3)


def test_help_shows_the_per_model_options_and_the_count_device():
    compare_help = run("compare", "--help").stdout
    assert "--proposed-kwarg depth=6" in compare_help and "--baseline-image-size 224" in compare_help
    assert "--count-device cpu" in compare_help and "wins over the shared one" in " ".join(compare_help.split())
    assert "--count-device cpu" in run("match", "--help").stdout


def test_a_torchvision_baseline_gets_its_variants(tmp_path):
    """torchvision's ResNet-18 is scaled through its family's factory, whose source has no default
    input: each variant keeps the baseline's 224 px, and the depth-matched one is measured."""
    r = run("compare", "--proposed", "timm:resnet10t", "--baseline", "torchvision:resnet18", "--no-speed", "-q",
            "--match", "params", "--strategy", "depth", "--out", str(tmp_path / "out"))
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    (variant,) = [m for m in res["models"] if m["role"] == "variant"]
    assert variant["source"] == "python:fairness.families.torchvision:resnet" and not variant.get("failed")
    assert (variant["input"]["height"], variant["input"]["width"]) == (224, 224)
