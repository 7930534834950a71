"""Training schedules shared by every trained part (tokenizer, classifier, diffusion model).

Deterministic functions of (seed, step) so a resumed run sees exactly the batches and learning
rates an uninterrupted one would.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def warmup_cosine(
    step: int, total: int, lr: float, warmup: int, min_ratio: float = 0.05, time_fraction: float = 0.0
) -> float:
    """Linear warmup, then cosine to ``min_ratio * lr`` over the steps, or over a time budget when
    ``time_fraction`` (elapsed / budget) runs out first."""
    if warmup and step < warmup:
        return lr * (step + 1) / warmup
    progress = max((step - warmup) / max(1, total - warmup), time_fraction)
    return lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def epoch_batch(n: int, batch_size: int, step: int, seed: int) -> np.ndarray:
    """Rows of batch ``step``: walks a fresh seeded permutation each epoch (every row once per epoch)."""
    start = step * batch_size
    out: list[int] = []
    while len(out) < batch_size:
        epoch, pos = divmod(start + len(out), n)
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        out.extend(perm[pos : pos + batch_size - len(out)].tolist())
    return np.asarray(out, dtype=np.int64)


def contiguous_state(obj: Any) -> Any:
    """Optimizer state with every tensor made contiguous: channels-last training leaves strided
    moments that safetensors refuses to save. Duck-typed so this module needs no torch import."""
    if hasattr(obj, "contiguous") and callable(obj.contiguous):
        return obj.contiguous()
    if isinstance(obj, dict):
        return {k: contiguous_state(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [contiguous_state(v) for v in obj]
    return obj
