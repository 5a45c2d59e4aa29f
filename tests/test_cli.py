"""The `fairness measure` command: outputs and every bad input answered in one line, exit 2."""

import json

import pytest
import torch

from cli_run import one_line_exit_2, run


def count(*args):
    """Counting only: speed has its own tests (test_runner.py)."""
    return run(*args, "--no-speed")


def test_json_is_a_results_file():
    r = count("measure", "timm:resnet18", "--format", "json", "-q", "--no-fvcore")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert data["schema"] == "fairness/v1"
    (model,) = data["models"]
    assert model["params"]["unique"] == 11_689_512  # torchvision's resnet18 model card
    assert set(model["params"]) >= {"total", "trainable", "unique", "applied", "embedding", "non_embedding",
                                    "active", "bytes"}
    assert set(model["flops"]) >= {"macs", "flops", "other_flops", "coverage", "unknown_ops", "by_op",
                                   "by_module", "engine", "fvcore_macs"}
    assert data["environment"]["torch"]


def test_table_has_units_and_conventions():
    r = count("measure", "timm:resnet18", "-q", "--no-fvcore", "--batch", "2")
    assert r.exit_code == 0
    assert "1.814 G" in r.stdout  # MACs with a prefix
    assert "MiB" in r.stdout
    assert "FLOPs = 2 x MACs + other FLOPs" in r.stdout
    assert "image 2x3x224x224" in r.stdout


def test_csv_one_row_raw_numbers(tmp_path):
    out = tmp_path / "r.json"
    r = count("measure", "timm:resnet18", "--format", "csv", "-q", "--no-fvcore", "--out", str(out))
    header, row = r.stdout.strip().splitlines()
    cols = dict(zip(header.split(","), row.split(",")))
    assert cols["flops.macs"] == "1814073344"
    assert json.loads(out.read_text())["models"][0]["flops"]["macs"] == 1814073344


def test_kwargs_and_python_source():
    r = count("measure", "python:tiny_models:shared_block", "-k", "times=5", "--inputs",
            "python:tiny_models:vector_inputs", "--format", "json", "-q")
    assert r.exit_code == 0, r.output
    model = json.loads(r.stdout)["models"][0]
    assert model["params"]["applied"] == 5 * 20
    assert model["kwargs"] == {"times": 5}


@pytest.mark.parametrize("args, expected", [
    (["measure", "resnet50"], "expected PREFIX:NAME"),
    (["measure", "timm:resnet5"], "closest: resnet50"),
    (["measure", "torchvision:resnet"], "closest:"),
    (["measure", "hf:lama"], "closest: llama"),
    (["measure", "timm:resnet18", "-k", "nonsense=1"], "rejected the arguments"),
    (["measure", "timm:resnet18", "-k", "oops"], "expected KEY=VALUE"),
    (["measure", "hf:bert", "-k", "num_hidden_layer=2"], "closest: num_hidden_layers"),
    (["measure", "timm:vit_tiny_patch16_224", "--image-size", "100"], "forward pass raised"),
    (["measure", "timm:resnet18", "--image-size", "0"], "positive size"),
    (["measure", "timm:resnet18", "--batch", "0"], "positive batch"),
    pytest.param(["measure", "timm:resnet18", "--device", "cuda"], "no CUDA device",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible")),
    (["measure", "python:no_such_module:build"], "cannot import"),
    (["measure", "python:tiny_models:nothing_here"], "unknown name in tiny_models"),
    (["measure", "python:tiny_models:broken_factory"], "building the model failed"),
    # a bare assert says where it stopped (issue 31: RegNetY's width candidates failed silently)
    (["measure", "python:tiny_models:four_stages", "-k", "stages=3"],
     "building the model with {'stages': 3} failed: AssertionError: (no message) at tiny_models.py:"),
    (["measure", "python:tiny_models:shared_block"], "no default input is known"),
    (["measure", "hf:bert", "--seq-len", "4096"], "max_position_embeddings=512"),
    (["measure", "timm:resnet18", "--count-device", "bogus"], "--count-device bogus: expected meta, cpu"),
])
def test_bad_input_one_line_exit_2(args, expected):
    r = run(*args, "-q")
    one_line_exit_2(r, expected)
    assert "Traceback" not in r.output


def test_debug_shows_traceback():
    r = run("--debug", "measure", "timm:resnet5", "-q")
    assert r.exit_code == 2
    assert "Traceback" in r.stderr


def test_help_has_examples():
    r = run("measure", "--help")
    assert "Examples:" in r.stdout and "hf:llama" in r.stdout


def test_one_model_with_an_uncounted_op_is_flagged(tmp_path):
    """Measuring one model has nothing to compare, but FLOPs that are a lower bound are still said."""
    out = tmp_path / "r.json"
    r = run("measure", "python:tiny_models:determinant", "--inputs", "python:tiny_models:square_inputs",
            "--no-speed", "--no-fvcore", "--out", str(out), "-q")
    assert r.exit_code == 0, r.output
    assert "[warn] incomplete-count" in r.stdout and "lower bound" in r.stdout
    assert [f["id"] for f in json.loads(out.read_text())["flags"]] == ["incomplete-count"]


def test_python_dash_m_fairness_is_the_command_line():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "fairness", "gallery", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: fairness gallery") and "--template-dir" in proc.stdout


def test_a_config_key_the_model_reads_is_passed_on():
    """Issue 31: DeBERTa-v2's config takes position_buckets, norm_rel_ebd and share_att_key through
    **kwargs, and its model reads them; they were refused as unknown. A misspelt one still is."""
    r = run("measure", "hf:deberta-v2", "-k", "num_hidden_layers=1", "-k", "position_buckets=64",
            "-k", "share_att_key=false", "--no-speed", "--format", "json", "-q")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["models"][0]["kwargs"]["position_buckets"] == 64
    one_line_exit_2(run("measure", "hf:deberta-v2", "-k", "position_bucket=64", "-q"), "closest: position_buckets")
