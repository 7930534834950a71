"""Row-by-row reading of CSV (optionally .gz) and Parquet tables, keeping row and line numbers.

Loaders need to say *where* a bad cell is, so rows carry their 1-based data-row number and, for
CSV, the file line they start on. Problems with the whole file (unreadable, no header, missing
required column) raise at once; a ragged CSV row comes back as a ``DatasetError`` in its place
so the caller can skip it.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from medmint.generators.datasets import errors
from medmint.generators.datasets.errors import DatasetError
from medmint.generators.datasets.values import Bad

CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class Row:
    number: int  # 1-based data row (the header is not a row)
    line: int | None  # CSV file line the row starts on; None for Parquet
    cells: dict[str, Any]


class Table:
    """A header plus rows; ``error`` builds the one-line message for a cell of a row."""

    def __init__(self, path: Path, header: list[str]) -> None:
        self.path = path
        self.header = header

    def rows(self) -> Iterator[Row | DatasetError]:
        raise NotImplementedError

    def require(self, columns: Iterable[str]) -> None:
        """Fail fast on a missing required column: no row of such a file can be read."""
        for col in columns:
            if col not in self.header:
                raise DatasetError.at(self.path, f"missing required column {col!r} (columns: {', '.join(self.header)})",
                                      reason=errors.MISSING_COLUMN, column=col)

    def error(self, row: Row, problem: str, *, reason: str, column: str | None = None,
              value: Any = None) -> DatasetError:
        return DatasetError.at(self.path, problem, reason=reason, row=row.number, line=row.line,
                               column=column, value=value)

    def bad(self, row: Row, exc: Bad) -> DatasetError:
        return self.error(row, exc.problem, reason=exc.reason, column=exc.column)

    def cell_error(self, row: Row, column: str, exc: Bad) -> DatasetError:
        return self.error(row, exc.problem, reason=exc.reason, column=exc.column or column)


def _is(path: Path, suffixes: tuple[str, ...]) -> bool:
    return path.name.lower().endswith(suffixes)


def is_table(path: Path) -> bool:
    return _is(path, CSV_SUFFIXES + PARQUET_SUFFIXES)


class CsvTable(Table):
    def __init__(self, path: Path) -> None:
        self._delimiter = "\t" if _is(path, (".tsv",)) else ","
        with self._open(path) as fh:
            try:
                header = next(csv.reader(fh, delimiter=self._delimiter), None)
            except (UnicodeDecodeError, csv.Error, OSError, EOFError) as exc:
                raise DatasetError.at(path, f"not a readable CSV file ({_short(exc)})", reason=errors.BAD_FILE) from None
        if not header or not any(h.strip() for h in header):
            raise DatasetError.at(path, "empty CSV file (no header row)", reason=errors.BAD_FILE)
        header = [h.strip() for h in header]
        dupes = sorted({h for h in header if header.count(h) > 1})
        if dupes:
            raise DatasetError.at(path, f"duplicate column {dupes[0]!r} in the header", reason=errors.BAD_FILE)
        super().__init__(path, header)

    @staticmethod
    def _open(path: Path) -> io.TextIOBase:
        try:
            if path.name.lower().endswith(".gz"):
                return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
            return open(path, encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise DatasetError.at(path, f"cannot open ({_short(exc)})", reason=errors.BAD_FILE) from None

    def rows(self) -> Iterator[Row | DatasetError]:
        with self._open(self.path) as fh:
            reader = csv.reader(fh, delimiter=self._delimiter)
            number = 0
            last_line = 1
            try:
                next(reader)
                last_line = reader.line_num
                for fields in reader:
                    line, last_line = last_line + 1, reader.line_num
                    if not fields:  # blank line
                        continue
                    number += 1
                    row = Row(number, line, {})
                    if len(fields) != len(self.header):
                        yield self.error(row, f"{len(fields)} fields where the header has {len(self.header)}",
                                         reason=errors.COLUMN_COUNT)
                        continue
                    yield Row(number, line, dict(zip(self.header, fields)))
            except (UnicodeDecodeError, csv.Error, OSError, EOFError) as exc:
                raise DatasetError.at(self.path, f"unreadable CSV after line {last_line} ({_short(exc)})",
                                      reason=errors.BAD_FILE) from None


class ParquetTable(Table):
    def __init__(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            self._file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise DatasetError.at(path, f"not a readable Parquet file ({_short(exc)})", reason=errors.BAD_FILE) from None
        super().__init__(path, list(self._file.schema_arrow.names))

    def rows(self) -> Iterator[Row | DatasetError]:
        import pyarrow as pa

        number = 0
        try:
            for batch in self._file.iter_batches(batch_size=1024):
                for cells in batch.to_pylist():
                    number += 1
                    yield Row(number, None, cells)
        except (pa.ArrowException, OSError) as exc:
            raise DatasetError.at(self.path, f"unreadable Parquet after row {number} ({_short(exc)})",
                                  reason=errors.BAD_FILE) from None


def open_table(path: str | os.PathLike[str]) -> Table:
    """A CSV (.csv, .csv.gz, .tsv) or Parquet (.parquet, .pq) table, chosen by file name."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError.at(path, "no such file", reason=errors.BAD_FILE)
    if _is(path, PARQUET_SUFFIXES):
        return ParquetTable(path)
    if _is(path, CSV_SUFFIXES):
        return CsvTable(path)
    raise DatasetError.at(path, "not a table: expected .csv, .csv.gz, .tsv, .parquet or .pq", reason=errors.BAD_FILE)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:120]
