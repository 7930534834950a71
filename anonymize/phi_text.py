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
    CLINICAL, COMMON_WORDS, CREDENTIALS, DAY_WORDS, EPONYM_NOUNS, EPONYMS, FUNCTION_WORDS, HOSPITAL_STOP,
    MONTH_WORDS, NAME_CUES, NAME_ROLES, NEVER_NAMES, NOT_A_NAME_WORD, ROLE_WORDS, SECTION_WORDS, US_STATES,
    listed_names,
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


_MONTH_PARTS = (("Jan", "uary"), ("Feb", "ruary"), ("Mar", "ch"), ("Apr", "il"), ("May", ""), ("Jun", "e"),
                ("Jul", "y"), ("Aug", "ust"), ("Sept", "ember"), ("Sep", "tember"), ("Oct", "ober"), ("Nov", "ember"),
                ("Dec", "ember"))
# A month name or abbreviation in Title or upper case ("Jan", "JAN", "January"; "may" is a verb).
_MONTH = "(?:" + "|".join(f"{a}(?:{r})?|{a.upper()}(?:{r.upper()})?" if r else f"{a}|{a.upper()}"
                          for a, r in _MONTH_PARTS) + ")"
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
# UK (NW1 6XE) and Canadian (M5S 1W6) postcodes: letters and digits in a layout clinical text never uses
_POSTCODE = r"(?:[A-Z]{1,2}\d[A-Z\d]? \d[ABD-HJLNP-UW-Z]{2}|[A-Z]\d[A-Z] \d[A-Z]\d)"
_PARTICLES = r"(?:(?:de|del|della|des|du|la|le|les|das|dos|da|do|di|von|van|der|den|y|e)(?: |'))+"
_STREET_FIRST = (r"(?:Rue|rue|Via|Viale|Calle|Avenida|Av\.|Rua|Piazza|Praça|Praca|Paseo|Carrer|Chemin|Strada|Rambla"
                 r"|Largo|Travessa|Boulevard|Bd\.|Avenue|Place|Plaza|Ulica|ul\.|Quai|quai|Cours|Impasse|Allée|Allee|Route"
                 r"|Chaussée|Chaussee|Camino|Corso|Vicolo|Travesía|Avinguda|Passeig|Estrada|Alameda)")
_STREET_COMPOUND = r"(?:strasse|straße|str|gasse|weg|allee|platz|damm|ufer|straat|laan|gracht|plein|vej|gatan|gade|veien)"
_STREET_WORD = (r"(?:Street|Avenue|Road|Boulevard|Lane|Drive|Terrace|Parkway|Highway|Turnpike|Crescent|Close|Gardens"
                r"|Mews)")
# US states whose codes are no common report word (MD and PA are credentials and views, OR a room, ...)
_STATE_SAFE = "(?:" + "|".join(sorted(US_STATES - {"MD", "PA", "OR", "IN", "ME", "OK", "HI", "ID", "DE", "CO", "CT",
                                                   "MS", "MI", "AL", "LA", "GA", "DC", "PR", "SC", "NE", "VA"})) + ")"
_STATE_NAME = ("(?:Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|Hawaii"
               "|Idaho|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota"
               "|Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|New Mexico|New York"
               "|North Carolina|North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|Rhode Island|South Carolina"
               "|South Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington|West Virginia|Wisconsin|Wyoming"
               "|Ontario|Quebec|Alberta|Manitoba)")
# After a street: ", City[, ST|Province][ postcode]" or ", 75002 Paris" (a comma is needed before a city)
_PLACE_TAIL = (rf"(?:,? (?:\d{{4,5}} )?{_CAP}(?:[ -]{_CAP}){{0,2}}(?:,? (?:[A-Z]{{2}}|{_STATE_NAME}))?"
               rf"(?:,? (?:\d{{5}}(?:-\d{{4}})?|{_POSTCODE}))?(?=[.,;)\n]|\s*$|\s+[a-z(]))?")
_URL_TAIL = r"[^\s<>\"]*[^\s<>\".,;:!?)\]}'*]"
_TLD = (r"\.(?:org|com|net|edu|gov|io|info|health|care|us|uk|ca|au|nz|ie|fr|de|it|es|pt|nl|be|ch|at|se|no|dk|fi"
        r"|pl|br|mx|ar|in|jp|cn|kr|sg|za|eu)\b(?![.-]?\w)")
