"""fairness.executor without Ray: the local executor, and the progress line with its estimate."""

from fairness import executor as ex


def _double(x, progress=None):
    return 2 * x


def test_local_runs_in_order_and_estimates_the_time_left(monkeypatch):
    """A clock that advances 10 s at every reading: each task takes 10 s, and the estimate is the
    wall time per finished task so far times the tasks still to go."""
    ticks = iter(range(0, 1000, 10))
    monkeypatch.setattr(ex.time, "perf_counter", lambda: next(ticks))
    lines = []
    out = ex.LocalExecutor().run([ex.Task(_double, (i,), f"task {i}") for i in range(3)], lines.append)
    assert [o.value for o in out] == [0, 2, 4] and [o.failed for o in out] == [None] * 3
    # readings: tally start 0; task 0: start 10, end 20, tally 30 -> 30 s for 1 of 3, 60 s left
    assert lines[0] == "[1/3] task 0 done in 10.0 s; 30 s so far, about 60 s left"
    # task 1: start 40, end 50, tally 60 -> 60 s for 2 of 3, 30 s left; task 2: tally 90, 0 left
    assert lines[1:] == ["[2/3] task 1 done in 10.0 s; 60 s so far, about 30 s left",
                         "[3/3] task 2 done in 10.0 s; 90 s so far, about 0 s left"]


def test_a_timing_group_asks_for_its_gpus_share_of_its_hosts_cpus():
    """Per GPU node, not over the cluster: 64 CPU-only cores beside an x2 host with 32 CPUs would
    make a cluster-wide share of 48, which no GPU node has, and Ray would wait for ever."""
    x2 = {"Alive": True, "Resources": {"CPU": 32.0, "GPU": 2.0}}
    x4 = {"Alive": True, "Resources": {"CPU": 64.0, "GPU": 4.0}}
    cpu_only = {"Alive": True, "Resources": {"CPU": 64.0}}
    assert ex.cpus_per_gpu([x2, cpu_only]) == 16
    assert ex.cpus_per_gpu([x2, x4]) == 16  # the fewest per GPU: every GPU can take a group
    assert ex.cpus_per_gpu([{**x2, "Alive": False}, x4]) == 16  # a dead node does not count
    assert ex.cpus_per_gpu([{"Alive": True, "Resources": {"CPU": 8.0, "GPU": 4.0}}]) == 2
    assert ex.cpus_per_gpu([cpu_only]) == 1 and ex.cpus_per_gpu([]) == 1
    assert ex.cpus_per_gpu([{"Alive": True, "Resources": {"CPU": 2.0, "GPU": 4.0}}]) == 1  # never 0


def test_a_timing_group_takes_its_cpu_share_but_never_more_threads_than_physical_cores(monkeypatch):
    """Ray counts logical CPUs; the local executor takes the physical cores. A group alone on a
    host with 16 logical CPUs on 8 cores gets 8 threads, as a local run would."""
    import fairness.indicators.env as env

    monkeypatch.setattr(env, "physical_cores", lambda: 8)
    assert ex.timing_threads(16.0) == 8  # alone on the host: the local run's threads
    assert ex.timing_threads(4.0) == 4  # a quarter of the host: its share
    assert ex.timing_threads(0.5) == 1  # never 0
