"""The rebalancing planner on its own: targets, references, rounds, stopping and shortfall reasons.

The rounds loop here is the job's loop with Beam replaced by a fake validator: a request is accepted
with a probability set by the findings it carries (rare findings pass less often, as with a real
model), drawn from the request's own seed so every run is the same.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from medmint.config import ConfigError, MedmintConfig, load_config
from medmint.pipeline.acceptance import Acceptance, Ledger, positives_of
from medmint.pipeline.planning import plan_requests
from medmint.pipeline.rebalance import (
    Assessment, Goal, RoundPlan, assess, final_shortfall, plan_round, request_for,
)
from medmint.pipeline.reference import (
    Reference, checkpoint_reference, load_reference, manifest_reference, phantom_reference,
)
from medmint.records import CHEXPERT_LABELS, DRAWABLE_FINDINGS, SampleRequest

# Per-finding acceptance of the fake validator: a request passes with the product over its positives.
HARD = {"Pneumothorax": 0.55, "Fracture": 0.7, "Lung Lesion": 0.75}
EASY, BASE = 0.97, 0.95
DEMO = {"mode": "at_least", "prevalence": 0.15}
DEMO_TOTAL, DEMO_BUDGET = 400, 2000


def cfg_for(balance: dict[str, Any], *, total: int = DEMO_TOTAL, budget: int | None = DEMO_BUDGET,
            seed: int = 11, **target: Any) -> MedmintConfig:
    budget_cfg = {"samples": budget} if budget else {}
    target = {"total": total, "balance": balance, "budget": budget_cfg, "reference": "phantom", **target}
    return MedmintConfig.model_validate({"seed": seed, "target": target})


def pass_rate(request: SampleRequest, hard: dict[str, float] = HARD) -> float:
    p = BASE
    for label in positives_of(request.findings):
        p *= hard.get(label, EASY)
    return p


def fake_validator(hard: dict[str, float] = HARD) -> Callable[[SampleRequest], bool]:
    return lambda req: bool(np.random.default_rng(req.seed).random() < pass_rate(req, hard))


@dataclass
class Run:
    ledger: Ledger
    plans: list[RoundPlan]
    used: int
    assessment: Assessment

    def shortfall(self, cfg: MedmintConfig) -> list[str]:
        last = self.plans[-1].limited_by if self.plans else None
        return final_shortfall(self.assessment, self.ledger.acceptance(),
                               budget_left=cfg.target.max_samples - self.used, limited_by=last)


def run_rounds(cfg: MedmintConfig, reference: Reference, accepts: Callable[[SampleRequest], bool],
               max_rounds: int = 12) -> Run:
    """The job's loop: assess, plan from the deficit and the rates seen, generate, validate, repeat."""
    goal = Goal.of(cfg.target, reference.prevalence())
    ledger, plans, used = Ledger(), [], 0
    for round_index in range(max_rounds):
        if goal.assess(ledger.accepted, ledger.n_accepted).done:
            break
        plan = plan_round(cfg, reference, round_index=round_index, accepted_counts=ledger.accepted,
                          total_accepted=ledger.n_accepted, acceptance=ledger.acceptance(),
                          budget_left=cfg.target.max_samples - used)
        plans.append(plan)
        if not plan.requests:
            break
        for req in plan.requests:
            ledger.record(req.findings, accepts(req))
        used += len(plan.requests)
    return Run(ledger, plans, used, goal.assess(ledger.accepted, ledger.n_accepted))


@pytest.fixture(scope="module")
def phantom() -> Reference:
    return phantom_reference()


# ----------------------------------------------------------------------------------------------
# The demo, and the other modes
# ----------------------------------------------------------------------------------------------