_INSTITUTIONS = (r"(?:Hospital|Medical Cent(?:er|re)|Health Cent(?:er|re)|Clinic|Infirmary|Healthcare"
                 r"|Health System|Cancer Cent(?:er|re)|Heart Institute|Rehabilitation Cent(?:er|re))\b")
_NUMBER_WORD = r"(?:#|No\.?|Number|Num)"
_MRN_LABEL = (rf"(?:MRN|MR\s?#|Med(?:ical)?\.?\s*Rec(?:ord)?\.?(?:\s*{_NUMBER_WORD})?|Unit\s*(?:No|#)\.?"
              rf"|Patient\s*ID|Pt\s*ID|Hosp(?:ital)?\s*{_NUMBER_WORD}|Chart\s*(?:#|No\.?))")
# Labels of HIPAA's other identifiers (SSN, health plan, account, licence, vehicle, device, biometric, photo
# and other unique numbers) and the value after them: a run of letters, digits and -_/.() with a digit
_ID_LABEL = (r"\b(?:ssn|ss\s?#|social\s+security(?:\s+(?:number|no\.?|#))?|last\s+four(?:\s+digits)?\s+of(?:\s+the)?\s+ssn"
             r"|nhs|insurance(?:\s+member)?|member|subscriber|policy|group\s+(?:number|no\.?|#|id)|medicare|medicaid"
             r"|beneficiary|health\s+plan|plan\s+(?:number|id)|hicn|mbi"
             r"|account|acct|billing|encounter|visit\s+(?:number|no\.?|#|id)|fin|csn|har|invoice"
             r"|licen[cs]e|npi|dea|certificate|certification|cert|driver'?s\s+licen[cs]e|permit"
             r"|vin|(?:licen[cs]e\s+)?plate|registration|tag\s+(?:number|no\.?|#)"
             r"|serial|s/n|sn|device\s+id|udi|imei|mac\s+address"
             r"|fingerprint|finger\s?print|palm(?:\s+vein)?(?:\s+scan)?|retina[l]?(?:\s+scan)?|iris(?:\s+scan)?|voice\s?print"
             r"|biometric|face\s+scan|photo|photograph|picture"
             r"|subject|participant|trial|badge|employee|specimen|order|requisition|claim|case\s+(?:number|no\.?|#)"
             r"|prisoner|inmate|booking|passport|reference|ref|confirmation|tracking|ticket|mrn|study\s+id|patient\s+id)"
             r"(?:\s+(?:template|scan|file|number|num|no\.?|#|id|identifier|code))*\s*(?:is\s+|of\s+)?[:#]?\s*"
             r"(?:(?:[A-Z]{2}|no\.?|#)\s+(?=\S*\d))?")
_ID_VALUE = (r"(?=[\w()/.-]{0,40}\d)(?:\(\d{2,4}\)|[A-Za-z0-9])[\w()/.-]{2,}[A-Za-z0-9)]"
             r"(?:\s[A-Z]{3}\b|(?:\s\d{2,4}){1,2}\b(?!\s*(?:mm|cm|mg|ml|%)))?")
_NOT_A_QUANTITY = r"(?!\s*(?:m[lg]|cc|mm|cm|units?|%|x\b|-|/))"  # "at 1000 mL" is no time
_NOT_AFTER_DAY = (r"(?![\w%]|\s*(?:mm|cm|mg|mcg|ml|cc|kg|g|l|units?|x|views?|hours?|hrs?|days?|weeks?|wks?"
                  r"|months?|years?|yrs?|minutes?|mins?|times|beats|breaths|points?|percent|mmhg|meq)\b|\.\d)")
_YY = r"(?:{0}|'?\d{{2}})".format(_YYYY)
# Words after which "4/12" is a date ("on 4/12", "radiograph obtained 7/22"), never a fraction, grade
# or score ("4/5 strength", "grade 2/6", "2/3 of the way").
_DATE_CUE = (r"(?:on|dated|since|until|till|thru|through|before|after|dos|dob|d\.o\.b\.|obtained|performed|done"
             r"|placed|taken|acquired|admitted|discharged|compared\s+(?:with|to)|comparison:?|prior:?"
             r"|(?:study|exam|examination|radiograph|radiographs|film|films|x-ray|xray|cxr|ct|cta|mri|scan|imaging"
             r"|images|ultrasound|echo|one|that)\s+(?:from|of|on|dated|done|obtained))")
