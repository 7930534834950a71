"""De-identify one pydicom Dataset by PS3.15 Annex E Table E.1-1 (Basic Profile, optional options).

Every element, in nested sequences and in the file meta too, gets its table action:

- D dummy (constant, valid for the VR; UIDs are hashed as for U), Z empty, X removed, K kept, C cleaned
  (dates shifted per patient under the modified-dates option; text through ``cleaning.clean_text``),
  U keyed-hash UID (``keys.DeidKey.uid``), so references across files and the file meta stay consistent.
- Compound actions ("X/Z", "Z/D", "X/D", "X/Z/D", "X/Z/U*") mean "the first unless the IOD requires
  more", and the IOD's type is unknown here, so the rule is **keep presence**: an attribute that is
  present stays present - with a dummy (D) when it had a value and D is allowed, else empty (Z). A
  Type 1 or 2 attribute of any IOD therefore stays valid, and neither a dummy nor an empty value carries
  anything. Sequences: "X/Z" empties them; D (alone or in a compound) keeps their items and de-identifies
  them recursively, with free text inside cleaned and code items replaced by a dummy code; "X/Z/U*"
  keeps the items and replaces the UIDs they reference.
- X and Z are then fitted to the file's IOD (``iod.attribute_type``, by SOP Class and keyword path), so
  no output is less valid than its input: Type 1/1C keeps a dummy (a sequence one item, de-identified:
  Z allows "a non-zero length value that may be a dummy"), Type 2/2C stays present and empty, and a
  sequence the IOD lets be absent is removed (present with no items is an error). Person names (PN)
  the table does not list are dummied too; kept free text loses the header's own identifiers.
- Attributes the table does not list are kept (K), except: private elements (removed unless in the
  safe-list), group lengths (stale after editing), the whole overlay/curve group of removed overlay data
  (a half overlay is invalid) and the file meta's AE titles (they name stations) and private information.
- PatientID and PatientName become pseudonyms keyed by the original PatientID (Z/D and Z allow a value
  "that may be a dummy"; one patient's files still group together).

Pixel data is never touched. The caller decides about files flagged by ``screening``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag

import medmint
from medmint.anonymize.cleaning import blank_identifiers, clean_text, known_identifiers
from medmint.anonymize.dates import shifted
from medmint.anonymize.dummies import FREE_TEXT_VRS, KEPT_TEXT_VRS, clip, dummy_value, empty_value
from medmint.anonymize.iod import NOT_IN_IOD, PRESENCE, REQUIRED, UNKNOWN, attribute_type
from medmint.anonymize.keys import DeidKey
from medmint.anonymize.profile import EDITION, ProfileTable, Rule, load_table

_UNSET = object()
STANDARD_UID_ROOT = "1.2.840.10008."  # UIDs the standard defines (classes, codes) identify no one
_OVERLAY_DATA, _CURVE_GROUPS, _OVERLAY_GROUPS = 0x3000, range(0x5000, 0x5100), range(0x6000, 0x6100)
# File meta: AE titles name the sending / receiving stations; private information is private.
_META_REMOVED = (0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102)
_UNSPLIT_TEXT_VRS = ("LT", "ST", "UT")  # single-valued: a backslash is text there, a separator elsewhere
_CODE_VALUE_KEYWORDS = ("CodeValue", "LongCodeValue", "URNCodeValue")
_CODE_KEYWORDS = frozenset(_CODE_VALUE_KEYWORDS + ("CodingSchemeDesignator", "CodingSchemeVersion", "CodeMeaning",
                                                   "ContextIdentifier", "MappingResource", "ContextGroupVersion"))
_PROFILE_CODES = {  # DCM CID 7050 "De-identification Method"
    "basic": ("113100", "Basic Application Confidentiality Profile"),
    "modified_dates": ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    "clean_descriptors": ("113105", "Clean Descriptors Option"),
}


@dataclass(frozen=True)
class DeidOptions:
    """The profile options and medmint's switches (all off = the Basic Profile, nothing excluded)."""

    retain_modified_dates: bool = False  # shift dates per patient (keeps intervals) instead of removing them
    clean_descriptors: bool = False  # keep descriptions/comments, cleaned, instead of removing them
    exclude_burned_in: bool = False  # write no output for BurnedInAnnotation=YES
    exclude_suspicious: bool = False  # write no output for modalities/classes that often burn text in
    safe_private: frozenset[tuple[str, int]] = frozenset()  # (private creator, element low byte) kept

    def profile_names(self) -> list[str]:
        names = ["basic"]
        if self.retain_modified_dates:
            names.append("modified_dates")
        if self.clean_descriptors:
            names.append("clean_descriptors")
        return names


