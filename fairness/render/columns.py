"""The rows and columns of a comparison table, with their units and which way is better: one
home for the HTML and LaTeX tables and the figures' numbering. Each column is an indicator of
readings.py, read the same way.

Rows come in groups: the comparison as made (the proposed model and the baseline), then one
group per indicator the baseline's variants are matched on. "Best" is marked only inside a
group, where a comparison means something: the proposed model against the baseline, or the
variants of one matched group against each other on what they were not matched on. Across
groups it would rank variants that fairness built to match, not to compete.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..flags import (OTHER_KERNELS, REPLAY_SLOWER, decode_host_bound, judged_replay, replay_slower, speed_host_bound,
                     ttft_host_bound)
from ..readings import (EAGER_DECODE, GRAPH_DECODE, INDICATORS, JUDGED, Indicator, decode_expansion, measured, quality,
                        unreachable_note)
from ..results import typed_models

# The table's columns, in order; applied and active parameters show sharing and sparsity. Speeds
# replayed from CUDA graphs come before eager ones: they are what the judgement reads where both
# models have them (flags.speed_pair), and eager numbers stay beside them, marked host-bound where
# the host's launches set them.
COLUMNS = tuple(INDICATORS[k] for k in ("params", "applied", "active", "macs", "flops", "graph_throughput",
                                        "graph_latency", "throughput", "latency", "peak_memory", "ttft",
                                        "graph_decode_throughput", "decode_throughput", "kv_cache"))
# Short headers for LaTeX tables, the unit in a row below them, so that a column is as wide as
# its numbers (the scale of each is the indicator's: M parameters, G FLOPs, ms, MiB)
SHORT_HEADS = {"params": ("Params", "M"), "applied": ("Applied", "M"), "active": ("Active", "M"),
               "macs": ("MACs", "G"), "flops": ("FLOPs", "G"), "throughput": ("Throughput", "/s"),
               "latency": ("Latency", "ms"), "graph_throughput": ("Thr., graph", "/s"),
               "graph_latency": ("Lat., graph", "ms"), "peak_memory": ("Memory", "MiB"), "ttft": ("TTFT", "ms"),
               "decode_throughput": ("Decode", "tok/s"), "graph_decode_throughput": ("Dec., graph", "tok/s"),
               "kv_cache": ("KV cache", "KiB/tok")}
# Shown only where they differ from the unique count for some model: otherwise a copy of it.
_PARAM_SENSES = ("applied", "active")
_SENSE_DIFFERS = 0.01


HOST_BOUND_NOTE = (" host-bound: the GPU idled over half of each step, so the host's launches set that speed more "
                   "than the model (a CUDA graph column, if any, is without them).")


SLOWER_REPLAY_NOTE = (f" slower than eager: the CUDA graph replay ran over {REPLAY_SLOWER - 1:.0%} slower than the "
                      f"same forward pass eager, {OTHER_KERNELS}; the eager number is the one judged there, unless it "
                      "is host-bound too.")


CACHE_COPIED_NOTE = (" cache copied: each decode step copied the KV cache up to the query heads before attending "
                     "(transformers' repeat_kv), so it read more than the cache holds; that number times the "
                     "attention's implementation, not the model, and is not judged.")
# the cells that caveat() may mark
CAVEAT_KEYS = ("throughput", "latency", "graph_throughput", "graph_latency", "decode_throughput",
               "graph_decode_throughput", "ttft")
# each caveat (caveat()'s word): its LaTeX mark, the note under a table that explains it, and the
# words for it in the LaTeX note on bold cells
CAVEATS = {"host-bound": ("h", HOST_BOUND_NOTE, "host-bound"),
           "slower than eager": ("s", SLOWER_REPLAY_NOTE, "a replay slower than eager"),
           "cache copied": ("c", CACHE_COPIED_NOTE, "a decode that copied its cache")}


def host_bound(m: dict, col: Indicator = INDICATORS["latency"]) -> bool:
    """An eager throughput, latency, decode or prefill (TTFT) the host's kernel launches set (the
    GPU idled over half of each step of its run; batch-1 latency most of all)."""
    if col.key == "decode_throughput":
        return decode_host_bound(m)
    if col.key == "ttft":
        return ttft_host_bound(m)
    return col.key in ("throughput", "latency") and m.speed is not None and speed_host_bound(m.speed, col.key)


def caveat(m: dict, col: Indicator) -> str | None:
    """Why a speed cell is not the model's speed, in a word or two: an eager one the host's launches
    set ("host-bound"), a replay slower than eager ("slower than eager"), or a decode that copied
    its KV cache up to the query heads ("cache copied"); None for the others."""
    if host_bound(m, col):
        return "host-bound"
    if col.key in ("graph_throughput", "graph_latency") and replay_slower(m.speed, col.key.removeprefix("graph_")):
        return "slower than eager"
    if col.key in ("decode_throughput", "graph_decode_throughput") and \
            decode_expansion(m, GRAPH_DECODE if col.key.startswith("graph_") else EAGER_DECODE):
        return "cache copied"
    return None


def caveat_notes(models: list[dict]) -> str:
    """The notes under a table that explain each caveat its cells carry."""
    found = {caveat(m, INDICATORS[k]) for m in models for k in CAVEAT_KEYS}
    return "".join(note for why, (_, note, _) in CAVEATS.items() if why in found)


def cell_value(m: dict, col: Indicator) -> float | None:
    return measured(m, col.key)


def text(col: Indicator, v: float | None) -> str:
    return "not measured" if v is None else f"{v / col.scale:,.{col.digits}f}"


def tex_header(col: Indicator) -> str:
    return col.header.replace("%", r"\%")


def tex_number(col: Indicator, v: float) -> str:
    """A table's number at the indicator's scale; from 1000 up without decimals (15563 samples/s:
    a tenth is below the 3% speed noise, and its digits widen the column)."""
    x = v / col.scale
    return f"{x:.{0 if abs(x) >= 1000 else col.digits}f}"


def columns_of(models: list[dict]) -> list[Indicator]:
    """The columns some model has a value for; applied and active parameters only where they
    differ from the unique count (sharing, sparsity) for some model."""
    def differs(m: dict, key: str) -> bool:
        v, unique = measured(m, key), measured(m, "params")
        return v is not None and bool(unique) and abs(v / unique - 1) > _SENSE_DIFFERS

    return [c for c in COLUMNS if any(cell_value(m, c) is not None for m in models)
            and (c.key not in _PARAM_SENSES or any(differs(m, c.key) for m in models))]


def ratio_keys(models: list[dict]) -> set[str]:
    """The columns that carry a ratio to the baseline: the judged indicators, each speed in the
    implementation the judgement reads for the proposed model and the baseline (replays where both
    have one, else eager), so that one ratio has one value in a report (issue 32)."""
    proposed = next((m for m in models if m.role == "proposed"), None)
    base = next((m for m in models if m.role == "baseline"), None)
    keys = set(JUDGED)
    for k in ("throughput", "latency", "decode_throughput"):
        if proposed is not None and base is not None and all(judged_replay(m, k) for m in (proposed, base)):
            keys = (keys - {k}) | {"graph_" + k}
    # an indicator no model has (generation where --generate was not given) is no column
    return {k for k in keys if any(measured(m, k) is not None for m in models)}


def quality_keys(models: list[dict], results: dict | None = None) -> list[str]:
    """Every quality metric given for some model, in the order first given; with `results`, the
    quality hook's metric too, where the hook ran (its column shows a failure where it failed)."""
    keys = [k for m in models for k in quality(m)]
    hook = (results or {}).get("quality_hook") or {}
    return list(dict.fromkeys(keys + ([hook["metric"]] if hook.get("metric") else [])))


