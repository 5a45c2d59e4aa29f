"""Unfairness rules: each reads two models (or one) and returns flags backed by numbers.

A flag has an id (its kind), a severity (info, warn, unfair), the evidence that triggered it,
a message a reader understands without the paper, advice on which comparison to make
instead, and the section of "The Efficiency Misnomer" (Dehghani et al., ICLR 2022) it rests
on. judgement.py turns the flags into the verdict and the findings.

Ratios follow readings.py: counts and memory as a cost ratio (a / b, < 1: a is cheaper),
throughput and latency as a speed-up of a over b (> 1: a is faster).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import readings as rd
from .readings import INDICATORS, JUDGED, advantage, num
from .render.units import si

SEVERITIES = ("info", "warn", "unfair")

# --- thresholds: each with the reason it is where it is -----------------------------------------
DISAGREE_MARGIN = 0.02  # a win or a loss under 2% is a tie: below what a reader would act on
DISAGREE_SPREAD = 1.5  # two indicators' ratios 1.5x apart: the choice of indicator decides the story
SHARING_RATIO = 1.5  # applied/unique parameters: a block reused even once more than half the time
SPARSITY_RATIO = 1.5  # unique/active parameters: at least a third of the weights idle per token
EMBEDDING_SHARE = 0.20  # a fifth of the parameters in lookups that cost no FLOPs
EMBEDDING_GAP = 0.10  # embedding shares 10 points apart: token-free against tokenized models
SAME_PARAMS = 0.05  # parameters within 5% read as "equal parameters"
FLOPS_APART = 1.5  # FLOPs 1.5x apart at equal parameters: input length or resolution differs
FLOPS_SPEED_GAP = 1.3  # FLOPs and speed ratios 1.3x apart: FLOPs do not become time alike
DEPTH_RATIO = 2.0  # twice as deep: half the parallelism at the same FLOPs
SAME_FLOPS = 0.20  # FLOPs within 20% read as "equal FLOPs" for the parallelism and memory rules
MEMORY_APART = 2.0  # activations or bytes moved 2x apart at equal FLOPs: memory-bound behaviour differs
SPEED_RATIO_MOVE = 1.3  # a speed ratio that moves 1.3x between settings is a property of the setting
UNITS_TOLERANCE = 0.12  # FLOPs are 2 x MACs plus a few % of other ops: 12% covers that
NOISE_GATE = 0.10  # IQR over 10% of the median (torch.utils.benchmark's threshold)
COVERAGE_MIN = 0.99  # under 99% of executed ops counted: the FLOPs are a lower bound
CLAIM_MISMATCH = 0.05  # a stated count 5% from the measured one
CAPACITY_FLOOR = 0.5  # a baseline scaled to under half its parameters or depth is a handicapped one
QUALITY_TIE = 0.1  # quality points: a tenth of a point is below what comparison tables print
HOST_BOUND = 0.5  # the GPU idles over half of a step (batch 1 most of all): the host's kernel launches set its time

# Where each rule comes from in "The Efficiency Misnomer" (arXiv 2110.12894v2, ICLR 2022), by the
# paper's own section headings ("A Primer on Cost Indicators", "Potential Disagreement Between Cost
# Indicators", "The Issues with Parameter Matched Comparisons", "Suggestions and Conclusion").
PRIMER = "A Primer on Cost Indicators"
DISAGREE = "Potential Disagreement Between Cost Indicators"
MATCHED = "The Issues with Parameter Matched Comparisons"
SUGGEST = "Suggestions and Conclusion"
REF = {
    "indicators": f"'{PRIMER}'; '{DISAGREE}'",
    "sharing": f"'{DISAGREE}' (parameter sharing: Universal Transformers); '{MATCHED}'",
    "sparsity": f"'{DISAGREE}' (sparsity: Switch Transformers); '{MATCHED}' (sparse models)",
    "embedding": f"'{DISAGREE}'; '{MATCHED}' (parameters that cost no compute)",
    "sequence": f"'{DISAGREE}' (ViT patch size and input length change FLOPs, not parameters)",
    "parallelism": f"'{DISAGREE}' (degree of parallelism: depth against width)",
    "hardware": f"'{PRIMER}' (speed depends on hardware and implementation)",
    "units": f"'{PRIMER}' (FLOPs and multiply-accumulates)",
    "reporting": f"'{SUGGEST}' (report every cost indicator, not one)",
    "capacity": f"'{MATCHED}' (matched comparisons that handicap the baseline)",
    "tradeoff": f"'{MATCHED}'; '{SUGGEST}' (a win at another cost is a point on the trade-off, not an improvement)",
}


@dataclass(frozen=True)
class Flag:
    id: str
    severity: str  # info | warn | unfair
    models: list
    evidence: dict
    message: str
    advice: str
    reference: str
    # which pair it is about: "principal" (the comparison as made), "matched" (the proposed model
    # against a variant fairness built) or "model" (one model's own measurement or claims)
    scope: str = field(default="principal")


# --- reading a model ---------------------------------------------------------------------------


def run_host_bound(run: dict) -> bool:
    """A timed run (one batch size) whose GPU idled over HOST_BOUND of each step: its speeds time
    the host's kernel launches."""
    return (run.get("idle_share") or 0) > HOST_BOUND


