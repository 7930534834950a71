"""Cell parsers shared by the loaders: labels, views, sex, age, ids and label-column names.

Each returns the parsed value or raises ``_Bad(problem, reason)``; the caller adds where the
cell is (file, row, column) and turns it into a one-line ``DatasetError``.
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Mapping, Sequence

from medmint.generators.datasets import errors
from medmint.records import CHEXPERT_LABELS, label_slug


class Bad(Exception):
    """A cell that cannot be read; carries the problem text and the reason constant."""

    def __init__(self, problem: str, reason: str, column: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.reason = reason
        self.column = column


_LABEL_TEXT = {"1": 1, "1.0": 1, "0": 0, "0.0": 0, "-0.0": 0, "-1": -1, "-1.0": -1, "": None}


def parse_label(value: Any) -> int | None:
    """CheXpert coding from a CSV/Parquet cell: 1/0/-1 (int, float or text) or blank -> None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise Bad(f"bad label value {errors.show_value(value)} (expected 1, 0, -1 or blank)", errors.BAD_LABEL)
    if isinstance(value, (int, float)) or type(value).__module__ == "numpy":
        number = float(value)
        if math.isnan(number):
            return None
        if number in (1.0, 0.0, -1.0):
            return int(number)
    elif isinstance(value, str) and value.strip() in _LABEL_TEXT:
        return _LABEL_TEXT[value.strip()]
    raise Bad(f"bad label value {errors.show_value(value)} (expected 1, 0, -1 or blank)", errors.BAD_LABEL)


# View positions seen in MIMIC-CXR's metadata, plus a few spellings from other sources.
KNOWN_VIEWS: frozenset[str] = frozenset({
    "PA", "AP", "LATERAL", "LL", "RL", "AP AXIAL", "PA LLD", "PA RLD", "AP LLD", "AP RLD",
    "LAO", "RAO", "LPO", "RPO", "XTABLE LATERAL", "SWIMMERS", "LAT",
})
_VIEW_ALIASES = {"LAT": "LATERAL", "FRONTAL PA": "PA", "FRONTAL AP": "AP", "POSTERO-ANTERIOR": "PA",
                 "ANTERO-POSTERIOR": "AP", "POSTEROANTERIOR": "PA", "ANTEROPOSTERIOR": "AP"}


def parse_view(value: Any) -> str | None:
    """Canonical view position ('PA', 'AP', 'LATERAL', ...), None for blank; unknown text is bad."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = " ".join(str(value).upper().split())
    if not text:
        return None
    text = _VIEW_ALIASES.get(text, text)
    if text not in KNOWN_VIEWS:
        raise Bad(f"unknown view {errors.show_value(value)} (expected one of PA, AP, LATERAL, LL, ...)",
                  errors.UNKNOWN_VIEW)
    return text


def check_views(views: Iterable[str] | None) -> frozenset[str] | None:
    """Validate a ``views=`` argument once, at construction (a typo there is a caller bug)."""
    if views is None:
        return None
    if isinstance(views, str):
        views = (views,)
    out = set()
    for v in views:
        try:
            canon = parse_view(v)
        except Bad as exc:
            raise ValueError(f"views: {exc.problem}") from None
        if canon is None:
            raise ValueError("views: a blank view cannot be selected; pass views=None for all views")
        out.add(canon)
    return frozenset(out)


_SEX = {"F": "F", "FEMALE": "F", "M": "M", "MALE": "M", "": None, "O": None, "U": None, "UNKNOWN": None}


def parse_sex(value: Any) -> str | None:
    """'F' / 'M' (also 'female' / 'male'); blank, 'O' or 'U' -> None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    key = str(value).strip().upper()
    if key not in _SEX:
        raise Bad(f"bad sex {errors.show_value(value)} (expected F, M or blank)", errors.BAD_VALUE)
    return _SEX[key]


def parse_age(value: Any) -> int | None:
    """Age in whole years from an int, a float like 65.0, or text; blank -> None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        raise Bad(f"bad age {errors.show_value(value)} (expected whole years)", errors.BAD_VALUE)
    text = str(value).strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        raise Bad(f"bad age {errors.show_value(value)} (expected whole years)", errors.BAD_VALUE) from None
    if not number.is_integer() or not 0 <= number <= 150:
        raise Bad(f"bad age {errors.show_value(value)} (expected whole years 0-150)", errors.BAD_VALUE)
    return int(number)


_DICOM_AGE = re.compile(r"^(\d{3})([DWMY])$")


def parse_dicom_age(value: Any) -> int | None:
    """DICOM AS ('065Y', '006M') -> whole years; anything unreadable -> None (headers are messy)."""
    m = _DICOM_AGE.match(str(value or "").strip().upper())
    if not m:
        return None
    n, unit = int(m.group(1)), m.group(2)
    return {"Y": n, "M": n // 12, "W": n // 52, "D": n // 365}[unit]


def parse_id(value: Any, *, prefix: str = "") -> str:
    """A numeric id as text ('10000032'); tolerates '10000032.0' and a 'p'/'s' prefix."""
    text = str(value).strip() if value is not None else ""
    if prefix and text.lower().startswith(prefix):
        text = text[len(prefix):]
    if text.endswith(".0"):
        text = text[:-2]
    if not text.isdigit():
        raise Bad(f"bad id {errors.show_value(value)} (expected digits)", errors.BAD_VALUE)
    return text


def label_columns(header: Sequence[str], *, required: bool, path: str) -> dict[str, str]:
    """Map each CheXpert label to its column, by exact name or snake_case ('pleural_effusion').

    ``required``: every label must be present (MIMIC's label file); otherwise absent labels are
    simply unmentioned (None) — many manifests carry only a few labels.
    """
    out: dict[str, str] = {}
    present = set(header)
    for label in CHEXPERT_LABELS:
        names = [n for n in (label, label_slug(label)) if n in present]
        if len(names) > 1:
            raise errors.DatasetError.at(path, f"label {label!r} appears twice, as {names[0]!r} and {names[1]!r}",
                                         reason=errors.MISSING_COLUMN)
        if names:
            out[label] = names[0]
        elif required:
            raise errors.DatasetError.at(path, f"missing required column {label!r}", reason=errors.MISSING_COLUMN)
    return out


def read_labels(cells: Mapping[str, Any], columns: Mapping[str, str]) -> dict[str, int | None]:
    """All 14 labels from a row; labels without a column are None. Raises ``Bad`` with the column."""
    labels: dict[str, int | None] = {label: None for label in CHEXPERT_LABELS}
    for label, col in columns.items():
        try:
            labels[label] = parse_label(cells.get(col))
        except Bad as exc:
            exc.column = col
            raise
    return labels
