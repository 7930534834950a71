"""Reading pixels from PNG / JPG / DICOM files into the arrays ``TrainingExample`` holds.

Loaders never trust a file: every failure becomes a one-line ``DatasetError`` whose reason tells
a missing file from a corrupt one, a truncated DICOM from a non-image one (SR, KO), so a user
with on_error="skip" sees what is wrong with their corpus, not just how much.
"""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path

import numpy as np

from medmint.generators.datasets import errors
from medmint.generators.datasets.errors import DatasetError

DICOM_MAGIC_OFFSET = 128


def is_dicom(path: str | os.PathLike[str]) -> bool:
    """True when the file has the DICOM Part 10 preamble ('DICM' at byte 128), whatever its name."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(DICOM_MAGIC_OFFSET + 4)
    except OSError:
        return False
    return len(head) == DICOM_MAGIC_OFFSET + 4 and head[DICOM_MAGIC_OFFSET:] == b"DICM"


def png_significant_bits(path: str | os.PathLike[str]) -> int | None:
    """The PNG sBIT value of a grayscale PNG (how many of 16 bits carry data), if it has one."""
    try:
        with open(path, "rb") as fh:
            if fh.read(8) != b"\x89PNG\r\n\x1a\n":
                return None
            while True:
                head = fh.read(8)
                if len(head) < 8:
                    return None
                length, ctype = struct.unpack(">I4s", head)
                if ctype == b"sBIT":
                    data = fh.read(length)
                    return data[0] if data else None
                if ctype in (b"IDAT", b"IEND"):
                    return None
                fh.seek(length + 4, os.SEEK_CUR)
    except OSError:
        return None


def read_image(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """(2-D uint8/uint16 MONOCHROME2 array, bits stored) of a PNG, JPG or DICOM file."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError.at(path, "image file not found", reason=errors.MISSING_IMAGE)
    if is_dicom(path):
        _, pixels, bits = read_dicom(path)
        return pixels, bits
    return _read_pil(path)


