"""Unfairness rules: each reads two models (or one) and returns flags backed by numbers.

A flag has an id (its kind), a severity (info, warn, unfair), the evidence that triggered it,
a message a reader understands without the paper, advice on which comparison to make
instead, and the section of "The Efficiency Misnomer" (Dehghani et al., ICLR 2022) it rests
on. judgement.py turns the flags into the verdict and the findings.

Ratios follow readings.py: counts and memory as a cost ratio (a / b, < 1: a is cheaper),
throughput and latency as a speed-up of a over b (> 1: a is faster).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

from . import readings as rd
from .indicators.gpu_state import CLOCK_SPREAD
from .readings import CLAIM_MISMATCH, INDICATORS, JUDGED, SPEED_NOISE, advantage, num
from .record import ModelRecord, Speed
from .units import si, size

SEVERITIES = ("info", "warn", "unfair")

# --- thresholds: each with the reason it is where it is -----------------------------------------
DISAGREE_MARGIN = 0.02  # a win or a loss under 2% is a tie: below what a reader would act on
# Sharing and sparsity are spoken of only where the two models differ in them by this factor: a
# property both share does not tilt the comparison.
SHARING_RATIO = 1.5  # applied/unique parameters: a block reused even once more than half the time
SPARSITY_RATIO = 1.5  # unique/active parameters: at least a third of the weights idle per token
# Embedding shares 10 points apart: what lookups add to one model's parameters and not the other's
# is then a tenth of the count or more (GPT-2 and a Llama of 124M, 32% and 34%, are not apart).
EMBEDDING_GAP = 0.10
SAME_PARAMS = 0.05  # parameters within 5% read as "equal parameters"
FLOPS_APART = 1.5  # FLOPs 1.5x apart at equal parameters: input length or resolution differs
FLOPS_SPEED_GAP = 1.3  # FLOPs and speed ratios 1.3x apart: FLOPs do not become time alike
DEPTH_RATIO = 2.0  # twice as deep: half the parallelism at the same FLOPs
SAME_FLOPS = 0.20  # FLOPs within 20% read as "equal FLOPs" for the parallelism and memory rules
MEMORY_APART = 2.0  # activations or bytes moved 2x apart at equal FLOPs: memory-bound behaviour differs
SPEED_RATIO_MOVE = 1.3  # a speed ratio that moves 1.3x between settings is a property of the setting
NOISE_GATE = 0.10  # IQR over 10% of the median (torch.utils.benchmark's threshold)
COVERAGE_MIN = 0.99  # under 99% of executed ops counted: the FLOPs are a lower bound
CAPACITY_FLOOR = 0.5  # a baseline scaled to under half its parameters or depth is a handicapped one
QUALITY_TIE = 0.1  # quality points: a tenth of a point is below what comparison tables print
HOST_BOUND = 0.5  # the GPU idles over half of a step (batch 1 most of all): the host's kernel launches set its time
# A CUDA graph replay this many times slower than the same forward pass eager ran other kernels than
# eager did: replays are as fast as eager or faster where the kernels are the same (issue 32, item 6)
REPLAY_SLOWER = 1.10
# what such a capture ran instead, in the case that found it (benchmarks/gpu_graph_bert.py): for the notes
OTHER_KERNELS = ("so the capture ran other kernels (for one: BERT's attention in transformers runs PyTorch's math "
                 "kernel when captured, cuDNN's when eager)")

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
    # the model the mismatch flatters (makes look better than it is), where one can tell; see `direct`
    favours: str | None = None
    disfavours: str | None = None  # the model it makes look worse than it is
    # what it does to the proposed model's advantage: "against" (shrinks or reverses it: counts in
    # the verdict), "for" (the advantage is understated: a note) or "note" (a measurement note)
    cuts: str = "against"


# --- reading a model ---------------------------------------------------------------------------


def run_host_bound(run: dict) -> bool:
    """A timed run (one batch size) whose GPU idled over HOST_BOUND of each step: its speeds time
    the host's kernel launches."""
    return (run.get("idle_share") or 0) > HOST_BOUND


def speed_host_bound(speed: Speed | None, key: str) -> bool:
    """An eager headline speed ("throughput" or "latency") that the host's kernel launches set.
    Marked so when measured; read from its run's idle share for files written before throughput
    was marked. A model not timed (speed None) has none."""
    if speed is None:
        return False
    rec = getattr(speed, key) or {}
    run = next((r for r in speed.runs or [] if r.get("batch_size") == rec.get("batch_size")), {})
    return bool(rec) and bool(rec.get("host_bound") or run_host_bound(run))


def decode_host_bound(m: ModelRecord) -> bool:
    """The eager decode that decode_throughput reads (the dynamic cache at the largest batch) idled
    the GPU over HOST_BOUND of its steps (generate.decode_idle_share): the host's launches set it,
    as they set a host-bound forward pass."""
    return run_host_bound(rd.generation_run(m, "decode_throughput") or {})


def ttft_host_bound(m: ModelRecord) -> bool:
    """The eager prefill that ttft reads is the forward pass timed at that batch size over as many
    tokens (the prompt is the input's length): where that forward pass idled the GPU over HOST_BOUND
    of each step, the prefill is set by the host's launches too (on an H100 the Llama-124M's
    batch-1 forward pass over 512 tokens idled 91% of a step, and its TTFT was judged 0.657x GPT-2's)."""
    run = rd.generation_run(m, "ttft")
    if not run or (m.input or {}).get("kind") != "tokens" or (m.input or {}).get("seq_len") != run.get("prompt"):
        return False
    forward = next((r for r in (m.speed.runs if m.speed is not None else None) or []
                    if r.get("batch_size") == run["batch_size"]), {})
    return run_host_bound(forward)


def replay_slower(speed: Speed | None, key: str) -> float | None:
    """How many times slower the CUDA graph replay of a headline speed ("throughput", "latency") is
    than the same forward pass eager, where that is over REPLAY_SLOWER; None otherwise. Such a replay
    is not the model's speed: the capture ran other kernels (a host-bound eager run is slower than
    its kernels, never faster, so it cannot explain a slower replay; it is then no number to judge
    either, and the model's speed goes unjudged). The case that found it: BERT's attention in
    transformers dispatches to PyTorch's math kernel when captured and to cuDNN's when eager, so its
    replay at batch 256 runs 0.38x its eager throughput on an H100 (benchmarks/gpu_graph_bert.py).
    transformers reads the mask's values to skip it eagerly and cannot while a graph is captured
    (masking_utils, is_tracing): the likely reason, not yet isolated."""
    if speed is None:
        return None
    eager, graph = getattr(speed, key) or {}, (speed.cuda_graph or {}).get(key) or {}
    if eager.get("batch_size") != graph.get("batch_size"):
        return None
    field = "samples_per_s" if key == "throughput" else "median_s"
    e, g = num(eager.get(field)), num(graph.get(field))
    if key == "throughput" and (graph.get("sustained") or {}).get("applied"):
        g = num(graph["sustained"]["interleaved_samples_per_s"])  # like for like: eager ran interleaved
    if not e or not g:
        return None
    return _replay_over(1 / e, 1 / g) if key == "throughput" else _replay_over(e, g)


def _replay_over(eager_s: float, replay_s: float) -> float | None:
    """The replay's time over eager's, where it is over REPLAY_SLOWER (the capture ran other
    kernels); None otherwise. The one test of replay_slower and of the batch rules (_batch_speeds)."""
    ratio = replay_s / eager_s
    return ratio if ratio > REPLAY_SLOWER else None


def _timing(m: ModelRecord) -> Speed:
    """A model's timing; an empty one, with no speed in it, for a model not timed."""
    return m.speed if m.speed is not None else Speed()


def _noisy(speed: Speed) -> list[str]:
    """The headline speeds whose spread is over the gate. A host-bound eager number with a steady
    CUDA-graph replay beside it is left out: its spread is the host's launch jitter, which the
    host-bound note says, and the replay is the one to read."""
    out = []
    for k in ("throughput", "latency"):
        if not (getattr(speed, k) or {}).get("noisy"):
            continue
        graph = (speed.cuda_graph or {}).get(k) or {}
        if speed_host_bound(speed, k) and graph and not graph.get("noisy"):
            continue
        out.append(k)
    return out


GENERATION = ("ttft", "decode_throughput")  # readings' generation speeds (indicators/generate.py)


