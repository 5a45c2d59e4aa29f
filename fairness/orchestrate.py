"""One orchestration for every command: `run_groups` counts each model once, in a task of its
own, then times each group of models together, interleaved, in one task (on a GPU of its own on
CUDA). A measure or a compare is one group; a zoo is many, each with the reference. The executor
(fairness.executor) decides where a task runs: here, one after another, or on a Ray cluster, in
parallel. Both go through the same path: the counts a timing task needs travel with it, so a model
is counted once whatever the executor, and a model that fails is a failure record in its place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .cache import Cache
from .errors import FairnessError, ModelFailed
from .executor import Outcome, Task
from .measure import Target, measure_models, target_label
from .record import ModelRecord, with_unique_id
from .results import new_results
from .sources import Source
from .step import RunSettings

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass
class GroupRun:
    """One timing group's outcome: its results file (the records it timed, in the group's order,
    failed models left out; speed-ups paired within the group; the environment), where it ran."""
    results: dict | None = None
    where: dict = field(default_factory=dict)
    seconds: float = 0.0
    failed: str | None = None  # why the whole task failed (its worker lost, an error raised)


def count_task(target: Target, settings: dict, handoff: tuple, progress: Progress = _quiet) -> dict:
    """One model counted (maybe in another process, on another node); the count is stored in the
    cache folder as soon as it is done."""
    cache = Cache.opened(handoff, progress)
    res = measure_models([target], cache=cache, progress=progress, **settings)
    return {"results": res, "entries": cache.entries(), "reused": cache.reused}


def timing_task(targets: list[Target], counted: list[ModelRecord], settings: dict, speed: RunSettings,
                handoff: tuple, references: int, progress: Progress = _quiet) -> dict:
    """One group timed together, from the records its counting tasks made (not counted again)."""
    cache = Cache.opened(handoff, progress)
    res = measure_models(targets, counted=counted, speed=speed, cache=cache, progress=progress,
                         references=references, **settings)
    return {"results": res, "entries": cache.entries(), "reused": cache.reused}


def raise_failed(label: str, done: Outcome) -> None:
    """A task's failure, raised as the measurement would have raised it here."""
    if isinstance(done.error, FairnessError):
        raise done.error
    raise ModelFailed(f"{label}: {done.failed}")


def run_groups(executor, targets: list[Target], groups: list[list[int]], *, speed: RunSettings | None,
               cache: Cache, progress: Progress = _quiet, keep_going: bool = False, references: int = 1,
               on_counts: Callable[[list[ModelRecord], dict | None], None] | None = None,
               **settings) -> tuple[list[ModelRecord], dict | None, list[GroupRun]]:
    """Count every target once, then time each group (indices into `targets`; none without `speed`).
    Returns each target's counted record (a failure record where it failed), the environment the
    counts were made in, and each group's run. Without `keep_going`, the first failure is raised as
    the measurement raised it; with it, the failure is recorded and the others go on.
    `on_counts(records, environment)`: once every count is in, before any timing (a partial save).
    `settings`: measure_models' own (input, count device, fvcore), for counting and timing alike."""
    labels = [target_label(t) for t in targets]
    handoff = cache.handoff()
    counted = executor.run([Task(count_task, (t, {**settings, "keep_going": keep_going}, handoff), f"count {label}")
                            for t, label in zip(targets, labels)], progress)
    records, env = [], None
    for t, label, done in zip(targets, labels, counted):
        if done.failed is None:
            cache.absorb(done.value["entries"], done.value["reused"])
            env = env or done.value["results"]["environment"]
            record = done.value["results"]["models"][0]
        elif not keep_going:
            raise_failed(label, done)
        else:  # the task itself was lost (its worker killed twice): this model alone fails
            record = ModelRecord.failure(label, t.role, done.failed)
        records.append(record)
    if on_counts:
        on_counts(records, env)
    if speed is None:
        return records, env, []
    cuda = speed.torch_device.type == "cuda"  # checked in the task, where the device is: this one may have none
    handoff = cache.handoff()
    timed = [[i for i in group if not records[i].failed] for group in groups]
    tasks = [Task(timing_task, ([targets[i] for i in group], [records[i] for i in group], settings, speed, handoff,
                                references),
                  f"timing {', '.join(labels[i] for i in group)}" if len(groups) == 1 else
                  f"timing group {g + 1} of {len(groups)} ({', '.join(labels[i] for i in group)})",
                  gpu=cuda, serial=not cuda)
             for g, group in enumerate(timed) if group]
    outcomes = iter(executor.run(tasks, progress))
    runs = []
    for group in timed:
        if not group:
            runs.append(GroupRun())
            continue
        done = next(outcomes)
        if done.failed is not None:
            if not keep_going:
                raise_failed("timing", done)
            runs.append(GroupRun(where=done.where, seconds=done.seconds, failed=done.failed))
            continue
        cache.absorb(done.value["entries"], done.value["reused"])
        res = done.value["results"]
        runs.append(GroupRun(res, done.where, done.seconds))
    return records, env, runs


def counts_only(records: list[ModelRecord], env: dict | None) -> dict:
    """The results file of counted models (the same model twice gets ids "x" and "x (2)")."""
    out = []
    for r in records:
        out.append(with_unique_id(r, {m.id for m in out}))
    return new_results(out, env)


def measure_models_with(executor, targets: list[Target], *, speed: RunSettings | None = None,
                        cache: Cache | None = None, progress: Progress = _quiet,
                        on_record: Callable[[dict], None] | None = None, keep_going: bool = False,
                        references: int = 1, **settings) -> dict:
    """`measure_models` through an executor, as one group: every model counted in a task of its own
    (in parallel on Ray), then all of them timed together, interleaved, in one task. Models given
    as objects cannot travel to a worker: on Ray, sources only. Without `keep_going`, an error a
    task raised is raised here as measure_models would have raised it, and a task whose worker was
    lost twice is a ModelFailed; with it, that model is recorded as failed, in its place, and the
    others go on. `on_record(results)`: after the counts, and after the timing."""
    if executor.name != "local" and any(not isinstance(t.model, (str, Source)) for t in targets):
        raise FairnessError(f"--executor {executor.name} measures models given as sources (timm:resnet50, "
                            f"python:pkg.mod:fn); a model object cannot be sent to a worker")
    if speed is not None:
        executor.check_device(speed.device)
    cache = cache or Cache(None)

    def counted(records, env):  # a partial save, before the timing
        if on_record:
            on_record(counts_only(records, env))

    records, env, runs = run_groups(executor, targets, [list(range(len(targets)))], speed=speed, cache=cache,
                                    progress=progress, keep_going=keep_going, references=references,
                                    on_counts=counted, **settings)
    counts = counts_only(records, env)
    if not runs or runs[0].results is None and runs[0].failed is None:  # no timing, or nothing left to time
        return counts
    (run,) = runs
    on = {"executor": {"name": executor.name, "timed_on": run.where}} if executor.name != "local" else {}
    if run.failed is not None:  # the counts stand; every timed model lost its timing with the task
        counts["models"] = [m if m.failed else m.with_(failed=f"timing: {run.failed}") for m in counts["models"]]
        return {**counts, **on}
    timed = iter(run.results["models"])
    res = {**run.results, "models": [m if m.failed else next(timed) for m in records], **on}
    if on_record:
        on_record(res)
    return res
