"""Unfairness flags: the verdict of a comparison, each backed by numbers.

Every rule reads plain results (measured records, or the numbers a paper
claims) and returns flags with an id, a severity (info, warn, unfair), the
evidence that triggered it, a message a reader understands without the paper,
advice on which comparison to make instead, and the section of "The
Efficiency Misnomer" (Dehghani et al., ICLR 2022) it rests on.

Comparisons are pairwise: the proposed model against each other model (the
first model stands in when none is marked proposed). Ratios are proposed /
other, so below 1 means the proposed model is cheaper.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from .render.units import si
from .results import to_plain

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


# --- reading a model ---------------------------------------------------------------------------


def _num(x):
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and x == x else None


def view(m: dict) -> dict:
    """The numbers the rules read from one model record: stated where a paper states them (audit),
    else measured."""
    p, f, sp, mem = m.get("params") or {}, m.get("flops") or {}, m.get("speed") or {}, m.get("memory") or {}
    claims = m.get("claims") or {}
    tp, lat = sp.get("throughput") or {}, sp.get("latency") or {}
    c_tp, c_lat = claims.get("throughput") or {}, claims.get("latency") or {}
    by_op = f.get("by_op") or {}
    depth = sum(v.get("calls", 0) for v in by_op.values() if v.get("macs")) or _num(claims.get("depth"))
    settings = sp.get("settings") or {}
    return {
        "name": m.get("name"), "role": m.get("role"),
        # A paper's stated numbers are what its comparison rests on (audit); measurement checks them.
        "params": _num(claims.get("params")) or _num(p.get("unique")),
        "applied": _num(p.get("applied")), "active": _num(p.get("active")), "embedding": _num(p.get("embedding")),
        "macs": _num(claims.get("macs")) or _num(f.get("macs")),
        "flops": _num(claims.get("flops")) or (2 * _num(claims["macs"]) if _num(claims.get("macs")) else None)
        or _num(f.get("flops")),
        "activations": _num(m.get("activations")), "bytes_moved": _num(mem.get("bytes_moved")),
        "peak_memory": _num(mem.get("peak_bytes")),
        "throughput": _num(tp.get("samples_per_s")) or _num(c_tp.get("value")),
        "latency": _num(lat.get("median_s")) or _num(c_lat.get("value")),
        "depth": _num(depth) if depth else None,
        "coverage": _num(f.get("coverage")),
        "speed_setting": _setting(settings, tp) if tp else _setting(c_tp, c_tp) if c_tp else None,
        "latency_setting": _setting(settings, lat) if lat else _setting(c_lat, c_lat) if c_lat else None,
        "runs": sp.get("runs") or [],
        "noisy": [k for k, r in (("throughput", tp), ("latency", lat)) if r.get("noisy")],
        "capacity_loss": m.get("capacity_loss") or [],
        "claims": claims,
        "match": m.get("match"),
    }


def _setting(settings: dict, rec: dict) -> dict:
    """What a speed number depends on: compared before two speeds are."""
    return {"device": settings.get("device"), "dtype": settings.get("dtype", "float32"),
            "batch_size": rec.get("batch_size"), "threads": settings.get("threads"),
            "compile": settings.get("compile") or False}


# Cost indicators where lower is cheaper; throughput is turned into time per example.
COSTS = ("params", "flops", "latency", "peak_memory", "throughput")


def _ratio(a: dict, b: dict, key: str) -> float | None:
    x, y = a.get(key), b.get(key)
    if not x or not y:
        return None
    return y / x if key == "throughput" else x / y


def _fmt(r: float) -> str:
    return f"{r:.3g}x"


# --- the rules -----------------------------------------------------------------------------------


def _setting_of(m: dict, key: str) -> dict | None:
    """The settings of a model's throughput or latency."""
    return m.get("latency_setting" if key == "latency" else "speed_setting")


def _speeds_comparable(a: dict, b: dict, key: str) -> bool:
    sa, sb = _setting_of(a, key), _setting_of(b, key)
    return not sa or not sb or _setting_diff(sa, sb) == {}


def _setting_diff(sa: dict, sb: dict) -> dict:
    return {k: [sa.get(k), sb.get(k)] for k in ("device", "dtype", "batch_size", "threads", "compile")
            if sa.get(k) is not None and sb.get(k) is not None and sa.get(k) != sb.get(k)}


