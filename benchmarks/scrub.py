"""Report PHI scrubbing speed: reports per second per mode on phantom reports with PHI, and on
de-identified ones (``___`` blanks, nothing to replace); seconds for degenerate text (long repeats,
which a careless pattern reads in quadratic time); and, on the PHI reports, span-level recall and
precision per PHI kind (``medmint.anonymize.text_eval``).

    python benchmarks/scrub.py [--n 1000] [--seed 900000]

Prints one JSON object; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    from medmint.anonymize.text import MODES, scrub_report
    from medmint.anonymize.text_eval import span_scores
    from medmint.generators.phantom import sample_case

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=900_000)
    args = ap.parse_args()
    # every fourth patient is over 89, so ages are PHI often enough to be measured
    cases = [sample_case(args.seed + i, size=64, phi=True, age=90 + i % 15 if i % 4 == 0 else None)
             for i in range(args.n)]
    plain = [sample_case(args.seed + i, size=64).report for i in range(args.n)]
    mean_chars = round(sum(len(c.report) for c in cases) / args.n)
    out: dict[str, object] = {"reports": args.n, "mean_chars": mean_chars}
    for mode in MODES:
        start = time.perf_counter()
        results = [scrub_report(c.report, mode, key=b"benchmark") for c in cases]
        out[f"{mode}_reports_per_second"] = round(args.n / (time.perf_counter() - start), 1)
    start = time.perf_counter()
    for text in plain:
        scrub_report(text)
    out["deidentified_reports_per_second"] = round(args.n / (time.perf_counter() - start), 1)
    # degenerate generated text must stay linear: repeated names, dotted and dashed runs
    degenerate = {"names": "Mary Smith " * 8000, "dots": "a." * 40000, "dashes": "1-" * 40000}
    start = time.perf_counter()
    for text in degenerate.values():
        scrub_report(text)
    out["degenerate_chars"] = sum(map(len, degenerate.values()))
    out["degenerate_seconds"] = round(time.perf_counter() - start, 3)
    scores = span_scores((c.phi_spans, r.hits) for c, r in zip(cases, results))
    out["per_kind"] = {k: {"gold": s.gold, "recall": round(s.recall, 4), "replacements": s.hits,
                           "precision": round(s.precision, 4)} for k, s in scores.items()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
