"""Write phantom studies as DX DICOM files (MIMIC-CXR's DICOM layout), optionally with synthetic PHI.

Layout::

    OUT/files/p10/p10000032/s50414267/<dicom_id>.dcm   one DX image per series (one or two series)
    OUT/files/p10/p10000032/s50414267/<dicom_id>.txt   the study's free-text report, beside each image
    OUT/medmint-dataset.json                           the arguments, so a re-run resumes safely

With ``phi=True`` the headers carry what a real PACS export does, all invented (see
``generators/phantom/phi.py``): names, MRN, birth date, addresses and phone numbers, physicians,
institution, accession number, several dates and times, OtherPatientIDs (and its sequence), an
ImageComments line naming the patient, private tag blocks (top level and inside a sequence item), a
second "processed" series referencing the first image, and BurnedInAnnotation=YES on some images (the
pixels carry no text: it is there to exercise the flag). A subject's studies share one identity and
keep the planned intervals between their dates. Without PHI the patient is the subject id and the
images say PatientIdentityRemoved=YES, like generated samples. The anonymizer's tests run on this.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Callable

from medmint.anonymize.minting import mint_uid
from medmint.atomic import atomic_write, atomic_write_bytes
from medmint.generators.datasets.mimic_writer import (
    MANIFEST_FILE, PhantomStudy, _check_case, _h, _prepare_out_dir, iter_phantom_studies,
)
from medmint.generators.phantom.case import PhantomCase

SECOND_SERIES_PERCENT = 40
BURNED_IN_PERCENT = 10
_PATIENT_KEYS = ("PatientName", "PatientID", "PatientBirthDate", "OtherPatientIDs", "PatientAddress",
                 "PatientTelephoneNumbers")
_STUDY_KEYS = ("AccessionNumber", "StudyID", "ReferringPhysicianName", "PerformingPhysicianName",
               "NameOfPhysiciansReadingStudy", "OperatorsName", "InstitutionName", "InstitutionAddress",
               "InstitutionalDepartmentName", "StationName")
PRIVATE_CREATOR = "MEDMINT PHANTOM PHI"


def _dicom_id(seed: int, study: PhantomStudy, series: int) -> str:
    if series == 1:
        return study.dicom_id
    digest = hashlib.sha256(f"medmint-dicom:{seed}:{study.dicom_id}:{series}".encode()).hexdigest()[:40]
    return "-".join(digest[k:k + 8] for k in range(0, 40, 8))


def _clock(hhmmss: str, minutes: int) -> str:
    t = dt.datetime(2000, 1, 1, int(hhmmss[:2]), int(hhmmss[2:4]), int(hhmmss[4:6])) + dt.timedelta(minutes=minutes)
    return t.strftime("%H%M%S")


def _add_phi(ds, case: PhantomCase, patient: dict[str, str], study_date: str, study_time: str,  # noqa: ANN001
             burned_in: bool) -> None:
    """Headers of a raw export: every PHI attribute the phantom's identity offers, and then some."""
    from pydicom.dataset import Dataset

    for keyword in _PATIENT_KEYS:
        setattr(ds, keyword, patient[keyword])
    for keyword in _STUDY_KEYS:
        setattr(ds, keyword, case.dicom_phi[keyword])
    ds.PatientAge = case.dicom_phi["PatientAge"]
    ds.PatientIdentityRemoved = "NO"
    del ds.DeidentificationMethod
    acquired = _clock(study_time, 4)
    ds.StudyDate, ds.StudyTime = study_date, study_time
    ds.SeriesDate, ds.SeriesTime = study_date, acquired
    ds.AcquisitionDate, ds.AcquisitionTime = study_date, acquired
    ds.AcquisitionDateTime = study_date + acquired
    ds.ContentDate, ds.ContentTime = study_date, _clock(study_time, 6)
    ds.InstanceCreationDate, ds.InstanceCreationTime = study_date, _clock(study_time, 7)
    other = Dataset()
    other.PatientID, other.TypeOfPatientID = patient["OtherPatientIDs"], "TEXT"
    ds.OtherPatientIDsSequence = [other]
    family, _, given = patient["PatientName"].partition("^")
    ds.ImageComments = (f"Pt {family.upper()}, {given.upper()} (MRN {patient['PatientID']}), DOB "
                        f"{patient['PatientBirthDate']}; compared with prior per Dr. "
                        f"{case.dicom_phi['ReferringPhysicianName'].replace('^', ' ')}")
    ds.BurnedInAnnotation = "YES" if burned_in else "NO"
    block = ds.private_block(0x0009, PRIVATE_CREATOR, create=True)
    block.add_new(0x01, "LO", patient["PatientName"].replace("^", " "))
    block.add_new(0x02, "LO", patient["PatientID"])
    block.add_new(0x03, "DA", patient["PatientBirthDate"])
    block.add_new(0x04, "LT", f"home: {patient['PatientAddress']}; phone {patient['PatientTelephoneNumbers']}")
    nested = ds.AnatomicRegionSequence[0].private_block(0x0011, PRIVATE_CREATOR, create=True)
    nested.add_new(0x01, "LO", f"MRN {patient['PatientID']}")