@dataclass(frozen=True)
class Change:
    """One attribute the de-identifier touched. ``original`` is filled only when originals are asked for."""

    path: str  # "ReferencedImageSequence[0].ReferencedSOPInstanceUID"
    tag: str  # "(0008,1155)"
    action: str  # what was done: D Z X U C (or "A" for an attribute added)
    rule: str  # why: the table's action ("X/Z/D"), "private", "pseudonym", "group length", ...
    original: str | None = None


@dataclass
class DeidResult:
    changes: list[Change] = field(default_factory=list)
    identifiers: tuple[str, ...] = ()  # header identifiers, for cleaning the sibling report (in memory only)


def _tag_text(tag: BaseTag) -> str:
    return f"({tag.group:04X},{tag.element:04X})"


def _describe(value: Any) -> str:
    """An original value as the ``--originals`` file holds it (binary values by size only)."""
    if isinstance(value, Sequence):
        return f"<sequence of {len(value)} items>"
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    return str(value)


def _multi(value: Any) -> bool:
    return isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue"


def _is_empty(elem: DataElement) -> bool:
    return elem.value is None or elem.value == "" or elem.value == b"" or (elem.VR == "SQ" and len(elem.value) == 0)


def resolve_action(action: str, elem: DataElement) -> str:
    """A compound action resolved by the keep-presence rule (see the module docstring)."""
    if "/" not in action:
        return action
    if action == "X/Z/U*":
        return "U*" if elem.VR == "SQ" else "U" if elem.VR == "UI" else "Z"
    options = action.split("/")
    if _is_empty(elem):
        return "Z"
    return "D" if "D" in options else "Z"


