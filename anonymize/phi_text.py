"""PHI detectors for report text, shared by the privacy validator and the report scrubber.

Pattern-based, in the spirit of the PhysioNet deid tool: each detector is a named regular
expression for one kind of identifier. Clinical text is full of numbers (4.5 cm, 7th rib, T12,
1. list items) so number detectors need context (a label, a separator layout, a title). MIMIC's
de-identification blank ``___`` is not PHI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MONTHS = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|Jun(?:e)?|Jul(?:y)?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
_NAME = r"[A-Z][a-z]+(?:['-][A-Z]?[a-z]+)?"

DETECTORS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    "url": re.compile(r"\b(?:https?://|www\.)\S+", re.I),
    "date": re.compile(
        r"\b(?:\d{1,2}[/-]\d{1,2}[/-](?:\d{4}|\d{2})|\d{4}-\d{2}-\d{2}|" + _MONTHS + r"\.? \d{1,2}(?:st|nd|rd|th)?,? \d{4}|"
        r"\d{1,2} " + _MONTHS + r"\.? \d{4})\b"),
    "time": re.compile(r"\b(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?:\s?[AaPp]\.?[Mm]\.?)?(?!\d)"),
    "phone": re.compile(r"(?:\(\d{3}\)\s?|\b\d{3}[-.\s])\d{3}[-.]\d{4}\b|\bx\d{4,5}\b"),
    "mrn": re.compile(r"\b(?:MRN|MR#|Medical Record(?: Number)?|Unit No|Patient ID)\s*[:#]?\s*[A-Z]?\d{5,}\b", re.I),
    "accession": re.compile(r"\b(?:Acc(?:ession)?(?: No\.?| Number| #)?)\s*[:#]?\s*[A-Z]{0,3}\d{5,}\b", re.I),
    "long_number": re.compile(r"(?<![\d.])\d{7,}(?![\d.])"),
    "name": re.compile(r"\b(?:Dr|Mr|Mrs|Ms|Miss|Prof)\.?\s+(?:" + _NAME + r"\s+)?" + _NAME + r"\b"
                       r"|\b(?:Patient|Name|Signed|Attending|Radiologist|Referring(?: physician)?)\s*:\s*(?:(?:Dr|Mr|Mrs|Ms)\.?\s+)?"
                       + _NAME
                       + r"(?:,?\s+" + _NAME + r")*"
                       + r"|\b[A-Z]{2,}(?:['-][A-Z]+)?,\s+[A-Z]{2,}\b"),
    "age_over_89": re.compile(r"\b(?:9\d|1[01]\d)[- ](?:year|yr)s?[- ]old\b|\bage[d]?\s*:?\s*(?:9\d|1[01]\d)\b", re.I),
    "address": re.compile(r"\b\d{1,5}\s+(?:" + _NAME + r"\s+){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|"
                          r"Drive|Dr|Court|Ct|Way|Place|Pl)\b\.?"),
    "hospital": re.compile(r"\b(?:St\.\s+)?(?:" + _NAME + r"\s+){1,3}(?:Hospital|Medical Center|Clinic|Health Center)\b"),
}


@dataclass(frozen=True)
class PhiHit:
    kind: str
    start: int
    end: int
    text: str


def find_phi(text: str) -> list[PhiHit]:
    """Every detector's matches, sorted by position (overlaps kept: each names its kind)."""
    hits = [PhiHit(kind, m.start(), m.end(), m.group(0)) for kind, rx in DETECTORS.items() for m in rx.finditer(text)]
    return sorted(hits, key=lambda h: (h.start, -h.end))


__all__ = ["DETECTORS", "PhiHit", "find_phi"]