def host_bound(speed: dict, key: str) -> bool:
    """An eager headline speed ("throughput" or "latency") that the host's kernel launches set.
    Marked so when measured; read from its run's idle share for files written before throughput
    was marked."""
    rec = speed.get(key) or {}
    run = next((r for r in speed.get("runs") or [] if r.get("batch_size") == rec.get("batch_size")), {})
    return bool(rec) and bool(rec.get("host_bound") or run_host_bound(run))


def _noisy(speed: dict) -> list[str]:
    """The headline speeds whose spread is over the gate. A host-bound eager number with a steady
    CUDA-graph replay beside it is left out: its spread is the host's launch jitter, which the
    host-bound note says, and the replay is the one to read."""
    out = []
    for k in ("throughput", "latency"):
        if not (speed.get(k) or {}).get("noisy"):
            continue
        graph = (speed.get("cuda_graph") or {}).get(k) or {}
        if host_bound(speed, k) and graph and not graph.get("noisy"):
            continue
        out.append(k)
    return out


def view(m: dict) -> dict:
    """The numbers the rules read from one model record, through readings.py: stated where a paper
    states them (audit), else measured."""
    v = {k: rd.value(m, k) for k in INDICATORS}
    v.update({
        "name": m.get("name"), "role": m.get("role"), "record": m,
        "depth": rd.depth(m), "coverage": num((m.get("flops") or {}).get("coverage")),
        "speed_setting": rd.speed_setting(m, "throughput"), "latency_setting": rd.speed_setting(m, "latency"),
        "runs": (m.get("speed") or {}).get("runs") or [],
        "noisy": _noisy(m.get("speed") or {}),
        "capacity_loss": m.get("capacity_loss") or [], "claims": m.get("claims") or {}, "match": m.get("match"),
        "quality": rd.quality(m), "scaled_from": m.get("scaled_from"), "built": built_text(m),
        # ratios of parameter senses from one source: a stated unique count over a measured applied
        # one would compare two configurations (a paper's ALBERT-base with a default ALBERT-xxlarge)
        "sharing": _senses(m, "applied", "params"), "sparsity": _senses(m, "params", "active"),
    })
    return v


def _senses(m: dict, top: str, bottom: str) -> tuple[float, float] | None:
    """(top, bottom) of two parameter senses, both stated or else both measured."""
    for read in (rd.stated, rd.measured):
        t, b = read(m, top), read(m, bottom)
        if t and b:
            return t, b
    return None


def built_text(m: dict) -> str:
    """What was built and measured: the source, its arguments, the architecture's sizes where the
    record has them (a config's defaults), and the input."""
    from .render.table import input_text

    if not m.get("source") or not m.get("input"):
        return ""
    args = ", ".join(f"{k}={v}" for k, v in (m.get("kwargs") or {}).items())
    arch = ", ".join(f"{k}={v}" for k, v in (m.get("architecture") or {}).items() if k not in (m.get("kwargs") or {}))
    text = m["source"] + (f" with {args}" if args else " with its defaults")
    if arch:
        text += f" ({arch})"
    return f"{text}; input {input_text(m['input'])}"


def _setting_of(m: dict, key: str) -> dict | None:
    return m.get("latency_setting" if key == "latency" else "speed_setting")


def _setting_diff(sa: dict, sb: dict) -> dict:
    return {k: [sa.get(k), sb.get(k)] for k in ("device", "dtype", "batch_size", "threads", "compile")
            if sa.get(k) is not None and sb.get(k) is not None and sa.get(k) != sb.get(k)}


def _speeds_comparable(a: dict, b: dict, key: str) -> bool:
    sa, sb = _setting_of(a, key), _setting_of(b, key)
    return not sa or not sb or _setting_diff(sa, sb) == {}