class _Deidentifier:
    """One dataset's pass: carries the key, options, patient, identifiers and the change list."""

    def __init__(self, key: DeidKey, options: DeidOptions, table: ProfileTable, keep_originals: bool) -> None:
        self.key, self.options, self.table, self.keep = key, options, table, keep_originals
        self.changes: list[Change] = []
        self.patient = ""
        self.shift_days = 0
        self.identifiers: tuple[str, ...] = ()
        self.sop_class = ""

    # -- bookkeeping --------------------------------------------------------------------------------
    def _record(self, path: str, elem: DataElement, action: str, rule: str, before: Any = _UNSET) -> None:
        original = _describe(elem.value if before is _UNSET else before) if self.keep else None
        self.changes.append(Change(path, _tag_text(elem.tag), action, rule, original))

    # -- values ---------------------------------------------------------------------------------------
    def _map_uid(self, value: str) -> str:
        value = str(value).strip().rstrip("\x00")
        return value if not value or value.startswith(STANDARD_UID_ROOT) else self.key.uid(value)

    def _each(self, elem: DataElement, fn: Callable[[str], str]) -> None:
        """Apply ``fn`` to every value of a (possibly multi-valued) string element."""
        if _multi(elem.value):
            elem.value = [fn(str(v)) for v in elem.value]
        elif elem.value is not None:
            elem.value = fn(str(elem.value))

    def _clean(self, elem: DataElement) -> None:
        if elem.VR in ("DA", "DT", "TM"):
            self._each(elem, lambda v: shifted(elem.VR, v, self.shift_days) if self.options.retain_modified_dates
                       else dummy_value(elem.VR) if v else v)
        elif isinstance(elem.value, str) or _multi(elem.value):  # numbers and bytes carry no words
            self._each(elem, lambda v: clip(elem.VR, self._clean_value(elem.VR, v)))

    def _clean_value(self, vr: str, value: str) -> str:
        text = clean_text(value, self.identifiers).text
        return text if vr in _UNSPLIT_TEXT_VRS else text.replace("\\", "/")

    def _dummy(self, elem: DataElement) -> None:
        if elem.VR == "UI":  # a dummy UID must still be consistent across files: the keyed one
            self._each(elem, self._map_uid)
        elif _multi(elem.value) and len(elem.value) > 1:  # as many values as before: the VM may be fixed
            elem.value = [dummy_value(elem.VR)] * len(elem.value)
        else:
            elem.value = dummy_value(elem.VR)

    def _scrub_kept(self, ds: Dataset, elem: DataElement, path: str) -> None:
        """A kept free-text value loses the header's own identifiers (a name typed into a description)."""
        if elem.VR not in KEPT_TEXT_VRS or elem.keyword in _CODE_KEYWORDS or not self.identifiers \
                or not (isinstance(elem.value, str) or _multi(elem.value)):
            return  # codes (value, scheme, meaning) are terminology, not text someone typed
        before = elem.value
        self._each(elem, lambda v: clip(elem.VR, blank_identifiers(v, self.identifiers)[0]))
        if elem.value != before:
            self._record(path, elem, "C", "known identifier", before=before)

    # -- sequences ------------------------------------------------------------------------------------
    def _dummy_code(self, item: Dataset, path: str) -> None:
        """A code item inside a dummied sequence (a person's or an institution's code) gets a dummy code."""
        for keyword in _CODE_VALUE_KEYWORDS + ("CodingSchemeVersion",):
            if keyword in item:
                self._record(f"{path}.{keyword}", item[keyword], "D" if keyword == "CodeValue" else "X", "D (code)")
                del item[keyword]
        item.CodeValue = "ANONYMIZED"
        item.CodingSchemeDesignator = "99MEDMINT"
        item.CodeMeaning = "anonymized"

    def _items(self, elem: DataElement, path: str, keys: tuple[str, ...] | None, dummy: bool,
               replaced: bool) -> None:
        """Walk the items; ``replaced``: this sequence itself is being dummied, so its code items are too."""
        for i, item in enumerate(elem.value):
            item_path = f"{path}[{i}]"
            if replaced and any(k in item for k in _CODE_VALUE_KEYWORDS):
                self._dummy_code(item, item_path)
            self.walk(item, item_path, dummy, keys)

    # -- the walk -------------------------------------------------------------------------------------
    def _private_kept(self, ds: Dataset) -> set[int]:
        kept: set[int] = set()
        if not self.options.safe_private:
            return kept
        for tag in ds.keys():
            if tag.is_private and tag.element >= 0x1000:
                creator_tag = Tag(tag.group, tag.element >> 8)
                creator = str(ds[creator_tag].value).strip() if creator_tag in ds else ""
                if (creator, tag.element & 0xFF) in self.options.safe_private:
                    kept.update({int(tag), int(creator_tag)})
        return kept

    def _special(self, ds: Dataset, elem: DataElement, path: str) -> bool:
        """Pseudonyms for the patient's id and name; True when handled."""
        if elem.keyword not in ("PatientID", "PatientName"):
            return False
        own = str(ds.get("PatientID", "") or "").strip()  # (0010,0010) comes first: still the original id
        patient = f"id:{own}" if own else self.patient
        pseudonym = self.key.patient_id(patient) if elem.keyword == "PatientID" else self.key.patient_name(patient)
        if elem.value != pseudonym:
            self._record(path, elem, "D", "pseudonym")
            elem.value = pseudonym
        return True

    def _action(self, elem: DataElement, rule: Rule | None, dummy: bool) -> tuple[str, str]:
        if rule is None:
            if elem.VR == "PN" and not _is_empty(elem):  # a person's name under any tag is a name
                return "D", "person name"
            return ("C", "free text in dummy sequence") if dummy and elem.VR in FREE_TEXT_VRS else ("K", "")
        action = rule.action(modified_dates=self.options.retain_modified_dates,
                             clean_descriptors=self.options.clean_descriptors)
        return resolve_action(action, elem), action

    def _fit_iod(self, elem: DataElement, action: str, why: str, keys: tuple[str, ...] | None) -> tuple[str, str]:
        """X and Z adjusted to what the file's IOD needs of this attribute, so no output is less valid.

        Type 1/1C: a value is kept as a dummy (a sequence keeps one item, de-identified: "Z" allows a
        dummy value). Type 2/2C: kept present, empty. A sequence the IOD lets be absent (Type 3, or not in
        the IOD) is removed, not emptied: a present sequence needs an item. IOD unknown: an emptied
        sequence keeps one de-identified item instead, which is valid whatever its Type.
        """
        if action not in ("X", "Z") or keys is None:
            return action, why
        kind = attribute_type(self.sop_class, keys)
        empty = _is_empty(elem)
        if kind in REQUIRED:
            fitted = "Z" if empty else "D1" if elem.VR == "SQ" else "D"
        elif kind in PRESENCE:
            fitted = "Z"
        elif elem.VR == "SQ" and kind in ("3", NOT_IN_IOD):
            fitted = "X"
        elif elem.VR == "SQ" and kind == UNKNOWN and action == "Z" and not empty:
            fitted = "D1"
        else:
            fitted = action
        if fitted == action:
            return action, why
        return fitted, f"{why}; Type {kind} in the IOD" if kind not in (NOT_IN_IOD, UNKNOWN) else \
            f"{why}; {'not in the IOD' if kind == NOT_IN_IOD else 'IOD unknown'}"

    def walk(self, ds: Dataset, prefix: str = "", dummy: bool = False, keys: tuple[str, ...] | None = ()) -> None:
        """De-identify ``ds`` in place; ``dummy`` marks the inside of a sequence being replaced (D);
        ``keys`` are the keywords of the enclosing sequences (None: the file meta, outside any IOD)."""
        kept_private = self._private_kept(ds)
        dropped_overlays = {t.group for t in ds.keys() if t.group in _OVERLAY_GROUPS and t.element == _OVERLAY_DATA}
        for tag in list(ds.keys()):
            elem = ds[tag]
            path = f"{prefix}.{elem.keyword or _tag_text(tag)}" if prefix else (elem.keyword or _tag_text(tag))
            if tag.is_private and int(tag) not in kept_private:
                self._remove(ds, elem, path, "private")
                continue
            if tag.element == 0 and tag.group != 0x0002:
                self._remove(ds, elem, path, "group length")
                continue
            if tag.group in dropped_overlays:
                self._remove(ds, elem, path, "overlay group")
                continue
            if int(tag) in _META_REMOVED:
                self._remove(ds, elem, path, "file meta identifying")
                continue
            if self._special(ds, elem, path):
                continue
            if elem.VR == "UN" and self.table.lookup(int(tag)) is not None:
                self._remove(ds, elem, path, "unknown VR")  # no valid dummy can be made for raw bytes
                continue
            elem_keys = None if keys is None else (*keys, elem.keyword)
            action, why = self._action(elem, self.table.lookup(int(tag)), dummy)
            action, why = self._fit_iod(elem, action, why, elem_keys)
            self._apply(ds, elem, path, action, why, dummy, elem_keys)

    def _remove(self, ds: Dataset, elem: DataElement, path: str, why: str) -> None:
        self._record(path, elem, "X", why)
        del ds[elem.tag]

    def _apply(self, ds: Dataset, elem: DataElement, path: str, action: str, why: str, dummy: bool,
               keys: tuple[str, ...] | None) -> None:
        if elem.VR == "SQ":
            if action == "X":
                self._remove(ds, elem, path, why)
            elif action == "Z":
                if len(elem.value):
                    self._record(path, elem, action, why)
                elem.value = Sequence()
            elif action == "D1":  # one item, its attributes de-identified as in a dummy sequence
                self._record(path, elem, "D", f"{why}: one item kept, de-identified")
                elem.value = Sequence([elem.value[0]])
                self._items(elem, path, keys, dummy=True, replaced=True)
            else:  # K, U*: keep the items and de-identify them; D, C: the same, as a dummy sequence
                replaced = action in ("D", "C")
                self._items(elem, path, keys, dummy=dummy or replaced, replaced=replaced)
            return
        if action == "K":
            self._scrub_kept(ds, elem, path)
            return
        if action == "X":
            self._remove(ds, elem, path, why)
            return
        before = elem.value
        if action == "Z":
            elem.value = empty_value(elem.VR)
        elif action == "D":
            self._dummy(elem)
        elif action == "U":
            self._each(elem, self._map_uid)
        elif action == "C":
            self._clean(elem)
        if elem.value != before:
            self._record(path, elem, action, why, before=before)

    # -- entry ----------------------------------------------------------------------------------------
    def run(self, ds: Dataset) -> DeidResult:
        self.patient = self._patient_key(ds)
        self.shift_days = self.key.date_shift_days(self.patient)
        self.identifiers = known_identifiers(ds)
        meta = getattr(ds, "file_meta", None)
        self.sop_class = str(ds.get("SOPClassUID", "") or (meta.get("MediaStorageSOPClassUID", "") if meta else ""))
        if meta is not None:
            self.walk(meta, "file_meta", keys=None)
        self.walk(ds)
        for keyword in ("PatientID", "PatientName"):  # Type 2 in the Patient module: always present
            if keyword not in ds:
                ds.setdefault(keyword, "")
                self._special(ds, ds[keyword], keyword)
        if meta is not None and "SOPInstanceUID" in ds:
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        self._mark(ds)
        return DeidResult(self.changes, self.identifiers)

    @staticmethod
    def _patient_key(ds: Dataset) -> str:
        """Who the file is about: PatientID, else the name, else the study (for pseudonyms and the shift)."""
        for keyword, label in (("PatientID", "id"), ("PatientName", "name"), ("StudyInstanceUID", "study")):
            value = str(ds.get(keyword, "") or "").strip()
            if value:
                return f"{label}:{value}"
        return "unknown"

    def _mark(self, ds: Dataset) -> None:
        """PatientIdentityRemoved, DeidentificationMethod (+ code sequence): what was done, by which edition."""
        names = self.options.profile_names()
        ds.PatientIdentityRemoved = "YES"
        method = [f"DICOM PS3.15 {EDITION} E.1-1 Basic Profile"]
        method += ["Retain Longitudinal Modified Dates Option"] if self.options.retain_modified_dates else []
        method += ["Clean Descriptors Option"] if self.options.clean_descriptors else []
        method.append(f"medmint {medmint.__version__} anonymize")
        old = ds.get("DeidentificationMethod") or []
        previous = [str(v) for v in old] if _multi(old) else [str(old)]
        ds.DeidentificationMethod = list(dict.fromkeys(previous + method))
        codes = list(ds.get("DeidentificationMethodCodeSequence", []))
        have = {str(item.get("CodeValue", "")) for item in codes}
        for name in names:
            value, meaning = _PROFILE_CODES[name]
            if value not in have:
                item = Dataset()
                item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
                codes.append(item)
        ds.DeidentificationMethodCodeSequence = codes
        ds.LongitudinalTemporalInformationModified = "MODIFIED" if self.options.retain_modified_dates else "REMOVED"


