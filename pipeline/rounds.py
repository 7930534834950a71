"""The state a run carries from round to round, kept in run.json so a resumed run replans the same.

A round's requests are a pure function of (config, reference, the ledger of earlier rounds, the
round index, the samples its plan may use); run.json records the last three before the round's first
part runs, so a rerun after a crash, or ``python -m medmint.pipeline.job --round R --part P``, gets the
very same requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medmint.config import MedmintConfig
from medmint.pipeline.acceptance import Ledger
from medmint.pipeline.parts import Part, split
from medmint.pipeline.rebalance import RoundPlan, plan_round
from medmint.pipeline.reference import Reference


@dataclass
class RunState:
    """The rounds part of run.json: ``rounds`` (finished), ``ledger`` (after them), ``planning`` (the
    round under way and its samples cap)."""

    data: dict[str, Any]

    @property
    def ledger(self) -> Ledger:
        return Ledger.from_dict(self.data.get("ledger", []))

    @property
    def rounds(self) -> list[dict[str, Any]]:
        return self.data.setdefault("rounds", [])

    @property
    def next_round(self) -> int:
        return len(self.rounds)

    @property
    def seconds(self) -> float:
        """Wall time of the finished rounds plus the part of the current one recorded so far."""
        return sum(r["seconds"] for r in self.rounds) + float(self.data.get("planning", {}).get("seconds", 0.0))

    def planned_cap(self, round_index: int) -> int | None:
        planning = self.data.get("planning")
        return int(planning["budget_left"]) if planning and planning["round"] == round_index else None


def plan(cfg: MedmintConfig, reference: Reference, ledger: Ledger, round_index: int, budget_left: int) -> RoundPlan:
    return plan_round(cfg, reference, round_index=round_index, accepted_counts=ledger.accepted,
                      total_accepted=ledger.n_accepted, acceptance=ledger.acceptance(), budget_left=budget_left)


def round_parts(cfg: MedmintConfig, reference: Reference, state: RunState, round_index: int) -> list[Part]:
    """The parts of a round already planned in ``state`` (the job's standalone entry point uses it)."""
    cap = state.planned_cap(round_index)
    if cap is None or round_index != state.next_round:
        raise ValueError(f"round {round_index}: not the round under way in run.json (next is {state.next_round})")
    return split(plan(cfg, reference, state.ledger, round_index, cap).requests, round_index, cfg.output.shard_rows)
