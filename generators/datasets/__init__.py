"""Training-data loaders (MIMIC-CXR-JPG layout, CSV/Parquet manifest, DICOM folder) and the writer
that lays phantom studies out like MIMIC-CXR-JPG. Every loader yields ``TrainingExample``s and
keeps a ``LoadReport``; bad input raises a one-line ``DatasetError`` or is skipped and counted.
"""

from medmint.generators.datasets.base import BaseDataset, LoadReport
from medmint.generators.datasets.dicom_folder import DicomFolderDataset
from medmint.generators.datasets.errors import DatasetError
from medmint.generators.datasets.example import TrainingExample
from medmint.generators.datasets.manifest import ManifestDataset
from medmint.generators.datasets.mimic import MimicCxrJpgDataset
from medmint.generators.datasets.mimic_writer import (
    PhantomStudy, iter_phantom_studies, plan_phantom_studies, write_phantom_dataset,
)
from medmint.generators.datasets.detect import open_dataset
from medmint.generators.datasets.phantom_dicom import write_phantom_dicom
from medmint.generators.datasets.sections import parse_sections

__all__ = [
    "BaseDataset",
    "DatasetError",
    "DicomFolderDataset",
    "LoadReport",
    "ManifestDataset",
    "MimicCxrJpgDataset",
    "PhantomStudy",
    "TrainingExample",
    "iter_phantom_studies",
    "open_dataset",
    "parse_sections",
    "plan_phantom_studies",
    "write_phantom_dataset",
    "write_phantom_dicom",
]