def missing_quality(m: dict) -> str:
    """A quality cell without a number: why the quality hook gave none, or for a variant that it is
    to be trained (the arguments that build it are under the table)."""
    if m.quality_failed:
        why = m.quality_failed
        return "failed: " + (why if len(why) <= 80 else why[:77] + "...")
    return "train it" if m.role == "variant" else ""


@dataclass(frozen=True)
class Group:
    """Rows of a table that are compared with each other."""
    indicator: str | None  # None: the comparison as made; else the indicator its variants are matched on
    title: str
    models: tuple  # the records, in order
    notes: tuple = ()  # the baseline itself as the match; strategies that could not reach the target
    curve: bool = False  # a family's published members (curve.py), measured for the curve, not compared


def groups(results: dict) -> list[Group]:
    """The comparison as made (proposed, then baselines), then the variants by matched indicator
    in the order of readings.INDICATORS; a matched indicator without variants keeps its group for
    its notes (the baseline is itself the match, or no strategy reached the target)."""
    models = [m for m in typed_models(results)["models"] if not m.failed]
    variants = [m for m in models if m.role == "variant" and m.match]
    members = [m for m in models if m.role == "curve"]
    made = [m for m in models if m not in variants and m not in members]
    made = [m for m in made if m.role == "proposed"] + [m for m in made if m.role != "proposed"]
    cmp = results.get("comparison") or {}
    base = next((m.name for m in made if m.role == "baseline"), cmp.get("baseline", "the baseline"))
    notes: dict[str, list[str]] = {}
    for k, match in (cmp.get("baseline_matches") or {}).items():
        notes.setdefault(k, []).append(f"{base} itself is the closest match ({match['rel_error']:+.1%})")
    for u in cmp.get("unreachable") or []:
        notes.setdefault(u["indicator"], []).append(unreachable_note(u))
    keys = {m.match["indicator"] for m in variants} | set(notes)
    out = [Group(None, "As compared", tuple(made))]
    for k in sorted(keys, key=lambda k: list(INDICATORS).index(k) if k in INDICATORS else len(INDICATORS)):
        label = INDICATORS[k].label if k in INDICATORS else k
        out.append(Group(k, f"Matched on {label}", tuple(m for m in variants if m.match["indicator"] == k),
                         tuple(notes.get(k, ()))))
    if members:
        curve = results.get("curve") or {}
        own = {m.name for m in members}
        q = curve.get("quality")
        shared = [f"{m['name']} is measured above ({q} {m['quality'][q]:g} on the curve)"
                  for m in curve.get("members") or [] if m.get("model") not in own]
        out.append(Group(None, f"The {curve.get('name', 'family')} curve: published members, their quality as "
                               f"cited", tuple(members), tuple(shared), curve=True))
    return out


