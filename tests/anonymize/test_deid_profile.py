"""The profile table as data, its converter, and the de-identifier's rules on small hand-made datasets."""

from __future__ import annotations

import csv
import uuid

import pytest
from pydicom.dataset import Dataset, FileMetaDataset

from medmint.anonymize.data.convert_dicom_anonymizer import convert
from medmint.anonymize.dates import shift_da, shift_dt, shifted
from medmint.anonymize.dicom_deid import DeidOptions, deidentify, parse_safe_private, resolve_action
from medmint.anonymize.keys import DeidKey, KeyMissing, load_key
from medmint.anonymize.profile import ACTIONS, load_table
from medmint.anonymize.screening import exclusion, flags
from tests.anonymize.deid_helpers import KEY, TEST_KEY


def test_table_is_the_2026c_edition_with_both_option_columns():
    table = load_table()
    assert table.edition == "2026c" and len(table.rules) == 655
    assert {r.basic for r in table.rules} <= ACTIONS
    by_keyword = {r.keyword: r for r in table.rules}
    assert by_keyword["PatientName"].basic == "Z" and by_keyword["PatientID"].basic == "Z/D"
    assert by_keyword["SOPInstanceUID"].basic == "U" and by_keyword["InstitutionName"].basic == "X/Z/D"
    dated = {r.keyword for r in table.rules if r.retain_long_modified_dates == "C"}
    assert dated == {r.keyword for r in table.rules if r.vr in ("DA", "DT", "TM")} and "StudyDate" in dated
    cleaned = {r.keyword for r in table.rules if r.clean_descriptors == "C"}
    assert {"StudyDescription", "SeriesDescription", "ImageComments", "AdditionalPatientHistory",
            "PatientComments"} <= cleaned
    assert by_keyword["StudyDate"].action(modified_dates=True) == "C"
    assert by_keyword["StudyDescription"].action() == "X"
    assert by_keyword["StudyDescription"].action(clean_descriptors=True) == "C"
    assert table.lookup(0x60023000).name == "Overlay Data" and table.lookup(0x60023001) is None
    assert table.lookup(0x50120010).name == "Curve Data" and table.lookup(0x00280010) is None


def test_converter_reads_the_dicom_anonymizer_layout():
    source = '''D_TAGS = [
    (0x0040, 0xA123),  # Person Name
]
X_TAGS = [
    (0x6000, 0x3000, 0xFF00, 0xFFFF),  # Overlay Data
    (
        0x0040,
        0x4023,
    ),  # Referenced General Purpose Scheduled Procedure Step Transaction UID
]
X_Z_D_TAGS = [
    (0x0008, 0x0080),  # Institution Name
    (0x0008, 0x1030),  # Study Description
    (0x0008, 0x0020),  # Study Date
]
ALL_TAGS = []
'''
    text = convert(source, "2099z")
    assert text.startswith("# DICOM PS3.15 2099z") and "dicom-anonymizer" in text.splitlines()[1]
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    by_tag = {r["tag"]: r for r in rows}
    assert by_tag["(0008,0020)"]["basic"] == "X/Z/D" and by_tag["(0008,0020)"]["retain_long_modified_dates"] == "C"
    assert by_tag["(0008,1030)"]["clean_descriptors"] == "C" and by_tag["(0040,A123)"]["basic"] == "D"
    assert by_tag["(60xx,3000)"]["name"] == "Overlay Data"  # the masked row kept its mask
    assert by_tag["(0040,4023)"]["name"].startswith("Referenced General Purpose")  # a tuple over four lines


@pytest.mark.parametrize("action,vr,value,expected", [
    ("X/Z", "LO", "x", "Z"), ("X/Z", "SQ", [Dataset()], "Z"),
    ("Z/D", "PN", "Doe^J", "D"), ("Z/D", "DA", "", "Z"),
    ("X/D", "DA", "20200101", "D"), ("X/D", "LO", "", "Z"),
    ("X/Z/D", "LO", "Mercy", "D"), ("X/Z/D", "SQ", [], "Z"),
    ("X/Z/U*", "SQ", [Dataset()], "U*"), ("X/Z/U*", "UI", "1.2.3", "U"),
    ("X", "LO", "x", "X"), ("K", "LO", "x", "K"),
])
def test_compound_actions_keep_presence(action, vr, value, expected):
    from pydicom.dataelem import DataElement

    assert resolve_action(action, DataElement(0x00100020, vr, value)) == expected


def test_dates_shift_whole_days_and_bad_dates_get_the_dummy():
    assert shift_da("20240301", -1) == "20240229" and shift_da("2024.03.01", -1) == "20240229"
    assert shift_da("20200101-20200201", -1) == "20191231-20200131"
    assert shift_dt("20240301120000.5+0100", -1) == "20240229120000.5+0100"
    assert shifted("DA", "2024-13-45", -5) == "20000101" and shifted("TM", "101010", -5) == "101010"


def test_keyed_uids_are_deterministic_valid_and_depend_on_the_key():
    uid = KEY.uid("1.2.3.4")
    assert uid == KEY.uid("1.2.3.4") and uid != KEY.uid("1.2.3.5") and uid != DeidKey(b"x" * 32).uid("1.2.3.4")
    assert uid.startswith("2.25.") and len(uid) <= 64
    assert uuid.UUID(int=int(uid[5:])).version == 8
    assert TEST_KEY not in repr(KEY) and TEST_KEY not in str(KEY)
    assert KEY.date_shift_days("id:1") == KEY.date_shift_days("id:1") and -3650 <= KEY.date_shift_days("id:1") <= -365


