"""`--isolate`: each model timed in a worker process of its own, still interleaved.

On the CPU with tiny models: the records have the same structure as in-process ones, the
workers are gone afterwards, a model that prints cannot break the protocol, and a worker
that cannot build its model or dies mid-timing (SIGKILL) fails alone, with the reason.
No test asserts a time.
"""

import json

import pytest
import torch

from fairness import FairnessError, isolate
from fairness.measure import Target, measure_models
from fairness.runner import RunSettings
from cli_run import run

INPUTS = "python:tiny_models:mlp_inputs"  # [batch, 8]
FAST = dict(device="cpu", min_duration_s=0.05, warmup_s=0.01, threads=1, isolate=True)


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def workers_seen(monkeypatch):
    """Every Worker started during the test, to check that none is left running."""
    seen = []
    original = isolate.Worker.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        seen.append(self)

    monkeypatch.setattr(isolate.Worker, "__init__", init)
    return seen


def _measure(*sources, batch=(1, 4)):
    return measure_models([Target(s, name=s.split(":")[-1]) for s in sources], input_factory=INPUTS,
                          fvcore=False, speed=RunSettings(batch_sizes=batch, **FAST))


def test_isolated_records_are_complete_and_the_workers_are_gone(workers_seen):
    res = _measure("python:tiny_models:mlp_stack", "python:tiny_models:fragile_mlp")
    assert len(workers_seen) == 2 and len({w.pid for w in workers_seen}) == 2
    assert all(w._proc.returncode is not None for w in workers_seen)  # closed, not left behind
    for m in res["models"]:
        sp = m.speed
        assert sp.settings["isolate"] is True and sp.errors == []
        assert [r["batch_size"] for r in sp.runs] == [1, 4]
        assert sp.throughput["n"] >= 10 and sp.latency["n"] >= 10
        assert m.memory["peak_bytes"] > 0  # the CPU peak of a fresh process, as without --isolate
    ratios = {(r["indicator"], r["batch_size"]) for r in res["speed_ratios"]}
    # latency is timed call by call at batch 1; at batch 4 it is read from the throughput blocks
    assert ratios == {("throughput", 1), ("latency", 1), ("throughput", 4)}
    assert all(r["ci95"][0] <= r["speedup"] <= r["ci95"][1] for r in res["speed_ratios"])


def test_the_report_says_the_models_were_isolated():
    from fairness.render.report import html_text

    res = _measure("python:tiny_models:mlp_stack", batch=(1,))
    assert "each in a worker process of its own (--isolate)" in html_text(res)
    m = res["models"][0]
    res["models"][0] = m.with_(speed=m.speed.with_(settings={**m.speed.settings, "isolate": False}))
    assert "worker process" not in html_text(res)


def test_a_model_that_prints_does_not_break_the_protocol():
    res = _measure("python:tiny_models:chatty_mlp", batch=(1,))
    assert res["models"][0].speed.errors == []
    assert res["models"][0].speed.throughput["samples_per_s"] > 0


def test_a_worker_killed_mid_timing_fails_alone(workers_seen):
    """SIGKILL in the middle of the timing (the out-of-memory killer's way): that model is
    recorded as failed with the worker's exit; the other is timed to the end."""
    res = _measure("python:tiny_models:mlp_stack", "python:tiny_models:dies_in_worker", batch=(1,))
    ok, dead = res["models"]
    assert ok.speed.errors == [] and ok.speed.throughput["n"] >= 10
    assert len(dead.speed.errors) == 1
    assert "ended (exit -9)" in dead.speed.errors[0]
    assert dead.speed.throughput is None
    assert res["speed_ratios"] == []  # no ratio to a model that was not timed
    assert all(w._proc.returncode is not None for w in workers_seen)


def test_a_model_its_worker_cannot_build_fails_alone():
    res = _measure("python:tiny_models:unbuildable_in_worker", "python:tiny_models:mlp_stack", batch=(1,))
    bad, ok = res["models"]
    assert len(bad.speed.errors) == 1
    assert "its worker process could not build it" in bad.speed.errors[0]
    assert "RuntimeError: cannot build in a worker" in bad.speed.errors[0]
    assert ok.speed.errors == [] and ok.speed.throughput["n"] >= 10


def test_a_module_object_cannot_be_isolated():
    with pytest.raises(FairnessError, match=r"--isolate: .* Python object.*--no-isolate"):
        measure_models([Target(torch.nn.Linear(8, 8), inputs=torch.randn(1, 8), name="lin")], fvcore=False,
                       speed=RunSettings(**FAST))


def test_cli_isolate_flag(tmp_path):
    out = tmp_path / "r.json"
    args = ["measure", "python:tiny_models:mlp_stack", "--inputs", INPUTS, "--device", "cpu", "--min-time", "0.05",
            "--no-fvcore", "--out", str(out), "-q"]
    r = run(*args, "--isolate")
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["models"][0]["speed"]["settings"]["isolate"] is True
    assert "in a worker process of its own (--isolate)" in r.output  # the speed table says how it was timed
    # off by default: it costs more than the 20% the issue allowed (benchmarks/RESULTS.md)
    r = run(*args)
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["models"][0]["speed"]["settings"]["isolate"] is False
    assert "isolate" in run("compare", "--help").output


def test_the_step_is_a_leaf_and_a_worker_answers_its_protocol():
    """step.py (settings, the step, Prepared) imports no orchestration; the worker and the peak-memory
    child import the step, never the runner: the runner <-> isolate <-> memory cycle is gone. A
    worker's prepared model answers every call of the PreparedModel protocol."""
    import ast
    import inspect
    from pathlib import Path

    from fairness import isolate, step

    def imports(module: str) -> set[str]:
        tree = ast.parse((Path(step.__file__).parent / module).read_text())
        found = set()
        for node in ast.walk(tree):  # lazy imports inside functions too
            if isinstance(node, ast.ImportFrom):
                found |= {node.module or ""} | {a.name for a in node.names}
        return {name.split(".")[-1] for name in found}

    assert not imports("step.py") & {"runner", "isolate", "memory"}
    assert not imports("isolate.py") & {"runner", "memory"}
    assert not imports("indicators/memory.py") & {"runner", "isolate"}
    calls = {n for n, v in vars(step.PreparedModel).items() if inspect.isfunction(v) and not n.startswith("_")}
    assert calls == {"warmup", "rewarm", "block", "singles", "cuda_memory", "idle", "energy", "gpu_state",
                     "sustained"}
    for impl in (step.Prepared, isolate.RemotePrepared):
        assert all(callable(getattr(impl, c, None)) for c in calls), impl
