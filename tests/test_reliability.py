"""Reliability: property-based tests over the two parsers users feed by hand (compare configs
and claims files), and the security guarantees (safe YAML only, no eval/exec/shell on user
input, no network at run time)."""

import ast
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fairness import FairnessError
from fairness.audit import load_claims
from fairness.compare import load_config
from cli_run import one_line_exit_2, run

PACKAGE = Path(__file__).parent.parent / "fairness"

# YAML documents that look like configs and claims: the right keys with wrong values, wrong
# keys, wrong nesting, odd scalars. Every one must give a result or a FairnessError.
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                    st.text(max_size=30), st.sampled_from(["86M", "4.1 GMACs", "3 ms", "img/s", "-1", "1e309",
                                                           "timm:resnet18", "hf:bert", "python:x:y", "params"]))
keys = st.sampled_from(["name", "proposed", "baseline", "match", "strategies", "measure", "family", "source",
                        "kwargs", "quality", "claim", "models", "params", "flops", "macs", "throughput", "latency",
                        "value", "unit", "device", "batch_size", "dtype", "role", "depth", "seq_len", "speed", "x"])
documents = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                           st.dictionaries(keys, inner, max_size=6)), max_leaves=25)


def _parses_or_refuses(loader, doc, tmp_path_factory):
    path = tmp_path_factory.mktemp("doc") / "f.yaml"
    path.write_text(yaml.safe_dump(doc) if not isinstance(doc, str) else doc)
    try:
        loader(str(path))
    except FairnessError as e:
        assert e.message and "\n" not in e.message.strip()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents)
def test_config_parser_never_raises_anything_but_fairness_error(doc, tmp_path_factory):
    _parses_or_refuses(load_config, doc, tmp_path_factory)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents)
def test_claims_parser_never_raises_anything_but_fairness_error(doc, tmp_path_factory):
    _parses_or_refuses(load_claims, doc, tmp_path_factory)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_any_text_file_is_answered(text, tmp_path_factory):
    _parses_or_refuses(load_claims, text, tmp_path_factory)
    _parses_or_refuses(load_config, text, tmp_path_factory)


def test_yaml_is_only_ever_safe_loaded_and_nothing_is_evaluated():
    """No yaml.load/unsafe_load/full_load, eval, exec, os.system or shell=True anywhere in the package."""
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                owner = getattr(getattr(f, "value", None), "id", "")
                assert not (owner == "yaml" and name in ("load", "unsafe_load", "full_load", "load_all")), path
                assert name not in ("eval", "exec") or owner not in ("", "builtins"), path
                assert not (owner == "os" and name in ("system", "popen")), path
                assert all(not (k.arg == "shell" and getattr(k.value, "value", False) is True)
                           for k in node.keywords), path


def test_demo_opens_no_socket(tmp_path):
    """`fairness demo` in a process where opening any socket raises: it completes."""
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(
        "import socket\n"
        "def _refuse(*a, **k):\n"
        "    raise RuntimeError('fairness opened a socket')\n"
        "socket.socket.connect = _refuse\n"
        "socket.socket.connect_ex = _refuse\n"
        "socket.create_connection = _refuse\n"
        "socket.getaddrinfo = _refuse\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(guard)] + sys.path), HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "fairness.cli", "demo", "--out", str(tmp_path / "out"), "-q",
                           "--device", "cpu"], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode in (0, 3), proc.stderr[-3000:]
    assert "opened a socket" not in proc.stderr
    assert (tmp_path / "out" / "report.html").stat().st_size > 0


RESUME_CONFIG = """
name: resume
proposed: {{name: wide, source: "python:tiny_models:mlp_stack", kwargs: {{width: 32}}}}
baseline: {{name: base, source: "python:tiny_models:mlp_stack"}}
family: {family}
match: [params, flops]
strategies: [width, depth]
measure: {{speed: true, device: cpu, min_time: 0.3, inputs: "python:tiny_models:mlp_inputs"}}
"""


def _counts(folder: Path) -> dict:
    res = json.loads((folder / "results.json").read_text())
    return {m["name"]: (m["params"], m["flops"]["macs"], m["flops"]["flops"], m["flops"]["by_op"], m["activations"],
                        m["memory"]["bytes_moved"], m.get("knobs"), (m.get("match") or {}).get("achieved"))
            for m in res["models"]}


