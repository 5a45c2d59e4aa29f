"""`compare`: the proposed model, the baseline, the baseline's matched variants, every
indicator, the flags and the verdict; written to an output folder.

    name: albert-vs-bert
    proposed: {name: ALBERT, source: hf:albert, quality: {glue: 89.4}}
    baseline: {name: BERT-base, source: hf:bert, kwargs: {}, quality: {glue: 82.1}}
    match: [params, flops]              # params | macs | flops | throughput | latency
    strategies: [width, depth]          # default: all that apply
    measure: {device: cpu, seq_len: 128, speed: false}
    curve: {name: BERT, members: [...]} # a family's published members with their quality (curve.py)

Everything after the config is the library: `compare()` takes nn.Module objects or
sources, and returns the results file; `render()` writes its formats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch

from .errors import FairnessError, ModelFailed
from .families import NoFamily
from .judgement import attach
from .matching import COUNT_INDICATORS, GENERATION_INDICATORS, SPEED_INDICATORS, STRATEGIES, capacity_loss, \
    count_indicator, default_strategies, load_baseline, match_counts, match_speed, device_timer, unreachable
from .executor import LocalExecutor, executor_of
from .measure import Target
from .orchestrate import measure_models_with
from .cache import Cache, identity
from .curve import check_curve
from .quality import check_hook, fill_quality
from .indicators.env import environment
from .readings import measured
from .record import ModelRecord, Role
from .results import as_written
from .runner import RunSettings, check_settings
from .settings import MeasureSection, check_keys, check_values
from .sources import InputSpec, Source, parse_source, with_own_input
from .spec import check_name, read_yaml

TOP_KEYS = {"name", "proposed", "baseline", "match", "strategies", "measure", "family", "executor", "curve",
            "quality"}
MODEL_KEYS = {"name", "source", "kwargs", "quality", "image_size", "seq_len"}  # a model's own input size too
INDICATORS = COUNT_INDICATORS + SPEED_INDICATORS


def load_config(path: str) -> dict:
    """Read and check a compare config; errors name the file and the key."""
    what = f"config {path}"
    cfg = read_yaml(path, what)
    check_keys(cfg, TOP_KEYS, what)
    for role in ("proposed", "baseline"):
        if role not in cfg:
            raise FairnessError(f"{what}: '{role}' is missing; give {{name: ..., source: ...}}")
        check_keys(cfg[role], MODEL_KEYS, f"{what}: {role}")
        if cfg[role].get("name") is not None:
            check_name(cfg[role]["name"], f"{what}: {role}.name")
        if not isinstance(cfg[role].get("source"), str):
            raise FairnessError(f"{what}: {role}.source: expected a source such as timm:resnet50")
        for key, typ in (("kwargs", dict), ("quality", dict)):
            if cfg[role].get(key) is not None and not isinstance(cfg[role][key], typ):
                raise FairnessError(f"{what}: {role}.{key}: expected a mapping")
        check_values({k: cfg[role][k] for k in ("image_size", "seq_len") if k in cfg[role]}, f"{what}: {role}")
    match = cfg.get("match", ["params", "flops"])
    if isinstance(match, str):
        match = [match]
    if not isinstance(match, list) or any(m not in INDICATORS for m in match):
        raise FairnessError(f"{what}: match: expected a list of {', '.join(INDICATORS)}, got {match!r}")
    strategies = cfg.get("strategies")  # None: every strategy the baseline's family has
    if strategies is not None and (not isinstance(strategies, list) or any(s not in STRATEGIES for s in strategies)):
        raise FairnessError(f"{what}: strategies: expected a list of {', '.join(STRATEGIES)}, got {strategies!r}")
    measure = MeasureSection.from_yaml(cfg.get("measure"), f"{what}: measure")
    name = check_name(str(cfg.get("name") or Path(path).stem), f"{what}: name")
    family = cfg.get("family")
    if family is not None and not isinstance(family, str):
        raise FairnessError(f"{what}: family: expected the path of a family YAML file (see examples/family.yaml)")
    hook = check_hook(cfg.get("quality"), what)
    # the hook's metric counts as the proposed model's quality: it will have it once the hook has run
    mine = {**(cfg["proposed"].get("quality") or {}), **({hook["metric"]: 0.0} if hook else {})}
    curve = check_curve(cfg.get("curve"), what, mine)
    return {"name": name, "proposed": cfg["proposed"], "baseline": cfg["baseline"], "match": match,
            "strategies": strategies, "measure": measure, "family": family, "curve": curve, "quality_hook": hook,
            "executor": executor_of(cfg.get("executor"), what)}


def safe_name(name: str) -> str:
    """A folder name from a user's string: letters, digits, dot, dash, underscore."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:80] or "comparison"