def _judged_speeds(m: ModelRecord) -> dict:
    """Per speed ("throughput", "latency"), the numbers a rule may judge, by implementation, each as
    (value, relative half-width of its 95% CI): "stated" (a paper's), "cuda_graph" (replays) and
    "eager". An eager number that the host's kernel launches set is left out (the tables still show
    it): it times the host, and a rerun moved such numbers by 25-42% (issue 24); so is an eager
    decode the host sets (decode_host_bound: the Llama-124M's eager decode at batch 64 read 4,166,
    6,670 and 6,550 tokens/s in three processes on one H100). So is a replay slower than eager
    (replay_slower): it times other kernels than the model runs eagerly."""
    out = {}
    speed = _timing(m)
    for key in ("throughput", "latency"):
        nums = {}
        if (s := rd.stated(m, key)) is not None:
            nums["stated"] = (s, 0.0)
        for impl, rec in (("cuda_graph", (speed.cuda_graph or {}).get(key)), ("eager", getattr(speed, key))):
            v = num((rec or {}).get("samples_per_s" if key == "throughput" else "median_s"))
            if v is None or (impl == "eager" and speed_host_bound(speed, key)) or \
                    (impl == "cuda_graph" and replay_slower(speed, key)):
                continue
            ci = (rec or {}).get("ci95")
            nums[impl] = (v, (ci[1] - ci[0]) / 2 / v if ci and key == "throughput" else 0.0)
        out[key] = nums
    for key in GENERATION:  # --generate: medians of 3 runs; the decode step replayed from a graph where timed
        nums = {}
        for impl, k, run in (("cuda_graph", f"graph_{key}", rd.GRAPH_DECODE), ("eager", key, rd.EAGER_DECODE)):
            v = rd.measured(m, k) if k in INDICATORS else None
            # a decode that copied its KV cache up to the query heads times that copy (rule_kv_expanded
            # says so), and a host-bound decode or prefill the host: none is the model's
            if v is None or key == "decode_throughput" and (rd.decode_expansion(m, run)
                                                            or impl == "eager" and decode_host_bound(m)):
                continue
            if key == "ttft" and impl == "eager" and ttft_host_bound(m):
                continue
            nums[impl] = (v, rd.generation_noise(rd.generation_run(m, key, run), key))  # the CI: the runs'
        out[key] = nums
    return out


def _gpu_windows(speed: Speed) -> dict:
    """The GPU's state over each timed window, by (batch size, implementation): indicators/gpu_state."""
    out = {}
    for r in speed.runs or []:
        for impl, rec in (("eager", r), ("cuda_graph", r.get("cuda_graph") or {})):
            if rec.get("gpu_state"):
                out[(r["batch_size"], impl)] = rec["gpu_state"]
    return out


def view(m: ModelRecord) -> dict:
    """The numbers the rules read from one model record, through readings.py: stated where a paper
    states them (audit) unless the measurement contradicts them, else measured. A source that built
    another model than the paper's (readings.wrong_model) lends none of its measurements."""
    wrong = rd.wrong_model(m) if m.claims else None
    # another model was built: the rules read the paper's row alone, as if nothing were measured
    src = ModelRecord(name=m.name, role=m.role, claims=m.claims, quality=m.quality) if wrong else m
    speed = _timing(src)
    v = {k: rd.value(src, k) for k in INDICATORS}
    speeds = _judged_speeds(src)
    for key, nums in speeds.items():  # the number a rule quotes: the steadiest one judged
        v[key] = next((nums[i][0] for i in SPEED_IMPLEMENTATIONS if i in nums), None)
    v.update({
        "name": m.name, "role": m.role, "record": src, "wrong_model": wrong,
        "depth": rd.depth(src), "coverage": num((src.flops or {}).get("coverage")),
        "speed_setting": rd.speed_setting(src, "throughput"), "latency_setting": rd.speed_setting(src, "latency"),
        "speeds": speeds, "runs": speed.runs or [],
        "host_bound": [k for k in ("throughput", "latency") if speed_host_bound(speed, k)],
        "noisy": _noisy(speed), "input": src.input, "assumed": rd.assumed(src),
        "gpu_windows": _gpu_windows(speed),
        "capacity_loss": m.capacity_loss or [], "claims": m.claims, "match": m.match,
        "quality": rd.quality(m), "scaled_from": m.scaled_from, "built": built_text(m),
        # ratios of parameter senses from one source: a stated unique count over a measured applied
        # one would compare two configurations (a paper's ALBERT-base with a default ALBERT-xxlarge)
        "sharing": _senses(src, "applied", "params"), "sparsity": _senses(src, "params", "active"),
    })
    return v


def _senses(m: ModelRecord, top: str, bottom: str) -> tuple[float, float] | None:
    """(top, bottom) of two parameter senses, both stated or else both measured."""
    for read in (rd.stated, rd.measured):
        t, b = read(m, top), read(m, bottom)
        if t and b:
            return t, b
    return None


def built_text(m: ModelRecord) -> str:
    """What was built and measured: the source, its arguments, the architecture's sizes where the
    record has them (a config's defaults), and the input."""
    if not m.source or not m.input:
        return ""
    kwargs = m.kwargs or {}  # an audit's row without kwargs holds None
    args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    arch = ", ".join(f"{k}={v}" for k, v in (m.architecture or {}).items() if k not in kwargs)
    text = m.source + (f" with {args}" if args else " with its defaults")
    if arch:
        text += f" ({arch})"
    return f"{text}; input {rd.input_text(m.input)}"


def _setting_of(m: dict, key: str) -> dict | None:
    return m.get("latency_setting" if key == "latency" else "speed_setting")


def _setting_diff(sa: dict, sb: dict) -> dict:
    return {k: [sa.get(k), sb.get(k)] for k in ("device", "dtype", "batch_size", "threads", "compile")
            if sa.get(k) is not None and sb.get(k) is not None and sa.get(k) != sb.get(k)}


def _speeds_comparable(a: dict, b: dict, key: str) -> bool:
    sa, sb = _setting_of(a, key), _setting_of(b, key)
    return not sa or not sb or _setting_diff(sa, sb) == {}


# Which speed a rule judges when a pair has several: a paper's stated one (an audit times nothing),
# then CUDA graph replays (steady, without the host's launches), then eager.
SPEED_IMPLEMENTATIONS = ("stated", "cuda_graph", "eager")


def judged_replay(m: ModelRecord, key: str) -> bool:
    """Whether the judgement reads m's CUDA graph replay for a speed ("throughput", "latency",
    "decode_throughput", "ttft"): there is one, and it is not slower than eager (replay_slower)."""
    return "cuda_graph" in _judged_speeds(m).get(key, {})


def speed_pair(a: dict, b: dict, key: str) -> tuple[float, float, str, float] | None:
    """(a's value, b's value, implementation, CI half-width of their ratio) of the steadiest speed
    both have in one implementation and under one setting; None where there is none."""
    if not _speeds_comparable(a, b, key):
        return None
    for impl in SPEED_IMPLEMENTATIONS:
        if impl in a["speeds"][key] and impl in b["speeds"][key]:
            (va, ca), (vb, cb) = a["speeds"][key][impl], b["speeds"][key][impl]
            return va, vb, impl, math.hypot(ca, cb)  # independent estimates: their errors add in quadrature
    return None


def _stated_speedup(a: dict, b: dict, key: str) -> float | None:
    """A speed-up of a over b that the paper states (claims `speedup`), from either side."""
    for m, other, flip in ((a, b, False), (b, a, True)):
        s = m["claims"].get("speedup") or {}
        if s.get("over") == other["name"] and s.get("indicator", "throughput") == key and num(s.get("value")):
            return 1 / s["value"] if flip else float(s["value"])
    return None


def pair_ratios(a: dict, b: dict) -> dict[str, float]:
    """a against b on every judged indicator known for both, in the one convention; speeds only
    when both were judged in one implementation under the same settings (speed_pair), else a stated
    speed-up where there is one."""
    out = {}
    for k in JUDGED:
        if INDICATORS[k].convention == rd.SPEED:
            sp = speed_pair(a, b, k)
            r = rd.ratio(k, sp[0], sp[1]) if sp else _stated_speedup(a, b, k)
        else:
            r = count_ratio(a, b, k)
        if r is not None:
            out[k] = r
    return out


def _combined_precision(a: dict, b: dict, key: str) -> float:
    """The two numbers' printed precisions, in log space and in quadrature: their rounding errors
    are independent, so they rarely both sit at the edge ("1B" against "2B" is no tie; "29M" against
    "28M" is)."""
    return math.hypot(math.log1p(rd.value_precision(a["record"], key)),
                      math.log1p(rd.value_precision(b["record"], key)))


