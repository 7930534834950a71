"""The secret behind every pseudonym: keyed hashes (HMAC-SHA256) of original UIDs and patient ids.

A keyed hash (not a plain one) because UIDs and MRNs are guessable: without the key nobody can
recompute the mapping, with it every run over any part of a corpus maps the same input to the same
output. The key is read from a file or the environment, kept only in memory and never printed: its
``repr`` is masked and nothing in this package writes it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from medmint.anonymize.minting import uuid_uid

KEY_ENV = "MEDMINT_DEID_KEY"
MIN_KEY_BYTES = 16
SHIFT_DAYS = (365, 3650)  # per-patient date shift range, in days back


class KeyMissing(ValueError):
    """No usable key: raised with one line saying where a key is expected."""


class DeidKey:
    """A de-identification secret; derives UIDs, pseudonyms and date shifts from original values."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_KEY_BYTES:
            raise KeyMissing(f"de-identification key is too short: use at least {MIN_KEY_BYTES} bytes "
                             "(e.g. `openssl rand -hex 32`)")
        self._secret = secret

    def __repr__(self) -> str:
        return "DeidKey(<secret>)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, tuple[bytes]]:  # worker processes get it over a pipe, not a file
        return (DeidKey, (self._secret,))

    def digest(self, purpose: str, value: str) -> bytes:
        """HMAC-SHA256 of ``value`` for one ``purpose`` (so a UID and an id never share a hash)."""
        return hmac.new(self._secret, f"{purpose}\x1f{value}".encode("utf-8"), hashlib.sha256).digest()

    def uid(self, original: str) -> str:
        """'2.25.<int>': an RFC 9562 version-8 UUID built from the keyed hash, as a DICOM UID."""
        return uuid_uid(self.digest("uid", original.strip().rstrip("\x00")), version=8)

    def patient_id(self, original: str) -> str:
        return "MM" + self.digest("patient", original).hex()[:16].upper()

    def patient_name(self, original: str) -> str:
        return "Anonymous^" + self.digest("patient", original).hex()[:8].upper()

    def date_shift_days(self, patient: str) -> int:
        """A whole number of days (negative, 1 to 10 years back), the same for every file of a patient."""
        lo, hi = SHIFT_DAYS
        return -(lo + int.from_bytes(self.digest("date-shift", patient)[:8], "big") % (hi - lo + 1))

    def fingerprint(self) -> str:
        """A check value that tells two keys apart (to refuse resuming with another key); not the key."""
        return self.digest("fingerprint", "medmint-anonymize").hex()[:16]


def load_key(key_file: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None) -> DeidKey:
    """The key from ``key_file`` (whitespace around it stripped), else from $MEDMINT_DEID_KEY."""
    env = os.environ if environ is None else environ
    if key_file is not None:
        path = Path(key_file)
        try:
            secret = path.read_bytes().strip()
        except OSError as exc:
            raise KeyMissing(f"{path}: cannot read the key file ({exc.strerror or exc})") from None
        if not secret:
            raise KeyMissing(f"{path}: the key file is empty")
        return DeidKey(secret)
    secret_text = env.get(KEY_ENV, "").strip()
    if not secret_text:
        raise KeyMissing(f"no de-identification key: pass --key-file PATH or set {KEY_ENV}")
    return DeidKey(secret_text.encode("utf-8"))