def compare(proposed, baseline, *, name: str = "comparison", proposed_name: str | None = None,
            baseline_name: str | None = None, proposed_kwargs: dict | None = None,
            baseline_kwargs: dict | None = None, quality: dict | None = None, match: list[str] | None = None,
            strategies: list[str] | None = None, image_size=None, seq_len: int | None = None,
            input_factory: str | None = None, speed: RunSettings | None = None, family_file: str | None = None,
            proposed_input: dict | None = None, baseline_input: dict | None = None,
            baseline_source: str | None = None, count_device: str = "meta", cache: Cache | None = None,
            curve: dict | None = None, quality_hook: dict | None = None,
            progress: Callable[[str], None] = lambda m: None, executor=None) -> dict:
    """Measure the proposed model and the baseline, build the baseline's variants matched to
    the proposed model on each indicator in `match`, measure them all together, and judge.

    `proposed`: a source (`"timm:resnet50"`, with `proposed_kwargs`) or an nn.Module.
    `baseline`: a source, whose family is scaled for the variants (`family_file` declares the
    knobs of a python: factory); or an nn.Module. A variant is the baseline's constructor at
    other arguments, which a built module does not carry: give `baseline_source` (with
    `baseline_kwargs`), the source the module was built from, and the module is measured as
    the baseline while its variants are built from that source (which must build a model of
    the module's parameter count). A module without `baseline_source` is measured and judged
    as the comparison was made, and the report says why it has no matched variants.
    Sources are counted on `count_device` (meta: no memory for weights; cpu or cuda where a
    forward pass needs values), the variant search's candidates too; modules are counted and
    timed where they are. Give a module's inputs by `input_factory` unless their default is
    known (a timm model's, or an `image_size` / `seq_len`).
    `quality`: {model name: {metric: value}}. `proposed_input`, `baseline_input`: a model's own
    image_size or seq_len, where the two are compared at different inputs (EfficientNet-B4 at 380 px
    against ResNet-50 at 224); the baseline's variants start from its own. `cache`: every finished measurement and variant
    search is stored as it is done, and reused when resuming. `executor` (fairness.executor, default
    local): where the models are counted and timed together; the variant search runs here. Returns
    the results file. `curve` (curve.check_curve's form): a family's published members, measured
    in the same group (a member that is the proposed model or the baseline is measured once), for
    the proposed model's distance from the curve on each indicator. `quality_hook` (quality.check_hook's
    form): the user's training and evaluation, run for the compared models and every variant."""
    cache = cache or Cache(None)
    executor = executor or LocalExecutor()
    match, strategies, speed = _checked_match(match, strategies, speed)
    scaled = _scaled_source(baseline, baseline_source, baseline_kwargs)  # None: a module without its source
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    spec = InputSpec(image_size=image_size, seq_len=seq_len, factory=input_factory)
    pspec, bspec = with_own_input(spec, proposed_input), with_own_input(spec, baseline_input)

    targets = [Target(proposed, kwargs=proposed_kwargs, name=proposed_name, role="proposed",
                      spec=pspec if pspec != spec else None),
               Target(baseline, kwargs=None if scaled is None else baseline_kwargs, name=baseline_name,
                      role="baseline", spec=bspec if bspec != spec else None)]
    # bad input is refused before anything is measured
    quality_hook, curve = _checked_hook_and_curve(quality_hook, curve, quality, targets)
    members, curve_targets = _curve_targets(curve, targets, spec)
    if speed is not None and speed.generate:
        from .indicators.generate import GenerateSpec, check_sources

        check_sources([(t.model, t.kwargs, t.name or t.model) for t in targets], GenerateSpec(*speed.generate),
                      speed.device)
    progress("counting the proposed model and the baseline")
    inputs = {"image_size": image_size, "seq_len": seq_len, "input_factory": input_factory, "count_device": count_device}
    first = measure_models_with(executor, targets, fvcore=False, cache=cache, **inputs)["models"]
    b, no_family = _baseline_family(baseline, scaled, baseline_kwargs, bspec, family_file, count_device, first[1],
                                    progress)
    strategies = strategies or default_strategies(b.family if b else None)
    plan = VariantPlan()
    if b is not None:
        # what a search depends on besides its indicator: its cache key
        key = {"baseline": b.src.text, "baseline_kwargs": b.src.kwargs, "family": family_file,
               "spec": [image_size, seq_len, input_factory],
               **({"inputs": [proposed_input, baseline_input]} if proposed_input or baseline_input else {}),
               "proposed": proposed if isinstance(proposed, str) else None, "proposed_kwargs": proposed_kwargs,
               "proposed_counts": [measured(first[0], "params"), measured(first[0], "macs")],
               "strategies": strategies, "settings": speed.record() if speed else None,
               "env": identity(environment(speed.device if speed else "meta")),
               **({"count_device": count_device} if count_device != "meta" else {})}  # as older caches' keys
        search = _searcher(b, first, strategies, proposed, proposed_kwargs, pspec, speed, progress)
        plan = plan_variants(b, first[1].name, match, key, search, cache)
    # a variant built from a family's own factory keeps its input: that source has no default of its own
    shared = bspec == spec and b is not None and not b.family.source
    res = measure_group(executor, targets + curve_targets, plan, first[1].input, spec, shared, speed=speed,
                        cache=cache, progress=progress, **inputs)
    # a member measured for the curve alone carries its cited quality; one that is a compared model keeps that one's
    quality = {**(quality or {}), **{t.name: m["quality"] for t in curve_targets for m in members if m["name"] == t.name}}
    res = annotate(as_written(res), plan, b, quality)
    res["comparison"] = {"name": name, "proposed": res["models"][0].name, "baseline": first[1].name,
                         "match": match, "strategies": strategies, **_family_section(b, no_family, baseline),
                         "baseline_matches": plan.baseline_matches, "unreachable": plan.out_of_reach}
    if curve:
        res["curve"] = {**curve, "members": members}
    if quality_hook:
        fill_quality(res, quality_hook, cache, executor, progress)
    return attach(res)


