"""PHI detectors for report text, shared by the privacy validator and the report scrubber.

Pattern-based, in the spirit of the PhysioNet deid tool: each detector is a named regular
expression for one kind of identifier, plus rule-based name finding (titles, signature labels,
"discussed with ...", name lists). Clinical text is full of numbers (4.5 cm, 7th rib, T12, 1. list
items, 2 views) so number detectors need context (a label, a separator layout, a title), and
capitalised clinical words (Kerley B lines, Swan-Ganz, Support Devices) must never read as names.
MIMIC's de-identification blank ``___`` is not PHI.

Where a pattern has a group named ``p<k>``, the hit is that group (the value after a label), else
the whole match. Kinds: name, date, time, age (over 89), mrn, accession, id (long numbers, SSNs),
phone, email, url, address, hospital.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterator

from medmint.anonymize.text_vocab import (
    CLINICAL, CREDENTIALS, DAY_WORDS, EPONYM_NOUNS, EPONYMS, FUNCTION_WORDS, HOSPITAL_STOP, MONTH_WORDS,
    NEVER_NAMES, ROLE_WORDS, SECTION_WORDS, US_STATES, listed_names,
)

KINDS = ("name", "date", "time", "age", "mrn", "accession", "id", "phone", "email", "url", "address",
         "hospital")


@dataclass(frozen=True)
class PhiHit:
    kind: str
    start: int
    end: int
    text: str


def _rx(*alternatives: str, flags: int = 0) -> re.Pattern[str]:
    """One pattern from alternatives; each ``(?P<p>`` becomes a uniquely named value group."""
    return re.compile("|".join(a.replace("(?P<p>", f"(?P<p{i}>") for i, a in enumerate(alternatives)), flags)


_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
          r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_MM = r"(?:0?[1-9]|1[0-2])"
_DD = r"(?:0?[1-9]|[12]\d|3[01])"
_MM2, _DD2 = r"(?:0[1-9]|1[0-2])", r"(?:0[1-9]|[12]\d|3[01])"
_YYYY = r"(?:1[89]|20)\d{2}"
_ORD = r"(?:st|nd|rd|th)"
_AMPM = r"(?:[AaPp]\.[Mm]\.|[AaPp][Mm]\b)"
_HOURS = r"\s?(?:h|hr|hrs|hours)\b"
_AGE = r"(?:9\d|1[01]\d)"
_UP, _LO = "A-ZÀ-ÖØ-Þ", "a-zß-öø-ÿ"
_CAP = rf"[{_UP}][{_LO}]+"
_STATE = "(?:" + "|".join(sorted(US_STATES)) + ")"
_SUFFIX = (r"(?:Street|Avenue|Road|Boulevard|Lane|Drive|Court|Way|Place|Parkway|Highway|Terrace|Circle"
           r"|Square|Plaza|Trail|Row|Pike|Turnpike|Alley|Crescent"
           r"|(?:St|Ave|Rd|Blvd|Ln|Dr|Ct|Pl|Pkwy|Hwy|Ter|Cir|Sq)\b\.?)")
_UNIT = r"(?:,? (?:Apt|Apartment|Suite|Ste|Unit|Fl|Floor|Rm|Room|#)\.? ?#?\w+)?"
_CITY_STATE = rf"(?:{_CAP} ){{0,2}}{_CAP},? {_STATE}"
_ZIP = r" \d{5}(?:-\d{4})?"
_URL_TAIL = r"[^\s<>\"]*[^\s<>\".,;:!?)\]}'*]"
_TLD = r"\.(?:org|com|net|edu|gov|io|info)\b"
_INSTITUTIONS = (r"(?:Hospital|Medical Cent(?:er|re)|Health Cent(?:er|re)|Clinic|Infirmary|Healthcare"
                 r"|Health System|Cancer Cent(?:er|re)|Heart Institute|Rehabilitation Cent(?:er|re))\b")
_NUMBER_WORD = r"(?:#|No\.?|Number|Num)"
_MRN_LABEL = (rf"(?:MRN|MR\s?#|Med(?:ical)?\.?\s*Rec(?:ord)?\.?(?:\s*{_NUMBER_WORD})?|Unit\s*(?:No|#)\.?"
              rf"|Patient\s*ID|Pt\s*ID|Hosp(?:ital)?\s*{_NUMBER_WORD}|Chart\s*(?:#|No\.?))")
_NOT_A_QUANTITY = r"(?!\s*(?:m[lg]|cc|mm|cm|units?|%|x\b|-|/))"  # "at 1000 mL" is no time

DETECTORS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"(?<![\w.+'-])[\w.+'-]+@[\w-]+(?:\.[\w-]+)+\b"),
    "url": _rx(rf"\b(?:(?:https?|ftp)://|www\.){_URL_TAIL}",
               rf"(?<![@\w.-])[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*{_TLD}(?:/{_URL_TAIL})?", flags=re.I),
    "date": _rx(rf"\b{_DD}/{_DD}/(?:\d{{4}}|\d{{2}})\b(?!/)",
                rf"\b{_MM}-{_DD}-{_YYYY}\b",
                rf"\b{_DD}\.{_MM}\.{_YYYY}\b",
                rf"\b{_YYYY}[-/]{_MM2}[-/]{_DD2}\b",
                rf"(?<![\d.])(?:19|20)\d{{2}}{_MM2}{_DD2}(?!\.?\d)",
                rf"\b{_MONTH}\.? {_DD}{_ORD}?(?:,? {_YYYY})?(?!\d|\.\d)",
                rf"\b{_DD}{_ORD} (?:of )?{_MONTH}\b\.?(?:,? {_YYYY})?",
                rf"\b{_DD} {_MONTH}\.?,? {_YYYY}\b",
                rf"\b{_MONTH}\.?,? {_YYYY}\b",
                rf"\b(?:on|dated|since)\s+(?P<p>{_MM}/{_DD})\b(?![/\d])"),
    "time": _rx(rf"\b(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?:\s?{_AMPM})?(?![\d:])",
                rf"\b(?:1[0-2]|0?[1-9])\s?{_AMPM}",
                rf"\b(?:[01]\d|2[0-3])[0-5]\d{_HOURS}",
                rf"\bat\s+(?P<p>(?:[01]\d|2[0-3])[0-5]\d(?:{_HOURS})?)\b{_NOT_A_QUANTITY}"),
    "age": _rx(rf"\b(?P<p>{_AGE})(?=\s*-?\s*(?:years?|yrs?|yr)\b\s*-?\s*(?:old|of age)"
               r"|\s*-?\s*(?:y/?o|y\.o\.)(?!\w))",
               rf"\b(?:age|aged)\b\s*:?\s*(?P<p>{_AGE})\b",
               r"\b(?P<p>ninety(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?)"
               r"(?=[- ](?:years?|yrs?)[- ]old)",
               r"\bin\s+(?:his|her|their)\s+(?P<p>(?:90|100)['’]?s|nineties)\b",
               rf"\b(?P<p>{_AGE})\s?[MF](?=\s+(?:with|w/|s/p|presenting|who|h/o|hx)\b)",
               flags=re.I),
    "mrn": _rx(rf"\b{_MRN_LABEL}\s*[:#]?\s*(?P<p>[A-Z]{{0,3}}\d[\d-]{{3,}}\d)\b", flags=re.I),
    "accession": _rx(rf"\bAcc(?:ession)?\.?(?:\s*{_NUMBER_WORD})?\s*[:#]?\s*"
                     r"(?P<p>[A-Z]{0,4}\d[\d-]{3,}\d)\b", flags=re.I),
    "id": _rx(r"(?<![\d.])\d{7,}(?!\.?\d)", r"\b\d{3}-\d{2}-\d{4}\b"),
    "phone": _rx(r"(?<![\w.+-])(?:\+?1[-. ]?)?(?:\(\d{3}\)[-. ]?|\d{3}[-. ])\d{3}[-. ]\d{4}"
                 r"(?:,? ?(?:ext\.?|extension|x) ?\d{1,5})?(?![\w-]|\.\d)",
                 r"\b(?:ext|extension)\.? ?(?P<p>\d{1,5})\b",
                 r"\bx\d{4,5}\b",
                 rf"\b(?:pager|beeper|pgr|phone|tel|telephone|fax|cell|mobile)\b\.?\s*{_NUMBER_WORD}?\s*:?\s*"
                 r"(?P<p>\d[\d-]{2,}\d)\b", flags=re.I),
    "address": _rx(rf"\b\d{{1,6}}[A-Z]? (?:(?:N|S|E|W|North|South|East|West)\.? )?"
                   rf"(?:(?:{_CAP}|\d+{_ORD}) ){{1,3}}{_SUFFIX}{_UNIT}(?:, {_CITY_STATE}\b(?:{_ZIP})?)?",
                   rf"\b{_CITY_STATE}{_ZIP}\b",
                   r"\bP\.? ?O\.? Box \d+\b"),
    "hospital": _rx(rf"\b(?:(?:St|Mt)\. |Saint |Mount )?(?:{_CAP}(?:['’]s)? (?:(?:and|of|&) )?){{1,4}}"
                    rf"{_INSTITUTIONS}(?: (?:of|for) (?:the )?(?:{_CAP} (?:of )?){{0,3}}{_CAP})?"),
}


def _value_span(m: re.Match[str]) -> tuple[int, int]:
    for name, value in m.groupdict().items():
        if value is not None and name.startswith("p"):
            return m.span(name)
    return m.span()


_INSTITUTION = re.compile(r"\b(?:Hospital|Medical|Health|Clinic|Infirmary|Healthcare|Cancer|Heart"
                          r"|Rehabilitation)\b")
_GENERIC = HOSPITAL_STOP | SECTION_WORDS | FUNCTION_WORDS | CLINICAL


def _trim_hospital(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Drop leading generic words ("Outside Hospital", "The Cardiology Clinic"); none left: no name."""
    suffix = _INSTITUTION.search(text, start, end)
    for w in re.finditer(r"\S+", text[start : suffix.start() if suffix else end]):
        if w.group().lower().rstrip(".") not in _GENERIC:
            return start + w.start(), end
    return None


_RATIO = re.compile(r"(?:ratio|dilution|titer|titre|rate)\s*(?:of\s*)?(?:about\s*)?$", re.I)


def _not_ratio(text: str, start: int, end: int) -> tuple[int, int] | None:
    """"Dilution 1:10" and "ratio of 2:30" are no times of day."""
    return None if _RATIO.search(text, max(0, start - 24), start) else (start, end)


_POST: dict[str, Callable[[str, int, int], tuple[int, int] | None]] = {
    "hospital": _trim_hospital, "time": _not_ratio}


def _pattern_hits(text: str) -> Iterator[PhiHit]:
    for kind, rx in DETECTORS.items():
        post = _POST.get(kind)
        for m in rx.finditer(text):
            span = _value_span(m) if post is None else post(text, *_value_span(m))
            if span is not None and span[1] > span[0]:
                yield PhiHit(kind, span[0], span[1], text[span[0] : span[1]])


# ----------------------------------------------------------------------------------------------
# Names
# ----------------------------------------------------------------------------------------------

# One name word: Smith, O'Neil, McDonald, Smith-Jones, SMITH, O'BRIEN (a possessive 's may follow); or an
# initial (J. / J).
_WORD = rf"[{_UP}](?:[{_LO}]+|['’][{_UP}][{_LO}]+)(?:[{_UP}][{_LO}]+)?"
_CAPS = rf"(?:[{_UP}]['’])?[{_UP}]{{2,}}"
_END = r"(?=['’]s\b|[^\w'’-]|$)"
_NAME_TOKEN = re.compile(rf"(?:{_WORD}|{_CAPS})(?:-(?:{_WORD}|{_CAPS}))*{_END}|[{_UP}]\.(?!\w)|[{_UP}](?= )")
_PARTICLE = re.compile(r"(?:(?:de|del|della|der|den|van|von|da|di|du|le|la|bin|ibn|al|ben)[ \t])+")
_SPACE = re.compile(r"[ \t](?=\S)")
_COMMA = re.compile(r",[ \t]?(?=\S)")
_ROLES = ROLE_WORDS | CREDENTIALS
_STRONG_STOP = FUNCTION_WORDS | CREDENTIALS | MONTH_WORDS | DAY_WORDS | SECTION_WORDS | ROLE_WORDS

_TITLE = re.compile(rf"\b(?:(?:Dr|Mr|Mrs|Ms|Mx|Prof)\b\.?|Miss\b|Doctor\b|DR\.)[ \t]{{1,2}}"
                    rf"(?=[{_UP}]|{_PARTICLE.pattern}[{_UP}])")
_LABEL = re.compile(
    r"\b(?:(?:electronically\s+)?signed(?:\s+by)?|attending(?:\s+(?:physician|radiologist))?|radiologist"
    r"|(?:referring|ordering)(?:\s+(?:physician|doctor|provider|md|clinician))?"
    r"|(?:dictated|read|reviewed|interpreted|transcribed|verified|approved|reported)\s+by"
    r"|resident|fellow|technologist|tech|patient(?:\s+name)?|name|pcp|primary\s+care(?:\s+physician)?"
    r"|provider|physician|cc)\s*:[ \t]*", re.I)
_CUE = re.compile(
    r"\b(?:discussed(?:\s+(?:this|these\s+findings|the\s+findings|the\s+results|results))?\s+with|d/w|per"
    r"|called(?:\s+to)?|notified|paged|informed|told|reviewed\s+with|telephoned"
    r"|(?:communicated|conveyed|relayed|reported|spoke|spoken|talked)\s+(?:to|with)"
    r"|(?:read|seen|reviewed|interpreted|performed|dictated|signed|approved|verified|transcribed|examined"
    r"|evaluated)\s+by|cc)[ \t]+", re.I)
_LAST_FIRST_CAPS = re.compile(rf"\b{_CAPS}(?:-{_CAPS})?, ?{_CAPS}\b")
_LIST_TOKEN = re.compile(rf"(?<![\w'’-]){_WORD}(?:-{_WORD})*{_END}")


def _low(text: str, span: tuple[int, int]) -> str:
    return text[span[0] : span[1]].lower().rstrip(".")


def _tokens_after(text: str, pos: int, *, comma_form: bool, max_words: int = 5) -> list[tuple[int, int]]:
    """Name-shaped words from ``pos`` on, one space apart ("Ana de la Cruz"; ``LAST, FIRST`` if allowed)."""
    out: list[tuple[int, int]] = []
    while len(out) < max_words:
        m = _NAME_TOKEN.match(text, pos)
        if m is None:
            particle = _PARTICLE.match(text, pos)
            if particle and _NAME_TOKEN.match(text, particle.end()):
                out.append((pos, particle.end() - 1))
                pos = particle.end()
                continue
            break
        out.append(m.span())
        pos = m.end()
        if sep := _SPACE.match(text, pos):
            pos = sep.end()
            continue
        comma = _COMMA.match(text, pos) if comma_form and len(out) == 1 else None
        after = _NAME_TOKEN.match(text, comma.end()) if comma else None
        if after is None or _low(text, after.span()) in CREDENTIALS:
            break
        pos = after.start()
    return out


def _initial(text: str, span: tuple[int, int]) -> bool:
    return span[1] - span[0] <= 2 and text[span[0]].isupper() and text[span[0] + 1 : span[1]] in ("", ".")


def _strong_name(text: str, tokens: list[tuple[int, int]], *, titled: bool) -> tuple[int, int] | None:
    """After a title or label: the words up to the first non-name word (credential, weekday, section
    word, clinical word -- though "Dr. Small" is a name); None when there is no name word."""
    keep: list[tuple[int, int]] = []
    for t in tokens:
        low = _low(text, t)
        if low in _STRONG_STOP or (keep or not titled) and low in CLINICAL:
            break
        keep.append(t)
    if not keep or all(_initial(text, t) for t in keep):
        return None
    return keep[0][0], keep[-1][1]


def _is_eponym_use(text: str, end: int) -> bool:
    """The word ending at ``end`` is followed by a clinical noun: "Jones fracture", "Wilson's disease"."""
    m = re.match(r"(?:['’]s)?[ -]([A-Za-z]+)", text[end : end + 24])
    return bool(m and m.group(1).lower() in EPONYM_NOUNS)


def _weak_ok(text: str, span: tuple[int, int]) -> bool:
    word = text[span[0] : span[1]]
    low = word.lower()
    return (not word.isupper() and low not in NEVER_NAMES and not any(p in EPONYMS for p in low.split("-"))
            and not _is_eponym_use(text, span[1]))


def _weak_name(text: str, tokens: list[tuple[int, int]]) -> tuple[int, int] | None:
    """A name without a title: Title-case words, none clinical, and a single word must be on a name list."""
    while tokens and _low(text, tokens[0]) in _ROLES:  # "notified nurse Jane Doe", "PA Jane Doe"
        tokens = tokens[1:]
    keep: list[tuple[int, int]] = []
    for t in tokens:
        if not (_weak_ok(text, t) or keep and _initial(text, t) and text[t[1] - 1] == "."):
            break
        keep.append(t)
    while keep and _initial(text, keep[-1]):
        keep.pop()
    if not keep:
        return None
    if len(keep) == 1 and _low(text, keep[0]) not in listed_names():
        return None
    return keep[0][0], keep[-1][1]


_WORD_BEFORE = re.compile(rf"(?<![\w'’-])(?:{_WORD}|[{_UP}]\.) $")


def _extend_back(text: str, start: int, most: int = 2) -> int:
    """Take in up to ``most`` name words just before a listed name ("Kwame Okafor", only Okafor listed)."""
    for _ in range(most):
        m = _WORD_BEFORE.search(text, max(0, start - 40), start)
        word = (m.start(), m.end() - 1) if m else (start, start)
        if m is None or not (_weak_ok(text, word) or _initial(text, word)):
            break
        start = word[0]
    return start


def find_names(text: str) -> list[PhiHit]:
    """Person names: after titles and signature labels, after "discussed with"-style cues, and from the
    name lists (a listed name, with the name words around it, unless an eponym: "Jones fracture")."""
    spans: list[tuple[int, int] | None] = []
    for m in _TITLE.finditer(text):
        spans.append(_strong_name(text, _tokens_after(text, m.end(), comma_form=False), titled=True))
    for m in _LABEL.finditer(text):
        title = _TITLE.match(text, m.end())
        tokens = _tokens_after(text, title.end() if title else m.end(), comma_form=True)
        spans.append(_strong_name(text, tokens, titled=title is not None))
    for m in _CUE.finditer(text):
        if not _TITLE.match(text, m.end()):
            spans.append(_weak_name(text, _tokens_after(text, m.end(), comma_form=False, max_words=3)))
    listed = listed_names()
    for m in _LAST_FIRST_CAPS.finditer(text):
        last, first = (w.lower() for w in re.split(r", ?", m.group()))
        if (last in listed or first in listed) and not {last, first} & NEVER_NAMES:
            spans.append(m.span())
    found = [s for s in spans if s]
    covered = bytearray(len(text))
    for s, e in found:
        covered[s:e] = b"\x01" * (e - s)
    for m in _LIST_TOKEN.finditer(text):
        if m.group().lower() not in listed or covered[m.start()] or not _weak_ok(text, m.span()):
            continue
        span = _weak_name(text, _tokens_after(text, m.start(), comma_form=False, max_words=3))
        if span:
            span = (_extend_back(text, span[0]), span[1])
            found.append(span)
            covered[span[0] : span[1]] = b"\x01" * (span[1] - span[0])
    return [PhiHit("name", s, e, text[s:e]) for s, e in found]


def find_phi(text: str) -> list[PhiHit]:
    """Every detector's hits, sorted by position (overlaps kept: each names its kind)."""
    hits = set(_pattern_hits(text)) | set(find_names(text))
    return sorted(hits, key=lambda h: (h.start, -h.end, h.kind))


__all__ = ["DETECTORS", "KINDS", "PhiHit", "find_names", "find_phi"]
