"""The run settings a user gives: a compare config's or a zoo file's measure: section, and the
command line's options of the same names. One home for their keys, their checks and their
defaults; the command line wins over the file (`merged`), and `to_run_settings` turns the result
into the RunSettings that every speed number records.

RunSettings (step.py) is what a measurement ran with, for the Python API as much as for files;
check_settings there refuses what the device cannot run. This module checks what a file or a
command line can get wrong: unknown keys (with the closest known one) and values of the wrong
kind, naming the file and the key.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields, replace

from .errors import FairnessError
from .step import COMPILE_MODES, PRECISIONS, RunSettings


def check_keys(d, allowed, what: str) -> None:
    """A mapping whose keys are all known; the error names the closest known key."""
    if not isinstance(d, dict):
        raise FairnessError(f"{what}: expected a mapping, got {type(d).__name__}")
    unknown = set(d) - set(allowed)
    if unknown:
        key = sorted(map(str, unknown))[0]
        close = difflib.get_close_matches(key, sorted(allowed), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise FairnessError(f"{what}: unknown key {key!r}{hint} (known: {', '.join(sorted(allowed))})")


def _positive_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _boolean(v) -> bool:
    return isinstance(v, bool)


# key: (accepts, what it expects): the kinds of value a measure: key takes
def _generate_ok(v) -> bool:
    from .errors import FairnessError
    from .indicators.generate import parse_generate

    try:
        parse_generate(v)
    except FairnessError:
        return False
    return True


_CHECKS = {
    "device": (lambda v: isinstance(v, str) and v.split(":")[0] in ("cpu", "cuda"), "cpu, cuda or cuda:N"),
    "count_device": (lambda v: isinstance(v, str) and v.split(":")[0] in ("meta", "cpu", "cuda"),
                     "meta, cpu, cuda or cuda:N"),
    "seq_len": (_positive_int, "a positive integer"),
    "image_size": (lambda v: _positive_int(v) or (isinstance(v, (list, tuple)) and len(v) == 2
                                                  and all(_positive_int(x) for x in v)), "S or [H, W]"),
    "speed": (_boolean, "true or false"),
    "isolate": (_boolean, "true or false"),
    "batch": (lambda v: _positive_int(v) or v == "auto" or (isinstance(v, (list, tuple)) and v and all(
        _positive_int(x) or x == "auto" for x in v)), "a positive integer, auto, or a list of them"),
    "dtype": (lambda v: v in ("float32", "bfloat16", "float16"), "float32, bfloat16 or float16"),
    "min_time": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 3600,
                 "seconds, between 0 and 3600"),
    "inputs": (lambda v: isinstance(v, str) and v.startswith("python:"), "python:module:function"),
    "channels_last": (lambda v: v in (True, False, "auto"), "auto, true or false"),
    "compile": (lambda v: v in (True, False) or v in COMPILE_MODES,
                f"false, true or a mode ({', '.join(COMPILE_MODES)})"),
    "tf32": (_boolean, "true or false"),
    "threads": (_positive_int, "a positive integer"),
    "train": (_boolean, "true or false"),
    "cuda_graphs": (_boolean, "true or false"),
    "generate": (lambda v: _generate_ok(v), "PROMPT:NEW, e.g. 512:128, or {prompt: 512, new: 128}"),
    "precision": (lambda v: isinstance(v, str) and len(set(v.split(","))) == len(v.split(","))
                  and set(v.split(",")) <= set(PRECISIONS), "native, autocast, or native,autocast"),
}


def check_values(d: dict, what: str | None) -> None:
    """Each measure: key given in `d` holds a value of its kind (a model's own image_size and
    seq_len are checked with the same rules). `what` names the file's section; None: the values
    came from the command line alone, and the error names the option."""
    for key, (ok, expected) in _CHECKS.items():
        if key in d and not ok(d[key]):
            if what is None:  # as the option was typed
                raise FairnessError(f"--{key.replace('_', '-')} {d[key]}: expected {expected}")
            raise FairnessError(f"{what}.{key}: {d[key]!r}; expected {expected}")


_CHANNELS_LAST = {"auto": "auto", "true": True, "false": False}


@dataclass(frozen=True)
class MeasureSection:
    """A measure: section, with its one default per key."""

    device: str | None = None  # None: the command line's --device, else cuda if visible, else cpu
    count_device: str = "meta"  # where counts run: meta needs no memory and gives the same counts
    seq_len: int | None = None  # None: 128 for token models
    image_size: int | tuple | None = None  # None: the model's own config
    speed: bool = True  # false: counts only
    batch: tuple = (1,)  # ints, or "auto": the largest power of two that fits (CUDA)
    dtype: str = "float32"
    min_time: float = 1.0  # seconds of timing per model and quantity, at least (graph replays stop sooner once known)
    inputs: str | None = None  # python:module:function(batch_size, device), for models with odd inputs
    isolate: bool = False  # each model in a worker process of its own
    # on for convolutional models, as users run them (channels_last_for); true or false forces it
    channels_last: bool | str = "auto"
    compile: bool | str = False  # a torch.compile mode; true is "default"
    tf32: bool = False  # torch's own default
    threads: int | None = None  # None: this machine's physical cores
    train: bool = False  # also time a training step
    cuda_graphs: bool | None = None  # None: on for CUDA (graph replays beside eager)
    precision: str | None = None  # None: native for bfloat16 and float16
    # also time text generation (causal LMs): "512:128" or {prompt: 512, new: 128}; None: forward passes only
    generate: str | dict | None = None

    @classmethod
    def keys(cls) -> set[str]:
        return {f.name for f in fields(cls)}

    @classmethod
    def from_yaml(cls, section, what: str) -> "MeasureSection":
        """A file's measure: section (None or a mapping), checked."""
        section = section or {}
        check_keys(section, cls.keys(), what)
        check_values(section, what)
        return cls()._with(section)

    @staticmethod
    def from_cli(channels_last=None, compile_mode=None, threads=None, train=None, tf32=None, cuda_graphs=None,
                 precision=None, generate=None, **given) -> dict:
        """The options given on a command line, as measure: keys (an option left out is None and
        is not given: the file's value, or the default, stands)."""
        given.update(channels_last=_CHANNELS_LAST.get(channels_last), compile=compile_mode, threads=threads,
                     train=train, tf32=tf32, cuda_graphs=cuda_graphs, precision=precision, generate=generate)
        return {k: v for k, v in given.items() if v is not None}

    def merged(self, overrides: dict | None, what: str | None = None) -> "MeasureSection":
        """This section with the command line's values (`from_cli`), which win. `what` names the
        file's section in errors; None: there is no file."""
        overrides = overrides or {}
        check_values(overrides, what and f"{what} (with the command line's settings)")
        return self._with(overrides)

    def _with(self, d: dict) -> "MeasureSection":
        d = dict(d)
        if isinstance(d.get("batch"), (int, str)):
            d["batch"] = (d["batch"],)
        if isinstance(d.get("image_size"), list):
            d["image_size"] = tuple(d["image_size"])
        if "batch" in d:
            d["batch"] = tuple(d["batch"])
        return replace(self, **d)

    def to_run_settings(self, device: str | None = None, **extra) -> RunSettings:
        """The speed settings these give; `device` (the command line's) wins over the section's;
        `extra`: RunSettings' own fields (idle, energy, workload_examples, ...)."""
        return RunSettings(device=device or self.device or "cpu", dtype=self.dtype, batch_sizes=self.batch,
                           min_duration_s=float(self.min_time), isolate=self.isolate,
                           channels_last=self.channels_last,
                           compile="default" if self.compile is True else (self.compile or None), tf32=self.tf32,
                           threads=self.threads, train=self.train, cuda_graphs=self.cuda_graphs,
                           precision=self.precision, generate=self.generation, **extra)

    @property
    def generation(self) -> tuple[int, int] | None:
        if self.generate is None:
            return None
        from .indicators.generate import parse_generate

        spec = parse_generate(self.generate)
        return spec.prompt, spec.new
