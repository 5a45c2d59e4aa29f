"""`merge`: the same models measured on several targets, side by side.

A target is where and how a results file was timed: the device, the dtype, the batch sizes,
eager or compiled, the thread count. `fairness zoo` (or `measure`, or `compare`) run once per
target gives one results.json each; the merge puts them into one table with a column per target
and says where the targets rank the models differently: the paper's point that speed is a
property of the hardware and the implementation as much as of the model.

Models are matched by source, kwargs and input, never by display name (two files may name one
model differently, or one name may stand for two configurations). Counts do not depend on the
target (the same model gives the same numbers on meta, CPU and CUDA), so a model whose counts
differ between two files is two models, and the merge is refused. A model measured in one file
only is listed as missing from the others; the rest goes on.

The finding: for every pair of targets, Kendall's tau-b between the rankings by throughput (and
by latency) of the models both timed. Where some pair of models swaps order, a `hardware-mismatch`
finding says so and names the pair whose order is reversed most clearly.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict

from . import results as results_mod
from .errors import FairnessError
from .flags import REF, Flag
from .readings import INDICATORS, SPEED_NOISE, measured
from .record import ModelRecord
from .zoo import kendall_tau_b, shown

COUNTS = ("params", "macs", "flops")  # must agree between targets: counts do not depend on where a model runs
SPEEDS = ("throughput", "latency")  # the rankings compared between targets
PER_TARGET = SPEEDS + ("peak_memory",)  # one column per target in the reports
DTYPES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}
# what tells targets apart beyond device and dtype; in a label only where the files differ in it
EXTRAS = ("device_name", "mode", "batch", "threads")
# a merged model's fields, from the first file that has it; its speeds are under "targets"
MERGED = ("id", "role", "name", "source", "kwargs", "input", "params", "flops", "quality", "quality_source")


# --- targets -----------------------------------------------------------------------------------


def _settings(res: dict) -> dict:
    """The speed settings the file was timed with (the same for every model of one run); {} when
    it holds counts only."""
    return next((m.speed.settings for m in res["models"] if m.speed is not None and m.speed.settings), {})


def where_measured(res: dict, path: str) -> dict:
    """Where and how a results file was measured, from its environment and speed settings."""
    env, s = res.get("environment") or {}, _settings(res)
    compiled = s.get("compile") or env.get("compile")
    return {"file": str(path), "device": str(s.get("device") or env.get("device") or "?").split(":")[0],
            "device_name": env.get("device_name"), "dtype": s.get("dtype") or env.get("dtype") or "float32",
            "mode": f"compiled ({compiled})" if isinstance(compiled, str) else "compiled" if compiled else "eager",
            "batch": ",".join(str(b) for b in s.get("batch_sizes") or []) or None,
            "threads": s.get("threads") or env.get("threads"), "timed": bool(s), "torch": env.get("torch")}


def label_targets(targets: list[dict]) -> None:
    """Each target's label: device/dtype, then whatever else differs between the files
    ('cuda/bf16', 'cpu/fp32/batch 64'); files of the same target also get their path."""
    differ = [k for k in EXTRAS if len({t[k] for t in targets}) > 1]
    if "device_name" in differ and len({t["device"] for t in targets}) == len(targets):
        differ.remove("device_name")  # 'cuda' and 'cpu' already say it: the CPU's name would be noise
    for t in targets:
        extra = [f"batch {t['batch']}" if k == "batch" else f"{t[k]} threads" if k == "threads" else str(t[k])
                 for k in differ]
        t["label"] = "/".join([t["device"], DTYPES.get(t["dtype"], t["dtype"]), *extra])
    labels = [t["label"] for t in targets]
    for t in targets:
        if labels.count(t["label"]) > 1:
            t["label"] += f" ({t['file']})"


# --- models ------------------------------------------------------------------------------------


def model_key(m: ModelRecord) -> str:
    """What makes two records one model: its source, its constructor's arguments and its input."""
    return json.dumps([m.source, m.kwargs or {}, m.input or {}], sort_keys=True, default=str)


def _number(v: float) -> str:
    return f"{int(v):,}" if float(v).is_integer() else f"{v:,}"