def tie_margin(a: dict, b: dict, key: str) -> float:
    """A win or a loss smaller than this is a tie: 2% for counts; for speeds the speed noise
    (readings.SPEED_NOISE) or the CI of the two numbers, whichever is wider; either widened by the
    printed precision of stated numbers."""
    base = DISAGREE_MARGIN
    if INDICATORS[key].convention == rd.SPEED:
        sp = speed_pair(a, b, key)
        base = max(SPEED_NOISE, sp[3] if sp else 0.0)
    return (1 + base) * math.exp(_combined_precision(a, b, key)) - 1


def about_equal(a: dict, b: dict, key: str, within: float) -> bool:
    """a and b within `within` of each other on `key`, widened by the printed precision."""
    r = count_ratio(a, b, key)
    return r is not None and max(r, 1 / r) <= (1 + within) * math.exp(_combined_precision(a, b, key))


def _words(a: dict, b: dict, ratios: dict) -> str:
    out = []
    for k, r in ratios.items():
        text = INDICATORS[k].words(r, b["name"])
        sp = speed_pair(a, b, k) if INDICATORS[k].convention == rd.SPEED else None
        out.append(text + (" (CUDA graphs)" if sp and sp[2] == "cuda_graph" else ""))
    return "; ".join(out)


def ratio_evidence(ratios: dict) -> dict:
    """Ratios as evidence fields: params_ratio, flops_ratio, throughput_speedup, ..."""
    return {f"{k}_{INDICATORS[k].ratio_name}": r for k, r in ratios.items()}


def wins_losses(a: dict, b: dict, ratios: dict) -> tuple[list[str], list[str]]:
    """The indicators on which a is better than b, and those on which it is worse, ties left out."""
    outcomes = {k: _outcome(a, b, k, r) for k, r in ratios.items()}
    return [k for k, o in outcomes.items() if o > 0], [k for k, o in outcomes.items() if o < 0]


def _slower(m: dict, other: dict) -> bool | None:
    """Is m slower than other on a speed judged for both (beyond the tie margin)? None where no
    speed is: then only FLOPs-based reasoning is left."""
    ratios = {k: r for k, r in pair_ratios(m, other).items() if INDICATORS[k].convention == rd.SPEED}
    if not ratios:
        return None
    return bool(wins_losses(m, other, ratios)[1])


# --- which way a finding cuts --------------------------------------------------------------------


def has_advantage(a: dict, b: dict) -> bool:
    """Does a (the proposed model) show an advantage over b that a mismatch could inflate: better
    or equal on some indicator known for both (a comparison "at equal X" is a claim too), or
    better quality? A model worse on every indicator and not better in quality claims nothing."""
    ratios = pair_ratios(a, b)
    losses = wins_losses(a, b, ratios)[1]
    q = next((q for q in a["quality"] if q in b["quality"]), None)
    return len(losses) < len(ratios) or (q is not None and a["quality"][q] - b["quality"][q] > QUALITY_TIE)


def direct(f: Flag, proposed: str, baseline: str, advantage: bool = True) -> Flag:
    """The one rule for which way a finding cuts (README, "The judgement"), for compare, audit and
    zoo alike. A mismatch that flatters the proposed model (or understates the baseline) would
    shrink or reverse the proposed model's advantage: it counts against the comparison, where
    there is an advantage to shrink (has_advantage). One that flatters the baseline understates
    the proposed model's advantage: a note that says so. One that flatters neither (settings that
    differ, a model that is not the one claimed) counts against, as doubt does. Info flags are
    notes."""
    if f.severity == "info":
        return replace(f, cuts="note")
    neutral = f.favours is None and f.disfavours is None
    if neutral or (f.favours == proposed or f.disfavours == baseline) and advantage:
        return replace(f, cuts="against")
    if f.favours == proposed or f.disfavours == baseline:
        return replace(f, severity="info", cuts="note",
                       message=f"{f.message} {proposed} is worse than {baseline} on every indicator known, so this "
                               f"inflates no advantage: a note.")
    return replace(f, severity="info", cuts="for",
                   message=f"{f.message} This cuts for {proposed}: it understates {proposed}'s advantage "
                           f"instead of inflating it, so it is a note, not a reason to doubt the comparison.")


def _outcome(a: dict, b: dict, key: str, r: float) -> int:
    """+1 a wins on key, -1 a loses, 0 a tie (tie_margin)."""
    x, m = advantage(key, r), tie_margin(a, b, key)
    return 1 if x > 1 + m else -1 if x < 1 / (1 + m) else 0


def direct_model_flag(f: Flag, a: dict, b: dict, advantage: bool = True) -> Flag:
    """`direct` for one model's own flag within the pair a (proposed) against b. A stated count the
    measurement contradicts counts against the comparison only where it changes how the two
    compare on that indicator (a win becomes a tie or a loss): the paper's ratio and the measured
    one on the same side of the tie margin (or both stated counts off alike: one counting habit)
    leave the comparison as it was, and the correction is a note."""
    if f.id == "claim-mismatch" and f.scope == "model" and f.severity != "info":
        key = f.evidence["indicator"]
        flagged, other = (a, b) if f.models[0] == a["name"] else (b, a)
        as_printed = {flagged["name"]: f.evidence["stated"],
                      other["name"]: rd.stated(other["record"], key) or other.get(key)}
        printed = rd.ratio(key, as_printed[a["name"]], as_printed[b["name"]])  # a against b, as the paper has it
        measured = rd.ratio(key, a.get(key), b.get(key))
        if printed and measured and _outcome(a, b, key, printed) == _outcome(a, b, key, measured):
            label = INDICATORS[key].label
            return replace(f, severity="info", cuts="note",
                           message=f"{f.message} It does not change how {a['name']} and {b['name']} compare on "
                                   f"{label} ({printed:.3g}x as printed, {measured:.3g}x as measured), so it is a note.")
    return direct(f, a["name"], b["name"], advantage)


# --- the rules -----------------------------------------------------------------------------------


def rule_indicators_disagree(a, b):
    """Better on some indicators, worse on others: a claim on the wins hides the losses. (Advantages
    of different sizes that all point one way are no disagreement.)"""
    ratios = pair_ratios(a, b)
    wins, losses = wins_losses(a, b, ratios)
    if not (wins and losses):
        return []
    msg = (f"{a['name']} is better than {b['name']} on {', '.join(INDICATORS[k].label for k in wins)} but worse on "
           f"{', '.join(INDICATORS[k].label for k in losses)} ({_words(a, b, ratios)}): which model is 'more "
           f"efficient' depends on the indicator chosen.")
    return [Flag("indicators-disagree", "warn", [a["name"], b["name"]], ratio_evidence(ratios), msg,
                 "Report every indicator side by side, and compare against baselines matched on each of them.",
                 REF["indicators"], favours=a["name"])]


def _param_claim(a, b, claim_text="") -> bool:
    """Is this a comparison at equal parameters? Matched on them, within 5%, or claimed so."""
    if (b.get("match") or {}).get("indicator") == "params" or b["claims"].get("matched_on") == "params":
        return True
    if about_equal(a, b, "params", SAME_PARAMS):
        return True
    return "param" in claim_text.lower()


def _ratio_of(m: dict, sense: str) -> float:
    x = m[sense]
    return x[0] / x[1] if x else 1.0


def rule_parameter_sharing(a, b, claim_text=""):
    """A model that reuses its weights far more than the other looks cheap on parameters: unfair
    when the comparison is at equal parameters, or when its parameter advantage is what sharing
    buys. Both sharing alike is no finding."""
    out = []
    for m, other in ((a, b), (b, a)):
        if not m["sharing"] or _ratio_of(m, "sharing") / _ratio_of(other, "sharing") <= SHARING_RATIO:
            continue
        applied, unique = m["sharing"]
        r = applied / unique
        pr = rd.ratio("params", m["params"], other.get("params"))
        looks_cheaper = pr is not None and advantage("params", pr) > 1 + tie_margin(m, other, "params")
        flattered = _param_claim(a, b, claim_text) or looks_cheaper
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
        elif flattered:
            msg += " A comparison at equal parameters is therefore unfair."
        else:
            msg += f" It does not look cheaper than {other['name']} on parameters, so nothing rests on it."
        out.append(Flag("parameter-sharing", "unfair" if flattered else "info", [m["name"], other["name"]], ev, msg,
                        "Compare at equal FLOPs and equal speed too; give both unique and applied parameters.",
                        REF["sharing"], favours=m["name"]))
    return out


