"""The judgement of a comparison: two questions, two answers (README, "The judgement").

1. Is the comparison as made fair? The proposed model against the baseline; in an audit,
   every proposed row against every baseline row. Verdict: fair, questionable, unfair, or
   insufficient (fewer than two cost indicators known for a pair: never fair by default).
   Flags on the matched variants fairness built do not enter it.
2. Does the proposed model's advantage survive matching? For each indicator matched on, the
   proposed model beside the baseline's variant matched on it: on every other indicator and
   on quality, the advantage survives, shrinks, reverses, appears (where there was none), falls
   behind (a loss appears or grows), or is unknown until the variant is trained.

Flags are folded into findings: one per kind, the principal pair first, the other pairs
counted; each finding keeps every flag of its kind for the results file.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import asdict, replace

from . import readings as rd
from .curve import analysis as curve_analysis, sentence as curve_sentence
from .flags import (GENERATION, HOST_BOUND, OTHER_KERNELS, QUALITY_TIE, SEVERITIES, direct_model_flag, has_advantage,
                    decode_host_bound, model_flags, pair_flags, pair_ratios, ratio_evidence, replay_slower, speed_pair,
                    tie_margin, ttft_host_bound, view)
from .indicators.speed import median_ci95
from .readings import INDICATORS, JUDGED, speed_part
from .results import typed_models

VERDICTS = ("fair", "insufficient", "questionable", "unfair")  # in rising order: a report takes its worst pair's
# Within a severity, the finding that explains most comes first: a specific cause (a convention, sharing,
# sparsity, input length, depth, memory traffic) before its symptoms (FLOPs that do not become time, a
# winner that flips with the batch, indicators that disagree), measurement notes last.
KIND_ORDER = ("wrong-model", "units", "capacity-handicap", "parameter-sharing", "sparsity", "sequence-length", "claim-mismatch",
              "embedding-heavy", "kv-cache", "parallelism", "memory-bound", "flops-speed-mismatch", "hardware-mismatch",
              "quality-tradeoff", "batch-flip", "precision-flip", "prefill-decode", "single-indicator",
              "indicators-disagree", "incomplete-count", "noisy-timing", "decode-bound", "clocks-moved", "gpu-throttled",
              "assumed-input")


def roles(models: list[dict]) -> tuple[list[dict], list[dict], list[dict]]:
    """(proposed, baselines, variants): the first model stands in when none is marked proposed.
    A curve's members (role "curve") are none of these: points of a family's curve, not compared."""
    models = [m for m in models if m["role"] != "curve"]
    proposed = [m for m in models if m["role"] == "proposed"] or models[:1]
    variants = [m for m in models if m["role"] == "variant" and m not in proposed]
    return proposed, [m for m in models if m not in proposed and m not in variants], variants


def curve_of(results: dict, proposed: list[dict], views: list[dict]) -> dict | None:
    """The proposed model against the curve the comparison names (curve.py), from the views of the
    members' records; None without a curve or a single proposed model."""
    curve = results.get("curve")
    if not curve or len(proposed) != 1:
        return None
    by_name = {v["name"]: v for v in views}
    members = {m["name"]: by_name[m["model"]] for m in curve["members"] if m["model"] in by_name}
    return curve_analysis(curve, proposed[0], members, results.get("environment") or {})


def pair_verdict(flags: list, known: list[str]) -> str:
    """The verdict on one pair from its directed flags (flags.direct): only findings that cut
    against the comparison count. A model that is not the one claimed, or fewer than two cost
    indicators known, leaves it insufficient: no verdict may rest on the wrong model."""
    if any(f.id == "wrong-model" for f in flags):
        return "insufficient"
    if any(f.severity == "unfair" for f in flags):
        return "unfair"
    if len(known) < 2:
        return "insufficient"
    return "questionable" if any(f.severity == "warn" for f in flags) else "fair"