def _check_counts(name: str, seen: list[tuple[str, ModelRecord]]) -> None:
    """One model's counts in every file that has it: equal, or the merge is refused."""
    for key in COUNTS:
        given = [(file, v) for file, m in seen if (v := measured(m, key)) is not None]
        for file, v in given[1:]:
            if v != given[0][1]:
                raise FairnessError(
                    f"merge: {name} has {_number(given[0][1])} {INDICATORS[key].label} in {given[0][0]} but "
                    f"{_number(v)} in {file}; counts do not depend on the target, so these are two different "
                    f"models (other code or kwargs): merge files measured from the same model code")


def _check_paths(paths: list[str]) -> None:
    if len(paths) < 2:
        raise FairnessError(f"merge: {len(paths)} results file given; expected two or more, one per target "
                            f"(e.g. fairness merge cuda/results.json cpu/results.json)")
    twice = next((p for p in paths if paths.count(p) > 1), None)
    if twice:
        raise FairnessError(f"merge: {twice} is given twice; give each target's results file once")


def merge(files: list[tuple[str, dict]], name: str = "merge") -> dict:
    """Results files of the same models on different targets, as one results file: a model per
    source, kwargs and input, with its speeds on every target, the rankings' agreement between
    targets and the hardware-mismatch findings."""
    _check_paths([p for p, _ in files])
    files = [(path, results_mod.typed_models(res)) for path, res in files]  # results dicts built by hand too
    targets = [where_measured(res, path) for path, res in files]
    label_targets(targets)
    merged: dict[str, ModelRecord] = {}  # by model_key, in the order first seen: fields from the first file
    on: dict[str, dict] = {}  # by model_key: the model's values on each target, by label
    seen: dict[str, list[tuple[str, ModelRecord]]] = {}
    failed = []
    for t, (path, res) in zip(targets, files):
        keys: dict[str, str] = {}
        for m in res["models"]:
            if m.failed and not m.source:  # a failed record keeps only its name: no key to match
                failed.append({"model": m.name, "target": t["label"], "reason": m.failed})
                continue
            k = model_key(m)
            if k in keys:
                raise FairnessError(f"merge: {path} holds {keys[k]} and {m.name} with the same source, kwargs and "
                                    f"input; a merge matches models by these, so keep one of them")
            keys[k] = m.name
            seen.setdefault(k, []).append((path, m))
            if k not in merged:  # a field the file lacks is null in the merge, not the record's default
                merged[k] = ModelRecord.from_plain({key: getattr(m, key) if m.has(key) else None for key in MERGED})
            on.setdefault(k, {})[t["label"]] = (
                {"failed": m.failed} if m.failed else {k2: shown(m, k2) for k2 in PER_TARGET})
    for k, m in merged.items():
        _check_counts(m.name, seen[k])
    for f in failed:  # by name, the one thing a failed record keeps: its cell says failed, not missing
        k = next((k for k, m in merged.items() if m.name == f["model"] and f["target"] not in on[k]), None)
        if k is not None:
            on[k][f["target"]] = {"failed": f["reason"]}
    models = [m.with_(targets=on[k]) for k, m in merged.items()]
    labels = [t["label"] for t in targets]
    missing = [{"model": m.name, "from": [lab for lab in labels if lab not in m.targets]}
               for m in models if len(m.targets) < len(labels)]
    rankings = agreement(models, labels)
    flags = [asdict(f) for r in rankings if (f := mismatch_flag(r))]
    envs = [res.get("environment") or {} for _, res in files]
    common = {k: v for k, v in envs[0].items() if all(e.get(k) == v for e in envs[1:])}
    out = results_mod.new_results(models, common, flags=flags)
    out["merge"] = {"name": name, "targets": targets, "rankings": rankings, "missing": missing, "failed": failed,
                    "quality": _quality_name(files)}
    return out


def _quality_name(files: list[tuple[str, dict]]) -> str | None:
    """The quality number the zoo files' fronts used (the first file's), if any."""
    return next(((res.get("zoo") or {}).get("quality") for _, res in files if (res.get("zoo") or {}).get("quality")),
                None)


# --- the rankings between targets ----------------------------------------------------------------


def cell(m: ModelRecord, label: str, key: str) -> float | None:
    """A model's value of a per-target indicator on one target (None: missing, failed, not timed)."""
    return (m.targets.get(label) or {}).get(key)


def _speed_cost(m: ModelRecord, label: str, key: str) -> float | None:
    """A model's speed on a target as a cost, lower better: seconds per sample, or seconds."""
    v = cell(m, label, key)
    return None if v is None or v <= 0 else 1 / v if INDICATORS[key].higher_is_better else v


