"""Speed, latency and peak memory on the CPU, with tiny models and short timings.

Nothing here asserts how fast this machine is: only the structure of the records, the
number of samples, and sanity (a confidence interval holds its median, p99 >= p90 >= p50).
"""

import itertools
import json
import re
import statistics
from types import SimpleNamespace

import pytest
import torch

import fairness
from fairness import FairnessError
from fairness.indicators import speed as speed_mod
from fairness.indicators.speed import StepTimer, paired_ratio, run_interleaved
from fairness.measure import Target, measure_models
from fairness.runner import Runnable, RunSettings, _batch_plan, check_settings
from tiny_models import SharedBlock
from cli_run import one_line_exit_2, run

SOURCE = "python:tiny_models:shared_block"
INPUTS = "python:tiny_models:vector_inputs"  # vector_inputs(batch_size, device): [batch, 4]
FAST = dict(device="cpu", min_duration_s=0.05, warmup_s=0.01, threads=1)


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    """A run sets torch's thread count for the process; put it back for the tests after."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def module_record():
    """A module object timed at batch 4 only: batch 1 comes too."""
    threads = torch.get_num_threads()
    try:
        return fairness.measure(SharedBlock(), input_factory=INPUTS,
                                speed=RunSettings(batch_sizes=(4,), **FAST))
    finally:
        torch.set_num_threads(threads)


# --- fairness.measure with speed ------------------------------------------------------------


def test_batch_1_is_always_timed(module_record):
    """Asking for batch 4 times batch 1 (latency) and batch 4, in increasing order."""
    runs = module_record.speed.runs
    assert [r["batch_size"] for r in runs] == [1, 4]
    assert [r["batch_note"] for r in runs] == ["batch 1: latency", "requested"]
    assert module_record.speed.throughput["batch_size"] == 4  # the headline: the largest batch


def test_batch_plan_lists_each_size_once():
    """(1, 4) and (4, 1) plan the same runs as (4,): no size twice, smallest first."""
    run_ = Runnable("m", SharedBlock(), lambda b: None)
    for sizes in [(4,), (1, 4), (4, 1), (4, 4)]:
        (plan,) = _batch_plan([run_], RunSettings(batch_sizes=sizes), lambda _: None)
        assert [b for b, _ in plan] == [1, 4]


def test_throughput_has_min_samples_and_its_median_inside_the_ci(module_record):
    """Every run has at least min_samples timed blocks, and ci95 low <= median <= high."""
    for r in module_record.speed.runs:
        tp = r["throughput"]
        assert tp["batch_size"] == r["batch_size"]
        assert tp["n"] >= 10 and tp["calls_per_block"] >= 1
        assert 0 < tp["ci95"][0] <= tp["samples_per_s"] <= tp["ci95"][1]
        assert len(r["rounds"]["throughput"]) == tp["n"]  # one block per round: a single model


def test_latency_percentiles_are_ordered(module_record):
    """Latency: p99 >= p90 >= median > 0; p99 is flagged unreliable below 100 calls."""
    lat = module_record.speed.latency
    assert lat["batch_size"] == 1  # the headline latency is the one at batch 1
    for r in module_record.speed.runs:
        lat = r["latency"]
        assert lat["p99_s"] >= lat["p90_s"] >= lat["median_s"] > 0
        assert lat["n"] >= 10
        assert lat["p99_reliable"] == (lat["n"] >= 100)


def test_latency_above_batch_1_is_read_from_the_throughput_blocks(module_record):
    """Per-call latency is timed at batch 1 only; at batch 4 it is each synchronized throughput
    block's time over its calls, and says so: no second timed phase for the same number."""
    at1, at4 = module_record.speed.runs
    assert "latency" in at1["rounds"] and "from_blocks" not in at1["latency"]
    assert "latency" not in at4["rounds"] and at4["latency"]["from_blocks"]
    calls = at4["throughput"]["calls_per_block"]
    per_call = [t / calls for r in at4["rounds"]["throughput"] for t in r]
    assert at4["latency"]["median_s"] == statistics.median(per_call)
    assert at4["latency"]["n"] == at4["throughput"]["n"]