def not_judged(views: list[dict]) -> list[str]:
    """Speeds shown in the tables but not judged: eager numbers the host's launches set, where no
    CUDA graph replay of the same model was timed; replays slower than eager (flags.replay_slower)."""
    out = []
    for k in ("throughput", "latency"):
        label = "batch-1 latency" if k == "latency" else "throughput"
        slow = {v["name"]: x for v in views if (x := replay_slower(v["record"].speed, k))}
        quiet = [v for v in views if k in v["host_bound"] and "cuda_graph" not in v["speeds"][k]]
        if quiet:
            why = {((speed_part(v["record"], "cuda_graph") or {}).get("unavailable") or "") for v in quiet}
            fix = ("; its CUDA graph replay is slower still (below)" if all(v["name"] in slow for v in quiet) else
                   "; it could not be replayed from a CUDA graph: " + "; ".join(sorted(why)) if any(why) else
                   "; --cuda-graphs times the model itself")
            out.append(f"The eager {label} of {', '.join(v['name'] for v in quiet)} is host-bound (the GPU idled over "
                       f"half of each step: it times the host's kernel launches), so it is shown but not judged{fix}.")
        if slow:
            out.append(f"The CUDA graph replay's {label} of " + ", ".join(f"{n} ({x:.2f}x the eager time)"
                                                                       for n, x in slow.items())
                       + f" is slower than the same forward pass eager, {OTHER_KERNELS}: it is shown but not judged, "
                         "and the eager number is where the host did not set it.")
    return out


def judge(results: dict, claim_text: str = "") -> dict:
    """The verdict on the comparison as made, the findings, and the matched comparisons."""
    results = typed_models(results)
    views = [view(m) for m in results["models"] if not m.failed]
    if not views:
        return {"verdict": "insufficient", "pairs": [], "findings": [], "matched": [], "flags": [],
                "summary": ["Verdict: insufficient. No model was measured."], "details": [], "not_judged": []}
    proposed, baselines, variants = roles(views)
    curve = curve_of(results, proposed, views)
    if curve:  # the rules that weigh quality read it (flags.rule_quality_tradeoff)
        proposed[0]["curve"] = curve
    own = {v["name"]: model_flags(v) for v in views}
    flags = []
    pairs = []
    for p in proposed:
        for b in baselines:
            fl = pair_flags(p, b, claim_text, "principal")
            adv = has_advantage(p, b)
            mine = fl + [direct_model_flag(f, p, b, adv) for n in (p["name"], b["name"]) for f in own[n]]
            ratios = pair_ratios(p, b)
            pairs.append({"models": [p["name"], b["name"]], "verdict": pair_verdict(mine, list(ratios)),
                          "known": list(ratios), "ratios": ratio_evidence(ratios),
                          "flags": sorted({f.id for f in mine if f.cuts == "against"})})
            flags += mine
        for v in variants:
            flags += pair_flags(p, v, claim_text, "matched")
    # a model's own flags outside any principal pair (a variant's capacity): notes about that model,
    # outside the verdict; there is no pair to direct them in
    in_pairs = {n for p in pairs for n in p["models"]}
    flags += [replace(f, cuts="note") for n, fl in own.items() if n not in in_pairs for f in fl]
    verdict = max((p["verdict"] for p in pairs), key=VERDICTS.index, default="insufficient")
    plain = _dedupe(flags)
    principal_models = {n for p in pairs for n in p["models"]}
    findings = fold(plain, principal_models)
    matched = matched_comparisons(results, proposed, baselines, variants, curve)
    unmatched = (results.get("comparison") or {}).get("no_family")
    quiet = not_judged(views)
    lines = summary(verdict, pairs, findings)
    if curve:  # the first screen says whether the quality win survives at equal cost
        curve["sentence"] = curve_sentence(curve)
        lines.insert(1, curve["sentence"])
    return {"verdict": verdict, "pairs": pairs, "findings": findings, "matched": matched, "flags": plain,
            "summary": lines, "not_judged": quiet, **({"curve": curve} if curve else {}),
            "details": [m["answer"] for m in _headline(matched)]
            + ([f"No matched baselines: {unmatched}."] if unmatched else [])}


def _dedupe(flags: list) -> list[dict]:
    seen, out = set(), []
    for f in flags:
        if (f.id, f.message) not in seen:
            seen.add((f.id, f.message))
            out.append(asdict(f))
    return out


def _is_principal(f: dict, principal_models: set) -> bool:
    return f["scope"] == "principal" or (f["scope"] == "model" and set(f["models"]) <= principal_models)