def _checked_match(match, strategies, speed: RunSettings | None):
    """The indicators to match on (params and FLOPs by default) and the strategies (none: every one
    the baseline's family has), each known; the run settings, checked; a speed indicator needs them."""
    match = list(match or ["params", "flops"])
    strategies = list(strategies or [])
    bad = [m for m in match if m not in INDICATORS] + [x for x in strategies if x not in STRATEGIES]
    if bad:
        raise FairnessError(f"match/strategy {bad}: expected indicators from {', '.join(INDICATORS)} and "
                            f"strategies from {', '.join(STRATEGIES)}")
    if speed is not None:
        speed = check_settings(speed)
    elif any(m in SPEED_INDICATORS for m in match):
        raise FairnessError(f"match: {', '.join(m for m in match if m in SPEED_INDICATORS)} needs speed; "
                            f"give a device (measure: {{device: cuda}}) or drop it from match")
    if any(m in GENERATION_INDICATORS for m in match) and not speed.generate:
        raise FairnessError(f"match: {', '.join(m for m in match if m in GENERATION_INDICATORS)} is timed while "
                            f"generating text; give --generate PROMPT:NEW (measure: {{generate: ...}}) or drop it "
                            f"from match")
    return match, strategies, speed


def _checked_hook_and_curve(quality_hook, curve, quality: dict | None, targets: list[Target]):
    """The quality hook and the family's curve, checked: the hook rebuilds models from their sources;
    a curve's quality metric must be the proposed model's (stated, or the hook's)."""
    proposed, baseline = targets[0], targets[1]
    quality_hook = check_hook(quality_hook, "compare")
    if quality_hook and not all(isinstance(t.model, (str, Source)) for t in (proposed, baseline)):
        raise FairnessError("quality: the hook rebuilds each model from its source; give the proposed model and the "
                            "baseline as sources (timm:NAME, python:pkg.mod:factory), not as modules")
    label = proposed.name or proposed.model
    mine = (quality or {}).get(label) if isinstance(label, str) else None
    curve = check_curve(curve, "compare", {**(mine or {}), **({quality_hook["metric"]: 0.0} if quality_hook else {})})
    return quality_hook, curve


