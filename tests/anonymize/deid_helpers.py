"""Shared helpers for the DICOM de-identification tests: inputs, walks over datasets, dciodvfy."""

from __future__ import annotations

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
        return pydicom.dcmread(path)


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
