"""Report PHI scrubbing speed: reports per second per mode on phantom reports with PHI, and on
de-identified ones (``___`` blanks, nothing to replace); seconds for degenerate text (long repeats,
which a careless pattern reads in quadratic time); and, on the PHI reports, span-level recall and
precision per PHI kind (``medmint.anonymize.text_eval``); and on the hand-written sets in
``tests/anonymize/data`` (PHI items over HIPAA's identifier kinds, clinical sentences without PHI;
the ``_heldout`` pair was written after the rules), item recall per HIPAA kind and false positives.

    python benchmarks/scrub.py [--n 1000] [--seed 900000]

Prints one JSON object; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    from medmint.anonymize.text import MODES, scrub_report
    from pathlib import Path

    from medmint.anonymize.text_eval import evaluate_items, load_phi_items, load_sentences, span_scores
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
        seconds = time.perf_counter() - start
        out[f"{mode}_reports_per_second"] = round(args.n / seconds, 1)
        out[f"{mode}_ms_per_report"] = round(1000 * seconds / args.n, 3)
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
    data = Path(__file__).resolve().parents[1] / "tests" / "anonymize" / "data"
    for name, suffix in (("item_set", ""), ("item_set_heldout", "_heldout")):
        items, sentences = data / f"phi_items{suffix}.jsonl", data / f"phi_clinical_sentences{suffix}.txt"
        if items.exists() and sentences.exists():
            report = evaluate_items(load_phi_items(items), load_sentences(sentences)).as_dict()
            out[name] = {k: report[k] for k in ("items", "found", "recall", "per_kind", "missed", "sentences",
                                                 "false_positives", "false_positive_hits")}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
