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
# Identifying values, wherever they sit (nested sequences too): every person name (PN), and attributes
# named like identifiers, places and contacts that the profile does not keep.
_ID_KEYWORD = re.compile(r"(?:ID|IDs|Number|Numbers|Identifier|Locator)$")
_PLACE_KEYWORD = re.compile(r"Address|InstitutionName|DepartmentName|StationName|Telephone|Telecom|Residence")
_KEPT_ACTIONS = ("K", "C", "U", "")
_NOT_PLACES = frozenset({"RADIOLOGY", "RADIOLOGIE", "IMAGING"})
_MIN_PART = 2  # name parts: "Wu", "Li", "Ng" are surnames
_MIN_ID = 3


def _texts(value: object) -> list[str]:
    if value is None or value == "" or isinstance(value, (bytes, bytearray)):
        return []
    items = value if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue" else [value]
    return [str(v).strip() for v in items if str(v).strip()]


def _name_forms(name: str) -> set[str]:
    """A PN value as it may be written in text: whole, 'Given Family', 'Family, Given', and every word."""
    found: set[str] = set()
    for group in name.split("="):  # alphabetic, ideographic, phonetic
        components = [c.strip() for c in group.split("^")]
        family, given, middle = (components + ["", "", ""])[:3]
        people = [c for c in (family, given, middle) if c]
        words = {w.strip(".'") for c in people for w in re.split(r"[\s,\-]+", c)}
        found.update(w for w in words | set(people) if sum(ch.isalpha() for ch in w) >= _MIN_PART)
        if family and given:
            found.update({f"{given} {family}", f"{family}, {given}", f"{family} {given}", f"{family},{given}"})
            if middle:
                found.update({f"{given} {middle} {family}", f"{family}, {given} {middle}"})
    return found


def _place_forms(value: str) -> set[str]:
    """A place or contact, whole and by comma-separated part (a city, a street, a zip code)."""
    parts = {value} | {p.strip() for p in value.split(",")} | set(re.findall(r"\b\d{5}(?:-\d{4})?\b", value))
    return {p for p in parts if len(p) >= 4 and p.upper() not in _NOT_PLACES}


def _walk(ds: Dataset):  # -> Iterator[DataElement]
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value or []:
                yield from _walk(item)
        else:
            yield elem


def known_identifiers(ds: Dataset) -> tuple[str, ...]:
    """Strings from the header that identify someone: names (whole and by part), ids, places, birth date.

    Collected before anything is replaced; the de-identifier blanks them in every free-text value it
    keeps, and the sibling report gets the same (case-insensitive, as whole words).
    """
    from medmint.anonymize.profile import load_table

    table = load_table()
    found: set[str] = set()
    for elem in _walk(ds):
        keyword = elem.keyword or ""
        if elem.VR == "PN":
            for name in _texts(elem.value):
                found |= _name_forms(name)
            continue
        if not keyword or elem.VR in ("UI", "SQ") or elem.tag.is_private:
            continue
        rule = table.lookup(int(elem.tag))
        if rule is None or rule.basic in _KEPT_ACTIONS:
            continue
        if _ID_KEYWORD.search(keyword):
            found.update(v for v in _texts(elem.value) if len(v) >= _MIN_ID and any(c.isalnum() for c in v))
        elif _PLACE_KEYWORD.search(keyword):
            for value in _texts(elem.value):
                found |= _place_forms(value)
    for birth in _texts(ds.get("PatientBirthDate")):
        if re.fullmatch(r"\d{8}", birth):
            y, m, d = birth[:4], birth[4:6], birth[6:]
            found.update({birth, f"{m}/{d}/{y}", f"{y}-{m}-{d}", f"{int(m)}/{int(d)}/{y}", f"{m}-{d}-{y}"})
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


def blank_identifiers(text: str, identifiers: tuple[str, ...]) -> tuple[str, int]:
    """``text`` with every whole-word, case-insensitive occurrence of the identifiers blanked; how many."""
    pattern = _identifier_pattern(identifiers)
    return (text, 0) if pattern is None else pattern.subn(BLANK, text)


def clean_text(text: str, identifiers: tuple[str, ...] = (), mode: str = "blank") -> Cleaned:
    """``text`` with the given identifiers blanked, then passed through the report scrubber."""
    from medmint.anonymize.text import scrub_report

    text, known = blank_identifiers(text, identifiers)
    result = scrub_report(text, mode=mode)
    hits = list(result.hits)
    kinds = sorted({str(getattr(h, "kind", "")) for h in hits} - {""})
    return Cleaned(result.text, known + len(hits), tuple((["header_identifier"] if known else []) + kinds))
