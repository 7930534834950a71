"""Report labeler benchmark: per-label precision / recall / F1 on the hand-written sentence sets, and
(with ``--speed``) reports per second on phantom reports plus seconds for a degenerate generated report
(800 repeats without a full stop, which a naive cue search reads in quadratic time).

    python benchmarks/labeler.py [--errors] [--speed] [--n 400]

The sets live in ``tests/validators/data``: ``labeler_sentences.tsv`` (the development split, which the
rules were fixed against) and ``labeler_sentences_heldout.tsv`` (written after the rule fixes and never
tuned on). Each row is a sentence with gold CheXpert labels (1, 0, -1 or empty = unmentioned) written
from CheXpert's rules; the files' headers give the rules.

Scoring per label, on the exact value: a prediction is right when it is the gold value; precision is
over the sentences where the labeler gives a value (not None), recall over those where the gold has
one, F1 their harmonic mean. The macro F1 is the mean over the labels with gold support. Prints one
JSON object; nothing here asserts a score or a speed (``tests/validators/test_report_labeler.py`` does).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "tests" / "validators" / "data"
SETS = {"dev": DATA / "labeler_sentences.tsv", "heldout": DATA / "labeler_sentences_heldout.tsv"}


def load_sentences(path: Path) -> list[tuple[str, dict[str, int | None]]]:
    """(text, {label: 1 | 0 | -1 | None}) rows of a labeler sentence file ('#' lines are comments)."""
    rows = [line.rstrip("\n") for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    header = rows[0].split("\t")
    out = []
    for line in rows[1:]:
        cells = line.split("\t")
        cells += [""] * (len(header) - len(cells))
        out.append((cells[0], {k: int(v) if v.strip() else None for k, v in zip(header[1:], cells[1:])}))
    return out


def score(gold: list[dict], pred: list[dict], labels: list[str]) -> dict:
    """Per-label exact-value precision / recall / F1 and the macro F1 over labels with support."""
    per = {}
    for label in labels:
        right = sum(p[label] is not None and p[label] == g[label] for g, p in zip(gold, pred))
        n_pred = sum(p[label] is not None for p in pred)
        n_true = sum(g[label] is not None for g in gold)
        prec = right / n_pred if n_pred else 0.0
        rec = right / n_true if n_true else 0.0
        f1 = 2 * right / (n_pred + n_true) if n_pred + n_true else 0.0
        per[label] = {"precision": round(prec, 3), "recall": round(rec, 3), "f1": round(f1, 3),
                      "support": n_true}
    supported = [v["f1"] for v in per.values() if v["support"]]
    return {"labels": per, "macro_f1": round(sum(supported) / len(supported), 4)}


def evaluate(path: Path, errors: bool = False) -> dict:
    from medmint.records import CHEXPERT_LABELS
    from medmint.validators.report_labeler import label_report

    rows = load_sentences(path)
    gold = [g for _, g in rows]
    pred = [label_report(t) for t, _ in rows]
    out = {"sentences": len(rows), **score(gold, pred, list(CHEXPERT_LABELS))}
    if errors:
        out["errors"] = [
            {"text": t, "wrong": {k: [g[k], p[k]] for k in CHEXPERT_LABELS if g[k] != p[k]}}
            for (t, g), p in zip(rows, pred) if g != p]
    return out


def speed(n: int) -> dict:
    from medmint.generators.phantom import sample_case
    from medmint.validators.report_labeler import label_report

    reports = [sample_case(10_000 + i, size=64).report for i in range(n)]
    start = time.perf_counter()
    for r in reports:
        label_report(r)
    seconds = time.perf_counter() - start
    degenerate = "FINDINGS: " + "no effusion, possible small pneumothorax and the heart is enlarged " * 800
    start = time.perf_counter()
    label_report(degenerate)
    return {"reports": n, "reports_per_second": round(n / seconds, 1),
            "degenerate_report_words": len(degenerate.split()),
            "degenerate_report_seconds": round(time.perf_counter() - start, 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--errors", action="store_true", help="list the sentences read wrong")
    ap.add_argument("--speed", action="store_true", help="also time the labeler on phantom reports")
    ap.add_argument("--n", type=int, default=400, help="phantom reports for --speed")
    args = ap.parse_args()
    out: dict = {name: evaluate(path, args.errors) for name, path in SETS.items() if path.exists()}
    if len(out) == 2:
        both = load_sentences(SETS["dev"]) + load_sentences(SETS["heldout"])
        from medmint.records import CHEXPERT_LABELS
        from medmint.validators.report_labeler import label_report
        pred = [label_report(t) for t, _ in both]
        out["all"] = {"sentences": len(both), **score([g for _, g in both], pred, list(CHEXPERT_LABELS))}
    if args.speed:
        out["speed"] = speed(args.n)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
