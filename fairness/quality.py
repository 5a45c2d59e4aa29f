"""The quality hook: the user's training and evaluation, run for the matched variants and the
compared models, so that "does the win survive at equal cost" is answered in quality too (issue 25).

Declared in a compare config, in one of two forms:

    quality:
      command: "python train.py --kwargs '{kwargs_json}' --out {out}"   # writes a JSON number to {out}
      metric: top1          # the quality metric it gives (the report's column)
      timeout_s: 3600       # per model; default one hour

    quality: {python: mypkg.evaluate:evaluate, metric: accuracy}      # evaluate(model, spec) -> number

The command runs in a shell with {kwargs_json} (the model's constructor arguments as JSON),
{source}, {name} and {out} (a file for its answer; without {out} the last line of its output
is read) filled in. The python hook runs in a child process, so that a timeout can stop it and
a crash cannot take the run down: it gets the model built on the CPU with random weights, and a
spec (name, source, kwargs, input, role). Either answers a number, or {metric: number}.

A model whose hook fails, times out or answers no number keeps the rest of its record: its
quality cell says "failed: <reason>" (`quality_failed`), and the report is whole. A result is
kept in the run's cache under the hook, the source, its arguments and its input, and reused by
every later run (a training is too dear to repeat by default; a changed hook is a new key).
"""

from __future__ import annotations

import json
import math
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from .cache import Cache
from .errors import FairnessError
from .executor import LocalExecutor, Task
from .record import ModelRecord, Role
from .settings import check_keys

HOOK_KEYS = {"command", "python", "metric", "timeout_s", "gpu"}
PLACEHOLDERS = {"kwargs_json", "source", "name", "out"}
DEFAULT_TIMEOUT_S = 3600.0
Progress = Callable[[str], None]