def fold(flags: list[dict], principal_models: set) -> list[dict]:
    """One finding per kind: its principal flag first (most severe), the others counted."""
    kinds: dict[str, list[dict]] = {}
    for f in flags:
        kinds.setdefault(f["id"], []).append(f)
    out = []
    for kind, group in kinds.items():
        main = [f for f in group if _is_principal(f, principal_models)]
        ranked = sorted(main or group, key=lambda f: (f.get("cuts") != "against", -SEVERITIES.index(f["severity"])))
        head = ranked[0]
        rest = [f for f in group if f is not head]
        out.append({"id": kind, "severity": head["severity"], "scope": "principal" if main else "matched",
                    "cuts": head.get("cuts", "against"), "models": head["models"], "message": head["message"], "evidence": head["evidence"],
                    "advice": head["advice"], "reference": head["reference"], "others": len(rest),
                    "others_text": _others_text(rest), "flags": group})
    order = {k: i for i, k in enumerate(KIND_ORDER)}
    # what counts against the comparison first (a model that is not the one claimed leads: nothing
    # else can be judged), then the notes that say which way a mismatch cuts, then measurement notes
    cut_order = {"against": 0, "for": 1, "note": 2}
    return sorted(out, key=lambda f: (f["scope"] != "principal", cut_order[f["cuts"]], f["id"] != "wrong-model",
                                      -SEVERITIES.index(f["severity"]), order.get(f["id"], len(order))))


def _others_text(rest: list[dict]) -> str:
    if not rest:
        return ""
    names = sorted({" vs ".join(f["models"]) for f in rest})
    shown = "; ".join(names[:3]) + (f"; and {len(names) - 3} more" if len(names) > 3 else "")
    return f"Also {len(rest)} more of this kind ({shown}): see results.json"


# --- the matched comparisons ----------------------------------------------------------------------


def _paired(results: dict, a: dict, b: dict, key: str) -> tuple[float, list[float]] | None:
    """The speed-up of a over b paired round by round in one interleaved group, with its 95% CI,
    at the batch size of a's headline number (the largest for throughput, 1 for latency), in the
    implementation the rules judge (flags.speed_pair: CUDA graph replays where both have them)."""
    sp = speed_pair(a, b, key)
    if not sp or sp[2] == "stated":
        return None
    impl = sp[2]
    if key in GENERATION:
        return _paired_generation(a, b, key, impl)
    speed = a["record"].speed
    if impl == "eager":  # the eager headline numbers; the generation indicators have none here
        timed = {"throughput": speed.throughput, "latency": speed.latency} if speed is not None else {}
    else:
        timed = speed_part(a["record"], "cuda_graph") or {}
    batch = (timed.get(key) or {}).get("batch_size")
    for r in results.get("speed_ratios") or []:
        if r["indicator"] != key or r["batch_size"] != batch or r.get("reference_batch_size", batch) != batch \
                or r.get("implementation", "eager") != impl:
            continue
        if r["model"] == a["name"] and r["reference"] == b["name"]:
            return r["speedup"], list(r["ci95"])
        if r["model"] == b["name"] and r["reference"] == a["name"]:
            return 1 / r["speedup"], [1 / r["ci95"][1], 1 / r["ci95"][0]]
    return None


def _paired_generation(a: dict, b: dict, key: str, impl: str) -> tuple[float, list[float]] | None:
    """A generation speed-up of a over b paired run by run: a compare's generation runs take turns
    round by round (runner._generation), so run i of each model ran side by side. Each run's time
    (its median decode step, or its prefill) of b over a's, the median over the runs and the 95% CI
    of that median (with 3 runs, their range). None where the runs were not kept or not alike."""
    run = rd.GRAPH_DECODE if impl == "cuda_graph" else rd.EAGER_DECODE
    ra, rb = rd.generation_run(a["record"], key, run) or {}, rd.generation_run(b["record"], key, run) or {}
    ta, tb = rd.by_run(ra, key), rd.by_run(rb, key)
    if not ta or not tb or len(ta) != len(tb) or ra["batch_size"] != rb["batch_size"] or not all(ta):
        return None
    per_run = [y / x for x, y in zip(ta, tb)]
    return statistics.median(per_run), list(median_ci95(per_run))