def _stated_speedup(a: dict, b: dict, key: str) -> float | None:
    """A speed-up of a over b that the paper states (claims `speedup`), from either side."""
    for m, other, flip in ((a, b, False), (b, a, True)):
        s = m["claims"].get("speedup") or {}
        if s.get("over") == other["name"] and s.get("indicator", "throughput") == key and num(s.get("value")):
            return 1 / s["value"] if flip else float(s["value"])
    return None


def pair_ratios(a: dict, b: dict) -> dict[str, float]:
    """a against b on every judged indicator known for both, in the one convention; speeds only
    when measured (or stated) under the same settings, else a stated speed-up where there is one."""
    out = {}
    for k in JUDGED:
        r = rd.ratio(k, a.get(k), b.get(k))
        if r is not None and INDICATORS[k].convention == rd.SPEED and not _speeds_comparable(a, b, k):
            r = None
        if r is None and INDICATORS[k].convention == rd.SPEED:
            r = _stated_speedup(a, b, k)
        if r is not None:
            out[k] = r
    return out


def tie_margin(a: dict, b: dict, key: str) -> float:
    """A win or a loss smaller than this is a tie: 2%, widened by the printed precision of stated
    numbers ("29M" against "28M" is a tie at two significant digits)."""
    return DISAGREE_MARGIN + rd.precision(a["record"], key) + rd.precision(b["record"], key)


def _words(ratios: dict, other: str) -> str:
    return "; ".join(INDICATORS[k].words(r, other) for k, r in ratios.items())


def ratio_evidence(ratios: dict) -> dict:
    """Ratios as evidence fields: params_ratio, flops_ratio, throughput_speedup, ..."""
    return {f"{k}_{INDICATORS[k].ratio_name}": r for k, r in ratios.items()}


def wins_losses(a: dict, b: dict, ratios: dict) -> tuple[list[str], list[str]]:
    """The indicators on which a is better than b, and those on which it is worse, ties left out."""
    adv = {k: advantage(k, r) for k, r in ratios.items()}
    wins = [k for k, x in adv.items() if x > 1 + tie_margin(a, b, k)]
    losses = [k for k, x in adv.items() if x < 1 / (1 + tie_margin(a, b, k))]
    return wins, losses


# --- the rules -----------------------------------------------------------------------------------


def rule_indicators_disagree(a, b):
    ratios = pair_ratios(a, b)
    if len(ratios) < 2:
        return []
    wins, losses = wins_losses(a, b, ratios)
    adv = [advantage(k, r) for k, r in ratios.items()]
    spread = max(adv) / min(adv)
    if not (wins and losses) and spread <= DISAGREE_SPREAD:
        return []
    ev = {**ratio_evidence(ratios), "spread": spread}
    if wins and losses:
        msg = (f"{a['name']} is better than {b['name']} on {', '.join(wins)} but worse on {', '.join(losses)} "
               f"({_words(ratios, b['name'])}): which model is 'more efficient' depends on the indicator chosen.")
    else:
        msg = (f"{a['name']}'s advantages over {b['name']} range {spread:.2f}x apart across indicators "
               f"({_words(ratios, b['name'])}): the size of the gain depends on the indicator chosen.")
    return [Flag("indicators-disagree", "warn", [a["name"], b["name"]], ev, msg,
                 "Report every indicator side by side, and compare against baselines matched on each of them.",
                 REF["indicators"])]


def _param_claim(a, b, claim_text="") -> bool:
    """Is this a comparison at equal parameters? Matched on them, within 5%, or claimed so."""
    if (b.get("match") or {}).get("indicator") == "params" or b["claims"].get("matched_on") == "params":
        return True
    if a.get("params") and b.get("params") and abs(a["params"] / b["params"] - 1) <= SAME_PARAMS:
        return True
    return "param" in claim_text.lower()