def _baseline_family(baseline, scaled: str | None, baseline_kwargs, bspec, family_file, count_device: str,
                     counted: ModelRecord, progress) -> tuple:
    """The baseline's family at the baseline's knobs, and None with the reason where there is none
    (a module without its source, a model no family knows): the comparison as made is still
    measured and judged, without matched variants."""
    try:
        if scaled is None:
            raise NoFamily(_no_source(baseline))
        b = load_baseline(scaled, baseline_kwargs, bspec, family_file, count_device)
        if isinstance(baseline, torch.nn.Module):
            _check_built_from(b, measured(counted, "params"))
        return b, None
    except NoFamily as e:
        progress(f"no matched variants: {e.message}")
        return None, e.message


def _family_section(b, no_family: str | None, baseline) -> dict:
    """The comparison's family, or why it has none; a module measured as the baseline names the
    source its variants were built from."""
    if b is None:
        return {"family": None, "no_family": no_family}
    return {"family": b.family.name, **({"baseline_source": b.src.text} if isinstance(baseline, torch.nn.Module) else {})}


@dataclass
class VariantPlan:
    """What the variant searches found, before anything more is measured."""
    variants: list = field(default_factory=list)  # (Target, match record, knob values, input spec)
    failed: list = field(default_factory=list)  # failure records of variants whose search failed
    baseline_matches: dict = field(default_factory=dict)  # indicator -> match, the baseline already within tolerance
    # strategies that cannot reach a target, with the reason; rel_error None: not searched (a target
    # the host's launches set, runner.HostBoundTarget)
    out_of_reach: list = field(default_factory=list)


def _searcher(b, pair: list[ModelRecord], strategies, proposed, proposed_kwargs, pspec, speed, progress):
    """The search for one indicator: on counts (the proposed model's, measured), or on speed on the
    timing device (the proposed model timed there first, as the target), each model in the memory
    layout its counted record resolves (channels_last for a convolutional network, as timed later)."""
    def search(indicator: str) -> list[dict]:
        if indicator in COUNT_INDICATORS:
            return match_counts(b, indicator, measured(pair[0], indicator), strategies, progress=progress)
        from .matching import speed_of
        from .runner import HostBoundTarget, channels_last_for

        layout = [channels_last_for(speed.channels_last, m) for m in pair]

        if not isinstance(proposed, str):
            raise FairnessError(f"match: {indicator} needs the proposed model as a source")
        sizes = [x for x in speed.batch_sizes if x != "auto"]
        # throughput's and decode's batch is the largest, as the readings take them; TTFT's the smallest
        batch = min(sizes, default=1) if indicator == "ttft" else max(sizes, default=1)
        try:
            target, replay = speed_of(proposed, proposed_kwargs, pspec, indicator, speed, batch,
                                      channels_last=layout[0])
        except HostBoundTarget as e:  # no strategy is searched: one note says why, not one failure each
            progress(e.message)
            return [{"strategy": ", ".join(strategies), "not_matched": e.reason}]
        # the timer holds the proposed model on the device: a temporary, freed before the final timing
        return match_speed(b, indicator, target, strategies,
                           device_timer(b, speed, indicator, batch, parse_source(proposed, proposed_kwargs),
                                        target, reference_spec=pspec, channels_last=layout[1],
                                        reference_channels_last=layout[0], replay=replay), progress=progress)
    return search


