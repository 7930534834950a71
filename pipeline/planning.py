"""Turn a target into sample requests with deterministic ids and seeds.

This first planner draws label combinations from the phantom's MIMIC-like reference prior
(findings keep their realistic companions); per-finding rebalancing comes with the rounds.
"""

from __future__ import annotations

import numpy as np

from medmint.config import MedmintConfig
from medmint.records import SampleRequest, sample_id_for, seed_for


def plan_requests(cfg: MedmintConfig, round_index: int = 0, count: int | None = None, start: int = 0) -> list[SampleRequest]:
    """Requests ``start .. start+count`` of a round; each depends only on (run seed, round, index)."""
    from medmint.generators.phantom import sample_labels

    views = sorted(cfg.target.views)
    weights = np.array([cfg.target.views[v] for v in views], dtype=float)
    weights /= weights.sum()
    count = cfg.target.total if count is None else count
    requests = []
    for index in range(start, start + count):
        sample_id = sample_id_for(cfg.seed, round_index, index)
        seed = seed_for(sample_id)
        rng = np.random.default_rng(seed)
        labels = sample_labels(rng)
        requests.append(
            SampleRequest(
                sample_id=sample_id,
                seed=seed,
                task=cfg.target.task,
                findings={k: v for k, v in labels.items() if k in cfg.labels},
                view=str(rng.choice(views, p=weights)),
                sex="F" if rng.random() < 0.5 else "M",
                age=int(np.clip(rng.normal(62, 16), 18, 95)),
                round=round_index,
                index=index,
            )
        )
    return requests