def _image(case: PhantomCase, uids: dict[str, str], patient: dict[str, str], series: int, dicom_id: str,
           study_date: str, study_time: str, phi: bool, burned_in: bool):  # noqa: ANN202
    from medmint.pipeline.dicom_objects import DigitalXRayImage

    ds = DigitalXRayImage(
        pixel_array=case.image, bits_stored=case.bits_stored, patient_id=patient["PatientID"],
        patient_name=patient["PatientName"], patient_birth_date=patient["PatientBirthDate"], patient_sex=case.sex,
        patient_age=case.age, study_instance_uid=uids["study"], series_instance_uid=uids[f"series{series}"],
        sop_instance_uid=uids[f"sop{series}"], study_date=study_date, study_time=study_time,
        accession_number=case.dicom_phi.get("AccessionNumber", dicom_id[:8]), view_position=case.view.upper(),
        institution_name="", series_description="chest radiograph" if series == 1 else "processed chest radiograph",
    )
    ds.SeriesNumber = series
    if series > 1:
        from pydicom.dataset import Dataset

        source = Dataset()
        source.ReferencedSOPClassUID, source.ReferencedSOPInstanceUID = ds.SOPClassUID, uids["sop1"]
        ds.SourceImageSequence = [source]
        ds.ImageType = ["DERIVED", "SECONDARY"]
        ds.DerivationDescription = "edge enhanced"
    if phi:
        _add_phi(ds, case, patient, study_date, study_time, burned_in)
    return ds


def write_phantom_dicom(out_dir: str | os.PathLike[str], n: int, *, seed: int = 0, size: int = 256, phi: bool = False,
                        progress: Callable[[int], object] | None = None) -> dict[str, object]:
    """Write ``n`` phantom studies as DX DICOM with sibling reports; re-running resumes (identical bytes)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, not {n!r}")
    out = Path(out_dir)
    args: dict[str, object] = {"n": n, "seed": int(seed), "size": size, "image_format": "dicom", "phi": bool(phi)}
    _prepare_out_dir(out, args)
    atomic_write_bytes(out / MANIFEST_FILE, (json.dumps({"format": "mimic-cxr-dicom", "generator": "phantom",
                                                         "args": args}, indent=2, sort_keys=True) + "\n").encode())
    patient: dict[str, str] = {}
    first_planned = start = dt.date(2000, 1, 1)
    subjects: set[str] = set()
    images = burned = 0
    for study, case in iter_phantom_studies(n, seed=seed, size=size, phi=phi):
        _check_case(study, case)
        planned = dt.datetime.strptime(study.study_date, "%Y%m%d").date()
        if study.first_of_subject:  # one identity per subject; later studies keep the planned intervals
            first_planned = start = planned
            patient = {"PatientID": study.subject_id, "PatientName": "", "PatientBirthDate": ""}
            if phi:
                patient = {k: case.dicom_phi[k] for k in _PATIENT_KEYS}
                start = dt.datetime.strptime(case.dicom_phi["StudyDate"], "%Y%m%d").date()
        subjects.add(study.subject_id)
        study_date = (start + (planned - first_planned)).strftime("%Y%m%d")
        study_time = case.dicom_phi["StudyTime"] if phi else f"{int(float(study.study_time)):06d}"
        sample = f"phantom-{seed}-{study.study_id}"
        uids = {"study": mint_uid(sample, "study", None)}
        n_series = 2 if _h(seed, "series", study.index) % 100 < SECOND_SERIES_PERCENT else 1
        report = case.report if case.report.endswith("\n") else case.report + "\n"
        for series in range(1, n_series + 1):
            uids[f"series{series}"] = mint_uid(sample, f"series-{series}", None)
            uids[f"sop{series}"] = mint_uid(sample, f"sop-{series}", None)
            dicom_id = _dicom_id(seed, study, series)
            burned_in = phi and _h(seed, "burned-in", study.index, series) % 100 < BURNED_IN_PERCENT
            ds = _image(case, uids, patient, series, dicom_id, study_date, study_time, phi, burned_in)
            target = out / study.study_dir / f"{dicom_id}.dcm"
            atomic_write(target, lambda tmp: ds.save_as(tmp, enforce_file_format=True))
            atomic_write_bytes(target.with_suffix(".txt"), report.encode("utf-8"))
            images += 1
            burned += burned_in
        if progress is not None:
            progress(1)
    return {"out_dir": os.fspath(out), "format": "dicom", "n_studies": n, "n_images": images,
            "n_subjects": len(subjects), "phi": bool(phi), "burned_in_annotation": burned}
