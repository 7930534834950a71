"""What a run's validators read from the checkpoint: the critic, the privacy index and the
thresholds ``medmint validators calibrate`` wrote. Torch is imported only when there is a checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from medmint.validators.base import ValidationContext

PRIVACY_INDEX = "privacy_index.safetensors"  # features [N, D] float16, ngrams int64 [M], ngram_n int64 [1]
# the training reports' word statistics (validators.report_wellformed.ReportNgrams), int32/int64 tensors
REPORT_NGRAMS = "report_ngrams.safetensors"


def load_context(checkpoint_dir: str | Path | None, device: str = "cpu") -> tuple[ValidationContext, dict[str, Any]]:
    """(context, calibrated settings {validator: {"threshold": ..., ...}}); both empty without a checkpoint."""
    if not checkpoint_dir:
        return ValidationContext(), {}
    from medmint.generators.diffusion.checkpoint import verify_checkpoint
    from medmint.validators.findings_classifier import FindingsClassifier
    from medmint.validators.privacy import NgramIndex
    from medmint.validators.report_wellformed import ReportNgrams

    ckpt = verify_checkpoint(checkpoint_dir)
    m = ckpt.manifest
    critic_cfg = m["critics"]["findings"]
    critic = FindingsClassifier.load(critic_cfg["config"], ckpt.tensors(critic_cfg["file"]), device=device)
    ctx = ValidationContext(critic=critic, data_summary=m.get("data_summary", {}),
                            bits_stored=int(m.get("data_summary", {}).get("image", {}).get("bits_stored", 12)))
    calibration = m.get("validators", {})
    if calibration.get("report_vocabulary"):
        ctx.data_summary = {**ctx.data_summary, "report_vocabulary": calibration["report_vocabulary"]}
    if PRIVACY_INDEX in calibration.get("files", ()):
        index = ckpt.tensors(PRIVACY_INDEX)
        ctx.train_features = index["features"].float().numpy()
        ctx.train_ngrams = NgramIndex(index["ngrams"].numpy().astype(np.int64), int(index["ngram_n"][0]))
    if REPORT_NGRAMS in calibration.get("files", ()):
        ctx.data_summary = {**ctx.data_summary, "report_ngrams": ReportNgrams(ckpt.tensors(REPORT_NGRAMS))}
    return ctx, {k: dict(v) for k, v in calibration.get("settings", {}).items()}


__all__ = ["PRIVACY_INDEX", "REPORT_NGRAMS", "load_context"]