def agreement(models: list[ModelRecord], labels: list[str]) -> list[dict]:
    """For every pair of targets and each speed: Kendall's tau-b over the models timed on both,
    and the pair of models whose order is reversed most clearly (None when no pair swaps)."""
    out = []
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            for key in SPEEDS:
                both = [(m.name, ca, cb) for m in models
                        if (ca := _speed_cost(m, a, key)) is not None and (cb := _speed_cost(m, b, key)) is not None]
                tau = kendall_tau_b([x[1] for x in both], [x[2] for x in both])
                if tau is not None:
                    out.append({"indicator": key, "targets": [a, b], "tau": tau, "models": len(both),
                                "swap": _clearest_swap(both)})
    return out


def _clearest_swap(both: list[tuple[str, float, float]]) -> dict | None:
    """Of the pairs of models in the opposite order on the two targets, the one whose smaller gap
    (in log ratio) is largest: the swap least likely to be timing noise. A swap by less than
    SPEED_NOISE on either target is none: two runs of one model in two processes differ by that
    much."""
    best, margin = None, math.log(1 + SPEED_NOISE)
    for i, (n1, a1, b1) in enumerate(both):
        for n2, a2, b2 in both[i + 1:]:
            ra, rb = math.log(a1 / a2), math.log(b1 / b2)  # > 0: the first model costs more
            if ra * rb < 0 and min(abs(ra), abs(rb)) > margin:
                margin = min(abs(ra), abs(rb))
                # the model cheaper (faster) on the first target first
                best = ({"faster": n1, "slower": n2, "ratio_a": a2 / a1, "ratio_b": b2 / b1} if ra < 0 else
                        {"faster": n2, "slower": n1, "ratio_a": a1 / a2, "ratio_b": b1 / b2})
    return best


def mismatch_text(r: dict) -> str:
    """'The ranking by throughput changes between cuda/bf16 and cpu/fp32: tau 0.41; resnet50 is
    faster than vit_b16 on cuda/bf16 but slower on cpu/fp32 (1.52x the throughput of vit_b16 on
    cuda/bf16, 0.81x on cpu/fp32)'. Latency says 'as fast as': both ratios are speed-ups."""
    a, b = r["targets"]
    s = r["swap"]
    ratio = (f"the throughput of {s['slower']}" if r["indicator"] == "throughput"
             else f"as fast as {s['slower']} at batch 1")
    return (f"The ranking by {INDICATORS[r['indicator']].label} changes between {a} and {b}: tau {r['tau']:.2f}; "
            f"{s['faster']} is faster than {s['slower']} on {a} but slower on {b} ({s['ratio_a']:.3g}x {ratio} on "
            f"{a}, {s['ratio_b']:.3g}x on {b})")


def mismatch_flag(r: dict) -> Flag | None:
    if r["swap"] is None:
        return None
    a, b = r["targets"]
    return Flag("hardware-mismatch", "warn", [r["swap"]["faster"], r["swap"]["slower"]],
                {"indicator": r["indicator"], "targets": r["targets"], "tau": r["tau"], "models": r["models"],
                 **{k: r["swap"][k] for k in ("ratio_a", "ratio_b")}},
                mismatch_text(r), f"Choose the model by its speed on the target it will run on: a ranking on {a} "
                                  f"does not carry to {b}.", REF["hardware"], scope="model")


def load_merge(paths: list[str], name: str = "merge") -> dict:
    """The whole `fairness merge`: read the files, merge them."""
    _check_paths([str(p) for p in paths])  # before any file is read
    return merge([(str(p), results_mod.load(p)) for p in paths], name)


def describe(t: dict) -> str:
    """A target in words, for the reports: 'cpu (Intel Xeon), bfloat16, eager, batch 1, 2 threads'."""
    parts = [t["device"] + (f" ({t['device_name']})" if t.get("device_name") else ""), t["dtype"], t["mode"]]
    if t.get("batch"):
        parts.append(f"batch {t['batch']}")
    if t.get("threads"):
        parts.append(f"{t['threads']} threads")
    parts.append(f"torch {t['torch']}" if t.get("torch") else "")
    return ", ".join(p for p in parts if p) + ("" if t["timed"] else "; counts only, not timed")


def quality_of(m: ModelRecord, q: str | None) -> float | None:
    # `or {}`: a merged model whose first file had no quality holds null (MERGED)
    return (m.quality or {}).get(q) if q else None
