"""The rebalancer: from a target, a reference and what was accepted so far, the next round's requests.

Pure math and numpy (no Beam, no torch): the rounds loop calls it between Beam jobs, and its tests
run it against a fake validator in a second. Vocabulary:

- a finding "has" a sample when the sample's requested label is positive (1);
- ``Goal``: the target resolved against the reference: samples wanted per finding, the caps the
  planner steers under (``uniform`` / ``counts``), the tolerance and the surplus allowed;
- ``Acceptance`` (``pipeline/acceptance.py``): the predicted rate of each combination, learnt from the
  rounds so far (a prior stands in for round 0);
- ``plan_round``: requests whose *expected accepted* counts close every finding's deficit
  (deficit / acceptance rate), drawn from reference combinations that contain the finding (so
  rare findings keep realistic companions), then reference draws for the rest of ``total``.

Caps on over-planning, stated once: a round plans at most ``budget_left`` requests, and no more
than ``total - accepted + surplus left`` accepted samples (``target.max_surplus``) even if
acceptance runs ``SURPLUS_SIGMAS`` standard deviations above the expected (binomial, per request);
when either cap stops it early, ``RoundPlan.limited_by`` says which and the next round goes on from
there; ``final_shortfall`` explains what was missed once the loop stops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from medmint.config import ConfigError, MedmintConfig, TargetConfig, share_count
from medmint.pipeline.acceptance import RATE_FLOOR, Acceptance
from medmint.pipeline.reference import Reference
from medmint.records import CHEXPERT_LABELS, LabelValue, SampleRequest, sample_id_for, seed_for

SURPLUS_SIGMAS = 2.0  # surplus and per-finding caps hold for accepted = expected + this many std deviations
LOW_RATE = 0.5  # a finding accepted at under half the overall rate is "acceptance too low"
DRAW_TRIES = 16  # reference draws tried per request to avoid findings already at their cap
PLAN_STREAM = 0x504C414E  # separates the planner's random stream from the samples' own

_INDEX = {label: i for i, label in enumerate(CHEXPERT_LABELS)}


# ----------------------------------------------------------------------------------------------
# Goal and assessment
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FindingStatus:
    wanted: int
    have: int
    met: bool  # have >= wanted - tolerance
    shortfall: int  # wanted - have, at least 0 (before the tolerance)
    cap: int | None = None  # most samples allowed (uniform / counts), else None
    over: bool = False  # have > cap: companions of other findings overshot it

    def to_dict(self) -> dict[str, int | bool | None]:
        return {"wanted": self.wanted, "have": self.have, "met": self.met, "shortfall": self.shortfall,
                "cap": self.cap, "over": self.over}


@dataclass(frozen=True)
class Assessment:
    """Where the accepted corpus stands against the goal; ``done`` decides stopping."""

    findings: dict[str, FindingStatus]
    total_wanted: int
    total_have: int
    surplus_allowed: int

    @property
    def total_met(self) -> bool:
        return self.total_have >= self.total_wanted

    @property
    def done(self) -> bool:
        return self.total_met and all(s.met for s in self.findings.values())

    @property
    def surplus(self) -> int:
        return max(0, self.total_have - self.total_wanted)

    def to_dict(self) -> dict[str, object]:
        return {"total": {"wanted": self.total_wanted, "have": self.total_have, "met": self.total_met,
                          "surplus": self.surplus, "surplus_allowed": self.surplus_allowed},
                "findings": {f: s.to_dict() for f, s in self.findings.items()}, "done": self.done}


@dataclass(frozen=True)
class Goal:
    """A target resolved to sample counts (``raise_rare`` needs the reference prevalence)."""

    total: int
    wanted: dict[str, int]
    caps: dict[str, int]
    tolerance: int
    surplus: int

    @classmethod
    def of(cls, target: TargetConfig, prevalence: Mapping[str, float] | None = None) -> Goal:
        wanted = target.balance.minimums(target.total)
        if target.balance.mode == "raise_rare":
            if prevalence is None:
                raise ValueError("mode 'raise_rare' needs the reference prevalence")
            wanted = {f: max(n, share_count(prevalence.get(f, 0.0), target.total)) for f, n in wanted.items()}
        tol = target.tolerance_count
        caps = {f: n + tol for f, n in wanted.items()} if target.balance.exact else {}
        return cls(target.total, wanted, caps, tol, target.surplus_count)

    def assess(self, accepted_counts: Mapping[str, int], total_accepted: int) -> Assessment:
        statuses = {}
        for f, n in self.wanted.items():
            have = int(accepted_counts.get(f, 0))
            cap = self.caps.get(f)
            statuses[f] = FindingStatus(n, have, have >= n - self.tolerance, max(0, n - have), cap,
                                        cap is not None and have > cap)
        return Assessment(statuses, self.total, int(total_accepted), self.surplus)


def assess(target: TargetConfig, accepted_counts: Mapping[str, int], total_accepted: int,
           prevalence: Mapping[str, float] | None = None) -> Assessment:
    """Per finding: wanted, have, met (within the tolerance), shortfall; and whether to stop."""
    return Goal.of(target, prevalence).assess(accepted_counts, total_accepted)


def check_reference(goal: Goal, reference: Reference) -> None:
    """Fail before any work when a wanted finding never occurs in the reference (nothing to draw)."""
    present = reference.positives.any(axis=0)
    for f, n in goal.wanted.items():
        if n > 0 and not present[_INDEX[f]]:
            raise ConfigError(f"target.balance: {f!r} is never positive in the reference "
                              f"({reference.source}), so no request can carry it; "
                              f"use another target.reference or drop it")


# ----------------------------------------------------------------------------------------------
# Planning
# ----------------------------------------------------------------------------------------------


def request_for(
    cfg: MedmintConfig, round_index: int, index: int, findings: Mapping[str, LabelValue]
) -> SampleRequest:
    """One request; view, sex and age come from the sample's own seed, so they depend on its id only."""
    sample_id = sample_id_for(cfg.seed, round_index, index)
    seed = seed_for(sample_id)
    rng = np.random.default_rng(seed)
    views = sorted(cfg.target.views)
    weights = np.array([cfg.target.views[v] for v in views], dtype=float)
    return SampleRequest(
        sample_id=sample_id,
        seed=seed,
        task=cfg.target.task,
        findings={k: v for k, v in findings.items() if k in cfg.labels},
        view=str(rng.choice(views, p=weights / weights.sum())),
        sex="F" if rng.random() < 0.5 else "M",
        age=int(np.clip(rng.normal(62, 16), 18, 95)),
        round=round_index,
        index=index,
    )


