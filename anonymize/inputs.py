"""Which files under IN are DICOM inputs, decided by content and name, never by the preamble alone.

A file is an input when its name ends in ``.dcm`` / ``.dicom`` (any case) or its bytes start like a
DICOM file: the 128-byte preamble and ``DICM``, or - legal in old files written without the Part 10
header - a first data element of group 0x0002 (file meta) or 0x0008 (identifying) in either byte order,
with an explicit VR or a plausible implicit length. Every input is then either de-identified or listed
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


def _element_start(head: bytes, size: int) -> bool:
    """``head`` starts with a group 0x0002 / 0x0008 element header (explicit or implicit VR, either order)."""
    if len(head) < 8:
        return False
    for order in ("<", ">"):
        group, _element = struct.unpack(order + "HH", head[:4])
        if group not in _GROUPS:
            continue
        if head[4:6] in _VRS:  # explicit VR
            return True
        (length,) = struct.unpack(order + "I", head[4:8])  # implicit VR: a 32-bit length that fits the file
        if order == "<" and (length == 0xFFFFFFFF or 8 + length <= size):
            return True
    return False


def sniff(path: Path) -> str | None:
    """How ``path`` starts: 'preamble', 'no-preamble' (a bare data set) or None (not DICOM content)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(PREAMBLE + 4)
        size = os.path.getsize(path)
    except OSError:
        return None
    if head[PREAMBLE:PREAMBLE + 4] == b"DICM":
        return "preamble"
    return "no-preamble" if _element_start(head, size) else None


def not_dicom_reason(path: Path) -> str | None:
    """Why a file named as DICOM cannot be read as DICOM at all (None: it starts like DICOM)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if size == 0:
        return "empty file (0 bytes): not DICOM"
    if sniff(path) is None:
        return ("not DICOM: no 'DICM' after a 128-byte preamble and no group 0002/0008 data element at the "
                f"start ({size} bytes)")
    return None


def iter_inputs(root: Path) -> Iterator[Path]:
    """Every input under ``root`` (any depth, hidden names too: nothing is skipped in silence), sorted."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if path.is_file() and (named_dicom(path) or sniff(path) is not None):
                yield path
