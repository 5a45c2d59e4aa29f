"""Built-in families beyond ViT, ResNet, ConvNeXt and Swin: each scales a model as its library
does (golden counts of the library's own scaled models), rebuilds from the source recorded
with the variant, and matches half and double the baseline's parameters and FLOPs within 1%
with every strategy that can reach them, on small models counted on meta."""

import pytest
import torch

from fairness import FairnessError
from fairness.families import Knob
from fairness.matching import STRATEGIES, count_indicator, load_baseline, match_counts, unreachable, values_at
from fairness.results import to_plain
from fairness.sources import InputSpec, build, parse_source

MBCONV = "python:fairness.families.timm_mbconv:build"


def params_of(model) -> int:
    return sum(p.numel() for p in model.parameters())


def match_table(source, kwargs=None, spec=InputSpec()):
    """{(indicator, factor, strategy): (rel_error or 'skipped', why)} for half and double the
    baseline's parameters and FLOPs, every strategy."""
    b = load_baseline(source, kwargs or {}, spec)
    out = {}
    for indicator in ("params", "flops"):
        base = count_indicator(b, b.values, indicator)
        for factor in (0.5, 2.0):
            for v in match_counts(b, indicator, base * factor, list(STRATEGIES)):
                key = (indicator, factor, v["strategy"])
                if "values" not in v:
                    out[key] = ("skipped", v.get("skipped") or v.get("failed"))
                elif unreachable(indicator, v["match"]):
                    out[key] = ("out of reach", v["match"]["reason"])
                else:
                    out[key] = (v["match"]["rel_error"], v["values"])
    return out


def assert_within_1_percent(table, expected_misses):
    """Every strategy within 1%, except the input strategy on parameters (skipped) and the
    misses named, each with what it is."""
    for key, (got, why) in table.items():
        if key in expected_misses:
            assert got == expected_misses[key] or (expected_misses[key] == "closest" and abs(got) > 0.01), (key, got, why)
        elif key[0] == "params" and key[2] == "input":
            assert got == "skipped", (key, got)
        else:
            assert isinstance(got, float) and abs(got) <= 0.01, (key, got, why)


# --- float knobs ---------------------------------------------------------------------------


def test_a_float_knob_lives_on_its_step():
    """A multiplier in steps of 0.05: 0.5^0.5 = 0.7071 snaps to 0.7 (not 0.7000000000000001),
    one step up is 0.75; 0.72 is off the lattice and the error says so."""
    k = Knob("channel_multiplier", "width", multiple_of=0.05, minimum=0.1, maximum=2.0, flops_power=2)
    assert k.snap(0.5 ** 0.5) == 0.7 and k.step(0.7, 1) == 0.75 and k.step(0.7, -3) == 0.55
    assert k.snap(0.01) == 0.1 and k.snap(3.0) == 2.0 and k.scale(1.0, 0.25) == 0.25
    k.check(0.7, "f")
    with pytest.raises(FairnessError, match=r"channel_multiplier=0.72: off the lattice; expected numbers in "
                                            r"\[0.1, 2.0\] that are multiples of 0.05"):
        k.check(0.72, "f")


def test_integer_knobs_are_unchanged():
    k = Knob("width", "width", multiple_of=8, minimum=8, maximum=64)
    assert k.snap(13) == 16 and k.snap(1) == 8 and k.snap(1000) == 64 and k.step(16, -1) == 8
    assert isinstance(k.snap(13.0), int)
    with pytest.raises(FairnessError, match="expected integers"):
        k.check(12, "f")
    with pytest.raises(FairnessError, match="expected integers"):
        k.check(16.0, "f")  # a float is not an integer knob's value


# --- timm EfficientNet and MobileNetV3 -------------------------------------------------------


def test_timm_entry_points_fix_their_multipliers():
    """Why the family builds through a factory: efficientnet_b0() passes channel_multiplier to
    its generator itself, so a second one is refused."""
    import timm

    with torch.device("meta"), pytest.raises(TypeError, match="channel_multiplier"):
        timm.create_model("efficientnet_b0", channel_multiplier=0.5)


