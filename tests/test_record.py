"""Typed records (issue 30): JSON only at the edge, every file in the gallery read and written back."""

import dataclasses
import json
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
