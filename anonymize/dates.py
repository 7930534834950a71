"""Date and time values for de-identification: a per-patient shift (keeps intervals) or a fixed dummy.

Dates move by whole days, so times of day, intervals between any two dates of a patient and day-level
ordering survive; values that do not parse (legacy, garbage) get the fixed dummy, which is valid DA/DT/TM,
because an invalid date is worse than a meaningless one (validators reject the file).
"""

from __future__ import annotations

import datetime as dt
import re

DUMMY = {"DA": "20000101", "DT": "20000101000000", "TM": "000000"}
_DT = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(.*)$")


def _shift_date_part(text: str, days: int) -> str | None:
    """'YYYY[MM[DD]]' moved by ``days``, kept at its precision; None if it is not a date."""
    m = _DT.match(text)
    if m is None or m.group(4):
        return None
    year, month, day = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
    try:
        moved = dt.date(year, month, day) + dt.timedelta(days=days)
    except (ValueError, OverflowError):
        return None
    full = moved.strftime("%Y%m%d")
    return full[:len(text)]


def shift_da(value: str, days: int) -> str | None:
    """A DA value (or a 'from-to' range, or legacy 'YYYY.MM.DD') shifted; None if unparseable."""
    value = value.strip()
    if not value:
        return value
    if "-" in value:
        parts = [shift_da(p, days) if p else "" for p in value.split("-", 1)]
        return None if None in parts else "-".join(parts)  # type: ignore[arg-type]
    value = value.replace(".", "") if re.fullmatch(r"\d{4}\.\d{2}\.\d{2}", value) else value
    if len(value) != 8:
        return None
    return _shift_date_part(value, days)


def shift_dt(value: str, days: int) -> str | None:
    """A DT value's date part shifted; time, fraction and UTC offset kept. None if unparseable."""
    value = value.strip()
    if not value:
        return value
    m = re.match(r"^(\d{4,8})(.*)$", value)
    if m is None or len(m.group(1)) not in (4, 6, 8) or (len(m.group(1)) < 8 and m.group(2)[:1].isdigit()):
        return None
    date = _shift_date_part(m.group(1), days)
    return None if date is None else date + m.group(2)


def shifted(vr: str, value: str, days: int) -> str:
    """One DA/DT/TM value under the modified-dates option (TM kept: whole-day shifts); dummy if bad."""
    if vr == "TM":
        return value
    out = shift_da(value, days) if vr == "DA" else shift_dt(value, days)
    return DUMMY[vr] if out is None else out
