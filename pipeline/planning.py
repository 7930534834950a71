"""Turn a target into sample requests with deterministic ids and seeds.

The single-round entry point: ``plan_requests`` is round ``round_index`` of the rebalancing
planner (``medmint.pipeline.rebalance.plan_round``) with nothing accepted yet and the 1.0
acceptance prior, so it asks for ``target.total`` requests when the target has no balance goal, and
for the deficit-closing mix of reference combinations when it has one.
"""

from __future__ import annotations

from medmint.config import MedmintConfig
from medmint.pipeline.rebalance import plan_round
from medmint.pipeline.reference import load_reference
from medmint.records import SampleRequest


def plan_requests(cfg: MedmintConfig, round_index: int = 0, count: int | None = None, start: int = 0) -> list[SampleRequest]:
    """Requests ``start .. start+count`` of the round's plan (all of it when ``count`` is None)."""
    requests = plan_round(cfg, load_reference(cfg), round_index=round_index).requests
    return requests[start:] if count is None else requests[start : start + count]