def rule_indicators_disagree(a, b):
    ratios = {k: r for k in COSTS if (r := _ratio(a, b, k)) is not None
              and (k not in ("throughput", "latency") or _speeds_comparable(a, b, k))}
    if len(ratios) < 2:
        return []
    wins = [k for k, r in ratios.items() if r < 1 - DISAGREE_MARGIN]
    losses = [k for k, r in ratios.items() if r > 1 + DISAGREE_MARGIN]
    spread = max(ratios.values()) / min(ratios.values())
    if not (wins and losses) and spread <= DISAGREE_SPREAD:
        return []
    ev = {f"{k}_ratio": r for k, r in ratios.items()}
    ev["spread"] = spread
    if wins and losses:
        msg = (f"{a['name']} is cheaper than {b['name']} on {', '.join(wins)} but dearer on {', '.join(losses)} "
               f"({'; '.join(f'{k} {_fmt(r)}' for k, r in ratios.items())}): which model is 'more efficient' "
               f"depends on the indicator chosen.")
    else:
        msg = (f"The cost ratios of {a['name']} to {b['name']} range {spread:.2f}x apart "
               f"({'; '.join(f'{k} {_fmt(r)}' for k, r in ratios.items())}): the size of the gain depends on the "
               f"indicator chosen.")
    return [Flag("indicators-disagree", "warn", [a["name"], b["name"]], ev, msg,
                 "Report every indicator side by side, and compare against baselines matched on each of them.",
                 REF["indicators"])]


def _param_claim(a, b) -> bool:
    """Is this a comparison at equal parameters? Matched on them, within 5%, or claimed so."""
    if (b.get("match") or {}).get("indicator") == "params":
        return True
    if a.get("params") and b.get("params") and abs(a["params"] / b["params"] - 1) <= SAME_PARAMS:
        return True
    return False


def _parameter_ratio_rule(a, b, claim_text, flag_id, ratio_of, threshold, describe, advice, ref):
    """Parameter sharing and sparsity alike: a ratio of two parameter senses over a threshold,
    unfair when the comparison is made at equal parameters (matched, within 5%, or claimed)."""
    out = []
    for m, other in ((a, b), (b, a)):
        r = ratio_of(m)
        if r is not None and r > threshold:
            unfair = _param_claim(a, b) or "param" in claim_text.lower()
            message, evidence = describe(m, r)
            out.append(Flag(flag_id, "unfair" if unfair else "warn", [m["name"], other["name"]], evidence,
                            message + (" A comparison at equal parameters is therefore unfair." if unfair else ""),
                            advice, ref))
    return out


def rule_parameter_sharing(a, b, claim_text=""):
    return _parameter_ratio_rule(
        a, b, claim_text, "parameter-sharing",
        lambda m: m["applied"] / m["params"] if m.get("applied") and m.get("params") else None, SHARING_RATIO,
        lambda m, r: (f"{m['name']} reuses its weights: each of its {si(m['params'])} unique parameters is "
                      f"applied {r:.2f} times per forward pass, so its parameter count understates its compute.",
                      {"applied": m["applied"], "unique": m["params"], "applied_over_unique": r}),
        "Compare at equal FLOPs and equal speed too; give both unique and applied parameters.", REF["sharing"])


