"""Privacy gates: a generated sample must not be a training sample, and must not carry PHI.

- ``privacy_nearest_training``: L2 distance from the sample's critic embedding to its nearest
  training embedding. Exact search in chunks (``nearest_distances``), so 400k training images at
  256 dims (400 MB in float32) are searched without a [batch x 400k] matrix held at once beyond one
  chunk. The threshold is calibrated on held-out real to training distances: a sample closer to a
  training image than nearly every genuinely new image is treated as memorised.
- ``privacy_training_text``: long word spans copied from training reports. Templated phrases are
  shared by many reports and are no privacy risk; a span found in exactly one training report is
  that patient's text. The index keeps hashes of the n-grams with document frequency 1.
- ``privacy_phi``: identifiers in the report (``medmint.anonymize.phi_text``).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from typing import ClassVar, Iterable

import numpy as np

from medmint.anonymize.phi_text import find_phi
from medmint.validators.base import Batch, Validator


def nearest_distances(queries: np.ndarray, index: np.ndarray, *, chunk: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """(distance, row) of each query's nearest index row, exact, ``chunk`` index rows at a time."""
    q = np.asarray(queries, np.float32)
    best = np.full(len(q), np.inf, np.float64)
    arg = np.full(len(q), -1, np.int64)
    qq = (q.astype(np.float64) ** 2).sum(1)
    for start in range(0, len(index), chunk):
        block = np.asarray(index[start : start + chunk], np.float32)
        d2 = qq[:, None] + (block.astype(np.float64) ** 2).sum(1)[None, :] - 2.0 * (q @ block.T).astype(np.float64)
        j = d2.argmin(1)
        d = d2[np.arange(len(q)), j]
        better = d < best
        best[better], arg[better] = d[better], j[better] + start
    # the expanded form cancels badly near 0 in float32; the winners' distances are taken exactly,
    # so an exact copy scores 0.0
    exact = np.sqrt(((q.astype(np.float64) - np.asarray(index[arg], np.float64)) ** 2).sum(1)) if len(q) else best
    return exact, arg


class NearestTraining(Validator):
    """Embedding distance to the nearest training image (higher passes)."""

    name: ClassVar[str] = "privacy_nearest_training"
    higher_passes: ClassVar[bool] = True
    default_threshold: ClassVar[float] = 0.0  # set by calibration; 0 rejects only exact copies
    what: ClassVar[str] = "embedding distance to the nearest training image"

    def scores(self, batch: Batch) -> np.ndarray:
        index = self.context.require("train_features", self.name)
        return nearest_distances(batch.critic_features, index)[0]

    def passes(self, scores: np.ndarray) -> np.ndarray:
        s = np.asarray(scores, np.float64)
        return (s > self.threshold) & np.isfinite(s)

    def reason(self, batch: Batch, i: int, score: float) -> str:
        return f"{self.name}: {score:.4g} <= {self.threshold:.4g} (a training image is this close)"


_TOKEN = re.compile(r"[a-z0-9]+")


def _ngram_hashes(text: str, n: int) -> set[int]:
    words = _TOKEN.findall(text.lower())
    return {int.from_bytes(hashlib.blake2b(" ".join(words[i : i + n]).encode(), digest_size=8).digest(), "little",
                           signed=True) for i in range(len(words) - n + 1)}


class NgramIndex:
    """Hashes of the word n-grams that occur in exactly one training report."""

    def __init__(self, unique: np.ndarray, n: int) -> None:
        self.unique = np.unique(np.asarray(unique, np.int64))
        self.n = int(n)

    @classmethod
    def build(cls, reports: Iterable[str], n: int = 8) -> "NgramIndex":
        df: Counter[int] = Counter()
        for text in reports:
            df.update(_ngram_hashes(text, n))
        return cls(np.array([h for h, c in df.items() if c == 1], np.int64), n)

    def copied(self, text: str) -> int:
        """How many of ``text``'s n-grams are unique to one training report."""
        grams = np.fromiter(_ngram_hashes(text, self.n), np.int64)
        if not len(grams) or not len(self.unique):
            return 0
        at = np.minimum(np.searchsorted(self.unique, grams), len(self.unique) - 1)
        return int((self.unique[at] == grams).sum())


class TrainingTextCopy(Validator):
    """Word n-grams shared with exactly one training report (lower passes)."""

    name: ClassVar[str] = "privacy_training_text"
    higher_passes: ClassVar[bool] = False
    default_threshold: ClassVar[float] = 2.0
    what: ClassVar[str] = "n-grams unique to one training report"

    def scores(self, batch: Batch) -> np.ndarray:
        index: NgramIndex = self.context.require("train_ngrams", self.name)
        return np.array([index.copied(t) for t in batch.reports], dtype=np.float64)


class PhiInReport(Validator):
    """Identifiers found in the report (0 passes)."""

    name: ClassVar[str] = "privacy_phi"
    higher_passes: ClassVar[bool] = False
    default_threshold: ClassVar[float] = 0.0
    what: ClassVar[str] = "PHI hits"

    def scores(self, batch: Batch) -> np.ndarray:
        return np.array([len(find_phi(t)) for t in batch.reports], dtype=np.float64)

    def reason(self, batch: Batch, i: int, score: float) -> str:
        kinds = sorted({h.kind for h in find_phi(batch.reports[i])})
        return f"{self.name}: {score:.0f} identifier(s) in the report ({', '.join(kinds)})"


__all__ = ["NearestTraining", "TrainingTextCopy", "PhiInReport", "NgramIndex", "nearest_distances"]
