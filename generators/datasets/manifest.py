"""Loader for a generic manifest: one CSV or Parquet row per image, for corpora not laid out like MIMIC.

Columns: ``image_path`` (relative to the manifest's folder, or absolute; PNG, JPG or DICOM), then
either ``report`` (free text, FINDINGS/IMPRESSION parsed out) or ``findings`` and/or
``impression``; label columns named as the CheXpert labels ("Pleural Effusion") or in snake_case
("pleural_effusion"), any subset (absent labels are unmentioned); optional ``view``, ``sex``,
``age``, ``subject_id``, ``study_id``. Other columns are ignored.
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
from medmint.generators.datasets.tables import Row, open_table
from medmint.generators.datasets.values import (
    Bad, label_columns, parse_age, parse_sex, parse_view, read_labels,
)

IMAGE_COLUMN = "image_path"
TEXT_COLUMNS = ("report", "findings", "impression")
VIEW_COLUMNS = ("view", "ViewPosition", "view_position")


class ManifestDataset(BaseDataset):
    """Examples from a CSV (.csv, .csv.gz, .tsv) or Parquet (.parquet, .pq) manifest.

    ``views``: view positions to keep, or None (default) for every row.
    """

    def __init__(self, path: str | os.PathLike[str], *, on_error: OnError = "raise",
                 views: Iterable[str] | None = None) -> None:
        super().__init__(path, on_error=on_error, views=views)
        self._table = open_table(self.root)
        header = self._table.header
        self._table.require((IMAGE_COLUMN,))
        if not any(c in header for c in TEXT_COLUMNS):
            raise DatasetError.at(self.root, "missing required column 'report' (or 'findings' / 'impression')",
                                  reason=errors.MISSING_COLUMN, column="report")
        self._label_columns = label_columns(header, required=False, path=os.fspath(self.root))
        self._view_column = next((c for c in VIEW_COLUMNS if c in header), None)
        if self.views is not None and self._view_column is None:
            raise DatasetError.at(self.root, "views= needs a 'view' column, which is missing",
                                  reason=errors.MISSING_COLUMN, column="view")

    def _items(self, report: LoadReport) -> Iterator[TrainingExample | DatasetError]:
        table = self._table
        for row in table.rows():
            if isinstance(row, DatasetError):
                yield row
                continue
            try:
                item = self._example(row, report)
            except Bad as exc:
                item = table.bad(row, exc)
            if item is not None:
                yield item

    def _cell(self, row: Row, column: str, parse):  # noqa: ANN001, ANN202
        try:
            return parse(row.cells.get(column))
        except Bad as exc:
            exc.column = exc.column or column
            raise

    def _example(self, row: Row, report: LoadReport) -> TrainingExample | DatasetError | None:
        cells = row.cells
        raw_path = cells.get(IMAGE_COLUMN)
        raw_path = "" if raw_path is None else str(raw_path).strip()
        if not raw_path:
            raise Bad("empty image_path", errors.MISSING_VALUE, IMAGE_COLUMN)
        labels = read_labels(cells, self._label_columns)
        view = self._cell(row, self._view_column, parse_view) if self._view_column else None
        if not self._view_selected(view):
            report.filtered["view"] += 1
            return None
        sex = self._cell(row, "sex", parse_sex) if "sex" in cells else None
        age = self._cell(row, "age", parse_age) if "age" in cells else None

        image_path = Path(raw_path)
        if not image_path.is_absolute():
            image_path = self.root.parent / image_path
        if not image_path.is_file():
            return self._table.error(row, f"image file not found: {os.fspath(image_path)!r}",
                                     reason=errors.MISSING_IMAGE, column=IMAGE_COLUMN, value=raw_path)
        try:
            pixels, bits = read_image(image_path)
        except DatasetError as exc:
            return self._table.error(row, str(exc), reason=exc.reason, column=IMAGE_COLUMN, value=raw_path)

        if "findings" in cells or "impression" in cells:
            findings = _text(cells.get("findings"))
            impression = _text(cells.get("impression"))
        else:
            findings, impression = parse_sections(_text(cells.get("report"), normalise=False))
        return TrainingExample(
            image=pixels, bits_stored=bits, findings=findings, impression=impression, labels=labels, view=view,
            sex=sex, age=age, subject_id=_text(cells.get("subject_id")),
            study_id=_text(cells.get("study_id")) or image_path.stem, source=os.fspath(image_path))


def _text(value: object, *, normalise: bool = True) -> str:
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return ""
    if isinstance(value, float) and value.is_integer():  # a numeric id read back as 10000032.0
        value = int(value)
    text = str(value)
    return " ".join(text.split()) if normalise else text
