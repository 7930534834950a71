"""Fitness checks of the audit verdict: each figure against its baseline, misses named, what cannot
be measured said so."""

from __future__ import annotations

from medmint.config import AuditConfig
from medmint.validators.fitness import (NOT_MEASURED, PASS, fidelity_checks, label_agreement_check,
                                        prevalence_checks, target_check, verdict)

CFG = AuditConfig()


def _images(fd: float, precision: float, recall: float) -> dict:
    return {"computed": True, "frechet_distance": fd, "precision": precision, "recall": recall,
            "baseline": {"frechet_distance": 166.0, "precision": 1.0, "recall": 0.965}}


def test_fidelity_reads_each_figure_against_the_real_vs_real_baseline() -> None:
    # the demo run of issue 15: FD 785 vs 166, recall 0.58 vs 0.965
    checks = {c.name: c for c in fidelity_checks(_images(785.0, 0.94, 0.58), CFG)}
    assert checks["fidelity:frechet_ratio"].status == "warn" and "4.7 x" in checks["fidelity:frechet_ratio"].why
    assert checks["fidelity:precision"].status == PASS
    assert checks["fidelity:recall"].status == "warn"
    good = fidelity_checks(_images(250.0, 0.97, 0.9), CFG)
    assert all(c.status == PASS for c in good), good
    strict = fidelity_checks(_images(785.0, 0.94, 0.58), AuditConfig(severity="fail"))
    assert {c.status for c in strict} == {PASS, "fail"}


def test_fidelity_not_measured_says_why() -> None:
    checks = fidelity_checks({"computed": False, "why": "the run has no checkpoint"}, CFG)
    assert {c.status for c in checks} == {NOT_MEASURED}
    assert all("the run has no checkpoint" in c.why for c in checks)
    assert verdict(0, checks) == "PASS"  # nothing missed; the report lists them as not measured


def _agreement(per_label: dict, n: int) -> dict:
    return {"per_label": per_label, "n": n}


def test_label_agreement_against_the_critic_ceiling_pooled_and_per_finding() -> None:
    ceilings = {"A": 0.9, "B": 0.3}
    # A: 10 requested, 9 read, no false positives -> F1 0.95, above 0.7 x 0.9
    ok = label_agreement_check(_agreement({"A": {"support": 10, "recall": 0.9, "fpr": 0.0, "f1": 0.947}}, 40),
                               ceilings, CFG)
    assert ok.status == PASS
    # A read back half the time: F1 0.5 < 0.7 x 0.9 -> warn, named
    bad = label_agreement_check(_agreement({"A": {"support": 10, "recall": 0.4, "fpr": 0.0, "f1": 0.57},
                                            "B": {"support": 2, "recall": 0.0, "fpr": 0.0, "f1": 0.0}}, 40),
                                ceilings, CFG)
    assert bad.status == "warn" and "A F1 0.57" in bad.observed
    # a weak critic (ceiling 0.3) cannot demand much: B at 0.25 passes per finding
    weak = label_agreement_check(_agreement({"B": {"support": 8, "recall": 0.25, "fpr": 0.02, "f1": 0.25}}, 40),
                                 ceilings, CFG)
    assert weak.status == PASS, weak
    # too few requested findings to judge, and no critic at all: not measured, with why
    few = label_agreement_check(_agreement({"A": {"support": 3, "recall": 0.0, "fpr": 0.0, "f1": 0.0}}, 40),
                                ceilings, CFG)
    assert few.status == NOT_MEASURED and "3 requested findings" in few.why
    assert label_agreement_check(_agreement({}, 0), {}, CFG).status == NOT_MEASURED


def test_prevalence_gap_allows_sampling_noise_but_not_a_skew() -> None:
    asked = {"No Finding": 0.42, "X": 0.27}
    skewed = {"No Finding": 0.78, "X": 0.0}
    checks = {c.name: c for c in prevalence_checks(skewed, asked, {"No Finding": 0.37, "X": 0.27}, 32, [], CFG)}
    assert checks["prevalence:acceptance_bias"].status == "warn"
    assert "No Finding 78% vs 42%" in checks["prevalence:acceptance_bias"].why
    assert checks["prevalence:reference"].status == "warn"
    # 32 rows cannot match 0.42 to the digit: 0.50 is within the gap plus two standard errors
    close = prevalence_checks({"No Finding": 0.5, "X": 0.25}, asked, None, 32, [], CFG)
    assert [c.status for c in close] == [PASS]  # no reference check under a balance target
    # the same gap on 5000 rows is real
    assert prevalence_checks({"No Finding": 0.55, "X": 0.25}, asked, None, 5000, [], CFG)[0].status == "warn"
    # a finding the target steers is not judged against the reference
    steered = prevalence_checks({"No Finding": 0.42, "X": 0.6}, {"No Finding": 0.42, "X": 0.6},
                                {"No Finding": 0.42, "X": 0.1}, 400, ["X"], CFG)
    assert all(c.status == PASS for c in steered)


def test_targets_and_verdict() -> None:
    progress = {"X": {"wanted": 60, "have": 58, "met": True}, "Y": {"wanted": 60, "have": 40, "met": False}}
    check = target_check(progress, 4, CFG)
    assert check is not None and check.status == "warn" and "Y 40 of 60" in check.why
    assert target_check({"X": {"wanted": None}}, 4, CFG) is None
    assert verdict(0, [check]) == "WARN"
    assert verdict(1, [check]) == "FAIL"
    strict = target_check(progress, 4, AuditConfig(severity="fail"))
    assert strict is not None and verdict(0, [strict]) == "FAIL"