def _matched_keys(g: Group) -> set[str]:
    """The indicators a group's variants are equal on by construction, so not ranked on."""
    on = {g.indicator} | {a["indicator"] for m in g.models for a in (m.match or {}).get("also") or []}
    if on & {"macs", "flops"}:
        on |= {"macs", "flops"}
    return on


def best_cells(groups: list[Group], cols: list[Indicator], metrics: list[str]) -> set[tuple[str, int]]:
    """(column key, id of the model record) of the best value inside each group: lowest cost,
    highest throughput, highest quality; ties are all best, but where every value ties nothing
    is (a parameter-shared model and its baseline at the same FLOPs: neither is better). A group
    ranks only where it has two values to compare; a matched group not on the indicators its
    variants were matched on; and a speed column not where a value in it carries a caveat: a
    host-bound one (the host's launches set those numbers, and the CUDA graph column, where given,
    can name the other model the winner: ALBERT against BERT at batch 1 on an H200, issue 32) or a
    replay slower than eager. A curve's members are
    points of a family, not rivals: they are not ranked."""
    best = set()
    for g in groups:
        if g.curve:
            continue
        skip = _matched_keys(g) if g.indicator else set()
        for c in cols:
            if c.key in skip or any(caveat(m, c) for m in g.models):
                continue
            vals = [(id(m), v) for m in g.models if (v := cell_value(m, c)) is not None]
            if len({v for _, v in vals}) >= 2:
                target = min(v for _, v in vals) if c.lower_is_better else max(v for _, v in vals)
                best |= {(c.key, i) for i, v in vals if v == target}
        for q in metrics:
            vals = [(id(m), v) for m in g.models if (v := quality(m).get(q)) is not None]
            if len({v for _, v in vals}) >= 2:
                top = max(v for _, v in vals)
                best |= {(q, i) for i, v in vals if v == top}
    return best


def strategy_label(m: dict) -> str:
    """How a variant was built, for a row under its group's header: 'width, -0.1%' (+ what else
    it matches)."""
    match = m.match or {}
    text = f"{match.get('strategy', '?')}" + (f", {match['rel_error']:+.1%}" if match.get("rel_error") is not None
                                              else "")
    also = [f"{a['indicator']} ({a['strategy']})" for a in match.get("also") or []]
    return text + (f"; also {', '.join(also)}" if also else "")
