"""Typed keyword constructors for the two DICOM objects a sample becomes (highdicom's style).

``DigitalXRayImage`` is a DX "for presentation" image (PS3.3 A.26) built with pydicom;
``DiagnosticReportSR`` is a Comprehensive SR shaped like TID 2000 (Findings and Impression
sections), built with highdicom, in the same study and pointing at the image as evidence.
Both carry only synthetic identities and minted UIDs, and both validate with dciodvfy.
"""

from __future__ import annotations

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID

import medmint

FIELD_OF_VIEW_MM = 430.0  # a 17-inch detector: pixel spacing follows the image size
_DEID_METHOD = "medmint synthetic: identity and UIDs minted"


# CID 4010 "DX View"
_VIEW_CODES = {
    "PA": ("399348003", "SCT", "postero-anterior"),
    "AP": ("399182007", "SCT", "antero-posterior"),
    "LATERAL": ("399173006", "SCT", "left lateral"),
}


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


class DigitalXRayImage(Dataset):
    """A 16-bit MONOCHROME2 DX image for presentation, with synthetic patient and minted UIDs."""

    def __init__(
        self,
        *,
        pixel_array: np.ndarray,
        bits_stored: int,
        patient_id: str,
        patient_name: str,
        patient_birth_date: str,
        patient_sex: str,
        patient_age: int,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        study_date: str,
        study_time: str,
        accession_number: str,
        view_position: str,
        institution_name: str,
        series_description: str = "synthetic chest radiograph",
        manufacturer: str = "medmint",
    ) -> None:
        super().__init__()
        if pixel_array.ndim != 2 or pixel_array.dtype != np.uint16:
            raise ValueError(f"pixel_array must be 2-D uint16, got {pixel_array.dtype} {pixel_array.shape}")
        if not 8 <= bits_stored <= 16 or int(pixel_array.max(initial=0)) >= 2**bits_stored:
            raise ValueError(f"pixel values do not fit bits_stored={bits_stored}")
        rows, cols = pixel_array.shape

        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
        meta.MediaStorageSOPInstanceUID = sop_instance_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        meta.ImplementationVersionName = f"MEDMINT_{medmint.__version__}"[:16]
        self.file_meta = meta

        # SOP Common
        self.SpecificCharacterSet = "ISO_IR 192"
        self.SOPClassUID = DigitalXRayImageStorageForPresentation
        self.SOPInstanceUID = sop_instance_uid
        self.InstanceCreationDate = study_date
        self.InstanceCreationTime = study_time
        # Patient (synthetic), Patient Study
        self.PatientName = patient_name
        self.PatientID = patient_id
        self.PatientBirthDate = patient_birth_date
        self.PatientSex = patient_sex
        self.PatientAge = f"{min(patient_age, 999):03d}Y"
        self.PatientIdentityRemoved = "YES"
        self.DeidentificationMethod = _DEID_METHOD
        # General Study
        self.StudyInstanceUID = study_instance_uid
        self.StudyDate = study_date
        self.StudyTime = study_time
        self.ReferringPhysicianName = ""
        self.StudyID = accession_number[-8:]
        self.AccessionNumber = accession_number
        self.StudyDescription = "CHEST (PA AND LAT)" if view_position == "PA" else "CHEST (PORTABLE AP)"
        # General Series + DX Series
        self.Modality = "DX"
        self.SeriesInstanceUID = series_instance_uid
        self.SeriesNumber = 1
        self.SeriesDescription = series_description
        self.PresentationIntentType = "FOR PRESENTATION"
        self.BodyPartExamined = "CHEST"
        # General Equipment
        self.Manufacturer = manufacturer
        self.InstitutionName = institution_name
        self.SoftwareVersions = medmint.__version__
        # General Image + DX Image
        self.InstanceNumber = 1
        self.PatientOrientation = ["L", "F"]
        self.ContentDate = study_date
        self.ContentTime = study_time
        self.ImageType = ["DERIVED", "PRIMARY"]
        self.BurnedInAnnotation = "NO"
        self.LossyImageCompression = "00"
        self.PixelIntensityRelationship = "LIN"
        self.PixelIntensityRelationshipSign = 1
        self.RescaleIntercept = 0
        self.RescaleSlope = 1
        self.RescaleType = "US"
        self.PresentationLUTShape = "IDENTITY"
        # DX Anatomy Imaged + DX Positioning
        self.ImageLaterality = "U"
        self.AnatomicRegionSequence = [_code("51185008", "SCT", "Chest")]
        self.ViewPosition = view_position
        self.ViewCodeSequence = [_code(*_VIEW_CODES[view_position])]
        self.PositionerType = ""
        # DX Detector
        self.DetectorType = "DIRECT"
        spacing = round(FIELD_OF_VIEW_MM / max(rows, cols), 6)
        self.ImagerPixelSpacing = [spacing, spacing]
        # Acquisition Context (type 2: present, empty)
        self.AcquisitionContextSequence = []
        # VOI LUT: a full-range window over the stored values
        lo, hi = int(pixel_array.min(initial=0)), int(pixel_array.max(initial=0))
        self.WindowCenter = (lo + hi + 1) // 2
        self.WindowWidth = max(hi - lo + 1, 2)
        # Image Pixel
        self.SamplesPerPixel = 1
        self.PhotometricInterpretation = "MONOCHROME2"
        self.Rows = rows
        self.Columns = cols
        self.BitsAllocated = 16
        self.BitsStored = bits_stored
        self.HighBit = bits_stored - 1
        self.PixelRepresentation = 0
        self.PixelData = np.ascontiguousarray(pixel_array, dtype="<u2").tobytes()


