"""The one record every training-data loader yields, whatever the source layout."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from medmint.records import CHEXPERT_LABELS

_CODES = (1, 0, -1, None)


@dataclass(frozen=True)
class TrainingExample:
    """One image + report pair with CheXpert labels and demographics, ready for the tokenizers.

    ``image`` is 2-D MONOCHROME2 (uint16 keeping ``bits_stored`` significant bits, or uint8 with
    ``bits_stored`` 8 for JPG sources). ``labels`` holds all 14 CheXpert labels in CheXpert coding
    (1 positive, 0 negative, -1 uncertain, None unmentioned). ``source`` is the image file's path.
    """

    image: np.ndarray = field(compare=False, repr=False)
    bits_stored: int
    findings: str
    impression: str
    labels: dict[str, int | None]
    view: str | None
    sex: str | None
    age: int | None
    subject_id: str
    study_id: str
    source: str

    def __post_init__(self) -> None:
        # Loaders build these; a wrong one is a bug in a loader, so plain ValueError/TypeError.
        if not isinstance(self.image, np.ndarray) or self.image.ndim != 2:
            raise ValueError(f"TrainingExample.image must be a 2-D array (source {self.source})")
        if self.image.dtype not in (np.uint8, np.uint16):
            raise ValueError(f"TrainingExample.image must be uint8 or uint16, not {self.image.dtype}")
        if not 1 <= self.bits_stored <= self.image.dtype.itemsize * 8:
            raise ValueError(f"bits_stored {self.bits_stored} does not fit a {self.image.dtype} image")
        if set(self.labels) != set(CHEXPERT_LABELS):
            raise ValueError("TrainingExample.labels must hold exactly the 14 CheXpert labels")
        bad = {k: v for k, v in self.labels.items() if not (v is None or (type(v) is int and v in _CODES))}
        if bad:
            raise ValueError(f"TrainingExample.labels not in CheXpert coding: {bad}")

    @property
    def report_text(self) -> str:
        """The report in the same form as ``GeneratedSample.report_text``."""
        return f"FINDINGS: {self.findings}\n\nIMPRESSION: {self.impression}\n"
