"""STUB — replaced by the real phantom. Contract only: signature and return type are fixed."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from medmint.generators.phantom.case import PhantomCase
from medmint.records import CHEXPERT_LABELS


def sample_case(
    seed: int,
    *,
    size: int = 256,
    phi: bool = False,
    findings: Mapping[str, int | None] | None = None,
    view: str | None = None,
    sex: str | None = None,
    age: int | None = None,
) -> PhantomCase:
    rng = np.random.default_rng(seed)
    labels = {k: None for k in CHEXPERT_LABELS}
    if findings:
        labels.update(findings)
    else:
        labels["No Finding"] = 1
    img = (rng.random((size, size)) * 4095).astype(np.uint16)
    findings_text = "The lungs are clear. No pleural effusion or pneumothorax."
    impression = "No acute cardiopulmonary process."
    report = f"FINAL REPORT\nFINDINGS: {findings_text}\n\nIMPRESSION: {impression}\n"
    return PhantomCase(img, 12, labels, findings_text, impression, report, view or "PA", sex or "F", age or 60)
