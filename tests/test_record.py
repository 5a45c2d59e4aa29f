"""Typed records (issue 30): JSON only at the edge, every file in the gallery read and written back."""

import ast
import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from fairness import results
from fairness.record import ModelRecord, Role, Speed

REPORTS = Path(__file__).resolve().parent.parent / "reports"


@pytest.mark.parametrize("path", sorted(REPORTS.glob("*/results.json")), ids=lambda p: p.parent.name)
def test_every_gallery_file_loads_typed_and_writes_back_the_same_bytes(path):
    res = results.load(path)
    assert res["models"] and all(isinstance(m, ModelRecord) for m in res["models"])
    assert all(m.speed is None or isinstance(m.speed, Speed) for m in res["models"])
    assert results.dumps(res) == path.read_text()


def test_a_key_this_version_does_not_know_is_kept_in_its_place():
    plain = {"id": "a", "name": "a", "role": "variant", "from_the_future": {"x": 1}, "speed": {"latency": None, "new": 2}}
    m = ModelRecord.from_plain(plain)
    assert m.extra == {"from_the_future": {"x": 1}} and m.speed.extra == {"new": 2}
    assert json.dumps(m.to_plain()) == json.dumps(plain)


def test_role_is_an_enum_that_reads_and_writes_as_its_string():
    m = ModelRecord.from_plain({"name": "a", "role": "curve"})
    assert m.role is Role.CURVE and m.role == "curve" and str(m.role) == "curve"
    assert m.to_plain() == {"name": "a", "role": "curve"}


def test_records_are_frozen_and_with_makes_a_new_one_with_the_key_last():
    m = ModelRecord.from_plain({"name": "a", "role": "baseline", "quality": {}})
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.quality = {"top1": 1.0}
    n = m.with_(quality={"top1": 76.1}, quality_source="hook", speed={"latency": {"median_s": 0.001}})
    assert m.quality == {} and n.quality == {"top1": 76.1}
    assert list(n.to_plain()) == ["name", "role", "quality", "quality_source", "speed"]
    assert isinstance(n.speed, Speed) and n.speed.latency == {"median_s": 0.001}
    assert list(n.without("quality_source").to_plain()) == ["name", "role", "quality", "speed"]
    assert n.without("quality_source").quality_source is None


def test_a_failed_model_is_one_record_with_its_reason():
    m = ModelRecord.failure("ViT-H", "variant", "out of memory at batch 256")
    assert m.failed == "out of memory at batch 256" and m.role is Role.VARIANT
    assert m.to_plain() == {"id": "ViT-H", "name": "ViT-H", "role": "variant", "failed": "out of memory at batch 256"}


def test_a_field_absent_from_an_older_file_stays_absent():
    m = ModelRecord.from_plain({"name": "old", "role": "proposed"})
    assert m.claims == {} and not m.has("claims") and "claims" not in m.to_plain()


# Keys only a model record (or its Speed) has: read by string anywhere but the JSON edge, they
# mean a record handled as a dict. (`name`, `params`, `flops`, `quality`'s metrics and the like are
# keys of configs, counts and flags too, and are left out.)
RECORD_KEYS = {"speed", "role", "failed", "quality_failed", "quality_source", "counted_on", "capacity_loss",
               "knobs", "scaled_from", "measure_error", "seconds_to_measure", "fvcore_activations", "claims",
               "assumed", "targets", "cuda_graph", "autocast", "unavailable"}
EDGE = {"results.py", "record.py"}
# Mappings that are not records but share a record key: per module, the keys, and whose they are.
NOT_RECORDS = {
    "audit.py": {"claims", "role", "scaled_from"},   # a claims file's entries, as written by the user
    "families/generic.py": {"knobs", "role"},         # a family file's strategies
    "flags.py": {"assumed", "capacity_loss", "claims", "role", "scaled_from",  # view(m): the rules' reading
                 "cuda_graph"},                      # a run of speed.runs (one batch size)
    "judgement.py": {"capacity_loss", "role",         # view(m) again
                     "cuda_graph", "unavailable"},   # a run of speed.runs; the replays' own part
    "compare.py": {"failed"},                        # a variant search's outcome
    "matching.py": {"failed"},                       # a variant search's outcome
    "measure.py": {"failed"},                        # an executor task's returned value
    "merge.py": {"targets"},                         # merge's ranking rows
    "render/merge.py": {"failed", "targets"},        # merge's section: targets and the models each lacks
    "render/table.py": {"cuda_graph", "failed", "unavailable"},  # runs, the matching section, generation's part
    "render/zoo.py": {"failed"},                     # the zoo's timing groups (where each ran)
    "runner.py": {"autocast", "cuda_graph", "unavailable"},  # the speed the runner is building, not yet a Speed
}


def _key_reads(tree: ast.AST):
    """(line, key) of every `x["key"]`, `x.get("key")`, `x.pop("key")` and `"key" in x`."""
    for node in ast.walk(tree):
        key = None
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            key = node.slice.value
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("get", "pop", "setdefault") and node.args
              and isinstance(node.args[0], ast.Constant)):
            key = node.args[0].value
        elif (isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant)
              and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops)):
            key = node.left.value
        if key in RECORD_KEYS:
            yield node.lineno, key


def test_no_module_reads_a_record_by_string_key():
    package = Path(results.__file__).resolve().parent
    found = []
    for path in sorted(package.rglob("*.py")):
        module = str(path.relative_to(package))
        if module in EDGE:
            continue
        allowed = NOT_RECORDS.get(module, {})
        found += [f"{module}:{line} [{key!r}]" for line, key in _key_reads(ast.parse(path.read_text()))
                  if key not in allowed]
    assert not found, "records read by key (read the attribute):\n" + "\n".join(found)


def test_to_plain_is_called_at_the_json_edge_only():
    package = Path(results.__file__).resolve().parent
    calls = [f"{path.relative_to(package)}:{node.lineno}" for path in sorted(package.rglob("*.py"))
             if path.name not in EDGE for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "to_plain"]
    assert not calls, calls


def test_a_record_is_not_a_mapping():
    """The read-by-key shim is gone: a record is read by attribute, so a stray `m["speed"]` fails
    where it is written, not as a wrong number far away."""
    m = ModelRecord.from_plain({"name": "a", "role": "baseline", "speed": {"latency": None}})
    with pytest.raises(TypeError):
        m["speed"]
    assert not isinstance(m, Mapping) and not isinstance(m.speed, Mapping)
    assert m.speed  # an empty Speed is a timing record all the same, not falsy