def _cell(results: dict, a: dict, b: dict, key: str) -> dict | None:
    """a against b on one indicator: the ratio in its convention, the advantage (> 1: a better),
    the tie margin, and the 95% CI where the speeds were timed together."""
    r = pair_ratios(a, b).get(key)
    if r is None:
        return None
    cell = {"ratio": r, "margin": tie_margin(a, b, key)}
    if INDICATORS[key].convention == rd.SPEED:
        paired = _paired(results, a, b, key)
        if paired:
            cell["ratio"], cell["ci95"] = paired
            r = paired[0]
            cell["margin"] = max(rd.SPEED_NOISE, (paired[1][1] - paired[1][0]) / 2 / r)
        elif results.get("speed_ratios"):  # timed, but not in one interleaved group: drift is not paired out
            cell["apart"] = True
    cell["advantage"] = rd.advantage(key, r)
    return cell


def outcome(as_made: dict | None, matched: dict | None) -> str:
    """What happens to the proposed model's advantage when the baseline is replaced by its variant."""
    if matched is None:
        return "not measured"
    a1, m1 = matched["advantage"], matched["margin"]
    a0, m0 = (as_made["advantage"], as_made["margin"]) if as_made else (1.0, 0.0)
    if a0 <= 1 + m0:  # no advantage as made: one may appear, or the proposed model falls (further) behind
        if a1 > 1 + m1:
            return "appears"
        return "falls behind" if a1 < 1 / (1 + m1) and a1 < a0 / (1 + max(m0, m1)) else "none"
    if a1 < 1 / (1 + m1):
        return "reverses"
    if a1 <= 1 + m1 or a1 < a0 / (1 + max(m0, m1)):
        return "shrinks"
    return "survives"


def _quality_row(p: dict, b: dict, v: dict, on: str | None, curve: dict | None) -> dict:
    """Quality, in points: known where the user gave it (fairness never measures quality). A
    variant without its own, matched on an indicator the comparison's curve covers, is read off the
    curve: the family's quality at the proposed model's cost on that indicator ("curve" names it)."""
    q = next((q for q in p["quality"] if q in b["quality"] or q in v["quality"]), next(iter(p["quality"]), "quality"))
    as_made = p["quality"][q] - b["quality"][q] if q in p["quality"] and q in b["quality"] else None
    on = "flops" if on == "macs" else on
    point = next((r for r in (curve or {}).get("rows", []) if r["indicator"] == on and r.get("delta") is not None
                  and curve["quality"] == q), None) if q not in v["quality"] else None
    if point is None and (q not in v["quality"] or q not in p["quality"]):
        return {"indicator": q, "kind": "quality", "as_made": as_made, "matched": None,
                "outcome": "unknown until trained"}
    delta = point["delta"] if point else p["quality"][q] - v["quality"][q]

    def cell(d):
        return None if d is None else {"advantage": 1 + d / 100, "margin": QUALITY_TIE / 100}

    return {"indicator": q, "kind": "quality", "as_made": as_made, "matched": delta,
            "outcome": outcome(cell(as_made), cell(delta)), **({"curve": curve["name"]} if point else {})}