def rule_parameter_sharing(a, b, claim_text=""):
    """A model that reuses its weights looks cheap on parameters: unfair when the comparison is at
    equal parameters, or when its parameter advantage over the other model is what sharing buys."""
    out = []
    for m, other in ((a, b), (b, a)):
        if not m["sharing"] or m["sharing"][0] / m["sharing"][1] <= SHARING_RATIO:
            continue
        applied, unique = m["sharing"]
        r = applied / unique
        pr = rd.ratio("params", m["params"], other.get("params"))
        looks_cheaper = pr is not None and pr < 1 - tie_margin(m, other, "params")
        unfair = _param_claim(a, b, claim_text) or looks_cheaper
        as_built = " (as built)" if rd.stated(m["record"], "params") and unique != m["params"] else ""
        msg = (f"{m['name']} reuses its weights: each of its {si(unique)} unique parameters{as_built} is applied "
               f"{r:.2f} times per forward pass, so its parameter count understates its compute.")
        ev = {"applied": applied, "unique": unique, "applied_over_unique": r}
        if looks_cheaper:
            other_applied = other["sharing"][0] if other["sharing"] else other.get("applied")
            ar = rd.ratio("params", applied, other_applied)
            ev["params_ratio"] = pr
            msg += (f" It has {INDICATORS['params'].words(pr, other['name'])}"
                    + (f" but {ar:.3g}x its applied parameters" if ar else "")
                    + ": the parameter advantage is what sharing buys, not a cheaper model.")
        elif unfair:
            msg += " A comparison at equal parameters is therefore unfair."
        out.append(Flag("parameter-sharing", "unfair" if unfair else "warn", [m["name"], other["name"]], ev, msg,
                        "Compare at equal FLOPs and equal speed too; give both unique and applied parameters.",
                        REF["sharing"]))
    return out


def rule_sparsity(a, b, claim_text=""):
    out = []
    for m, other in ((a, b), (b, a)):
        if not m["sparsity"] or m["sparsity"][0] / m["sparsity"][1] <= SPARSITY_RATIO:
            continue
        unique, active = m["sparsity"]
        r = unique / active
        unfair = _param_claim(a, b, claim_text)
        out.append(Flag("sparsity", "unfair" if unfair else "warn", [m["name"], other["name"]],
                        {"unique": unique, "active": active, "unique_over_active": r},
                        f"{m['name']} is sparse: one token touches {si(active)} of its {si(unique)} "
                        f"parameters ({1 / r:.0%}). Matching on parameters is unfair to a dense model, and matching "
                        f"on FLOPs does not mean equal speed (routing and memory for all experts still cost time)."
                        + (" A comparison at equal parameters is therefore unfair." if unfair else ""),
                        "Compare at equal active parameters or FLOPs and measure speed and memory; state total and "
                        "active parameters.", REF["sparsity"]))
    return out


def rule_embedding_heavy(a, b):
    shares = {m["name"]: m["embedding"] / m["params"] for m in (a, b) if m.get("embedding") is not None
              and m.get("params")}
    heavy = {n: s for n, s in shares.items() if s > EMBEDDING_SHARE}
    gap = abs(shares[a["name"]] - shares[b["name"]]) if len(shares) == 2 else 0.0
    if not heavy and gap <= EMBEDDING_GAP:
        return []
    return [Flag("embedding-heavy", "warn", [a["name"], b["name"]], {"embedding_share": shares, "gap": gap},
                 "Embedding tables hold " + ", ".join(f"{s:.0%} of {n}'s parameters" for n, s in shares.items())
                 + ": lookups that cost almost no FLOPs or time, so parameter counts overstate the cost of "
                   "the embedding-heavy model" + (f" (shares {gap * 100:.0f} points apart)." if gap > EMBEDDING_GAP
                                                  else "."),
                 "Compare non-embedding parameters, and FLOPs and speed.", REF["embedding"])]


def rule_sequence_length(a, b):
    pr, fr = rd.ratio("params", a.get("params"), b.get("params")), rd.ratio("flops", a.get("flops"), b.get("flops"))
    if pr is None or fr is None:
        return []
    if abs(pr - 1) > SAME_PARAMS + tie_margin(a, b, "params") - DISAGREE_MARGIN or max(fr, 1 / fr) <= FLOPS_APART:
        return []
    if any(m["sharing"] and m["sharing"][0] / m["sharing"][1] > SHARING_RATIO for m in (a, b)) or \
            any(m["sparsity"] and m["sparsity"][0] / m["sparsity"][1] > SPARSITY_RATIO for m in (a, b)):
        return []  # parameter sharing or sparsity explains the gap, and has its own flag
    return [Flag("sequence-length", "warn", [a["name"], b["name"]], {"params_ratio": pr, "flops_ratio": fr},
                 f"{a['name']} has about the same parameters as {b['name']} ({pr:.3g}x) but "
                 f"{INDICATORS['flops'].words(fr, b['name'])}: the input length differs (patch size, resolution "
                 f"or sequence length), which parameters do not show.",
                 "Compare at equal FLOPs and speed, or state the input length with the parameters.",
                 REF["sequence"])]