def rule_sparsity(a, b, claim_text=""):
    """A sparse model (far sparser than the other) looks cheap on FLOPs and active parameters while
    its total parameters, memory and speed cost more: that flatters it wherever it loses on those."""
    out = []
    for m, other in ((a, b), (b, a)):
        if not m["sparsity"] or _ratio_of(m, "sparsity") / _ratio_of(other, "sparsity") <= SPARSITY_RATIO:
            continue
        unique, active = m["sparsity"]
        r = unique / active
        hidden = [k for k in wins_losses(m, other, pair_ratios(m, other))[1] if k != "flops"]
        msg = (f"{m['name']} is sparse: one token touches {si(active)} of its {si(unique)} parameters ({1 / r:.0%}), "
               f"so FLOPs and active parameters leave out what all its experts cost in memory and time.")
        if hidden:
            msg += (f" It is worse than {other['name']} on {', '.join(INDICATORS[k].label for k in hidden)}, which a "
                    f"comparison at equal FLOPs does not show.")
        else:
            msg += f" It is no worse than {other['name']} on the parameters, speed or memory known."
        # at equal parameters (in a sense that counts the sparse model's active ones), as for sharing
        at_params = _param_claim(a, b, claim_text)
        if hidden and at_params:
            msg += " A comparison at equal parameters is therefore unfair."
        out.append(Flag("sparsity", ("unfair" if at_params else "warn") if hidden else "info",
                        [m["name"], other["name"]],
                        {"unique": unique, "active": active, "unique_over_active": r, "worse_on": hidden}, msg,
                        "Compare at equal active parameters or FLOPs and measure speed and memory; state total and "
                        "active parameters.", REF["sparsity"], favours=m["name"]))
    return out


def _embedding_share(m: dict) -> float | None:
    """The share of a model's parameters in embedding tables, from its measurement alone: a stated
    total over a measured embedding count would mix two configurations."""
    e, p = rd.measured(m["record"], "embedding"), rd.measured(m["record"], "params")
    return e / p if e is not None and p else None


def rule_embedding_heavy(a, b):
    """Embedding lookups cost almost no FLOPs or time: where one model holds far more of its
    parameters in them, parameter counts overstate its cost and flatter the other."""
    shares = {m["name"]: s for m in (a, b) if (s := _embedding_share(m)) is not None}
    if len(shares) < 2 or abs(shares[a["name"]] - shares[b["name"]]) <= EMBEDDING_GAP:
        return []
    gap = abs(shares[a["name"]] - shares[b["name"]])
    heavy, light = (a, b) if shares[a["name"]] > shares[b["name"]] else (b, a)
    return [Flag("embedding-heavy", "warn", [a["name"], b["name"]], {"embedding_share": shares, "gap": gap},
                 "Embedding tables hold " + ", ".join(f"{s:.0%} of {n}'s parameters" for n, s in shares.items())
                 + f" ({gap * 100:.0f} points apart): lookups that cost almost no FLOPs or time, so parameter counts "
                   f"overstate the cost of {heavy['name']} against {light['name']}.",
                 "Compare non-embedding parameters, and FLOPs and speed.", REF["embedding"], favours=light["name"])]


def _inputs_differ(a: dict, b: dict) -> bool:
    """Both measured, on inputs of one kind and different sizes (a longer sequence, a larger image)."""
    ia, ib = a.get("input") or {}, b.get("input") or {}
    keys = ("height", "width", "seq_len", "decoder_seq_len")
    return bool(ia and ib) and ia.get("kind") == ib.get("kind") and any(ia.get(k) != ib.get(k) for k in keys)


def rule_sequence_length(a, b):
    """FLOPs per parameter far apart: at about equal parameters, or on inputs of different length,
    parameters hide the compute a longer input (or a smaller patch) costs. Two convolutional
    networks on one input are left out of the first: their FLOPs per parameter differ with where
    the parameters sit (stem, stride, depthwise layers), not with the input's length (issue 31:
    MobileNetV3-L against a ResNet of its parameters, both at 224 px, was told otherwise)."""
    pr, fr = rd.ratio("params", a.get("params"), b.get("params")), count_ratio(a, b, "flops")
    if pr is None or fr is None or max(fr / pr, pr / fr) <= FLOPS_APART:
        return []
    equal = about_equal(a, b, "params", SAME_PARAMS) and not (
        rd.convolutional(a["record"]) and rd.convolutional(b["record"]))
    longer = _inputs_differ(a, b)
    if not (equal or longer):
        return []
    if any(_ratio_of(m, "sharing") > SHARING_RATIO or _ratio_of(m, "sparsity") > SPARSITY_RATIO for m in (a, b)):
        return []  # parameter sharing or sparsity explains the gap, and has its own flag
    dear = a if fr > pr else b
    if equal:
        msg = (f"{a['name']} has about the same parameters as {b['name']} ({pr:.3g}x) but "
               f"{INDICATORS['flops'].words(fr, b['name'])}: each parameter is applied at a different number of "
               f"positions (patch size, stride, resolution or sequence length), which parameters do not show; they "
               f"hide {dear['name']}'s extra compute.")
    else:
        msg = (f"{a['name']} runs on {rd.describe_input(a['input'])} and {b['name']} on "
               f"{rd.describe_input(b['input'])}: at {pr:.3g}x the parameters it needs "
               f"{INDICATORS['flops'].words(fr, b['name'])}, so parameters hide {dear['name']}'s extra compute on "
               f"its longer input.")
    return [Flag("sequence-length", "warn", [a["name"], b["name"]], {"params_ratio": pr, "flops_ratio": fr},
                 msg, "Compare at equal FLOPs and speed, or state the input length with the parameters.",
                 REF["sequence"], favours=dear["name"])]


def rule_flops_speed_mismatch(a, b):
    fr = count_ratio(a, b, "flops")
    ratios = pair_ratios(a, b)
    key = "throughput" if "throughput" in ratios else "latency"  # the speed at scale, else at batch 1
    su = ratios.get(key)
    if fr is None or su is None:
        return []
    gap = max(su * fr, 1 / (su * fr))  # FLOPs alone predict a speed-up of 1 / fr
    if gap <= max(FLOPS_SPEED_GAP, 1 + tie_margin(a, b, key)):  # material, and outside the noise
        return []
    faster = su * fr > 1  # a is faster than its FLOPs predict: FLOPs understate a's speed
    how = (f"FLOPs understate {a['name']}'s speed against {b['name']}" if faster else
           f"FLOPs overstate {a['name']}'s speed against {b['name']}")
    # FLOPs that overstate a's speed matter where a is not faster after all; measured, a speed
    # advantage that is only smaller than FLOPs promised is still an advantage
    still_faster = not faster and _outcome(a, b, key, su) >= 0
    if still_faster:
        how += f", yet it is still {'as fast' if _outcome(a, b, key, su) == 0 else 'faster'} as measured"
    return [Flag("flops-speed-mismatch", "info" if still_faster else "warn", [a["name"], b["name"]],
                 {"flops_ratio": fr, f"{key}_speedup": su, "gap": gap},
                 f"{a['name']} needs {INDICATORS['flops'].words(fr, b['name'])} but "
                 + (f"has {su:.3g}x its throughput" if key == "throughput" else f"is {su:.3g}x as fast at batch 1")
                 + f"{_graph_words(a, b, key)}, where FLOPs alone predict {1 / fr:.3g}x: {how} (depthwise "
                 f"convolutions, routing, memory-bound ops and parallelism do not turn FLOPs into time alike).",
                 "Compare measured speed on the target hardware, not FLOPs alone.", REF["indicators"],
                 favours=b["name"] if faster else a["name"])]


def _graph_words(a: dict, b: dict, key: str) -> str:
    sp = speed_pair(a, b, key)
    return " with CUDA graphs" if sp and sp[2] == "cuda_graph" else ""


def _batch_speeds(m: dict) -> dict[int, dict[str, float]]:
    """Time per example at each batch size timed, by implementation, leaving out eager runs the
    host's launches set and replays over REPLAY_SLOWER slower than eager (other kernels under
    capture, as replay_slower): {batch: {"cuda_graph": s, "eager": s}}."""
    out = {}
    for r in m["runs"]:
        bs, times = r.get("batch_size"), {}
        for impl, rec in (("cuda_graph", r.get("cuda_graph") or {}), ("eager", r)):
            if bs == 1 and num((rec.get("latency") or {}).get("median_s")):
                times[impl] = rec["latency"]["median_s"]
            elif num((rec.get("throughput") or {}).get("samples_per_s")):
                times[impl] = 1 / rec["throughput"]["samples_per_s"]
        if "cuda_graph" in times and "eager" in times and _replay_over(times["eager"], times["cuda_graph"]):
            del times["cuda_graph"]
        if run_host_bound(r):
            times.pop("eager", None)
        if bs and times:
            out[bs] = times
    return out


