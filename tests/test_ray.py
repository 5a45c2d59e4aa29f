"""`fairness zoo --executor ray` on a local Ray cluster of two CPUs (the tiny zoo of test_zoo.py).

Ray counts the same numbers as the local executor; a task whose worker is killed is retried once
and then fails its own model alone; a driver killed part-way loses nothing that was finished, and
`--resume` measures only what is missing.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'fairness[ray]' to run the "
                                        "--executor ray tests")

from cli_run import run  # noqa: E402
from test_zoo import ZOO  # noqa: E402

TESTS = Path(__file__).parent


@pytest.fixture(scope="module")
def cluster():
    """One local cluster for the module (starting one takes seconds). Its workers find
    tests/tiny_models.py, and FAIRNESS_TEST_RAY_WORKER marks them as Ray's. No GPU, even where
    one is visible: these are the CPU tests."""
    env = {"PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path]), "FAIRNESS_TEST_RAY_WORKER": "1"}
    ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def _zoo(tmp_path, text, name="zoo.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _counts(folder):
    res = json.loads((folder / "results.json").read_text())
    return {m["name"]: (m["params"]["unique"], m["flops"]["macs"], m["flops"]["flops"]) for m in res["models"]
            if not m.get("failed")}, res


def test_ray_counts_as_local(tmp_path, cluster, monkeypatch):
    """--out relative to here: the workers, which run elsewhere, keep their counts in it all the same."""
    path = _zoo(tmp_path, ZOO)
    monkeypatch.chdir(tmp_path)
    here = run("zoo", path, "--out", "local", "-q")
    there = run("zoo", path, "--out", "ray", "--executor", "ray", "-q")
    assert here.exit_code == 0 and there.exit_code == 0, here.output + there.output
    (local, _), (on_ray, res) = _counts(tmp_path / "local"), _counts(tmp_path / "ray")
    assert on_ray == local and local["A"][:2] == (144, 576)  # as counted by hand in test_zoo.py
    assert res["zoo"]["executor"]["name"] == "ray"
    assert res["zoo"]["fronts"] == json.loads((tmp_path / "local" / "results.json").read_text())["zoo"]["fronts"]
    assert len(list((tmp_path / "ray" / ".fairness-cache").glob("*.json"))) == 3


def test_a_killed_worker_fails_its_model_alone(tmp_path, cluster):
    """K's worker is killed as it builds K: Ray runs the task once more (max_retries=1: two
    process ids in the trace), then K is failed with the reason and A, B, C are counted."""
    trace = tmp_path / "trace"
    text = ZOO.replace("measure:", f'  - {{name: K, source: "python:tiny_models:killed_in_ray_worker", '
                                   f'kwargs: {{trace: "{trace}"}}, quality: {{acc: 50}}}}\nmeasure:')
    r = run("zoo", _zoo(tmp_path, text), "--out", str(tmp_path / "out"), "--executor", "ray")
    assert r.exit_code == 3, r.output
    counts, res = _counts(tmp_path / "out")
    assert counts["A"][:2] == (144, 576) and counts["B"][:2] == (216, 192) and counts["C"][:2] == (360, 320)
    (k,) = [m for m in res["models"] if m["name"] == "K"]
    assert "WorkerCrashedError" in k["failed"], k["failed"]
    assert len(set(trace.read_text().split())) == 2
    assert "[4/4]" in r.output and "count K failed: WorkerCrashedError" in r.output


def test_resume_after_the_driver_is_killed(tmp_path, cluster):
    """The driver runs in its own process and is killed (SIGKILL) once the three counts are in the
    cache folder, while the timing groups run. Whatever it had finished is on disk; --resume
    reuses exactly that and measures the rest: five measurements in all (three counts, two groups)."""
    text = ZOO.replace("speed: false", "speed: true, min_time: 0.5, batch: [2]") + "group_size: 2\n"
    path, out = _zoo(tmp_path, text), tmp_path / "out"
    cache = out / ".fairness-cache"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path])}
    driver = subprocess.Popen([sys.executable, "-m", "fairness.cli", "zoo", path, "--out", str(out), "-q",
                               "--executor", "ray", "--ray-address", cluster], cwd=TESTS, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while len(list(cache.glob("*.json"))) < 3:
            assert driver.poll() is None, driver.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the counts did not reach the cache folder in 240 s"
            time.sleep(0.05)
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    time.sleep(3)  # Ray ends the dead driver's tasks; none may write after the count below
    kept = len(list(cache.glob("*.json")))
    assert 3 <= kept < 5, f"{kept} entries: the driver was killed too late to test resuming"
    r = run("zoo", path, "--out", str(out), "--executor", "ray", "--resume")
    assert r.exit_code == 0, r.output
    assert f"resumed: {kept} measurements reused" in r.output
    assert len(list(cache.glob("*.json"))) == 5
    counts, res = _counts(out)
    assert counts["C"][:2] == (360, 320) and len(res["zoo"]["executor"]["groups"]) == 2
    node = ray.get_runtime_context().get_node_id()  # which node and GPUs (none here) timed each group
    assert [(g["node"], g["gpus"]) for g in res["zoo"]["executor"]["groups"]] == [(node, []), (node, [])]


MLPS = ["python:tiny_models:mlp_stack", "python:tiny_models:shared_mlp", "--inputs", "python:tiny_models:mlp_inputs",
        "--no-fvcore", "--format", "json", "-q"]


def test_measure_on_ray_counts_as_local_and_times_on_a_worker(cluster):
    here = run("measure", *MLPS, "--no-speed")
    there = run("measure", *MLPS, "--no-speed", "--executor", "ray")
    assert here.exit_code == 0 and there.exit_code == 0, here.output + there.output
    counts = [[(m["name"], m["params"]["unique"], m["flops"]["macs"]) for m in json.loads(r.stdout)["models"]]
              for r in (here, there)]
    assert counts[0] == counts[1] and counts[0][1][1:] == (144, 576)  # shared_mlp, by hand in test_zoo.py
    timed = run("measure", *MLPS, "--device", "cpu", "--min-time", "0.05", "--executor", "ray")
    assert timed.exit_code == 0, timed.output
    res = json.loads(timed.stdout)
    assert all(m["speed"]["throughput"]["samples_per_s"] > 0 for m in res["models"])
    assert res["executor"]["timed_on"]["node"] == ray.get_runtime_context().get_node_id()


def test_measure_on_ray_bad_input_is_the_same_one_line_error(cluster):
    """An error the task raised is raised in the driver as it would be here: one line, exit 2."""
    r = run("measure", "python:tiny_models:broken_factory", "--executor", "ray")
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    *progress, last = r.stderr.strip().splitlines()
    assert any("[1/1] count python:tiny_models:broken_factory failed" in line for line in progress)  # on Ray
    assert last.startswith("error: ") and "building the model failed" in last


def test_compare_on_ray_as_local_with_a_failing_variant(tmp_path, cluster):
    """test_compare.py's crashy family, with executor: ray in the config: the same models, counts
    and failed variant as the local executor gives (the variant search itself runs in the driver)."""
    family = TESTS.parent / "examples" / "family.yaml"
    text = f"""