def rule_sparsity(a, b, claim_text=""):
    return _parameter_ratio_rule(
        a, b, claim_text, "sparsity",
        lambda m: m["params"] / m["active"] if m.get("active") and m.get("params") else None, SPARSITY_RATIO,
        lambda m, r: (f"{m['name']} is sparse: one token touches {si(m['active'])} of its {si(m['params'])} "
                      f"parameters ({1 / r:.0%}). Matching on parameters is unfair to a dense model, and matching "
                      f"on FLOPs does not mean equal speed (routing and memory for all experts still cost time).",
                      {"unique": m["params"], "active": m["active"], "unique_over_active": r}),
        "Compare at equal active parameters or FLOPs and measure speed and memory; state total and active "
        "parameters.", REF["sparsity"])


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
    if not (a.get("params") and b.get("params") and a.get("flops") and b.get("flops")):
        return []
    pr, fr = a["params"] / b["params"], a["flops"] / b["flops"]
    if abs(pr - 1) > SAME_PARAMS or max(fr, 1 / fr) <= FLOPS_APART:
        return []
    if any(m.get("applied") and m["applied"] / m["params"] > SHARING_RATIO for m in (a, b)):
        return []  # parameter sharing explains the gap, and has its own flag
    return [Flag("sequence-length", "warn", [a["name"], b["name"]], {"params_ratio": pr, "flops_ratio": fr},
                 f"{a['name']} and {b['name']} have about the same parameters ({_fmt(pr)}) but FLOPs {_fmt(fr)}: "
                 f"the input length differs (patch size, resolution or sequence length), which parameters do not "
                 f"show.", "Compare at equal FLOPs and speed, or state the input length with the parameters.",
                 REF["sequence"])]


def rule_flops_speed_mismatch(a, b):
    fr, tr = _ratio(a, b, "flops"), _ratio(a, b, "throughput")
    if fr is None or tr is None or not _speeds_comparable(a, b, "throughput"):
        return []
    gap = max(fr / tr, tr / fr)
    if gap <= FLOPS_SPEED_GAP:
        return []
    return [Flag("flops-speed-mismatch", "warn", [a["name"], b["name"]],
                 {"flops_ratio": fr, "time_ratio": tr, "gap": gap},
                 f"{a['name']} needs {_fmt(fr)} the FLOPs of {b['name']} but {_fmt(tr)} its time per example: "
                 f"FLOPs do not turn into time alike (depthwise convolutions, routing, memory-bound ops).",
                 "Compare measured speed on the target hardware, not FLOPs alone.", REF["indicators"])]


def _winner(a, b, batch_pick):
    ra, rb = batch_pick(a), batch_pick(b)
    if not ra or not rb:
        return None
    return a["name"] if ra < rb else b["name"]


def rule_parallelism(a, b):
    out = []
    fr = _ratio(a, b, "flops")
    if a.get("depth") and b.get("depth") and fr is not None and abs(fr - 1) <= SAME_FLOPS:
        dr = a["depth"] / b["depth"]
        if dr >= DEPTH_RATIO or dr <= 1 / DEPTH_RATIO:
            out.append(Flag("parallelism", "warn", [a["name"], b["name"]], {"depth_ratio": dr, "flops_ratio": fr},
                            f"At similar FLOPs ({_fmt(fr)}), {a['name']} is {_fmt(dr)} as deep as {b['name']} "
                            f"(sequential matrix ops): the deeper model has less to run in parallel, so it is slower "
                            f"per FLOP, most of all at small batch.",
                            "Measure latency at batch 1 and throughput at a large batch on the target hardware.",
                            REF["parallelism"]))

    def at(m, small):
        runs = [r for r in m["runs"] if "throughput" in r]
        if len(runs) < 2:
            return None
        r = min(runs, key=lambda r: r["batch_size"]) if small else max(runs, key=lambda r: r["batch_size"])
        return (r["latency"]["median_s"] / r["batch_size"]) if small and r.get("latency") else \
            1 / r["throughput"]["samples_per_s"]

    small_win = _winner(a, b, lambda m: at(m, True))
    large_win = _winner(a, b, lambda m: at(m, False))
    if small_win and large_win and small_win != large_win:
        out.append(Flag("parallelism", "warn", [a["name"], b["name"]],
                        {"faster_at_batch_1": small_win, "faster_at_largest_batch": large_win},
                        f"{small_win} is faster at batch 1 but {large_win} at the largest batch measured: the "
                        f"winner depends on how much parallel work there is.",
                        "State the batch size with every speed; report batch-1 latency and large-batch throughput.",
                        REF["parallelism"]))
    return out


