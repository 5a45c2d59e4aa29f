"""Matched baselines: the search on a family worked out by hand, the built-in families on
real timm models (counted on meta), the speed search's fit loop on a deterministic clock,
and every bad input answered in one line."""

import json
from pathlib import Path

import pytest
import torch

from fairness import FairnessError
from fairness.matching import (capacity_loss, count_indicator, load_baseline, match_counts, match_speed,
                               values_at)
from fairness.sources import InputSpec
from cli_run import one_line_exit_2, run

FAMILY = str(Path(__file__).parent.parent / "examples" / "family.yaml")
MLP = "python:tiny_models:mlp_stack"
SPEC = InputSpec(factory="python:tiny_models:mlp_inputs")


def mlp_params(depth, width):
    return 8 * width + width + depth * (width * width + width)  # see tiny_models.MLPStack


def test_declared_family_counts_by_hand():
    b = load_baseline(MLP, {}, SPEC, FAMILY)
    assert b.values == {"depth": 4, "width": 16}
    assert count_indicator(b, b.values, "params") == mlp_params(4, 16)
    assert count_indicator(b, {"depth": 2, "width": 32}, "macs") == 8 * 32 + 2 * 32 * 32


def test_strategy_paths_follow_their_shares():
    """FLOPs x4: width-only doubles the width (FLOPs ~ width^2), depth-only quadruples the depth."""
    b = load_baseline(MLP, {}, SPEC, FAMILY)
    assert values_at(b, {"width": 1.0}, 4.0) == {"depth": 4, "width": 32}
    assert values_at(b, {"depth": 1.0}, 4.0) == {"depth": 16, "width": 16}


@pytest.mark.parametrize("strategy, depth, width", [("width", 4, 32), ("depth", 9, 16)])
def test_reachable_targets_are_hit_exactly(strategy, depth, width):
    b = load_baseline(MLP, {}, SPEC, FAMILY)
    target = mlp_params(depth, width)
    (v,) = match_counts(b, "params", target, [strategy])
    assert v["values"] == {"depth": depth, "width": width}
    assert v["match"]["achieved"] == target and v["match"]["rel_error"] == 0 and v["match"]["within_tolerance"]


def test_between_lattice_points_gives_the_closest_and_says_so():
    """Width-only between widths 24 and 32 (multiples of 8): the nearer one, marked as such."""
    b = load_baseline(MLP, {}, SPEC, FAMILY)
    target = mlp_params(4, 24) * 1.1  # 10% above width 24, far below width 32
    (v,) = match_counts(b, "params", target, ["width"])
    assert v["values"]["width"] == 24
    assert not v["match"]["within_tolerance"] and v["match"]["reason"] == "closest lattice point found"
    assert v["match"]["rel_error"] == pytest.approx(1 / 1.1 - 1)


def test_input_strategy_does_not_apply_to_params():
    b = load_baseline("timm:vit_tiny_patch16_224", {}, InputSpec())
    (v,) = match_counts(b, "params", 5e6, ["input"])
    assert "does not change the parameters" in v["skipped"]


def test_resnet50_to_resnet18_params_width_and_compound_within_1_percent():
    """Golden: timm resnet18 has 11,689,512 parameters (torchvision's model card)."""
    b = load_baseline("timm:resnet50", {}, InputSpec())
    for v in match_counts(b, "params", 11_689_512, ["width", "compound"]):
        assert abs(v["match"]["rel_error"]) <= 0.01, v


def test_vit_width_match_to_vit_small_is_vit_small():
    """ViT-B at width 384 (6 heads of 64) is ViT-S: FLOPs identical to timm's vit_small."""
    b = load_baseline("timm:vit_base_patch16_224", {}, InputSpec())
    small = load_baseline("timm:vit_small_patch16_224", {}, InputSpec())
    target = count_indicator(small, small.values, "flops")
    (v,) = match_counts(b, "flops", target, ["width"])
    assert v["values"] == {"depth": 12, "embed_dim": 384, "img_size": 224, "mlp_hidden": 1536} and v["match"]["rel_error"] == 0