name: crashy
proposed: {{name: wide, source: "python:tiny_models:mlp_stack", kwargs: {{width: 32}}}}
baseline: {{name: crashy, source: "python:tiny_models:crashy_mlp"}}
family: {family}
match: [params]
strategies: [width, depth]
measure: {{device: cpu, batch: [1], min_time: 0.05, inputs: "python:tiny_models:mlp_inputs"}}
"""
    path = _zoo(tmp_path, text + "executor: ray\n", "c.yaml")
    there = run("compare", path, "-q", "--out", str(tmp_path / "ray"))
    here = run("compare", path, "-q", "--out", str(tmp_path / "local"), "--executor", "local")
    assert here.exit_code == 3 and there.exit_code == 3, here.output + there.output
    got = []
    for folder in ("local", "ray"):
        res = json.loads((tmp_path / folder / "results.json").read_text())
        got.append([(m["name"], m["params"]["unique"], (m.get("speed") or {}).get("errors")) for m in res["models"]])
    assert any(errors and "width 32 is not supported" in errors[0] for _, _, errors in got[1])
    assert got[0] == got[1]


def _double(x):
    return 2 * x


def test_a_cluster_without_gpus_is_told_not_waited_on(cluster):
    """A task that needs a GPU on a cluster without one would wait for ever: refused at once."""
    from fairness.errors import FairnessError
    from fairness.executor import RayExecutor, Task

    runner = RayExecutor()
    assert [o.value for o in runner.run([Task(_double, (3,), "double")], lambda m: None)] == [6]
    with pytest.raises(FairnessError, match="takes a GPU per group, and the Ray cluster has none"):
        runner.run([Task(_double, (3,), "timing group 1 of 1", gpu=True)], lambda m: None)


def test_a_numbered_gpu_is_refused_ray_places_the_groups(tmp_path, cluster):
    text = ZOO.replace("speed: false", "speed: true")
    r = run("zoo", _zoo(tmp_path, text), "--out", str(tmp_path / "out"), "--device", "cuda:1", "--executor", "ray")
    assert r.exit_code == 2 and r.stderr.strip().splitlines()[-1] == (
        "error: --device cuda:1: with --executor ray each timing group gets a GPU of its own from Ray; give "
        "--device cuda"), r.output


def test_the_quality_hook_runs_side_by_side_on_ray(tmp_path, cluster):
    """One Ray task per model: every model gets the hook's number, as with the local executor."""
    from test_quality import _config

    script = tmp_path / "h.py"
    script.write_text("import json, sys\nprint(json.loads(sys.argv[1]).get('width', 16))\n")
    cfg = _config(tmp_path, f"{sys.executable} {script} '{{kwargs_json}}'")
    r = run("compare", str(cfg), "-q", "--out", str(tmp_path / "out"), "--executor", "ray")
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    variant = next(m for m in res["models"] if m["role"] == "variant")
    assert {m["name"]: m["quality"]["acc"] for m in res["models"]} == {
        "wide": 32.0, "base": 16.0, variant["name"]: float(variant["knobs"]["width"])}