def _speedups_by_batch(a: dict, b: dict) -> dict[int, float]:
    """a's speed-up over b at each batch size timed for both in one implementation (replays first)."""
    ta, tb = _batch_speeds(a), _batch_speeds(b)
    out = {}
    for bs in sorted(set(ta) & set(tb)):
        impl = next((i for i in ("cuda_graph", "eager") if i in ta[bs] and i in tb[bs]), None)
        if impl:
            out[bs] = tb[bs][impl] / ta[bs][impl]
    return out


def _faster(a: dict, b: dict, speedup: float, noise: float = 0.0) -> str | None:
    """The faster of a and b by a's speed-up over b, or None for a tie within the speed noise, or
    within `noise` (the CI half-width of the speed-up) where that is wider."""
    m = max(SPEED_NOISE, noise)
    return a["name"] if speedup > 1 + m else b["name"] if speedup < 1 / (1 + m) else None


def _winners_by_batch(a: dict, b: dict) -> dict[int, str | None]:
    """At each batch size timed for both, the faster model, or None for a tie."""
    return {bs: _faster(a, b, r) for bs, r in _speedups_by_batch(a, b).items()}


def rule_parallelism(a, b):
    out = []
    fr = count_ratio(a, b, "flops")
    if a.get("depth") and b.get("depth") and fr is not None and abs(fr - 1) <= SAME_FLOPS:
        dr = a["depth"] / b["depth"]
        if dr >= DEPTH_RATIO or dr <= 1 / DEPTH_RATIO:
            deep, wide = (a, b) if dr > 1 else (b, a)
            slower = _slower(deep, wide)
            msg = (f"At similar FLOPs ({fr:.3g}x), {a['name']} is {dr:.3g}x as deep as {b['name']} (sequential "
                   f"matrix ops): the deeper model has less to run in parallel, so it is slower per FLOP, most of all "
                   f"at small batch.")
            if slower is False:
                msg += f" Here the measured speeds show no such penalty for {deep['name']}."
            out.append(Flag("parallelism", "info" if slower is False else "warn", [a["name"], b["name"]],
                            {"depth_ratio": dr, "flops_ratio": fr}, msg,
                            "Measure latency at batch 1 and throughput at a large batch on the target hardware.",
                            REF["parallelism"], favours=deep["name"]))
    winners = _winners_by_batch(a, b)
    if len(winners) >= 2:
        small, large = winners[min(winners)], winners[max(winners)]
        if small and large and small != large:
            out.append(Flag("batch-flip", "warn", [a["name"], b["name"]],
                            {"faster_at_batch_1" if min(winners) == 1 else f"faster_at_batch_{min(winners)}": small,
                             "faster_at_largest_batch": large},
                            f"{small} is faster at batch {min(winners)} but {large} at batch {max(winners)}: the "
                            f"winner depends on how much parallel work there is.",
                            "State the batch size with every speed; report batch-1 latency and large-batch throughput.",
                            REF["parallelism"], favours=a["name"]))
    return out


def _side_throughput(m: dict) -> float | None:
    """The throughput under the side precision of `--precision native,autocast`: replayed where
    both precisions were replayed, else eager."""
    side = _timing(m["record"]).autocast or {}
    graph = ((side.get("cuda_graph") or {}).get("throughput") or {}).get("samples_per_s")
    return num(graph) if graph and "cuda_graph" in m["speeds"]["throughput"] else \
        num((side.get("throughput") or {}).get("samples_per_s"))


def rule_precision_flip(a, b):
    """A ranking that flips between native low precision and autocast (`--precision
    native,autocast`): the winner depends on how the model is run, not on the model alone."""
    sp = speed_pair(a, b, "throughput")
    sa, sb = _side_throughput(a), _side_throughput(b)
    if not sp or not sa or not sb:
        return []
    native, autocast = sp[0] / sp[1], sa / sb
    winner = [_faster(a, b, r) for r in (native, autocast)]
    if not all(winner) or winner[0] == winner[1]:
        return []
    return [Flag("precision-flip", "warn", [a["name"], b["name"]],
                 {"throughput_speedup_native": native, "throughput_speedup_autocast": autocast},
                 f"{winner[0]} has the higher throughput with native low-precision weights ({native:.3g}x) but "
                 f"{winner[1]} under autocast ({autocast:.3g}x): the winner depends on how the models are run.",
                 "State the precision with every speed; models are served with native weights.",
                 REF["hardware"], favours=a["name"])]


def rule_memory_bound(a, b):
    fr = count_ratio(a, b, "flops")
    if fr is None or abs(fr - 1) > SAME_FLOPS:
        return []
    apart = {k: r for k in ("activations", "bytes_moved") if (r := rd.ratio(k, a.get(k), b.get(k))) is not None
             and max(r, 1 / r) > MEMORY_APART}
    if not apart:
        return []
    heavy, light = (a, b) if max(apart.values()) > 1 else (b, a)
    slower = _slower(heavy, light)
    msg = (f"At similar FLOPs ({fr:.3g}x), {a['name']} has "
           + ", ".join(f"{r:.3g}x the {INDICATORS[k].label}" for k, r in apart.items())
           + f" of {b['name']}: memory traffic, not arithmetic, will set their speed apart.")
    if slower is False:
        msg += f" Here the measured speeds show no such penalty for {heavy['name']}."
    return [Flag("memory-bound", "info" if slower is False else "warn", [a["name"], b["name"]],
                 {"flops_ratio": fr, **ratio_evidence(apart)}, msg,
                 "Measure speed and peak memory; do not read equal FLOPs as equal cost.", REF["indicators"],
                 favours=heavy["name"])]


# KV caches this far apart (x or 1/x) at about equal parameters: GQA against MHA is 4-8x
KV_APART = 1.5
# parameters this close (within 25%) let the KV cache, not the weights, tell two decoders apart: wider
# than SAME_PARAMS (5%, "equal parameters"), as two 124M models of different families differ by 10%
KV_SIMILAR_PARAMS = 0.25


def rule_kv_cache(a, b):
    """At about equal parameters, one model holds far more KV cache per token (MHA against GQA or
    MQA): at long contexts and large batches the cache, not the weights, sets decode's memory and
    time, which a comparison of parameters or of one forward pass does not show. It flatters the
    model with the larger cache."""
    ka, kb = a.get("kv_cache"), b.get("kv_cache")
    pr = count_ratio(a, b, "params")
    if not ka or not kb or pr is None or max(pr, 1 / pr) > 1 + KV_SIMILAR_PARAMS:
        return []
    r = ka / kb
    if max(r, 1 / r) < KV_APART:
        return []
    heavy = a if r > 1 else b
    return [Flag("kv-cache", "warn", [a["name"], b["name"]], {"params_ratio": pr, "kv_cache_ratio": r,
                                                             "kv_bytes_per_token": [ka, kb]},
                 f"At similar parameters ({pr:.3g}x), {a['name']} holds {r:.3g}x the KV cache per token of "
                 f"{b['name']} ({size(ka)} against {size(kb)}): at long contexts and large batches the cache, not "
                 f"the weights, sets decode's memory and time, which parameters and one forward pass do not show.",
                 "Compare decode tokens/s and peak memory at the context lengths and batch sizes served "
                 "(--generate PROMPT:NEW).", REF["hardware"], favours=heavy["name"])]


def rule_prefill_decode(a, b):
    """The prefill (time to first token) and the decode steps (tokens/s) name different winners:
    one forward pass over a sequence does not rank generation."""
    pt, pd = speed_pair(a, b, "ttft"), speed_pair(a, b, "decode_throughput")  # one implementation each
    if not pt or not pd:
        return []
    ttft, decode = rd.ratio("ttft", pt[0], pt[1]), rd.ratio("decode_throughput", pd[0], pd[1])  # a's speed-ups
    first, steps = _faster(a, b, ttft, pt[3]), _faster(a, b, decode, pd[3])
    if not first or not steps or first == steps:
        return []
    return [Flag("prefill-decode", "warn", [a["name"], b["name"]], {"ttft_speedup": ttft, "decode_speedup": decode},
                 f"{first} reaches the first token sooner ({max(ttft, 1 / ttft):.3g}x) but {steps} decodes faster "
                 f"({max(decode, 1 / decode):.3g}x the tokens/s): the prefill, which one forward pass over a sequence "
                 f"times, does not rank generation.",
                 "Report time to first token and decode tokens/s (or time per output token), each at the batch "
                 "sizes served.", REF["hardware"], favours=a["name"])]


