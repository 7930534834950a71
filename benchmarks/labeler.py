"""Report labeler speed: reports per second on phantom reports, and seconds for a degenerate
generated report (800 repeats without a full stop, which a naive cue search reads in quadratic time).

    python benchmarks/labeler.py [--n 400]

Prints one JSON object; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    from medmint.generators.phantom import sample_case
    from medmint.validators.report_labeler import label_report

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=400)
    args = ap.parse_args()
    reports = [sample_case(10_000 + i, size=64).report for i in range(args.n)]
    start = time.perf_counter()
    for r in reports:
        label_report(r)
    seconds = time.perf_counter() - start
    degenerate = "FINDINGS: " + "no effusion, possible small pneumothorax and the heart is enlarged " * 800
    start = time.perf_counter()
    label_report(degenerate)
    print(json.dumps({"reports": args.n, "reports_per_second": round(args.n / seconds, 1),
                      "degenerate_report_words": len(degenerate.split()),
                      "degenerate_report_seconds": round(time.perf_counter() - start, 3)}))


if __name__ == "__main__":
    main()
