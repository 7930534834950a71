"""The C (clean) action for text: the report scrubber plus the identifiers this very file carries.

The pattern scrubber (``medmint.anonymize.text``) misses names it has no cue for; the header itself says
who the patient, the physicians and the hospital are, so those exact strings are blanked first. The
same cleaning serves descriptor attributes, free text inside dummy sequences and sibling report files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pydicom.dataset import Dataset

BLANK = "___"  # MIMIC's de-identification blank (the scrubber's too): never PHI itself
_NAME_KEYWORDS = ("PatientName", "ReferringPhysicianName", "PerformingPhysicianName", "NameOfPhysiciansReadingStudy",
                  "OperatorsName", "PhysiciansOfRecord", "RequestingPhysician", "PatientBirthName",
                  "PatientMotherBirthName", "ResponsiblePerson")
_ID_KEYWORDS = ("PatientID", "OtherPatientIDs", "AccessionNumber", "StudyID", "MedicalRecordLocator", "AdmissionID",
                "IssuerOfPatientID")
_PLACE_KEYWORDS = ("InstitutionName", "InstitutionAddress", "PatientAddress", "PatientTelephoneNumbers",
                   "StationName", "InstitutionalDepartmentName")


def _values(ds: Dataset, keyword: str) -> list[str]:
    value = ds.get(keyword)
    if value is None or value == "":
        return []
    items = value if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue" else [value]
    return [str(v).strip() for v in items if str(v).strip()]


def known_identifiers(ds: Dataset) -> tuple[str, ...]:
    """Strings from the header that identify someone: names (whole and by part), ids, places, birth date."""
    found: set[str] = set()
    for keyword in _NAME_KEYWORDS:
        for name in _values(ds, keyword):
            parts = [p.strip() for p in re.split(r"[\^=]", name) if p.strip()]
            found.update(p for p in parts if len(p) >= 3)
            if len(parts) >= 2:
                found.update({f"{parts[1]} {parts[0]}", f"{parts[0]}, {parts[1]}", f"{parts[0]} {parts[1]}"})
    for keyword in _ID_KEYWORDS:
        found.update(v for v in _values(ds, keyword) if len(v) >= 4)
    for keyword in _PLACE_KEYWORDS:
        found.update(v for v in _values(ds, keyword) if len(v) >= 4 and v.upper() != "RADIOLOGY")
    for birth in _values(ds, "PatientBirthDate"):
        if re.fullmatch(r"\d{8}", birth):
            y, m, d = birth[:4], birth[4:6], birth[6:]
            found.update({birth, f"{m}/{d}/{y}", f"{y}-{m}-{d}", f"{int(m)}/{int(d)}/{y}"})
    return tuple(sorted(found, key=lambda s: (-len(s), s)))


@dataclass(frozen=True)
class Cleaned:
    text: str
    hits: int  # identifiers and scrubber findings replaced (counts only: never the values)
    kinds: tuple[str, ...] = ()


@lru_cache(maxsize=64)
def _identifier_pattern(identifiers: tuple[str, ...]) -> re.Pattern[str] | None:
    alternatives = [re.escape(s) for s in identifiers if s]
    if not alternatives:
        return None
    return re.compile(r"(?<![\w])(?:" + "|".join(alternatives) + r")(?![\w])", re.IGNORECASE)


def clean_text(text: str, identifiers: tuple[str, ...] = (), mode: str = "blank") -> Cleaned:
    """``text`` with the given identifiers blanked, then passed through the report scrubber."""
    from medmint.anonymize.text import scrub_report

    pattern = _identifier_pattern(identifiers)
    known = 0
    if pattern is not None:
        text, known = pattern.subn(BLANK, text)
    result = scrub_report(text, mode=mode)
    hits = list(result.hits)
    kinds = sorted({str(getattr(h, "kind", "")) for h in hits} - {""})
    return Cleaned(result.text, known + len(hits), tuple((["header_identifier"] if known else []) + kinds))
