"""Loader for the MIMIC-CXR-JPG layout (PhysioNet's, or one written by ``mimic_writer``).

Reads the metadata table (one row per image), the CheXpert label table (one row per study), the
split table when present, and ``demographics.csv`` (or MIMIC-IV's ``patients.csv``) when present;
finds each image under ``files/pNN/pSUBJECT/sSTUDY/`` and the free-text report beside the study
folder (``sSTUDY.txt``, as the MIMIC-CXR reports archive unpacks), and parses its FINDINGS and
IMPRESSION. Tables may be plain ``.csv`` or PhysioNet's ``.csv.gz``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

from medmint.generators.datasets import errors
from medmint.generators.datasets.base import BaseDataset, LoadReport, OnError
from medmint.generators.datasets.errors import DatasetError
from medmint.generators.datasets.example import TrainingExample
from medmint.generators.datasets.images import read_image
from medmint.generators.datasets.sections import parse_sections
from medmint.generators.datasets.tables import CsvTable, Row, Table
from medmint.generators.datasets.values import (
    Bad, label_columns, parse_age, parse_id, parse_sex, parse_view, read_labels,
)
from medmint.generators.datasets.mimic_writer import (
    CHEXPERT_FILE, DEMOGRAPHICS_FILE, METADATA_FILE, SPLIT_FILE, SPLITS,
)

IMAGE_SUFFIXES = (".jpg", ".png", ".jpeg")
_SPLIT_ALIASES = {"train": "train", "validate": "validate", "val": "validate", "valid": "validate",
                  "validation": "validate", "test": "test"}


def find_table(root: Path, name: str) -> Path | None:
    """``root/name`` or its PhysioNet ``.gz`` twin, whichever exists."""
    for candidate in (root / name, root / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def is_mimic_root(path: Path) -> bool:
    return path.is_dir() and find_table(path, METADATA_FILE) is not None


class MimicCxrJpgDataset(BaseDataset):
    """Image + report + CheXpert-label examples from a MIMIC-CXR-JPG folder.

    ``split``: "train", "validate" (or "val") or "test" to keep one split (needs the split table).
    ``views``: view positions to keep (default frontal: PA and AP); None keeps every image, blank
    ViewPosition included. ``labeler``: "chexpert" or "negbio" (which MIMIC label table to read).
    ``reports_root``: where ``files/pNN/...sSTUDY.txt`` live, if not under ``root``.
    """

    def __init__(self, root: str | os.PathLike[str], *, split: str | None = None,
                 views: Iterable[str] | None = ("PA", "AP"), on_error: OnError = "raise",
                 labeler: str = "chexpert", reports_root: str | os.PathLike[str] | None = None,
                 demographics: str | os.PathLike[str] | None = None) -> None:
        super().__init__(root, on_error=on_error, views=views)
        if split is not None and split not in _SPLIT_ALIASES:
            raise ValueError(f"split must be one of {', '.join(SPLITS)} or None, not {split!r}")
        self.split = _SPLIT_ALIASES[split] if split is not None else None
        if not self.root.is_dir():
            raise DatasetError.at(self.root, "not a folder", reason=errors.BAD_FILE)
        self.reports_root = Path(reports_root) if reports_root is not None else self.root
        self._last_suffix = IMAGE_SUFFIXES[0]  # try first the suffix the previous image had

        metadata = find_table(self.root, METADATA_FILE)
        if metadata is None:
            raise DatasetError.at(self.root, f"no {METADATA_FILE}[.gz]: not a MIMIC-CXR-JPG folder",
                                  reason=errors.BAD_FILE)
        self._metadata = CsvTable(metadata)
        self._metadata.require(("dicom_id", "subject_id", "study_id"))
        if self.views is not None:
            self._metadata.require(("ViewPosition",))

        label_name = CHEXPERT_FILE.replace("chexpert", labeler)
        labels = find_table(self.root, label_name)
        if labels is None:
            raise DatasetError.at(self.root, f"no {label_name}[.gz] beside {metadata.name}", reason=errors.BAD_FILE)
        self._labels = CsvTable(labels)
        self._labels.require(("study_id",))
        self._label_columns = label_columns(self._labels.header, required=True, path=os.fspath(labels))

        split_path = find_table(self.root, SPLIT_FILE)
        self._splits: CsvTable | None = None
        if split_path is not None:
            self._splits = CsvTable(split_path)
            self._splits.require(("dicom_id", "split"))
        elif self.split is not None:
            raise DatasetError.at(self.root, f"split={self.split!r} needs {SPLIT_FILE}[.gz], which is missing",
                                  reason=errors.BAD_FILE)

        demo_path = Path(demographics) if demographics is not None else (
            find_table(self.root, DEMOGRAPHICS_FILE) or find_table(self.root, "patients.csv"))
        self._demographics: CsvTable | None = None
        if demo_path is not None:
            self._demographics = CsvTable(demo_path)
            self._demographics.require(("subject_id",))
            self._sex_col = _first(self._demographics.header, ("sex", "gender"))
            self._age_col = _first(self._demographics.header, ("age", "anchor_age"))

    # -- side tables: key -> value, or the DatasetError of the bad row ---------------------------

    def _index(self, table: Table, report: LoadReport, key_col: str, parse) -> dict[str, object]:
        out: dict[str, object] = {}
        for row in table.rows():
            if isinstance(row, DatasetError):
                self._side_error(row, report)
                continue
            try:
                key = parse_id(row.cells[key_col]) if key_col != "dicom_id" else row.cells[key_col].strip()
            except Bad as exc:
                self._side_error(table.cell_error(row, key_col, exc), report)
                continue
            try:
                out[key] = parse(row)
            except Bad as exc:
                error = table.cell_error(row, key_col, exc)
                if self.on_error == "raise":
                    raise error from None
                out[key] = error  # skipped (and counted) with each image that needs it
        return out

    def _side_error(self, error: DatasetError, report: LoadReport) -> None:
        if self.on_error == "raise":
            raise error
        report.skip(error)

    def _parse_split(self, row: Row) -> str:
        value = row.cells["split"].strip().lower()
        if value not in _SPLIT_ALIASES:
            raise Bad(f"bad split {value!r} (expected train, validate or test)", errors.BAD_VALUE, "split")
        return _SPLIT_ALIASES[value]

    def _parse_demographics(self, row: Row) -> tuple[str | None, int | None]:
        sex = age = None
        if self._sex_col:
            try:
                sex = parse_sex(row.cells[self._sex_col])
            except Bad as exc:
                exc.column = self._sex_col
                raise
        if self._age_col:
            try:
                age = parse_age(row.cells[self._age_col])
            except Bad as exc:
                exc.column = self._age_col
                raise
        return sex, age

    # -- iteration -------------------------------------------------------------------------------

    def _items(self, report: LoadReport) -> Iterator[TrainingExample | DatasetError]:
        labels = self._index(self._labels, report, "study_id",
                             lambda row: read_labels(row.cells, self._label_columns))
        splits = self._index(self._splits, report, "dicom_id", self._parse_split) if self._splits else None
        demographics = (self._index(self._demographics, report, "subject_id", self._parse_demographics)
                        if self._demographics else None)
        meta = self._metadata
        for row in meta.rows():
            if isinstance(row, DatasetError):
                yield row
                continue
            try:
                dicom_id = row.cells["dicom_id"].strip()
                if not dicom_id:
                    raise Bad("empty dicom_id", errors.MISSING_VALUE, "dicom_id")
                subject_id = _cell_id(row, "subject_id", "p")
                study_id = _cell_id(row, "study_id", "s")
                view = _cell_view(row)
            except Bad as exc:
                yield meta.bad(row, exc)
                continue
            if not self._view_selected(view):
                report.filtered["view"] += 1
                continue
            if self.split is not None:
                assert splits is not None
                split = splits.get(dicom_id)
                if isinstance(split, DatasetError):
                    yield split
                    continue
                if split != self.split:
                    report.filtered["split"] += 1
                    continue
            study_labels = labels.get(study_id)
            if study_labels is None:
                yield meta.error(row, f"study {study_id} has no row in {self._labels.path.name}",
                                 reason=errors.MISSING_LABELS, column="study_id", value=study_id)
                continue
            if isinstance(study_labels, DatasetError):
                yield study_labels
                continue
            sex = age = None
            if demographics is not None:
                demo = demographics.get(subject_id)
                if isinstance(demo, DatasetError):
                    yield demo
                    continue
                if demo is not None:
                    sex, age = demo  # type: ignore[misc]
            yield self._example(row, dicom_id, subject_id, study_id, view, dict(study_labels), sex, age)

    def _example(self, row: Row, dicom_id: str, subject_id: str, study_id: str, view: str | None,
                 labels: dict[str, int | None], sex: str | None, age: int | None) -> TrainingExample | DatasetError:
        study_dir = Path("files", f"p{subject_id[:2]}", f"p{subject_id}", f"s{study_id}")
        suffixes = (self._last_suffix, *(s for s in IMAGE_SUFFIXES if s != self._last_suffix))
        image_path = next((p for p in (self.root / study_dir / (dicom_id + s) for s in suffixes) if p.is_file()), None)
        if image_path is None:
            missing = os.fspath(self.root / study_dir / (dicom_id + suffixes[0]))
            return self._metadata.error(row, f"image file not found: {missing!r} (nor {', '.join(suffixes[1:])})",
                                        reason=errors.MISSING_IMAGE, column="dicom_id", value=dicom_id)
        self._last_suffix = image_path.suffix
        report_path = self.reports_root / study_dir.with_name(study_dir.name + ".txt")
        try:
            text = report_path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            problem = "report file not found" if isinstance(exc, FileNotFoundError) else \
                f"unreadable report ({exc.strerror})"
            return self._metadata.error(row, f"{problem}: {os.fspath(report_path)!r}", reason=errors.MISSING_REPORT,
                                        column="study_id", value=study_id)
        try:
            pixels, bits = read_image(image_path)
        except DatasetError as exc:
            return exc
        findings, impression = parse_sections(text)
        return TrainingExample(image=pixels, bits_stored=bits, findings=findings, impression=impression,
                               labels=labels, view=view, sex=sex, age=age, subject_id=subject_id,
                               study_id=study_id, source=os.fspath(image_path))


def _first(header: list[str], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in header), None)


def _cell_id(row: Row, column: str, prefix: str) -> str:
    try:
        return parse_id(row.cells[column], prefix=prefix)
    except Bad as exc:
        exc.column = column
        raise


def _cell_view(row: Row) -> str | None:
    try:
        return parse_view(row.cells.get("ViewPosition"))
    except Bad as exc:
        exc.column = "ViewPosition"
        raise
