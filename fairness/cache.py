"""Finished measurements, kept so that an interrupted run can resume (`--resume`).

Each measurement is stored as soon as it is done, atomically (a temporary file, then a
rename), under a key built from everything it depends on: the model (source and kwargs),
its inputs, the settings, and the environment (versions of fairness, torch, timm,
transformers; CPU; device). A run with `--resume` reuses every entry whose key matches and
measures only the rest; an entry that cannot be read (a truncated file) is measured again.
Models given as Python objects have no stable key and are always measured. Within one
run, an entry is measured once: `compare` counts the proposed model and the baseline before
its variant search and reads those counts back for the final table.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

from .errors import FairnessError
from .results import canonical


def identity(env: dict) -> dict:
    """The parts of the environment a cached measurement must share with this run."""
    from .version import __version__

    return {"fairness": __version__, **{k: env.get(k) for k in ("torch", "timm", "transformers", "cpu",
                                                                 "device", "device_name", "dtype")}}


class Cache:
    def __init__(self, folder: str | Path | None, reuse: bool = False,
                 progress: Callable[[str], None] = lambda m: None):
        self.folder = Path(folder) if folder is not None else None
        self.reuse = reuse
        self.progress = progress
        self.reused = 0  # entries read back from an earlier run
        self._this_run: dict[str, Any] = {}  # what this run measured: never measured twice

    @staticmethod
    def key(what: dict) -> str:
        return hashlib.sha256(canonical(what).encode()).hexdigest()[:32]

    def get(self, what: dict, reuse: bool | None = None) -> Any | None:
        """A kept entry, or None. `reuse` overrides the run's --resume for this read (a trained
        model's quality is reused by every run: a training is too dear to repeat by default)."""
        key = self.key(what)
        if key in self._this_run:
            return json.loads(self._this_run[key])  # a copy: callers may change what they get
        if not (self.reuse if reuse is None else reuse) or self.folder is None:
            return None
        path = self.folder / f"{key}.json"
        try:
            entry = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        if entry.get("what") != json.loads(canonical(what)):
            return None  # a hash collision or an edited file: measure again
        self.reused += 1
        self.progress(f"reusing {what.get('kind')} of {what.get('label', '')} from {path.name}")
        # read once per run: a later get (a timing group's count of its models) is not a second reuse
        self._this_run[key] = json.dumps(entry["value"], sort_keys=True)
        return entry["value"]

    def handoff(self) -> tuple:
        """What a task in another process needs to open this cache (`opened`): the folder, whether to
        reuse, and what this run has measured so far."""
        # absolute: a Ray worker does not run in this process's working directory
        return (str(self.folder.resolve()) if self.folder is not None else None, self.reuse, dict(self._this_run))

    @classmethod
    def opened(cls, handoff: tuple, progress: Callable[[str], None] = lambda m: None) -> "Cache":
        folder, reuse, entries = handoff
        cache = cls(folder, reuse, progress)
        cache._this_run.update(entries)
        return cache

    def absorb(self, other_entries: dict, reused: int) -> None:
        """A task's cache, back in this one: its measurements, and how many it reused."""
        self._this_run.update(other_entries)
        self.reused += reused

    def entries(self) -> dict:
        return dict(self._this_run)

    def put(self, what: dict, value: Any) -> None:
        self._this_run[self.key(what)] = canonical(value)
        if self.folder is None:
            return
        path = self.folder / f"{self.key(what)}.json"
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp.write_text(canonical({"what": what, "value": value}))
            os.replace(tmp, path)  # the entry appears whole or not at all
        except OSError as e:  # a full disk, a folder taken away: say so, as for the results file
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise FairnessError(f"cannot keep a measurement in {self.folder}: {e.strerror}; "
                                f"choose another --out") from None
        except BaseException:  # Ctrl-C mid-write: leave no temporary file behind (a kill may)
            tmp.unlink(missing_ok=True)
            raise