def deidentify(ds: Dataset, key: DeidKey, options: DeidOptions | None = None, *,
               keep_originals: bool = False, table: ProfileTable | None = None) -> DeidResult:
    """De-identify ``ds`` (and its file meta) in place; the changes say what was done to which path."""
    return _Deidentifier(key, options or DeidOptions(), table or load_table(), keep_originals).run(ds)


def profile_description(options: DeidOptions) -> dict[str, Any]:
    """The profile and options as the audit log states them."""
    return {"profile": "DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile",
            "table": f"PS3.15 {EDITION} Table E.1-1", "options": options.profile_names()[1:],
            "codes": [_PROFILE_CODES[n][0] for n in options.profile_names()],
            "safe_private": sorted([list(x) for x in options.safe_private])}


def parse_safe_private(items: list[str]) -> frozenset[tuple[str, int]]:
    """``["SIEMENS CSA HEADER:10", ...]`` -> {(creator, 0x10)}: private elements a user vouches for."""
    out = set()
    for item in items:
        creator, sep, byte = item.rpartition(":")
        try:
            value = int(byte, 16)
        except ValueError:
            value = -1
        if not sep or not creator.strip() or not 0 <= value <= 0xFF:
            raise ValueError(f"--keep-private {item!r}: expected CREATOR:XX (XX: the element's low byte, hex)")
        out.add((creator.strip(), value))
    return frozenset(out)