_NOT_A_FRACTION = (r"(?![/\d])(?!\s*(?:of\b|strength|power|murmur|pain|motor|sensation|reflex|muscle|grade|score"
                   r"|scale|ratio|dilution|split|cm|mm|ml|mg|%))")

DETECTORS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"(?<![\w.+'-])[\w.+'-]+@[\w-]+(?:\.[\w-]+)+\b"),
    "url": _rx(rf"\b(?:(?:https?|ftp)://|www\.){_URL_TAIL}",
               rf"(?<![@\w.-])[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*{_TLD}(?:/{_URL_TAIL})?", flags=re.I),
    "date": _rx(rf"\b{_DD}/{_DD}/(?:\d{{4}}|\d{{2}})\b(?!/)",
                rf"\b{_DD}-{_DD}-{_YYYY}\b",
                rf"\b{_DD}\.{_MM}\.{_YYYY}\b",
                rf"\b{_YYYY}([-/.]){_MM2}\1{_DD2}\b",
                rf"(?<![\d.])(?:19|20)\d{{2}}{_MM2}{_DD2}(?!\.?\d)",
                # day month [year]: 5 January 2020, 05JAN2020, 14-Feb-21, 5th of January, 1st March 2022
                rf"\b{_DD}(?:{_ORD}(?: of)? |[-/ .]?){_MONTH}(?![A-Za-z])\.?(?:,? {_YYYY}\b|[-/.]?{_YY}\b)?(?![-/]?\d)",
                # month day [year]: Jan 5th, Jan-05-2020, JAN 15 2018, March 3, 2020, January the 5th
                rf"\b{_MONTH}\.?(?: the)?[-/ ]?{_DD}(?:{_ORD}\b|\b)(?:,?[-/ ]{_YYYY}\b)?{_NOT_AFTER_DAY}",
                # month year: June 2019, Sept. 2018, Dec-2019, January of 2020
                rf"\b{_MONTH}\b\.?(?:,| of)?[-/ ]?{_YYYY}\b",
                rf"\b{_YYYY}[-/ ]{_MONTH}\b\.?[-/ ]?{_DD}\b",
                # month/year and year-month: 2/2018, 03/2017, 2017-03
                rf"(?<![\d/.-]){_MM}/{_YYYY}\b(?![/\d])",
                rf"(?<![\d/.-]){_YYYY}-{_MM2}\b(?![-/]\d)",
                rf"(?i:\b{_DATE_CUE}\s+(?:the\s+)?)(?P<p>{_MM}/{_DD})\b{_NOT_A_FRACTION}"),
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
    "mrn": _rx(rf"\b{_MRN_LABEL}\s*[:#]?\s*(?P<p>[A-Z]{{0,4}}-?\d[\d-]{{3,}}\d)\b", flags=re.I),
    "accession": _rx(rf"\bAcc(?:ession)?\.?(?:\s*{_NUMBER_WORD})?\s*[:#]?\s*"
                     r"(?P<p>[A-Z]{0,4}\d[\d-]{3,}\d)\b", flags=re.I),
    "id": _rx(r"(?<![\d.])\d{7,}(?:-\d{1,4})?(?!\.?\d)", r"\b\d{3}([- ])\d{2}\1\d{4}\b",
              rf"(?i:{_ID_LABEL})(?P<p>{_ID_VALUE})",
              # IPv4 addresses, VINs, GS1 device identifiers (UDI), photo files
              r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d]|\.\d)",
              r"\b(?=[A-HJ-NPR-Z\d]{0,16}\d)(?=[A-HJ-NPR-Z\d]{0,16}[A-HJ-NPR-Z])[A-HJ-NPR-Z\d]{17}\b",
              r"(?:\(\d{2,4}\)[\dA-Z]{2,20}){2,}",
              r"\b[A-Za-z_-]{0,20}\d[\w-]{0,40}\.(?:jpe?g|png|gif|tiff?|heic|bmp|dcm|JPE?G|PNG|GIF|TIFF?|HEIC|BMP|DCM)\b"),
    "phone": _rx(r"(?<![\w.+-])(?:\+?1[-. ]?)?(?:\(\d{3}\)[-. ]?|\d{3}[-. ])\d{3}[-. ]\d{4}"
                 r"(?:,? ?(?:ext\.?|extension|x) ?\d{1,5})?(?![\w-]|\.\d)",
                 r"\b(?:ext|extension)\.? ?(?P<p>\d{1,5})\b",
                 r"\bx\d{4,5}\b",
                 rf"\b(?:pager|beeper|pgr|phone|tel|telephone|fax|faxed\s+to|cell|mobile|callback|call\s*back)\b\.?"
                 rf"(?:\s*(?:{_NUMBER_WORD}|is|to|at|line)\b\.?)*\s*:?\s*#?"
                 r"(?P<p>\+?\d[\d-]{2,}\d|\+?\(?\d{1,4}\)?(?:[ .-]\(?\d{1,4}\)?){1,5})(?![\w-]|[ .-]\d)",
                 # international: +44 20 7946 0958, +33 1 42 68 53 00, +49 30 901820
                 r"(?<![\w+])\+(?!1\b)\d{1,3}(?:[ .-]\(?0?\)?\d{1,8}){2,5}(?![\w-]|\.\d)", flags=re.I),
    "address": _rx(rf"\b\d{{1,6}}[A-Z]? (?:(?:N|S|E|W|North|South|East|West)\.? )?"
                   rf"(?:(?:{_CAP}|\d+{_ORD}) ){{1,3}}{_SUFFIX}(?: (?:North|South|East|West|N|S|E|W)\b\.?)?{_UNIT}"
                   rf"{_PLACE_TAIL}",
                   # street type first (Rue, Via, Calle, ...): [14 ]Rue Beaumont[ 12][, 75002 Paris]
                   rf"(?:\b\d{{1,5}}[A-Za-z]?,? )?\b{_STREET_FIRST} (?:{_PARTICLES})?{_CAP}(?: (?:{_PARTICLES})?{_CAP})*"
                   rf"(?:,? \d{{1,5}}[A-Za-z]?\b)?{_PLACE_TAIL}",
                   # street type last in one word: Hauptstrasse 12, Kastanienallee 5
                   rf"\b[{_UP}][{_LO}]+{_STREET_COMPOUND}\.? \d{{1,4}}[a-z]?\b{_PLACE_TAIL}",
                   # a named street without a number: Boylston Street, Chestnut Hill Avenue
                   rf"\b(?:{_CAP} ){{1,2}}{_STREET_WORD}\b",
                   rf"\b{_CITY_STATE}{_ZIP}\b",
                   rf"\bP\.? ?O\.? Box \d+\b{_PLACE_TAIL}",
                   # city with a state: Framingham, MA / Brattleboro, Vermont
                   rf"\b(?:{_CAP} ){{0,2}}{_CAP}, (?:{_STATE_SAFE}|{_STATE_NAME})\b(?!-)",
                   rf"\b(?:{_CAP} ){{0,2}}(?:County|Parish|Township|Borough)\b",
                   rf"(?i:\b(?:zip|postal|post)\s*(?:code)?\s*(?:is\s*)?:?\s*)(?P<p>\d{{5}}(?:-\d{{4}})?|{_POSTCODE})",
                   rf"\b{_POSTCODE}\b"),
    "hospital": _rx(rf"\b(?:(?:St|Mt)\. |Saint |Mount )?(?:{_CAP}(?:['’]s)? (?:(?:and|of|&) )?){{1,4}}"
                    rf"{_INSTITUTIONS}(?: (?:of|for) (?:the )?(?:{_CAP} (?:of )?){{0,3}}{_CAP})?"),
}


