"""`--isolate`: every model runs in a worker process of its own.

In one process, models timed together share the caching allocator (one model's freed
blocks serve the next, and its fragmentation too), cuDNN's autotuner cache, torch.compile's
caches and the CUDA context. A worker per model keeps each model's state its own: a
model's numbers do not depend on which models ran beside it. The models are still timed
in interleaved rounds (A B, B A, ...): the parent drives every worker through the four
calls of a StepTimer (warm up, re-warm, a timed block, single-call times), and each worker
times itself (CUDA events on its own stream), so the parent's messages stay out of the
times. Only one worker runs at a time; the others wait on their pipe.

The protocol is one JSON line per request (stdin) and per answer (a duplicate of the
child's original stdout; the child's own fd 1 goes to its stderr, so a model that prints
cannot break it). The child's stderr is kept in a temporary file, whose last line is
shown if the child dies.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile

from .errors import FairnessError
from .step import child_env



class WorkerError(Exception):
    """An error raised in a worker, or its death. `remote_type` names the child's exception."""

    def __init__(self, message: str, remote_type: str = "WorkerError"):
        super().__init__(message)
        self.remote_type = remote_type


class Worker:
    """The parent's handle on one model's worker process."""

    def __init__(self, name: str, rebuild: dict, settings):
        self.name = name
        self._log = tempfile.TemporaryFile(mode="w+")
        task = {"name": name, "rebuild": rebuild, "settings": dataclasses.asdict(settings)}
        self._proc = subprocess.Popen([sys.executable, "-m", "fairness.isolate", json.dumps(task)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                      text=True, env=child_env())
        self._ready = False
        self.precision: dict | None = None

    @property
    def pid(self) -> int:
        return self._proc.pid

    def wait_ready(self) -> None:
        """Block until the child has built its model on the device (or raise why it could not)."""
        if not self._ready:
            self.precision = self._answer()["precision"]  # how the worker runs the model's inference
            self._ready = True

    def _answer(self):
        line = self._proc.stdout.readline()
        if not line:
            code = self._proc.wait()
            raise WorkerError(f"the worker process of {self.name} ended (exit {code}); "
                              f"last line of its output: {self._tail()}")
        reply = json.loads(line)
        if reply.get("type") == "FairnessError":  # bad input found in the child: the same one-line error
            raise FairnessError(reply["error"])
        if "error" in reply:
            raise WorkerError(reply["error"], reply.get("type", "WorkerError"))
        return reply["value"]

    def _tail(self) -> str:
        self._log.seek(0)
        lines = [ln for ln in self._log.read().splitlines() if ln.strip()]
        return lines[-1][:300] if lines else "none"

    def call(self, op: str, *args):
        self.wait_ready()
        try:
            self._proc.stdin.write(json.dumps({"op": op, "args": list(args)}) + "\n")
            self._proc.stdin.flush()
        except BrokenPipeError:
            pass  # it died: _answer reads the end of its output and says so
        return self._answer()

    def prepare(self, b: int, train: bool, graph: bool = False) -> "RemotePrepared":
        return RemotePrepared(self, self.call("prepare", b, train, graph))

    def auto_batch(self) -> tuple[int, str]:
        best, why = self.call("auto_batch")
        return best, why

    def close(self) -> None:
        """Ask the child to exit; kill it if it does not within a few seconds."""
        if self._proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                self._proc.stdin.write(json.dumps({"op": "close", "args": []}) + "\n")
                self._proc.stdin.flush()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for f in (self._proc.stdin, self._proc.stdout, self._log):
            with contextlib.suppress(OSError, ValueError):
                f.close()


class RemotePrepared:
    """A model prepared at one batch size in its worker: a step.PreparedModel, each call
    answered by the worker's step.Prepared."""

    def __init__(self, worker: Worker, facts: dict):
        self._worker = worker
        self.first_call_s, self.per_call_s, self.tokens = facts["first_call_s"], facts["per_call_s"], facts["tokens"]

    def warmup(self, seconds: float, min_calls: int) -> None:
        self._worker.call("warmup", seconds, min_calls)

    def rewarm(self) -> None:
        self._worker.call("rewarm")

    def block(self, calls: int) -> float:
        return self._worker.call("block", calls)

    def singles(self, n: int) -> tuple[float, ...]:
        return tuple(self._worker.call("singles", n))

    def cuda_memory(self) -> dict:
        return self._worker.call("cuda_memory")

    def idle(self, steps: int) -> float:
        return self._worker.call("idle", steps)

    def energy(self) -> dict:
        return self._worker.call("energy")

    def gpu_state(self) -> dict | None:
        return self._worker.call("gpu_state")

    def sustained(self, calls: int, settle_s: float) -> dict:
        return self._worker.call("sustained", calls, settle_s)


@contextlib.contextmanager
def workers(runs: list, settings, progress):
    """Start a worker for every run (all at once: each imports torch and builds its model in
    parallel), attach it as `run.worker`, and stop them all at the end, whatever happens.
    A worker that cannot start marks its run as failed, with the reason."""
    started = []
    try:
        for run in runs:
            progress(f"starting a worker process for {run.name} (--isolate)")
            run.worker = Worker(run.name, run.rebuild, dataclasses.replace(settings, channels_last=run.channels_last))
            started.append(run.worker)
        for run in runs:
            try:
                run.worker.wait_ready()
            except (WorkerError, FairnessError) as e:
                run.failed = f"{run.name}: its worker process could not build it: {e}"
        yield
    finally:
        for w in started:
            w.close()
        for run in runs:
            run.worker = None


def check_isolatable(runs: list) -> None:
    """Every model must be rebuildable in another process: a source, not a Python object."""
    objects = [run.name for run in runs if run.rebuild is None]
    if objects:
        raise FairnessError(f"--isolate: {', '.join(objects)} given as a Python object, which another process "
                            f"cannot rebuild; give it as a source (timm:, hf:, python:package.module:factory) "
                            f"or pass --no-isolate")


# --- the child ------------------------------------------------------------------------------


def _serve(task: dict, answers) -> None:
    import torch

    from .step import Prepared, RunSettings, Runnable, apply_settings, auto_batch, free_cache
    from .sources import build_from

    fields = dict(task["settings"], batch_sizes=tuple(task["settings"]["batch_sizes"]), isolate=False)
    s = RunSettings(**fields)
    apply_settings(s)

    def reply(**kw):
        answers.write(json.dumps(kw) + "\n")
        answers.flush()

    try:
        module, inputs_at = build_from(task["rebuild"], s.device)
        if s.channels_last:
            module.to(memory_format=torch.channels_last)
        run = Runnable(task["name"], module, inputs_at, rebuild=task["rebuild"], compile=s.compile,
                       channels_last=s.channels_last)
        precision = run.set_precision(s, keep_float32=s.train)
    except Exception as e:
        message = str(e) if isinstance(e, FairnessError) else f"{type(e).__name__}: {str(e).strip()[:300]}"
        reply(error=message, type=type(e).__name__)
        return
    reply(value={"pid": os.getpid(), "precision": precision})
    prepared = None
    for line in sys.stdin:
        msg = json.loads(line)
        op, args = msg["op"], msg["args"]
        if op == "close":
            return
        try:
            if op == "prepare":
                prepared = None  # drop the last batch size's step before the next is made
                free_cache(s.torch_device)
                prepared = Prepared(run, args[0], s, *args[1:])
                value = {"first_call_s": prepared.first_call_s, "per_call_s": prepared.per_call_s,
                         "tokens": prepared.tokens}
            elif op == "auto_batch":
                value = list(auto_batch(run, s, lambda m: None))
            else:
                value = getattr(prepared, op)(*args)
            reply(value=value)
        except Exception as e:
            reply(error=str(e).strip()[:2000] or type(e).__name__, type=type(e).__name__)


if __name__ == "__main__":
    # Answers go to a copy of the original stdout; fd 1 now points at stderr, so anything the
    # model prints lands in the log, not in the protocol.
    _answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _serve(json.loads(sys.argv[1]), _answers)