def rule_flops_speed_mismatch(a, b):
    fr = rd.ratio("flops", a.get("flops"), b.get("flops"))
    su = pair_ratios(a, b).get("throughput")
    if fr is None or su is None:
        return []
    gap = max(su * fr, 1 / (su * fr))  # FLOPs alone predict a speed-up of 1 / fr
    if gap <= FLOPS_SPEED_GAP:
        return []
    return [Flag("flops-speed-mismatch", "warn", [a["name"], b["name"]],
                 {"flops_ratio": fr, "throughput_speedup": su, "gap": gap},
                 f"{a['name']} needs {INDICATORS['flops'].words(fr, b['name'])} but has {su:.3g}x its throughput, "
                 f"where FLOPs alone predict {1 / fr:.3g}x: FLOPs do not turn into time alike (depthwise "
                 f"convolutions, routing, memory-bound ops).",
                 "Compare measured speed on the target hardware, not FLOPs alone.", REF["indicators"])]


def _time_per_example(m: dict, small: bool) -> float | None:
    """At the smallest batch measured: batch-1 latency per example; at the largest: 1 / throughput."""
    runs = [r for r in m["runs"] if "throughput" in r]
    if len(runs) < 2:
        return None
    r = min(runs, key=lambda r: r["batch_size"]) if small else max(runs, key=lambda r: r["batch_size"])
    if small and r.get("latency"):
        return r["latency"]["median_s"] / r["batch_size"]
    return 1 / r["throughput"]["samples_per_s"]


def rule_parallelism(a, b):
    out = []
    fr = rd.ratio("flops", a.get("flops"), b.get("flops"))
    if a.get("depth") and b.get("depth") and fr is not None and abs(fr - 1) <= SAME_FLOPS:
        dr = a["depth"] / b["depth"]
        if dr >= DEPTH_RATIO or dr <= 1 / DEPTH_RATIO:
            out.append(Flag("parallelism", "warn", [a["name"], b["name"]], {"depth_ratio": dr, "flops_ratio": fr},
                            f"At similar FLOPs ({fr:.3g}x), {a['name']} is {dr:.3g}x as deep as {b['name']} "
                            f"(sequential matrix ops): the deeper model has less to run in parallel, so it is slower "
                            f"per FLOP, most of all at small batch.",
                            "Measure latency at batch 1 and throughput at a large batch on the target hardware.",
                            REF["parallelism"]))
    winner = {}
    for small in (True, False):
        ta, tb = _time_per_example(a, small), _time_per_example(b, small)
        winner[small] = None if not ta or not tb else a["name"] if ta < tb else b["name"]
    if winner[True] and winner[False] and winner[True] != winner[False]:
        out.append(Flag("parallelism", "warn", [a["name"], b["name"]],
                        {"faster_at_batch_1": winner[True], "faster_at_largest_batch": winner[False]},
                        f"{winner[True]} is faster at batch 1 but {winner[False]} at the largest batch measured: the "
                        f"winner depends on how much parallel work there is.",
                        "State the batch size with every speed; report batch-1 latency and large-batch throughput.",
                        REF["parallelism"]))
    return out


def rule_memory_bound(a, b):
    fr = rd.ratio("flops", a.get("flops"), b.get("flops"))
    if fr is None or abs(fr - 1) > SAME_FLOPS:
        return []
    apart = {k: r for k in ("activations", "bytes_moved") if (r := rd.ratio(k, a.get(k), b.get(k))) is not None
             and max(r, 1 / r) > MEMORY_APART}
    if not apart:
        return []
    return [Flag("memory-bound", "warn", [a["name"], b["name"]], {"flops_ratio": fr, **ratio_evidence(apart)},
                 f"At similar FLOPs ({fr:.3g}x), {a['name']} has "
                 + ", ".join(f"{r:.3g}x the {INDICATORS[k].label}" for k, r in apart.items())
                 + f" of {b['name']}: memory traffic, not arithmetic, will set their speed apart.",
                 "Measure speed and peak memory; do not read equal FLOPs as equal cost.", REF["indicators"])]