def plan_variants(b, base_name: str, match: list[str], key: dict, search, cache: Cache) -> VariantPlan:
    """The baseline's variants matched on each indicator of `match`: each search's result read back
    from the cache or run (`search(indicator)`) and kept; a variant two searches found is measured
    once, the baseline itself is no variant, and a strategy out of reach is said, not built."""
    plan = VariantPlan()
    for indicator in match:
        search_key = {"kind": "variant search", "label": f"{indicator} matches of {base_name}", **key,
                      "indicator": indicator}
        found = cache.get(search_key)
        if found is not None:  # JSON has no tuples: knob values of stage lists come back as lists
            for v in found:
                if "values" in v:
                    v["values"] = {k: tuple(x) if isinstance(x, list) else x for k, x in v["values"].items()}
        else:
            found = search(indicator)
        # the key holds the proposed model's counts, so a search for an object is reusable too
        cache.put(search_key, found)
        for v in found:
            label = f"{base_name} {v['strategy']}-matched on {indicator}"
            if "failed" in v:
                plan.failed.append(ModelRecord.failure(label, Role.VARIANT, v["failed"]))
            elif "not_matched" in v:  # a target no variant should be matched on: no rel_error, the reason
                plan.out_of_reach.append({"indicator": indicator, "strategy": v["strategy"], "rel_error": None,
                                          "reason": v["not_matched"]})
            elif "values" not in v:
                continue
            elif unreachable(indicator, v["match"]):
                plan.out_of_reach.append({"indicator": indicator, "strategy": v["strategy"], **v["match"]})
            elif v["values"] == b.values:  # the baseline itself is the match: no variant to add
                plan.baseline_matches.setdefault(indicator, v["match"])
            elif (same := next((x for x in plan.variants if x[2] == v["values"]), None)) is not None:
                # another strategy or indicator already gave this variant
                same[1].setdefault("also", []).append({"indicator": indicator, "strategy": v["strategy"]})
            else:
                src, vspec = b.variant(v["values"])
                plan.variants.append((Target(src, name=label, role="variant"), v["match"], v["values"], vspec))
    return plan


def measure_group(executor, targets: list[Target], plan: VariantPlan, base_in: dict, spec: InputSpec, shared: bool,
                  *, speed, cache: Cache, progress, **inputs) -> dict:
    """The compared models, the curve's members and the variants, measured as one group, timed in
    interleaved rounds, so every speed-up is paired round by round. A variant that changes the
    input (resolution, sequence length) is timed there at its own; one whose input is the
    baseline's shares the group's (`shared`). A variant that fails is recorded as failed (the
    searches' failures too); the others and the report go on."""
    progress(f"measuring {len(targets) + len(plan.variants)} models" + (" and timing them together" if speed else ""))
    variants = [replace(t, spec=None if shared and _same_input(vspec, spec, base_in) else vspec)
                for t, _, _, vspec in plan.variants]
    res = measure_models_with(executor, targets + variants, fvcore=False, speed=speed, progress=progress,
                              keep_going=True, cache=cache, references=2, **inputs)
    for m in res["models"][:2]:
        if m.failed:  # without the proposed model or the baseline there is no comparison
            raise ModelFailed(m.failed)
    res["models"] += plan.failed
    return res