def test_settings_are_recorded(module_record):
    """The settings a number depends on travel with it: threads=1 as asked."""
    st = module_record.speed.settings
    assert st["threads"] == 1 and st["device"] == "cpu" and st["dtype"] == "float32"
    assert st["batch_sizes"] == [4] and st["min_samples"] == 10


def test_module_object_has_no_cpu_peak_memory(module_record):
    """A module object cannot be rebuilt in a fresh process: peak memory is None, nothing fails."""
    assert module_record.memory["peak_bytes"] is None
    assert module_record.memory["param_bytes"] == 20 * 4  # Linear(4, 4) in float32
    assert module_record.speed.errors == []
    assert all("memory" not in r for r in module_record.speed.runs)


def test_cpu_has_no_idle_share_or_energy(module_record):
    """On the CPU, idle share and energy are not measured, and the record says why."""
    assert set(module_record.speed.unavailable) == {"idle_share", "energy"}


def test_cpu_peak_memory_from_a_fresh_process():
    """A source is rebuilt in a fresh process: its peak resident set covers the weights."""
    rec = fairness.measure(SOURCE, input_factory=INPUTS, speed=RunSettings(batch_sizes=(2,), **FAST))
    mem = rec.memory
    assert mem["peak_bytes"] >= mem["param_bytes"] > 0
    assert "fresh process" in mem["peak_definition"]
    assert mem["peak_batch_size"] == 2
    for r in rec.speed.runs:
        assert r["memory"]["peak_rss_bytes"] >= r["memory"]["rss_before_model_bytes"] > 0


def test_train_step_on_cpu():
    """--train times a training step too: its throughput and seconds per step."""
    rec = fairness.measure(SharedBlock(), input_factory=INPUTS,
                           speed=RunSettings(batch_sizes=(2,), train=True, **FAST))
    sp = rec.speed
    assert [r["batch_size"] for r in sp.runs] == [1, 2]
    for r in sp.runs:
        tr = r["train"]
        assert tr["throughput"]["n"] >= 10 and tr["step_s"] > 0
        assert tr["throughput"]["batch_size"] == r["batch_size"]
        assert "latency" not in tr  # latency is an inference number
    assert sp.train["step_s"] > 0 and sp.train["throughput"]["batch_size"] == 2
    assert "SGD" in sp.train["optimizer"]
    assert sp.errors == []


def test_train_leaves_a_module_object_as_it_was():
    """Measuring a module object's training step does not change the caller's weights."""
    model = SharedBlock().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fairness.measure(model, input_factory=INPUTS, speed=RunSettings(train=True, **FAST))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not model.training


# --- several models: interleaved rounds and paired ratios -------------------------------------


def test_two_models_get_paired_speed_ratios():
    """Two models timed together: each speed-up over the first has a CI that holds it."""
    res = measure_models([Target(SharedBlock(1), name="one"), Target(SharedBlock(3), name="three")],
                         input_factory=INPUTS, speed=RunSettings(**FAST))
    assert res["environment"]["threads"] == 1
    ratios = res["speed_ratios"]
    assert {r["indicator"] for r in ratios} == {"throughput", "latency"}
    for r in ratios:
        assert (r["model"], r["reference"]) == ("three", "one")
        assert r["batch_size"] == r["reference_batch_size"] == 1
        assert r["ci95"][0] <= r["speedup"] <= r["ci95"][1]
        assert r["speedup"] > 0 and r["n"] >= 1
    # interleaved: the reference is timed in every round of the other model, which may leave the
    # rotation first (run_interleaved's `keep`), and each ratio pairs all of that model's rounds
    one, three = (m.speed.runs[0]["rounds"] for m in res["models"])
    n = {r["indicator"]: r["n"] for r in ratios}
    for indicator in ("throughput", "latency"):
        assert len(one[indicator]) >= len(three[indicator]) == n[indicator]


