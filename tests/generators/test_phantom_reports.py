"""The phantom's reports: MIMIC layout, and labels that are a faithful reading of the text.

A tiny test-local reader (keywords + negation and hedge cues, NegEx-style scopes) is enough here
because the phantom's phrasings are known; it is deliberately not a general labeler.
"""

from __future__ import annotations

import functools
import re

import pytest

from medmint.generators.phantom import sample_case
from medmint.records import CHEXPERT_LABELS

DRAWN = [label for label in CHEXPERT_LABELS if label != "No Finding"]

KEYWORDS = {
    "Cardiomegaly": r"cardiomegaly|heart size|\bheart\b|cardiac silhouette",
    "Enlarged Cardiomediastinum": r"mediastin",
    "Lung Opacity": r"opacit|lungs are clear",
    "Consolidation": r"consolidat|lungs are clear",
    "Pneumonia": r"pneumonia",
    "Edema": r"edema",
    "Atelectasis": r"atelecta",
    "Lung Lesion": r"nodul|\bmass(es)?\b|lesion",
    "Pleural Effusion": r"effusion",
    "Pneumothorax": r"pneumothora",
    "Pleural Other": r"pleural thickening",
    "Fracture": r"fracture",
    "Support Devices": r"\btubes?\b|catheter|\bpicc\b|pacemaker|support devices",
}
PRE_NEGATION = r"\bno\b|\bwithout\b|negative for|\bnormal\b"
POST_NEGATION = r"\bis normal\b|\bare normal\b|within normal limits|\bnot enlarged\b|\bare clear\b|lungs are clear"
HEDGE = r"possibl|cannot be excluded|cannot exclude|\bmay\b|questionable|borderline|concerning for"
SCOPE_END = r";| but | which |, (consistent|compatible|concerning|possibly|in keeping)"


def mentions(text: str) -> dict[str, set[str]]:
    """For each label, the set of ways the text mentions it: 'positive', 'negative', 'uncertain'."""
    found: dict[str, set[str]] = {}
    for sentence in re.split(r"(?<=[.])\s+|\n", text.lower()):
        for label, pattern in KEYWORDS.items():
            for m in re.finditer(pattern, sentence):
                before, after = sentence[: m.start()], sentence[m.start() :]
                scope_before = re.split(SCOPE_END, before)[-1]
                scope_after = re.split(SCOPE_END, after)[0]
                clause = re.split(r"[,;]", before)[-1] + re.split(r"[,;]", after)[0]
                if re.search(PRE_NEGATION, scope_before) or re.search(POST_NEGATION, scope_after):
                    kind = "negative"
                elif re.search(HEDGE, clause):
                    kind = "uncertain"
                else:
                    kind = "positive"
                found.setdefault(label, set()).add(kind)
    return found


def assert_faithful(labels: dict[str, int | None], report: str) -> None:
    read = mentions(report)
    for label in DRAWN:
        value, kinds = labels[label], read.get(label, set())
        expected = {1: {"positive"}, -1: {"uncertain"}, 0: {"negative"}, None: set()}[value]
        assert kinds == expected, f"{label}={value} but the report reads {kinds or 'nothing'}:\n{report}"
    assert labels["No Finding"] == (1 if not any(labels[k] == 1 for k in DRAWN) else None)


@functools.lru_cache(maxsize=None)
def case_for(seed: int, label: str, value: int):  # type: ignore[no-untyped-def]
    return sample_case(seed, size=64, findings={label: value})


def test_checker_reads_the_cues_it_is_meant_to() -> None:
    assert mentions("No focal consolidation, pleural effusion, or pneumothorax.") == {
        "Consolidation": {"negative"}, "Pleural Effusion": {"negative"}, "Pneumothorax": {"negative"}}
    assert mentions("Small left pleural effusion without pneumothorax.") == {
        "Pleural Effusion": {"positive"}, "Pneumothorax": {"negative"}}
    assert mentions("Patchy opacity in the lingula, which may represent pneumonia.") == {
        "Lung Opacity": {"positive"}, "Pneumonia": {"uncertain"}}
    assert mentions("Heart size is normal.") == {"Cardiomegaly": {"negative"}}


def test_report_has_the_mimic_layout() -> None:
    case = sample_case(3, size=64)
    report = case.report
    assert report.startswith(" " * 33 + "FINAL REPORT\n")
    headers = (" EXAMINATION:  ", " INDICATION:  ", " TECHNIQUE:  ", " COMPARISON:  ", " FINDINGS: \n ", " IMPRESSION: \n ")
    for header in headers:
        assert header in report
    assert report.index(" FINDINGS: \n " + case.findings) < report.index(" IMPRESSION: \n " + case.impression)
    assert report.endswith("\n") and "___" in report
    assert set(case.labels) == set(CHEXPERT_LABELS)


def test_view_names_the_examination() -> None:
    assert "CHEST (PORTABLE AP)" in sample_case(1, size=64, view="AP").report
    assert "CHEST (PA AND LAT)" in sample_case(1, size=64, view="PA").report


@pytest.mark.parametrize("label", DRAWN)
def test_each_finding_alone_is_reported_as_labelled(label: str) -> None:
    for value in (1, -1, 0):
        for seed in range(6):
            case = case_for(seed, label, value)
            assert_faithful(case.labels, case.report)
            if value in (1, -1):
                assert case.details[label]["certainty"] == ("positive" if value == 1 else "uncertain")
            else:
                assert label not in case.details


