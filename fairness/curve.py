"""A family's published curve: quality against each cost indicator, and where the proposed model
sits against it (issue 25).

A matched variant has random weights, so the report can compare its costs but not its quality.
A family's published members (ResNet-18 to 152, ViT-Ti to L) do have quality: measured on the
target beside the compared models, they give quality as a function of each cost, and the
question a reader asks, "is the proposed model better than a ResNet of the same FLOPs, of the
same throughput on this GPU?", has an answer in points of quality.

The curve on one indicator is the best quality the family reaches at that cost or less:
members another member beats at a lower cost are off it (the frontier), and between members
quality is linear in log(cost). It is never extrapolated: outside the members' range the answer
is "outside the curve", with the range. Throughput is a rate, so its cost is its inverse (time
per example).

    curve:
      name: ResNet (timm, A1 recipe)      # shown in the figure and the sentences
      quality: top1                       # the metric (default: the first the proposed model shares)
      members:
        - {name: ResNet-18, source: timm:resnet18, quality: {top1: 71.5}, cite: "timm results-imagenet.csv"}
        - ...
"""

from __future__ import annotations

import math

from . import readings as rd
from .errors import FairnessError
from .flags import QUALITY_TIE
from .settings import check_keys, check_values
from .spec import check_name

# the indicators a curve is drawn on: those a comparison is judged on, peak memory aside (it is
# the batch's, not the model's, and no family's curve is published against it)
CURVE_INDICATORS = ("params", "flops", "throughput", "latency")
MEMBER_KEYS = {"name", "source", "kwargs", "quality", "cite", "image_size", "seq_len"}
CURVE_KEYS = {"name", "members", "quality"}  # quality: the metric to draw (default: the first shared one)
# quality points closer than this to the curve are on it: a tenth of a point is below what comparison
# tables print (flags.QUALITY_TIE)
ON_CURVE = QUALITY_TIE


def check_curve(value, what: str, proposed_quality: dict | None) -> dict | None:
    """A config's curve: checked before anything is measured. A list is the members of an
    unnamed curve. Every member needs a name, a source and a quality number on a metric the
    proposed model has too; two members may not share a name or a model."""
    if value is None:
        return None
    what = f"{what}: curve"
    if isinstance(value, list):
        value = {"members": value}
    check_keys(value, CURVE_KEYS, what)
    members = value.get("members")
    if not isinstance(members, list) or len(members) < 2:
        got = len(members) if isinstance(members, list) else type(members).__name__
        raise FairnessError(f"{what}.members: a curve needs at least two members to draw a line through "
                            f"(got {got}); list the family's published models, each with its quality")
    out, names, models = [], {}, {}
    for i, m in enumerate(members):
        where = f"{what}.members[{i}]"
        check_keys(m, MEMBER_KEYS, where)
        if not isinstance(m.get("source"), str):
            raise FairnessError(f"{where}.source: expected a source such as timm:resnet18")
        name = check_name(m.get("name") or m["source"], f"{where}.name")
        if m.get("kwargs") is not None and not isinstance(m["kwargs"], dict):
            raise FairnessError(f"{where}.kwargs: expected a mapping")
        quality = m.get("quality")
        if not isinstance(quality, dict) or not rd.quality_numbers(quality):
            raise FairnessError(f"{where} ({name}): no quality; give its published number, e.g. quality: {{top1: 76.1}}, "
                                f"with cite: where it is printed")
        check_values({k: m[k] for k in ("image_size", "seq_len") if k in m}, where)
        if m.get("cite") is not None and not isinstance(m["cite"], str):
            raise FairnessError(f"{where}.cite: expected a string naming where the quality is printed")
        model = (m["source"], repr(sorted((m.get("kwargs") or {}).items())), repr(m.get("image_size")),
                 repr(m.get("seq_len")))
        for seen, key, word in ((names, name, "name"), (models, model, "model")):
            if key in seen:
                raise FairnessError(f"{where}: the same {word} as members[{seen[key]}] ({name}); list each member once")
            seen[key] = i
        out.append({"name": name, "source": m["source"], "kwargs": m.get("kwargs") or {},
                    "quality": rd.quality_numbers(quality), "cite": m.get("cite") or "",
                    **{k: m[k] for k in ("image_size", "seq_len") if k in m}})
    mine = rd.quality_numbers(proposed_quality or {})
    shared = [k for k in mine if all(k in m["quality"] for m in out)]
    if value.get("quality") is not None:
        if value["quality"] not in shared:
            raise FairnessError(f"{what}.quality: {value['quality']!r} is not a metric that the proposed model "
                                f"and every member have ({', '.join(shared) or 'none'})")
        shared = [value["quality"]]
    if not shared:
        theirs = sorted(set.intersection(*(set(m["quality"]) for m in out)))
        raise FairnessError(f"{what}: the proposed model's quality ({', '.join(mine) or 'none given'}) and every "
                            f"member's ({', '.join(theirs) or 'none in common'}) share no metric; give the proposed "
                            f"model quality: {{{(theirs or ['top1'])[0]}: ...}} on the curve's metric")
    name = value.get("name") or f"{out[0]['name']} to {out[-1]['name']}"
    return {"name": check_name(name, f"{what}.name"), "quality": shared[0], "members": out}


