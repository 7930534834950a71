"""Shared fixtures for the generator tests: small phantom datasets written once per session."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from medmint.generators.datasets import PhantomStudy, iter_phantom_studies, write_phantom_dataset
from medmint.generators.phantom.case import PhantomCase

MIMIC_N = 24
MIMIC_SEED = 7
MIMIC_SIZE = 64


@dataclass(frozen=True)
class WrittenDataset:
    root: Path
    summary: dict
    studies: dict[str, tuple[PhantomStudy, PhantomCase]]  # study_id -> (study, case)


def _write(tmp_path_factory: pytest.TempPathFactory, name: str, n: int, **kwargs) -> WrittenDataset:
    root = tmp_path_factory.mktemp(name) / "mimic"
    summary = write_phantom_dataset(root, n, **kwargs)
    studies = {s.study_id: (s, c) for s, c in iter_phantom_studies(
        n, seed=kwargs.get("seed", 0), size=kwargs.get("size", 256), phi=kwargs.get("phi", False))}
    return WrittenDataset(root, summary, studies)


@pytest.fixture(scope="session")
def mimic_png(tmp_path_factory: pytest.TempPathFactory) -> WrittenDataset:
    """24 studies, 64 px, lossless 16-bit PNG. Read-only: copy it (``copy_mimic``) before changing it."""
    return _write(tmp_path_factory, "mimic_png", MIMIC_N, seed=MIMIC_SEED, size=MIMIC_SIZE, image_format="png")


@pytest.fixture(scope="session")
def mimic_jpg(tmp_path_factory: pytest.TempPathFactory) -> WrittenDataset:
    """8 studies, 64 px, 8-bit JPG as MIMIC-CXR-JPG ships them."""
    return _write(tmp_path_factory, "mimic_jpg", 8, seed=3, size=MIMIC_SIZE, image_format="jpg")


@pytest.fixture(scope="session")
def mimic_small(tmp_path_factory: pytest.TempPathFactory) -> WrittenDataset:
    """8 studies, 32 px: the base the bad-input tests copy and break."""
    return _write(tmp_path_factory, "mimic_small", 8, seed=11, size=64, image_format="png")


@pytest.fixture
def copy_mimic(tmp_path: Path) -> Callable[[WrittenDataset], Path]:
    """Copy a session dataset into this test's tmp folder so the test may break it."""

    def copy(ds: WrittenDataset) -> Path:
        dest = tmp_path / f"copy-{ds.root.parent.name}"
        shutil.copytree(ds.root, dest)
        return dest

    return copy


def write_dicom(path: Path, image: np.ndarray, *, bits_stored: int = 12, view: str | None = "PA",
                sex: str | None = "F", age: str | None = "065Y", photometric: str = "MONOCHROME2",
                patient_id: str = "PAT001", study_uid: str | None = None, sop_uid: str | None = None,
                with_pixels: bool = True) -> Path:
    """A minimal DX image (or, ``with_pixels=False``, a Basic Text SR) written with pydicom."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    dx, sr = "1.2.840.10008.5.1.4.1.1.1.1", "1.2.840.10008.5.1.4.1.1.88.11"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = dx if with_pixels else sr
    meta.MediaStorageSOPInstanceUID = sop_uid or generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientID = patient_id
    ds.PatientName = "Phantom^Test"
    if sex is not None:
        ds.PatientSex = sex
    if age is not None:
        ds.PatientAge = age
    if not with_pixels:
        ds.Modality = "SR"
        ds.ValueType = "CONTAINER"
    else:
        ds.Modality = "DX"
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        if view is not None:
            ds.ViewPosition = view
        ds.Rows, ds.Columns = image.shape
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = photometric
        ds.BitsAllocated = 16
        ds.BitsStored = bits_stored
        ds.HighBit = bits_stored - 1
        ds.PixelRepresentation = 0
        ds.PixelData = np.ascontiguousarray(image, dtype=np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def make_dicom() -> Callable[..., Path]:
    """``write_dicom`` as a fixture (tests import nothing from conftest)."""
    return write_dicom