def _same_input(vspec: InputSpec, spec: InputSpec, base_in: dict) -> bool:
    """Whether a variant's input is the baseline's (then it shares the group's default)."""
    if base_in.get("kind") == "image":
        return vspec.image_size in (None, spec.image_size, (base_in["height"], base_in["width"]))
    if base_in.get("kind") == "tokens":
        return vspec.seq_len in (None, spec.seq_len, base_in["seq_len"])
    return True


def annotate(res: dict, plan: VariantPlan, b, quality: dict) -> dict:
    """The measured group with what the comparison knows of each model: a variant's match, knobs
    and the capacity it lost; every model's stated quality."""
    by_name = {v[0].name: v for v in plan.variants}
    base_params = measured(res["models"][1], "params")
    res["models"] = [m if m.failed else _annotated(m, by_name, quality, b, base_params) for m in res["models"]]
    return res


def _annotated(m: ModelRecord, by_name: dict, quality: dict | None, b, base_params) -> ModelRecord:
    """A measured record with what the comparison knows of it: a variant's match, knobs and the
    capacity it lost; every model's stated quality."""
    if m.name in by_name:
        _, match_rec, values, _ = by_name[m.name]
        m = m.with_(match=match_rec, knobs=values, capacity_loss=capacity_loss(b, values, measured(m, "params"),
                                                                                base_params))
    return m.with_(quality=dict((quality or {}).get(m.name, {})))


def _curve_targets(curve: dict | None, targets: list[Target], spec: InputSpec) -> tuple[list[dict], list[Target]]:
    """The curve's members, each naming the record that holds its costs ("model"), and the targets
    to measure for them: a member that is the proposed model or the baseline (same source,
    arguments and input) is not measured twice."""
    members, out = [], []
    for m in (curve or {}).get("members") or []:
        mspec = with_own_input(spec, m)
        same = next((t for t in targets if t.model == m["source"] and (t.kwargs or {}) == m["kwargs"]
                     and (t.spec or spec) == mspec), None)
        if same is None and any(m["name"] == (t.name or t.model) for t in targets):
            raise FairnessError(f"curve: member {m['name']!r} has the name of a compared model but another model "
                                f"({m['source']} {m['kwargs'] or ''}); give the member another name")
        if same is None:
            out.append(Target(m["source"], kwargs=m["kwargs"] or None, name=m["name"], role="curve",
                              spec=None if mspec == spec else mspec))
        members.append({**m, "model": m["name"] if same is None else (same.name or same.model)})
    return members, out


def _scaled_source(baseline, baseline_source: str | None, baseline_kwargs: dict | None) -> str | None:
    """The source the baseline's variants are built from; None for a module given without one."""
    if isinstance(baseline, (str, Source)):
        if baseline_source is not None:
            raise FairnessError(f"baseline_source={baseline_source!r}: only for a baseline given as an nn.Module; "
                                f"the source baseline is scaled itself, so leave baseline_source out")
        return baseline if isinstance(baseline, str) else baseline.text
    if not isinstance(baseline, torch.nn.Module):
        raise FairnessError(f"baseline: got {type(baseline).__name__}; expected a source such as "
                            f"'timm:resnet50' (its family is scaled for the matched variants) or a torch.nn.Module")
    if baseline_source is None and baseline_kwargs:
        raise FairnessError("baseline_kwargs: the baseline is an nn.Module, already built; give them with "
                            "baseline_source='timm:NAME' (the source it was built from), or leave them out")
    if baseline_source is not None and not isinstance(baseline_source, str):
        raise FairnessError(f"baseline_source: got {type(baseline_source).__name__}; expected a source string "
                            f"such as 'timm:resnet50'")
    return baseline_source


