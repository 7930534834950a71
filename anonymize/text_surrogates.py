"""Keyed, consistent surrogates for PHI found in report text.

Every surrogate is a function of (key, kind, original value) through HMAC-SHA256, so the same
value gets the same fake within and across reports scrubbed with the same key, and nothing about
the original can be read back without the key. Shapes are kept (a date stays a date in the same
layout, a phone number keeps its punctuation, "LAST, FIRST" stays upper case) so downstream text
looks like real reports:

- names: invented from syllables, word by word, so "Dr. Wilson", "William Wilson" and "WILSON,
  WILLIAM" keep one surrogate family name;
- dates: shifted by one whole number of weeks per key (intervals and weekdays survive, every date
  stays a valid calendar date); ``date_shift_days`` overrides it, e.g. with the DICOM side's shift;
- times: shifted by a keyed number of minutes, same layout;
- ages over 89: HIPAA's aggregate, 90;
- identifiers (MRN, accession, long numbers), phones, addresses, hospitals: keyed digits and
  invented words in the original layout (phones get the fictional 555-01xx block);
- emails and URLs: invented names under the reserved ``example.org`` domain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from functools import lru_cache
from typing import Callable, Iterator

from medmint.anonymize.text_vocab import NEVER_NAMES, PLACE_WORDS, US_STATES, listed_names

_ONSETS = ("b c d f g h j k l m n p r s t v w z b d k l m n r s t v br dr gr kr st tr ch sh").split()
_VOWELS = ("a e i o u a e i o a e o ai ea ie ou").split()
_CODAS = ("", "", "", "", "n", "r", "l", "s", "th", "nd", "x", "m", "t", "ck")
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_MONTH_INDEX = {m[:3].lower(): i + 1 for i, m in enumerate(_MONTHS)}
_FULL_MONTHS = frozenset(m.lower() for m in _MONTHS)
_PARTICLES = frozenset("de del della der den van von da di du le la bin ibn al ben".split())
_PLACE_KEEP = PLACE_WORDS | _PARTICLES | frozenset(
    "of the and for at on saint mount mt n s e w north south east west apt apartment suite ste unit fl floor "
    "rm room po box".split())
_TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*|\d+")


@lru_cache(maxsize=1)
def _taken() -> frozenset[str]:
    return NEVER_NAMES | listed_names()


def _case_like(word: str, like: str) -> str:
    if len(like) > 1 and like.isupper():
        return word.upper()
    if like[:1].islower():
        return word.lower()
    return word[:1].upper() + word[1:]


class Surrogates:
    """Surrogate values for one key (see the module docstring)."""

    def __init__(self, key: bytes, *, date_shift_days: int | None = None) -> None:
        self.key = bytes(key)
        weeks = 52 + self._int("date-shift", "") % 469  # 1 to 10 years back, whole weeks
        self.date_shift = dt.timedelta(days=-7 * weeks if date_shift_days is None else int(date_shift_days))
        self.time_shift = 5 + self._int("time-shift", "") % 170  # minutes
        self._cache: dict[tuple[str, str], str] = {}
        self._by_kind: dict[str, Callable[[str], str]] = {
            "name": self.name, "date": self.date, "time": self.time, "age": self.age, "phone": self.phone,
            "email": self.email, "url": self.url, "address": self.place, "hospital": self.place,
        }

    # -- keyed randomness ---------------------------------------------------------------------
    def _stream(self, *parts: str) -> Iterator[int]:
        msg = "\x1f".join(parts).encode()
        for counter in range(1 << 16):
            yield from hmac.new(self.key, msg + counter.to_bytes(2, "big"), hashlib.sha256).digest()

    def _int(self, *parts: str) -> int:
        digest = hmac.new(self.key, "\x1f".join(parts).encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big")

    def _digits(self, like: str, *parts: str) -> str:
        """As many keyed digits as ``like`` has; a leading zero only where ``like`` has one."""
        stream = self._stream("digits", *parts)
        out = [next(stream) % 10 for _ in like]
        if out and like[0] != "0" and out[0] == 0:
            out[0] = 1 + next(stream) % 9
        return "".join(map(str, out))

    def word(self, namespace: str, original: str) -> str:
        """An invented word for ``original`` (any case), never a listed name or a clinical word."""
        stream = self._stream("word", namespace, original.lower())
        taken = _taken()
        while True:
            n = 2 + (next(stream) % 4 == 0)  # mostly two syllables
            syllables = [_ONSETS[next(stream) % len(_ONSETS)] + _VOWELS[next(stream) % len(_VOWELS)]
                         for _ in range(n)]
            word = "".join(syllables) + _CODAS[next(stream) % len(_CODAS)]
            if word not in taken and word != original.lower():
                return word.capitalize()

    def __call__(self, kind: str, text: str) -> str:
        got = self._cache.get((kind, text))
        if got is None:
            got = self._cache[(kind, text)] = self._by_kind.get(kind, self.identifier)(text)
        return got

    # -- per kind -----------------------------------------------------------------------------
    def _reshape(self, text: str, namespace: str, keep: frozenset[str]) -> str:
        """Each word not in ``keep`` becomes an invented word, each digit run keyed digits."""

        def one(m: re.Match[str]) -> str:
            token = m.group()
            if token.isdigit():
                return self._digits(token, namespace, text, str(m.start()))
            if token.lower() in keep or token in US_STATES:
                return token
            if len(token) == 1:  # an initial
                return _case_like(chr(ord("A") + self._int(namespace, token.lower()) % 26), token)
            stem, possessive = (token[:-2], token[-2:]) if token[-2:] in ("'s", "’s") else (token, "")
            return _case_like(self.word(namespace, stem), stem) + possessive

        return _TOKEN.sub(one, text)

    def name(self, text: str) -> str:
        return self._reshape(text, "name", _PARTICLES)

    def place(self, text: str) -> str:
        return self._reshape(text, "place", _PLACE_KEEP)

    def identifier(self, text: str) -> str:
        """Same layout: digits to keyed digits (no new leading zero), letters to keyed letters."""
        stream = self._stream("id", text)
        out: list[str] = []
        for ch in text:
            if ch.isdigit():
                d = next(stream) % 10
                leading = not any(c.isdigit() for c in out)
                out.append(str(1 + next(stream) % 9 if d == 0 and leading and ch != "0" else d))
            elif ch.isalpha() and ch.isascii():
                letter = chr(ord("A") + next(stream) % 26)
                out.append(letter if ch.isupper() else letter.lower())
            else:
                out.append(ch)
        return "".join(out)

    def phone(self, text: str) -> str:
        """Keyed digits in the original punctuation; a 10-digit US number lands in 555-01xx."""
        positions = [i for i, ch in enumerate(text) if ch.isdigit()]
        digits = list(self._digits("1" * len(positions), "phone", text))
        core = re.search(r"\(?\d{3}\)?[-. ]?\d{3}[-. ]\d{4}", text)
        if core:
            at = sum(1 for i in positions if i < core.start())  # a country code "1" stays
            digits[:at] = [text[i] for i in positions[:at]]
            digits[at : at + 8] = [str(2 + int(digits[at]) % 8), *digits[at + 1 : at + 3], *"55501"]
        out = list(text)
        for i, d in zip(positions, digits):
            out[i] = d
        return "".join(out)

    def email(self, text: str) -> str:
        return f"{self.word('email', text).lower()}@example.org"

    def url(self, text: str) -> str:
        scheme = re.match(r"(?i)(?:https?|ftp)://", text)
        host = self.word("url", text).lower()
        path = self._digits("123456", "url", text)
        return f"{scheme.group().lower() if scheme else 'https://'}{host}.example.org/{path}"

    @staticmethod
    def age(text: str) -> str:
        """HIPAA aggregates every age over 89 into one group: 90."""
        if text[:1].isdigit():
            return "90s" if text.endswith("s") else "90"
        return "nineties" if text.lower() == "nineties" else _case_like("ninety", text)

    def time(self, text: str) -> str:
        return _shift_time(text, self.time_shift) or self.identifier(text)

    def date(self, text: str) -> str:
        return _shift_date(text, self.date_shift) or self.identifier(text)


# ----------------------------------------------------------------------------------------------
# Dates and times: parse the layout, shift, write back in the same layout
# ----------------------------------------------------------------------------------------------

_NUMERIC = re.compile(r"(\d{1,2})([/.-])(\d{1,2})(?:\2(\d{4}|\d{2}))?")
_ISO = re.compile(r"(\d{4})([-/]?)(\d{2})\2(\d{2})")
# [day[ordinal][ of] ]month[.][ day[ordinal]][,][ year]
_NAMED = re.compile(r"(?:(\d{1,2})(st|nd|rd|th)?( of)? )?([A-Za-z]+)(\.?)(?: (\d{1,2})(st|nd|rd|th)?)?(,?)"
                    r"(?: (\d{4}))?")


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    if not (1 <= month <= 12 and 1 <= day <= 31 and 1 <= year <= 9999):
        return None
    while True:
        try:
            return dt.date(year, month, day)
        except ValueError:
            day -= 1  # 02/30 -> 02/29 or 02/28: clamp into the month


def _ordinal(day: int) -> str:
    return "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _shift_date(text: str, shift: dt.timedelta) -> str | None:
    if m := _ISO.fullmatch(text):
        d = _safe_date(int(m[1]), int(m[3]), int(m[4]))
        return None if d is None else (d + shift).strftime(f"%Y{m[2]}%m{m[2]}%d")
    if m := _NUMERIC.fullmatch(text):
        a, sep, b, year = int(m[1]), m[2], int(m[3]), m[4]
        day_first = sep == "." or a > 12
        month, day = (b, a) if day_first else (a, b)
        century = 0 if year is None or len(year) == 4 else 1900 if int(year) >= 50 else 2000
        full = 2000 if year is None else int(year) + century
        d = _safe_date(full, month, day)
        if d is None:
            return None
        d += shift
        first, second = (d.day, d.month) if day_first else (d.month, d.day)
        padded = m[1][0] == "0" or m[3][0] == "0" or len(m[1]) == len(m[3]) == 2
        out = f"{first:02d}{sep}{second:02d}" if padded else f"{first}{sep}{second}"
        return out if year is None else f"{out}{sep}{d.year if len(year) == 4 else f'{d.year % 100:02d}'}"
    if (m := _NAMED.fullmatch(text)) and m[4][:3].lower() in _MONTH_INDEX:
        day_text = m[1] or m[6]
        d = _safe_date(int(m[9] or 2000), _MONTH_INDEX[m[4][:3].lower()], int(day_text) if day_text else 15)
        if d is None:
            return None
        d += shift
        word = m[4]
        name = _MONTHS[d.month - 1]
        if word.lower() not in _FULL_MONTHS:
            name = "Sept" if word.lower() == "sept" and d.month == 9 else name[:3]
        name = _case_like(name, word) + m[5]
        year_text = f"{m[8]} {d.year}" if m[9] else ""
        if m[1]:
            suffix = _ordinal(d.day) if m[2] else ""
            return f"{d.day}{suffix}{m[3] or ''} {name}{year_text}"
        if m[6]:
            suffix = _ordinal(d.day) if m[7] else ""
            return f"{name} {d.day}{suffix}{year_text}"
        return f"{name}{year_text}"
    return None


_CLOCK = re.compile(r"(\d{1,2})(?::(\d{2})(?::(\d{2}))?)?(\s?)([AaPp]\.?[Mm]\.?)?")
_MILITARY = re.compile(r"(\d{2})(\d{2})(.*)", re.S)


def _shift_time(text: str, minutes: int) -> str | None:
    if (m := _MILITARY.fullmatch(text)) and ":" not in text:
        total = (int(m[1]) * 60 + int(m[2]) + minutes) % 1440
        return f"{total // 60:02d}{total % 60:02d}{m[3]}"
    m = _CLOCK.fullmatch(text)
    if m is None or (m[2] is None and m[5] is None):
        return None
    hour, minute = int(m[1]), int(m[2] or 0)
    if m[5]:
        hour = hour % 12 + (12 if m[5][0] in "Pp" else 0)
    shift = minutes if m[2] else round(minutes / 60) * 60  # "3 pm" moves by whole hours
    total = (hour * 60 + minute + shift) % 1440
    h, mi = divmod(total, 60)
    marker = ""
    if m[5]:
        am = "A" if h < 12 else "P"
        marker = m[4] + (am if m[5][0].isupper() else am.lower()) + m[5][1:]
        h = h % 12 or 12
    clock = f"{h:02d}" if len(m[1]) == 2 else str(h)
    return clock + (f":{mi:02d}" if m[2] else "") + (f":{m[3]}" if m[3] else "") + marker


__all__ = ["Surrogates"]
