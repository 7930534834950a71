"""What every validator is: a name, a batch score, a threshold from config, and a reason on failure.

A sample is rejected when any enabled validator fails it, and every failing reason is kept (a data
engineer reading the rejects wants all of them, not the first). Scores are plain floats so they go
into Parquet and run.json unchanged; the direction says which side of the threshold passes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from medmint.records import GeneratedSample


@dataclass(frozen=True)
class Verdict:
    """One validator's outcome for one sample."""

    validator: str
    score: float
    threshold: float
    passed: bool
    reason: str | None = None  # set when not passed: "<validator>: <what>, <score> <op> <threshold>"


@dataclass
class ValidationContext:
    """What validators may consult besides the sample: the checkpoint's critic and training summary,
    and the privacy index built by ``medmint validators calibrate``. Missing parts disable the
    validators that need them (said in run.json), never silently pass them."""

    critic: Any | None = None  # FindingsClassifier
    data_summary: Mapping[str, Any] = field(default_factory=dict)
    train_features: np.ndarray | None = None  # [N, D] critic embeddings of the training images
    train_ngrams: Any | None = None  # validators.privacy.NgramIndex
    bits_stored: int = 12

    def require(self, what: str, owner: str) -> Any:
        value = getattr(self, what)
        if value is None or (isinstance(value, Mapping) and not value):
            raise ValueError(f"validator {owner}: needs the checkpoint's {what}, which this run does not have")
        return value


class Batch:
    """A batch of samples with what several validators read computed once (report labels, the
    critic's probabilities and embeddings)."""

    def __init__(self, samples: Sequence[GeneratedSample], context: ValidationContext) -> None:
        self.samples, self.context = list(samples), context

    def __len__(self) -> int:
        return len(self.samples)

    @cached_property
    def images(self) -> list[np.ndarray]:
        return [s.image for s in self.samples]

    @cached_property
    def reports(self) -> list[str]:
        return [s.report_text for s in self.samples]

    @cached_property
    def report_labels(self) -> list[dict[str, int | None]]:
        from medmint.validators.report_labeler import label_report

        return [label_report(t) for t in self.reports]

    @cached_property
    def _critic_outputs(self) -> tuple[np.ndarray, np.ndarray]:
        critic = self.context.require("critic", "critic")
        return critic.features_and_proba(self.images, [s.bits_stored for s in self.samples])

    @property
    def critic_probs(self) -> np.ndarray:
        return self._critic_outputs[1]

    @property
    def critic_features(self) -> np.ndarray:
        return self._critic_outputs[0]


class Validator(ABC):
    """Subclasses set ``name`` and ``higher_passes`` and implement ``scores``."""

    name: ClassVar[str]
    higher_passes: ClassVar[bool]  # True: score >= threshold passes; False: score <= threshold passes
    default_threshold: ClassVar[float]
    what: ClassVar[str] = ""  # the quantity, for reasons ("dynamic range (DN)")

    def __init__(self, context: ValidationContext | None = None, threshold: float | None = None,
                 **params: Any) -> None:
        self.context = context or ValidationContext()
        self.threshold = float(self.default_threshold if threshold is None else threshold)
        if params:
            raise ValueError(f"validator {self.name}: unknown parameters {sorted(params)}")

    @abstractmethod
    def scores(self, batch: Batch) -> np.ndarray:
        """float64 [len(batch)]."""

    def passes(self, scores: np.ndarray) -> np.ndarray:
        s = np.asarray(scores, np.float64)
        ok = s >= self.threshold if self.higher_passes else s <= self.threshold
        return ok & np.isfinite(s)

    def judge(self, batch: Batch) -> list[Verdict]:
        s = np.asarray(self.scores(batch), np.float64)
        if s.shape != (len(batch),):
            raise RuntimeError(f"validator {self.name}: {s.shape} scores for {len(batch)} samples")
        ok = self.passes(s)
        return [Verdict(self.name, float(v), self.threshold, bool(p), None if p else self.reason(batch, i, float(v)))
                for i, (v, p) in enumerate(zip(s, ok))]

    def reason(self, batch: Batch, i: int, score: float) -> str:
        """Why sample ``i`` failed; subclasses say more where they know more."""
        op = "<" if self.higher_passes else ">"
        return f"{self.name}: {self.what or 'score'} {score:.4g} {op} {self.threshold:.4g}"

    def describe(self) -> dict[str, Any]:
        """What run.json records about this validator."""
        return {"name": self.name, "threshold": self.threshold,
                "passes_when": ">=" if self.higher_passes else "<=", "measures": self.what}
