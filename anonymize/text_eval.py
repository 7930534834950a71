"""Span-level recall and precision of report scrubbing against known PHI spans (e.g. the phantom's),
and the hand-written PHI item and clinical sentence sets (``tests/anonymize/data/phi_*``).

- recall of a kind: the share of its gold spans that one replacement covers completely;
- precision of a kind: the share of replacements named that kind which overlap a gold span of the
  same kind (a replacement of a kind with no gold spans at all counts against that kind).

Item sets (``load_phi_items``): one JSON object a line, ``{"text": ..., "phi": [[kind, value], ...]}``;
each value is a PHI item, located at its first occurrence in ``text`` at or after the previous item of
the same value. The kind is one of HIPAA's identifier kinds (``HIPAA_KINDS``), not necessarily the
kind the scrubber names it: an item counts as **found** when one replacement (a merged hit of
``medmint.anonymize.text.detect``) covers its whole span, whatever kind that replacement is named.
Clinical sentence sets (``load_sentences``): one sentence a line, no PHI at all; **any** replacement in
one is a false positive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Protocol, Sequence

from medmint.anonymize.phi_text import PhiHit


class Span(Protocol):
    kind: str
    start: int
    end: int


@dataclass
class KindScore:
    gold: int = 0
    found: int = 0
    hits: int = 0
    correct: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.hits if self.hits else 1.0


def span_scores(pairs: Iterable[tuple[Sequence[Span], Sequence[PhiHit]]]) -> dict[str, KindScore]:
    """Per kind scores over (gold spans, replacements) pairs, one pair per report."""
    scores: dict[str, KindScore] = {}
    for gold, hits in pairs:
        for g in gold:
            s = scores.setdefault(g.kind, KindScore())
            s.gold += 1
            s.found += any(h.start <= g.start and g.end <= h.end for h in hits)
        for h in hits:
            s = scores.setdefault(h.kind, KindScore())
            s.hits += 1
            s.correct += any(g.kind == h.kind and g.start < h.end and h.start < g.end for g in gold)
    return dict(sorted(scores.items()))


def score_table(scores: dict[str, KindScore]) -> str:
    """A Markdown table of ``span_scores``."""
    rows = ["| kind | gold spans | found | recall | replacements | correct | precision |",
            "|---|---|---|---|---|---|---|"]
    rows += [f"| {k} | {s.gold} | {s.found} | {s.recall:.4f} | {s.hits} | {s.correct} | {s.precision:.4f} |"
             for k, s in scores.items()]
    return "\n".join(rows)


# HIPAA Safe Harbor's identifier kinds as the item sets label them (ages over 89 and times that go with a
# date are "elements of dates"; fax numbers, SSNs, ... are kept apart from the other numbers).
HIPAA_KINDS = ("name", "address", "date", "time", "age", "phone", "fax", "email", "ssn", "mrn", "health_plan",
               "account", "license", "vehicle", "device", "url", "ip", "biometric", "photo", "other_id")


@dataclass(frozen=True)
class GoldSpan:
    kind: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class PhiItem:
    text: str
    spans: tuple[GoldSpan, ...]


def load_phi_items(path: str | Path) -> list[PhiItem]:
    """The PHI item set at ``path`` (see the module docstring); a value missing from its text is an error."""
    items: list[PhiItem] = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        text, spans, after = row["text"], [], {}
        for kind, value in row["phi"]:
            if kind not in HIPAA_KINDS:
                raise ValueError(f"{path}:{n}: kind {kind!r} is not one of HIPAA_KINDS")
            start = text.find(value, after.get(value, 0))
            if start < 0:
                raise ValueError(f"{path}:{n}: {value!r} is not in the text")
            after[value] = start + len(value)
            spans.append(GoldSpan(kind, start, start + len(value), value))
        items.append(PhiItem(text, tuple(spans)))
    return items


def load_sentences(path: str | Path) -> list[str]:
    """One clinical sentence a line (blank lines skipped)."""
    return [s for s in Path(path).read_text(encoding="utf-8").splitlines() if s.strip()]


@dataclass
class ItemReport:
    """Recall over PHI items (per HIPAA kind) and false positives over clinical sentences."""

    found: int = 0
    total: int = 0
    per_kind: dict[str, list[int]] = field(default_factory=dict)  # kind -> [found, total]
    missed: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, value, text)
    sentences: int = 0
    false_positives: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, hit text, sentence)

    @property
    def recall(self) -> float:
        return self.found / self.total if self.total else 1.0

    def as_dict(self) -> dict[str, object]:
        return {"items": self.total, "found": self.found, "recall": round(self.recall, 4),
                "per_kind": {k: {"items": t, "recall": round(f / t, 4)} for k, (f, t) in sorted(self.per_kind.items())},
                "missed": [list(m) for m in self.missed], "sentences": self.sentences,
                "false_positives": len(self.false_positives),
                "false_positive_hits": [list(f) for f in self.false_positives]}


def evaluate_items(items: Sequence[PhiItem], sentences: Sequence[str] = (),
                   detect: Callable[[str], Sequence[PhiHit]] | None = None) -> ItemReport:
    """Item recall (an item is found when one replacement covers its whole span) and false positives
    (every replacement in a clinical sentence), with ``detect`` (default: ``text.detect``)."""
    if detect is None:
        from medmint.anonymize.text import detect
    out = ItemReport(sentences=len(sentences))
    for item in items:
        hits = detect(item.text)
        for g in item.spans:
            ok = any(h.start <= g.start and g.end <= h.end for h in hits)
            out.total += 1
            out.found += ok
            counts = out.per_kind.setdefault(g.kind, [0, 0])
            counts[0] += ok
            counts[1] += 1
            if not ok:
                out.missed.append((g.kind, g.text, item.text))
    for s in sentences:
        out.false_positives += [(h.kind, h.text, s) for h in detect(s)]
    return out


__all__ = ["HIPAA_KINDS", "GoldSpan", "ItemReport", "KindScore", "PhiItem", "evaluate_items", "load_phi_items",
           "load_sentences", "score_table", "span_scores"]
