"""Synthetic identities and UIDs for generated samples, minted deterministically per sample id.

Deterministic so a resumed or repeated run writes the same files under the same names; derived
from a hash of the sample id so nothing real can leak in. Names come from small invented
syllable tables, not from a list of real people.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from pydicom.uid import generate_uid

from medmint.records import SyntheticIdentity, Uids

_SYLLABLES = ("ka", "lo", "mi", "ren", "sa", "to", "vel", "dor", "an", "bri", "cus", "fen", "gar", "hol", "is", "jun")
_EPOCH = dt.date(2020, 1, 1)


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(("medmint-mint",) + parts).encode()).digest()


def _word(d: bytes, offset: int, n: int) -> str:
    return "".join(_SYLLABLES[d[offset + i] % len(_SYLLABLES)] for i in range(n)).capitalize()


def mint_identity(sample_id: str, age: int, sex: str) -> SyntheticIdentity:
    """A synthetic patient whose birth date agrees with the requested age at the study date."""
    d = _digest("identity", sample_id)
    study = _EPOCH + dt.timedelta(days=int.from_bytes(d[0:2], "big") % 2190)  # 2020..2025
    anniversary = study.replace(year=study.year - age, day=min(study.day, 28))
    birth = anniversary - dt.timedelta(days=1 + d[3] % 330)  # had the age-th birthday before the study
    seconds = int.from_bytes(d[6:8], "big") % (10 * 3600) + 7 * 3600
    given = _word(d, 8, 2 + d[10] % 2) + ("a" if sex == "F" and d[11] % 2 else "")
    return SyntheticIdentity(
        patient_id="MM" + d[12:18].hex().upper(),
        patient_name=f"{_word(d, 18, 3)}^{given}",
        birth_date=birth.strftime("%Y%m%d"),
        study_date=study.strftime("%Y%m%d"),
        study_time=f"{seconds // 3600:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}",
        accession_number="A" + str(int.from_bytes(d[22:28], "big"))[:12],
    )


def mint_uid(sample_id: str, role: str, root: str | None) -> str:
    """One UID per (sample, role): under the org root if given, else a UUID-derived 2.25. UID.

    pydicom's ``generate_uid(prefix=None)`` ignores its entropy sources and is random, so the
    2.25. form is built here from a name-based UUID (SHA-256, marked version 5) to stay deterministic.
    """
    if root is not None:
        return generate_uid(prefix=root, entropy_srcs=["medmint", sample_id, role])
    return uuid_uid(hashlib.sha256(f"medmint\x1f{sample_id}\x1f{role}".encode()).digest(), version=5)


def uuid_uid(digest: bytes, version: int) -> str:
    """A hash as a '2.25.<int>' DICOM UID: its first 16 bytes as an RFC 9562 UUID of ``version``
    (set by hand: Python 3.11's ``uuid`` refuses version 8, the one for custom hashes)."""
    n = int.from_bytes(digest[:16], "big")
    n = (n & ~(0xF << 76)) | (version << 76)
    n = (n & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return f"2.25.{n}"


def mint_uids(sample_id: str, root: str | None = None) -> Uids:
    return Uids(
        study=mint_uid(sample_id, "study", root),
        image_series=mint_uid(sample_id, "image-series", root),
        image_sop=mint_uid(sample_id, "image-sop", root),
        sr_series=mint_uid(sample_id, "sr-series", root),
        sr_sop=mint_uid(sample_id, "sr-sop", root),
    )