def rule_claimed_capacity(a, b):
    """A paper's baseline that it says it scaled (claims `matched_on`, `scaled_from`) to under half of
    the original's parameters or depth: the comparison as made is against a handicapped model."""
    origin = b.get("scaled_from") or {}
    if not origin.get("params") or not b.get("params"):
        return []
    kept = {"params": b["params"] / origin["params"]}
    if origin.get("depth") and b.get("depth"):
        kept["depth"] = b["depth"] / origin["depth"]
    lost = {k: v for k, v in kept.items() if v < CAPACITY_FLOOR}
    if not lost:
        return []
    on = b["claims"].get("matched_on")
    return [Flag("capacity-handicap", "unfair", [b["name"], a["name"]],
                 {"scaled_from": origin["source"], "matched_on": on, **{f"{k}_kept": v for k, v in kept.items()}},
                 f"{b['name']} was scaled from {origin['source']}" + (f" to match {a['name']} on {on}" if on else "")
                 + " and keeps " + " and ".join(f"{v:.0%} of its {k}" for k, v in lost.items())
                 + f": a win against it means little, and it says nothing about {origin['source']} itself.",
                 f"Also compare against {origin['source']} itself, or against a baseline matched on another "
                 f"indicator, or scale {a['name']} up instead.", REF["capacity"])]


def rule_variant_capacity(m):
    """A variant fairness built that keeps under half the baseline's capacity: a property of the
    variant, shown with the matched comparisons; it does not make the user's comparison unfair."""
    if m["role"] != "variant" or not m.get("capacity_loss"):
        return []
    return [Flag("capacity-handicap", "info", [m["name"]], {"capacity_loss": m["capacity_loss"], "matched_on": (m["match"] or {}).get("indicator")},
                 f"{m['name']} keeps " + "; ".join(m["capacity_loss"]) + ": a win against it means little.",
                 "Also compare against the variants matched on the other indicators, or scale the proposed model "
                 "up instead.", REF["capacity"], scope="model")]


def rule_hardware(a, b):
    out = []
    for key in ("throughput", "latency"):
        sa, sb = _setting_of(a, key), _setting_of(b, key)
        if a.get(key) and b.get(key) and sa and sb and (diff := _setting_diff(sa, sb)):
            out.append(Flag("hardware-mismatch", "unfair", [a["name"], b["name"]], {"indicator": key, **diff},
                            f"The {key} of {a['name']} and {b['name']} were measured under different settings ("
                            + ", ".join(f"{k} {v[0]} vs {v[1]}" for k, v in diff.items())
                            + "): the ratio measures the setting as much as the models.",
                            "Measure both on the same device, dtype, batch size, threads and compile setting.",
                            REF["hardware"]))
    ra = {r["batch_size"]: r["throughput"]["samples_per_s"] for r in a["runs"] if "throughput" in r}
    rb = {r["batch_size"]: r["throughput"]["samples_per_s"] for r in b["runs"] if "throughput" in r}
    common = sorted(set(ra) & set(rb))
    if len(common) >= 2:
        speedups = {bs: ra[bs] / rb[bs] for bs in common}
        move = max(speedups.values()) / min(speedups.values())
        if move > SPEED_RATIO_MOVE:
            out.append(Flag("hardware-mismatch", "warn", [a["name"], b["name"]],
                            {"throughput_speedup_by_batch": speedups, "move": move},
                            f"The speed-up of {a['name']} over {b['name']} moves {move:.2f}x across batch sizes ("
                            + ", ".join(f"batch {k}: {v:.3g}x the throughput" for k, v in speedups.items())
                            + "): one speed-up does not describe the pair.",
                            "Report the speed-up at every batch size that matters to the reader.", REF["hardware"]))
    return out