def cost(indicator: str, value: float) -> float:
    """What a curve is drawn against: the cost, rising with the model's size (a rate's inverse)."""
    return 1.0 / value if rd.INDICATORS[indicator].higher_is_better else value


def frontier(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(cost, quality) points, cheapest first, that no cheaper point matches in quality."""
    out: list[tuple[float, float]] = []
    for c, q in sorted(points):
        if out and q <= out[-1][1]:
            continue
        if out and c == out[-1][0]:
            out.pop()
        out.append((c, q))
    return out


def polyline(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The curve as drawn and read: the frontier, then flat past the last member that improves on
    the cheaper ones, to the dearest member."""
    front = frontier(points)
    dearest = max(points)[0]
    return front + [(dearest, front[-1][1])] if dearest > front[-1][0] else front


def quality_at(points: list[tuple[float, float]], c: float) -> float | None:
    """The best quality the curve's members reach at cost `c` or less, linear in log(cost)
    between the polyline's points; None outside the members' range (never extrapolated)."""
    if len(points) < 2 or not min(p[0] for p in points) <= c <= max(p[0] for p in points):
        return None
    front = polyline(points)
    for (c0, q0), (c1, q1) in zip(front, front[1:]):
        if c0 <= c <= c1:
            return q0 + (q1 - q0) * math.log(c / c0) / math.log(c1 / c0)
    return front[0][1]  # c equals the cheapest member's cost


def _speed_of(views: list[dict], key: str) -> tuple[str, list[float | None]] | None:
    """The implementation in which every one of `views` has a judged speed (CUDA graph replays
    first, then eager numbers the host did not set), and their values; None where none has."""
    for impl in ("cuda_graph", "eager"):
        if all(impl in v["speeds"].get(key, {}) for v in views):
            return impl, [v["speeds"][key][impl][0] for v in views]
    return None


def analysis(curve: dict, proposed: dict, members: dict[str, dict], env: dict) -> dict:
    """The proposed model against the curve on each indicator: the curve's quality at the proposed
    model's own cost, and the distance in points (above: > 0). `proposed` and `members` (member
    name -> its measured record's view, flags.view) are the judgement's views; a member that
    failed is missing from `members` and left out."""
    q = curve["quality"]
    pq = proposed["quality"].get(q)
    used = [m for m in curve["members"] if m["name"] in members]
    rows = []
    for key in CURVE_INDICATORS:
        row = {"indicator": key, "label": rd.INDICATORS[key].label}
        if rd.INDICATORS[key].convention == rd.SPEED:
            found = _speed_of([proposed] + [members[m["name"]] for m in used], key)
            if found is None:
                rows.append({**row, "status": "not timed"})
                continue
            impl, values = found
            setting = proposed["latency_setting" if key == "latency" else "speed_setting"] or {}
            row.update(implementation=impl, batch_size=setting.get("batch_size"), dtype=setting.get("dtype"))
            x, xs = values[0], values[1:]
        else:
            x, xs = proposed[key], [members[m["name"]][key] for m in used]
        points = [(cost(key, v), m["quality"][q]) for m, v in zip(used, xs) if v]
        row.update(value=x, members=[{"name": m["name"], "value": v, "quality": m["quality"][q]}
                                     for m, v in zip(used, xs)])
        if not x or len(points) < 2:
            rows.append({**row, "status": "not measured"})
            continue
        at = quality_at(points, cost(key, x))
        if at is None:
            lo, hi = min(v for v in xs if v), max(v for v in xs if v)
            rows.append({**row, "status": "outside", "range": [lo, hi],
                         "side": "below" if cost(key, x) < min(p[0] for p in points) else "above"})
            continue
        rows.append({**row, "status": "inside", "curve": at, "delta": None if pq is None else pq - at})
    return {"name": curve["name"], "quality": q, "proposed": proposed["name"], "proposed_quality": pq,
            "members": [{k: m[k] for k in ("name", "source", "quality", "cite")} for m in curve["members"]],
            "missing": [m["name"] for m in curve["members"] if m["name"] not in members],
            "device": env.get("device_name") or env.get("device"), "rows": rows}


def verdict(delta: float) -> str:
    return "on" if abs(delta) <= ON_CURVE else "above" if delta > 0 else "below"


def _setting(row: dict, device: str | None) -> str:
    parts = ["CUDA graph" if row.get("implementation") == "cuda_graph" else "eager", row.get("dtype"),
             f"batch {row['batch_size']}" if row.get("batch_size") else None, device]
    return ", ".join(str(p) for p in parts if p)


def sentence(a: dict) -> str:
    """The first screen's line: per indicator, how far the proposed model is above or below the
    curve at its own cost ("Against the ResNet curve (top1), EfficientNet-B4 is +2.4 at equal
    FLOPs; ...")."""
    inside = [r for r in a["rows"] if r["status"] == "inside" and r["delta"] is not None]
    parts = []
    for r in inside:
        where = f" ({_setting(r, a['device'])})" if r["indicator"] in ("throughput", "latency") else ""
        parts.append(f"{r['delta']:+.1f} at equal {r['label']}{where}")
    for r in a["rows"]:
        if r["status"] == "outside":
            word = "cheaper" if r["side"] == "below" else "dearer"
            if r["indicator"] in ("throughput", "latency"):
                word = "faster" if r["side"] == "below" else "slower"
            parts.append(f"outside it in {r['label']} ({word} than every member: {range_text(r['indicator'], *r['range'])})")
    text = f"Against the {a['name']} curve ({a['quality']}), {a['proposed']} is " + ("; ".join(parts) or "not placed")
    signs = {verdict(r["delta"]) for r in inside}
    if "above" in signs and "below" in signs:
        up = ", ".join(r["label"] for r in inside if verdict(r["delta"]) == "above")
        down = ", ".join(r["label"] for r in inside if verdict(r["delta"]) == "below")
        text += f". Its quality win survives at equal {up}, not at equal {down}"
    return text + "."


def range_text(indicator: str, lo: float, hi: float) -> str:
    """'11.69-25.56 M' in the unit of the indicator's table column."""
    ind = rd.INDICATORS[indicator]
    unit = ind.header.split("(")[-1].rstrip(")")
    return f"{lo / ind.scale:,.{ind.digits}f}-{hi / ind.scale:,.{ind.digits}f} {unit}"
