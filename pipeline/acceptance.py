"""How likely a request is to pass the validators, learnt from the rounds so far.

The planner divides each finding's deficit by an acceptance rate, and caps a round by the
*expected accepted* samples it plans, so the estimate has to hold for the combinations it is about to
request, which are not the ones it saw (round 0 draws the reference as it is; later rounds draw rare
findings with their companions). Per-finding shares alone mislead there: the share of pneumothorax
requests accepted already includes the effect of the devices and fractures that came with them.
So the estimate is a log-linear model, P(accept | positives S) = base * prod_{f in S} lift_f,
fitted to the observed (combination, requested, accepted) counts by iterative proportional fitting
(each finding's predicted accepted total matches its observed one), with lifts shrunk towards 1
while a finding has few requests.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

from medmint.records import CHEXPERT_LABELS, LabelValue, SampleRequest

RATE_FLOOR = 0.02  # an estimate never drops below this (no division blow-up; the budget still caps)
SHRINK = 4.0  # pseudo-requests pulling observed shares to the one above (finding -> overall -> prior)
# Pseudo-requests pulling each fitted lift below 1 towards 1. Strong on purpose: the findings a round
# asks most of are those whose last round went worst, so raw lifts are biased low exactly where they
# are used, and over-estimating acceptance costs a top-up round while under-estimating it overshoots.
LIFT_SHRINK = 16.0
FIT_SWEEPS = 30


def positives_of(findings: Mapping[str, LabelValue]) -> tuple[str, ...]:
    """The labels positive (1) in a request's findings, in CheXpert order (a stable key)."""
    return tuple(label for label in CHEXPERT_LABELS if findings.get(label) == 1)


@dataclass(frozen=True)
class Acceptance:
    """Acceptance estimates: ``overall`` and ``per_finding`` (observed shares, for reports and the
    shortfall explanation) and the fitted ``base`` and ``lift`` that predict a combination's rate."""

    overall: float = 1.0
    per_finding: dict[str, float] = field(default_factory=dict)
    base: float = 1.0
    lift: dict[str, float] = field(default_factory=dict)

    @classmethod
    def prior(cls, rate: float = 1.0) -> Acceptance:
        """Round 0: every request expected to pass at ``rate`` (1.0, or the checkpoint's measured rate)."""
        return cls(rate, {}, rate, {})

    @classmethod
    def fit(cls, groups: Mapping[tuple[str, ...], tuple[int, int]], prior: float = 1.0) -> Acceptance:
        """From ``{positive labels: (requested, accepted)}``; with no requests yet, the prior."""
        keys = [k for k, (n, _) in groups.items() if n > 0]
        n = np.array([groups[k][0] for k in keys], dtype=float)
        a = np.array([groups[k][1] for k in keys], dtype=float)
        if not keys:
            return cls.prior(prior)
        overall = (a.sum() + SHRINK * prior) / (n.sum() + SHRINK)
        labels = sorted({f for k in keys for f in k}, key=CHEXPERT_LABELS.index)
        x = np.array([[f in k for f in labels] for k in keys], dtype=float).reshape(len(keys), len(labels))
        n_f, a_f = n @ x, a @ x
        log_base, log_lift = math.log(max(overall, RATE_FLOOR)), np.zeros(len(labels))
        for _ in range(FIT_SWEEPS):
            for j in range(len(labels)):
                p = np.minimum(1.0, np.exp(log_base + x @ log_lift))
                log_lift[j] += math.log((a_f[j] + 0.5) / ((n * p) @ x[:, j] + 0.5))
            p = np.minimum(1.0, np.exp(log_base + x @ log_lift))
            log_base += math.log((a.sum() + 0.5) / ((n * p).sum() + 0.5))
        # Shrink only the lifts that lower the rate: an estimate too low over-plans and overshoots the
        # surplus cap (which cannot be undone), one too high only costs a top-up round.
        log_lift = np.where(log_lift < 0, log_lift * n_f / (n_f + LIFT_SHRINK), log_lift)
        # Nor may the base: fitted to the raw counts it collapses to the floor after a round with few or no
        # acceptances (0 of 8 read as 2 %, and the next round overshot the surplus cap threefold), so the
        # rate it predicts for the requests seen is held at or above the shrunk overall share.
        seen = float((n * np.minimum(1.0, np.exp(log_base + x @ log_lift))).sum() / n.sum())
        if seen < overall:
            log_base += math.log(overall / seen)
        per = {f: float((a_f[j] + SHRINK * overall) / (n_f[j] + SHRINK)) for j, f in enumerate(labels)}
        lift = {f: float(math.exp(v)) for f, v in zip(labels, log_lift)}
        return cls(float(overall), per, float(math.exp(log_base)), lift)

    def rate(self, finding: str) -> float:
        """Observed share accepted of requests carrying ``finding`` (overall when none was requested)."""
        return max(RATE_FLOOR, self.per_finding.get(finding, self.overall))

    def combo_rates(self, positives: np.ndarray) -> np.ndarray:
        """Predicted rate of each combination (rows of a (n, 14) bool matrix over CHEXPERT_LABELS)."""
        log_lift = np.log([self.lift.get(label, 1.0) for label in CHEXPERT_LABELS])
        return np.clip(self.base * np.exp(positives @ log_lift), RATE_FLOOR, 1.0)


@dataclass
class Ledger:
    """Requested and accepted counts per combination of positive labels, over all rounds so far."""

    groups: dict[tuple[str, ...], tuple[int, int]] = field(default_factory=dict)

    def record(self, findings: Mapping[str, LabelValue], accepted: bool) -> None:
        key = positives_of(findings)
        n, a = self.groups.get(key, (0, 0))
        self.groups[key] = (n + 1, a + int(accepted))

    def record_all(self, requests: Iterable[SampleRequest], accepted_ids: set[str]) -> None:
        for req in requests:
            self.record(req.findings, req.sample_id in accepted_ids)

    @property
    def n_requested(self) -> int:
        return sum(n for n, _ in self.groups.values())

    @property
    def n_accepted(self) -> int:
        return sum(a for _, a in self.groups.values())

    @property
    def accepted(self) -> Counter[str]:
        """Accepted samples positive for each label: the ``accepted_counts`` the planner takes."""
        out: Counter[str] = Counter()
        for key, (_, a) in self.groups.items():
            for label in key:
                out[label] += a
        return out

    def acceptance(self, prior: float = 1.0) -> Acceptance:
        return Acceptance.fit(self.groups, prior)

    def to_dict(self) -> list[dict[str, object]]:
        """JSON for run.json: ``[{"labels": [...], "requested": n, "accepted": a}, ...]``."""
        return [{"labels": list(k), "requested": n, "accepted": a}
                for k, (n, a) in sorted(self.groups.items())]

    @classmethod
    def from_dict(cls, rows: Iterable[Mapping[str, object]]) -> Ledger:
        groups = {}
        for r in rows:
            key = positives_of(dict.fromkeys(r["labels"], 1))  # type: ignore[call-overload]
            groups[key] = (int(r["requested"]), int(r["accepted"]))  # type: ignore[call-overload]
        return cls(groups)