def _decode_cells(m: dict) -> dict[tuple[int, str], tuple[float, float, bool]]:
    """Decode tokens/s at each (batch size, implementation) generation was timed at, its spread over
    the runs (readings.generation_noise), and whether that step copied the KV cache up to the query
    heads (rule_kv_expanded). A cell the host's launches set (run_host_bound) is left out, as a
    host-bound forward pass is left out of the batch rules."""
    return {(r["batch_size"], r.get("implementation", rd.EAGER_DECODE)):
            (r["decode_tokens_per_s"], rd.generation_noise(r, "decode_throughput"), bool(r.get("kv_expanded")))
            for r in rd.generation_runs(m["record"]) if r.get("decode_tokens_per_s") and not run_host_bound(r)}


def rule_decode_flip(a, b):
    """The faster decoder depends on the implementation or the batch size (issue 26's table: GPT-2
    ahead with the dynamic cache at batch 1 and with the static cache at batch 64, the Llama ahead
    with the static cache at batch 1): any one cell picked for a paper decides the winner. A cell
    where a model copied its KV cache understates that model: its win there stands, its loss may be
    the copy's and is left out. A cell won within the two models' spread over their runs is a tie
    (a 2-core CPU's batch-1 decode moved 30% between runs)."""
    ca, cb = _decode_cells(a), _decode_cells(b)
    ratios, noise = {}, {}
    for cell in sorted(set(ca) & set(cb)):
        (ta, na, copied_a), (tb, nb, copied_b) = ca[cell], cb[cell]
        if not (copied_a and ta < tb or copied_b and tb < ta):
            ratios[cell], noise[cell] = ta / tb, math.hypot(na, nb)
    won = {}  # the winner -> its widest margin's (cell, a's speed-up)
    for cell, r in ratios.items():
        w = _faster(a, b, r, noise[cell])
        if w and (w not in won or max(r, 1 / r) > max(won[w][1], 1 / won[w][1])):
            won[w] = (cell, r)
    if len(won) < 2:
        return []

    def where(w):
        (batch, impl), r = won[w]
        return f"{w} at batch {batch} with the {impl} ({max(r, 1 / r):.3g}x the tokens/s)"

    return [Flag("decode-flip", "warn", [a["name"], b["name"]],
                 {"decode_speedups": {f"{bs} {impl}": r for (bs, impl), r in ratios.items()}},
                 f"The faster decoder depends on how generation runs: {where(a['name'])}, but {where(b['name'])}. "
                 f"One implementation and batch size, picked alone, decides the winner.",
                 "Report decode tokens/s for the implementation and batch sizes served, each named.",
                 REF["hardware"], favours=a["name"])]


# a decode step this close to its memory-bound floor is set by the bytes it reads; this far from it
# (at batch 1 on a GPU) by the host's kernel launches
NEAR_FLOOR, FAR_FROM_FLOOR = 0.5, 0.1


def rule_decode_bound(m):
    """What sets a decode step's time, from its distance to the memory-bound floor (the bytes it
    must read over the memory bandwidth): near it, memory traffic (FLOPs say little); far from it
    at batch 1, the host's launches."""
    runs = [r for r in rd.generation_runs(m["record"]) if r.get("floor_share") is not None]
    if not runs:
        return []
    near = [r for r in runs if r["floor_share"] >= NEAR_FLOOR]
    far = [r for r in runs if r["batch_size"] == 1 and r["floor_share"] < FAR_FROM_FLOOR
           and r.get("implementation", rd.EAGER_DECODE) == rd.EAGER_DECODE]  # a replay has no launches to blame
    out = []
    if near:
        r = near[0]
        out.append(Flag("decode-bound", "info", [m["name"]], {"batch_size": r["batch_size"],
                                                             "floor_share": r["floor_share"]},
                        f"{m['name']}: a decode step at batch {r['batch_size']} takes {1 / r['floor_share']:.3g}x the "
                        f"time to read its weights and KV cache at the memory bandwidth: memory traffic, not "
                        f"FLOPs, sets its decode speed.", "Compare decode by bytes read and measured tokens/s, not "
                        "FLOPs.", REF["indicators"], scope="model"))
    if far:
        r = far[0]
        idle = r.get("idle_share")  # measured over eager decode steps (generate.decode_idle_share)
        if idle is None:
            why = ("most likely the host's kernel launches, not the model's bytes or FLOPs, set it (the GPU's idle "
                   "share was not read)")
        elif idle > HOST_BOUND:
            why = (f"the GPU idled {idle:.0%} of each step: the host's kernel launches, not the model's bytes or "
                   f"FLOPs, set it")
        else:
            why = (f"the GPU idled only {idle:.0%} of each step, so its kernels, not the host, set it; neither its "
                   f"bytes nor its FLOPs predict that time")
        out.append(Flag("decode-bound", "info", [m["name"]],
                        {"batch_size": 1, "floor_share": r["floor_share"], "idle_share": idle},
                        f"{m['name']}: an eager decode step at batch 1 takes {1 / r['floor_share']:.3g}x the time to "
                        f"read its weights and KV cache: {why} (a static cache replayed from a CUDA graph removes "
                        f"the launches).",
                        "Compare decode at batch 1 only between implementations that remove the launches.",
                        REF["hardware"], scope="model"))
    return out


def rule_kv_expanded(m):
    """Decode steps that copied the KV cache up to the query heads before attending
    (indicators/generate.cache_expansion): a GQA or MQA model then reads heads/KV-heads times the
    cache it holds, so those tokens/s time the attention's implementation, not the model's cache. A
    note, since the tables mark those cells and the judgement does not read them (_judged_speeds)."""
    copied = {}
    for r in rd.generation_runs(m["record"]):
        if r.get("kv_expanded"):
            copied.setdefault(r.get("implementation", rd.EAGER_DECODE), []).append(r["batch_size"])
    if not copied:
        return []
    e = next(r["kv_expanded"] for r in rd.generation_runs(m["record"]) if r.get("kv_expanded"))
    where = "; ".join(f"the {impl} at batch {', '.join(map(str, batches))}" for impl, batches in copied.items())
    return [Flag("kv-expanded", "info", [m["name"]],
                 {"implementations": list(copied), "from_heads": e["from_heads"], "to_heads": e["to_heads"],
                  "copies_per_step": e["copies_per_step"]},
                 f"{m['name']}: each decode step ({where}) copied the KV cache from {e['from_heads']} to "
                 f"{e['to_heads']} heads before attending (transformers' repeat_kv, {e['copies_per_step']} copies "
                 f"a step), so it read {e['to_heads'] / e['from_heads']:.3g}x the cache it holds. Those decode "
                 f"tokens/s time that copy, not the model's cache, and are not judged. transformers' SDPA path "
                 f"copies where it passes a mask, as a static cache does, because PyTorch's own GQA then falls "
                 f"back to a slower kernel.",
                 "Time GQA decode with an attention that reads the cache as held (a transformers whose SDPA path "
                 "packs a single query into the KV heads, 5.25 on; flash-attn), and name the attention used with "
                 "the decode speed.", REF["hardware"], scope="model")]


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
                 f"indicator, or scale {a['name']} up instead.", REF["capacity"], favours=a["name"])]


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
    # The speed-up across batch sizes, from the steady numbers only: a ranking that flips is the
    # parallelism finding; a speed-up that only moves is a note (one number does not describe it).
    speedups = _speedups_by_batch(a, b)
    if len(speedups) >= 2:
        move = max(speedups.values()) / min(speedups.values())
        if move > SPEED_RATIO_MOVE:
            out.append(Flag("hardware-mismatch", "info", [a["name"], b["name"]],
                            {"throughput_speedup_by_batch": speedups, "move": move},
                            f"The speed-up of {a['name']} over {b['name']} moves {move:.2f}x across batch sizes ("
                            + ", ".join(f"batch {k}: {v:.3g}x" for k, v in speedups.items())
                            + "): one speed-up does not describe the pair.",
                            "Report the speed-up at every batch size that matters to the reader.", REF["hardware"]))
    return out


