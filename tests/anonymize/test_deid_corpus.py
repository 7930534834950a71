"""De-identification of whole corpora: the phantom's PHI-laden DX files and every DICOM file pydicom ships
(its test_files, charset_files and palettes: ``PYDICOM_DATA``).

Checked against the profile table itself (no attribute the table says to replace keeps its value,
inside sequences too), plus private tags, UID consistency, pixel bytes and dciodvfy.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

import pytest

from medmint.anonymize.corpus import anonymize_folder
from medmint.anonymize.dicom_deid import STANDARD_UID_ROOT, DeidOptions
from medmint.anonymize.dummies import dummy_value
from medmint.anonymize.keys import SHIFT_DAYS
from medmint.anonymize.profile import load_table
from medmint.generators.datasets import write_phantom_dicom
from tests.anonymize.deid_helpers import (
    KEY, PYDICOM_DATA, audit_records, by_path, deid_pairs, elements, has_preamble, new_dciodvfy_errors, read,
)
from tests.conftest import require_tool

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom on its deliberately odd test files
REPLACED = {"D", "Z", "X", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*"}
# Files pydicom ships that cannot become a valid de-identified instance, and why (asserted exactly).
DICOMDIR_COUNT = 8  # media directories: excluded, not instances (their offsets would break)
BAD = {
    "no_meta.dcm": "not DICOM",  # a stray byte before the first element: pydicom cannot read it either
    "MR_truncated.dcm": "truncated DICOM",  # Pixel Data shorter than its declared length
    "rtplan_truncated.dcm": "truncated DICOM",  # a sequence cut short
    "empty_charset_LEI.dcm": "no SOPClassUID",  # test fragments without SOP Common: not storage instances
    "meta_missing_tsyntax.dcm": "no SOPClassUID",
    "nested_priv_SQ.dcm": "no SOPClassUID",
    "UN_sequence.dcm": "image object without Pixel Data",  # CT / RT Image / MR headers, pixels left out
    "no_meta_group_length.dcm": "image object without Pixel Data",
    "priv_SQ.dcm": "image object without Pixel Data",
    "chrJapMulti.dcm": "image object without Pixel Data",  # character set tests: CR / MR headers only
    "chrJapMultiExplicitIR6.dcm": "image object without Pixel Data",
    "chrKoreanMulti.dcm": "image object without Pixel Data",
    "chrSQEncoding.dcm": "image object without Pixel Data",
    "chrSQEncoding1.dcm": "image object without Pixel Data",
}
PYDICOM_INPUTS = 192  # pydicom 3.0.2: 163 files with the preamble, 10 .dcm without (4 read), 19 charsets/palettes
# dicomdirtests/**/IM0000xx: 50 CT headers whose pixels pydicom strips to keep its test data small.
STRIPPED_CT_COUNT = 50


@pytest.fixture(scope="module")
def phantom_in(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("phantom-phi")
    write_phantom_dicom(root, 10, seed=5, size=64, phi=True)
    return root


@pytest.fixture(scope="module")
def phantom_basic(phantom_in, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("phantom-basic") / "out"
    anonymize_folder(phantom_in, out, KEY, DeidOptions())
    return out


@pytest.fixture(scope="module")
def phantom_options(phantom_in, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("phantom-options") / "out"
    anonymize_folder(phantom_in, out, KEY, DeidOptions(retain_modified_dates=True, clean_descriptors=True))
    return out


@pytest.fixture(scope="module")
def pydicom_basic(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pydicom-basic") / "out"
    summary = anonymize_folder(PYDICOM_DATA, out, KEY, DeidOptions(), skip_bad=True)
    assert summary["files"] == PYDICOM_INPUTS
    return out


def test_every_pydicom_file_is_processed_or_listed_with_its_reason(pydicom_basic):
    records = audit_records(pydicom_basic)
    listed = {r["file"] for r in records}
    # Accounted for, by tests independent of the anonymizer's own sniffing: every file named .dcm, every
    # file with the preamble, every file pydicom itself reads as a data set without the preamble.
    for path in sorted(p for p in PYDICOM_DATA.rglob("*") if p.is_file()):
        name = path.relative_to(PYDICOM_DATA).as_posix()
        if path.suffix.lower() == ".dcm" or has_preamble(path) or _pydicom_reads_bare(path):
            assert name in listed, f"{name}: a DICOM file neither de-identified nor listed"
    assert len(records) == PYDICOM_INPUTS
    excluded = [r for r in records if r["status"] == "excluded"]
    bad = {r["file"]: r["reason"] for r in records if r["status"] == "bad"}
    assert len(excluded) == DICOMDIR_COUNT and all(r["reason"] == "dicomdir" for r in excluded)
    assert all(Path(r["file"]).name.startswith("DICOMDIR") for r in excluded)
    stripped = {f for f in bad if f.startswith("test_files/dicomdirtests/") and Path(f).name.startswith("IM")}
    assert len(stripped) == STRIPPED_CT_COUNT
    assert all(bad[f].startswith("image object without Pixel Data") and "CT Image" in bad[f] for f in stripped)
    others = {Path(f).name: bad[f] for f in set(bad) - stripped}
    assert set(others) == set(BAD) and all(others[name].startswith(BAD[name]) for name in BAD), others
    ok = [r for r in records if r["status"] == "ok"]
    assert len(ok) == PYDICOM_INPUTS - DICOMDIR_COUNT - len(BAD) - STRIPPED_CT_COUNT == 120
    no_preamble = {r["file"] for r in ok if not has_preamble(PYDICOM_DATA / r["file"])}
    assert {Path(f).name for f in no_preamble} == {"ExplVR_BigEndNoMeta.dcm", "ExplVR_LitEndNoMeta.dcm", "rtstruct.dcm"}
    assert sum(not r["pixel_data"] for r in ok) > 0  # SR, RT plan, waveform: de-identified, not refused


def _pydicom_reads_bare(path: Path) -> bool:
    """pydicom reads ``path`` (forced) as a data set that has a SOP Class: DICOM without the preamble."""
    import pydicom

    try:
        return "SOPClassUID" in pydicom.dcmread(path, force=True, stop_before_pixels=True)
    except Exception:  # noqa: BLE001
        return False


def _assert_profile_followed(src: Path, out: Path) -> int:
    """No attribute whose table action replaces it keeps its original non-empty value; returns how many checked."""
    table = load_table()
    checked = 0
    for in_path, out_path in deid_pairs(src, out):
        before, after = by_path(read(in_path)), by_path(read(out_path))
        for path, elem in before.items():
            rule = table.lookup(int(elem.tag))
            if elem.tag.is_private:
                continue
            if rule is None or rule.basic not in REPLACED or elem.VR == "SQ" or elem.value in (None, "", b""):
                continue
            if elem.VR == "UI" and str(elem.value).startswith(STANDARD_UID_ROOT):
                continue  # UIDs the standard defines identify no one and are kept
            kept = after.get(path)
            checked += 1
            if kept is None or kept.value != elem.value:
                continue
            assert "D" in rule.basic and elem.value == dummy_value(elem.VR), f"{in_path}: {path} kept its value"
    return checked


def test_no_replaced_attribute_keeps_its_value_phantom(phantom_in, phantom_basic):
    assert _assert_profile_followed(phantom_in, phantom_basic) > 300


def test_no_replaced_attribute_keeps_its_value_pydicom(pydicom_basic):
    assert _assert_profile_followed(PYDICOM_DATA, pydicom_basic) > 1000


@pytest.mark.parametrize("which", ["phantom", "pydicom"])
def test_no_private_tags_and_pixels_byte_identical(which, phantom_in, phantom_basic, pydicom_basic):
    src, out = (phantom_in, phantom_basic) if which == "phantom" else (PYDICOM_DATA, pydicom_basic)
    pairs = deid_pairs(src, out)
    had_private = 0
    for in_path, out_path in pairs:
        before, after = read(in_path), read(out_path)
        had_private += any(e.tag.is_private for _, e in elements(before))
        assert not [p for p, e in elements(after) if e.tag.is_private], out_path
        for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"):
            assert before.get(keyword) == after.get(keyword), f"{out_path}: {keyword} changed"
        assert after.PatientIdentityRemoved == "YES"
        meta_uid = after.file_meta.MediaStorageSOPInstanceUID
        assert meta_uid == after.get("SOPInstanceUID", meta_uid)
        assert meta_uid.startswith(("2.25.", STANDARD_UID_ROOT))  # the standard's own palettes keep theirs
        assert "113100" in {i.CodeValue for i in after.DeidentificationMethodCodeSequence}
    assert had_private > 0


def test_uids_consistent_within_studies_and_one_to_one(phantom_in, phantom_basic, pydicom_basic):
    forward: dict[str, set[str]] = defaultdict(set)
    backward: dict[str, set[str]] = defaultdict(set)
    table = load_table()
    for src, out in ((phantom_in, phantom_basic), (PYDICOM_DATA, pydicom_basic)):
        for in_path, out_path in deid_pairs(src, out):
            before, after = by_path(read(in_path)), by_path(read(out_path))
            for path, elem in before.items():
                rule = table.lookup(int(elem.tag))
                if elem.VR != "UI" or rule is None or "U" not in rule.basic or path not in after or not elem.value \
                        or path.startswith("file_meta."):  # the meta copies the SOP Instance UID (asserted above)
                    continue
                for old, new in zip(elem.value if elem.VM > 1 else [elem.value], after[path].value
                                    if after[path].VM > 1 else [after[path].value]):
                    forward[str(old).strip("\x00 ")].add(str(new))
                    backward[str(new)].add(str(old).strip("\x00 "))
    assert len(forward) > 100
    assert all(len(v) == 1 for v in forward.values()), {k: v for k, v in forward.items() if len(v) > 1}
    assert all(len(v) == 1 for v in backward.values()), {k: v for k, v in backward.items() if len(v) > 1}
    # The phantom's second series points at the first image of its study, under the new UIDs.
    outputs = {read(o).SOPInstanceUID: read(o) for _, o in deid_pairs(phantom_in, phantom_basic)}
    derived = [ds for ds in outputs.values() if "SourceImageSequence" in ds]
    assert derived
    for ds in derived:
        source = outputs[ds.SourceImageSequence[0].ReferencedSOPInstanceUID]
        assert source.StudyInstanceUID == ds.StudyInstanceUID and source.SeriesInstanceUID != ds.SeriesInstanceUID
        assert source.PatientID == ds.PatientID


@pytest.mark.parametrize("which", ["phantom-options", "pydicom"])
def test_dciodvfy_reports_no_new_errors(which, phantom_in, phantom_options, pydicom_basic):
    require_tool("dciodvfy")
    src, out = (phantom_in, phantom_options) if which != "pydicom" else (PYDICOM_DATA, pydicom_basic)
    assert new_dciodvfy_errors(deid_pairs(src, out)) == {}


def test_phi_is_gone_from_headers_and_reports(phantom_in, phantom_options):
    for in_path, out_path in deid_pairs(phantom_in, phantom_options):
        before, after = read(in_path), read(out_path)
        phi = {str(before.get(k)) for k in ("PatientName", "PatientID", "OtherPatientIDs", "PatientAddress",
                                             "PatientTelephoneNumbers", "InstitutionName", "InstitutionAddress",
                                             "ReferringPhysicianName", "OperatorsName", "AccessionNumber")}
        phi |= {p for name in (str(before.PatientName), str(before.ReferringPhysicianName)) for p in name.split("^")}
        values = " | ".join(str(e.value) for _, e in elements(after) if e.VR not in ("OB", "OW", "UN"))
        assert not [v for v in phi if v and v in values], out_path
        assert "___" in after.ImageComments  # kept under Clean Descriptors, with the identifiers blanked
        report = out_path.with_suffix(".txt").read_text()
        assert not [v for v in phi if len(v) > 3 and v in report], out_path


def test_dates_shift_per_patient_and_keep_intervals(phantom_in, phantom_options):
    shifts: dict[str, set[int]] = defaultdict(set)
    study_dates: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for in_path, out_path in deid_pairs(phantom_in, phantom_options):
        before, after = by_path(read(in_path)), by_path(read(out_path))
        patient = str(after["PatientID"].value)
        for path, elem in before.items():
            if elem.VR in ("DA", "DT") and elem.value and not elem.tag.is_private:
                old = dt.datetime.strptime(str(elem.value)[:8], "%Y%m%d")
                new = dt.datetime.strptime(str(after[path].value)[:8], "%Y%m%d")
                shifts[patient].add((new - old).days)
                assert str(after[path].value)[8:] == str(elem.value)[8:]  # times of day kept
            if elem.VR == "TM" and elem.value:
                assert after[path].value == elem.value
        study_dates[patient].append((str(before["StudyDate"].value), str(after["StudyDate"].value)))
    assert len(shifts) >= 3
    assert all(len(s) == 1 for s in shifts.values()), shifts  # one shift per patient, every date
    assert all(-SHIFT_DAYS[1] <= next(iter(s)) <= -SHIFT_DAYS[0] for s in shifts.values())
    assert len({next(iter(s)) for s in shifts.values()}) > 1  # patients get different shifts
    multi = [dates for dates in study_dates.values() if len({d for d, _ in dates}) > 1]
    assert multi, "the phantom should give some patient several studies"
    for dates in multi:
        day = lambda text: dt.datetime.strptime(text, "%Y%m%d")  # noqa: E731
        (a_in, a_out), (b_in, b_out) = dates[0], dates[-1]
        assert day(b_in) - day(a_in) == day(b_out) - day(a_out)