def rule_units(a, b):
    out, conventions = [], {}
    for m in (a, b):
        stated = num(m["claims"].get("flops"))
        measured_flops = rd.measured(m["record"], "flops")
        if not stated or not measured_flops:
            continue
        r = stated / measured_flops
        if abs(r - 1) <= UNITS_TOLERANCE:
            conventions[m["name"]] = "FLOPs"
        elif abs(r - 0.5) <= 0.5 * UNITS_TOLERANCE:
            conventions[m["name"]] = "MACs"
            macs = rd.measured(m["record"], "macs")
            out.append(Flag("units", "warn", [m["name"]], {"stated_flops": stated, "measured_flops": measured_flops,
                                                           "measured_macs": macs, "ratio": r},
                            f"{m['name']}: the stated {si(stated)}FLOPs is half the measured {si(measured_flops)}FLOPs "
                            f"and matches the measured {si(macs)}MACs: the paper counts "
                            f"multiply-accumulates and calls them FLOPs.",
                            "Say MACs, or double the number; compare every model in one convention.", REF["units"],
                            scope="model"))
        elif abs(r - 2) <= 2 * UNITS_TOLERANCE:
            conventions[m["name"]] = "2x FLOPs"
            out.append(Flag("units", "warn", [m["name"]], {"stated_flops": stated, "measured_flops": measured_flops,
                                                           "ratio": r},
                            f"{m['name']}: the stated {si(stated)}FLOPs is twice the measured {si(measured_flops)}FLOPs: "
                            f"each multiply-accumulate may have been counted as 2 FLOPs twice over.",
                            "Recount with one convention (FLOPs = 2 x MACs + other ops).", REF["units"],
                            scope="model"))
    if len(set(conventions.values())) > 1:
        out.append(Flag("units", "unfair", [a["name"], b["name"]], {"conventions": conventions},
                        "The stated FLOPs of the two models follow different conventions ("
                        + ", ".join(f"{n}: {c}" for n, c in conventions.items()) + "): the comparison is off by 2x.",
                        "Restate both in one convention.", REF["units"]))
    return out


_INDICATOR_WORDS = {"params": r"param", "flops": r"flop|mac|compute", "throughput": r"throughput|fast|speed",
                    "latency": r"latenc", "peak_memory": r"memory"}


def stated_indicators(a: dict, b: dict) -> list[str]:
    """The judged indicators a paper states for both models (a stated speed-up counts for speed)."""
    out = [k for k in JUDGED if rd.stated(a["record"], k) and rd.stated(b["record"], k)]
    for k in ("throughput", "latency"):
        if k not in out and _stated_speedup(a, b, k):
            out.append(k)
    return out


def rule_single_indicator(a, b, claim_text=""):
    """The paper's first suggestion: report more than one cost indicator. Fires when the claim
    names one indicator, or when the stated numbers of the pair cover only one."""
    known = list(pair_ratios(a, b))
    stated = stated_indicators(a, b)
    named = [k for k, pat in _INDICATOR_WORDS.items() if re.search(pat, claim_text.lower())]
    if len(named) == 1 and len(known) >= 2:
        rests_on, how = named[0], f"The claim \"{claim_text}\" rests on {named[0]} alone"
    elif len(stated) == 1 and (a["claims"] or b["claims"]):
        rests_on, how = stated[0], f"The stated numbers compare {a['name']} and {b['name']} on {stated[0]} alone"
    else:
        return []
    others = [k for k in known if k != rests_on]
    return [Flag("single-indicator", "warn", [a["name"], b["name"]],
                 {"claim": claim_text, "rests_on": rests_on, "also_known": others},
                 how + (f", while {', '.join(others)} are known for both models." if others else
                        ": no other cost indicator is known for both models."),
                 "State the comparison with every cost indicator (parameters, FLOPs, throughput, latency, memory), "
                 "or at each of them.", REF["reporting"])]


def rule_quality_tradeoff(a, b):
    """Cheaper at lower quality (or better at higher cost) is another point on the trade-off curve,
    not an improvement: the claim needs equal quality, or a baseline matched on cost."""
    common = [q for q in a["quality"] if q in b["quality"]]
    if not common:
        return []
    q = common[0]
    delta = a["quality"][q] - b["quality"][q]
    ratios = pair_ratios(a, b)
    wins, losses = wins_losses(a, b, ratios)
    if delta < -QUALITY_TIE and wins:
        gained, how = wins, "cheaper"
    elif delta > QUALITY_TIE and losses and not wins:
        gained, how = losses, "dearer"
    else:
        return []
    words = _words({k: ratios[k] for k in gained}, b["name"])
    return [Flag("quality-tradeoff", "warn", [a["name"], b["name"]], {"quality": q, "delta": delta,
                                                                      **ratio_evidence({k: ratios[k] for k in gained})},
                 f"{a['name']} is {how} than {b['name']} ({words}) at {abs(delta):.3g} points "
                 f"{'lower' if delta < 0 else 'higher'} {q}: a different point on the quality-cost trade-off, not "
                 f"an improvement by itself.",
                 f"Compare at equal {q}, or against {b['name']} scaled to {a['name']}'s cost (fairness match).",
                 REF["tradeoff"])]


