"""Where measurement tasks run: here, one after another (`local`), or over a Ray cluster (`ray`).

One interface: `executor.run(tasks, progress)` runs a list of `Task`s and returns one `Outcome`
per task, in the order given. A task is a module-level function and its arguments, all
picklable, so that Ray can ship it to another node; it opens the cache folder itself and
stores every finished count and timing there as it finishes, so a driver that is killed
loses nothing that was done (`--resume` reuses it).

`local` (the default) imports no Ray and runs the tasks in this process, in order; an
exception that escapes a task escapes `run` (as it did before executors existed).

`ray` runs counting tasks in parallel over the cluster's CPUs (one CPU each) and timing
groups on a whole GPU each (`Task.gpu`), or, on the CPU, one at a time (`Task.serial`).
Ray retries a task once when its worker was lost (a killed process, a lost node), never
when the task itself raised: a model's own error would only happen again. A task that
still fails becomes `Outcome.failed` with the reason, and its models alone are failed.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import FairnessError

EXECUTORS = ("local", "ray")
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Task:
    fn: Callable  # a module-level function (pickled by name); called fn(*args, progress=...) here
    args: tuple
    label: str  # for progress lines: "count ResNet-50", "timing group 2 of 5"
    gpu: bool = False  # needs a GPU of its own (a timing group on CUDA)
    serial: bool = False  # never beside another serial task (a timing group on the CPU)


@dataclass(frozen=True)
class Outcome:
    value: Any = None  # what the task returned; None when it failed
    failed: str | None = None  # why it failed (the worker died, the task raised)
    where: dict = field(default_factory=dict)  # executor, host, Ray node id, GPU ids
    seconds: float = 0.0
    error: BaseException | None = None  # what the task raised, where it raised (None: the worker was lost)


def _here(executor: str) -> dict:
    return {"executor": executor, "host": socket.gethostname(), "pid": os.getpid()}


class Tally:
    """One progress line per finished task, and the estimate of the time left: the wall time
    per finished task so far (parallel tasks included) times the tasks still to go."""

    def __init__(self, total: int, progress: Progress):
        self.total, self.done, self.progress, self.start = total, 0, progress, time.perf_counter()

    def finished(self, task: Task, outcome: Outcome) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.start
        left = elapsed / self.done * (self.total - self.done)
        state = f"failed: {outcome.failed}" if outcome.failed else "done"
        on = f" on {outcome.where['host']}" if outcome.where.get("node") else ""
        if outcome.where.get("gpus"):
            on += f" GPU {','.join(outcome.where['gpus'])} ({outcome.where.get('gpu_name', '?')})"
        self.progress(f"[{self.done}/{self.total}] {task.label} {state} in {outcome.seconds:.1f} s{on}; "
                      f"{elapsed:.0f} s so far, about {left:.0f} s left")


class LocalExecutor:
    name = "local"

    def check_device(self, device: str) -> None:
        pass  # the timing itself checks the device, as it always has

    def run(self, tasks: list[Task], progress: Progress) -> list[Outcome]:
        tally, out = Tally(len(tasks), progress), []
        for t in tasks:
            start = time.perf_counter()
            value = t.fn(*t.args, progress=progress)
            out.append(Outcome(value, None, _here("local"), time.perf_counter() - start))
            tally.finished(t, out[-1])
        return out

    def close(self) -> None:
        pass


def _on_ray(fn: Callable, args: tuple) -> tuple[Any, dict, float]:
    """What a Ray worker runs: the task, and where it ran (node id, the GPUs Ray gave it)."""
    import ray

    start = time.perf_counter()
    ctx = ray.get_runtime_context()
    gpus = [str(g) for g in ray.get_gpu_ids()]
    if gpus:
        # Timing groups side by side on one host's GPUs each took all its cores for their threads
        # (physical_cores()): on an H200 x2 host, batch-1 latency, bound by the host's launches, read
        # 1.5x that of a group timed alone. A group takes its share of the CPUs, the num_cpus Ray gave
        # it (a timing's own --threads, where given, still wins).
        from dataclasses import replace

        from .step import RunSettings

        share = timing_threads(ctx.get_assigned_resources().get("CPU", 1))
        args = tuple(replace(a, threads=a.threads or share) if isinstance(a, RunSettings) else a for a in args)
    value = fn(*args)
    where = {**_here("ray"), "node": ctx.get_node_id(), "gpus": gpus}
    if gpus:  # the GPU's model (NVML's name through torch): groups timed on different types are told apart
        import torch

        where["gpu_name"], where["threads"] = torch.cuda.get_device_name(0), torch.get_num_threads()
    return value, where, time.perf_counter() - start


def timing_threads(assigned_cpus: float) -> int:
    """Threads for a timing group on Ray: the CPUs Ray gave it, but no more than the physical
    cores a local run takes (Ray counts logical CPUs), so that a group alone on a host times
    with the threads of the local executor."""
    from .indicators.env import physical_cores

    return max(1, min(int(assigned_cpus), physical_cores()))


def cpus_per_gpu(nodes: list[dict]) -> int:
    """The CPUs a timing group asks Ray for beside its GPU: its GPU's share of its host's CPUs,
    as a local run has them all, on the GPU node with the fewest per GPU, so that every GPU of
    the cluster can take a group (a share of the whole cluster's CPUs, CPU-only nodes counted,
    could be more than a GPU node has, and Ray would wait for ever). 1 without GPU nodes."""
    shares = [int(n["Resources"].get("CPU", 0) // n["Resources"]["GPU"]) for n in nodes
              if n.get("Alive") and n.get("Resources", {}).get("GPU", 0) >= 1]
    return max(1, min(shares)) if shares else 1


def require_ray():
    """The ray module, or the one-line error that names the extra to install."""
    try:
        import ray
    except ImportError:
        raise FairnessError("--executor ray: Ray is not installed; pip install 'fairness[ray]' "
                            "(or use --executor local)") from None
    return ray


class RayExecutor:
    name = "ray"

    def __init__(self, address: str = "auto"):
        self.ray = ray = require_ray()
        self.started = not ray.is_initialized()  # a caller's own ray.init (the tests') is left alone
        if self.started:
            self._connect(address)
        self.remote = ray.remote(_on_ray)
        self._cpus_per_gpu = 1  # set in run(), from the cluster it runs on

    def _connect(self, address: str) -> None:
        ray = self.ray
        # workers import python: sources as this process does (as --isolate's workers do)
        env = {"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in [os.getcwd(), *sys.path] if p)}}
        try:
            if address == "auto":
                try:
                    ray.init(address="auto", runtime_env=env, log_to_driver=False)
                except ConnectionError:  # no cluster running: start one on this machine
                    ray.init(runtime_env=env, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=address, runtime_env=env, log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as e:
            raise FairnessError(f"--ray-address {address}: cannot connect to a Ray cluster ({e}); start one with "
                                f"'ray start --head' and pass HEAD:6379, or 'auto'") from None

    def check_device(self, device: str) -> None:
        """Ray gives each timing task one GPU of its own, which the task sees as cuda (cuda:0)."""
        if device.startswith("cuda:"):
            raise FairnessError(f"--device {device}: with --executor ray each timing group gets a GPU of its own "
                                f"from Ray; give --device cuda")

    def run(self, tasks: list[Task], progress: Progress) -> list[Outcome]:
        ray = self.ray
        if any(t.gpu for t in tasks) and ray.cluster_resources().get("GPU", 0) < 1:
            # Ray would wait for a GPU for ever (an infeasible task), saying so only in its log
            raise FairnessError("--executor ray: timing on CUDA takes a GPU per group, and the Ray cluster has "
                                "none; run 'ray start' on the GPU machines too, or time with --device cpu")
        self._cpus_per_gpu = cpus_per_gpu(ray.nodes())
        tally = Tally(len(tasks), progress)
        out: list[Outcome | None] = [None] * len(tasks)
        # Timing groups on the CPU share the machine with everything else that runs there: two at
        # once would each slow the other, so they wait for each other (Ray counts CPUs, it does
        # not keep a timed process alone on its cores).
        waiting = [i for i, t in enumerate(tasks) if t.serial]
        pending = {self._submit(t): i for i, t in enumerate(tasks) if not t.serial}
        submitted = {ref: time.perf_counter() for ref in pending}
        serial_running = False
        while pending or waiting:
            if waiting and not serial_running:
                i = waiting.pop(0)
                ref = self._submit(tasks[i])
                pending[ref], submitted[ref], serial_running = i, time.perf_counter(), True
            [ref], _ = ray.wait(list(pending), num_returns=1)
            i = pending.pop(ref)
            serial_running = serial_running and not tasks[i].serial
            out[i] = self._outcome(ref, time.perf_counter() - submitted[ref])
            tally.finished(tasks[i], out[i])
        return out

    def _submit(self, t: Task):
        # max_retries: a worker lost to the machine (killed, out of memory, its node gone) is run
        # once more; retry_exceptions=False: an exception the task raised is its own and would recur.
        opts = {"num_cpus": self._cpus_per_gpu if t.gpu else 1, "num_gpus": 1 if t.gpu else 0, "max_retries": 1,
                "retry_exceptions": False}
        return self.remote.options(**opts).remote(t.fn, t.args)

    def _outcome(self, ref, seconds: float) -> Outcome:
        ex = self.ray.exceptions
        try:
            value, where, took = self.ray.get(ref)
            return Outcome(value, None, where, took)
        except ex.RayTaskError as e:  # the task raised: its message, as keep_going records it
            cause = e.cause if isinstance(getattr(e, "cause", None), BaseException) else None
            why = cause.message if isinstance(cause, FairnessError) else (
                f"{type(cause).__name__}: {cause}" if cause else str(e).strip().splitlines()[0])
            return Outcome(None, why[:300], {"executor": "ray"}, seconds, cause)
        except ex.RayError as e:  # the worker or its node was lost, twice (WorkerCrashedError, ...)
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            return Outcome(None, f"{type(e).__name__}: {first}"[:300], {"executor": "ray"}, seconds)

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


def executor_of(value, what: str) -> dict | None:
    """A config file's `executor: local|ray` or `executor: {name: ray, address: HEAD:6379}`."""
    if value is None:
        return None
    given = {"name": value} if isinstance(value, str) else value
    if not isinstance(given, dict) or set(given) - {"name", "address"} or given.get("name") not in EXECUTORS:
        raise FairnessError(f"{what}: executor: {value!r}; expected local, ray, or {{name: ray, address: HEAD:6379}}")
    if not isinstance(given.get("address", "auto"), str):
        raise FairnessError(f"{what}: executor.address: expected HOST:PORT or auto")
    return {"name": given["name"], "address": given.get("address", "auto")}


def make_executor(name: str, address: str = "auto"):
    """The executor named by --executor (or a config file's executor:)."""
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(address)
    raise FairnessError(f"--executor {name}: expected one of {', '.join(EXECUTORS)}")
