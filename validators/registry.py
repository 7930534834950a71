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
from medmint.validators.report_wellformed import WellFormed

VALIDATORS: dict[str, type[Validator]] = {v.name: v for v in (
    DynamicRange, Saturation, Entropy, Sharpness, Noise, NearDuplicate, OutOfDistribution,
    ReportLength, ReportSections, Repetition, Garbled, WellFormed,
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


def plan_validators(
    configured: Mapping[str, Mapping[str, Any]], calibrated: Mapping[str, Mapping[str, Any]],
    context: ValidationContext,
) -> tuple[list[Validator], list[dict[str, Any]]]:
    """The run's validators and what run.json says about each (used, or skipped and why).

    ``configured`` (the run config's ``validators:``) wins over ``calibrated`` (the checkpoint's)
    key by key. ``enabled`` is true, false or "auto" (the default): auto runs a validator when the
    context has what it needs and records why not otherwise; true with a missing input is an error."""
    unknown = (set(configured) | set(calibrated)) - set(VALIDATORS)
    if unknown:
        raise ValueError(f"validators: unknown {sorted(unknown)}; known {sorted(VALIDATORS)}")
    settings: dict[str, dict[str, Any]] = {}
    record: list[dict[str, Any]] = []
    for name in VALIDATORS:
        opts = {**calibrated.get(name, {}), **configured.get(name, {})}
        enabled = opts.pop("enabled", "auto")
        if enabled not in (True, False, "auto"):
            raise ValueError(f"validators.{name}.enabled: {enabled!r} is not true, false or auto")
        need = NEEDS.get(name)
        missing = need is not None and getattr(context, need) is None
        if enabled is False or (enabled == "auto" and missing):
            settings[name] = {"enabled": False}
            why = "disabled in config" if enabled is False else f"skipped: no {need} (needs a calibrated checkpoint)"
            record.append({"name": name, "used": False, "why": why})
            continue
        settings[name] = opts
    validators = build_validators(settings, context)
    record = [{**v.describe(), "used": True, "calibrated": v.name in calibrated} for v in validators] + record
    return validators, record


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


__all__ = ["VALIDATORS", "build_validators", "plan_validators", "validate"]
