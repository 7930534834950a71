"""``medmint validators calibrate CKPT``: thresholds that accept held-out real studies, and the
privacy index, written into the checkpoint.

The training set is rebuilt from the checkpoint's own training config (deterministic), so the
index covers exactly what the model saw: critic embeddings of every training image, the hashes of
word 8-grams unique to one training report, and the training reports' word vocabulary; beside it
the training reports' word statistics for ``report_wellformed`` (``report_ngrams.safetensors``). The
held-out rows (never trained on) are the "real" samples every threshold is set against.

Each measured gate gets a threshold at the tail quantile that leaves ``(1 - target) / k`` of the
held-out studies outside it (k gates), pushed out by half an inter-quartile range so that a
generator a little off the real distribution is not rejected wholesale; count gates (0 allowed)
keep their zero. If the combined acceptance is still below target the margin grows until it is
not. The record says how many held-out studies each gate passed, and which findings the critic
cannot check (their bounds end up vacuous).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

import numpy as np

from medmint.validators.base import Batch, ValidationContext

# gates whose threshold is a measured tail quantile; the others are counts with 0 allowed
QUANTILE_GATES = ("image_dynamic_range", "image_saturation", "image_entropy", "image_sharpness", "image_noise",
                  "image_ood", "report_length", "report_repetition", "report_garbled", "report_wellformed",
                  "privacy_nearest_training", "privacy_training_text")
# sanity gates: their defaults already reject blank, burnt-out, noisy, empty and looping samples, so
# calibration may tighten them to the real data but never loosen them past the default
NEVER_LOOSER = ("image_dynamic_range", "image_saturation", "image_entropy", "image_sharpness", "image_noise",
                "report_length", "report_repetition", "report_garbled", "report_wellformed")
INDEX_NGRAM = 8


def _held_out_samples(ts: Any, rows: np.ndarray) -> list[Any]:
    from medmint.generators.diffusion.text_tokenizer import split_sections
    from medmint.records import GeneratedSample, SampleRequest, seed_for

    out = []
    for i, labels in zip(rows, ts.label_dicts(rows)):
        findings, impression = split_sections(ts.reports[i])
        sid = f"calibrate-{int(i)}"
        request = SampleRequest(sample_id=sid, seed=seed_for(sid), task="joint", findings=labels,
                                view=ts.views[i], sex=ts.sexes[i], age=int(ts.ages[i]))
        out.append(GeneratedSample(request=request, image=ts.images[i], bits_stored=ts.bits_stored,
                                   report_findings=findings, report_impression=impression, generator="real",
                                   checkpoint_sha256=None, sampling={}, seconds=0.0))
    return out


def _quantile_threshold(scores: np.ndarray, higher_passes: bool, tail: float, margin: float) -> float:
    s = np.asarray(scores, np.float64)
    s = s[np.isfinite(s)]
    iqr = float(np.subtract(*np.percentile(s, [75, 25])))
    # observed values, not interpolations: the held-out study at the tail itself passes
    if higher_passes:
        return float(np.quantile(s, tail, method="lower") - margin * iqr)
    return float(np.quantile(s, 1 - tail, method="higher") + margin * iqr)


def _finding_bounds(probs: np.ndarray, report_labels: list[dict], names: list[str], tail: float) -> dict[str, dict]:
    """Per finding: report-positive needs prob >= low, report-negative needs prob <= high."""
    out = {}
    for j, name in enumerate(names):
        pos = np.array([r.get(name) == 1 for r in report_labels])
        low = float(np.quantile(probs[pos, j], tail)) if pos.sum() >= 5 else 0.0
        high = float(np.quantile(probs[~pos, j], 1 - tail)) if (~pos).sum() >= 5 else 1.0
        out[name] = {"low": low, "high": high, "checkable": bool(low > 0.05 or high < 0.95),
                     "held_out_positives": int(pos.sum())}
    return out


def calibrate(checkpoint: str | Path, *, n: int = 1000, target: float = 0.98,
              log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Calibrate and write into the checkpoint; returns the calibration record."""
    import torch

    from medmint.config import TrainConfig
    from medmint.generators.diffusion.checkpoint import update_checkpoint
    from medmint.generators.diffusion.training import build_training_set, label_combinations
    from medmint.validators.context import PRIVACY_INDEX, REPORT_NGRAMS, load_context
    from medmint.validators.privacy import NgramIndex
    from medmint.validators.registry import plan_validators
    from medmint.validators.report_wellformed import ReportNgrams

    ctx, _ = load_context(checkpoint)
    manifest_cfg = _manifest(checkpoint)["training"]["config"]
    cfg = TrainConfig.model_validate(manifest_cfg)
    log(f"rebuilding the training set ({cfg.data.source}, {cfg.data.n if cfg.data.source == 'phantom' else 'all'})")
    ts = build_training_set(cfg, lambda e: None)
    train_rows, held_rows = np.flatnonzero(~ts.holdout), np.flatnonzero(ts.holdout)[:n]
    log(f"embedding {len(train_rows)} training images")
    features = ctx.critic.features(ts.images[train_rows], ts.bits_stored).astype(np.float16)
    train_reports = [ts.reports[i] for i in train_rows]
    ngrams = NgramIndex.build(train_reports, INDEX_NGRAM)
    vocabulary = sorted({w for t in train_reports for w in re.findall(r"[a-z]+", t.lower()) if len(w) > 2})
    ctx.train_features, ctx.train_ngrams = features.astype(np.float32), ngrams
    report_ngrams = ReportNgrams.build(train_reports)
    ctx.data_summary = {**ctx.data_summary, "report_vocabulary": vocabulary, "report_ngrams": report_ngrams}

    held = _held_out_samples(ts, held_rows)
    batch = Batch(held, ctx)
    validators, _ = plan_validators({}, {}, ctx)
    scores = {v.name: np.asarray(v.scores(batch), np.float64) for v in validators if v.name != "image_near_duplicate"}
    k = sum(1 for v in validators if v.name in QUANTILE_GATES) + 1
    tail = (1 - target) / k / 2
    names = list(ctx.critic.labels)
    bounds = _finding_bounds(batch.critic_probs, batch.report_labels, names, tail)

    for margin in (0.5, 1.0, 2.0, 4.0, 8.0):
        settings: dict[str, dict[str, Any]] = {}
        for v in validators:
            if v.name in QUANTILE_GATES:
                t = _quantile_threshold(scores[v.name], v.higher_passes, tail, margin)
                if v.name in NEVER_LOOSER:
                    t = max(t, v.default_threshold) if v.higher_passes else min(t, v.default_threshold)
                settings[v.name] = {"threshold": t}
        # an exact or lightly-noised copy of a training image must stay below the privacy bound
        settings["privacy_nearest_training"]["threshold"] = max(
            0.0, float(np.quantile(scores["privacy_nearest_training"], tail)) / (1 + margin))
        settings["consistency_image_report"] = {
            "low": {f: max(0.0, b["low"] / (1 + margin)) for f, b in bounds.items()},
            "high": {f: min(1.0, 1 - (1 - b["high"]) / (1 + margin)) for f, b in bounds.items()}}
        calibrated, _ = plan_validators({}, settings, ctx)
        verdicts = {v.name: np.array([j.passed for j in v.judge(batch)]) for v in calibrated
                    if v.name != "image_near_duplicate"}
        accepted = np.logical_and.reduce(list(verdicts.values()))
        if accepted.mean() >= target:
            break
    record = {
        "settings": settings,
        "files": [PRIVACY_INDEX, REPORT_NGRAMS],
        "report_vocabulary": vocabulary,
        "calibration": {
            "held_out": len(held), "target": target, "margin_iqr": margin,
            "accepted": float(accepted.mean()),
            "pass_rate": {k: float(v.mean()) for k, v in verdicts.items()},
            "finding_bounds": bounds,
            "uncheckable_findings": [f for f, b in bounds.items() if not b["checkable"]],
            "train_images_indexed": int(len(features)), "unique_ngrams": int(len(ngrams.unique)),
            "ngram_n": INDEX_NGRAM, "report_ngrams": report_ngrams.describe(),
        },
    }
    index = {"features": torch.from_numpy(features), "ngrams": torch.from_numpy(ngrams.unique),
             "ngram_n": torch.tensor([INDEX_NGRAM], dtype=torch.int64)}
    updates: dict[str, Any] = {"validators": record}
    stored_summary = _manifest(checkpoint)["data_summary"]
    if "combinations" not in stored_summary:  # checkpoints trained before the rebalancer's reference existed
        updates["data_summary"] = {**stored_summary, "combinations": label_combinations(ts.labels[train_rows])}
    sha = update_checkpoint(checkpoint, updates, {PRIVACY_INDEX: index, REPORT_NGRAMS: report_ngrams.to_tensors()})
    record["checkpoint_sha256"] = sha
    return record


def _manifest(checkpoint: str | Path) -> dict[str, Any]:
    from medmint.generators.diffusion.checkpoint import verify_checkpoint

    return verify_checkpoint(checkpoint).manifest


__all__ = ["calibrate", "QUANTILE_GATES"]