def matched_comparisons(results: dict, proposed: list, baselines: list, variants: list,
                        curve: dict | None = None) -> list[dict]:
    """For each variant, grouped by the indicator it is matched on: the proposed model against it
    beside the proposed model against the baseline, indicator by indicator. Where the baseline
    itself is the closest match on an indicator, it stands as its own variant."""
    if len(proposed) != 1 or not baselines:
        return []
    p, b = proposed[0], baselines[0]
    own = (results.get("comparison") or {}).get("baseline_matches") or {}
    entries = [(v, v["match"] or {}) for v in variants] + [(b, m) for m in own.values()]
    out = []
    for v, match in entries:
        on = [match.get("indicator")] + [x["indicator"] for x in match.get("also") or []]
        rows = []
        for k in JUDGED:
            made, vs = _cell(results, p, b, k), _cell(results, p, v, k)
            if made is None and vs is None:
                continue
            row = {"indicator": k, "kind": INDICATORS[k].convention,
                   "as_made": made and made["ratio"], "matched": vs and vs["ratio"],
                   "behind": bool(made and made["advantage"] < 1 / (1 + made["margin"])),
                   "still_behind": bool(vs and vs["advantage"] < 1),
                   "outcome": "matched" if k in on or (k == "flops" and "macs" in on) else outcome(made, vs)}
            for which, cell in (("as_made", made), ("matched", vs)):
                if cell and "ci95" in cell:
                    row[f"{which}_ci95"] = cell["ci95"]
                if cell and cell.get("apart"):
                    row[f"{which}_apart"] = True
            rows.append(row)
        rows.append(_quality_row(p, b, v, match.get("indicator"), curve))
        out.append({"indicator": match.get("indicator"), "also": on[1:], "variant": v["name"],
                    "is_baseline": v is b, "strategy": match.get("strategy"), "rel_error": match.get("rel_error"),
                    "within_tolerance": match.get("within_tolerance"), "capacity_loss": v["capacity_loss"],
                    "built": v["built"], "rows": rows, "answer": _answer(p, v, match, rows, v is b)})
    out += [_unreachable(b, u, p) for u in (results.get("comparison") or {}).get("unreachable") or []]
    order = {k: i for i, k in enumerate(rd.INDICATORS)}
    return sorted(out, key=lambda m: order.get(m["indicator"], len(order)))


def _unreachable(b: dict, u: dict, p: dict) -> dict:
    """A strategy that could not reach the target, or a target no strategy was searched for (rel_error
    None): no variant, and why."""
    label = INDICATORS[u["indicator"]].label
    text = f"At equal {label}: {rd.unreachable_note(u, b['name'])}"
    if u.get("rel_error") is None:  # not searched: the reason is the whole answer
        text += "."
    else:
        text += ", so no variant is shown."
        speed = b["record"].speed
        idle = next((r.get("idle_share") for r in (speed.runs if speed is not None else None) or []
                     if r.get("batch_size") == 1 and r.get("idle_share") is not None), None)
        if u["indicator"] == "latency" and idle is not None and idle > HOST_BOUND:
            text += (f" Batch-1 time is launch-bound here (the GPU idles {idle:.0%} of a step): the host's kernel "
                     f"launches, not the model's size, set it, so scaling the model barely moves it.")
        text += _host_bound_target(p, u["indicator"])
    return {"indicator": u["indicator"], "also": [], "variant": None, "unreachable": True, "is_baseline": False,
            "strategy": u["strategy"], "rel_error": u["rel_error"], "within_tolerance": False, "capacity_loss": [],
            "built": "", "rows": [], "answer": text}


def fmt(row: dict, which: str, table: bool = False) -> str:
    """One cell of a matched-comparison row ("as_made" or "matched"): a ratio, or quality points;
    in a table with the speed-up's CI (the table's header names the points)."""
    x = row[which]
    if x is None:
        return "not known" if table and row["kind"] == "quality" else "n/a"
    if row["kind"] == "quality":
        curve = row.get("curve") if which == "matched" else None
        return f"{x:+.3g}" + ((" (curve)" if curve else "") if table else
                              " points" + (f" against the {curve} curve" if curve else ""))
    ci = row.get(f"{which}_ci95") if table else None
    return f"{x:.3g}x" + (f" [{ci[0]:.3g}-{ci[1]:.3g}]" if ci else "") + \
        (" (timed apart)" if row.get(f"{which}_apart") else "")