# Patterns that may overlap another pattern of the same kind (a regular expression's alternatives
# cannot: the first to match consumes the text), each with its kind.
CONTEXT_DETECTORS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # lives in Chicopee / resident of Hampden County / near Brattleboro: the place after the cue
    ("address", _rx(rf"\b(?i:(?:lives|living|live|resides|residing|resident|residents|native|relocated|moved"
                    rf"|home(?:less)?|farm(?:er|ing)?|works?|working|born)(?:\s+\w+){{0,3}}?\s+(?:in|at|near|of|from))"
                    rf"\s+(?P<p>(?:{_CAP} ){{0,2}}{_CAP})\b")),
)


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
    for kind, rx in (*DETECTORS.items(), *CONTEXT_DETECTORS):
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

_TITLE = re.compile(rf"\b(?:(?:Dr|Drs|Mr|Mrs|Ms|Mx|Prof|dr|drs|prof|DRS?|PROF)\b\.?|Miss\b|(?:Doctor|doctor|DOCTOR)\b"
                    rf"|(?:MRS?|MS)\.)[ \t]{{1,2}}(?=[{_UP}]|{_PARTICLE.pattern}[{_UP}])")
# A lower-case name after a title ("dr smith", "dr. o'hanlon", "doctor nakamura-ellis")
_TITLE_LOWER = re.compile(r"\b(?i:(?P<t>dr|drs|doctor)\b\.?)[ \t]{1,2}(?P<n>[a-z][a-z'’]+(?:-[a-z][a-z'’]+)*)\b"
                          r"(?:[ \t](?P<m>[a-z][a-z'’]+(?:-[a-z][a-z'’]+)*)\b)?")