def _container(code: tuple[str, str, str], *, relationship: str | None, template: str | None = None) -> hd.sr.ContainerContentItem:
    return hd.sr.ContainerContentItem(
        name=hd.sr.CodedConcept(*code), template_id=template, relationship_type=relationship
    )


class DiagnosticReportSR(hd.sr.ComprehensiveSR):
    """The report as a Comprehensive SR: TID 2000 tree with Findings and Impression text items."""

    def __init__(
        self,
        *,
        image: DigitalXRayImage,
        findings: str,
        impression: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        institution_name: str,
        manufacturer: str = "medmint",
    ) -> None:
        root = _container(("18748-4", "LN", "Diagnostic Imaging Report"), relationship=None, template="2000")
        sections = []
        for section_code, item_code, text in (
            (("121070", "DCM", "Findings"), ("121071", "DCM", "Finding"), findings),
            (("121072", "DCM", "Impressions"), ("121073", "DCM", "Impression"), impression),
        ):
            section = _container(section_code, relationship="CONTAINS")
            section.ContentSequence = [
                hd.sr.TextContentItem(
                    name=hd.sr.CodedConcept(*item_code), value=text or "None.", relationship_type="CONTAINS"
                )
            ]
            sections.append(section)
        root.ContentSequence = sections
        super().__init__(
            evidence=[image],
            content=root,
            series_instance_uid=series_instance_uid,
            series_number=2,
            sop_instance_uid=sop_instance_uid,
            instance_number=1,
            manufacturer=manufacturer,
            institution_name=institution_name,
            is_complete=True,
            is_final=True,
            is_verified=False,
        )
        self.SpecificCharacterSet = "ISO_IR 192"
        self.SeriesDescription = "synthetic radiology report"
        self.ContentDate = image.StudyDate
        self.ContentTime = image.StudyTime
        self.InstanceCreationDate = image.StudyDate
        self.InstanceCreationTime = image.StudyTime
        self.PatientIdentityRemoved = "YES"
        self.DeidentificationMethod = _DEID_METHOD
        # highdicom stamps the wall clock here; the synthetic content time keeps files reproducible.
        for equipment in self.get("ContributingEquipmentSequence", []):
            equipment.ContributionDateTime = f"{image.StudyDate}{image.StudyTime}"