def _read_pil(path: Path) -> tuple[np.ndarray, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                im.load()
                mode = im.mode
                if mode in ("RGB", "RGBA", "P", "LA", "1", "CMYK", "YCbCr", "L"):
                    im = im.convert("L") if mode != "L" else im
                    arr = np.asarray(im, dtype=np.uint8)
                    return np.ascontiguousarray(arr), 8
                if mode.startswith("I;16") or mode == "I":
                    arr = np.asarray(im)
                    if arr.min(initial=0) < 0 or arr.max(initial=0) > 0xFFFF:
                        raise DatasetError.at(path, f"pixel values outside 0..65535 in a {mode} image",
                                              reason=errors.UNSUPPORTED_IMAGE)
                    arr = np.ascontiguousarray(arr.astype(np.uint16))
                    bits = png_significant_bits(path) or 16
                    return arr, min(max(bits, 1), 16)
                raise DatasetError.at(path, f"unsupported image mode {mode!r} (expected grayscale)",
                                      reason=errors.UNSUPPORTED_IMAGE)
    except DatasetError:
        raise
    except UnidentifiedImageError:
        raise DatasetError.at(path, "not a readable image (unknown or corrupt format)", reason=errors.CORRUPT_IMAGE) from None
    except (OSError, ValueError, SyntaxError, struct.error, EOFError) as exc:
        raise DatasetError.at(path, f"corrupt image ({_short(exc)})", reason=errors.CORRUPT_IMAGE) from None


def truncated_elements(ds: "object") -> list[str]:
    """Tags whose value is shorter than its declared length: the file ended inside them."""
    out = []
    for group in (getattr(ds, "file_meta", None), ds):
        if group is None:
            continue
        for tag in list(group.keys()):
            raw = group.get_item(tag)
            length = getattr(raw, "length", None)
            value = getattr(raw, "value", None)
            if isinstance(value, (bytes, bytearray)) and length is not None and length != 0xFFFFFFFF \
                    and len(value) < length:
                out.append(str(tag))
    return out


def _check_complete(ds, path: Path) -> None:  # noqa: ANN001
    """Tell a truncated file from a complete one, and a non-image DICOM (SR, KO, PR) from a cut image."""
    cut = truncated_elements(ds)
    if cut:
        raise DatasetError.at(path, f"truncated DICOM (file ends inside element {cut[0]})",
                              reason=errors.TRUNCATED_DICOM)
    meta = getattr(ds, "file_meta", None)
    if meta is None or "TransferSyntaxUID" not in meta:
        raise DatasetError.at(path, "truncated DICOM (file meta information is incomplete)",
                              reason=errors.TRUNCATED_DICOM)
    if "PixelData" in ds:
        return
    sop = ds.get("SOPClassUID") or meta.get("MediaStorageSOPClassUID")
    name = str(getattr(sop, "name", "") or sop or "")
    if "Rows" in ds or "SOPClassUID" not in ds or "Image" in name:
        # Pixel Data is the last top-level element: an image SOP class or image attributes without
        # it mean the file was cut.
        raise DatasetError.at(path, f"truncated DICOM (file ends before Pixel Data; SOP Class {name!r})",
                              reason=errors.TRUNCATED_DICOM)
    modality = ds.get("Modality", "")
    raise DatasetError.at(path, f"not an image DICOM (no PixelData; SOP Class {name!r}, Modality {modality!r})",
                          reason=errors.NO_PIXEL_DATA)


def read_dicom_header(path: str | os.PathLike[str]):  # -> pydicom.Dataset
    """The dataset of a DICOM file (pixels included, not decoded), or a one-line DatasetError."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = Path(path)
    if not path.is_file():
        raise DatasetError.at(path, "DICOM file not found", reason=errors.MISSING_IMAGE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path)
    except (struct.error, EOFError) as exc:
        raise DatasetError.at(path, f"truncated DICOM ({_short(exc)})", reason=errors.TRUNCATED_DICOM) from None
    except InvalidDicomError as exc:
        raise DatasetError.at(path, f"not a valid DICOM file ({_short(exc)})", reason=errors.CORRUPT_IMAGE) from None
    except Exception as exc:  # noqa: BLE001  pydicom raises many types on bad bytes; all mean "corrupt"
        raise DatasetError.at(path, f"unreadable DICOM ({_short(exc)})", reason=errors.CORRUPT_IMAGE) from None
    try:
        _check_complete(ds, path)
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001  a header element that does not parse
        raise DatasetError.at(path, f"unreadable DICOM header ({_short(exc)})", reason=errors.CORRUPT_IMAGE) from None
    return ds


def read_dicom(path: str | os.PathLike[str]):  # -> tuple[pydicom.Dataset, np.ndarray, int]
    """(dataset, 2-D MONOCHROME2 pixels, bits stored) of an image DICOM."""
    path = Path(path)
    ds = read_dicom_header(path)
    pixels, bits = decode_dicom(ds, path)
    return ds, pixels, bits


def decode_dicom(ds, path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:  # noqa: ANN001
    """2-D MONOCHROME2 pixels and bits stored of a dataset from ``read_dicom_header``."""
    path = Path(path)
    try:
        return _decode(ds, path)
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001  an image attribute (Rows, BitsStored ...) that does not parse
        raise DatasetError.at(path, f"unreadable image attributes ({_short(exc)})", reason=errors.CORRUPT_IMAGE) from None


def header_value(ds, keyword: str, path: str | os.PathLike[str]):  # noqa: ANN001, ANN201
    """``ds.get(keyword)``, with a corrupt element reported as a one-line DatasetError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ds.get(keyword)
    except Exception as exc:  # noqa: BLE001
        raise DatasetError.at(path, f"unreadable {keyword} ({_short(exc)})", reason=errors.CORRUPT_IMAGE) from None


def _decode(ds, path: Path) -> tuple[np.ndarray, int]:  # noqa: ANN001
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if samples != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise DatasetError.at(path, f"not a grayscale image (PhotometricInterpretation {photometric!r}, "
                              f"SamplesPerPixel {samples})", reason=errors.UNSUPPORTED_IMAGE)
    if frames != 1:
        raise DatasetError.at(path, f"multi-frame image ({frames} frames); expected one frame",
                              reason=errors.UNSUPPORTED_IMAGE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = ds.pixel_array
    except (NotImplementedError, RuntimeError) as exc:
        ts = ds.file_meta.get("TransferSyntaxUID")
        raise DatasetError.at(path, f"cannot decode pixel data (transfer syntax {getattr(ts, 'name', ts)!r}: "
                              f"{_short(exc)})", reason=errors.UNSUPPORTED_IMAGE) from None
    except Exception as exc:  # noqa: BLE001  decoders raise many types on bad bytes
        text = _short(exc)
        reason = errors.TRUNCATED_DICOM if "less than expected" in text else errors.CORRUPT_IMAGE
        label = "truncated DICOM" if reason == errors.TRUNCATED_DICOM else "corrupt DICOM pixel data"
        raise DatasetError.at(path, f"{label} ({text})", reason=reason) from None
    if arr.ndim != 2:
        raise DatasetError.at(path, f"pixel data has shape {arr.shape}; expected a 2-D image",
                              reason=errors.UNSUPPORTED_IMAGE)
    bits = int(ds.get("BitsStored", arr.dtype.itemsize * 8) or 16)
    if int(ds.get("PixelRepresentation", 0) or 0) == 1:
        raise DatasetError.at(path, "signed pixel data (PixelRepresentation 1) is not supported",
                              reason=errors.UNSUPPORTED_IMAGE)
    if bits > 16:
        raise DatasetError.at(path, f"BitsStored {bits} > 16 is not supported", reason=errors.UNSUPPORTED_IMAGE)
    out = arr.astype(np.uint16 if bits > 8 else np.uint8, copy=True)
    out &= np.array((1 << bits) - 1, dtype=out.dtype)  # bits above BitsStored are not pixel data
    if photometric == "MONOCHROME1":  # bright = low values; flip so every image is MONOCHROME2
        out = ((1 << bits) - 1 - out).astype(out.dtype)
    return np.ascontiguousarray(out), bits


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:160]
