"""Empty (Z) and dummy (D) values that are valid for each VR, so the output still parses and validates.

A dummy is deliberately constant and obviously artificial ("ANONYMIZED", 0, 2000-01-01): it must not
look like data, and it must fit the VR's character set and length limits (SH/CS/AE: 16 characters).
"""

from __future__ import annotations

from typing import Any

from medmint.anonymize.dates import DUMMY as DATE_DUMMY

DUMMY_TEXT = "ANONYMIZED"
DUMMY_NAME = "ANONYMIZED^"  # family name, then "^": "Anonymized" alone is the retired one-component PN form
TEXT_VRS = frozenset({"AE", "CS", "LO", "LT", "SH", "ST", "UC", "UR", "UT"})
FREE_TEXT_VRS = frozenset({"LT", "ST", "UT", "UC"})  # prose that may name people: cleaned inside dummy sequences
KEPT_TEXT_VRS = frozenset({"LO", "SH", "LT", "ST", "UT", "UC"})  # kept text loses the header's own identifiers
NUMBER_STRING_VRS = frozenset({"IS", "DS"})
BINARY_NUMBER_VRS = frozenset({"US", "SS", "UL", "SL", "FL", "FD", "SV", "UV", "AT"})
BYTES_VRS = frozenset({"OB", "OW", "OD", "OF", "OL", "OV", "UN"})
MAX_LENGTH = {"AE": 16, "CS": 16, "SH": 16, "LO": 64, "ST": 1024, "LT": 10240, "PN": 64, "AS": 4, "DA": 8,
              "TM": 14, "DT": 26, "IS": 12, "DS": 16, "UI": 64}


def empty_value(vr: str) -> Any:
    """The zero-length value for ``vr`` (Z)."""
    if vr == "SQ":
        return []
    if vr in BINARY_NUMBER_VRS:
        return None
    if vr in BYTES_VRS:
        return b""
    return ""


def dummy_value(vr: str) -> Any:
    """A constant non-empty value valid for ``vr`` (D), for VRs other than UI and SQ (handled by caller)."""
    if vr in DATE_DUMMY:
        return DATE_DUMMY[vr]
    if vr == "PN":
        return DUMMY_NAME
    if vr == "AS":
        return "000Y"
    if vr in NUMBER_STRING_VRS:
        return "0"
    if vr in BINARY_NUMBER_VRS:
        return 0
    if vr in BYTES_VRS:
        return b"\x00\x00"
    return DUMMY_TEXT


def clip(vr: str, text: str) -> str:
    """``text`` cut to the VR's maximum length (a cleaned value may not grow past it)."""
    limit = MAX_LENGTH.get(vr)
    return text if limit is None else text[:limit].rstrip()