def _convention(m: dict) -> str | None:
    """A model's FLOP convention as stated (readings.flops_convention); None for a wrong model."""
    return None if m["wrong_model"] else rd.flops_convention(m["record"])


def count_ratio(a: dict, b: dict, key: str) -> float | None:
    """a / b on a count. FLOPs stated in two conventions (one MACs, one FLOPs) are compared as
    measured, both; otherwise a paper's numbers stay together, in whatever convention it used."""
    if key == "flops":
        ca, cb = _convention(a), _convention(b)
        if ca and cb and ca != cb:
            return rd.ratio(key, rd.measured(a["record"], key), rd.measured(b["record"], key))
    return rd.ratio(key, a.get(key), b.get(key))


def rule_units(a, b):
    """Stated FLOPs in two conventions in one comparison are off by 2x: it flatters the model stated
    in MACs. One convention throughout (both MACs named "FLOPs", as many vision papers print them)
    misleads no one: each model's naming is a note (model_units)."""
    conventions = {m["name"]: c for m in (a, b) if (c := _convention(m))}
    if len(set(conventions.values())) < 2:
        return []
    small = min((a, b), key=lambda m: {"MACs": 0, "FLOPs": 1, "2x FLOPs": 2}[conventions[m["name"]]])
    return [Flag("units", "unfair", [a["name"], b["name"]], {"conventions": conventions},
                 "The stated FLOPs of the two models follow different conventions ("
                 + ", ".join(f"{n}: {c}" for n, c in conventions.items()) + f"): the comparison is off by 2x in "
                 f"{small['name']}'s favour; the measured FLOPs are used from here on.",
                 "Restate both in one convention.", REF["units"], favours=small["name"])]