def test_demo_every_drawable_finding_reaches_15_percent_from_a_4_percent_pneumothorax_reference(phantom):
    cfg = cfg_for(DEMO)
    before = phantom.prevalence()
    assert 0.03 < before["Pneumothorax"] < 0.05  # the reference: pneumothorax ~4 %
    run = run_rounds(cfg, phantom, fake_validator())
    a = run.assessment
    assert a.done, run.shortfall(cfg)
    tol = cfg.target.tolerance_count
    assert set(a.findings) == set(DRAWABLE_FINDINGS)
    for finding, status in a.findings.items():
        assert status.wanted == 60 and status.have >= status.wanted - tol, (finding, status)
    assert DEMO_TOTAL <= a.total_have <= DEMO_TOTAL + cfg.target.surplus_count
    assert run.used <= DEMO_BUDGET and len(run.plans) > 1  # rare findings failed more, later rounds topped up
    # rebalanced, not just sampled: every finding rarer than 15 % in the reference is raised to it
    after = {f: s.have / a.total_have for f, s in a.findings.items()}
    assert all(after[f] >= 0.15 - tol / DEMO_TOTAL for f in DRAWABLE_FINDINGS if before[f] < 0.15)


@pytest.mark.parametrize("balance", [
    {"mode": "counts",
     "counts": {"Pneumothorax": 80, "Fracture": 40, "Support Devices": 100, "Cardiomegaly": 50}},
    {"mode": "uniform", "findings": ["Pneumothorax", "Fracture", "Lung Lesion", "Edema"], "prevalence": 0.12},
])
def test_exact_modes_hit_each_count_within_tolerance_from_both_sides(phantom, balance):
    cfg = cfg_for(balance)
    run = run_rounds(cfg, phantom, fake_validator())
    a = run.assessment
    assert a.done, run.shortfall(cfg)
    tol = cfg.target.tolerance_count
    for finding, status in a.findings.items():
        assert abs(status.have - status.wanted) <= tol and not status.over, (finding, status)
    assert a.surplus <= cfg.target.surplus_count


def test_raise_rare_keeps_common_findings_at_their_reference_share(phantom):
    cfg = cfg_for({"mode": "raise_rare", "prevalence": 0.1})
    goal = Goal.of(cfg.target, phantom.prevalence())
    assert goal.wanted["Pneumothorax"] == 40 and goal.wanted["Support Devices"] > 100  # 27 % of 400
    run = run_rounds(cfg, phantom, fake_validator())
    assert run.assessment.done, run.shortfall(cfg)
    assert run.assessment.surplus <= cfg.target.surplus_count


def test_no_balance_plans_total_requests_drawn_from_the_reference(phantom):
    cfg = cfg_for({"mode": "none"}, total=3000, budget=None)
    plan = plan_round(cfg, phantom)
    assert len(plan.requests) == 3000 and plan.limited_by is None
    share = np.mean([r.findings["Pneumothorax"] == 1 for r in plan.requests])
    assert abs(share - phantom.prevalence()["Pneumothorax"]) < 0.015


def test_rare_findings_come_with_their_reference_companions(phantom):
    plan = plan_round(cfg_for(DEMO, total=2000, budget=None), phantom)
    known = {tuple(row) for row in phantom.values.tolist()}
    none = -9
    for req in plan.requests:  # every request is a whole reference combination, never an invented one
        assert tuple(none if req.findings[k] is None else req.findings[k] for k in CHEXPERT_LABELS) in known
    ptx = CHEXPERT_LABELS.index("Pneumothorax")
    devices = CHEXPERT_LABELS.index("Support Devices")
    with_ptx = phantom.positives[:, ptx]
    companions = phantom.counts * phantom.positives[:, devices]
    in_reference = companions[with_ptx].sum() / phantom.counts[with_ptx].sum()
    planned = [r for r in plan.requests if r.findings["Pneumothorax"] == 1]
    in_plan = np.mean([r.findings["Support Devices"] == 1 for r in planned])
    assert len(planned) >= 300 and abs(in_plan - in_reference) < 0.1  # drawn as the reference pairs them


# ----------------------------------------------------------------------------------------------
# Determinism and the single-round entry point
# ----------------------------------------------------------------------------------------------