def test_sampled_cases_read_back_to_their_labels() -> None:
    for seed in range(150):
        case = sample_case(seed, size=64)
        assert_faithful(case.labels, case.report)


def _sentence_with(text: str, pattern: str) -> str:
    return next(s for s in re.split(r"(?<=[.])\s+|\n", text) if re.search(pattern, s.lower()))


@pytest.mark.parametrize(
    ("label", "word_keys"),
    [
        ("Pleural Effusion", ("laterality", "severity")),
        ("Pneumothorax", ("laterality", "severity")),
        ("Cardiomegaly", ("severity",)),
        ("Edema", ("severity",)),
        ("Atelectasis", ()),
        ("Lung Lesion", ("location", "kind")),
        ("Consolidation", ("location",)),
        ("Fracture", ("laterality", "rib")),
    ],
)
def test_laterality_and_severity_words_match_what_was_drawn(label: str, word_keys: tuple[str, ...]) -> None:
    for seed in range(6):
        case = case_for(seed, label, 1)
        d = case.details[label]
        sentence = _sentence_with(case.findings, KEYWORDS[label]).lower()
        for key in word_keys:
            word = {"severe": "(severe|marked)", "bilateral": "bilateral"}.get(d[key], re.escape(d[key]))
            assert re.search(word, sentence), (key, d, sentence)
        wrong_side = {"right": "left", "left": "right"}.get(d.get("laterality", ""))
        if wrong_side and label != "Atelectasis":
            assert wrong_side not in sentence, (d, sentence)
    eff = case_for(0, "Pleural Effusion", 1)
    assert re.search(rf"{eff.details['Pleural Effusion']['severity']}.*pleural effusion", eff.findings.lower())


def _shape(sentence: str, details: dict[str, str]) -> str:
    """A sentence with its case-specific words blanked, to count distinct phrasings."""
    s = sentence.lower()
    for v in sorted(details.values(), key=len, reverse=True):
        if len(v) > 1:
            s = s.replace(v.lower(), "#")
    return re.sub(r"\d+(\.\d+)?|\b(right|left|bilateral|mild|moderate|severe|marked|small|large)\b", "#", s)


@pytest.mark.parametrize("label", DRAWN)
def test_several_phrasings_per_statement(label: str) -> None:
    for value in (1, -1, 0):
        shapes = set()
        for seed in range(12):
            case = case_for(seed, label, value)
            sentence = _sentence_with(case.findings, KEYWORDS[label])
            shapes.add(_shape(sentence, case.details.get(label, {})))
        assert len(shapes) >= 3, (label, value, shapes)


def test_normal_studies_say_so() -> None:
    phrasings = set()
    for seed in range(12):
        case = sample_case(seed, size=64, findings={"No Finding": 1})
        assert case.labels["No Finding"] == 1 and all(case.labels[k] is None for k in DRAWN)
        assert mentions(case.report) == {}
        phrasings.add(case.impression)
    assert len(phrasings) >= 3
    negated = sample_case(0, size=64, findings={"Pleural Effusion": 0, "Pneumothorax": 0, "Cardiomegaly": 0,
                                                 "Lung Opacity": 0, "Consolidation": 0})
    assert negated.labels["No Finding"] == 1
    said = negated.findings.lower()
    assert "effusion" in said and "pneumothorax" in said and ("heart" in said or "cardiac" in said)
    assert mentions(negated.report) == {label: {"negative"} for label in
                                        ("Pleural Effusion", "Pneumothorax", "Cardiomegaly", "Lung Opacity", "Consolidation")}


def test_consolidation_implies_the_opacity_it_is_drawn_as() -> None:
    case = sample_case(2, size=64, findings={"Consolidation": 1})
    assert case.labels["Lung Opacity"] == 1 and case.labels["No Finding"] is None
    assert case.details["Lung Opacity"]["location"] == case.details["Consolidation"]["location"]
    pna = sample_case(2, size=64, findings={"Consolidation": 1, "Pneumonia": -1})
    assert_faithful(pna.labels, pna.report)
    assert "Pneumonia" in pna.details


@pytest.mark.parametrize(
    "findings",
    [
        {"Effusion": 1},
        {"Pleural Effusion": 2},
        {"Pleural Effusion": "yes"},
        {"Pleural Effusion": True},
        {"No Finding": 1, "Edema": 1},
        {"Consolidation": 1, "Lung Opacity": 0},
    ],
)
def test_bad_findings_are_rejected(findings: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError):
        sample_case(0, size=64, findings=findings)


@pytest.mark.parametrize(("kw", "word"), [({"view": "LATERAL"}, "LATERAL"), ({"sex": "X"}, "X"), ({"age": 0}, "0")])
def test_bad_demographics_are_rejected(kw: dict, word: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=word):
        sample_case(0, size=64, **kw)


def test_given_demographics_are_kept() -> None:
    case = sample_case(9, size=64, view="AP", sex="F", age=71)
    assert (case.view, case.sex, case.age) == ("AP", "F", 71)
    assert " woman " in case.report or " female " in case.report
