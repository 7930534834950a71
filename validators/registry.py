"""Validators by name, and running a batch through the enabled ones.

Order is fixed (cheap checks first, as listed) so reasons read the same way in every run.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from medmint.records import GeneratedSample, ValidatedSample
from medmint.validators.base import Batch, ValidationContext, Validator
from medmint.validators.consistency import ImageMatchesReport, ReportMatchesRequest
from medmint.validators.image_quality import (DynamicRange, Entropy, NearDuplicate, Noise, OutOfDistribution,
                                              Saturation, Sharpness)
from medmint.validators.privacy import NearestTraining, PhiInReport, TrainingTextCopy
from medmint.validators.report_quality import Garbled, Repetition, ReportLength, ReportSections

VALIDATORS: dict[str, type[Validator]] = {v.name: v for v in (
    DynamicRange, Saturation, Entropy, Sharpness, Noise, NearDuplicate, OutOfDistribution,
    ReportLength, ReportSections, Repetition, Garbled,
    ReportMatchesRequest, ImageMatchesReport,
    NearestTraining, TrainingTextCopy, PhiInReport,
)}
NEEDS: dict[str, str] = {"image_ood": "train_features", "consistency_image_report": "critic",
                         "privacy_nearest_training": "train_features", "privacy_training_text": "train_ngrams"}


def build_validators(settings: Mapping[str, Mapping[str, Any]], context: ValidationContext) -> list[Validator]:
    """``settings``: {name: {"enabled": bool, "threshold": float, ...params}}; unlisted names are enabled
    with defaults. A validator whose input the context lacks raises (config can disable it)."""
    unknown = set(settings) - set(VALIDATORS)
    if unknown:
        raise ValueError(f"validators: unknown {sorted(unknown)}; known {sorted(VALIDATORS)}")
    out = []
    for name, cls in VALIDATORS.items():
        opts = dict(settings.get(name, {}))
        if not opts.pop("enabled", True):
            continue
        if name in NEEDS:
            context.require(NEEDS[name], name)
        out.append(cls(context, opts.pop("threshold", None), **opts))
    return out


def validate(samples: Sequence[GeneratedSample], validators: Sequence[Validator],
             context: ValidationContext) -> list[ValidatedSample]:
    batch = Batch(samples, context)
    verdicts = [v.judge(batch) for v in validators]
    image_labels = None
    if context.critic is not None and any(v.name == "consistency_image_report" for v in validators):
        image_labels = _critic_labels(batch)
    out = []
    for i, sample in enumerate(samples):
        mine = [vs[i] for vs in verdicts]
        reasons = tuple(v.reason for v in mine if not v.passed and v.reason)
        out.append(ValidatedSample(
            generated=sample, scores={v.validator: v.score for v in mine}, accepted=not reasons,
            reject_reasons=reasons, report_labels=batch.report_labels[i] if validators else None,
            image_labels=image_labels[i] if image_labels else None))
    return out


def _critic_labels(batch: Batch) -> list[dict[str, Any]]:
    critic = batch.context.critic
    cut = critic.cfg.decision_thresholds
    return [{**{n: int(p >= c) for n, p, c in zip(critic.labels, row, cut)},
             "No Finding": int(not any(p >= c for p, c in zip(row, cut)))} for row in batch.critic_probs]


__all__ = ["VALIDATORS", "build_validators", "validate"]
