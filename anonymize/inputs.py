"""Which files under IN are DICOM inputs, decided by content and name, never by the preamble alone.

A file is an input when its name ends in ``.dcm`` / ``.dicom`` (any case) or its bytes start like a
DICOM file: the 128-byte preamble and ``DICM``, or - legal in old files written without the Part 10
header - a first data element of group 0x0002 (file meta) or 0x0008 (identifying) in either byte order,
with an explicit VR or a plausible implicit length (any even group, in a file named as DICOM). Every input is then either de-identified or listed
with the reason it was skipped; a file named as DICOM whose bytes are not DICOM (empty, text, cut short)
is such a skipped input, not something to ignore. Other files (the ``<stem>.txt`` reports, notes, CSVs)
are not inputs.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Iterator

DICOM_SUFFIXES = frozenset({".dcm", ".dicom"})
PREAMBLE = 128
_GROUPS = (0x0002, 0x0008)
_VRS = frozenset(b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR "
                 b"US UT UV".split())


def named_dicom(path: Path) -> bool:
    return path.suffix.lower() in DICOM_SUFFIXES


def _element_start(head: bytes, size: int, any_group: bool) -> bool:
    """``head`` starts with a data element header (explicit or implicit VR, either byte order) of group
    0x0002 / 0x0008, or of any even group below 0x7FE0 when ``any_group`` (a file named as DICOM)."""
    if len(head) < 8:
        return False
    for order in ("<", ">"):
        group, _element = struct.unpack(order + "HH", head[:4])
        if group not in _GROUPS and not (any_group and group % 2 == 0 and 0x0002 <= group < 0x7FE0):
            continue
        if head[4:6] in _VRS:  # explicit VR
            return True
        (length,) = struct.unpack(order + "I", head[4:8])  # implicit VR: a 32-bit length that fits the file
        if order == "<" and (length == 0xFFFFFFFF or 8 + length <= size):
            return True
    return False


def sniff(path: Path, any_group: bool = False) -> str | None:
    """How ``path`` starts: 'preamble', 'no-preamble' (a bare data set) or None (not DICOM content);
    ``any_group``: the file is named as DICOM, so a bare data set may start with any group."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(PREAMBLE + 4)
        size = os.path.getsize(path)
    except OSError:
        return None
    if head[PREAMBLE:PREAMBLE + 4] == b"DICM":
        return "preamble"
    return "no-preamble" if _element_start(head, size, any_group) else None


def not_dicom_reason(path: Path) -> str | None:
    """Why a file named as DICOM cannot be read as DICOM at all (None: it starts like DICOM)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if size == 0:
        return "empty file (0 bytes): not DICOM"
    if sniff(path, any_group=True) is None:
        return f"not DICOM: no 'DICM' after a 128-byte preamble and no data element at the start ({size} bytes)"
    return None


def read_forced(path: Path) -> bool:
    """Whether pydicom must be told to read ``path`` without the preamble."""
    return sniff(path, any_group=named_dicom(path)) == "no-preamble"


def iter_inputs(root: Path) -> Iterator[Path]:
    """Every input under ``root`` (any depth, hidden names too: nothing is skipped in silence), sorted."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if path.is_file() and (named_dicom(path) or sniff(path) is not None):
                yield path