def _answer(p: dict, v: dict, match: dict, rows: list[dict], is_baseline: bool) -> str:
    """One sentence a reviewer can paste: what matching does to the proposed model's advantage."""
    ind = match.get("indicator")
    label = INDICATORS[ind].label if ind in INDICATORS else ind
    err = f", {match['rel_error']:+.1%}" if match.get("rel_error") is not None else ""
    parts = []
    for r in rows:
        if r["outcome"] == "matched":
            continue
        if r["kind"] == "quality":
            parts.append(f"{r['indicator']} {r['outcome']}" if r["outcome"] == "unknown until trained" else
                         f"{r['indicator']} {fmt(r, 'as_made')} → {fmt(r, 'matched')} ({r['outcome']})")
            continue
        name = INDICATORS[r["indicator"]].label
        word = {"none": "no advantage", "appears": "an advantage appears"}.get(r["outcome"], r["outcome"])
        if r["outcome"] == "none" and r["as_made"] is not None and r.get("behind"):
            # behind as made; against the variant ahead or behind, but within the timing's CI
            word = "still behind" if r.get("still_behind") else "no clear advantage: within the CI"
        parts.append(f"{name} {fmt(r, 'as_made')} → {fmt(r, 'matched')} ({word})")
    if is_baseline:  # nothing changes: say where the comparison as made stands
        made = [f"{r['indicator'] if r['kind'] == 'quality' else INDICATORS[r['indicator']].label} "
                f"{fmt(r, 'as_made')}" for r in rows if r["outcome"] != "matched" and r["as_made"] is not None]
        return (f"At equal {label}, {v['name']} itself is the closest match ({err.lstrip(', ')}), so the comparison "
                f"as made is the matched one" + (": " + "; ".join(made) if made else "") + ".")
    text = f"At equal {label} ({v['name']}{err}), {p['name']} against it: " + "; ".join(parts) + "."
    if v["capacity_loss"]:
        text += f" The variant keeps {'; '.join(v['capacity_loss'])}: a win against it means little."
    return text + _host_bound_target(p, ind)


def _host_bound_target(p: dict, indicator: str) -> str:
    """A sentence where the proposed model's generation number that a match on `indicator` aimed at
    was set by the host's launches: matching (runner.generation_rate) times the replayed decode
    unless it copied the KV cache, else the eager one, and the prefill eagerly. Such a variant is
    matched on the host. On an H100 the Mistral-style GQA model's eager decode, 94% idle, was the
    target, and the width strategy gave a 58M variant of a 220M model (gallery, 2026-12-07)."""
    if indicator not in GENERATION:
        return ""
    rec = p["record"]
    if indicator == "decode_throughput":
        # the replay, where the judgement reads one (flags._judged_speeds), was the target
        if "cuda_graph" in p["speeds"][indicator] or not decode_host_bound(rec):
            return ""
        why = f"the GPU idled {rd.generation_run(rec, indicator)['idle_share']:.0%} of each of its eager decode steps"
    elif indicator == "ttft" and ttft_host_bound(rec):
        why = "its forward pass over the prompt left the GPU idle over half of each step"
    else:
        return ""
    return (f" The target, {p['name']}'s {INDICATORS[indicator].label}, is host-bound ({why}): a variant at that "
            f"speed is matched on the host's kernel launches more than on the model, and says little.")


def _lead(m: dict) -> float:
    """How far the proposed model leads a variant: the mean log advantage over the judged costs
    and speeds it was not matched on (0: level; below 0: behind)."""
    logs = [math.log(rd.advantage(r["indicator"], r["matched"])) for r in m["rows"]
            if r["kind"] != "quality" and r["outcome"] != "matched" and r["matched"]]
    return sum(logs) / len(logs) if logs else 0.0


def _peers(m: dict) -> bool:
    """A variant that stands for the matched baseline as well as any other: within tolerance, and
    keeping the baseline's capacity."""
    return not m.get("unreachable") and not m["is_baseline"] and bool(m.get("within_tolerance")) \
        and not m["capacity_loss"]


def _headline(matched: list[dict]) -> list[dict]:
    """Per matched indicator, the variant a reader should look at first. Among the variants matched
    within tolerance that keep the baseline's capacity, every one is the baseline at equal cost,
    and a 0.002% match is no better a baseline than a 0.018% one: the headline is the strongest,
    the one the proposed model leads least, and the sentence gives the range over all of them
    (issue 32: the closest by a hair made Switch-Base-8 look 2x faster than the width and compound
    T5s say). Otherwise one that keeps the baseline's capacity if any does, then the closest."""
    out = {}
    for m in matched:
        peer = _peers(m)
        key = (bool(m.get("unreachable")), bool(m["capacity_loss"]), not peer,
               _lead(m) if peer else abs(m["rel_error"] or 0))
        if m["indicator"] not in out or key < out[m["indicator"]][0]:
            out[m["indicator"]] = (key, m)
    heads = []
    for key, m in out.values():
        peers = [x for x in matched if x["indicator"] == m["indicator"] and _peers(x)]
        heads.append({**m, "answer": m["answer"] + _range(m, peers)} if len(peers) > 1 else m)
    return heads


