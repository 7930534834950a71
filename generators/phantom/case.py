"""What the procedural phantom returns for one study: pixels, labels, report and (optionally) PHI."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class PhiSpan:
    """Where the phantom put one PHI item in ``PhantomCase.report`` (for scrubbing recall tests)."""

    kind: str  # name | date | time | mrn | phone | accession | age | email | url | address | hospital
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class PhantomCase:
    image: np.ndarray = field(repr=False)  # uint16 (size x size), MONOCHROME2, values < 2**bits_stored
    bits_stored: int
    labels: dict[str, int | None]  # all 14 CheXpert labels, CheXpert coding (1, 0, -1, None)
    findings: str  # FINDINGS section text
    impression: str  # IMPRESSION section text
    report: str  # the whole free-text report, MIMIC style (header lines, FINDINGS:, IMPRESSION:)
    view: str  # PA | AP
    sex: str  # F | M
    age: int
    details: dict[str, dict[str, str]] = field(default_factory=dict)  # finding -> laterality/severity/...
    phi_spans: tuple[PhiSpan, ...] = ()  # offsets into ``report``
    dicom_phi: dict[str, str] = field(default_factory=dict)  # DICOM keyword -> PHI value for headers
