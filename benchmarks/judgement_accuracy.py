"""The judgement against the labelled set (examples/judgement/): the confusion table of expected
against given verdicts, and every case whose verdict or lead finding differs. Counts on the meta
device; no GPU. About a minute on 2 cores.

    python benchmarks/judgement_accuracy.py
"""

import sys
import warnings
from pathlib import Path

from fairness.audit import labelled_case
from fairness.judgement import VERDICTS

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parent.parent / "examples" / "judgement"


def main() -> int:
    cases = [labelled_case(str(p)) for p in sorted(ROOT.glob("*.yaml"))]
    table = {(e, g): 0 for e in VERDICTS for g in VERDICTS}
    for c in cases:
        table[c["expected"]["verdict"], c["got"]["verdict"]] += 1
    width = max(len(v) for v in VERDICTS) + 2
    print(f"{len(cases)} labelled comparisons: rows the label (from the paper), columns the verdict given\n")
    print(" " * width + "".join(f"{v:>{width}}" for v in VERDICTS))
    for e in VERDICTS:
        print(f"{e:<{width}}" + "".join(f"{table[e, g]:>{width}}" for g in VERDICTS))
    verdicts = sum(c["expected"]["verdict"] == c["got"]["verdict"] for c in cases)
    leads = sum(c["expected"] == c["got"] for c in cases)
    print(f"\nverdict right: {verdicts}/{len(cases)}; verdict and lead finding right: {leads}/{len(cases)}")
    wrong = [c for c in cases if c["expected"] != c["got"]]
    for c in wrong:
        print(f"  {Path(c['file']).name}: expected {c['expected']['verdict']}/{c['expected']['lead']}, "
              f"given {c['got']['verdict']}/{c['got']['lead']}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
