"""Pick the right loader for whatever the user points at, or say in one line why none fits."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from medmint.generators.datasets import errors
from medmint.generators.datasets.base import BaseDataset
from medmint.generators.datasets.dicom_folder import DicomFolderDataset, iter_dicom_files
from medmint.generators.datasets.errors import DatasetError
from medmint.generators.datasets.manifest import ManifestDataset
from medmint.generators.datasets.mimic import MimicCxrJpgDataset, is_mimic_root
from medmint.generators.datasets.mimic_writer import METADATA_FILE
from medmint.generators.datasets.tables import is_table


def open_dataset(path_or_dir: str | os.PathLike[str], **options: Any) -> BaseDataset:
    """MIMIC-CXR-JPG folder, CSV/Parquet manifest, or folder of DICOM files — chosen by what is there.

    ``options`` go to the chosen loader (``on_error``, ``views``, ``split`` ...).
    """
    path = Path(path_or_dir)
    if not path.exists():
        raise DatasetError.at(path, "no such file or folder", reason=errors.BAD_FILE)
    if path.is_dir():
        if is_mimic_root(path):
            return MimicCxrJpgDataset(path, **options)
        if next(iter_dicom_files(path), None) is not None:
            return DicomFolderDataset(path, **options)
        raise DatasetError.at(path, f"not a dataset: no {METADATA_FILE}[.gz] and no DICOM files in this folder",
                              reason=errors.BAD_FILE)
    if is_table(path):
        return ManifestDataset(path, **options)
    raise DatasetError.at(path, "not a dataset: expected a MIMIC-CXR-JPG folder, a .csv/.parquet manifest "
                          "or a folder of DICOM files", reason=errors.BAD_FILE)