def rule_measurement_quality(m):
    out = []
    if m.get("noisy"):  # the paired speed-ups carry their own CIs; the noise is worth knowing, not a verdict
        out.append(Flag("noisy-timing", "info", [m["name"]], {"noisy": m["noisy"], "gate": NOISE_GATE},
                        f"{m['name']}: the {' and '.join(m['noisy'])} timing is noisy (IQR over "
                        f"{NOISE_GATE:.0%} of the median).", "Measure longer (--min-time) on a quiet machine.",
                        REF["hardware"], scope="model"))
    if m.get("coverage") is not None and m["coverage"] < COVERAGE_MIN:
        out.append(Flag("incomplete-count", "warn", [m["name"]], {"coverage": m["coverage"], "min": COVERAGE_MIN},
                        f"{m['name']}: only {m['coverage']:.1%} of the executed ops were counted; its FLOPs are a "
                        f"lower bound.", "See flops.unknown_ops; count those ops before comparing FLOPs.",
                        REF["units"], scope="model"))
    return out


def rule_claim_mismatch(m):
    """A stated count checked against the measurement of what was built; the message says what
    was built, since a config's defaults are often not the model the paper means."""
    out = []
    claims, rec = m["claims"], m["record"]
    for key in ("params", "applied", "active", "macs", "flops"):
        s, measured = rd.stated(rec, key), rd.measured(rec, key)
        if key == "flops":
            s = num(claims.get("flops"))  # stated MACs are checked as MACs
        if not s or not measured:
            continue
        off = s / measured - 1
        if key == "flops":
            macs = rd.measured(rec, "macs")
            r = s / measured
            if abs(r - 0.5) <= 0.5 * UNITS_TOLERANCE or abs(r - 2) <= 2 * UNITS_TOLERANCE:
                continue  # a convention, which rule_units names
            if macs and abs(s / (2 * macs) - 1) < abs(off):
                off = s / (2 * macs) - 1  # FLOPs printed as 2 x MACs, without the other ops: the same count
        if abs(off) > CLAIM_MISMATCH + rd.precision(rec, key):
            label = INDICATORS[key].label
            out.append(Flag("claim-mismatch", "warn", [m["name"]], {"indicator": key, "stated": s,
                                                                     "measured": measured, "off": off,
                                                                     "built": m["built"]},
                            f"{m['name']}: the stated {label} ({si(s)}) is {off:+.1%} from the measured "
                            f"{si(measured)} of {m['built'] or 'the model as built'}.",
                            "Check that the configuration measured is the one in the paper (give its kwargs), "
                            "or correct the stated number.", REF["reporting"], scope="model"))
    return out


def rule_stated_speedup(a, b):
    """A speed-up the paper states, checked against the speeds stated or measured for both models."""
    out = []
    for k in ("throughput", "latency"):
        s = _stated_speedup(a, b, k)
        computed = rd.ratio(k, a.get(k), b.get(k)) if _speeds_comparable(a, b, k) else None
        if s and computed and abs(s / computed - 1) > CLAIM_MISMATCH:
            out.append(Flag("claim-mismatch", "warn", [a["name"], b["name"]],
                            {"indicator": k, "stated_speedup": s, "speedup_from_speeds": computed},
                            f"The stated {k} speed-up of {a['name']} over {b['name']} ({s:.3g}x) is "
                            f"{s / computed - 1:+.1%} from the one their {k} numbers give ({computed:.3g}x).",
                            "State speeds measured under one setting, and the speed-up they give.", REF["reporting"]))
    return out


PAIR_RULES = (rule_indicators_disagree, rule_parameter_sharing, rule_sparsity, rule_embedding_heavy,
              rule_sequence_length, rule_flops_speed_mismatch, rule_parallelism, rule_memory_bound,
              rule_claimed_capacity, rule_hardware, rule_units, rule_single_indicator, rule_quality_tradeoff,
              rule_stated_speedup)
MODEL_RULES = (rule_measurement_quality, rule_claim_mismatch, rule_variant_capacity)
CLAIM_AWARE = (rule_parameter_sharing, rule_sparsity, rule_single_indicator)


def pair_flags(a: dict, b: dict, claim_text: str = "", scope: str = "principal") -> list[Flag]:
    """Every pair rule on a (the proposed model) against b; one model's own flags stay out."""
    out = []
    for rule in PAIR_RULES:
        for f in (rule(a, b, claim_text) if rule in CLAIM_AWARE else rule(a, b)):
            out.append(f if f.scope == "model" else Flag(**{**f.__dict__, "scope": scope}))
    return out


def model_flags(m: dict) -> list[Flag]:
    return [f for rule in MODEL_RULES for f in rule(m)]