@dataclass(frozen=True)
class RoundPlan:
    requests: list[SampleRequest]
    expected: dict[str, float]  # expected accepted positives per label from this round's requests
    expected_total: float
    limited_by: str | None  # "budget" or "surplus" when a cap stopped the plan short, else None


class _Draws:
    """Weighted draws of reference combinations, steering clear of labels already at their cap."""

    def __init__(self, reference: Reference, rng: np.random.Generator) -> None:
        self.positives = reference.positives
        self.counts = reference.counts
        self.rng = rng
        self.pools: dict[int | None, tuple[np.ndarray, np.ndarray]] = {}

    def _pool(self, label: int | None) -> tuple[np.ndarray, np.ndarray]:
        if label not in self.pools:
            idx = np.arange(len(self.counts)) if label is None else np.flatnonzero(self.positives[:, label])
            self.pools[label] = (idx, np.cumsum(self.counts[idx]))
        return self.pools[label]

    def draw(self, label: int | None, blocked: np.ndarray) -> int:
        """A combination (containing ``label`` when given); among ``DRAW_TRIES`` draws the first that
        avoids every blocked label, else the one touching the fewest."""
        idx, cdf = self._pool(label)
        best, best_hits = -1, math.inf
        for _ in range(DRAW_TRIES):
            i = int(idx[np.searchsorted(cdf, self.rng.random() * cdf[-1], side="right")])
            hits = int((self.positives[i] & blocked).sum())
            if hits == 0:
                return i
            if hits < best_hits:
                best, best_hits = i, hits
        return best


