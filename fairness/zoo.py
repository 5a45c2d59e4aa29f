"""`zoo`: many models, and where the cost indicators disagree about them.

"The Efficiency Misnomer" shows that the models on the quality-versus-cost Pareto front change
with the cost indicator: a model on the FLOPs front can be dominated by throughput. For a
table of models (a YAML zoo, or a CSV such as timm's results tables) this measures every model,
draws the front of quality against each cost indicator, ranks the models by each indicator and
gives the rank agreement of every pair of indicators (Kendall's tau-b), and says in words which
models are Pareto-optimal under one indicator but dominated under another, and by which model.

    name: imagenet-zoo
    quality: top1                 # the number the fronts use; higher is better unless lower_is_better: true
    reference: ResNet-50          # the model every timing group includes; default: the first model
    models:
      - {name: ResNet-50, source: timm:resnet50, quality: {top1: 80.4}, cite: "where the number comes from"}
      - {name: ViT-B/16, source: timm:vit_base_patch16_224, kwargs: {}, quality: {top1: 81.1}}
    measure: {device: cuda, dtype: bfloat16, batch: [1, 256]}   # as compare's measure: section

Counts run on meta. Speed is timed in interleaved groups of at most `group_size` models, and
every group includes the reference, so a speed-up from one group is comparable with one from
another: each model's throughput and latency in the fronts are the reference's (its median over
the groups) times the model's speed-up over the reference, paired within its group. Quality is
never measured or downloaded: the file gives it, with its source.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Callable

from .cache import Cache
from .compare import MODEL_KEYS
from .curve import quality_at
from .settings import MeasureSection, check_keys, check_values
from .errors import FairnessError
from .executor import LocalExecutor, executor_of, make_executor
from .measure import Target
from .orchestrate import run_groups
from .record import ModelRecord, Role, Speed
from .readings import INDICATORS, SPEED_NOISE, measured, num
from .results import new_results
from .sources import InputSpec, check_known, parse_source, with_own_input
from .spec import check_name, read_yaml

TOP_KEYS = {"name", "quality", "lower_is_better", "reference", "models", "measure", "group_size", "executor"}
ZOO_MODEL_KEYS = MODEL_KEYS | {"cite", "family"}  # family: members of one are joined into a curve
# the cost indicators a front is drawn for, in the order reports list them
FRONT_INDICATORS = ("params", "macs", "flops", "throughput", "latency", "graph_throughput", "graph_latency",
                    "peak_memory")  # the CUDA graph ones where the zoo was timed with --cuda-graphs
GROUP_SIZE = 8  # models timed together, the reference included: more would lengthen every round
CSV_QUALITY = ("top1", "top5", "acc", "accuracy", "glue", "bleu", "map", "miou")  # a quality column's names


# --- the zoo file ------------------------------------------------------------------------------


def load_zoo(path: str, quality: str | None = None, reference: str | None = None) -> dict:
    """A zoo from YAML, or from a CSV with a `model` column (a source, or a timm model name) and
    quality columns. `quality` and `reference` (the command line's) win over the file's."""
    zoo = _load_csv(path) if path.lower().endswith(".csv") else _load_yaml(path)
    zoo["quality"] = quality or zoo.get("quality")
    zoo["reference"] = reference or zoo.get("reference") or zoo["models"][0]["name"]
    names = [m["name"] for m in zoo["models"]]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise FairnessError(f"zoo {path}: the name {dup!r} is given to two models; give each model its own name")
    if zoo["reference"] not in names:
        raise FairnessError(f"zoo {path}: reference {zoo['reference']!r} is not one of the models "
                            f"({', '.join(names[:6])}{', ...' if len(names) > 6 else ''})")
    metrics = {k for m in zoo["models"] for k in m["quality"]}
    if zoo["quality"] is None:
        zoo["quality"] = sorted(metrics)[0] if len(metrics) == 1 else None
    if zoo["quality"] is None and metrics:
        raise FairnessError(f"zoo {path}: several quality numbers ({', '.join(sorted(metrics))}); say which the "
                            f"fronts use with 'quality: NAME' (or --quality NAME)")
    if zoo["quality"] is not None and zoo["quality"] not in metrics:
        raise FairnessError(f"zoo {path}: quality {zoo['quality']!r} is given for no model "
                            f"(given: {', '.join(sorted(metrics)) or 'none'})")
    return zoo


def _load_yaml(path: str) -> dict:
    what = f"zoo {path}"
    cfg = read_yaml(path, what)
    check_keys(cfg, TOP_KEYS, what)
    models = cfg.get("models")
    if not isinstance(models, list) or len(models) < 2:
        raise FairnessError(f"{what}: models: expected a list of at least two {{name, source, quality}} entries")
    out = []
    for i, m in enumerate(models):
        where = f"{what}: models[{i}]"
        check_keys(m, ZOO_MODEL_KEYS, where)
        if not isinstance(m.get("source"), str):
            raise FairnessError(f"{where}.source: expected a source such as timm:resnet50")
        for key in ("kwargs", "quality"):
            if m.get(key) is not None and not isinstance(m[key], dict):
                raise FairnessError(f"{where}.{key}: expected a mapping")
        bad = next((k for k, v in (m.get("quality") or {}).items() if num(v) is None), None)
        if bad is not None:
            raise FairnessError(f"{where}.quality.{bad}: {m['quality'][bad]!r}; expected a number")
        check_values({k: m[k] for k in ("image_size", "seq_len") if k in m}, where)
        name = check_name(str(m.get("name") or m["source"]), f"{where}.name")
        if m.get("family") is not None:
            check_name(m["family"], f"{where}.family")
        out.append({"name": name, "source": m["source"], "kwargs": m.get("kwargs") or {},
                    "quality": {k: float(v) for k, v in (m.get("quality") or {}).items()}, "cite": m.get("cite"),
                    **{k: m[k] for k in ("image_size", "seq_len", "family") if m.get(k) is not None}})
    measure = MeasureSection.from_yaml(cfg.get("measure"), f"{what}: measure")
    group = cfg.get("group_size", GROUP_SIZE)
    if not isinstance(group, int) or isinstance(group, bool) or group < 2:
        raise FairnessError(f"{what}: group_size: {group!r}; expected an integer of at least 2 (the reference "
                            f"and one model)")
    lower = cfg.get("lower_is_better", False)
    if not isinstance(lower, bool):
        raise FairnessError(f"{what}: lower_is_better: expected true or false")
    return {"name": check_name(str(cfg.get("name") or Path(path).stem), f"{what}: name"), "models": out,
            "quality": cfg.get("quality"), "lower_is_better": lower, "reference": cfg.get("reference"),
            "measure": measure, "group_size": group, "executor": executor_of(cfg.get("executor"), what)}


def _load_csv(path: str) -> dict:
    """timm's results tables: model, img_size, top1, top5, param_count, ... (other columns kept out)."""
    what = f"zoo {path}"
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, csv.Error, UnicodeDecodeError) as e:
        raise FairnessError(f"{what}: cannot read it as CSV ({e})") from None
    if not rows or "model" not in rows[0]:
        raise FairnessError(f"{what}: expected a header with a 'model' column (a source such as timm:resnet50, or a "
                            f"timm model name) and quality columns ({', '.join(CSV_QUALITY[:3])}, ...)")
    if len(rows) < 2:
        raise FairnessError(f"{what}: expected at least two models")
    columns = [c for c in rows[0] if c and c.lower() in CSV_QUALITY]
    models = []
    for i, r in enumerate(rows, start=2):  # line numbers as an editor shows them
        text = (r.get("model") or "").strip()
        if not text:
            raise FairnessError(f"{what}: line {i}: the model column is empty")
        # timm's tables list some weights twice, at two image sizes: the name then carries the size
        twice = sum((x.get("model") or "").strip() == text for x in rows) > 1
        name = f"{text} @ {r.get('img_size')} px" if twice else text
        m = {"name": name, "source": _csv_source(text, f"{what}: line {i}"), "kwargs": {}, "cite": path,
             "quality": {c: float(r[c]) for c in columns if num(_float(r.get(c))) is not None}}
        size = _float(r.get("img_size"))
        if size:
            m["image_size"] = int(size)
        models.append(m)
    return {"name": check_name(Path(path).stem, what), "models": models, "quality": None, "lower_is_better": False,
            "reference": None, "measure": MeasureSection(), "group_size": GROUP_SIZE, "executor": None}