_AND_NAME = re.compile(r"(?:,[ \t]*|[ \t]*(?:,[ \t]*)?(?:and|&)[ \t]+)(?:(?:Dr|Drs)\.?[ \t]+)?")
_LABEL = re.compile(
    r"\b(?:(?:electronically\s+)?signed(?:\s+by)?|attending(?:\s+(?:physician|radiologist))?|radiologist"
    r"|(?:referring|ordering)(?:\s+(?:physician|doctor|provider|md|clinician))?"
    r"|(?:dictated|read|reviewed|interpreted|transcribed|verified|approved|reported)\s+by"
    r"|resident|fellow|technologist|tech|patient(?:\s+name)?|name|pcp|primary\s+care(?:\s+physician)?"
    r"|provider|physician|cc)\s*:[ \t]*", re.I)
_CUE = re.compile(r"\b(?:" + "|".join(NAME_CUES) + r")[ \t]+", re.I)
_ROLE = re.compile(r"\b(?:" + "|".join(re.escape(r).replace(r"\ ", r"[ \t]+") for r in NAME_ROLES) + r")\b(?!['’-])",
                   re.I)
# Roles that are also other words (PA view, RT = right, tech) need two name words or a listed name.
_AMBIGUOUS_ROLES = frozenset("pa pa-c rt tech pt".split())
# Words between a cue or role and the name: "discussed with the patient's covering nurse, Anne"
_FILLER = frozenset("""the a an his her their its our my your this that patient's pt's covering on-call oncall
    ordering referring primary overnight night day evening morning icu micu sicu ccu ed er floor same new and
    bedside unit's team's own""".split())
_WORD_AT = re.compile(r"[\w'’-]+")
_GAP = re.compile(r"[ \t]*(?:[,(:][ \t]*|-[ \t]+|[ \t])")
_LOWER_TOKEN = re.compile(r"[a-z][a-z'’]+(?:-[a-z][a-z'’]+)*\b")
_PAIR = re.compile(rf"(?<![\w'’.-])(?:{_WORD}(?:-{_WORD})*)(?:[ \t]+(?:[{_UP}]\.[ \t]+)?{_WORD}(?:-{_WORD})*){{1,2}}{_END}")
_PAIR_BEFORE = frozenset("the a an this that these those".split())
_PAIR_NEXT = re.compile(r"(?:['’]s)?(?:[ \t]*(?:[,;:)!?]|\.(?!\w)|$)|[ \t]+(?P<w>[a-z]+)\b)")
_PAIR_VERBS = frozenset("""was is has had will would who reports reported says said states stated agrees agreed
    called notified paged aware present provided confirmed requested declined consents consented arrived
    understands understood""".split())
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
    return bool(m and (m.group(1).lower() in EPONYM_NOUNS or _PROCEDURE.search(m.group(1).lower())))


# Operations named after people: "Ivor Lewis esophagectomy", "Nissen fundoplication"
_PROCEDURE = re.compile(r"(?:ectomy|otomy|ostomy|plasty|pexy|scopy|graphy|rrhaphy|plication|anastomosis|operation"
                        r"|procedure|repair|resection|shunt|syndrome|disease|sign|signs)$")


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
        if m is None or not (_weak_ok(text, word) and _name_word_ok(text, word) or _initial(text, word)):
            break
        start = word[0]
    return start


