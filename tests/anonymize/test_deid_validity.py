"""No output is less valid than its input: dciodvfy's error count per file never rises.

Measured on every DICOM file pydicom ships, on the phantom's PHI studies (both profiles), and on
inputs stuffed with every attribute Table E.1-1 names (each with a value, sequences with an item) in
several IODs (DX, CT, MR, SR, RT plan and dose, waveform): there a sequence the profile empties, a Type 1
attribute it removes or a dummy of the wrong form would each show up as an extra error.
"""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from medmint.anonymize.corpus import anonymize_folder
from medmint.anonymize.dicom_deid import DeidOptions
from medmint.generators.datasets import write_phantom_dicom
from tests.anonymize.deid_helpers import (
    KEY, PYDICOM_DATA, PYDICOM_FILES, dciodvfy_lines, dciodvfy_worse, deid_pairs, new_dciodvfy_errors, read,
    stuff_table_attributes,
)
from tests.conftest import require_tool

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
BASIC, ALL_OPTIONS = DeidOptions(), DeidOptions(retain_modified_dates=True, clean_descriptors=True)
STUFFED_FROM = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "rtdose.dcm", "test-SR.dcm", "reportsi.dcm",
                "waveform_ecg.dcm", "rtstruct.dcm", "ExplVR_BigEndNoMeta.dcm")
# The one new kind of error the stuffed inputs may show, by the table itself: Clinical Trial Protocol Ethics
# Committee Name is D (kept, Type 1C "if the Approval Number is present") while the Approval Number is X.
TABLE_CONDITIONAL = "Attribute present when condition unsatisfied"


@pytest.fixture(scope="module")
def phantom_in(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("phantom-phi")
    write_phantom_dicom(root, 10, seed=8, size=64, phi=True)
    return root


@pytest.fixture(scope="module")
def stuffed_in(tmp_path_factory, phantom_in) -> Path:
    root = tmp_path_factory.mktemp("stuffed")
    sources = sorted(phantom_in.rglob("*.dcm"))[:2] + [PYDICOM_FILES / name for name in STUFFED_FROM]
    for i, path in enumerate(sources):
        ds = stuff_table_attributes(read(path))
        ds.save_as(root / f"{i:02d}-{path.stem}.dcm")
    return root


def _run(src: Path, tmp_path_factory, options: DeidOptions) -> list[tuple[Path, Path]]:
    out = tmp_path_factory.mktemp("out") / "out"
    anonymize_folder(src, out, KEY, options, skip_bad=True)
    return deid_pairs(src, out)


@pytest.mark.parametrize("corpus", ["pydicom-basic", "pydicom-options", "phantom-basic", "phantom-options",
                                    "stuffed-basic", "stuffed-options"])
def test_dciodvfy_errors_never_rise(corpus, phantom_in, stuffed_in, tmp_path_factory):
    require_tool("dciodvfy")
    name, profile = corpus.split("-")
    src = {"pydicom": PYDICOM_DATA, "phantom": phantom_in, "stuffed": stuffed_in}[name]
    pairs = _run(src, tmp_path_factory, BASIC if profile == "basic" else ALL_OPTIONS)
    assert len(pairs) >= {"pydicom": 120, "phantom": 10, "stuffed": len(STUFFED_FROM) + 2}[name]
    errors_in, errors_out, worse = dciodvfy_worse(pairs)
    assert not worse, "outputs with more dciodvfy errors than their input:\n" + "\n".join(
        f"{src}:\n    " + "\n    ".join(lines) for src, lines in worse.items())
    assert errors_out <= errors_in
    if name == "stuffed":  # and no new kind of error either (the one the table causes aside)
        new = {src: {e for e in kinds if TABLE_CONDITIONAL not in e}
               for src, kinds in new_dciodvfy_errors(pairs).items()}
        assert not {src: kinds for src, kinds in new.items() if kinds}


def test_a_stuffed_input_loses_every_value_and_still_validates(stuffed_in, tmp_path_factory):
    """The stuffing is real PHI for the checker: the name, the free text and the dates are all gone."""
    require_tool("dciodvfy")
    for src, out in _run(stuffed_in, tmp_path_factory, ALL_OPTIONS):
        text = " | ".join(str(e.value) for e in read(out).iterall() if e.VR not in ("OB", "OW", "UN", "SQ"))
        assert "Qzarnik" not in text and "Ulla" not in text and "19610203" not in text, out
        assert not [line for line in dciodvfy_lines(out) if "Sequence number of Items" in line
                    and line not in dciodvfy_lines(src)], out


def test_sequence_rules_follow_the_iod():
    """Type 3 sequence emptied by X/Z: removed; Type 1 in the IOD: one item kept, de-identified."""
    from pydicom.dataset import Dataset, FileMetaDataset

    from medmint.anonymize.dicom_deid import deidentify

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.2", "1.2.3.4"  # CT Image
    ref = Dataset()
    ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = "1.2.840.10008.3.1.2.3.1", "1.2.3.5"
    ds.ReferencedStudySequence = [ref]  # X/Z, Type 3 in General Study
    ds.OperatorsName = "Qzarnik^Ulla"
    ds.InstanceCreationDate = "20200101"  # X/D, Type 3
    ds.PresentationCreationDate = "20200101"  # X, not in a CT
    deidentify(ds, KEY)
    assert "ReferencedStudySequence" not in ds and "PresentationCreationDate" not in ds
    assert ds.OperatorsName == "ANONYMIZED^"

    pr = Dataset()
    pr.file_meta = FileMetaDataset()
    pr.SOPClassUID, pr.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.11.1", "1.2.3.6"  # Grayscale Softcopy PR
    pr.PresentationCreationDate, pr.PresentationCreationTime = "20200101", "101010"  # X, but Type 1 here
    pr.ReferencedStudySequence = [ref]
    deidentify(pr, KEY)
    assert pr.PresentationCreationDate == "20000101" and pr.PresentationCreationTime == "000000"  # dummies
    assert "ReferencedStudySequence" not in pr


def test_bundled_files_without_the_preamble_are_read_and_validate(tmp_path):
    """Preamble-less files (a bare data set, either byte order) are de-identified like any other."""
    require_tool("dciodvfy")
    src = tmp_path / "in"
    src.mkdir()
    for name in ("ExplVR_BigEndNoMeta.dcm", "ExplVR_LitEndNoMeta.dcm", "rtstruct.dcm"):
        (src / name).write_bytes((PYDICOM_FILES / name).read_bytes())
    (src / "IM0001").write_bytes((PYDICOM_FILES / "rtstruct.dcm").read_bytes())  # no name, no preamble
    summary = anonymize_folder(src, tmp_path / "out", KEY)
    assert summary["ok"] == summary["files"] == 4 and summary["bad"] == []
    for path in (tmp_path / "out").glob("*"):
        if path.is_file() and path.name != "anonymize-audit.jsonl":
            assert pydicom.dcmread(path).PatientIdentityRemoved == "YES"  # now with the preamble
