"""Report quality gates: a report must read as a report before anyone asks what it says.

Measured on FINDINGS + IMPRESSION (what the generator writes). Degenerate repetition is the
classic failure of a diffusion text decoder that is sure of a phrase; garbled tokens are what an
undertrained BPE decoder produces (word pieces glued into non-words).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import numpy as np

from medmint.validators.base import Batch, ValidationContext, Validator

_WORD = re.compile(r"\S+")
# a token that reads as English text, a number with a unit, a list marker, or a de-identification blank
_WELL_FORMED = re.compile(
    r"""^[("'\[]*(?:
        [A-Za-z]+(?:[-'/][A-Za-z]+)*      # words, hyphenated, slashed, possessive
      | \d+(?:\.\d+)?(?:[-/x]\d+(?:\.\d+)?)*(?:%|cm|mm|st|nd|rd|th|s)?   # 4.5, 7th, 2-3, 10x12, 30%
      | _{2,}                             # ___ (de-identified in the source reports)
      | [A-Za-z]+\d+ | \d+[A-Za-z]        # T12, L1, C7
      | [-\u2022*]                        # bullets
    )[)\]"']*[.,;:!?]*[)\]"']*$""",
    re.VERBOSE,
)


def _words(sample: Any) -> list[str]:
    return _WORD.findall(f"{sample.report_findings} {sample.report_impression}")


class ReportLength(Validator):
    """Words in FINDINGS + IMPRESSION between ``threshold`` (min) and ``max_words``."""

    name: ClassVar[str] = "report_length"
    higher_passes: ClassVar[bool] = True
    default_threshold: ClassVar[float] = 4
    what: ClassVar[str] = "words"

    def __init__(self, context: ValidationContext | None = None, threshold: float | None = None,
                 max_words: int = 400, **params: Any) -> None:
        super().__init__(context, threshold, **params)
        self.max_words = int(max_words)

    def scores(self, batch: Batch) -> np.ndarray:
        return np.array([len(_words(s)) for s in batch.samples], dtype=np.float64)

    def passes(self, scores: np.ndarray) -> np.ndarray:
        s = np.asarray(scores, np.float64)
        return (s >= self.threshold) & (s <= self.max_words)

    def reason(self, batch: Batch, i: int, score: float) -> str:
        bound = f"< {self.threshold:.0f}" if score < self.threshold else f"> {self.max_words}"
        return f"{self.name}: {score:.0f} words {bound}"

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "max_words": self.max_words}


class ReportSections(Validator):
    """Both FINDINGS and IMPRESSION hold at least one word (1 = yes)."""

    name: ClassVar[str] = "report_sections"
    higher_passes: ClassVar[bool] = True
    default_threshold: ClassVar[float] = 1.0
    what: ClassVar[str] = "required sections present"

    def scores(self, batch: Batch) -> np.ndarray:
        has = lambda text: bool(re.search(r"[A-Za-z]{2,}", text or ""))  # noqa: E731
        return np.array([float(has(s.report_findings) and has(s.report_impression)) for s in batch.samples])

    def reason(self, batch: Batch, i: int, score: float) -> str:
        s = batch.samples[i]
        missing = [n for n, t in (("FINDINGS", s.report_findings), ("IMPRESSION", s.report_impression))
                   if not re.search(r"[A-Za-z]{2,}", t or "")]
        return f"{self.name}: empty {' and '.join(missing)}"


def repeated_ngram_fraction(words: list[str], n: int) -> float:
    """Share of word n-grams that repeat an earlier n-gram of the same report."""
    grams = [tuple(w.lower().strip(".,;:") for w in words[i : i + n]) for i in range(len(words) - n + 1)]
    return 0.0 if not grams else 1.0 - len(set(grams)) / len(grams)


def repeated_sentence_fraction(text: str) -> float:
    """Share of sentences that repeat an earlier sentence of the same text."""
    sentences = [re.sub(r"\W+", " ", x).strip().lower() for x in re.split(r"(?<=[.!?;])\s+", text or "")]
    sentences = [x for x in sentences if x]
    return 0.0 if not sentences else 1.0 - len(set(sentences)) / len(sentences)


class Repetition(Validator):
    """A sentence said twice, or a phrase looping (repeated word 8-grams), within one section. Per
    section because an impression restating a finding is how reports are written; 8 words because
    real findings repeat short location phrases ("in the right lower lobe")."""

    name: ClassVar[str] = "report_repetition"
    higher_passes: ClassVar[bool] = False
    default_threshold: ClassVar[float] = 0.15
    what: ClassVar[str] = "repeated sentence or 8-gram share in a section"

    def __init__(self, context: ValidationContext | None = None, threshold: float | None = None, n: int = 8,
                 **params: Any) -> None:
        super().__init__(context, threshold, **params)
        self.n = int(n)

    def scores(self, batch: Batch) -> np.ndarray:
        return np.array([max(max(repeated_ngram_fraction(_WORD.findall(section or ""), self.n),
                                 repeated_sentence_fraction(section))
                             for section in (s.report_findings, s.report_impression)) for s in batch.samples])


class Garbled(Validator):
    """Share of tokens that are not word-, number- or list-shaped (or, with a training vocabulary
    in the context's data summary, not words the training reports use)."""

    name: ClassVar[str] = "report_garbled"
    higher_passes: ClassVar[bool] = False
    default_threshold: ClassVar[float] = 0.05
    what: ClassVar[str] = "garbled token share"

    def _bad(self, word: str, vocabulary: frozenset[str]) -> bool:
        if not _WELL_FORMED.match(word) or not word.isascii():
            return True
        if not vocabulary or re.search(r"\d", word):
            return False
        return any(len(part) > 2 and part not in vocabulary for part in re.findall(r"[a-z]+", word.lower()))

    def scores(self, batch: Batch) -> np.ndarray:
        vocabulary = frozenset(self.context.data_summary.get("report_vocabulary", ()))
        out = []
        for s in batch.samples:
            words = _words(s)
            out.append(sum(self._bad(w, vocabulary) for w in words) / len(words) if words else 1.0)
        return np.array(out)

    def reason(self, batch: Batch, i: int, score: float) -> str:
        vocabulary = frozenset(self.context.data_summary.get("report_vocabulary", ()))
        bad = [w for w in _words(batch.samples[i]) if self._bad(w, vocabulary)][:3]
        return f"{self.name}: {score:.0%} garbled tokens > {self.threshold:.0%} (e.g. {', '.join(map(repr, bad))})"


__all__ = ["ReportLength", "ReportSections", "Repetition", "Garbled", "repeated_ngram_fraction",
           "repeated_sentence_fraction"]