def test_same_inputs_same_requests_and_demographics_follow_the_sample_id(phantom):
    cfg = cfg_for(DEMO)
    ledger = Ledger()
    for req in plan_round(cfg, phantom).requests[:150]:
        ledger.record(req.findings, fake_validator()(req))
    kwargs = dict(round_index=1, accepted_counts=ledger.accepted, total_accepted=ledger.n_accepted,
                  acceptance=ledger.acceptance(), budget_left=900)
    first, again = plan_round(cfg, phantom, **kwargs), plan_round(cfg, phantom, **kwargs)
    assert first.requests == again.requests and len(first.requests) > 100
    assert len({r.sample_id for r in first.requests}) == len(first.requests)
    assert all(r.round == 1 and r.sample_id.startswith("s01-") for r in first.requests)
    other_seed = plan_round(cfg_for(DEMO, seed=12), phantom, **kwargs)
    assert {r.sample_id for r in other_seed.requests}.isdisjoint(r.sample_id for r in first.requests)
    a = request_for(cfg, 3, 7, {"Pneumothorax": 1})
    b = request_for(cfg, 3, 7, {"No Finding": 1})
    assert (a.sample_id, a.seed, a.view, a.sex, a.age) == (b.sample_id, b.seed, b.view, b.sex, b.age)


def test_plan_requests_is_round_zero_of_the_planner_and_slices_it():
    cfg = cfg_for({"mode": "none"}, total=40)
    everything = plan_requests(cfg)
    assert len(everything) == 40 and everything == plan_round(cfg, load_reference(cfg)).requests
    assert plan_requests(cfg, 0, 5, 3) == everything[3:8]
    assert [r.index for r in everything] == list(range(40))


# ----------------------------------------------------------------------------------------------
# Budgets and shortfall reasons
# ----------------------------------------------------------------------------------------------


def test_budget_too_small_stops_within_it_and_says_so(phantom):
    cfg = cfg_for(DEMO, budget=450)
    run = run_rounds(cfg, phantom, fake_validator())
    assert run.used <= 450 and not run.assessment.done
    lines = run.shortfall(cfg)
    unmet = [f for f, s in run.assessment.findings.items() if not s.met]
    assert unmet and len(lines) >= len(unmet)
    for finding in unmet:
        line = next(line for line in lines if line.startswith(f"{finding}:"))
        wanted = run.assessment.findings[finding].wanted
        assert "samples budget is spent" in line and f"of {wanted} wanted" in line
    assert all("\n" not in line for line in lines)


def test_a_round_never_plans_past_the_surplus_cap_or_the_budget(phantom):
    cfg = cfg_for(DEMO)
    have = {f: 60 for f in DRAWABLE_FINDINGS} | {"Pneumothorax": 30}  # total reached, one finding short
    kwargs = dict(accepted_counts=have, total_accepted=DEMO_TOTAL, acceptance=Acceptance.prior(0.5))
    plan = plan_round(cfg, phantom, round_index=4, **kwargs)
    assert plan.limited_by == "surplus" and plan.requests
    assert all(r.findings["Pneumothorax"] == 1 for r in plan.requests)  # only the short finding is served
    spread = np.sqrt(len(plan.requests) * 0.25)
    assert plan.expected_total + 2 * spread <= cfg.target.surplus_count < plan.expected_total + 2 * spread + 1
    assert plan.expected["Pneumothorax"] < 30  # so the shortfall will say why
    lines = final_shortfall(assess(cfg.target, have, DEMO_TOTAL), Acceptance.prior(0.5), budget_left=1000,
                            limited_by=plan.limited_by)
    assert len(lines) == 1 and lines[0].startswith("Pneumothorax: 30 of 60") and "max_surplus" in lines[0]
    cut = plan_round(cfg, phantom, round_index=4, budget_left=5, **kwargs)
    assert len(cut.requests) == 5 and cut.limited_by == "budget" and cut.requests == plan.requests[:5]