def rule_memory_bound(a, b):
    fr = _ratio(a, b, "flops")
    if fr is None or abs(fr - 1) > SAME_FLOPS:
        return []
    apart = {k: r for k in ("activations", "bytes_moved") if (r := _ratio(a, b, k)) is not None
             and max(r, 1 / r) > MEMORY_APART}
    if not apart:
        return []
    return [Flag("memory-bound", "warn", [a["name"], b["name"]], {"flops_ratio": fr, **{f"{k}_ratio": r
                                                                                     for k, r in apart.items()}},
                 f"At similar FLOPs ({_fmt(fr)}), {a['name']} has "
                 + ", ".join(f"{_fmt(r)} the {k.replace('_', ' ')}" for k, r in apart.items())
                 + f" of {b['name']}: memory traffic, not arithmetic, will set their speed apart.",
                 "Measure speed and peak memory; do not read equal FLOPs as equal cost.", REF["indicators"])]


def rule_capacity(a, b):
    out = []
    for m, other in ((b, a), (a, b)):
        if m.get("capacity_loss"):
            out.append(Flag("capacity-handicap", "unfair", [m["name"], other["name"]],
                            {"capacity_loss": m["capacity_loss"], "match": m.get("match")},
                            f"{m['name']} was matched to {other['name']} by shrinking it to "
                            + "; ".join(m["capacity_loss"]) + ": a comparison against it handicaps the baseline.",
                            "Also compare against baselines matched on the other indicators, or scale the proposed "
                            "model up instead.", REF["capacity"]))
    return out


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
        ratios = {bs: rb[bs] / ra[bs] for bs in common}
        move = max(ratios.values()) / min(ratios.values())
        if move > SPEED_RATIO_MOVE:
            out.append(Flag("hardware-mismatch", "warn", [a["name"], b["name"]],
                            {"time_ratio_by_batch": ratios, "move": move},
                            f"The speed ratio of {a['name']} to {b['name']} moves {move:.2f}x across batch sizes ("
                            + ", ".join(f"batch {k}: {_fmt(v)}" for k, v in ratios.items())
                            + "): one speed ratio does not describe the pair.",
                            "Report the ratio at every batch size that matters to the reader.", REF["hardware"]))
    return out


def rule_units(a, b):
    out, conventions = [], {}
    for m in (a, b):
        stated = _num((m.get("claims") or {}).get("flops"))
        measured_flops = m.get("measured_flops")
        if not stated or not measured_flops:
            continue
        r = stated / measured_flops
        if abs(r - 1) <= UNITS_TOLERANCE:
            conventions[m["name"]] = "FLOPs"
        elif abs(r - 0.5) <= 0.5 * UNITS_TOLERANCE:
            conventions[m["name"]] = "MACs"
            out.append(Flag("units", "warn", [m["name"]], {"stated_flops": stated, "measured_flops": measured_flops,
                                                           "measured_macs": m.get("measured_macs"), "ratio": r},
                            f"{m['name']}: the stated {si(stated)}FLOPs is half the measured {si(measured_flops)}FLOPs "
                            f"and matches the measured {si(m.get('measured_macs'))}MACs: the paper counts "
                            f"multiply-accumulates and calls them FLOPs.",
                            "Say MACs, or double the number; compare every model in one convention.", REF["units"]))
        elif abs(r - 2) <= 2 * UNITS_TOLERANCE:
            conventions[m["name"]] = "2x FLOPs"
            out.append(Flag("units", "warn", [m["name"]], {"stated_flops": stated, "measured_flops": measured_flops,
                                                           "ratio": r},
                            f"{m['name']}: the stated {si(stated)}FLOPs is twice the measured {si(measured_flops)}FLOPs: "
                            f"each multiply-accumulate may have been counted as 2 FLOPs twice over.",
                            "Recount with one convention (FLOPs = 2 x MACs + other ops).", REF["units"]))
    if len(set(conventions.values())) > 1:
        out.append(Flag("units", "unfair", [a["name"], b["name"]], {"conventions": conventions},
                        "The stated FLOPs of the two models follow different conventions ("
                        + ", ".join(f"{n}: {c}" for n, c in conventions.items()) + "): the comparison is off by 2x.",
                        "Restate both in one convention.", REF["units"]))
    return out


_INDICATOR_WORDS = {"params": r"param", "flops": r"flop|mac|compute", "throughput": r"throughput|fast|speed",
                    "latency": r"latenc", "peak_memory": r"memory"}