def test_key_sources_and_errors(tmp_path):
    with pytest.raises(KeyMissing, match="MEDMINT_DEID_KEY"):
        load_key(None, environ={})
    with pytest.raises(KeyMissing, match="empty"):
        (tmp_path / "k").write_text("\n")
        load_key(tmp_path / "k")
    (tmp_path / "k").write_text(TEST_KEY + "\n")
    assert load_key(tmp_path / "k").uid("1.2") == load_key(None, environ={"MEDMINT_DEID_KEY": TEST_KEY}).uid("1.2")


def _dataset() -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.9"
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.88.33", "1.2.3.9"
    ds.PatientName, ds.PatientID, ds.StudyDate = "Doe^Jane", "MRN123", "20200102"
    ds.add_new(0x00090010, "LO", "ACME 1")
    ds.add_new(0x00091001, "LO", "Jane Doe")
    ds.add_new(0x00091002, "LO", "safe value")
    ds.add_new(0x00080000, "UL", 1234)  # a stale group length
    ds.add_new(0x60000010, "US", 2)
    ds.add_new(0x60003000, "OW", b"\x00\x01")
    person = Dataset()
    person.CodeValue, person.CodingSchemeDesignator, person.CodeMeaning = "EMP-77", "L", "Jane's badge"
    observer = Dataset()
    observer.PersonIdentificationCodeSequence = [person]
    observer.VerifyingObserverName = "Roe^Rick"
    ds.VerifyingObserverSequence = [observer]
    text = Dataset()
    text.RelationshipType, text.ValueType, text.TextValue = "CONTAINS", "TEXT", "Seen with Jane Doe, MRN123."
    concept = Dataset()
    concept.CodeValue, concept.CodingSchemeDesignator, concept.CodeMeaning = "121071", "DCM", "Finding"
    text.ConceptNameCodeSequence = [concept]
    ds.ContentSequence = [text]
    ds.ReferencedStudySequence = [Dataset()]
    return ds


def test_sequences_private_tags_overlays_and_marks():
    ds = _dataset()
    result = deidentify(ds, KEY, DeidOptions(safe_private=parse_safe_private(["ACME 1:02"])))
    assert ds.PatientName == KEY.patient_name("id:MRN123") and ds.PatientID == KEY.patient_id("id:MRN123")
    assert ds.StudyDate == "" and ds.SOPInstanceUID == KEY.uid("1.2.3.9") == ds.file_meta.MediaStorageSOPInstanceUID
    assert 0x00091001 not in ds and ds[0x00091002].value == "safe value" and 0x00090010 in ds  # safe-list kept
    assert 0x00080000 not in ds and 0x60000010 not in ds and 0x60003000 not in ds  # whole overlay group
    badge = ds.VerifyingObserverSequence[0].PersonIdentificationCodeSequence[0]
    assert (badge.CodeValue, badge.CodeMeaning) == ("ANONYMIZED", "anonymized")  # a dummy code, still an item
    assert ds.VerifyingObserverSequence[0].VerifyingObserverName != "Roe^Rick"
    item = ds.ContentSequence[0]
    assert "Jane" not in item.TextValue and "MRN123" not in item.TextValue and "Seen with" in item.TextValue
    assert item.ConceptNameCodeSequence[0].CodeValue == "121071"  # codes inside the content stay
    assert "ReferencedStudySequence" not in ds  # X/Z, Type 3 in the IOD: removed (empty, it needs an item)
    assert ds.PatientIdentityRemoved == "YES" and ds.LongitudinalTemporalInformationModified == "REMOVED"
    assert [c.CodeValue for c in ds.DeidentificationMethodCodeSequence] == ["113100"]
    assert all(c.original is None for c in result.changes)
    kinds = {c.rule for c in result.changes}
    assert {"private", "group length", "overlay group", "pseudonym"} <= kinds


def test_options_are_recorded_and_originals_only_on_request():
    ds = _dataset()
    result = deidentify(ds, KEY, DeidOptions(retain_modified_dates=True, clean_descriptors=True), keep_originals=True)
    assert ds.StudyDate == shift_da("20200102", KEY.date_shift_days("id:MRN123"))
    assert [c.CodeValue for c in ds.DeidentificationMethodCodeSequence] == ["113100", "113107", "113105"]
    assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
    assert {c.original for c in result.changes if c.path == "PatientName"} == {"Doe^Jane"}


def test_flags_and_exclusion_rules():
    ds = _dataset()
    ds.Modality, ds.BurnedInAnnotation = "US", "YES"
    found = flags(ds)
    assert found == ["burned_in_annotation", "suspicious_modality:US"]
    assert exclusion(found, exclude_burned_in=False, exclude_suspicious=False) is None
    assert exclusion(found, exclude_burned_in=True, exclude_suspicious=False) == "burned_in_annotation"
    assert exclusion(["secondary_capture"], exclude_burned_in=True, exclude_suspicious=True) == "secondary_capture"
