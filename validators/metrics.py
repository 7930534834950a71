"""Metrics on declared features, on label sets and on report text.

Feature metrics (Fréchet distance, k-NN precision/recall) take whatever features the caller
declares: the bundled critic's embedding by default, so nothing is downloaded. Text metrics use
sacrebleu (BLEU) and rouge-score (ROUGE-L); METEOR is the exact-match fallback named in
``METEOR_FALLBACK`` and reported with every value.
"""

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


# --- generated vs real feature manifolds ---------------------------------------------------


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.sqrt(np.clip((a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T, 0, None))


def precision_recall_knn(real: np.ndarray, generated: np.ndarray, k: int = 3) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019): each set's manifold is the union of
    balls reaching every point's k-th nearest neighbour; precision is the share of generated points
    inside the real manifold (fidelity), recall the share of real points inside the generated one
    (coverage). Exact distances: meant for the few thousand samples of an evaluation."""
    real, generated = np.asarray(real), np.asarray(generated)
    if min(len(real), len(generated)) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} samples per set")

    def radii(x: np.ndarray) -> np.ndarray:
        return np.sort(_pairwise(x, x), axis=1)[:, k]  # column 0 is the point itself

    r_real, r_gen = radii(real), radii(generated)
    d = _pairwise(generated, real)  # [G, R]
    precision = float((d <= r_real[None, :]).any(axis=1).mean())
    recall = float((d.T <= r_gen[None, :]).any(axis=1).mean())
    return {"precision": precision, "recall": recall, "k": k}


# --- report text ---------------------------------------------------------------------------


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Corpus BLEU-1..4 (sacrebleu, 13a tokenisation, lowercased), on a 0-1 scale."""
    import sacrebleu

    _same_length(hypotheses, references)
    out = {}
    for n in range(1, 5):
        metric = sacrebleu.metrics.BLEU(max_ngram_order=n, lowercase=True)
        out[f"bleu{n}"] = metric.corpus_score(list(hypotheses), [list(references)]).score / 100.0
    return out


def rouge_l(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Mean ROUGE-L F-measure (rouge-score, Porter stemming)."""
    from rouge_score import rouge_scorer

    _same_length(hypotheses, references)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    scores = [scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(hypotheses, references)]
    return float(np.mean(scores)) if scores else 0.0


METEOR_FALLBACK = ("METEOR exact-match module only (Banerjee & Lavie 2005 F-mean with alpha 0.9 and the "
                   "fragmentation penalty; no stem/synonym/paraphrase modules): coco-caption METEOR 1.5 "
                   "needs Java and its jar, which this installation does not have")


def meteor_exact(hypothesis: str, reference: str, alpha: float = 0.9, beta: float = 3.0, gamma: float = 0.5) -> float:
    """METEOR with exact unigram matching: greedy left-to-right alignment, F-mean weighted to recall,
    penalty ``gamma * (chunks / matches) ** beta`` for matches that are not contiguous in both."""
    import re

    hyp, ref = re.findall(r"\w+", hypothesis.lower()), re.findall(r"\w+", reference.lower())
    used: set[int] = set()
    pairs = []
    for i, w in enumerate(hyp):
        for j, r in enumerate(ref):
            if j not in used and r == w:
                used.add(j)
                pairs.append((i, j))
                break
    m = len(pairs)
    if m == 0:
        return 0.0
    p, r = m / len(hyp), m / len(ref)
    fmean = p * r / (alpha * p + (1 - alpha) * r)
    chunks = 1 + sum(1 for (i0, j0), (i1, j1) in zip(pairs, pairs[1:]) if not (i1 == i0 + 1 and j1 == j0 + 1))
    return float(fmean * (1 - gamma * (chunks / m) ** beta))


def meteor(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, object]:
    """Mean sentence METEOR and which implementation produced it."""
    _same_length(hypotheses, references)
    values = [meteor_exact(h, r) for h, r in zip(hypotheses, references)]
    return {"meteor": float(np.mean(values)) if values else 0.0, "implementation": METEOR_FALLBACK}


def label_f1(predicted: Sequence[Mapping[str, int | None]], reference: Sequence[Mapping[str, int | None]],
             names: Sequence[str]) -> dict[str, object]:
    """CheXpert-label micro/macro F1 between two report sets (positive = 1), per label too."""
    return binary_scores(positive_sets(predicted, names), positive_sets(reference, names), names)


def _same_length(a: Sequence[str], b: Sequence[str]) -> None:
    if len(a) != len(b):
        raise ValueError(f"{len(a)} hypotheses for {len(b)} references")