def test_capacity_loss_by_hand():
    b = load_baseline(MLP, {}, SPEC, FAMILY)
    loss = capacity_loss(b, {"depth": 1, "width": 16}, mlp_params(1, 16), mlp_params(4, 16))
    assert loss == ["params 34% of the baseline's", "depth 25% of the baseline's"]
    assert capacity_loss(b, {"depth": 3, "width": 16}, mlp_params(3, 16), mlp_params(4, 16)) == []


def test_speed_search_fits_time_against_flops():
    """A deterministic clock: time = 2 ms + 1 ns per MAC. The fit lands within 3% in at most 6
    candidates, and the throughput reported is the one measured."""
    b = load_baseline(MLP, {}, SPEC, FAMILY)
    calls = []

    def time_of(values):
        calls.append(values)
        return 2e-3 + 1e-9 * count_indicator(b, values, "macs") * 1000, 0.004

    target_t = time_of({"depth": 4, "width": 64})[0]
    calls.clear()
    (v,) = match_speed(b, "throughput", 1 / target_t, ["width"], time_of)
    assert v["match"]["within_tolerance"] and len(calls) <= 6
    assert v["match"]["noise"] == 0.004 and not v["match"]["noisy"]
    assert v["match"]["achieved"] == pytest.approx(1 / time_of(v["values"])[0])


def test_speed_search_times_a_candidate_once_across_strategies():
    """Each strategy's search starts from the baseline: over two strategies it is timed once, and a
    point both searches propose is timed once too; every match still reads its time."""
    b = load_baseline(MLP, {}, SPEC, FAMILY)
    calls = []

    def time_of(values):
        calls.append(tuple(sorted(values.items())))
        return 2e-3 + 1e-9 * count_indicator(b, values, "macs") * 1000, 0.004

    target_t = time_of({"depth": 6, "width": 16})[0]
    calls.clear()
    found = match_speed(b, "throughput", 1 / target_t, ["width", "depth"], time_of)
    assert [v["strategy"] for v in found] == ["width", "depth"]
    assert len(calls) == len(set(calls))  # nothing timed twice
    assert calls.count((("depth", 4), ("width", 16))) == 1  # the baseline, first for both strategies
    assert all(v["match"]["candidates"] >= 2 for v in found)  # both searches count the baseline among theirs
    assert found[1]["values"] == {"depth": 6, "width": 16} and found[1]["match"]["within_tolerance"]


