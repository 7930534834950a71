import subprocess

import numpy as np
import pydicom
import pytest

from medmint.anonymize.minting import mint_identity, mint_uids
from medmint.pipeline.dicom_objects import DiagnosticReportSR, DigitalXRayImage
from medmint.pipeline.sinks import write_dicom
from tests.conftest import require_tool


def make_pair(view: str = "PA", rows: int = 96, cols: int = 80):
    uids, ident = mint_uids("t1"), mint_identity("t1", 71, "M")
    pixels = (np.arange(rows * cols, dtype=np.uint32).reshape(rows, cols) % 4096).astype(np.uint16)
    image = DigitalXRayImage(
        pixel_array=pixels, bits_stored=12, patient_id=ident.patient_id, patient_name=ident.patient_name,
        patient_birth_date=ident.birth_date, patient_sex="M", patient_age=71, study_instance_uid=uids.study,
        series_instance_uid=uids.image_series, sop_instance_uid=uids.image_sop, study_date=ident.study_date,
        study_time=ident.study_time, accession_number=ident.accession_number, view_position=view,
        institution_name="medmint synthetic",
    )
    report = DiagnosticReportSR(
        image=image, findings="Small right pleural effusion. No pneumothorax.", impression="Small right effusion.",
        series_instance_uid=uids.sr_series, sop_instance_uid=uids.sr_sop, institution_name="medmint synthetic",
    )
    return pixels, image, report


@pytest.mark.parametrize("view", ["PA", "AP"])
def test_dx_and_sr_pass_dciodvfy_with_no_errors_or_warnings(tmp_path, view):
    dciodvfy = require_tool("dciodvfy")
    _, image, report = make_pair(view)
    for name, ds in (("dx.dcm", image), ("sr.dcm", report)):
        path = tmp_path / name
        assert write_dicom(path, ds)
        proc = subprocess.run([dciodvfy, str(path)], capture_output=True, text=True)
        problems = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith(("Error", "Warning"))]
        assert problems == [], problems


def test_round_trip_keeps_pixels_study_and_report(tmp_path):
    pixels, image, report = make_pair(rows=64, cols=70)
    write_dicom(tmp_path / "dx.dcm", image)
    write_dicom(tmp_path / "sr.dcm", report)
    dx, sr = pydicom.dcmread(tmp_path / "dx.dcm"), pydicom.dcmread(tmp_path / "sr.dcm")
    assert np.array_equal(dx.pixel_array, pixels)
    assert (dx.Modality, dx.PresentationIntentType, dx.PhotometricInterpretation) == ("DX", "FOR PRESENTATION", "MONOCHROME2")
    assert sr.StudyInstanceUID == dx.StudyInstanceUID and sr.PatientID == dx.PatientID
    texts = [item.TextValue for section in sr.ContentSequence for item in section.ContentSequence]
    assert texts == ["Small right pleural effusion. No pneumothorax.", "Small right effusion."]
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == dx.SOPInstanceUID


def test_dcmdump_reads_the_files(tmp_path):
    dcmdump = require_tool("dcmdump")
    _, image, report = make_pair()
    write_dicom(tmp_path / "dx.dcm", image)
    write_dicom(tmp_path / "sr.dcm", report)
    for name in ("dx.dcm", "sr.dcm"):
        proc = subprocess.run([dcmdump, str(tmp_path / name)], capture_output=True, text=True)
        assert proc.returncode == 0 and "E:" not in proc.stderr


def test_pixels_that_do_not_fit_are_refused():
    with pytest.raises(ValueError, match="bits_stored=12"):
        DigitalXRayImage(
            pixel_array=np.full((8, 8), 5000, np.uint16), bits_stored=12, patient_id="x", patient_name="A^B",
            patient_birth_date="19500101", patient_sex="F", patient_age=70, study_instance_uid="1.2",
            series_instance_uid="1.3", sop_instance_uid="1.4", study_date="20240101", study_time="101010",
            accession_number="A1", view_position="PA", institution_name="x",
        )
