"""Consistency gates: the report says what was asked for, and the image shows what the report says.

The report is read by the rule-based labeler; the image by the checkpoint's findings classifier.
Image-vs-report uses two thresholds per finding: a report-positive finding needs the critic's
probability >= ``low[f]``; a report-negative one needs it <= ``high[f]``. Calibration sets them so
held-out real studies pass, which leaves a finding the critic cannot see with vacuous bounds
(0 and 1): the calibration report says so instead of pretending to check it.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

import numpy as np

from medmint.records import CHEXPERT_LABELS
from medmint.validators.base import Batch, ValidationContext, Validator

FINDINGS13 = tuple(k for k in CHEXPERT_LABELS if k != "No Finding")  # No Finding is derived, differently


def request_mismatches(requested: Mapping[str, Any], said: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(requested positive but not stated positive, stated positive but requested negative).
    A finding the request leaves out (None / absent) may be said either way."""
    missing = [k for k in FINDINGS13 if requested.get(k) == 1 and said.get(k) != 1]
    extra = [k for k in FINDINGS13 if requested.get(k) == 0 and said.get(k) == 1]
    return missing, extra


class ReportMatchesRequest(Validator):
    """Number of findings where the report disagrees with the request (0 passes)."""

    name: ClassVar[str] = "consistency_request"
    higher_passes: ClassVar[bool] = False
    default_threshold: ClassVar[float] = 0.0
    what: ClassVar[str] = "findings where report and request disagree"

    def scores(self, batch: Batch) -> np.ndarray:
        return np.array([sum(map(len, request_mismatches(s.request.findings, said)))
                         for s, said in zip(batch.samples, batch.report_labels)], dtype=np.float64)

    def reason(self, batch: Batch, i: int, score: float) -> str:
        missing, extra = request_mismatches(batch.samples[i].request.findings, batch.report_labels[i])
        parts = ([f"requested {', '.join(missing)} not stated"] if missing else []) + (
            [f"states unrequested {', '.join(extra)}"] if extra else [])
        return f"{self.name}: report {'; '.join(parts)}"


class ImageMatchesReport(Validator):
    """Number of critic-visible findings where image and report disagree (0 passes)."""

    name: ClassVar[str] = "consistency_image_report"
    higher_passes: ClassVar[bool] = False
    default_threshold: ClassVar[float] = 0.0
    what: ClassVar[str] = "findings where image and report disagree"

    def __init__(self, context: ValidationContext | None = None, threshold: float | None = None,
                 low: Mapping[str, float] | None = None, high: Mapping[str, float] | None = None,
                 **params: Any) -> None:
        super().__init__(context, threshold, **params)
        self.low, self.high = dict(low or {}), dict(high or {})

    def _bounds(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        critic = self.context.require("critic", self.name)
        names = list(critic.labels)
        cut = np.asarray(critic.cfg.decision_thresholds, np.float64)
        # uncalibrated default: the critic's own F1-optimal decision threshold on both sides
        low = np.array([self.low.get(n, c) for n, c in zip(names, cut)])
        high = np.array([self.high.get(n, c) for n, c in zip(names, cut)])
        return names, low, high

    def disagreements(self, batch: Batch) -> list[list[str]]:
        names, low, high = self._bounds()
        probs = batch.critic_probs
        out = []
        for p, said in zip(probs, batch.report_labels):
            pos = np.array([said.get(n) == 1 for n in names])
            bad = (pos & (p < low)) | (~pos & (p > high))
            out.append([f"{n} ({'report +, image' if q else 'report -, image'} {v:.2f})"
                        for n, q, v, b in zip(names, pos, p, bad) if b])
        return out

    def scores(self, batch: Batch) -> np.ndarray:
        return np.array([len(d) for d in self.disagreements(batch)], dtype=np.float64)

    def reason(self, batch: Batch, i: int, score: float) -> str:
        return f"{self.name}: {'; '.join(self.disagreements(batch)[i])}"

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self.context.critic is not None:
            names, low, high = self._bounds()
            out["per_finding"] = {n: {"low": round(float(lo), 4), "high": round(float(hi), 4)}
                                  for n, lo, hi in zip(names, low, high)}
        return out


__all__ = ["ReportMatchesRequest", "ImageMatchesReport", "request_mismatches", "FINDINGS13"]
