"""The generic timm family (issue 31, item 10): any timm model no specific family knows is scaled
by its constructor's own depth and width arguments, read from what its entry point passes to
timm's builder and checked by building the model on meta. Counts are timm's own
(sum(p.numel()) of timm.create_model with the same arguments) or worked out from one block."""

import warnings

import pytest
import torch

from fairness import FairnessError
from fairness.families import NoFamily
from fairness.families.timm_generic import constructor_arguments
from fairness.matching import count_indicator, load_baseline, match_counts
from fairness.sources import InputSpec, build, parse_source

warnings.filterwarnings("ignore", category=UserWarning)  # timm's meta-device init warnings


def timm_params(name, **kwargs) -> int:
    import timm

    with torch.device("meta"):
        return sum(p.numel() for p in timm.create_model(name, **kwargs).parameters())


def test_the_arguments_are_the_ones_the_entry_point_passes():
    """eva02_tiny passes dict(depth=12, embed_dim=192, num_heads=3, ...) merged with the caller's;
    maxvit_tiny_tf passes a MaxxVitCfg, whose fields are its sizes."""
    cls, args = constructor_arguments("eva02_tiny_patch14_224", {"depth": 6})
    assert cls.__name__ == "Eva" and (args["depth"], args["embed_dim"], args["num_heads"]) == (6, 192, 3)
    cls, args = constructor_arguments("maxvit_tiny_tf_224", {})
    assert cls.__name__ == "MaxxVit" and args["depths"] == (2, 2, 5, 2) and args["embed_dim"] == (64, 128, 256, 512)


def test_the_depth_knob_removes_whole_blocks():
    """EVA02-Ti at depth 6 has the baseline's parameters less six blocks, each of them the size
    of the built model's first block, and is timm's own eva02_tiny at depth=6."""
    b = load_baseline("timm:eva02_tiny_patch14_224", {}, InputSpec())
    assert b.family.name == "timm Eva (generic)"
    assert b.values == {"depth": 12, "embed_dim": 192, "img_size": 224, "mlp_ratio": pytest.approx(8 / 3)}
    block = sum(p.numel() for p in build(b.src, "meta").blocks[0].parameters())
    half = count_indicator(b, {**b.values, "depth": 6}, "params")
    assert half == count_indicator(b, b.values, "params") - 6 * block
    assert half == timm_params("eva02_tiny_patch14_224", depth=6)


def test_width_keeps_the_heads_and_moves_in_their_multiples():
    """num_heads=3 is kept, so embed_dim moves in multiples of 3 heads x 8: 216 is 3 heads of 72."""
    b = load_baseline("timm:eva02_tiny_patch14_224", {}, InputSpec())
    assert b.family.knob("embed_dim").multiple_of == 24
    kwargs, inputs = b.family.to_kwargs({**b.values, "embed_dim": 216})
    assert kwargs["embed_dim"] == 216 and "num_heads" not in kwargs and inputs == {"image_size": (224, 224)}
    with pytest.raises(FairnessError, match="multiples of 24"):
        b.family.check({**b.values, "embed_dim": 200})


def test_levit_keeps_its_head_size_where_no_step_keeps_its_heads():
    """LeViT-128's widths (128, 256, 384) over (4, 8, 12) heads: no multiple of lcm(4, 8, 12) = 24
    divides 128, so the head size 32 is kept and the heads follow the width."""
    b = load_baseline("timm:levit_128", {}, InputSpec())
    kwargs, _ = b.family.to_kwargs({**b.values, "embed_dim": (64, 128, 192)})
    assert kwargs["num_heads"] == (2, 4, 6)
    assert count_indicator(b, {**b.values, "embed_dim": (64, 128, 192)}, "params") == timm_params(
        "levit_128", embed_dim=(64, 128, 192), num_heads=(2, 4, 6))