def check_hook(value, what: str) -> dict | None:
    """A config's quality: hook, checked before anything is measured."""
    if value is None:
        return None
    what = f"{what}: quality"
    check_keys(value, HOOK_KEYS, what)
    forms = [k for k in ("command", "python") if value.get(k) is not None]
    if len(forms) != 1:
        raise FairnessError(f"{what}: give exactly one of command: (a shell command) or python: (pkg.mod:function); "
                            f"got {' and '.join(forms) or 'neither'}")
    form = forms[0]
    if not isinstance(value[form], str) or not value[form].strip():
        raise FairnessError(f"{what}.{form}: expected a string")
    if form == "command":
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(value["command"]) if f is not None}
        except ValueError as e:
            raise FairnessError(f"{what}.command: {e}; write a literal brace as {{{{ or }}}}") from None
        unknown = fields - PLACEHOLDERS
        if unknown:
            raise FairnessError(f"{what}.command: unknown placeholder {{{sorted(unknown)[0]}}}; known: "
                                f"{', '.join('{' + p + '}' for p in sorted(PLACEHOLDERS))}")
    elif value["python"].count(":") != 1:
        raise FairnessError(f"{what}.python: {value['python']!r}; expected package.module:function")
    metric = value.get("metric")
    if not isinstance(metric, str) or not metric.strip():
        raise FairnessError(f"{what}.metric: name the quality metric the hook gives (e.g. metric: top1), the "
                            f"report's column for it")
    timeout = value.get("timeout_s", DEFAULT_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise FairnessError(f"{what}.timeout_s: {timeout!r}; expected seconds, a number above 0")
    if not isinstance(value.get("gpu", False), bool):
        raise FairnessError(f"{what}.gpu: expected true or false (whether each run needs a GPU of its own)")
    return {form: value[form], "metric": metric, "timeout_s": float(timeout), "gpu": value.get("gpu", False)}


class HookFailed(Exception):
    """The hook gave no quality for a model; the message is the report's reason."""


def answer(text: str, metric: str, where: str) -> float:
    """The number in a hook's answer: a JSON number, or {metric: number}."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise HookFailed(f"{where} holds {text.strip()[:60]!r}, not JSON; write a number such as 0.93") from None
    if isinstance(value, dict):
        if metric not in value:
            raise HookFailed(f"{where} has no {metric!r} (keys: {', '.join(map(str, value)) or 'none'})")
        value = value[metric]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise HookFailed(f"{where} holds {value!r}; expected a finite number")
    return float(value)


def _last_line(text: str) -> str:
    lines = [x for x in (text or "").strip().splitlines() if x.strip()]
    return lines[-1][-200:] if lines else ""


def run_hook(hook: dict, model: dict) -> float:
    """The hook's quality for one model ({name, source, kwargs, input, role}); HookFailed says why not."""
    with tempfile.TemporaryDirectory(prefix="fairness-quality-") as tmp:
        out = Path(tmp) / "quality.json"
        if "command" in hook:
            cmd = hook["command"].format(kwargs_json=json.dumps(model["kwargs"] or {}, sort_keys=True),
                                         source=model["source"], name=model["name"], out=str(out))
            argv, shell = cmd, True
        else:
            task = {"hook": hook["python"], "model": model, "out": str(out)}
            argv, shell = [sys.executable, "-m", "fairness.quality", json.dumps(task)], False
        from .step import child_env  # the child imports the user's modules as this process does

        try:
            proc = subprocess.run(argv, shell=shell, capture_output=True, text=True, timeout=hook["timeout_s"],
                                  env=child_env())
        except subprocess.TimeoutExpired:
            raise HookFailed(f"timed out after {hook['timeout_s']:g} s (quality.timeout_s)") from None
        if proc.returncode != 0:
            why = _last_line(proc.stderr) or _last_line(proc.stdout) or "no output"
            raise HookFailed(f"exit {proc.returncode}: {why}")
        if out.exists():
            return answer(out.read_text(), hook["metric"], "its answer")
        if "command" in hook and "{out}" not in hook["command"]:
            return answer(_last_line(proc.stdout), hook["metric"], "its last line of output")
        raise HookFailed("it wrote no answer to {out}")


def quality_task(hook: dict, models: list[dict], handoff: tuple, progress: Progress = lambda m: None) -> list:
    """One executor task: the hook for each model, each result kept in the cache as it is done.
    Returns (value or None, reason or None) per model."""
    cache, out = Cache.opened(handoff), []
    for m in models:
        key = _key(hook, m)
        kept = cache.get(key, reuse=True)
        if kept is not None:
            progress(f"{m['name']}: {hook['metric']} {kept:g}, kept from an earlier run (the cache)")
            out.append((kept, None))
            continue
        progress(f"{m['name']}: running the quality hook")
        start = time.perf_counter()
        try:
            value = run_hook(hook, m)
        except HookFailed as e:
            progress(f"{m['name']}: the quality hook failed: {e}")
            out.append((None, str(e)))
            continue
        cache.put(key, value)
        progress(f"{m['name']}: {hook['metric']} {value:g} in {time.perf_counter() - start:.1f} s")
        out.append((value, None))
    return out


def _key(hook: dict, m: dict) -> dict:
    """What a model's quality depends on: the hook, and the model (its source, arguments, input)."""
    return {"kind": "quality", "label": m["name"], "hook": {k: hook[k] for k in ("command", "python", "metric")
                                                            if k in hook},
            "source": m["source"], "kwargs": m["kwargs"], "input": m["input"]}


def fill_quality(res: dict, hook: dict, cache: Cache, executor=None, progress: Progress = lambda m: None) -> None:
    """Run the hook for the proposed model, the baselines and the variants of a results file (not a
    curve's members: their quality is published), and write each answer, or why there is none, into
    its record. Local: one after another; Ray: one task per model, side by side."""
    executor = executor or LocalExecutor()
    todo = [m for m in res["models"] if not m.failed and m.role != Role.CURVE]
    missing = [m.name for m in todo if not m.source]
    if missing:
        raise FairnessError(f"quality: the hook needs each model as a source; {', '.join(missing)} was given as "
                            f"an object")
    specs = [{"name": m.name, "source": m.source, "kwargs": m.kwargs or {}, "input": m.input, "role": m.role}
             for m in todo]
    groups = [[s] for s in specs] if executor.name != "local" else [specs]
    tasks = [Task(quality_task, (hook, g, cache.handoff()), f"quality of {', '.join(s['name'] for s in g)}",
                  gpu=hook["gpu"]) for g in groups]
    progress(f"quality: running the hook for {len(specs)} models ({hook['metric']})")
    outcomes = executor.run(tasks, progress)
    answered = {}  # model name -> (value, why there is none)
    for group, done in zip(groups, outcomes):
        answers = done.value if not done.failed else [(None, done.failed)] * len(group)
        for spec, (value, why) in zip(group, answers):
            if value is not None:
                cache.put(_key(hook, spec), value)
            answered[spec["name"]] = (value, why)
    res["models"] = [_answered(m, hook["metric"], *answered[m.name]) if m.name in answered else m
                     for m in res["models"]]
    res["quality_hook"] = {k: v for k, v in hook.items()}


def _answered(m: ModelRecord, metric: str, value: float | None, why: str | None) -> ModelRecord:
    """The record with the hook's answer: its number beside the stated quality, or why it has none."""
    if value is None:
        return m.with_(quality_failed=why)
    return m.with_(quality={**(m.quality or {}), metric: value}).without("quality_failed")


def _child(task: dict) -> int:
    """The python hook in a child process: build the model on the CPU, call the hook, write its answer."""
    from .sources import build, import_attr, parse_source

    fn = import_attr(task["hook"], "quality: python:")
    model = build(parse_source(task["model"]["source"], task["model"]["kwargs"]), "cpu")
    value = fn(model, task["model"])
    if hasattr(value, "item"):  # a tensor or numpy scalar
        value = value.item()
    Path(task["out"]).write_text(json.dumps(value, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(_child(json.loads(sys.argv[1])))
