"""Loader for a folder of DICOM files (any depth, any file names), with optional reports and labels.

Files are recognised by the DICOM preamble ('DICM' at byte 128), not by extension, since PACS
exports often have none. View, sex and age come from ViewPosition, PatientSex and PatientAge; the
report from a sibling ``<stem>.txt`` when present; labels from an optional CSV keyed by ``path``
(relative to the folder) or ``sop_instance_uid``, with CheXpert label columns.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

from medmint.generators.datasets import errors
from medmint.generators.datasets.base import BaseDataset, LoadReport, OnError
from medmint.generators.datasets.errors import DatasetError
from medmint.generators.datasets.example import TrainingExample
from medmint.generators.datasets.images import decode_dicom, header_value, is_dicom, read_dicom_header
from medmint.generators.datasets.sections import parse_sections
from medmint.generators.datasets.tables import Table, open_table
from medmint.generators.datasets.values import (
    Bad, label_columns, parse_dicom_age, parse_sex, parse_view, read_labels,
)
from medmint.records import CHEXPERT_LABELS

_KEY_COLUMNS = ("path", "sop_instance_uid", "SOPInstanceUID")


def iter_dicom_files(root: Path) -> Iterator[Path]:
    """Every DICOM file under ``root`` in a stable (sorted) order, hidden files and folders skipped."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath, name)
            if path.is_file() and is_dicom(path):
                yield path


def _path_key(text: str) -> str:
    key = text.strip().replace("\\", "/")
    while key.startswith("./"):
        key = key[2:]
    return key


class DicomFolderDataset(BaseDataset):
    """Examples from every DICOM image under ``root``.

    ``labels_csv``: optional CSV/Parquet with a ``path`` (relative to ``root``) or
    ``sop_instance_uid`` column and CheXpert label columns; files it does not list get None labels.
    ``views``: view positions to keep, or None (default) for every image.
    """

    def __init__(self, root: str | os.PathLike[str], *, on_error: OnError = "raise",
                 views: Iterable[str] | None = None,
                 labels_csv: str | os.PathLike[str] | None = None) -> None:
        super().__init__(root, on_error=on_error, views=views)
        if not self.root.is_dir():
            raise DatasetError.at(self.root, "not a folder", reason=errors.BAD_FILE)
        self._labels: Table | None = None
        if labels_csv is not None:
            self._labels = open_table(labels_csv)
            self._key_column = next((c for c in _KEY_COLUMNS if c in self._labels.header), None)
            if self._key_column is None:
                raise DatasetError.at(self._labels.path, "missing required column 'path' (or 'sop_instance_uid')",
                                      reason=errors.MISSING_COLUMN, column="path")
            self._label_columns = label_columns(self._labels.header, required=False,
                                                path=os.fspath(self._labels.path))

    def _label_index(self, report: LoadReport) -> dict[str, object]:
        """key -> labels, or the DatasetError of its bad row (raised at once with on_error='raise')."""
        out: dict[str, object] = {}
        if self._labels is None:
            return out
        table = self._labels
        for row in table.rows():
            if isinstance(row, DatasetError):
                if self.on_error == "raise":
                    raise row
                report.skip(row)
                continue
            raw = row.cells.get(self._key_column)
            key = _path_key(str(raw)) if raw is not None else ""
            if not key:
                error = table.error(row, f"empty {self._key_column}", reason=errors.MISSING_VALUE,
                                    column=self._key_column)
                if self.on_error == "raise":
                    raise error
                report.skip(error)
                continue
            try:
                out[key] = read_labels(row.cells, self._label_columns)
            except Bad as exc:
                if self.on_error == "raise":
                    raise table.bad(row, exc) from None
                out[key] = table.bad(row, exc)
        return out

    def _items(self, report: LoadReport) -> Iterator[TrainingExample | DatasetError]:
        labels = self._label_index(report)
        for path in iter_dicom_files(self.root):
            try:
                item = self._example(path, labels, report)
            except DatasetError as exc:
                item = exc
            if item is not None:
                yield item

    def _example(self, path: Path, labels: dict[str, object],
                 report: LoadReport) -> TrainingExample | DatasetError | None:
        ds = read_dicom_header(path)
        attrs = {k: header_value(ds, k, path) for k in
                 ("ViewPosition", "PatientSex", "PatientAge", "PatientID", "StudyInstanceUID", "SOPInstanceUID")}
        try:
            view = parse_view(attrs["ViewPosition"])
        except Bad as exc:
            return DatasetError(f"{os.fspath(path)}: ViewPosition: {exc.problem}", reason=exc.reason, path=path,
                                column="ViewPosition", value=attrs["ViewPosition"])
        if not self._view_selected(view):
            report.filtered["view"] += 1
            return None
        study_labels: object = None
        if labels:
            rel = path.relative_to(self.root).as_posix()
            study_labels = labels.get(rel)
            if study_labels is None:
                study_labels = labels.get(str(attrs["SOPInstanceUID"] or ""))
            if isinstance(study_labels, DatasetError):
                return study_labels
        pixels, bits = decode_dicom(ds, path)
        try:
            sex = parse_sex(attrs["PatientSex"])
        except Bad:
            sex = None  # DICOM headers are messy; an odd PatientSex is not worth losing the image
        findings = impression = ""
        for report_path in (path.with_name(path.stem + ".txt"), path.with_name(path.name + ".txt")):
            if report_path.is_file():  # '<stem>.txt'; or '<name>.txt' for UID-named files without extension
                findings, impression = parse_sections(report_path.read_text(encoding="utf-8", errors="replace"))
                break
        return TrainingExample(
            image=pixels, bits_stored=bits, findings=findings, impression=impression,
            labels=dict(study_labels) if isinstance(study_labels, dict) else {k: None for k in CHEXPERT_LABELS},
            view=view, sex=sex, age=parse_dicom_age(attrs["PatientAge"]),
            subject_id=str(attrs["PatientID"] or ""), study_id=str(attrs["StudyInstanceUID"] or ""),
            source=os.fspath(path))