def test_the_last_samples_are_planned_even_when_no_surplus_is_allowed(phantom):
    cfg = cfg_for({"mode": "none"}, total=8, budget=None)  # 5 % of 8: no surplus at all
    assert cfg.target.surplus_count == 0
    plan = plan_round(cfg, phantom, round_index=1, total_accepted=7, acceptance=Acceptance.prior(0.5))
    assert len(plan.requests) == 1 and plan.limited_by == "surplus"  # one request can add at most one
    assert not plan_round(cfg, phantom, round_index=1, total_accepted=8, acceptance=Acceptance.prior(0.5)).requests


def test_a_finding_the_validators_keep_rejecting_is_named_with_its_rate(phantom):
    cfg = cfg_for(DEMO, budget=1500)
    run = run_rounds(cfg, phantom, fake_validator({**HARD, "Pneumothorax": 0.04}))
    status = run.assessment.findings["Pneumothorax"]
    assert not status.met and run.used <= 1500
    line = next(line for line in run.shortfall(cfg) if line.startswith("Pneumothorax:"))
    rate = run.ledger.acceptance().rate("Pneumothorax")
    assert "acceptance too low for Pneumothorax" in line and f"{rate:.0%}" in line
    others = [s for f, s in run.assessment.findings.items() if f not in ("Pneumothorax",) and not s.met]
    assert len(others) < len(DRAWABLE_FINDINGS) - 1  # the others were still served


def test_assess_tolerance_and_caps():
    cfg = cfg_for({"mode": "counts", "counts": {"Pneumothorax": 50, "Fracture": 20}}, tolerance=3)
    a = assess(cfg.target, {"Pneumothorax": 47, "Fracture": 24}, 400)
    assert a.findings["Pneumothorax"].met and a.findings["Pneumothorax"].shortfall == 3
    assert a.findings["Fracture"].over and a.findings["Fracture"].cap == 23 and a.done
    assert not assess(cfg.target, {"Pneumothorax": 46, "Fracture": 20}, 400).done
    assert not assess(cfg.target, {"Pneumothorax": 50, "Fracture": 20}, 399).done
    assert "shortfall" in json.dumps(a.to_dict())


# ----------------------------------------------------------------------------------------------
# Acceptance estimates
# ----------------------------------------------------------------------------------------------


def test_acceptance_fit_separates_a_findings_own_effect_from_its_companions(phantom):
    rng = np.random.default_rng(5)
    draws = rng.choice(len(phantom.counts), size=30000, p=phantom.counts / phantom.counts.sum())
    ledger = Ledger()
    for i in draws:
        findings = phantom.findings(int(i))
        req = SampleRequest("x", int(rng.integers(2**62)), "joint", findings, "PA", "F", 60)
        ledger.record(findings, bool(rng.random() < pass_rate(req)))
    acc = ledger.acceptance()
    assert abs(acc.lift["Pneumothorax"] / acc.lift["Cardiomegaly"] - HARD["Pneumothorax"] / EASY) < 0.08
    truth = np.array([pass_rate(SampleRequest("x", 0, "joint", phantom.findings(i), "PA", "F", 60))
                      for i in range(len(phantom.counts))])
    ptx = phantom.positives[:, CHEXPERT_LABELS.index("Pneumothorax")]
    w = phantom.counts * ptx
    assert abs((acc.combo_rates(phantom.positives) * w).sum() / w.sum() - (truth * w).sum() / w.sum()) < 0.03
    assert Ledger.from_dict(json.loads(json.dumps(ledger.to_dict()))).groups == ledger.groups


def test_no_requests_yet_means_the_prior():
    acc = Ledger().acceptance(prior=0.8)
    assert acc == Acceptance.prior(0.8)
    assert np.allclose(acc.combo_rates(np.eye(len(CHEXPERT_LABELS), dtype=bool)), 0.8)


# ----------------------------------------------------------------------------------------------
# References
# ----------------------------------------------------------------------------------------------


