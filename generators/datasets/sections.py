"""FINDINGS / IMPRESSION extraction from free-text radiology reports (MIMIC-CXR style).

Follows the conventions of MIMIC-CXR's own ``section_parser.py``: a section starts at a heading
at the start of a line and runs to the next heading; "FINDINGS AND IMPRESSION" and "CONCLUSION"
count as the impression; common misspellings are accepted. Headings are matched regardless of
case and spacing when they are known section names; unknown ALL-CAPS headings ("PA AND LATERAL
CHEST RADIOGRAPHS:") only end the previous section. Text is returned whitespace-normalised (MIMIC
wraps lines at ~78 characters), and a missing section is an empty string.
"""

from __future__ import annotations

import re

_FINDINGS = "findings"
_IMPRESSION = "impression"
_OTHER = "other"

_KNOWN: dict[str, str] = {
    # findings
    "findings": _FINDINGS, "finding": _FINDINGS, "findins": _FINDINGS, "findngs": _FINDINGS,
    "findnings": _FINDINGS, "finidngs": _FINDINGS, "findgings": _FINDINGS, "findindgs": _FINDINGS,
    "chest, two views": _FINDINGS, "reference findings": _FINDINGS,
    # impression (combined sections go to the impression, as in MIMIC's parser)
    "impression": _IMPRESSION, "impressions": _IMPRESSION, "impresson": _IMPRESSION,
    "imprression": _IMPRESSION, "imoression": _IMPRESSION, "impressoin": _IMPRESSION,
    "imprssion": _IMPRESSION, "impresion": _IMPRESSION, "imperssion": _IMPRESSION,
    "impession": _IMPRESSION, "conclusion": _IMPRESSION, "conclusions": _IMPRESSION,
    "findings and impression": _IMPRESSION, "impression and findings": _IMPRESSION,
    "findings/impression": _IMPRESSION, "impression/findings": _IMPRESSION,
    "final impression": _IMPRESSION,
    # everything else only ends a section
    **{name: _OTHER for name in (
        "final report", "examination", "exam", "type of examination", "indication", "indications",
        "clinical indication", "reason for exam", "reason for examination", "history",
        "clinical history", "patient history", "clinical information", "technique", "comparison",
        "comparisons", "comparison exam", "comparison film", "reference exam", "notification",
        "recommendation", "recommendations", "recommendation(s)", "addendum", "wet read", "wetread",
        "comment", "comments", "procedure", "pfi", "provisional findings impression", "date")},
}


def _name_pattern(name: str) -> str:
    """A known name with flexible spacing: 'findings and impression' matches 'FINDINGS  AND IMPRESSION'."""
    tokens = re.split(r"\s+", name)
    body = r"[ \t]+".join(re.escape(t) for t in tokens)
    return body.replace(r"/", r"[ \t]*/[ \t]*")


_KNOWN_RE = re.compile(
    r"^[ \t]*(?P<name>" + "|".join(_name_pattern(n) for n in sorted(_KNOWN, key=len, reverse=True))
    + r")[ \t]*(?P<colon>:)?",
    re.IGNORECASE | re.MULTILINE,
)
# An unknown heading: ALL-CAPS words followed by a colon at the start of a line.
_CAPS_RE = re.compile(r"^[ \t]*(?P<name>[A-Z][A-Z0-9 ()/,&\-]{2,80}?)[ \t]*:", re.MULTILINE)


def _normalise(text: str) -> str:
    return " ".join(text.split())


def _headings(text: str) -> list[tuple[int, int, str]]:
    """(start, end of heading, kind) for every heading, in order."""
    found: dict[int, tuple[int, str]] = {}
    for m in _KNOWN_RE.finditer(text):
        name = m.group("name")
        rest = text[m.end():].split("\n", 1)[0]
        # Without a colon a known name counts only as an ALL-CAPS line of its own ("FINAL REPORT").
        if m.group("colon") is None and not (name.isupper() and not rest.strip()):
            continue
        key = re.sub(r"\s*/\s*", "/", re.sub(r"\s+", " ", name.lower()))
        found[m.start()] = (m.end(), _KNOWN[key])
    for m in _CAPS_RE.finditer(text):
        if m.start() not in found and any(c.isalpha() for c in m.group("name")):
            found[m.start()] = (m.end(), _OTHER)
    return [(start, end, kind) for start, (end, kind) in sorted(found.items())]


def parse_sections(text: str) -> tuple[str, str]:
    """(findings, impression) of a free-text report; '' for a section the report lacks.

    A report with no headings at all is taken as findings only (a bare free-text note).
    """
    heads = _headings(text)
    if not heads:
        return _normalise(text), ""
    parts: dict[str, list[str]] = {_FINDINGS: [], _IMPRESSION: [], _OTHER: []}
    for i, (_, end, kind) in enumerate(heads):
        stop = heads[i + 1][0] if i + 1 < len(heads) else len(text)
        body = _normalise(text[end:stop])
        if body:
            parts[kind].append(body)
    return " ".join(parts[_FINDINGS]), " ".join(parts[_IMPRESSION])
