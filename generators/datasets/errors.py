"""The one error type the loaders raise, so a caller can catch bad data without catching bugs.

Every message is ONE line that names the file first (then row / line / column / value when they
apply), because users read it in a terminal or a log and must be able to go fix the file.
"""

from __future__ import annotations

import os
from typing import Any

# Reasons, used as the keys of ``LoadReport.skipped``. One per kind of bad input.
BAD_LABEL = "bad_label"  # a label cell that is not 1 / 0 / -1 / blank
BAD_VALUE = "bad_value"  # an id, sex, age or split cell that cannot be read
MISSING_VALUE = "missing_value"  # an empty cell in a required column
MISSING_COLUMN = "missing_column"  # a required column is absent from the header
COLUMN_COUNT = "column_count"  # a CSV row with more or fewer fields than the header
MISSING_IMAGE = "missing_image"
CORRUPT_IMAGE = "corrupt_image"  # unreadable or undecodable image (PNG/JPG/DICOM pixels)
UNSUPPORTED_IMAGE = "unsupported_image"  # readable, but not a 2-D grayscale image we can use
NO_PIXEL_DATA = "no_pixel_data"  # a DICOM without PixelData (SR, KO, PR ...)
TRUNCATED_DICOM = "truncated_dicom"
UNKNOWN_VIEW = "unknown_view"
MISSING_REPORT = "missing_report"
MISSING_LABELS = "missing_labels"  # a study with no row in the label file
BAD_FILE = "bad_file"  # a whole file is unreadable (not UTF-8, not Parquet ...)

_MAX_VALUE_CHARS = 60


def show_value(value: Any) -> str:
    """A cell value as it should appear in a message: quoted, escaped, never multi-line."""
    text = repr(value) if isinstance(value, str) else repr(str(value)) if value is not None else "None"
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 4] + "...'"
    return text


def where(path: str | os.PathLike[str], *, row: int | None = None, line: int | None = None,
          column: str | None = None) -> str:
    """'file.csv: row 3 (line 4): column 'Edema'' — the location prefix of a message."""
    parts = [os.fspath(path)]
    if row is not None:
        parts.append(f"row {row}" + (f" (line {line})" if line is not None else ""))
    if column is not None:
        parts.append(f"column {column!r}")
    return ": ".join(parts)


class DatasetError(ValueError):
    """Bad training data: names the file (and row, column, value) in a single line.

    ``reason`` is one of the constants above; ``LoadReport`` counts skipped items by it.
    """

    def __init__(self, message: str, *, reason: str, path: str | os.PathLike[str] | None = None,
                 row: int | None = None, column: str | None = None, value: Any = None) -> None:
        one_line = message.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r")
        super().__init__(one_line)
        self.reason = reason
        self.path = os.fspath(path) if path is not None else None
        self.row = row
        self.column = column
        self.value = value

    @classmethod
    def at(cls, path: str | os.PathLike[str], problem: str, *, reason: str, row: int | None = None,
           line: int | None = None, column: str | None = None, value: Any = None) -> "DatasetError":
        """Build the standard message ``<file>: row R (line L): column 'C': <problem>``."""
        return cls(f"{where(path, row=row, line=line, column=column)}: {problem}", reason=reason,
                   path=path, row=row, column=column, value=value)