def rule_single_indicator(a, b, claim_text=""):
    if not claim_text:
        return []
    named = [k for k, pat in _INDICATOR_WORDS.items() if re.search(pat, claim_text.lower())]
    known = [k for k in COSTS if a.get(k) and b.get(k)]
    if len(named) != 1 or len(known) < 2:
        return []
    return [Flag("single-indicator", "warn", [a["name"], b["name"]], {"claim": claim_text, "rests_on": named[0],
                                                                      "also_known": [k for k in known
                                                                                     if k != named[0]]},
                 f"The claim \"{claim_text}\" rests on {named[0]} alone, while "
                 f"{', '.join(k for k in known if k != named[0])} are known for both models.",
                 "State the claim with every known indicator, or at each of them.", REF["reporting"])]


def rule_measurement_quality(m):
    out = []
    if m.get("noisy"):
        out.append(Flag("noisy-timing", "warn", [m["name"]], {"noisy": m["noisy"], "gate": NOISE_GATE},
                        f"{m['name']}: the {' and '.join(m['noisy'])} timing is noisy (IQR over "
                        f"{NOISE_GATE:.0%} of the median).", "Measure longer (--min-time) on a quiet machine.",
                        REF["hardware"]))
    if m.get("coverage") is not None and m["coverage"] < COVERAGE_MIN:
        out.append(Flag("incomplete-count", "warn", [m["name"]], {"coverage": m["coverage"], "min": COVERAGE_MIN},
                        f"{m['name']}: only {m['coverage']:.1%} of the executed ops were counted; its FLOPs are a "
                        f"lower bound.", "See flops.unknown_ops; count those ops before comparing FLOPs.",
                        REF["units"]))
    return out


def rule_claim_mismatch(m):
    out = []
    claims = m.get("claims") or {}
    for key in ("params", "macs"):
        stated, measured = _num(claims.get(key)), m.get(f"measured_{key}")
        if stated and measured and abs(stated / measured - 1) > CLAIM_MISMATCH:
            out.append(Flag("claim-mismatch", "warn", [m["name"]], {"indicator": key, "stated": stated,
                                                                     "measured": measured},
                            f"{m['name']}: the stated {key} ({si(stated)}) is {stated / measured - 1:+.1%} from "
                            f"the measured {si(measured)}.",
                            "Check the configuration measured against the one in the paper.", REF["reporting"]))
    return out


PAIR_RULES = (rule_indicators_disagree, rule_parameter_sharing, rule_sparsity, rule_embedding_heavy,
              rule_sequence_length, rule_flops_speed_mismatch, rule_parallelism, rule_memory_bound, rule_capacity,
              rule_hardware, rule_units, rule_single_indicator)
CLAIM_AWARE = (rule_parameter_sharing, rule_sparsity, rule_single_indicator)


def evaluate(results: dict, claim_text: str = "") -> list[dict]:
    """Every flag for a results file (or audited claims), most severe first, duplicates removed."""
    models = [m for m in to_plain(results["models"]) if not m.get("failed")]
    views = []
    for m in models:
        v = view(m)
        # what was measured, to check a paper's stated numbers against (audit mode)
        v["measured_flops"] = _num((m.get("flops") or {}).get("flops"))
        v["measured_macs"] = _num((m.get("flops") or {}).get("macs"))
        v["measured_params"] = _num((m.get("params") or {}).get("unique"))
        views.append(v)
    if not views:
        return []
    proposed = next((v for v in views if v["role"] == "proposed"), views[0])
    flags: list[Flag] = []
    for v in views:
        flags += rule_measurement_quality(v) + rule_claim_mismatch(v)
    for other in views:
        if other is proposed:
            continue
        for rule in PAIR_RULES:
            flags += rule(proposed, other, claim_text) if rule in CLAIM_AWARE else rule(proposed, other)
    seen, out = set(), []
    for f in sorted(flags, key=lambda f: -SEVERITIES.index(f.severity)):
        key = (f.id, f.message)
        if key not in seen:
            seen.add(key)
            out.append(asdict(f))
    return out


def verdict(flags: list[dict]) -> str:
    """One word for the report: unfair, questionable or fair."""
    if any(f["severity"] == "unfair" for f in flags):
        return "unfair"
    if any(f["severity"] == "warn" for f in flags):
        return "questionable"
    return "fair"