def plan_round(
    cfg: MedmintConfig,
    reference: Reference,
    *,
    round_index: int = 0,
    accepted_counts: Mapping[str, int] | None = None,
    total_accepted: int = 0,
    acceptance: Acceptance | None = None,
    budget_left: int | None = None,
) -> RoundPlan:
    """The requests of one round; the same inputs always give the same requests (ids, seeds, labels).

    ``accepted_counts``: accepted samples positive for each label so far; ``acceptance``: rates seen
    so far (default: the 1.0 prior); ``budget_left``: samples the budget still allows (default the
    whole budget, ``target.max_samples``).
    """
    target = cfg.target
    goal = Goal.of(target, reference.prevalence())
    check_reference(goal, reference)
    accepted_counts = accepted_counts or {}
    unknown = sorted(set(accepted_counts) - set(CHEXPERT_LABELS))
    if unknown:
        raise ValueError(f"accepted_counts: unknown label {unknown[0]!r}")
    acceptance = acceptance or Acceptance()
    n_limit = target.max_samples if budget_left is None else max(0, budget_left)

    pos = reference.positives
    rates = acceptance.combo_rates(pos)
    weighted = reference.counts * rates
    share = (pos * weighted[:, None]).sum(axis=0) / weighted.sum()  # label shares among accepted draws
    have = np.array([accepted_counts.get(label, 0) for label in CHEXPERT_LABELS], dtype=float)
    wanted = np.zeros(len(CHEXPERT_LABELS))
    cap = np.full(len(CHEXPERT_LABELS), np.inf)
    for f, n in goal.wanted.items():
        wanted[_INDEX[f]] = n
    for f, n in goal.caps.items():
        cap[_INDEX[f]] = n
    remaining = max(0, goal.total - total_accepted)
    room = remaining + max(0, goal.surplus - max(0, total_accepted - goal.total))
    targets = np.array(sorted(_INDEX[f] for f, n in goal.wanted.items() if n > 0), dtype=int)

    draws = _Draws(reference, np.random.default_rng([cfg.seed, round_index, PLAN_STREAM]))
    chosen: list[int] = []
    expected = np.zeros(len(CHEXPERT_LABELS))
    planned_total = variance = 0.0
    spread = np.zeros(len(CHEXPERT_LABELS))  # variance of each label's accepted count from this plan
    carrying = np.zeros(len(CHEXPERT_LABELS))  # planned requests with each label: its most accepted
    limited_by: str | None = None

    def capped() -> np.ndarray:
        """Labels that one more request could push over their cap (``SURPLUS_SIGMAS`` deviations up,
        but never more than every planned request with the label accepted)."""
        return have + np.minimum(carrying, expected + SURPLUS_SIGMAS * np.sqrt(spread)) + 1 > cap

    def add(label: int | None) -> bool:
        """Plan one more request (containing ``label`` if given); False when a cap says stop."""
        nonlocal planned_total, variance, limited_by
        if len(chosen) >= n_limit:
            limited_by = "budget"
            return False
        blocked = capped()
        if label is not None:
            blocked[label] = False
        i = draws.draw(label, blocked)
        r = rates[i]
        if min(len(chosen) + 1, planned_total + r + SURPLUS_SIGMAS * math.sqrt(variance + r * (1 - r))) > room:
            limited_by = "surplus"
            return False
        chosen.append(i)
        carrying[:] += pos[i]
        expected[:] += pos[i] * r
        spread[:] += pos[i] * r * (1 - r)
        planned_total += r
        variance += r * (1 - r)
        return True

    # Deficits: the finding missing the largest share of its count (after what is accepted, planned,
    # and expected from the reference draws that will fill the rest of ``total``) gets the next
    # request, so rare findings' companions cover common ones before those ask for their own, and a
    # cut by the budget or the surplus cap leaves every deficit closed by about the same share. A
    # capped finding waits for the next round rather than risk its cap.
    while targets.size:
        gap = wanted - have - expected - share * max(0.0, remaining - planned_total)
        missing = np.where(capped(), 0.0, gap)[targets] / wanted[targets]
        if missing.max() <= 0 or not add(int(targets[np.argmax(missing)])):
            break
    # The rest of ``total``, as the reference is. While some finding is still unmet, approached from
    # below (what acceptance may bring above the expected waits for the next round), so the surplus
    # stays free for that finding's top-ups.
    unmet = any(have[i] < wanted[i] - goal.tolerance for i in targets)
    sigmas = SURPLUS_SIGMAS if unmet else 0.0
    while limited_by is None and planned_total + sigmas * math.sqrt(variance) < remaining:
        add(None)

    requests = [request_for(cfg, round_index, index, reference.findings(i)) for index, i in enumerate(chosen)]
    return RoundPlan(requests, {label: float(e) for label, e in zip(CHEXPERT_LABELS, expected)},
                     float(planned_total), limited_by)


# ----------------------------------------------------------------------------------------------
# Explaining what was missed
# ----------------------------------------------------------------------------------------------


def final_shortfall(
    assessment: Assessment,
    acceptance: Acceptance,
    *,
    budget_left: int,
    hours_spent: bool = False,
    limited_by: str | None = None,
) -> list[str]:
    """One line per missed target, with why: budget or hours spent, acceptance too low for the
    finding, the surplus cap, or a cap overshot by other findings' companions. Empty when all is met."""
    lines = []
    why_stopped = []
    if hours_spent:
        why_stopped.append("the hours budget is spent")
    if budget_left <= 0:
        why_stopped.append("the samples budget is spent")
    if limited_by == "surplus":
        why_stopped.append("closing it would exceed target.max_surplus")
    if not assessment.total_met:
        short = assessment.total_wanted - assessment.total_have
        need = math.ceil(short / max(RATE_FLOOR, acceptance.overall))
        reasons = why_stopped or ["stopped early"]
        lines.append(f"total: {assessment.total_have} of {assessment.total_wanted} accepted (short {short}, "
                     f"~{need} more samples at {acceptance.overall:.0%} acceptance): {'; '.join(reasons)}")
    for f, s in assessment.findings.items():
        if s.over:
            lines.append(f"{f}: {s.have}, above the wanted {s.wanted} + tolerance (cap {s.cap}): "
                         f"overshot by other findings' companions or acceptance above the expected")
        if s.met:
            continue
        rate = acceptance.rate(f)
        need = math.ceil(s.shortfall / rate)
        reasons = list(why_stopped)
        if budget_left > 0 and need > budget_left:
            reasons.append(f"~{need} samples needed but {budget_left} left in the budget")
        if rate < LOW_RATE * acceptance.overall or rate <= RATE_FLOOR:
            reasons.append(f"acceptance too low for {f}: {rate:.0%} of its requests accepted "
                           f"(overall {acceptance.overall:.0%})")
        lines.append(f"{f}: {s.have} of {s.wanted} wanted (short {s.shortfall}, ~{need} more samples at "
                     f"{rate:.0%} acceptance): {'; '.join(reasons or ['stopped early'])}")
    return lines
