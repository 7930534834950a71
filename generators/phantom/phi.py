"""Synthetic PHI for anonymization tests: one made-up identity per case, in the report and the headers.

With ``phi=True`` every ``Slot`` of the report is filled from the identity and its exact character
span is recorded, so a scrubber's recall can be measured item by item; header and sign-off blocks that
only exist in raw (un-de-identified) reports are added too. Without PHI the slots become MIMIC's
``___``. All names, numbers and places are invented (555 phone exchange, fictional hospitals); values
are mutually consistent (same MRN in text and DICOM, birth date matching the age, ...).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from medmint.generators.phantom.case import PhiSpan
from medmint.generators.phantom.reports import Part, Slot

PLACEHOLDER = "___"
PHI_KINDS = ("name", "date", "time", "mrn", "phone", "accession", "age", "email", "url", "address", "hospital")

GIVEN_F = ["Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
           "Nancy", "Lisa", "Margaret", "Sandra", "Ashley", "Emily", "Donna", "Michelle", "Carol", "Amanda",
           "Dorothy", "Helen", "Anna", "Maria", "Ruth", "Sofia", "Aisha", "Mei", "Priya", "Fatima"]
GIVEN_M = ["James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas", "Charles",
           "Daniel", "Matthew", "Anthony", "Steven", "Paul", "Andrew", "Joshua", "Kenneth", "Kevin", "Brian",
           "George", "Edward", "Ronald", "Timothy", "Jose", "Ahmed", "Wei", "Rahul", "Kwame", "Ivan"]
FAMILY = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
          "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
          "Lee", "Perez", "Thompson", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
          "Allen", "Wright", "Torres", "Nguyen", "Flores", "Nelson", "Rivera", "Campbell", "Mitchell", "Carter",
          "Roberts", "Kowalski", "O'Brien", "Schmidt", "Novak", "Okafor", "Tanaka", "Patel", "Cohen", "Murphy",
          "Sullivan", "Bennett", "Fitzgerald", "Lindqvist", "Haddad", "Moreau", "Rossi", "Yilmaz", "Kim", "Chen"]
HOSPITALS = [
    ("Mercy General Hospital", "mercygeneral.org"),
    ("St. Aurelia Medical Center", "staurelia.org"),
    ("Lakeside University Hospital", "lakeside-uh.org"),
    ("Riverside Regional Medical Center", "riversideregional.org"),
    ("Northgate Community Hospital", "northgatehealth.org"),
    ("Beacon Hill Medical Center", "beaconhillmc.org"),
    ("Harborview Memorial Hospital", "harborviewmemorial.org"),
]
STREETS = ["Main Street", "Maple Avenue", "Longwood Avenue", "Cambridge Street", "Francis Street", "Oak Lane",
           "Elm Street", "Harbor Road", "Washington Street", "Chestnut Hill Avenue"]
CITIES = ["Springfield, MA 01103", "Boston, MA 02115", "Worcester, MA 01608", "Providence, RI 02903",
          "Hartford, CT 06106", "Lowell, MA 01852", "Portland, ME 04101"]


@dataclass(frozen=True)
class Identity:
    """One synthetic patient/encounter: report texts by slot key, and DICOM header values."""

    values: dict[str, str]
    dicom: dict[str, str]
    age: int


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _person(rng: np.random.Generator, sex: str | None = None) -> tuple[str, str]:
    if sex is None:
        sex = "F" if rng.random() < 0.5 else "M"
    return _pick(rng, GIVEN_F if sex == "F" else GIVEN_M), _pick(rng, FAMILY)


def _digits(rng: np.random.Generator, n: int) -> str:
    return str(int(rng.integers(1, 10))) + "".join(str(int(d)) for d in rng.integers(0, 10, n - 1))


def _phone(rng: np.random.Generator) -> str:
    area = _pick(rng, ["617", "508", "781", "401", "860", "207", "413"])
    tail = f"{int(rng.integers(100, 200)):04d}"
    return _pick(rng, [f"({area}) 555-{tail}", f"{area}-555-{tail}", f"{area}.555.{tail}"])


def _us_date(d: dt.date) -> str:
    return f"{d.month:02d}/{d.day:02d}/{d.year}"


def sample_identity(rng: np.random.Generator, sex: str, age: int) -> Identity:
    """Draw a consistent synthetic identity for a patient of ``sex`` and ``age``."""
    given, family = _person(rng, sex)
    study = dt.date(2012, 1, 1) + dt.timedelta(days=int(rng.integers(0, 13 * 365)))
    birth = study.replace(year=study.year - age, day=min(study.day, 28)) - dt.timedelta(days=int(rng.integers(1, 360)))
    comparison = study - dt.timedelta(days=int(rng.integers(20, 900)))
    seconds = int(rng.integers(6 * 3600, 23 * 3600))
    study_t = dt.time(seconds // 3600, (seconds // 60) % 60, seconds % 60)
    notify = (seconds + int(rng.integers(10, 120)) * 60) % (24 * 3600)
    nh, nm = notify // 3600, (notify // 60) % 60
    if rng.random() < 0.6:
        notify_time = f"{nh:02d}:{nm:02d}"
    else:
        notify_time = f"{(nh - 1) % 12 + 1}:{nm:02d} {'AM' if nh < 12 else 'PM'}"
    hospital, domain = HOSPITALS[int(rng.integers(len(HOSPITALS)))]
    address = f"{int(rng.integers(10, 2000))} {_pick(rng, STREETS)}, {_pick(rng, CITIES)}"
    home = f"{int(rng.integers(10, 999))} {_pick(rng, STREETS)}, {_pick(rng, CITIES)}"
    rad, ref, tech, doc = _person(rng), _person(rng), _person(rng), _person(rng)
    mrn, acc, other = _digits(rng, 8), _digits(rng, 9), "H" + _digits(rng, 7)
    phone = _phone(rng)
    values = {
        "patient_name": f"{given} {family}",
        "patient_name_header": f"{family.upper()}, {given.upper()}",
        "mrn": mrn,
        "accession": acc,
        "dob": _us_date(birth),
        "study_date": _us_date(study),
        "study_time": f"{study_t.hour:02d}:{study_t.minute:02d}",
        "notify_time": notify_time,
        "comparison_date": _us_date(comparison),
        "notified_physician": f"{doc[0]} {doc[1]}",
        "radiologist": f"{rad[0]} {rad[1]}",
        "referring": f"{ref[0]} {ref[1]}",
        "pager": _phone(rng),
        "phone": phone,
        "email": f"{rad[0][0].lower()}{rad[1].lower().replace(chr(39), '')}@{domain}",
        "hospital": hospital,
        "address": address,
        "url": f"https://pacs.{domain}/viewer?accession={acc}",
        "age": str(age),
    }
    pn = f"{family}^{given}"
    dicom = {
        "PatientName": pn,
        "PatientID": mrn,
        "PatientBirthDate": birth.strftime("%Y%m%d"),
        "PatientAge": f"{min(age, 999):03d}Y",
        "OtherPatientIDs": other,
        "PatientAddress": home,
        "PatientTelephoneNumbers": _phone(rng),
        "InstitutionName": hospital,
        "InstitutionAddress": address,
        "InstitutionalDepartmentName": "Radiology",
        "ReferringPhysicianName": f"{ref[1]}^{ref[0]}",
        "PerformingPhysicianName": f"{rad[1]}^{rad[0]}",
        "NameOfPhysiciansReadingStudy": f"{rad[1]}^{rad[0]}",
        "OperatorsName": f"{tech[1]}^{tech[0]}",
        "AccessionNumber": acc,
        "StudyDate": study.strftime("%Y%m%d"),
        "StudyTime": f"{study_t.hour:02d}{study_t.minute:02d}{study_t.second:02d}",
        "StudyID": _digits(rng, 6),
        "StationName": f"CXR{int(rng.integers(1, 9))}",
    }
    return Identity(values, dicom, age)


def phi_blocks(rng: np.random.Generator, ident: Identity) -> tuple[list[Part], list[Part]]:
    """Header and sign-off lines of a raw report (they vanish entirely in de-identified text)."""
    v = ident.values
    header: list[Part] = []
    if rng.random() < 0.5:
        header += [" Patient: ", Slot("name", "patient_name_header"), "    MRN: ", Slot("mrn", "mrn"),
                   "    DOB: ", Slot("date", "dob"), "\n"]
    else:
        header += [" Name: ", Slot("name", "patient_name"), "    Med Rec #: ", Slot("mrn", "mrn"), "\n"]
    header += [" Accession #: ", Slot("accession", "accession"), "    Exam date: ", Slot("date", "study_date"),
               " ", Slot("time", "study_time"), "\n"]
    if rng.random() < 0.6:
        header += [" Referring physician: Dr. ", Slot("name", "referring"), "\n"]
    header.append("\n")

    u = rng.random(5)
    footer: list[Part] = ["\n Dictated by: Dr. ", Slot("name", "radiologist"), " on ", Slot("date", "study_date"), "\n"]
    if u[0] < 0.6:
        footer += [" ", Slot("hospital", "hospital")]
        footer += [", ", Slot("address", "address"), "\n"] if u[1] < 0.6 else ["\n"]
    if u[2] < 0.55:
        footer += [" Reading room: ", Slot("phone", "phone"), "\n"]
    if u[3] < 0.5:
        footer += [" Questions: ", Slot("email", "email"), "\n"]
    if u[4] < 0.5:
        footer += [" Images: ", Slot("url", "url"), "\n"]
    assert all(isinstance(p, str) or p.key in v for p in header + footer)
    return header, footer


def render(parts: list[Part], ident: Identity | None) -> tuple[str, tuple[PhiSpan, ...]]:
    """Join report parts: slots become identity values (with spans) or ``___`` when ``ident`` is None.

    Ages are PHI only above 89 (HIPAA), so a younger age is written without a span.
    """
    out: list[str] = []
    spans: list[PhiSpan] = []
    pos = 0
    for p in parts:
        if isinstance(p, Slot):
            assert p.kind in PHI_KINDS, p.kind
            if ident is None:
                text = PLACEHOLDER
            else:
                text = ident.values[p.key]
                if not (p.kind == "age" and ident.age <= 89):
                    spans.append(PhiSpan(p.kind, pos, pos + len(text), text))
        else:
            text = p
        out.append(text)
        pos += len(text)
    return "".join(out), tuple(spans)
