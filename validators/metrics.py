"""Metrics on declared features and on label sets (no downloads: features come from our own critic)."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((m + m.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets [N, D].

    tr((S_a^1/2 S_b S_a^1/2)^1/2) equals tr((S_a S_b)^1/2) and needs only symmetric
    eigendecompositions, so it is stable without scipy."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"feature sets must be [N>=2, D] with equal D, got {a.shape} and {b.shape}")
    mu = a.mean(0) - b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _sqrt_psd(sa)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ sb @ root_a), 0, None)).sum()
    return float(mu @ mu + np.trace(sa) + np.trace(sb) - 2 * cross)


def positive_sets(labels: Sequence[Mapping[str, int | None]], names: Sequence[str]) -> np.ndarray:
    """[N, len(names)] bool: label == 1."""
    return np.array([[row.get(n) == 1 for n in names] for row in labels], dtype=bool).reshape(len(labels), len(names))


def binary_scores(pred: np.ndarray, true: np.ndarray, names: Sequence[str]) -> dict[str, object]:
    """Per-label recall, false-positive rate, F1 and support, plus micro/macro F1 (labels with support)."""
    pred, true = np.asarray(pred, bool), np.asarray(true, bool)
    per: dict[str, dict[str, float | int | None]] = {}
    f1s = []
    for j, name in enumerate(names):
        tp = int((pred[:, j] & true[:, j]).sum())
        fp = int((pred[:, j] & ~true[:, j]).sum())
        fn = int((~pred[:, j] & true[:, j]).sum())
        neg = int((~true[:, j]).sum())
        support = tp + fn
        f1 = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else None
        per[name] = {"support": support, "recall": tp / support if support else None,
                     "fpr": fp / neg if neg else None, "f1": f1}
        if support:
            f1s.append(f1 or 0.0)
    tp = int((pred & true).sum())
    denom = int(2 * tp + (pred & ~true).sum() + (~pred & true).sum())
    return {"per_label": per, "micro_f1": 2 * tp / denom if denom else None,
            "macro_f1": float(np.mean(f1s)) if f1s else None}
