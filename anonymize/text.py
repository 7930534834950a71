"""Report PHI scrubbing: find identifiers in a radiology report and replace them.

    scrub_report(text)                          # MIMIC-style blanks: "Dr. ___ at ___"
    scrub_report(text, "tag")                   # typed tags: "Dr. [NAME] at [TIME]"
    scrub_report(text, "surrogate", key=secret) # consistent fakes: "Dr. Traveck at 15:42"

Detection is ``medmint.anonymize.phi_text`` (patterns, titles, signature labels, cues such as
"discussed with", name lists; offline, no models). Overlapping hits merge into one replacement,
named after the longest of them. ``backend="presidio"`` adds Microsoft Presidio's recognizers when the
optional ``phi`` extra is installed (``pip install 'medmint[phi]'``); the default needs nothing.

Surrogates (``medmint.anonymize.text_surrogates``) are keyed: the same value maps to the same fake
within and across reports scrubbed with the same ``key``. Without a key a fresh random one is drawn
for the call, so surrogates are consistent within that report only and cannot be reproduced or
linked -- pass a key (the corpus secret) for corpora.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from medmint.anonymize.phi_text import KINDS, PhiHit, find_phi
from medmint.anonymize.text_surrogates import Surrogates

MODES = ("blank", "tag", "surrogate")
BACKENDS = ("builtin", "presidio")
BLANK = "___"
# Which kind names a merged replacement when two overlapping hits are equally long.
_PRIORITY = {k: i for i, k in enumerate(("url", "email", "address", "hospital", "phone", "mrn", "accession",
                                         "date", "time", "age", "name", "id"))}


@dataclass(frozen=True)
class ScrubResult:
    text: str  # the scrubbed report
    hits: tuple[PhiHit, ...]  # what was replaced (kind, start, end, text in the ORIGINAL)


def merge_hits(text: str, hits: list[PhiHit]) -> tuple[PhiHit, ...]:
    """Overlapping hits become one, spanning them all, named after the longest (ties: ``_PRIORITY``)."""
    merged: list[PhiHit] = []
    group: list[PhiHit] = []

    def close() -> None:
        if group:
            start, end = group[0].start, max(h.end for h in group)
            best = min(group, key=lambda h: (-(h.end - h.start), _PRIORITY.get(h.kind, len(_PRIORITY))))
            merged.append(PhiHit(best.kind, start, end, text[start:end]))

    for hit in sorted(hits, key=lambda h: (h.start, -h.end)):
        if group and hit.start >= max(h.end for h in group):
            close()
            group = []
        group.append(hit)
    close()
    return tuple(merged)


def detect(text: str, *, backend: str = "builtin") -> tuple[PhiHit, ...]:
    """The merged PHI hits in ``text`` (what ``scrub_report`` replaces)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    hits = find_phi(text)
    if backend == "presidio":
        from medmint.anonymize.text_presidio import presidio_hits

        hits += presidio_hits(text)
    return merge_hits(text, hits)


def scrub_report(text: str, mode: str = "blank", *, key: bytes | None = None, backend: str = "builtin",
                 date_shift_days: int | None = None) -> ScrubResult:
    """Replace the PHI in ``text``: ``mode`` "blank" (``___``), "tag" (``[NAME]``, ``[DATE]``, ...) or
    "surrogate" (keyed consistent fakes; ``date_shift_days`` overrides the key's date shift, e.g. to
    match the per-patient shift of the DICOM side). ``hits`` locate what was replaced in ``text``."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    if key is not None and not isinstance(key, (bytes, bytearray)):
        raise TypeError(f"key must be bytes, not {type(key).__name__}")
    hits = detect(text, backend=backend)
    if mode == "surrogate":
        fake = Surrogates(bytes(key) if key is not None else os.urandom(32), date_shift_days=date_shift_days)
    out: list[str] = []
    pos = 0
    for h in hits:
        new = BLANK if mode == "blank" else f"[{h.kind.upper()}]" if mode == "tag" else fake(h.kind, h.text)
        out += [text[pos : h.start], new]
        pos = h.end
    out.append(text[pos:])
    return ScrubResult("".join(out), hits)


__all__ = ["BACKENDS", "KINDS", "MODES", "ScrubResult", "detect", "merge_hits", "scrub_report"]