@pytest.fixture
def fake_clock(monkeypatch):
    """speed.py's clock advanced only by the steps: each block's time is its calls' cost."""
    now = [0.0]
    monkeypatch.setattr(speed_mod, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    return now


def _counting_steps(log, clock):
    def make(name, cost):
        def step():
            log.append(name)
            clock[0] += cost
        return step
    return make("A", 1.0), make("B", 10.0)


def test_run_interleaved_alternates_blocks(fake_clock):
    """Rounds alternate A B and B A, each block after one untimed re-warm call; min_samples is met."""
    log = []
    a, b = _counting_steps(log, fake_clock)
    rounds = run_interleaved([StepTimer(a, "cpu"), StepTimer(b, "cpu")], per_call=False, calls_per_block=[2, 3],
                             warmup_s=0.0, min_warmup=3,
                             min_samples=4, min_duration_s=0.0, max_duration_s=1e9)
    ab, ba = "A" * 3 + "B" * 4, "B" * 4 + "A" * 3
    assert "".join(log) == "AAA" + "BBB" + (ab + ba) * 2  # warm-up, then 4 rounds
    assert rounds == [[(2.0,)] * 4, [(30.0,)] * 4]  # the re-warm call is outside the timed block


def test_run_interleaved_per_call_chunks(fake_clock):
    """per_call=True: a chunk of single-call times per model and round, after a re-warm call."""
    log = []
    a, b = _counting_steps(log, fake_clock)
    rounds = run_interleaved([StepTimer(a, "cpu"), StepTimer(b, "cpu")], per_call=True, chunk_calls=3,
                             warmup_s=0.0, min_warmup=1,
                             min_samples=5, min_duration_s=0.0, max_duration_s=1e9)
    assert rounds == [[(1.0,) * 3] * 2, [(10.0,) * 3] * 2]  # 2 rounds of 3 reach 5 samples
    assert "".join(log) == "AB" + "A" * 4 + "B" * 4 + "B" * 4 + "A" * 4


def test_run_interleaved_real_clock_meets_min_samples():
    """On the real clock, with a real model, every step gets at least min_samples times."""
    model, x = torch.nn.Linear(4, 4), torch.randn(2, 4)
    steps = [lambda: model(x), lambda: model(x).relu()]
    rounds = run_interleaved([StepTimer(s, "cpu") for s in steps], per_call=False, calls_per_block=[3, 5],
                             warmup_s=0.0,
                             min_samples=6, min_duration_s=0.0)
    assert [len(r) for r in rounds] == [6, 6]
    assert all(t > 0 for r in rounds for (t,) in r)


def test_paired_ratio_by_hand():
    """Reference rounds take twice as long as the model's: speed-up 2.0 exactly."""
    r = paired_ratio([(1.0,), (2.0,), (1.0,)], [(2.0,), (4.0,), (2.0,)], batch_size=1, indicator="throughput")
    assert r.ratio == 2.0 and r.ci95 == (2.0, 2.0) and r.n == 3
    assert (r.batch_size, r.indicator) == (1, "throughput")


def test_paired_ratio_pairs_rounds_and_takes_chunk_medians():
    """Per round: median of the reference chunk / median of the model chunk; then the median."""
    model = [(1.0, 1.0, 9.0), (2.0, 2.0, 2.0), (1.0, 1.0, 1.0)]  # one outlier call in round 1
    ref = [(3.0, 3.0, 3.0), (2.0, 2.0, 2.0), (4.0, 4.0, 4.0)]  # per round: 3, 1, 4
    r = paired_ratio(model, ref, batch_size=1, indicator="latency")
    assert r.ratio == 3.0 and r.ci95 == (1.0, 4.0) and r.n == 3


# --- settings checked before anything runs ----------------------------------------------------


def test_float16_on_cpu_runs_or_says_dtype():
    """float16 autocast on the CPU either works or is refused with a --dtype message."""
    try:
        s = check_settings(RunSettings(device="cpu", dtype="float16"))
    except FairnessError as e:
        assert "--dtype" in e.message
    else:
        assert s.dtype == "float16"


def test_threads_default_to_a_positive_count():
    """threads=None is filled in with this machine's physical cores."""
    s = check_settings(RunSettings(threads=None))
    assert isinstance(s.threads, int) and s.threads > 0


@pytest.mark.parametrize("settings, expected", [
    (RunSettings(threads=0), "--threads 0"),
    (RunSettings(batch_sizes=(0,)), "--batch 0"),
    (RunSettings(batch_sizes=("auto",)), "CUDA"),
    (RunSettings(device="meta"), "--no-speed"),
    (RunSettings(dtype="float64"), "--dtype float64"),
])
def test_check_settings_refuses_with_the_option_named(settings, expected):
    """Each refused setting is a FairnessError that names the option."""
    with pytest.raises(FairnessError, match=re.escape(expected)):
        check_settings(settings)


# --- the command ------------------------------------------------------------------------------


@pytest.mark.parametrize("args, expected", [
    (["--batch", "0", "--device", "cpu"], "--batch"),
    (["--batch", "auto", "--device", "cpu"], "CUDA"),
    (["--threads", "0", "--device", "cpu"], "--threads"),
    pytest.param(["--device", "cuda"], "no CUDA device",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible")),
])
def test_bad_speed_options_one_line_exit_2(args, expected):
    """Bad speed options stop before any timing: one line on stderr, exit 2."""
    r = run("measure", SOURCE, "--inputs", INPUTS, *args, "-q")
    one_line_exit_2(r, expected)
    assert "Traceback" not in r.output


@pytest.mark.parametrize("args", [["--device", "meta"], ["--device", "cpu", "--no-speed"]])
def test_counts_only(args):
    """--device meta and --no-speed count only: speed is None, exit 0."""
    r = run("measure", SOURCE, "--inputs", INPUTS, *args, "--format", "json", "-q", "--no-fvcore")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["models"][0]["speed"] is None
    assert data["models"][0]["memory"]["peak_bytes"] is None
    assert data["models"][0]["params"]["unique"] == 20


def test_cli_speed_json_end_to_end(tmp_path):
    """measure --device cpu --batch 1,2 --workload: an estimate, and why idle/energy are missing."""
    out = tmp_path / "r.json"
    r = run("measure", SOURCE, "--inputs", INPUTS, "--device", "cpu", "--batch", "1,2", "--min-time", "0.05",
            "--threads", "1", "--workload", "1000", "--format", "json", "--out", str(out), "-q", "--no-fvcore")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    sp = data["models"][0]["speed"]
    assert [x["batch_size"] for x in sp["runs"]] == [1, 2]
    assert sp["workload"]["inference_s"] > 0 and sp["workload"]["estimate"] is True
    assert sp["workload"]["examples"] == 1000
    assert {"idle_share", "energy"} <= set(sp["unavailable"])
    assert sp["settings"]["min_duration_s"] == 0.05 and sp["settings"]["threads"] == 1
    assert data["models"][0]["memory"]["peak_bytes"] > 0  # a source: a fresh process measured it
    assert json.loads(out.read_text())["models"][0]["speed"]["workload"] == sp["workload"]


def test_cli_speed_table():
    """The table shows throughput per second and latency."""
    r = run("measure", SOURCE, "--inputs", INPUTS, "--device", "cpu", "--min-time", "0.05", "--threads", "1",
            "-q", "--no-fvcore")
    assert r.exit_code == 0, r.output
    assert "/s" in r.stdout and "latency" in r.stdout
    assert "1 CPU threads" in r.stdout
    assert "energy: not measured" in r.stdout


def test_batch_that_does_not_fit_exit_2_and_keeps_what_was_measured(tmp_path):
    """Out of memory at batch 4: exit 2, one error line naming the batch; batch 1 is kept,
    on stdout and in --out."""
    out = tmp_path / "r.json"
    r = run("measure", "python:tiny_models:fails_above", "--inputs", INPUTS, "--batch", "1,4", "--device", "cpu",
            "--min-time", "0.05", "--format", "json", "-q", "--no-fvcore", "--out", str(out))
    one_line_exit_2(r, "out of memory at batch 4")
    runs = json.loads(r.stdout)["models"][0]["speed"]["runs"]
    assert runs[0]["batch_size"] == 1 and runs[0]["throughput"]["n"] >= 10
    assert runs[1]["batch_size"] == 4 and "out of memory" in runs[1]["error"]
    assert json.loads(out.read_text())["models"][0]["speed"]["runs"][0]["throughput"] == runs[0]["throughput"]


@pytest.mark.parametrize("isolate", [False, True])
def test_a_model_that_returns_nan_fails_alone(isolate):
    """NaN output is a broken computation: that model fails with the reason, the other is timed."""
    res = measure_models([Target("python:tiny_models:nan_out", name="nan"), Target("python:tiny_models:mlp_stack",
                                                                                   name="ok")],
                         input_factory="python:tiny_models:mlp_inputs", fvcore=False,
                         speed=RunSettings(batch_sizes=(1,), isolate=isolate, **FAST))
    bad, ok = res["models"]
    assert len(bad.speed.errors) == 1 and "returned NaN or inf" in bad.speed.errors[0]
    assert bad.speed.throughput is None
    assert ok.speed.errors == [] and ok.speed.throughput["n"] >= 10


def test_run_interleaved_stops_once_settled(fake_clock):
    """A speed-search candidate 10x slower than its reference: its speed-up's CI is outside a 3%
    band after the first SETTLE_ROUNDS rounds, so timing stops there instead of at min_samples;
    a band around 0.1 holds the CI wholly, and timing stops there too; without a rule that
    settles, it is timed to the end."""
    from fairness.runner import known_against

    a, b = _counting_steps([], fake_clock)

    def time_pair(settled):
        return run_interleaved([StepTimer(a, "cpu"), StepTimer(b, "cpu")], per_call=False, warmup_s=0.0,
                               min_samples=50, min_duration_s=0.0, max_duration_s=1e9, settled=settled)

    def against(band):
        return lambda rounds: known_against(paired_ratio(rounds[1], rounds[0], 1, "throughput").ci95, band)

    assert len(time_pair(against((0.97, 1.03)))[0]) == speed_mod.SETTLE_ROUNDS  # known not to match
    assert len(time_pair(against((0.097, 0.103)))[0]) == speed_mod.SETTLE_ROUNDS  # known to match
    assert len(time_pair(lambda rounds: False)[0]) == 50


def test_known_against_by_hand():
    """A 3% band: CIs below it, above it and inside it settle; across an edge or both, they do not."""
    from fairness.runner import known_against

    cases = {(0.5, 0.9): True, (1.05, 1.2): True, (0.98, 1.01): True, (0.96, 1.0): False, (0.9, 1.1): False}
    assert {ci: known_against(ci, (0.97, 1.03)) for ci in cases} == cases


def test_median_known_by_hand():
    """median_known(10): 10 samples and the median's 95% CI within 0.5% of it. For n = 10 the
    interval is the 1st and 10th smallest (median_ci95: r = floor(5 - 3.10) = 1, s = ceil(9.10) = 10),
    so the rule holds when all ten lie within +-0.5%."""
    known = speed_mod.median_known(10)
    steady = [(1.0,), (1.004,), (0.996,), (1.0,), (1.002,)] * 2  # range 0.996 .. 1.004: half 0.4%
    assert known(steady) and known(steady * 2)
    assert not known(steady[:9])  # nine samples
    assert not known([(1.0,)] * 9 + [(1.02,)])  # half the CI: 1%


def test_graph_phase_rule_stops_steady_replays_after_settle_rounds(fake_clock):
    """Two steady steps with a min_duration_s far away: median_known stops timing at
    SETTLE_ROUNDS rounds of chunks (60 samples each), where min_duration_s alone would run on."""
    a, b = _counting_steps([], fake_clock)
    rounds = run_interleaved([StepTimer(a, "cpu"), StepTimer(b, "cpu")], per_call=True, warmup_s=0.0,
                             min_samples=10, min_duration_s=1e6, max_duration_s=1e9,
                             known=speed_mod.median_known(10))
    assert [len(r) for r in rounds] == [speed_mod.SETTLE_ROUNDS] * 2


def test_a_known_model_leaves_the_rotation_and_the_reference_stays(fake_clock):
    """Reference R (kept) and S steady (1 s calls), U unsteady (calls of 1.0, 1.2, 1.4 s in turn:
    its blocks read 1.4, 1.2, 1.0, ..., so its median is never known within 0.5%); one call a
    block, min_duration_s 30 s of a model's own time. S is known at SETTLE_ROUNDS rounds and
    leaves. U runs to its own 30 s, its untimed switching call included: 2.6, 2.2, 2.4 s a round,
    28.8 s after 12 rounds, 31.4 s after 13. R stays as long as U does, so S's paired ratio
    against R has all S's rounds; without `keep`, R leaves with S."""

    def steady():
        fake_clock[0] += 1.0

    def time_three(keep):
        costs = itertools.cycle((1.0, 1.2, 1.4))

        def unsteady():
            fake_clock[0] += next(costs)

        return run_interleaved([StepTimer(f, "cpu") for f in (steady, steady, unsteady)], per_call=False,
                               warmup_s=0.0, min_warmup=1, min_samples=3, min_duration_s=30.0, max_duration_s=1e9,
                               known=speed_mod.median_known(3), keep=keep)

    kept = time_three(keep={0})
    assert [len(x) for x in kept] == [13, speed_mod.SETTLE_ROUNDS, 13]
    assert paired_ratio(kept[1], kept[0], 1, "throughput").n == speed_mod.SETTLE_ROUNDS
    assert [len(x) for x in time_three(keep=())] == [speed_mod.SETTLE_ROUNDS, speed_mod.SETTLE_ROUNDS, 13]


def test_an_eager_phase_stops_once_its_medians_are_known(fake_clock):
    """Steady eager steps with a min_duration_s far away: the eager phase stops as the replayed one
    does, throughput once it has min_samples blocks and latency once it has P99_MIN_SAMPLES calls,
    where min_duration_s alone would run on, to max_duration_s (issue 27: the eager throughput
    phase was the largest step of a comparison's wall time)."""
    from fairness.runner import _Timed, _time_interleaved

    def step(cost):
        def run():
            fake_clock[0] += cost
        return run

    prepared = [_Timed(Runnable(n, None, None), 1, StepTimer(step(cost), "cpu"), 1, {})
                for n, cost in (("A", 1e-3), ("B", 1e-2))]
    tp, lat, _ = _time_interleaved(prepared, RunSettings(device="cpu", min_duration_s=1e6), "forward pass", False,
                                   True, lambda m: None, None, {})
    assert [len(r) for r in tp] == [RunSettings().min_samples] * 2  # one block a round, 10 blocks at least
    assert all(sum(len(chunk) for chunk in r) >= speed_mod.P99_MIN_SAMPLES for r in lat)
    assert max(sum(len(chunk) for chunk in r) for r in lat) < speed_mod.P99_MIN_SAMPLES + 20


def test_a_run_where_the_gpu_idled_over_half_marks_its_speeds_host_bound():
    """Idle shares as read on an H200 (benchmarks/RESULTS.md, issue 17): batch 1 idles about 90%
    of a step, so its latency and throughput are the host's; at batch 256 EfficientNet-B0 idled
    58% in a slow process (host-bound) and 14% in another (the device's)."""
    from fairness.runner import _speed_record

    def runs(idle_256):
        return [{"batch_size": 1, "idle_share": 0.9, "throughput": {"samples_per_s": 100.0},
                 "latency": {"median_s": 8e-3}},
                {"batch_size": 256, "idle_share": idle_256, "throughput": {"samples_per_s": 12000.0}}]

    slow = _speed_record(runs(0.58), SimpleNamespace(channels_last=True), RunSettings(device="cpu"))
    assert slow["throughput"]["host_bound"] and slow["latency"]["host_bound"]
    assert slow["runs"][0]["throughput"]["host_bound"]  # batch 1's throughput too
    quiet = _speed_record(runs(0.14), SimpleNamespace(channels_last=True), RunSettings(device="cpu"))
    assert "host_bound" not in quiet["throughput"] and quiet["latency"]["host_bound"]


def test_cuda_graphs_default_on_for_cuda_only():
    assert RunSettings(device="cuda").graphs and not RunSettings(device="cpu").graphs
    assert not RunSettings(device="cuda", cuda_graphs=False).graphs  # --no-cuda-graphs
    assert not RunSettings(device="cpu", cuda_graphs=True).graphs


def test_cuda_graphs_on_the_cpu_is_a_note_not_an_error(tmp_path):
    out = tmp_path / "r.json"
    r = run("measure", "timm:resnet18", "--device", "cpu", "--image-size", "32", "--cuda-graphs",
            "--min-time", "0.05", "--no-idle", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert "note: --cuda-graphs applies to CUDA only; cpu runs eager" in r.stderr
    assert json.loads(out.read_text())["models"][0]["speed"]["settings"]["cuda_graphs"] is None


def test_cpu_peaks_run_fresh_processes_together_and_retry_a_failed_one_alone(monkeypatch):
    """The fresh processes of a phase's CPU peak memory run several at a time (fresh_workers); one
    that fails beside the others (killed when they did not all fit in memory) runs again alone, and
    one that fails alone too gets an error record, its model marked failed."""
    import threading

    from fairness import runner as runner_mod
    from fairness.indicators import memory as memory_mod

    running, most, calls, lock = [0], [0], [], threading.Lock()
    together = threading.Barrier(3, timeout=30)  # the first three run at once, or the test fails here

    def fake_peak(rebuild, batch_size, settings, train):
        name = rebuild["name"]
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            calls.append((name, running[0]))
            first = sum(1 for c in calls if c[0] == name) == 1
        if first and name != "broken":
            together.wait()
        with lock:
            running[0] -= 1
        if name == "crowded" and first:
            raise RuntimeError("killed (SIGKILL)")
        if name == "broken":
            raise RuntimeError("cannot build")
        return {"peak_rss_bytes": 1000 + batch_size}

    monkeypatch.setattr(memory_mod, "cpu_peak_rss", fake_peak)
    monkeypatch.setattr(memory_mod.os, "cpu_count", lambda: 3)
    timed = [runner_mod._Timed(Runnable(n, None, None, rebuild={"name": n}), 4, None, 1, {})
             for n in ("a", "crowded", "b", "broken")]
    messages = []
    failed = runner_mod._cpu_peaks(timed, RunSettings(device="cpu"), "forward pass", False, messages.append)
    assert most[0] == 3 and "3 at a time" in messages[0]
    assert [t.rec.get("memory") for t in timed] == [{"peak_rss_bytes": 1004}, {"peak_rss_bytes": 1004},
                                                    {"peak_rss_bytes": 1004}, None]
    assert ("crowded", 1) in calls  # its second run was alone
    assert set(failed) == {"broken"} and "cannot build" in failed["broken"]["error"]
    assert timed[3].run.failed and not timed[1].run.failed
    assert memory_mod.fresh_workers(1) == 1 and memory_mod.fresh_workers(50) == 3  # one per core
    monkeypatch.setattr(memory_mod.os, "cpu_count", lambda: 64)
    assert memory_mod.fresh_workers(50) == memory_mod.MAX_FRESH