def test_manifest_reference_counts_distinct_combinations(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("study_id,Pneumothorax,support_devices,Edema\n1,1,1,\n2,1,1,\n3,0,,-1\n4,,,\n")
    ref = manifest_reference(path)
    assert ref.studies == 4 and len(ref.counts) == 3
    prev = ref.prevalence()
    assert prev["Pneumothorax"] == 0.5 and prev["Support Devices"] == 0.5 and prev["Edema"] == 0.0
    row = ref.findings(int(np.argmax(ref.counts)))
    assert row["Pneumothorax"] == 1 and row["Support Devices"] == 1 and row["Cardiomegaly"] is None
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"Pneumothorax": [1.0, 1.0, 0.0, None], "support_devices": [1, 1, None, None],
                      "Edema": [None, None, -1.0, None]})
    pq.write_table(table, tmp_path / "labels.parquet")
    same = manifest_reference(tmp_path / "labels.parquet")
    assert np.array_equal(same.values, ref.values) and np.array_equal(same.counts, ref.counts)


def test_manifest_problems_are_one_line_naming_file_and_row(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("Pneumothorax,Edema\n1,0\n2,0\n")
    with pytest.raises(ConfigError, match=r"target.reference: .*bad.csv: row 2.*'Pneumothorax'"):
        manifest_reference(bad)
    unlabeled = tmp_path / "none.csv"
    unlabeled.write_text("a,b\n1,2\n")
    with pytest.raises(ConfigError, match="no CheXpert label columns"):
        manifest_reference(unlabeled)


def test_a_wanted_finding_missing_from_the_reference_fails_before_planning(tmp_path):
    path = tmp_path / "ref.csv"
    path.write_text("Pneumothorax,Fracture\n1,0\n0,0\n")
    cfg = cfg_for({"mode": "at_least", "prevalence": 0.1, "findings": ["Pneumothorax", "Fracture"]},
                  reference=str(path))
    with pytest.raises(ConfigError, match=r"'Fracture' is never positive in the reference \(manifest"):
        plan_round(cfg, load_reference(cfg))


def test_checkpoint_combinations_are_the_reference(tmp_path):
    summary = {"prevalence": {}, "combinations": [{"labels": ["Pneumothorax", "Support Devices"], "count": 3},
                                                  {"labels": [], "count": 7}]}
    (tmp_path / "medmint.json").write_text(json.dumps({"data_summary": summary}))
    ref = checkpoint_reference(tmp_path)
    assert ref.fallback is None and ref.studies == 10
    assert ref.prevalence()["Pneumothorax"] == 0.3 and ref.prevalence()["No Finding"] == 0.7
    summary["combinations"].append({"labels": ["Pneumothorx"], "count": 1})
    (tmp_path / "medmint.json").write_text(json.dumps({"data_summary": summary}))
    with pytest.raises(ConfigError, match=r"combinations\[2\]: unknown label 'Pneumothorx'"):
        checkpoint_reference(tmp_path)


def test_checkpoint_without_combinations_falls_back_to_the_phantom_and_says_why(tmp_path, caplog, phantom):
    (tmp_path / "medmint.json").write_text(json.dumps({"data_summary": {"prevalence": {"Edema": 0.1}}}))
    with caplog.at_level(logging.WARNING, logger="medmint.pipeline.reference"):
        ref = checkpoint_reference(tmp_path)
    assert ref.fallback and "no data_summary.combinations" in ref.fallback and ref.fallback in caplog.text
    assert np.array_equal(ref.counts, phantom.counts)
    with pytest.raises(ConfigError, match="no such file"):
        checkpoint_reference(tmp_path / "missing")


# ----------------------------------------------------------------------------------------------
# Impossible targets: one line, before any work
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target, expected", [
    ("{total: 400, balance: {mode: at_least, prevalence: 1.5}}",
     "'target.balance.prevalence': a prevalence is a share"),
    ("{total: 400, balance: {mode: counts, counts: {Pneumothorx: 5}}}",
     "unknown finding 'Pneumothorx' (did you mean 'Pneumothorax'?)"),
    ("{total: 400, balance: {mode: at_least, prevalence: 0.2, findings: [Tumor]}}",
     "unknown finding 'Tumor'"),
    ("{total: 400, balance: {mode: counts, counts: {Pneumothorax: 500}}}",
     "balance.counts['Pneumothorax'] = 500 is more than total = 400"),
    ("{total: 400, balance: {mode: at_least, prevalence: 0.5}, budget: {samples: 150}}",
     "Cardiomegaly needs at least 200 accepted samples but budget.samples is 150"),
    ("{total: 400, budget: {samples: 300}}",
     "total = 400 needs at least that many generated samples but budget.samples is 300"),
    ("{total: 400, budget: {samples: 0}}", "'target.budget.samples': a budget of zero"),
    ("{total: 400, budget: {hours: 0}}", "'target.budget.hours': a budget of zero"),
    ("{total: 400, balance: {mode: at_least, prevalence: 0.6, findings: [No Finding, Edema]}}",
     "'No Finding' excludes every other finding, so No Finding 240 + Edema 240 cannot fit in total = 400"),
    ("{total: 400, balance: {mode: at_least}}", "mode 'at_least' needs a prevalence"),
    ("{total: 400, balance: {mode: none, counts: {Edema: 3}}}", "counts are only used by mode 'counts'"),
    ("{total: 400, tolerance: 4.0}", "'target.tolerance': a share of total must be below 1"),
    ("{total: 400, reference: checkpoint}",
     "target.reference is 'checkpoint' but generator.checkpoint is not set"),
])
def test_impossible_or_malformed_targets_fail_in_one_line(tmp_path, target, expected):
    path = tmp_path / "run.yaml"
    path.write_text(f"generator: {{name: phantom}}\ntarget: {target}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(str(path)) and expected in message and "\n" not in message


def test_a_typo_in_the_reference_is_named(tmp_path):
    cfg = cfg_for(DEMO, reference=str(tmp_path / "phantm"))
    with pytest.raises(ConfigError, match="target.reference: .*phantm' is not auto, checkpoint, phantom"):
        load_reference(cfg)


def test_budget_default_and_tolerance_units():
    cfg = cfg_for(DEMO, budget=None, tolerance=0.02)
    assert cfg.target.max_samples == 10 * DEMO_TOTAL and cfg.target.tolerance_count == 8
    assert cfg_for(DEMO, tolerance=5).target.tolerance_count == 5
    assert cfg.target.surplus_count == 20
    demo_yaml = Path(__file__).resolve().parents[2] / "configs" / "demo-phantom.yaml"
    assert load_config(demo_yaml).target.balance.mode == "none"  # old configs keep meaning what they meant


def test_a_round_with_no_acceptance_does_not_make_the_next_overshoot(phantom):
    """0 of 8 accepted once read as the 2 % floor, and the next round's 201 requests gave 22 of 8 at the
    true 11 %: the estimate now stays at the shrunk overall share for the requests seen."""
    cfg = cfg_for({"mode": "none"}, total=8, seed=0)
    ledger = Ledger()
    for req in plan_round(cfg, phantom, round_index=0, accepted_counts={}, total_accepted=0,
                          acceptance=ledger.acceptance(), budget_left=1000).requests:
        ledger.record(req.findings, False)
    acc = ledger.acceptance()
    assert acc.overall == pytest.approx(4 / 12)
    seen = np.array([[label in key for label in CHEXPERT_LABELS] for key in ledger.groups], bool)
    weights = np.array([n for n, _ in ledger.groups.values()], float)
    assert acc.combo_rates(seen) @ weights / weights.sum() >= acc.overall - 1e-9  # not the 2 % floor
    run = run_rounds(cfg, phantom, lambda req: bool(np.random.default_rng(req.seed).random() < 0.1), max_rounds=40)
    assert run.assessment.done and run.ledger.n_accepted <= 8 + 1, [len(p.requests) for p in run.plans]