def _csv_source(text: str, where: str) -> str:
    """A CSV's model column as a source: a source as it is, a bare name as timm's (timm's tables
    name models so); a name its library does not know is the user's to fix, before anything runs."""
    source = text if ":" in text else f"timm:{text}"
    try:
        check_known(parse_source(source))
    except FairnessError as e:
        raise FairnessError(f"{where}: model {text!r}: {e.message}; write a source in the model column (timm:NAME, "
                            f"torchvision:NAME, hf:TYPE, python:pkg.mod:factory) or correct the name") from None
    return source


def _float(text) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


# --- measuring ---------------------------------------------------------------------------------


def groups_of(names: list[str], reference: str, size: int) -> list[list[str]]:
    """Timing groups: the reference first in each, then at most size - 1 other models, as evenly
    spread as that allows (23 models in groups of 8 are 6, 6, 6 and 5 besides the reference, not
    7, 7, 7 and 2): groups that run side by side on several GPUs then finish together."""
    rest = [n for n in names if n != reference]
    if not rest:
        return [[reference]]
    k = -(-len(rest) // max(1, size - 1))  # the fewest groups that hold them
    q, r = divmod(len(rest), k)
    bounds = [i * q + min(i, r) for i in range(k + 1)]
    return [[reference, *rest[bounds[i]:bounds[i + 1]]] for i in range(k)]


def measure_zoo(zoo: dict, *, speed=None, count_device: str = "meta", image_size=None, seq_len: int | None = None,
                input_factory: str | None = None, cache: Cache | None = None,
                progress: Callable[[str], None] = lambda m: None,
                on_record: Callable[[dict], None] | None = None, executor=None) -> dict:
    """Every model of the zoo, counted, and timed in groups with the reference; then the fronts,
    the rank agreement and the disagreements (`analyse`). A model that fails is recorded as failed
    and the others go on. `executor` (fairness.executor; default local) runs the counting tasks,
    one per model, then the timing groups; where each group ran is kept in zoo.executor."""
    spec = InputSpec(image_size=(image_size, image_size) if isinstance(image_size, int) else image_size,
                     seq_len=seq_len, factory=input_factory)
    by_name = {m["name"]: m for m in zoo["models"]}
    cache = cache or Cache(None)  # shared by every task, through handoff: the reference is counted once
    executor = executor or LocalExecutor()
    if speed is not None:
        executor.check_device(speed.device)

    def target(name: str) -> Target:
        m = by_name[name]
        return Target(m["source"], kwargs=m["kwargs"] or None, name=name, role="zoo",
                      spec=with_own_input(spec, {k: m[k] for k in ("image_size", "seq_len") if k in m}))

    names = [m["name"] for m in zoo["models"]]
    reference = zoo["reference"]
    plan = groups_of(names, reference, zoo["group_size"]) if speed is not None else [names]
    index = {n: i for i, n in enumerate(names)}

    def counted(records, env):
        if on_record:
            on_record(new_results(records, env))

    progress(f"counting {len(names)} models ({executor.name} executor)")
    # every model counted once (the reference too), then each group timed with the reference
    records, count_env, runs = run_groups(executor, [target(n) for n in names],
                                          [[index[n] for n in group] for group in plan] if speed else [],
                                          speed=speed, cache=cache, progress=progress, keep_going=True,
                                          on_counts=counted, count_device=count_device, fvcore=False)
    records = dict(zip(names, records))
    placement, ratios, env, ref_timed = [], [], None, False
    for g, (group, run) in enumerate(zip(plan, runs)):
        group = [n for n in group if not records[n].failed]
        if not group:
            continue
        placement.append({"group": g, "models": group, "seconds": run.seconds, "failed": run.failed, **run.where})
        if run.failed:  # the reference is timed in other groups too: only this group's own models fail
            for n in group:
                if n != reference:
                    records[n] = ModelRecord.failure(n, Role.ZOO, f"timing group {g + 1}: {run.failed}")
            continue
        env = env or run.results["environment"]
        where = {k: run.where[k] for k in ("host", "node", "gpus", "gpu_name") if k in run.where}
        for rec in run.results["models"]:
            if rec.name == reference and ref_timed:
                records[reference].zoo["reference_runs"].append(rec.speed)
                continue
            z = {**(rec.zoo or {}), "group": g, "timed_on": where}
            if rec.name == reference:
                z["reference_runs"], ref_timed = [rec.speed], True
            records[rec.name] = rec.with_(zoo=z)
        ratios += [{**r, "group": g} for r in run.results.get("speed_ratios") or []]
        if on_record:
            on_record(new_results([records[n] for n in names], env, speed_ratios=ratios))
    env = env or count_env  # every group failed, or none was timed: the environment the counts were made in
    models = [_stated(records[n], by_name[n]) for n in names]
    res = new_results(models, env, speed_ratios=ratios)
    if speed is not None:
        _via_reference(res, reference)
    res["zoo"] = {"name": zoo["name"], "quality": zoo["quality"], "lower_is_better": zoo["lower_is_better"],
                  "reference": reference, "groups": plan, **analyse(res, zoo),
                  "executor": {"name": executor.name, "groups": placement}, "gpu_types": gpu_types(placement)}
    return res


def gpu_types(placement: list[dict]) -> dict[str, list[int]]:
    """The GPU models that timed the groups, each with its groups (numbered from 1); empty where
    no group ran on a GPU that Ray named (the local executor). More than one type: a model's
    speed-up over the reference holds on its own group's GPU, and a speed across types compares
    only through the reference."""
    types: dict[str, list[int]] = {}
    for p in placement:
        if p.get("gpu_name"):
            types.setdefault(p["gpu_name"], []).append(p["group"] + 1)
    return types


def _median(xs: list[float]) -> float | None:
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


# a zoo's speeds made comparable through the reference: indicator -> (implementation, the speed
# record it reads under model["speed"]: CUDA graph replays under "cuda_graph", the base indicator)
ZOO_SPEEDS = {"throughput": ("eager", "throughput"), "latency": ("eager", "latency"),
              "graph_throughput": ("cuda_graph", "throughput"), "graph_latency": ("cuda_graph", "latency")}


def _stated(m: ModelRecord, entry: dict) -> ModelRecord:
    """A zoo model's record with what its zoo entry states: quality, its citation, its family."""
    return m.with_(quality=entry["quality"], **({"quality_source": entry["cite"]} if entry.get("cite") else {}),
                   **({"family": entry["family"]} if entry.get("family") else {}))


def _via_reference(res: dict, reference: str) -> None:
    """Each model's throughput and latency, eager and replayed from CUDA graphs where timed so, as
    the reference's (its median over the groups) times the model's speed-up over the reference,
    paired in the model's own group: comparable across groups. Kept under model["zoo"]; the raw
    group numbers stay in model["speed"]."""
    ref = next((m for m in res["models"] if m.name == reference and not m.failed), None)
    if ref is None:
        return
    runs = [s for s in (ref.zoo or {}).get("reference_runs") or [] if s is not None]
    updates = {}  # model name -> its speeds through the reference
    for ind, (impl, base_ind) in ZOO_SPEEDS.items():
        # readings.py knows where each speed lives in a record: a reference run is a record's speed
        base = _median([measured(ModelRecord.from_plain({"speed": s}), ind) for s in runs])
        if base is None:
            continue
        batch = (_reading(ref.speed, impl, base_ind) or {}).get("batch_size")
        for m in res["models"]:
            if m.failed or m.speed is None:
                continue
            z = updates.setdefault(m.name, {})
            if m is ref:
                z[ind] = base
                continue
            r = next((r for r in res["speed_ratios"] if r["model"] == m.name and r["reference"] == reference
                      and r["indicator"] == base_ind and r.get("implementation", "eager") == impl
                      and r["batch_size"] == batch), None)
            if r:
                z[f"{ind}_speedup"], z[f"{ind}_ci95"] = r["speedup"], r["ci95"]
                z[ind] = base * r["speedup"] if base_ind == "throughput" else base / r["speedup"]
    res["models"] = [m.with_(zoo={**(m.zoo or {}), **updates[m.name]}) if m.name in updates else m
                     for m in res["models"]]


def _reading(speed: Speed | None, impl: str, part: str) -> dict | None:
    """A speed record's throughput or latency (`part`): eager, or replayed from CUDA graphs where
    `impl` is "cuda_graph"."""
    if speed is None:
        return None
    return (speed.cuda_graph or {}).get(part) if impl == "cuda_graph" else getattr(speed, part)


# --- fronts, ranks, disagreements -----------------------------------------------------------------


def cost(m: ModelRecord, key: str) -> float | None:
    """An indicator as a cost, lower better: throughput becomes seconds per sample. Speeds are the
    ones made comparable through the reference where the zoo was timed in groups."""
    z = m.zoo or {}
    if key in ZOO_SPEEDS and key in z:
        v = num(z[key])
    else:
        v = measured(m, key)
    if v is None or v <= 0:
        return None
    return 1 / v if INDICATORS[key].higher_is_better else v


def shown(m: ModelRecord, key: str) -> float | None:
    """An indicator's value as the reports show it (samples/s, seconds, bytes): the speeds through
    the reference where the zoo was timed in groups."""
    c = cost(m, key)
    if c is None:
        return None
    return 1 / c if INDICATORS[key].higher_is_better else c


def dominates(a: tuple[float, float], b: tuple[float, float], noise: float = 0.0) -> bool:
    """(quality, cost), quality higher better, cost lower better: a is at least as good on both and
    better on one. Costs within `noise` of each other (relative) are a tie: a measured speed 1%
    above another's is not better, and 1% below is not worse."""
    as_cheap, cheaper = a[1] <= b[1] * (1 + noise), a[1] * (1 + noise) < b[1]
    return a[0] >= b[0] and as_cheap and (a[0] > b[0] or cheaper)


def front(points: dict[str, tuple[float, float]], noise: float = 0.0) -> tuple[list[str], dict[str, str]]:
    """The Pareto front (names, by increasing cost), and for every other model the model that
    dominates it: of those that do, the one of highest quality (then lowest cost). `noise`: as
    in `dominates`."""
    on, by = [], {}
    for n, p in points.items():
        over = [o for o, q in points.items() if o != n and dominates(q, p, noise)]
        if over:
            by[n] = max(over, key=lambda o: (points[o][0], -points[o][1]))
        else:
            on.append(n)
    return sorted(on, key=lambda n: points[n][1]), by


def kendall_tau_b(x: list[float], y: list[float]) -> float | None:
    """Kendall's tau-b of two paired lists (ties counted as in scipy.stats.kendalltau); None with
    fewer than two pairs or a constant list."""
    n = len(x)
    concordant = discordant = ties_x = ties_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    denom = math.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    return (concordant - discordant) / denom if denom else None


def reanalysed(res: dict) -> dict:
    """A zoo's results with its fronts, rank agreement and disagreements derived again by this
    fairness's rules from the measurements it keeps (as a comparison is judged again before it
    is re-rendered): a rule that changed since the run shows in the re-rendered report."""
    res["zoo"].update(analyse(res, res["zoo"]))
    return res


def analyse(res: dict, zoo: dict) -> dict:
    """Fronts per indicator, rank agreement between indicators, and the disagreements in words."""
    q, sign = zoo["quality"], (-1 if zoo["lower_is_better"] else 1)
    ok = [m for m in res["models"] if not m.failed]
    indicators = [k for k in FRONT_INDICATORS if sum(cost(m, k) is not None for m in ok) >= 2]
    fronts, dominated = {}, {}
    for k in indicators:
        points = {m.name: (sign * m.quality[q], cost(m, k)) for m in ok
                  if q in m.quality and cost(m, k) is not None}
        if len(points) >= 2:
            # speeds are measured, and two processes differ by SPEED_NOISE; counts and memory are exact
            fronts[k], dominated[k] = front(points, SPEED_NOISE if k in ZOO_SPEEDS else 0.0)
    tau = {}
    for i, a in enumerate(indicators):
        for b in indicators[i + 1:]:
            both = [m for m in ok if cost(m, a) is not None and cost(m, b) is not None]
            t = kendall_tau_b([cost(m, a) for m in both], [cost(m, b) for m in both])
            if t is not None:
                tau.setdefault(a, {})[b] = tau.setdefault(b, {})[a] = t
    # a model without the quality number has no place on a front, but its costs still rank
    no_quality = [m.name for m in ok if q and q not in m.quality]
    return {"indicators": indicators, "fronts": fronts, "dominated": dominated, "tau": tau, "no_quality": no_quality,
            "disagreements": disagreements(fronts, dominated, {m.name: m for m in ok}, q),
            "families": family_curves(ok, indicators, q, sign)}


# where two families' curves are compared: this many points spaced evenly in log(cost) over the
# range both reach
FAMILY_SAMPLES = 9


def family_curves(ok: list[ModelRecord], indicators: list[str], q: str | None, sign: int) -> dict:
    """Per indicator: each family's curve (curve.py: the frontier of its members, quality linear in
    log(cost) between them), and each pair of families compared where both reach: the mean
    distance between their curves there, in points: "above" is the better family (higher quality,
    or lower where lower is better: `sign` -1). A family is its members' `family:`."""
    families: dict[str, list[ModelRecord]] = {}
    for m in ok:
        fam = m.family
        if fam and q in m.quality:
            families.setdefault(fam, []).append(m)
    families = {f: ms for f, ms in families.items() if len(ms) >= 2}
    out = {}
    for k in indicators:
        curves = {f: [(c, sign * m.quality[q]) for m in ms if (c := cost(m, k)) is not None]
                  for f, ms in families.items()}
        curves = {f: pts for f, pts in curves.items() if len(pts) >= 2}
        pairs = []
        names = sorted(curves)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                lo = max(min(p[0] for p in curves[a]), min(p[0] for p in curves[b]))
                hi = min(max(p[0] for p in curves[a]), max(p[0] for p in curves[b]))
                if lo >= hi:
                    continue  # their costs do not overlap: no equal cost to compare them at
                # clamped: a power of a ratio may land a hair past the range, where a curve has no value
                xs = [min(hi, max(lo, lo * (hi / lo) ** (i / (FAMILY_SAMPLES - 1)))) for i in range(FAMILY_SAMPLES)]
                gap = sum(quality_at(curves[a], x) - quality_at(curves[b], x) for x in xs) / len(xs)  # > 0: a better
                pairs.append({"above": a if gap >= 0 else b, "below": b if gap >= 0 else a, "points": abs(gap),
                              "range": [lo, hi]})
        if curves:
            out[k] = {"members": {f: [m.name for m in families[f] if cost(m, k) is not None] for f in curves},
                      "pairs": pairs}
    return out


def family_summary(families: dict, q: str) -> list[str]:
    """Which family's curve lies above which at equal cost, on parameters, FLOPs and the speeds
    (replayed from CUDA graphs where timed so: eager batch-1 latency often times the host), and the
    pairs whose order flips between indicators: the paper's point, family by family."""
    keys = ["params", "flops"] + [f"graph_{k}" if f"graph_{k}" in families else k for k in ("throughput", "latency")]
    shown = {k: families[k]["pairs"] for k in keys if (families.get(k) or {}).get("pairs")}
    if not shown:
        return []
    parts = []
    for k, pairs in shown.items():
        text = ", ".join(f"{p['above']} above {p['below']} by {p['points']:.1f}" for p in pairs)
        tops = {p["above"] for p in pairs} - {p["below"] for p in pairs}
        parts.append(f"{INDICATORS[k].label}: {text}" + (f" ({tops.pop()} highest)" if len(tops) == 1 and len(pairs) > 1
                                                          else ""))
    lines = [f"Family curves ({q}, the mean gap where both reach): " + "; ".join(parts) + "."]
    order: dict[frozenset, dict[str, str]] = {}
    for k, pairs in shown.items():
        for p in pairs:
            order.setdefault(frozenset((p["above"], p["below"])), {})[k] = p["above"]
    for pair, by in order.items():
        if len(set(by.values())) > 1:
            a, b = sorted(pair)
            ahead = [INDICATORS[k].label for k, w in by.items() if w == a]
            behind = [INDICATORS[k].label for k, w in by.items() if w == b]
            lines.append(f"The order of {a} and {b} flips with the indicator: {a} is above at equal "
                         f"{', '.join(ahead)}, {b} at equal {', '.join(behind)}.")
    return lines


def disagreements(fronts: dict, dominated: dict, models: dict[str, ModelRecord], q: str) -> list[dict]:
    """Models on the front under one indicator and dominated under another, by which model:
    'efficientnet_b3 is on the FLOPs front but dominated on throughput by resnet50'. Indicators
    on which the same model dominates it are said together (MACs and FLOPs mostly agree)."""
    out = []
    for name in models:
        on = [k for k in fronts if name in fronts[k]]
        if not on:
            continue
        by: dict[str, list[str]] = {}
        for k in fronts:
            if name in dominated[k]:
                by.setdefault(dominated[k][name], []).append(k)
        for other, keys in by.items():
            costs = ", ".join(_compare(k, models[other], models[name]) for k in keys)
            out.append({"model": name, "on_front": on, "dominated_on": keys, "by": other,
                        "text": f"{name} is on the {_names(on)} front{'s' if len(on) > 1 else ''} but dominated on "
                                f"{_names(keys)} by {other} ({q} {models[other].quality[q]:g} against "
                                f"{models[name].quality[q]:g}; {costs})"})
    return out


def _names(keys: list[str]) -> str:
    labels = [INDICATORS[k].label for k in keys]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def _compare(key: str, a: ModelRecord, b: ModelRecord) -> str:
    """a's cost against b's on one indicator, in the ratio convention: '1.8x the throughput'."""
    ca, cb = cost(a, key), cost(b, key)
    i = INDICATORS[key]
    # a speed within the noise dominates through quality alone: say so, not "1.01x as fast"
    tie = f" (within {SPEED_NOISE:.0%}, a tie)" if key in ZOO_SPEEDS and abs(math.log(cb / ca)) <= math.log(
        1 + SPEED_NOISE) else ""
    if i.higher_is_better:
        return f"{cb / ca:.3g}x the {i.label}{tie}"
    if i.convention == "speed":
        graphs = " with CUDA graphs" if ZOO_SPEEDS[key][0] == "cuda_graph" else ""
        return f"{cb / ca:.3g}x as fast at batch 1{graphs}{tie}"
    return f"{ca / cb:.3g}x the {i.label}"


def run_zoo(path: str, *, device: str | None = None, no_speed: bool = False, overrides: dict | None = None,
            quality: str | None = None, reference: str | None = None, cache: Cache | None = None,
            progress: Callable[[str], None] = lambda m: None, on_record=None, executor: str | None = None,
            ray_address: str | None = None) -> dict:
    """The whole `fairness zoo`: read the file, measure, analyse. `overrides`: measure: keys from
    the command line, which win over the file's; so do `executor` and `ray_address`."""
    zoo = load_zoo(path, quality, reference)
    ms = zoo["measure"].merged(overrides, f"zoo {path}: measure")
    speed = ms.to_run_settings(device) if ms.speed and not no_speed else None
    given = zoo["executor"] or {"name": "local", "address": "auto"}
    runner = make_executor(executor or given["name"], ray_address or given["address"])
    try:
        return measure_zoo(zoo, speed=speed, count_device=ms.count_device, image_size=ms.image_size,
                           seq_len=ms.seq_len, input_factory=ms.inputs, cache=cache, progress=progress, on_record=on_record,
                           executor=runner)
    finally:
        runner.close()
