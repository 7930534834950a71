"""Flags for files whose pixels may show identity, and objects that are not instances at all.

Header de-identification cannot see text burned into pixels. BurnedInAnnotation=YES says so outright;
screen captures, ultrasound, photographs and scanned documents often carry it without saying. Such files
are flagged in the audit log (and, by option, not written) so a person can look at them.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

SUSPICIOUS_MODALITIES = frozenset({"SC", "OT", "US", "XC", "DOC", "ES", "GM", "SM", "VL"})
SECONDARY_CAPTURE_CLASS = "1.2.840.10008.5.1.4.1.1.7"  # and its multi-frame variants (.7.1 .. .7.4)
MEDIA_DIRECTORY_CLASS = "1.2.840.10008.1.3.10"
PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def flags(ds: Dataset) -> list[str]:
    """Risk flags: 'burned_in_annotation', 'suspicious_modality:US', 'secondary_capture'."""
    found = []
    if str(ds.get("BurnedInAnnotation", "")).strip().upper() == "YES":
        found.append("burned_in_annotation")
    modality = str(ds.get("Modality", "") or "").strip().upper()
    if modality in SUSPICIOUS_MODALITIES:
        found.append(f"suspicious_modality:{modality}")
    sop_class = str(ds.get("SOPClassUID", "") or "")
    if sop_class == SECONDARY_CAPTURE_CLASS or sop_class.startswith(SECONDARY_CAPTURE_CLASS + "."):
        found.append("secondary_capture")
    return found


def has_pixels(ds: Dataset) -> bool:
    return any(k in ds for k in PIXEL_KEYWORDS)


def exclusion(found: list[str], *, exclude_burned_in: bool, exclude_suspicious: bool) -> str | None:
    """Why a file with these flags is not written under the given options, or None."""
    if exclude_burned_in and "burned_in_annotation" in found:
        return "burned_in_annotation"
    suspicious = [f for f in found if f.startswith("suspicious_modality") or f == "secondary_capture"]
    if exclude_suspicious and suspicious:
        return suspicious[0]
    return None


def is_media_directory(ds: Dataset) -> bool:
    """A DICOMDIR: an index of a medium, not an instance (its byte offsets break if anything changes)."""
    meta = getattr(ds, "file_meta", None)
    classes = {str(ds.get("SOPClassUID", "")), str(meta.get("MediaStorageSOPClassUID", "")) if meta else ""}
    return MEDIA_DIRECTORY_CLASS in classes or "DirectoryRecordSequence" in ds