def _range(head: dict, peers: list[dict]) -> str:
    """The sentence that gives each judged indicator's range over every variant matched within
    tolerance on one indicator (the headline is the strongest of them)."""
    spans = []
    for r in head["rows"]:
        if r["kind"] == "quality" or r["outcome"] == "matched":
            continue
        values = [x["matched"] for p in peers for x in p["rows"] if x["indicator"] == r["indicator"] and x["matched"]]
        if len(values) > 1:
            spans.append(f"{INDICATORS[r['indicator']].label} {min(values):.3g}x-{max(values):.3g}x")
    label = INDICATORS[head["indicator"]].label if head["indicator"] in INDICATORS else head["indicator"]
    strategies = ", ".join(sorted(p["strategy"] or "?" for p in peers))
    return (f" It is the strongest of the {len(peers)} variants matched on {label} within tolerance ({strategies}), "
            f"the one the proposed model leads least" + (f"; over all of them: {'; '.join(spans)}." if spans else "."))


def first_sentence(text: str) -> str:
    """Up to the first full stop that ends a sentence ("0.107x" and "11.68 M." inside one do not)."""
    return re.split(r"(?<=[.!?])\s+(?=[A-Z])", text, maxsplit=1)[0]


HEADLINE_WORDS = 60  # the verdict box reads in ten seconds: a verdict line, then at most three findings
FIRST_SCREEN_FINDINGS = 3


def summary(verdict: str, pairs: list[dict], findings: list[dict]) -> list[str]:
    """The first screen: the verdict with its reason in one line (at most HEADLINE_WORDS words), then
    at most three findings, one sentence each: those that count against the comparison, or for a
    fair one the notes that say which way a mismatch cuts. The matched comparisons ("at equal X")
    are the detail below the table (judge's `details`)."""
    principal = [f for f in findings if f["scope"] == "principal"]
    against = [f for f in principal if f["cuts"] == "against"]
    if len(pairs) == 1:
        p = pairs[0]
        a, b = p["models"]
        head = f"Verdict on {a} against {b} as compared: {verdict}."
        if verdict == "insufficient" and not against:
            known = ", ".join(INDICATORS[k].label for k in p["known"]) or "none"
            head += (f" Too little is known to judge (cost indicators known for both: {known}); report at least "
                     f"parameters, FLOPs and a measured speed.")
        elif verdict == "fair":
            notes = len([f for f in principal if f["cuts"] == "for"])
            head += f" Nothing in it flatters {a}" + (
                (": the note below says which way a mismatch cuts." if notes == 1 else
                 f": the {notes} notes below say which way the mismatches cut.") if notes else ".")
    else:
        bad = [p for p in pairs if p["verdict"] != "fair"]
        head = (f"Verdict on the comparison as made ({len(pairs)} pairs): {verdict}."
                + (" " + "; ".join(f"{' vs '.join(p['models'])}: {p['verdict']}" for p in bad[:3])
                   + (f"; and {len(bad) - 3} more" if len(bad) > 3 else "") + "." if bad else ""))
    shown = against or [f for f in principal if f["cuts"] == "for"]
    return [head] + [first_sentence(f["message"]) for f in shown[:FIRST_SCREEN_FINDINGS]]


def judgement_of(results: dict) -> dict:
    """The judgement a results file carries, or one made now for files written before it had one."""
    if results.get("judgement"):
        return results["judgement"]
    j = judge(results, (results.get("audit") or {}).get("claim") or "")
    j.pop("flags")
    return j


def model_notes(results: dict) -> list[dict]:
    """Each model's own flags, for a measurement with nothing to compare (one model): FLOPs that
    are a lower bound, noisy timings, a stated count the measurement contradicts."""
    return _dedupe([f for m in typed_models(results)["models"] if not m.failed for f in model_flags(view(m))])


def attach(results: dict, claim_text: str = "") -> dict:
    """Judge a results file in place: every flag under `flags`, the verdict under `verdict` (the
    contract's names), the findings, matched comparisons and summary under `judgement`."""
    j = judge(results, claim_text)
    results["flags"] = j.pop("flags")
    results["verdict"] = j["verdict"]
    results["judgement"] = j
    return results