@pytest.mark.parametrize("baseline, target, multipliers, params", [
    # EfficientNet-B4 is B0 at width 1.4, depth 1.8 (Tan and Le 2019, table in timm's _gen_efficientnet);
    # 19,341,616 parameters: timm's efficientnet_b4 (its model card: 19.3M).
    ("efficientnet_b0", "efficientnet_b4", (1.4, 1.8), 19_341_616),
    # MobileNetV3-Large 0.75 (Howard et al. 2019): 3,993,528 parameters, timm's mobilenetv3_large_075
    # (its model card: 4.0M); the head keeps its 1280 features at every multiplier.
    ("mobilenetv3_large_100", "mobilenetv3_large_075", (0.75, 1.0), 3_993_528),
])
def test_a_scaled_variant_is_timms_own_scaled_model(baseline, target, multipliers, params):
    """The width strategy's point at the published multiplier, its stage widths rounded as timm
    rounds them, is the published model, and its recorded source rebuilds it."""
    import timm

    b = load_baseline(f"timm:{baseline}", {}, InputSpec())
    values = {**values_at(b, {"width": 1.0}, multipliers[0] ** 2), "depth_multiplier": multipliers[1]}
    src, _ = b.variant(values)
    assert src.text == MBCONV and src.kwargs["entry"] == baseline
    rebuilt = parse_source(src.text, to_plain(src.kwargs))  # as the results file keeps it: lists, not tuples
    with torch.device("meta"):
        assert params_of(build(rebuilt)) == params_of(timm.create_model(target)) == params


def test_the_baseline_rebuilt_through_the_factory_is_the_baseline():
    b = load_baseline("timm:mobilenetv3_small_050", {"num_classes": 10}, InputSpec())
    assert b.values["channel_multiplier"] == 0.5 and b.values["num_features"] == 1024
    import timm

    with torch.device("meta"):
        own = params_of(timm.create_model("mobilenetv3_small_050", num_classes=10))
    assert count_indicator(b, b.values, "params") == own


def test_a_generator_without_a_depth_multiplier_gets_a_width_knob_only():
    """MNASNet's generator takes channel_multiplier only: the family has no depth knob, and the
    depth strategy says so."""
    b = load_baseline("timm:mnasnet_100", {}, InputSpec())
    assert "depth_multiplier" not in b.values and b.values["channel_multiplier"] == 1.0
    (v,) = match_counts(b, "params", 3e6, ["depth"])
    assert "no depth knob" in v["skipped"]


def test_an_efficientnet_from_another_factory_is_not_guessed():
    with pytest.raises(FairnessError, match="no known scalable family for timm.models.efficientnet.EfficientNet"):
        load_baseline("python:timm:create_model", {"model_name": "efficientnet_b0"}, InputSpec())


def test_efficientnet_matches_within_1_percent():
    """timm's test_efficientnet at width 2 (5 stages of one block each, 32 to 128 channels).
    Its one-block stages make depth coarse: no fewer blocks than one a stage (half is out of
    reach), and any depth multiplier over 1 doubles every stage at once; at 160 px, the image
    side's steps of 32 give 64% or 36% of the FLOPs, not 50%."""
    table = match_table(MBCONV, {"entry": "test_efficientnet", "channel_multiplier": 2.0})
    assert_within_1_percent(table, {
        ("params", 0.5, "depth"): "out of reach", ("flops", 0.5, "depth"): "out of reach",
        ("flops", 2.0, "depth"): "closest", ("flops", 2.0, "compound"): "closest",
        ("flops", 0.5, "input"): "closest"})


def test_mobilenetv3_matches_within_1_percent():
    """timm's tf_mobilenetv3_small_minimal_100: every strategy within 1%, except depth to half,
    out of reach (one block a stage keeps over half of either count)."""
    table = match_table("timm:tf_mobilenetv3_small_minimal_100")
    assert_within_1_percent(table, {("params", 0.5, "depth"): "out of reach", ("flops", 0.5, "depth"): "out of reach"})