def test_fastvit_widths_keep_their_multiples_of_the_first_stage():
    """FastViT downsamples with convolutions grouped by the stage before, so each stage's width
    is a multiple of the one before: the first stage's width is the knob, the others follow."""
    b = load_baseline("timm:fastvit_t8", {}, InputSpec())
    kwargs, _ = b.family.to_kwargs({**b.values, "embed_dims[0]": 64})
    assert kwargs["embed_dims"] == (64, 128, 256, 512)
    assert count_indicator(b, {**b.values, "embed_dims[0]": 64}, "params") == timm_params(
        "fastvit_t8", embed_dims=(64, 128, 256, 512))


@pytest.mark.parametrize("source", ["timm:hiera_tiny_224", "timm:mambaout_femto"])
def test_half_the_parameters_within_1_percent(source):
    b = load_baseline(source, {}, InputSpec())
    target = count_indicator(b, b.values, "params") / 2
    for v in match_counts(b, "params", target, ["width", "depth", "compound"]):
        assert abs(v["match"]["rel_error"]) <= 0.01, v
        assert timm_params(source.split(":")[1], **b.variant(v["values"])[0].kwargs) == v["match"]["achieved"]


def test_specific_families_still_win():
    assert load_baseline("timm:vit_tiny_patch16_224", {}, InputSpec()).family.name == "timm VisionTransformer"


def test_a_model_without_size_arguments_is_refused_with_its_arguments():
    """DenseNet sizes itself by block_config and growth_rate: none of the names the family reads."""
    with pytest.raises(NoFamily, match=r"timm:densenet121 \(timm.models.densenet.DenseNet\): its constructor takes "
                                       r"none of depths, .*\(its arguments: block_config, growth_rate\); declare"):
        load_baseline("timm:densenet121", {}, InputSpec())


def test_a_model_known_to_have_no_family_says_why():
    with pytest.raises(NoFamily, match="torchvision:swin_t: no family for .*SwinTransformer: torchvision's swin_t"):
        load_baseline("torchvision:swin_t", {}, InputSpec())


def test_a_yaml_input_knob_under_the_models_own_name_sets_the_model_and_the_input(tmp_path):
    """Issue 31: named img_size, EVA02's input knob failed ("Input height (224) doesn't match model
    (448)"): it set the kwarg but not the input. Now it sets both, and FLOPs grow with the side."""
    spec = tmp_path / "eva.yaml"
    spec.write_text("name: EVA02 by hand\nknobs:\n"
                    "  - {name: depth, role: depth, base: 12, min: 1, max: 24}\n"
                    "  - {name: img_size, role: input, base: 224, min: 112, max: 448, multiple_of: 14}\n")
    b = load_baseline("timm:eva02_tiny_patch14_224", {}, InputSpec(), str(spec))
    src, inputs = b.variant({"depth": 12, "img_size": 448})
    assert src.kwargs == {"depth": 12, "img_size": 448} and inputs.image_size == (448, 448)
    assert b.family.knob("img_size").flops_power == 2
    assert count_indicator(b, {"depth": 12, "img_size": 448}, "flops") > 3.9 * count_indicator(b, b.values, "flops")


def test_a_yaml_input_knob_names_a_known_input(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("knobs:\n  - {name: img_size, role: input, base: 224, input: pixels}\n")
    with pytest.raises(FairnessError, match="knob img_size: input: 'pixels'; expected one of image_size, seq_len"):
        load_baseline("timm:eva02_tiny_patch14_224", {}, InputSpec(), str(spec))


def test_the_source_records_rebuild_the_variant():
    """A variant's source is timm:NAME with its arguments: building it gives the counted model."""
    b = load_baseline("timm:mambaout_femto", {}, InputSpec())
    values = {**b.values, "depths": (2, 2, 6, 2), "dims": (40, 80, 160, 240)}
    src, _ = b.variant(values)
    assert src.text == "timm:mambaout_femto"
    assert sum(p.numel() for p in build(parse_source(src.text, src.kwargs), "meta").parameters()) == \
        count_indicator(b, values, "params")