def _name_word_ok(text: str, span: tuple[int, int]) -> bool:
    """A capitalised word that may be a name after a cue or role: no acronym, no clinical, common, role
    or place word (nor a part of one), no eponym ("Hampton hump")."""
    word = text[span[0] : span[1]]
    if word.isupper() and len(word) > 1:
        return False
    low = re.sub(r"['’]s$", "", word.lower())
    return (low not in NOT_A_NAME_WORD and not any(p in NOT_A_NAME_WORD for p in low.split("-"))
            and not _is_eponym_use(text, span[1]))


def _free_name(text: str, pos: int, *, max_words: int = 4) -> list[tuple[int, int]]:
    """Name words from ``pos`` on with no list or title behind them (initials may sit inside)."""
    keep: list[tuple[int, int]] = []
    for t in _tokens_after(text, pos, comma_form=False, max_words=max_words):
        if keep and _initial(text, t) or _name_word_ok(text, t) and not _initial(text, t):
            keep.append(t)
        else:
            break
    while keep and _initial(text, keep[-1]):
        keep.pop()
    return keep


def _lower_name(text: str, pos: int) -> tuple[int, int] | None:
    """"jane okonkwo": a listed given or family name in lower case, and the word after it if that is no
    common word."""
    first = _LOWER_TOKEN.match(text, pos)
    if first is None or first.group() not in listed_names():
        return None
    end = first.end()
    if (second := _LOWER_TOKEN.match(text, end + 1)) and text[end : end + 1] == " ":
        low = second.group()
        if low not in NOT_A_NAME_WORD and low not in CREDENTIALS:
            end = second.end()
    return first.start(), end


def _context_name(text: str, pos: int, *, role: str | None) -> tuple[int, int] | None:
    """The name after a communication cue or a role word: "relayed to Quintanilla", "nurse practitioner
    Tamsin Achterberg", "daughter, Mireille Fontaine", "the patient's father, Evander Holloway"."""
    for _ in range(6):  # fillers and (further) roles between the cue and the name
        r = _ROLE.match(text, pos)
        w = _WORD_AT.match(text, pos)
        if r is not None:
            role = r.group().lower()
            pos = r.end()
        elif w is not None and w.group().lower() in _FILLER:
            pos = w.end()
        else:
            break
        gap = _GAP.match(text, pos)
        if gap is None:
            return None
        pos = gap.end()
    if pos < len(text) and text[pos].islower():
        return _lower_name(text, pos)
    keep = _free_name(text, pos)
    if not keep:
        return None
    if len(keep) == 1 and (role is None or role in _AMBIGUOUS_ROLES or role.startswith("dr")) \
            and _low(text, keep[0]) not in listed_names():
        # one unlisted word: a name after a communication cue or a plain role, unless the sentence goes
        # on with it as a word ("per Protocol X"): it must end the phrase
        if role in _AMBIGUOUS_ROLES or not _PAIR_NEXT.match(text, keep[0][1]):
            return None
    return keep[0][0], keep[-1][1]


def _pair_name(text: str, m: re.Match[str]) -> tuple[int, int] | None:
    """Two or three capitalised words, none clinical, common or a place, that read as a name where
    they stand: not after an article ("the Ivor Lewis procedure"), and followed by punctuation or a
    function word or verb ("Evangelina Castellanos regarding", "... Castellanos was"), never by a noun."""
    words = [w.span() for w in re.finditer(r"[^\s]+", m.group())]
    words = [(m.start() + a, m.start() + b) for a, b in words]
    if not all(_initial(text, w) or _name_word_ok(text, w) for w in words):
        return None
    before = re.search(r"([\w'’]+)[ \t]+$", text[max(0, m.start() - 30) : m.start()])
    if before and before.group(1).lower() in _PAIR_BEFORE:
        return None
    after = _PAIR_NEXT.match(text, m.end())
    if after is None:
        return None
    nxt = after.group("w")
    if nxt is not None and nxt not in FUNCTION_WORDS and nxt not in _PAIR_VERBS and nxt not in COMMON_WORDS:
        return None
    head = text[max(0, m.start() - 4) : m.start()]
    start_of_sentence = m.start() == len(head) and not head.strip() or re.search(r"[.:;!?\n]\s*$", head)
    if start_of_sentence and nxt not in _PAIR_VERBS:
        return None
    return m.start(), m.end()