def _no_source(module) -> str:
    """Why a module baseline has no variants, and how to get them (the report shows it)."""
    arch = (getattr(module, "pretrained_cfg", None) or {}).get("architecture")  # timm records its model name
    hint = f"baseline_source='timm:{arch}'" if arch else "baseline_source='timm:NAME' or 'python:pkg.mod:factory'"
    return (f"the baseline was given as an nn.Module ({type(module).__name__}) without the source it was built "
            f"from, and a variant is that constructor at other arguments; pass {hint} with its baseline_kwargs")


def _check_built_from(b, module_params: float) -> None:
    """A module measured as the baseline while its variants come from `b.src`: the source must build
    the same model, or the variants would be matched from another one."""
    built = count_indicator(b, b.values, "params")
    if built != module_params:
        raise FairnessError(f"baseline_source {b.src.text} with {b.src.kwargs or 'no kwargs'} builds a model of "
                            f"{built:,.0f} parameters, but the baseline module has {module_params:,.0f}; give the "
                            f"source and baseline_kwargs it was built from, or leave baseline_source out to "
                            f"compare without matched variants")




def with_kwargs(name: str, kwargs: dict | None) -> str:
    """A model's name with the arguments given on the command line, so that one source at other
    arguments, or a config's model changed by them, is told apart in the report."""
    return " ".join([name, *(f"{k}={v}" for k, v in (kwargs or {}).items())])


def with_model_overrides(model: dict, given: dict | None) -> dict:
    """A config's proposed: or baseline: entry with the command line's values for that model:
    each given key wins; kwargs are merged key by key, so one -k changes one argument."""
    given = {k: v for k, v in (given or {}).items() if v not in (None, {})}
    out = {**model, **{k: v for k, v in given.items() if k != "kwargs"}}
    if "kwargs" in given:
        out["kwargs"] = {**(model.get("kwargs") or {}), **given["kwargs"]}
        out["name"] = with_kwargs(model.get("name") or model["source"], given["kwargs"])
        # the config's quality numbers are the configured model's, not this other one's
        out.pop("quality", None)
    return out


def compare_config(path: str, *, device: str | None = None, no_speed: bool = False, overrides: dict | None = None,
                   models: dict | None = None, match: list[str] | None = None, strategies: list[str] | None = None,
                   family_file: str | None = None, cache: Cache | None = None,
                   progress: Callable[[str], None] = lambda m: None, executor=None) -> dict:
    """A comparison from its config file. What the command line gives wins: `overrides`, measure:
    keys; `models`, {"proposed"|"baseline": {kwargs, image_size, seq_len}} merged into that model's
    entry (see with_model_overrides); `match`, `strategies`, `family_file`."""
    cfg = load_config(path)
    ms = cfg["measure"].merged(overrides, f"config {path}: measure")
    speed = ms.to_run_settings(device) if ms.speed and not no_speed else None
    p, b = (with_model_overrides(cfg[role], (models or {}).get(role)) for role in ("proposed", "baseline"))
    return compare(p["source"], b["source"], name=cfg["name"], proposed_name=p.get("name"),
                   baseline_name=b.get("name"), proposed_kwargs=p.get("kwargs"), baseline_kwargs=b.get("kwargs"),
                   quality={p.get("name") or p["source"]: p.get("quality") or {},
                            b.get("name") or b["source"]: b.get("quality") or {}},
                   match=match or cfg["match"], strategies=strategies or cfg["strategies"],
                   image_size=ms.image_size, seq_len=ms.seq_len, input_factory=ms.inputs, speed=speed,
                   family_file=family_file or cfg["family"], count_device=ms.count_device, cache=cache,
                   proposed_input={k: p[k] for k in ("image_size", "seq_len") if k in p},
                   baseline_input={k: b[k] for k in ("image_size", "seq_len") if k in b}, progress=progress,
                   executor=executor, curve=cfg["curve"], quality_hook=cfg["quality_hook"])
