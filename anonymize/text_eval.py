"""Span-level recall and precision of report scrubbing against known PHI spans (e.g. the phantom's).

- recall of a kind: the share of its gold spans that one replacement covers completely;
- precision of a kind: the share of replacements named that kind which overlap a gold span of the
  same kind (a replacement of a kind with no gold spans at all counts against that kind).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

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


__all__ = ["KindScore", "score_table", "span_scores"]