def _cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parent)] + sys.path))
    # A shell's background job (`make test &`) starts with SIGINT ignored, and Python then leaves
    # it ignored: the child gets Ctrl-C's default back, as it has at a terminal.
    return subprocess.Popen([sys.executable, "-m", "fairness.cli", "compare", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    """The counts of RESUME_CONFIG's comparison run to the end: what both interruptions resume to."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    cfg = folder / "c.yaml"
    cfg.write_text(RESUME_CONFIG.format(family=Path(__file__).parent.parent / "examples" / "family.yaml"))
    whole = _cli(str(cfg), "--out", str(folder / "whole"), "-q", cwd=folder)
    assert whole.wait(timeout=300) == 0, whole.stderr.read()
    return _counts(folder / "whole")


@pytest.mark.parametrize("sig", ["SIGINT", "SIGKILL"])
def test_interrupted_compare_resumes_to_the_same_counts(tmp_path, sig, uninterrupted):
    """Stop a comparison once its counts and searches are stored (SIGINT: Ctrl-C; SIGKILL: an
    out-of-memory kill), resume it, and get every count of an uninterrupted run."""
    import time

    cfg = tmp_path / "c.yaml"
    cfg.write_text(RESUME_CONFIG.format(family=Path(__file__).parent.parent / "examples" / "family.yaml"))
    part = _cli(str(cfg), "--out", str(tmp_path / "part"), "-q", cwd=tmp_path)
    cache = tmp_path / "part" / ".fairness-cache"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(cache.glob("*.json"))) < 4:  # 2 counts + 2 searches stored
        time.sleep(0.05)
    part.send_signal(getattr(signal, sig))
    code = part.wait(timeout=60)
    assert code == (130 if sig == "SIGINT" else -9)
    assert not (tmp_path / "part" / "results.json").exists()  # stopped before the end
    entries = list(cache.glob("*.json"))
    assert len(entries) >= 4
    for entry in entries:  # atomic: every entry that exists is whole (a kill may leave a .tmp, never a part)
        assert "value" in json.loads(entry.read_text())
    if sig == "SIGINT":
        assert not list(cache.glob(".*.tmp"))  # Ctrl-C cleans up after itself

    resumed = _cli(str(cfg), "--out", str(tmp_path / "part"), "--resume", cwd=tmp_path)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    reused = int(re.search(r"resumed: (\d+) measurements reused", err).group(1))
    assert reused >= 4
    assert _counts(tmp_path / "part") == uninterrupted


# --- the catalogue of bad inputs not covered elsewhere ---------------------------------------------


def test_truncated_results_file(tmp_path):
    path = tmp_path / "results.json"
    path.write_text('{"schema": "fairness/v1", "models": [{"id": "a", "na')
    one_line_exit_2(run("render", str(path)), "truncated?")


def test_python_factory_that_fails_on_import(tmp_path, monkeypatch):
    (tmp_path / "broken_on_import.py").write_text("raise RuntimeError('this module cannot be imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    one_line_exit_2(run("measure", "python:broken_on_import:build", "--no-speed", "-q"),
                     "importing 'broken_on_import' failed: RuntimeError")


def test_a_10_mb_model_name(tmp_path):
    claims = tmp_path / "c.yaml"
    claims.write_text(yaml.safe_dump({"claim": "x", "models": [{"name": "n" * 10_000_000, "params": 1e6},
                                                               {"name": "b", "params": 2e6}]}))
    one_line_exit_2(run("audit", str(claims)), "at most 200")


def test_zero_and_negative_sizes():
    one_line_exit_2(run("measure", "timm:resnet18", "--image-size", "0", "--no-speed", "-q"), "--image-size")
    one_line_exit_2(run("measure", "hf:bert", "--seq-len", "-3", "--no-speed", "-q"), "--seq-len")
    one_line_exit_2(run("measure", "timm:resnet18", "--batch", "-2", "-q"), "--batch")


def test_an_output_path_that_cannot_be_written(tmp_path):
    """Refused before anything is measured. A file in the way stands in for a folder without
    write permission (the tests may run as root, for whom permissions do not hold)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    one_line_exit_2(run("measure", "python:tiny_models:mlp_stack", "--inputs", "python:tiny_models:mlp_inputs",
                          "--no-speed", "--out", str(blocker / "r.json"), "-q"), "cannot write into")
    one_line_exit_2(run("compare", "--proposed", "python:tiny_models:mlp_stack", "--baseline",
                          "python:tiny_models:mlp_stack", "--inputs", "python:tiny_models:mlp_inputs", "--no-speed",
                          "--out", str(blocker / "sub"), "-q"), "cannot write into")


def test_measure_resume_reuses_counts_and_timing(tmp_path):
    """measure keeps each count and the timing beside --out; --resume reads them back, so the
    second run's numbers are the first run's, timings included."""
    out = tmp_path / "r.json"
    args = ["measure", "python:tiny_models:mlp_stack", "python:tiny_models:fragile_mlp", "--inputs",
            "python:tiny_models:mlp_inputs", "--device", "cpu", "--min-time", "0.05", "--no-fvcore",
            "--out", str(out)]
    first = run(*args)
    assert first.exit_code == 0, first.output
    before = json.loads(out.read_text())
    again = run(*args, "--resume")
    assert again.exit_code == 0, again.output
    assert "resumed: 3 measurements reused" in again.stderr  # two counts and the group's timing
    after = json.loads(out.read_text())
    assert after["models"] == before["models"]
    assert after["speed_ratios"] == before["speed_ratios"]
    one_line_exit_2(run(*args[:-2], "--resume"), "--resume: give the --out")
