"""The phantom's PHI variant: every injected item is located exactly, and nothing leaks without it."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from medmint.generators.phantom import sample_case

KINDS = {"name", "date", "time", "mrn", "phone", "accession", "age", "email", "url", "address", "hospital"}
DICOM_KEYS = {
    "PatientName", "PatientID", "PatientBirthDate", "OtherPatientIDs", "InstitutionName", "InstitutionAddress",
    "ReferringPhysicianName", "AccessionNumber", "StudyDate", "StudyTime", "OperatorsName",
}


def phi_cases(n: int = 14):  # type: ignore[no-untyped-def]
    """Cases with PHI; every other one is a patient over 89, whose age is PHI too."""
    return [sample_case(s, size=64, phi=True, age=93 if s % 2 else None) for s in range(n)]


def test_spans_point_at_their_text_exactly() -> None:
    for case in phi_cases():
        assert case.phi_spans
        last_end = 0
        for span in case.phi_spans:
            assert span.kind in KINDS
            assert case.report[span.start : span.end] == span.text
            assert span.start >= last_end  # ordered, never overlapping
            last_end = span.end


def test_phi_never_sits_inside_a_word() -> None:
    for case in phi_cases():
        for span in case.phi_spans:
            before = case.report[span.start - 1] if span.start else " "
            after = case.report[span.end] if span.end < len(case.report) else " "
            assert not before.isalnum() and not after.isalnum(), (span, case.report[span.start - 5 : span.end + 5])


def test_all_kinds_occur_over_a_few_seeds() -> None:
    kinds = {span.kind for case in phi_cases() for span in case.phi_spans}
    assert kinds == KINDS


def test_values_look_like_what_they_are() -> None:
    patterns = {
        "date": r"\d{2}/\d{2}/\d{4}",
        "time": r"\d{1,2}:\d{2}( [AP]M)?",
        "mrn": r"\d{8}",
        "accession": r"\d{9}",
        "phone": r"(\(\d{3}\) |\d{3}[-.])555[-.]\d{4}",
        "email": r"[a-z']+@[a-z-]+\.org",
        "url": r"https://pacs\.[a-z-]+\.org/\S+",
        "age": r"9\d",
    }
    for case in phi_cases():
        for span in case.phi_spans:
            if span.kind in patterns:
                assert re.fullmatch(patterns[span.kind], span.text), span


def test_ages_up_to_89_are_not_phi() -> None:
    young = sample_case(4, size=64, phi=True, age=72)
    assert "72" in young.report and not any(s.kind == "age" for s in young.phi_spans)
    old = sample_case(4, size=64, phi=True, age=90)
    assert [s.text for s in old.phi_spans if s.kind == "age"] == ["90"]


def test_dicom_header_phi_matches_the_report() -> None:
    for case in phi_cases(6):
        h = case.dicom_phi
        assert DICOM_KEYS <= set(h)
        assert re.fullmatch(r"[A-Z][A-Za-z']+\^[A-Z][a-z]+", h["PatientName"])
        family, given = h["PatientName"].split("^")
        texts = {s.text for s in case.phi_spans}
        assert f"{given} {family}" in texts or f"{family.upper()}, {given.upper()}" in texts
        assert h["PatientID"] in texts and h["AccessionNumber"] in texts
        birth = dt.datetime.strptime(h["PatientBirthDate"], "%Y%m%d")
        study = dt.datetime.strptime(h["StudyDate"], "%Y%m%d")
        age = study.year - birth.year - ((study.month, study.day) < (birth.month, birth.day))
        assert age == case.age
        assert re.fullmatch(r"\d{6}", h["StudyTime"])


def test_without_phi_there_is_none() -> None:
    for seed in range(6):
        case = sample_case(seed, size=64, age=93)
        assert case.phi_spans == () and case.dicom_phi == {}
        assert "___" in case.report
        assert not re.search(r"\d{2}/\d{2}/\d{4}|\d{7,}|@|https?://|555", case.report)
        assert "93" not in case.report


@pytest.mark.parametrize("seed", [0, 1, 5])
def test_phi_changes_only_the_text_where_phi_goes(seed: int) -> None:
    plain = sample_case(seed, size=64)
    rich = sample_case(seed, size=64, phi=True)
    assert plain.image.tobytes() == rich.image.tobytes() and plain.labels == rich.labels
    # Blank the spans (and the non-PHI age): the clinical body is then the de-identified report's.
    text, shift = rich.report, 0
    for span in rich.phi_spans:
        text = text[: span.start + shift] + "___" + text[span.end + shift :]
        shift += 3 - (span.end - span.start)
    text = text.replace(f"INDICATION:  {rich.age}", "INDICATION:  ___", 1)
    body = text[text.index(" EXAMINATION:") : text.index("\n Dictated by:")]
    assert body == plain.report[plain.report.index(" EXAMINATION:") :]