def test_cli_match_table_and_json(tmp_path):
    out = tmp_path / "m.json"
    r = run("match", "--baseline", MLP, "--family", FAMILY, "--inputs", SPEC.factory,
            "--params", str(mlp_params(4, 32)), "--strategy", "width", "-q", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert "within tolerance" in r.stdout and "-k depth=4 -k width=32" in r.stdout
    data = json.loads(out.read_text())
    roles = [m["role"] for m in data["models"]]
    assert roles == ["baseline", "variant"]
    match = data["models"][1]["match"]
    assert {"indicator", "strategy", "target", "achieved", "rel_error"} <= set(match)
    assert data["models"][1]["kwargs"] == {"depth": 4, "width": 32}


def test_match_counts_on_the_count_device(build_devices):
    """--count-device cpu: the baseline, the variant and every candidate of the search are built
    and counted on the CPU, with meta's counts: MLPStack(4, w) has 8w + 4w^2 MACs, 1152 at the
    baseline's width 16 and 4352 at width 32, the MACs target."""
    counts = {}
    for device in ("meta", "cpu"):
        build_devices.clear()
        r = run("match", "--baseline", MLP, "--family", FAMILY, "--inputs", SPEC.factory, "--macs", "4352",
                "--strategy", "width", "--count-device", device, "--format", "json", "-q")
        assert r.exit_code == 0, r.output
        assert set(build_devices) == {device} and len(build_devices) >= 3  # baseline, a candidate, the variant
        data = json.loads(r.stdout)
        assert [m["counted_on"] for m in data["models"]] == [device, device]
        assert data["matching"]["count_device"] == device
        counts[device] = [(m["params"], m["flops"], m.get("knobs")) for m in data["models"]]
    assert counts["cpu"] == counts["meta"]
    assert [c[1]["macs"] for c in counts["cpu"]] == [1152, 4352]


def test_a_model_that_needs_values_is_matched_on_the_cpu():
    """Issue 31: DeBERTa-v2 reads values in its forward pass (.item() for its relative positions),
    which meta tensors do not have. `measure` counts such a model on the CPU by itself; `match`
    now does too, for every candidate, and says so in the footer."""
    r = run("match", "--baseline", "hf:deberta-v2", "-k", "num_hidden_layers=2", "-k", "hidden_size=128",
            "-k", "num_attention_heads=2", "-k", "intermediate_size=256", "-k", "vocab_size=1000",
            "--flops", "2e9", "--strategy", "depth", "--format", "json")
    assert r.exit_code == 0, r.output
    assert "cannot be counted on meta" in r.stderr and "Tensor.item() cannot be called on meta tensors" in r.stderr
    data = json.loads(r.stdout)
    assert [m["counted_on"] for m in data["models"]] == ["cpu", "cpu"]
    assert data["models"][1]["match"]["within_tolerance"]


@pytest.mark.parametrize("args, expected", [
    (["--baseline", MLP, "--family", FAMILY, "--inputs", SPEC.factory, "-k", "width=17", "--params", "1e4"],
     "off the lattice"),
    (["--baseline", MLP, "--family", FAMILY, "--inputs", SPEC.factory, "--params", "1e15",
      "--strategy", "depth"], "out of reach"),
    (["--baseline", "python:tiny_models:shared_block", "--inputs", "python:tiny_models:vector_inputs",
      "--params", "1e4"], "--family"),
    (["--baseline", MLP, "--family", FAMILY, "--params", "1e4", "--flops", "1e5"], "give one target"),
    (["--baseline", MLP, "--family", FAMILY, "--params", "-5"], "positive"),
    (["--baseline", MLP, "--family", FAMILY, "--match-to", "timm:resnet18"], "--indicator"),
    (["--baseline", MLP, "--family", "/nonexistent.yaml", "--params", "1e4"], "--family /nonexistent.yaml"),
    (["--baseline", MLP, "--family", FAMILY, "--params", "1e4", "--count-device", "gpu"],
     "--count-device gpu: expected meta, cpu, cuda or cuda:N"),
])
def test_bad_match_input_one_line_exit_2(args, expected):
    one_line_exit_2(run("match", *args, "-q"), expected)


def test_declared_family_errors_name_the_key(tmp_path):
    bad = tmp_path / "f.yaml"
    bad.write_text("knobs:\n  - {name: depth, role: height, base: 4}\n")
    with pytest.raises(FairnessError, match="role in"):
        load_baseline(MLP, {}, SPEC, str(bad))
    bad.write_text("knobs: [\n")
    with pytest.raises(FairnessError, match="line 2"):
        load_baseline(MLP, {}, SPEC, str(bad))


def test_cli_speed_match_on_cpu_runs_the_real_timer():
    """A throughput target on the CPU: the real timing path, at most 6 candidates, noise recorded.
    (How close it gets is a GPU benchmark's question, not a unit test's: a tiny MLP timed for 0.05 s
    on a 2-core CPU moved by over 7% between candidates in a fresh clone's run, past the default 3%,
    and the match was refused. A 25% tolerance keeps the test about the timing path.)"""
    r = run("match", "--baseline", MLP, "--family", FAMILY, "--inputs", SPEC.factory, "-k", "width=32",
            "--match-to", MLP, "--indicator", "throughput", "--strategy", "width", "--device", "cpu",
            "--batch", "4", "--min-time", "0.05", "--tolerance", "0.25", "--format", "json", "-q")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [m["role"] for m in data["models"]] == ["proposed", "baseline", "variant"]
    match = data["models"][2]["match"]
    assert 1 <= match["candidates"] <= 6 and match["noise"] >= 0 and match["achieved"] > 0
    assert data["matching"]["settings"]["batch_sizes"] == [4]


def test_an_unreachable_latency_target_is_refused_in_one_line():
    """No width of ResNet-18 runs a call in a microsecond: no variant is given as 'matched'."""
    one_line_exit_2(run("match", "--baseline", "timm:resnet18", "--latency", "1e-6", "--device", "cpu",
                        "--strategy", "width", "--image-size", "64", "--min-time", "0.05", "-q"),
                    "is not reachable by scaling timm:resnet18: width")


def test_torchvision_resnet_is_not_taken_for_timms():
    """Both classes are called ResNet; timm's family would pass `layers` to torchvision's builder.
    Each library's class finds its own family."""
    assert load_baseline("torchvision:resnet50", {}, InputSpec()).family.name == "torchvision ResNet (bottleneck)"
    assert load_baseline("timm:resnet50", {}, InputSpec()).family.name == "timm ResNet"


def test_a_registered_family_is_found(monkeypatch):
    """register_family: a matcher and a builder, as timm's register_model; the first match wins."""
    from fairness import families
    from fairness.families import declared_family, load_family_spec, register_family
    from tiny_models import MLPStack

    monkeypatch.setattr(families.registry, "REGISTRY", list(families.registry.REGISTRY))
    register_family("tiny MLP stacks", lambda model, src: isinstance(model, MLPStack))(
        lambda model, src, size, seq_len: declared_family(load_family_spec(FAMILY)))
    assert families.family_for(MLPStack(4, 16), None, None, None).name == "MLP stack (tests/tiny_models.py)"


@pytest.mark.parametrize("source, kwargs, width", [
    ("hf:gpt2", {"n_layer": 4, "n_embd": 128, "n_head": 4, "vocab_size": 100, "n_positions": 64}, "n_embd"),
    ("hf:distilbert", {"n_layers": 4, "dim": 128, "n_heads": 4, "hidden_dim": 512, "vocab_size": 100}, "dim"),
    ("hf:t5", {"d_model": 128, "d_ff": 512, "num_layers": 4, "num_heads": 4, "d_kv": 32, "vocab_size": 100}, "d_model"),
])
def test_hugging_face_families_by_their_configs_field_names(source, kwargs, width):
    """GPT-2, DistilBERT and T5 name their sizes differently from BERT; each is a family, and a
    width variant keeps the head size (heads follow the width) and the MLP's ratio."""
    b = load_baseline(source, kwargs, InputSpec(seq_len=16))
    assert width in b.values and b.values[width] == 128
    src, _ = b.variant({**b.values, width: 64})
    heads = {"n_embd": "n_head", "dim": "n_heads", "d_model": "num_heads"}[width]
    assert src.kwargs[width] == 64 and src.kwargs[heads] == 2
    assert count_indicator(b, {**b.values, width: 64}, "params") < count_indicator(b, b.values, "params")


def test_t5_depth_scales_encoder_and_decoder_together():
    b = load_baseline("hf:t5", {"d_model": 64, "d_ff": 128, "num_heads": 2, "d_kv": 32, "vocab_size": 100},
                      InputSpec(seq_len=16))
    assert b.values["num_layers"] == (6, 6)  # T5's default: as many decoder layers as encoder layers
    src, _ = b.variant({**b.values, "num_layers": (2, 2)})
    assert (src.kwargs["num_layers"], src.kwargs["num_decoder_layers"]) == (2, 2)


def test_swin_family_keeps_its_head_size_and_window_tiling():
    """Swin-T to Swin-S's 49.6M parameters by width: embed_dim 128, heads (4, 8, 16, 32) at head
    size 32 in every stage; the image side moves in multiples of 224 (patch 4 x window 7 x 2^3)."""
    b = load_baseline("timm:swin_tiny_patch4_window7_224", {}, InputSpec())
    assert b.values == {"depths": (2, 2, 6, 2), "embed_dim": 96, "img_size": 224, "mlp_hidden": 384}
    (width,) = match_counts(b, "params", 49.61e6, ["width"])
    assert width["values"]["embed_dim"] == 128 and width["match"]["within_tolerance"]
    src, spec = b.variant(width["values"])
    assert src.kwargs["num_heads"] == (4, 8, 16, 32) and spec.image_size == (224, 224)
    assert next(k for k in b.family.knobs if k.role == "input").multiple_of == 224


RATIO_FAMILY = """name: ratio MLP
knobs:
  - {name: depth, role: depth, base: 2, min: 1, max: 16}
  - {name: width, role: width, base: 32, min: 16, max: 1000, multiple_of: 16}
  - {name: ratio, role: width, base: 2.0, min: 0.5, max: 4.0, multiple_of: 0.25}
derived:
  heads: width / 16
"""


def ratio_params(depth, width, ratio):
    h = int(width * ratio)
    return 8 * width + width + depth * (2 * width * h + h + width)  # see tiny_models.ratio_mlp


def test_declared_float_knob_derived_argument_and_rounded_max(tmp_path):
    """A float knob in steps of 0.25, max 1000 rounded down to 992 (a multiple of 16), and heads
    worked out from the width for each variant (the factory refuses a width that is not 16 x heads)."""
    f = tmp_path / "ratio.yaml"
    f.write_text(RATIO_FAMILY)
    b = load_baseline("python:tiny_models:ratio_mlp", {}, SPEC, str(f))
    assert b.family.knob("width").maximum == 992 and b.family.knob("ratio").is_float
    src, _ = b.variant({**b.values, "width": 64, "ratio": 2.75})
    assert src.kwargs == {"depth": 2, "width": 64, "ratio": 2.75, "heads": 4}
    assert count_indicator(b, {**b.values, "width": 64, "ratio": 2.75}, "params") == ratio_params(2, 64, 2.75)
    (v,) = match_counts(b, "params", ratio_params(2, 48, 2.0), ["width"])
    assert v["values"] == {"depth": 2, "width": 48, "ratio": 2.0} and v["match"]["rel_error"] == 0


@pytest.mark.parametrize("derived, expected", [
    ("__import__('os').system('true')", "only numbers, knob names"),
    ("width.real", "only numbers, knob names"),
    ("depth2 / 16", "'depth2' is no knob"),
    ("width /", "not an expression"),
])
def test_a_derived_argument_is_arithmetic_only(tmp_path, derived, expected):
    f = tmp_path / "bad.yaml"
    f.write_text(RATIO_FAMILY.replace("width / 16", f'"{derived}"'))
    with pytest.raises(FairnessError, match=expected):
        load_baseline("python:tiny_models:ratio_mlp", {}, SPEC, str(f))


@pytest.mark.parametrize("factory, message", [
    ("fixed_width_mlp", "knob width: width=32 builds the baseline's 1232 parameters, so the argument is ignored: "
                        "the factory fixes width itself; pass it through a python: factory that takes it"),
    ("fixed_depth_mlp", "knob depth: multiple values for keyword argument 'depth': the factory fixes depth itself"),
])
def test_a_knob_the_factory_fixes_is_named_in_one_error(factory, message):
    """MLPStack(4, 16) has 8 x 16 + 16 + 4 x (16 x 16 + 16) = 144 + 1088 = 1232 parameters whatever
    width the factory is given, when it swallows the argument."""
    one_line_exit_2(run("match", "--baseline", f"python:tiny_models:{factory}", "--family", FAMILY, "--inputs",
                        SPEC.factory, "--params", "1e4", "-q"), message)


def test_a_strategy_that_cannot_reach_a_count_target_gives_no_variant(tmp_path):
    """MLPStack(d, w) has 8w + w + d (w^2 + w) parameters: 360 at width 8 and depth 4, while depth
    alone at width 16 starts at 144 + 272 = 416. For 360 the width variant is given, exact; the
    depth strategy gives none, and the results say why, with the end of its reach."""
    out = tmp_path / "m.json"
    r = run("match", "--baseline", MLP, "--family", FAMILY, "--inputs", SPEC.factory, "--params", "360",
            "--strategy", "all", "-q", "--out", str(out))
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    strategies = [m["match"]["strategy"] for m in data["models"] if m["role"] == "variant"]
    assert "width" in strategies and "depth" not in strategies
    width = next(m for m in data["models"] if (m.get("match") or {}).get("strategy") == "width")
    assert width["knobs"] == {"depth": 4, "width": 8} and width["match"]["rel_error"] == 0
    assert data["matching"]["unreachable"]["depth"] == "+15.6% at best (out of reach: this strategy reaches down to 416)"


@pytest.mark.parametrize("kv_heads", [8, 2])
def test_width_scales_the_key_value_heads_with_the_heads(kv_heads):
    """Issue 31: a Llama given -k num_key_value_heads kept that count while width moved the heads,
    and the variant's forward pass failed (4 heads against 8 key-value heads). Width moves in whole
    groups of heads, and the key-value heads keep their ratio to the heads (MHA 1:1, GQA 4:1)."""
    kwargs = {"num_hidden_layers": 2, "hidden_size": 512, "num_attention_heads": 8, "num_key_value_heads": kv_heads,
              "intermediate_size": 1376, "vocab_size": 1000}
    b = load_baseline("hf:llama", kwargs, InputSpec(seq_len=16))
    (v,) = match_counts(b, "params", count_indicator(b, b.values, "params") / 3, ["width"], 0.01, lambda m: None)
    assert "failed" not in v, v.get("failed")  # every candidate built and ran
    src, _ = b.variant(v["values"])
    heads, kv = src.kwargs["num_attention_heads"], src.kwargs["num_key_value_heads"]
    assert heads < 8 and heads == kv * (8 // kv_heads)


def test_a_candidate_the_model_cannot_be_built_at_is_skipped():
    """Issue 31, item 5: RegNetY-4GF at half its FLOPs failed by width, because one candidate left
    fewer than timm's 4 stages. The search now goes around such a candidate. Here width 48, the
    exact match for MLPStack(4, w)'s MACs of 9,600 (8 x 48 + 4 x 48^2), cannot be built: the search
    skips it and keeps the closest of the widths that build (40: 6,720; 56: 12,992), and the record
    says what was skipped. The baseline itself failing is the strategy's failure, with its reason."""
    from fairness.matching import solve_count

    b = load_baseline(MLP, None, SPEC, FAMILY)

    def measure(v, broken=(48,)):
        if v["width"] in broken:
            raise FairnessError(f"width {v['width']}: cannot be built")
        return count_indicator(b, v, "macs")

    skipped = []
    values, achieved, _ = solve_count(b, "width", "macs", 9600, 0.01, measure=measure, unbuildable=skipped)
    assert skipped == ["width 48: cannot be built"]
    assert (values["width"], achieved) == (56, 12992)  # log-closest: 12,992 / 9,600 = 1.35 against 1.43
    with pytest.raises(FairnessError, match="width 16: cannot be built"):
        solve_count(b, "width", "macs", 9600, 0.01, measure=lambda v: measure(v, broken=(16, 48)))


def _search_settings(**kw):
    from fairness.runner import RunSettings
    return RunSettings(device="cpu", dtype="bfloat16", batch_sizes=(4,), min_duration_s=0.02, warmup_s=0.01,
                       min_samples=3, threads=1, idle=False, energy=False, **kw)


def test_the_speed_search_times_models_as_the_final_timing_does(monkeypatch):
    """bfloat16 means native bfloat16 weights and inputs in the final timing (issue 29): the speed
    search's target and every candidate run that way too, and in the layout resolved for them
    (channels_last), or the variant is matched on a speed the report never shows. Before, the
    search timed float32 modules."""
    from fairness import step
    from fairness.matching import device_timer, speed_of
    from fairness.sources import parse_source

    seen = []
    real = step.make_step

    def spy(module, inputs, s, train=False, graph=False):
        seen.append((next(module.parameters()).dtype, inputs.args[0].dtype, graph))
        return real(module, inputs, s, train, graph)

    monkeypatch.setattr(step, "make_step", spy)
    s = _search_settings()
    b = load_baseline(MLP, {}, SPEC, FAMILY)
    target, replay = speed_of(MLP, {"width": 32}, SPEC, "throughput", s, 4)
    assert not replay  # graphs are CUDA's
    timer = device_timer(b, s, "throughput", 4, parse_source(MLP, {"width": 32}), target, tol=0.5)
    timer({"depth": 4, "width": 24})
    assert len(seen) == 3  # the target, the reference of the paired rounds, one candidate
    assert set(seen) == {(torch.bfloat16, torch.bfloat16, False)}
    assert timer.timed_as() == "eager"  # graphs are CUDA's


def test_the_speed_search_keeps_channels_last(monkeypatch):
    from fairness import step
    from fairness.matching import _on_device
    from fairness.runner import measure_rate

    layouts = []
    real = step.make_step

    def spy(module, inputs, s, train=False, graph=False):
        layouts.append(inputs.args[0].is_contiguous(memory_format=torch.channels_last))
        return real(module, inputs, s, train, graph)

    monkeypatch.setattr(step, "make_step", spy)
    src = "python:tiny_models:tiny_conv"
    spec = InputSpec(image_size=(8, 8))
    for cl in (True, False):
        measure_rate(_on_device(parse(src), spec, "cpu", channels_last=cl), _search_settings(), "throughput", 4)
    assert layouts == [True, False]


def parse(text):
    from fairness.sources import parse_source
    return parse_source(text, {})


def test_a_search_meant_to_replay_times_eagerly_what_cannot_be_captured(monkeypatch):
    """Graph replays are what the judgement reads on CUDA, so a search replays too. A model that
    cannot be captured (here: every model, since the CPU has no CUDA graphs) is timed eagerly, the
    search goes on, and its match record says how it was timed and why."""
    from fairness.matching import device_timer
    from fairness.runner import RunSettings
    from fairness.sources import parse_source

    monkeypatch.setattr(RunSettings, "graphs", property(lambda self: True))
    s = _search_settings()
    b = load_baseline(MLP, {}, SPEC, FAMILY)
    timer = device_timer(b, s, "throughput", 4, parse_source(MLP, {"width": 32}), 1e5, tol=0.5)
    seconds, noise = timer({"depth": 4, "width": 24})
    assert seconds > 0 and noise >= 0
    how = timer.timed_as()
    assert how.startswith("eager; 1 model timed eagerly, not captured (") and "capturing the CUDA graph failed" in how
    (v,) = match_speed(b, "throughput", 1e5, ["width"], timer, tol=0.5)
    assert v["match"]["timed_as"].startswith("eager")


@pytest.mark.parametrize("graph_s, replay", [(1.05, True), (1.2, False), (None, False)])
def test_the_search_target_is_read_as_the_judgement_reads_it(monkeypatch, graph_s, replay):
    """speed_of times the target eagerly and replayed; the replay is its speed unless it runs over
    10% slower than eager (the capture ran other kernels: flags.replay_slower) or cannot be captured.
    The search then times its candidates in that mode."""
    from fairness import runner
    from fairness.matching import device_timer, speed_of
    from fairness.runner import GraphUnavailable, RunSettings

    def fake_rate(run, s, indicator, batch, graph=False):
        if not graph:
            return 1.0, 0.01
        if graph_s is None:
            raise GraphUnavailable("cannot be captured")
        return graph_s, 0.01

    monkeypatch.setattr(RunSettings, "graphs", property(lambda self: True))
    monkeypatch.setattr(runner, "measure_rate", fake_rate)
    s = _search_settings()
    target, got = speed_of(MLP, {}, SPEC, "latency", s, 1)
    assert got == replay and target == (graph_s if replay else 1.0)
    b = load_baseline(MLP, {}, SPEC, FAMILY)
    timer = device_timer(b, s, "latency", 1, None, target, tol=0.5, replay=got)
    timer({"depth": 4, "width": 16})
    assert timer.timed_as() == ("CUDA graph replays" if replay else "eager")
