"""Shared helpers for the DICOM de-identification tests: inputs, walks over datasets, dciodvfy."""

from __future__ import annotations

import json
import re
import subprocess
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from medmint.anonymize.keys import DeidKey

TEST_KEY = "medmint-test-key-5f0c2a9e7b41d386"  # never to be found in any output
KEY = DeidKey(TEST_KEY.encode())
PYDICOM_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


def read(path: Path) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path, force=True)  # inputs without the preamble are read too


def has_preamble(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(132)
    return head[128:132] == b"DICM"


def elements(ds: Dataset, prefix: str = "") -> Iterator[tuple[str, DataElement]]:
    """(path, element) for every element, nested ones included, paths as the audit log writes them."""
    for elem in ds:
        name = elem.keyword or f"({elem.tag.group:04X},{elem.tag.element:04X})"
        path = f"{prefix}.{name}" if prefix else name
        yield path, elem
        if elem.VR == "SQ":
            for i, item in enumerate(elem.value):
                yield from elements(item, f"{path}[{i}]")


def by_path(ds: Dataset) -> dict[str, DataElement]:
    found = dict(elements(ds))
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        found.update(elements(meta, "file_meta"))
    return found


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and mtime (ns) under ``root``: proves a folder was left alone."""
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def _normalise(line: str) -> str:
    """A dciodvfy message without its values (UIDs, dates, names), so only new kinds of error count."""
    line = re.sub(r"= <[^>]*>", "= <>", line)
    line = re.sub(r'"[^"]*"', '""', line)
    return re.sub(r"\d+(?:\.\d+)*", "#", line)


def dciodvfy_errors(path: Path) -> set[str]:
    proc = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, errors="replace", timeout=120)
    return {_normalise(line) for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("Error")}


def new_dciodvfy_errors(pairs: list[tuple[Path, Path]]) -> dict[str, set[str]]:
    """input -> errors dciodvfy reports on the output but not on the input (threads: it is a subprocess)."""
    def one(pair: tuple[Path, Path]) -> tuple[str, set[str]]:
        src, out = pair
        return str(src), dciodvfy_errors(out) - dciodvfy_errors(src)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return {src: new for src, new in pool.map(one, pairs) if new}


PYDICOM_DATA = PYDICOM_FILES.parent  # test_files, charset_files, palettes: every DICOM file pydicom ships


def dciodvfy_lines(path: Path) -> list[str]:
    """dciodvfy's 'Error' lines for one file, as it prints them."""
    proc = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, errors="replace", timeout=120)
    return [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("Error")]


def dciodvfy_worse(pairs: list[tuple[Path, Path]]) -> tuple[int, int, dict[str, list[str]]]:
    """(errors in, errors out, {input: its output's new error lines} for every output with more errors)."""
    def one(pair: tuple[Path, Path]) -> tuple[str, list[str], list[str]]:
        return str(pair[0]), dciodvfy_lines(pair[0]), dciodvfy_lines(pair[1])

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(one, pairs))
    worse = {src: [f"{len(a)} -> {len(b)} errors"] + sorted(set(b) - set(a))
             for src, a, b in results if len(b) > len(a)}
    return sum(len(a) for _, a, _ in results), sum(len(b) for _, _, b in results), worse


# -- inputs carrying every attribute Table E.1-1 names -----------------------------------------------
_STUFF_TEXT = {"PN": "Qzarnik^Ulla^Maren", "DA": "19610203", "TM": "101112", "DT": "19610203101112",
               "AS": "061Y", "CS": "PHI", "UI": "1.2.826.0.1.3680043.9.7777.1", "IS": "7", "DS": "1.5",
               "AE": "PHISTATION", "UR": "http://example.org/phi"}
_STUFF_BINARY = {"US": 1, "SS": 1, "UL": 1, "SL": 1, "FL": 1.0, "FD": 1.0, "SV": 1, "UV": 1, "AT": 0x00100010}


def _stuff_value(vr: str, keyword: str):  # noqa: ANN202
    if vr in _STUFF_TEXT:
        return _STUFF_TEXT[vr]
    if vr in _STUFF_BINARY:
        return _STUFF_BINARY[vr]
    if vr in ("OB", "OW", "OD", "OF", "OL", "OV", "UN"):
        return b"PHI!"
    return f"Qzarnik {keyword}"[:16] if vr == "SH" else f"Seen by Ulla Qzarnik, {keyword}"  # LO ST LT UT UC


def _stuff_item(keyword: str) -> Dataset:
    item = Dataset()
    if keyword.endswith("CodeSequence"):
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = "PHI-1", "99PHI", "Qzarnik code"
    elif keyword.startswith(("Referenced", "Source")):
        item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        item.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.9.7777.2"
    else:
        item.PersonName = "Qzarnik^Ulla"
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "PHI-2", "99PHI", "Ulla's badge"
        item.PersonIdentificationCodeSequence = [code]
        item.InstitutionName = "Qzarnik Clinic"
    return item


def stuff_table_attributes(ds: Dataset) -> Dataset:
    """``ds`` with every attribute of Table E.1-1 it lacks added at the top level, each with a value
    valid for its VR (a sequence with one plausible item): the worst case a real export can be."""
    from pydicom.datadict import dictionary_VR, tag_for_keyword

    from medmint.anonymize.profile import load_table

    for rule in load_table().rules:
        tag = tag_for_keyword(rule.keyword) if "x" not in rule.tag else None
        if tag is None or tag in ds or (tag >> 16) in (0x0000, 0x0002, 0x0004) or (tag >> 16) in (0xFFFA, 0xFFFC, 0x7FE0):
            continue
        vr = dictionary_VR(tag).split(" or ")[0]
        if vr == "SQ":
            ds.add_new(tag, "SQ", [_stuff_item(rule.keyword)])
        else:
            ds.add_new(tag, vr, _stuff_value(vr, rule.keyword))
    return ds


def audit_records(out: Path) -> list[dict]:
    """The per-file lines of OUT/anonymize-audit.jsonl (the header line left out)."""
    return [json.loads(line) for line in (out / "anonymize-audit.jsonl").read_text().splitlines()[1:]]


def deid_pairs(src: Path, out: Path) -> list[tuple[Path, Path]]:
    """(input, output) of every file de-identified, as the audit log lists them."""
    return [(src / r["file"], out / r["file"]) for r in audit_records(out) if r["status"] == "ok"]