def rule_model_units(m):
    """A model's stated "FLOPs" that are its MACs (or twice its FLOPs): a note on the naming."""
    c = _convention(m)
    stated, measured_flops = num(m["claims"].get("flops")), rd.measured(m["record"], "flops")
    if c == "MACs":
        return [Flag("units", "info", [m["name"]], {"stated_flops": stated, "measured_flops": measured_flops,
                                                    "measured_macs": rd.measured(m["record"], "macs")},
                     f"{m['name']}: the stated {si(stated)}FLOPs are its multiply-accumulates (measured "
                     f"{si(rd.measured(m['record'], 'macs'))}MACs, {si(measured_flops)}FLOPs).",
                     "Say MACs, or double the number; compare every model in one convention.", REF["units"],
                     scope="model")]
    if c == "2x FLOPs":
        return [Flag("units", "info", [m["name"]], {"stated_flops": stated, "measured_flops": measured_flops},
                     f"{m['name']}: the stated {si(stated)}FLOPs are twice the measured {si(measured_flops)}FLOPs: "
                     f"each multiply-accumulate may have been counted as 2 FLOPs twice over.",
                     "Recount with one convention (FLOPs = 2 x MACs + other ops).", REF["units"], scope="model")]
    return []


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
    names one indicator, or when the stated numbers of the pair cover only one; it counts against
    the comparison where another indicator known for both shows a loss the claim leaves out."""
    ratios = pair_ratios(a, b)
    known, stated = list(ratios), stated_indicators(a, b)
    named = [k for k, pat in _INDICATOR_WORDS.items() if re.search(pat, claim_text.lower())]
    if len(named) == 1 and len(known) >= 2:
        rests_on, how = named[0], f"The claim \"{claim_text}\" rests on {named[0]} alone"
    elif len(stated) == 1 and (a["claims"] or b["claims"]):
        rests_on, how = stated[0], f"The stated numbers compare {a['name']} and {b['name']} on {stated[0]} alone"
    else:
        return []
    others = [k for k in known if k != rests_on]
    # a loss the claim leaves out counts where the claim shows an advantage (or a tie) on its one
    # indicator; where the proposed model is worse on that too, the claim hides nothing
    hidden = [] if rests_on in wins_losses(a, b, ratios)[1] else \
        wins_losses(a, b, {k: ratios[k] for k in others})[1]
    text = how + (f", while {', '.join(others)} are known for both models." if others else
                  ": no other cost indicator is known for both models.")
    if rests_on in wins_losses(a, b, ratios)[1]:
        text += f" {a['name']} is worse on {INDICATORS[rests_on].label} already, so the claim hides no advantage."
    elif others:
        text += (f" {a['name']} is worse on {', '.join(INDICATORS[k].label for k in hidden)}." if hidden else
                 f" {a['name']} is no worse on any of them.")
    return [Flag("single-indicator", "warn" if hidden or not others else "info", [a["name"], b["name"]],
                 {"claim": claim_text, "rests_on": rests_on, "also_known": others, "worse_on": hidden}, text,
                 "State the comparison with every cost indicator (parameters, FLOPs, throughput, latency, memory), "
                 "or at each of them.", REF["reporting"], favours=a["name"])]


def rule_quality_tradeoff(a, b):
    """Cheaper at lower quality (or better at higher cost) is another point on the trade-off curve,
    not an improvement: the claim needs equal quality, or a baseline matched on cost. Where the
    comparison names a family's curve (curve.py, on the proposed model's view), the curve answers
    it: above the curve at its own cost on every indicator it pays on, the model is an improvement
    (a note); below it on one, the family does better at that cost (said in the warning)."""
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
    words = _words(a, b, {k: ratios[k] for k in gained})
    curve = a.get("curve") if (a.get("curve") or {}).get("quality") == q else None
    placed = [r for r in (curve or {}).get("rows", []) if r["indicator"] in gained and r.get("delta") is not None]
    on_curve = "; ".join(f"{r['delta']:+.1f} at equal {r['label']}" for r in placed)
    text = (f"{a['name']} is {how} than {b['name']} ({words}) at {abs(delta):.3g} points "
            f"{'lower' if delta < 0 else 'higher'} {q}")
    evidence = {"quality": q, "delta": delta, **ratio_evidence({k: ratios[k] for k in gained}),
                **({"curve": curve["name"], "above_curve": {r["indicator"]: r["delta"] for r in placed}} if placed else {})}
    advice = f"Compare at equal {q}, or against {b['name']} scaled to {a['name']}'s cost (fairness match)."
    paid = [k for k in gained if k in {r["indicator"] for r in (curve or {}).get("rows", [])}]
    if placed and len(placed) == len(paid) and all(r["delta"] > QUALITY_TIE for r in placed):
        return [Flag("quality-tradeoff", "info", [a["name"], b["name"]], evidence,
                     f"{text}, and above the {curve['name']} curve at its own cost ({on_curve}): better than the "
                     f"family at that cost, not only another point on its trade-off.", advice, REF["tradeoff"],
                     favours=a["name"])]
    below = [r for r in placed if r["delta"] < -QUALITY_TIE]
    if below:
        text += (f". At its own cost the {curve['name']} curve reaches higher {q} ("
                 + "; ".join(f"{r['delta']:+.1f} at equal {r['label']}" for r in below) + ")")
    return [Flag("quality-tradeoff", "warn", [a["name"], b["name"]], evidence,
                 f"{text}: a different point on the quality-cost trade-off, not an improvement by itself.",
                 advice, REF["tradeoff"], favours=a["name"])]


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
                        REF["units"], scope="model", favours=m["name"]))
    return out


def _window_text(batch: int, impl: str) -> str:
    return f"batch {batch}" + (", CUDA graph" if impl == "cuda_graph" else ", eager")


def rule_gpu_throttled(m):
    """Timed windows whose clocks NVML says were held down (power cap, thermal slowdown, ...): the
    numbers are the board's limit as much as the model's. A note: a model that draws the board to
    its power cap does so in deployment too."""
    held = {k: st["throttled"] for k, st in m["gpu_windows"].items() if st.get("throttled")}
    if not held:
        return []
    where = "; ".join(f"{_window_text(*k)}: {', '.join(r)}" for k, r in sorted(held.items()))
    return [Flag("gpu-throttled", "info", [m["name"]], {"windows": {f"{b}/{i}": r for (b, i), r in held.items()}},
                 f"{m['name']}: NVML reports the GPU's clocks held down while it was timed ({where}); those speeds "
                 f"are the board's limit as much as the model's.",
                 "Check cooling and power limits (nvidia-smi -q -d PERFORMANCE), or report the clocks with the "
                 "speeds.", REF["hardware"], scope="model")]


def rule_power_sustained(m):
    """Throughputs that are the model's sustained rate alone at the board's power limit, below its
    rate interleaved with the other models (runner._sustain; gpu_state.py): a note, since the tables
    and the verdict already read the sustained rate, and the reader should know why it differs from
    a number taken in 50 ms turns."""
    lower = {}
    for r in m["runs"]:
        for impl, rec in (("eager", r), ("cuda_graph", r.get("cuda_graph") or {})):
            su = (rec.get("throughput") or {}).get("sustained") or {}
            if su.get("applied"):
                lower[(r["batch_size"], impl)] = su
    if not lower:
        return []
    where = "; ".join(f"{_window_text(*k)}: {su['samples_per_s']:,.0f} samples/s alone, "
                      f"{1 - su['over_interleaved']:.1%} below {su['interleaved_samples_per_s']:,.0f} interleaved"
                      for k, su in sorted(lower.items()))
    return [Flag("power-sustained", "info", [m["name"]],
                 {"windows": {f"{b}/{i}": su["over_interleaved"] for (b, i), su in lower.items()}},
                 f"{m['name']} draws the GPU to its power limit: its throughput is the rate it sustains alone "
                 f"once there ({where}). In turns with lighter models it borrowed their power headroom.",
                 "Nothing to correct: this is its cost on this board. A board with a higher power limit runs it "
                 "faster; state the board with the speeds.", REF["hardware"], scope="model")]


def rule_clocks_moved(a, b):
    """The two models' timed windows ran at median SM clocks over CLOCK_SPREAD apart (same batch
    size and implementation): part of their speed ratio is the GPU's clock, not the models. A note
    with the clocks: a heavy model can pull the clocks down itself (power cap), which is its cost."""
    apart = {}
    for k in sorted(set(a["gpu_windows"]) & set(b["gpu_windows"])):
        ca, cb = (m["gpu_windows"][k]["sm_clock_mhz"]["median"] for m in (a, b))
        if ca and cb and max(ca, cb) / min(ca, cb) - 1 > CLOCK_SPREAD:
            apart[k] = (ca, cb)
    if not apart:
        return []
    where = "; ".join(f"{_window_text(*k)}: {ca:.0f} against {cb:.0f} MHz" for k, (ca, cb) in apart.items())
    return [Flag("clocks-moved", "info", [a["name"], b["name"]],
                 {"sm_clock_mhz": {f"{k[0]}/{k[1]}": list(v) for k, v in apart.items()}, "spread": CLOCK_SPREAD},
                 f"The GPU's SM clock differed by over {CLOCK_SPREAD:.0%} between {a['name']}'s and {b['name']}'s "
                 f"timed windows ({where}): part of their speed ratio there is the clock.",
                 "Rerun on an idle, cool GPU, or lock the clocks (nvidia-smi -lgc) for a comparison of the models "
                 "alone.", REF["hardware"])]


def rule_wrong_model(m):
    """What the source built is not the paper's model (a stated count over 2x off): nothing may rest
    on its measurement, and the comparison cannot be judged until the configuration is given."""
    w = m["wrong_model"]
    if not w:
        return []
    rec = m["record"]
    label = INDICATORS[w["indicator"]].label
    built = m["built"].split("; input")[0]
    return [Flag("wrong-model", "warn", [m["name"]], {**w, "built": built},
                 f"{m['name']}: what was measured is not the paper's model: {built or 'the source as built'} has "
                 f"{si(w['measured'])} {label} against the stated {si(w['stated'])} ({w['ratio']:.3g}x), so no finding "
                 f"rests on its measurement.",
                 f"Give {rec.source or 'the source'} the paper's configuration as kwargs"
                 + (f" (it was built with {_arch_text(m)})" if _arch_text(m) else "") + ", or correct the stated "
                 "number.", REF["reporting"], scope="model")]


def _arch_text(m: dict) -> str:
    return m["built"].split(" (", 1)[1].split(")", 1)[0] if " (" in m["built"] else ""


def rule_assumed_input(m):
    """The inputs an audit assumed (the paper's row did not state them): printed, and never the
    reason for a units or mismatch alarm (the FLOP checks that rest on them stay quiet)."""
    if not m["assumed"]:
        return []
    what = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in m["assumed"].items())
    return [Flag("assumed-input", "info", [m["name"]], dict(m["assumed"]),
                 f"{m['name']}: the paper's row does not state its input, so fairness assumed {what}; its stated "
                 f"FLOPs are not checked against a count made on an assumed input.",
                 "State image_size, seq_len (and decoder_seq_len) for the row as the paper used them.",
                 REF["reporting"], scope="model")]


def rule_claim_mismatch(m):
    """A stated count checked against the measurement of what was built; the message says what
    was built, since a config's defaults are often not the model the paper means. From here on the
    measured number is used (readings.value). A stated number lower than the measurement flatters
    its model; a higher one understates it."""
    out = []
    if m["wrong_model"]:
        return out  # another model was built: rule_wrong_model says so, and nothing rests on it
    rec = m["record"]
    for key in ("params", "applied", "active", "macs", "flops"):
        if key == "flops" and _convention(m) in ("MACs", "2x FLOPs"):
            continue  # a convention, which the units rules name
        if not rd.contradicted(rec, key):
            continue
        s, measured = rd.stated(rec, key), rd.measured(rec, key)
        off = rd.stated_over_measured(rec, key) - 1  # FLOPs: against the nearer of FLOPs and 2 x MACs
        label = INDICATORS[key].label
        out.append(Flag("claim-mismatch", "warn", [m["name"]], {"indicator": key, "stated": s,
                                                                 "measured": measured, "off": off,
                                                                 "built": m["built"]},
                        f"{m['name']}: the stated {label} ({si(s)}) is {off:+.1%} from the measured {si(measured)} of "
                        f"{m['built'] or 'the model as built'}; the measured number is used from here on.",
                        "Check that the configuration measured is the one in the paper (give its kwargs), "
                        "or correct the stated number.", REF["reporting"], scope="model",
                        favours=m["name"] if off < 0 else None, disfavours=m["name"] if off > 0 else None))
    return out


def rule_stated_speedup(a, b):
    """A speed-up the paper states, checked against the speeds stated or measured for both models."""
    out = []
    for k in ("throughput", "latency"):
        s = _stated_speedup(a, b, k)
        sp = speed_pair(a, b, k)
        computed = rd.ratio(k, sp[0], sp[1]) if sp else None
        if s and computed and abs(s / computed - 1) > CLAIM_MISMATCH:
            out.append(Flag("claim-mismatch", "warn", [a["name"], b["name"]],
                            {"indicator": k, "stated_speedup": s, "speedup_from_speeds": computed},
                            f"The stated {k} speed-up of {a['name']} over {b['name']} ({s:.3g}x) is "
                            f"{s / computed - 1:+.1%} from the one their {k} numbers give ({computed:.3g}x).",
                            "State speeds measured under one setting, and the speed-up they give.", REF["reporting"],
                            favours=a["name"] if s > computed else None,
                            disfavours=a["name"] if s < computed else None))
    return out


PAIR_RULES = (rule_indicators_disagree, rule_parameter_sharing, rule_sparsity, rule_embedding_heavy,
              rule_sequence_length, rule_flops_speed_mismatch, rule_parallelism, rule_memory_bound,
              rule_claimed_capacity, rule_hardware, rule_units, rule_single_indicator, rule_quality_tradeoff,
              rule_stated_speedup, rule_precision_flip, rule_clocks_moved, rule_kv_cache, rule_prefill_decode,
              rule_decode_flip)
MODEL_RULES = (rule_wrong_model, rule_assumed_input, rule_model_units, rule_measurement_quality, rule_claim_mismatch,
               rule_variant_capacity, rule_gpu_throttled, rule_power_sustained, rule_decode_bound,
               rule_kv_expanded)
CLAIM_AWARE = (rule_parameter_sharing, rule_sparsity, rule_single_indicator)


def pair_flags(a: dict, b: dict, claim_text: str = "", scope: str = "principal") -> list[Flag]:
    """Every pair rule on a (the proposed model) against b, each directed (`direct`); one model's own
    flags stay out."""
    out, advantage = [], has_advantage(a, b)
    for rule in PAIR_RULES:
        for f in (rule(a, b, claim_text) if rule in CLAIM_AWARE else rule(a, b)):
            f = f if f.scope == "model" else replace(f, scope=scope)
            out.append(direct(f, a["name"], b["name"], advantage))
    return out


def model_flags(m: dict) -> list[Flag]:
    """One model's own flags, undirected: judge() directs them for each pair the model is in."""
    return [f for rule in MODEL_RULES for f in rule(m)]