def find_names(text: str) -> list[PhiHit]:
    """Person names: after titles (any case) and signature labels, after communication cues ("relayed
    to") and role words ("nurse", "daughter,", "The patient,"), capitalised word pairs that no clinical
    vocabulary explains, and from the name lists (a listed name, with the name words around it, unless
    an eponym: "Jones fracture")."""
    spans: list[tuple[int, int] | None] = []
    for m in _TITLE.finditer(text):
        span = _strong_name(text, _tokens_after(text, m.end(), comma_form=False), titled=True)
        spans.append(span)
        chained = 0  # "Drs. Halvorsen and Marchetti": a few names joined by "and" or commas
        while span and chained < 6 and m.group().lower().startswith("drs") and (more := _AND_NAME.match(text, span[1])):
            chained += 1
            span = _strong_name(text, _tokens_after(text, more.end(), comma_form=False), titled=True)
            spans.append(span)
    for m in _TITLE_LOWER.finditer(text):
        name, more = m.group("n"), m.group("m")
        if name in NOT_A_NAME_WORD or name in CREDENTIALS:
            continue
        if m.group("t").lower() == "doctor" and name not in listed_names() and not re.search(r"[-'’]", name):
            continue
        end = m.end("m") if more and name in listed_names() and more not in NOT_A_NAME_WORD else m.end("n")
        spans.append((m.start("n"), end))
    for m in _LABEL.finditer(text):
        title = _TITLE.match(text, m.end())
        tokens = _tokens_after(text, title.end() if title else m.end(), comma_form=True)
        spans.append(_strong_name(text, tokens, titled=title is not None))
    for m in _CUE.finditer(text):
        if not _TITLE.match(text, m.end()):
            spans.append(_weak_name(text, _tokens_after(text, m.end(), comma_form=False, max_words=3)))
            spans.append(_context_name(text, m.end(), role=None))
    for m in _ROLE.finditer(text):
        gap = _GAP.match(text, m.end())
        if gap and not _TITLE.match(text, gap.end()):
            spans.append(_context_name(text, gap.end(), role=m.group().lower()))
    for m in _PAIR.finditer(text):
        spans.append(_pair_name(text, m))
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


_CLOCK_AFTER_DATE = re.compile(r"[ ,T]{1,3}(?:at\s+)?(?P<p>(?:[01]\d|2[0-3])[0-5]\d)(?:\s?(?:h|hrs|hours)\b)?(?![\w:%/-]|\.\d)")
_SENTENCE_BREAK = re.compile(r"[\n;!?]|\.\s")
_TIME_TO_DATE = 30  # most characters between a time of day and its date ("at 14:32 on 03/02/2019")


def _dated_times(text: str, hits: set[PhiHit]) -> set[PhiHit]:
    """A time of day is PHI only with its date ("at 14:32 on 03/02/2019", "Jun 3, 2021 11:02 AM"): it is
    then an element of the date. "At 14:30" or "at 3 pm" alone identifies no one and stays. A bare clock
    right after a date ("20200105 0530") is taken as that date's time."""
    dates = [h for h in hits if h.kind == "date"]
    out = {h for h in hits if h.kind != "time"}
    for h in hits:
        if h.kind == "time":
            for d in dates:
                gap = text[d.end : h.start] if d.end <= h.start else text[h.end : d.start] if h.end <= d.start else ""
                if len(gap) <= _TIME_TO_DATE and not _SENTENCE_BREAK.search(gap):
                    out.add(h)
                    break
    for d in dates:
        if m := _CLOCK_AFTER_DATE.match(text, d.end):
            out.add(PhiHit("time", m.start("p"), m.end("p"), m.group("p")))
    return out


def find_phi(text: str) -> list[PhiHit]:
    """Every detector's hits, sorted by position (overlaps kept: each names its kind). Times of day
    count only next to a date."""
    hits = _dated_times(text, set(_pattern_hits(text))) | set(find_names(text))
    return sorted(hits, key=lambda h: (h.start, -h.end, h.kind))


__all__ = ["DETECTORS", "KINDS", "PhiHit", "find_names", "find_phi"]
