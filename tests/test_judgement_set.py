"""The labelled set (examples/judgement/): comparisons from published papers, each with the verdict
and the lead finding a reviewer would give, written from the paper before the tool ran on it.
Every one is audited (counts on the meta device) and must match; benchmarks/judgement_accuracy.py
prints the confusion table."""

from pathlib import Path

import pytest

from fairness.audit import labelled_case
from fairness.judgement import VERDICTS

CASES = sorted((Path(__file__).parent.parent / "examples" / "judgement").glob("*.yaml"))
SEED_FINDINGS = ("parameter-sharing", "sparsity", "sequence-length", "parallelism", "flops-speed-mismatch",
                 "hardware-mismatch", "units", "capacity-handicap")


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_labelled_comparison(path):
    case = labelled_case(str(path))
    assert case["cite"], f"{path.name}: cite its paper and table"
    assert case["got"] == case["expected"], f"{path.name}: {case['cite']}"


def test_the_set_covers_fair_comparisons_and_every_seed_finding():
    """At least 24 comparisons, 8 of them fair, and 2 unfair or questionable ones led by each of the
    seed article's findings (issue 24)."""
    import yaml

    labels = [yaml.safe_load(p.read_text())["expect"] for p in CASES]
    assert len(labels) >= 24 and all(x["verdict"] in VERDICTS for x in labels)
    assert sum(x["verdict"] == "fair" for x in labels) >= 8
    for kind in SEED_FINDINGS:
        n = sum(x["lead"] == kind and x["verdict"] in ("unfair", "questionable") for x in labels)
        assert n >= 2, f"{kind}: {n} labelled cases"
