"""Write phantom studies in the MIMIC-CXR-JPG layout, so every MIMIC tool (and our loader) reads them.

Layout (as PhysioNet ships MIMIC-CXR-JPG 2.0.0, plus MIMIC-CXR's free-text reports)::

    OUT/files/p10/p10000032/s50414267/02aa804e-bde0afdd-112c0b34-7bc16630-4e384014.jpg|.png
    OUT/files/p10/p10000032/s50414267.txt          free-text report
    OUT/mimic-cxr-2.0.0-metadata.csv[.gz]          one row per image
    OUT/mimic-cxr-2.0.0-chexpert.csv[.gz]          one row per study, 1.0 / 0.0 / -1.0 / blank
    OUT/mimic-cxr-2.0.0-split.csv[.gz]             train / validate / test, by subject
    OUT/demographics.csv                           medmint's addition: subject_id, sex, age
    OUT/medmint-dataset.json                       the arguments, so a re-run can resume safely

Everything is a function of the arguments: the same call writes byte-identical files. Each file is
written to a temporary name and renamed, so an interrupted run leaves no half-written file, and a
re-run with the same arguments finishes it.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Literal

import numpy as np

from medmint.atomic import atomic_write_bytes, remove_stale_temporaries
from medmint.generators.phantom.case import PhantomCase
from medmint.records import CHEXPERT_LABELS

METADATA_FILE = "mimic-cxr-2.0.0-metadata.csv"
CHEXPERT_FILE = "mimic-cxr-2.0.0-chexpert.csv"
SPLIT_FILE = "mimic-cxr-2.0.0-split.csv"
DEMOGRAPHICS_FILE = "demographics.csv"
MANIFEST_FILE = "medmint-dataset.json"

METADATA_COLUMNS: tuple[str, ...] = (
    "dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription", "ViewPosition", "Rows",
    "Columns", "StudyDate", "StudyTime", "ProcedureCodeSequence_CodeMeaning", "ViewCodeSequence_CodeMeaning",
    "PatientOrientationCodeSequence_CodeMeaning",
)
# MIMIC's label file lists the 14 labels alphabetically.
CHEXPERT_COLUMNS: tuple[str, ...] = ("subject_id", "study_id", *sorted(CHEXPERT_LABELS))
SPLIT_COLUMNS: tuple[str, ...] = ("dicom_id", "study_id", "subject_id", "split")
DEMOGRAPHICS_COLUMNS: tuple[str, ...] = ("subject_id", "sex", "age")
SPLITS: tuple[str, ...] = ("train", "validate", "test")

_PROCEDURE = {"PA": "CHEST (PA AND LAT)", "AP": "CHEST (PORTABLE AP)", "LATERAL": "CHEST (PA AND LAT)"}
_VIEW_MEANING = {"PA": "postero-anterior", "AP": "antero-posterior", "LATERAL": "lateral", "LL": "left lateral"}
_LABEL_CELL = {1: "1.0", 0: "0.0", -1: "-1.0", None: ""}
_MAX_STUDIES_PER_SUBJECT = 3
_CONTINUE_PERCENT = 35  # chance that a study belongs to the previous study's subject
_HELD_OUT_FRACTION = 0.1  # of subjects, for each of validate and test

ImageFormat = Literal["png", "jpg"]


@dataclass(frozen=True)
class PhantomStudy:
    """The ids, dates and phantom seed of one written study (one image)."""

    index: int
    case_seed: int
    subject_id: str
    study_id: str
    dicom_id: str
    first_of_subject: bool
    study_date: str  # YYYYMMDD, shifted into the 22nd century as MIMIC's are
    study_time: str  # HHMMSS.fff without leading zeros, as MIMIC's float column prints

    @property
    def study_dir(self) -> str:
        """'files/p10/p10000032/s50414267' (relative to the dataset root)."""
        return f"files/p{self.subject_id[:2]}/p{self.subject_id}/s{self.study_id}"


def _h(seed: int, *parts: object) -> int:
    """A 64-bit hash of the run seed and parts: every id and seed here derives from one of these."""
    text = ":".join(["medmint-mimic", str(seed), *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _unique(seed: int, kind: str, ordinal: int, lo: int, span: int, used: set[int]) -> int:
    attempt = 0
    while True:
        value = lo + _h(seed, kind, ordinal, attempt) % span
        if value not in used:
            used.add(value)
            return value
        attempt += 1


def plan_phantom_studies(n: int, *, seed: int = 0) -> list[PhantomStudy]:
    """Ids, dates and seeds for ``n`` studies; study i depends only on (seed, i) and earlier studies.

    Subjects get one to three studies (consecutive indices), like MIMIC's repeat patients.
    """
    studies: list[PhantomStudy] = []
    used_subjects: set[int] = set()
    used_studies: set[int] = set()
    used_dicoms: set[str] = set()
    subject_ordinal = -1
    subject_id = ""
    in_subject = 0
    date = dt.date(2110, 1, 1)
    for i in range(n):
        new_subject = (i == 0 or in_subject >= _MAX_STUDIES_PER_SUBJECT
                       or _h(seed, "continue", i) % 100 >= _CONTINUE_PERCENT)
        if new_subject:
            subject_ordinal += 1
            subject_id = str(_unique(seed, "subject", subject_ordinal, 10_000_000, 10_000_000, used_subjects))
            in_subject = 0
            hs = _h(seed, "date", subject_ordinal)
            date = dt.date(2110 + hs % 80, 1, 1) + dt.timedelta(days=int(hs >> 8) % 200)
        else:
            date = date + dt.timedelta(days=1 + _h(seed, "gap", i) % 50)
        in_subject += 1
        study_id = str(_unique(seed, "study", i, 50_000_000, 10_000_000, used_studies))
        attempt = 0
        while True:
            digest = hashlib.sha256(f"medmint-mimic:{seed}:dicom:{i}:{attempt}".encode()).hexdigest()[:40]
            dicom_id = "-".join(digest[k:k + 8] for k in range(0, 40, 8))
            if dicom_id not in used_dicoms:
                used_dicoms.add(dicom_id)
                break
            attempt += 1
        ht = _h(seed, "time", i)
        seconds, millis = ht % 86_400, (ht >> 20) % 1000
        hhmmss = (seconds // 3600) * 10_000 + (seconds // 60 % 60) * 100 + seconds % 60
        studies.append(PhantomStudy(
            index=i, case_seed=_h(seed, "case", i) >> 1, subject_id=subject_id, study_id=study_id,
            dicom_id=dicom_id, first_of_subject=new_subject, study_date=date.strftime("%Y%m%d"),
            study_time=f"{hhmmss}.{millis:03d}"))
    return studies


def iter_phantom_studies(n: int, *, seed: int = 0, size: int = 256,
                         phi: bool = False) -> Iterator[tuple[PhantomStudy, PhantomCase]]:
    """Each planned study with its phantom case; a subject's later studies keep its sex and age."""
    from medmint.generators.phantom import sample_case

    sex: str | None = None
    age: int | None = None
    for study in plan_phantom_studies(n, seed=seed):
        if study.first_of_subject:
            case = sample_case(study.case_seed, size=size, phi=phi)
            sex, age = case.sex, case.age
        else:
            case = sample_case(study.case_seed, size=size, phi=phi, sex=sex, age=age)
        yield study, case


def assign_splits(subject_ids: list[str], *, seed: int = 0) -> dict[str, str]:
    """Subject -> train / validate / test, by a seeded ranking (so no subject spans two splits).

    About 10 % of subjects each go to validate and test, at least one each from 3 subjects on.
    """
    unique = sorted(set(subject_ids))
    ranked = sorted(unique, key=lambda s: (_h(seed, "split", s), s))
    n_held = max(1, round(len(unique) * _HELD_OUT_FRACTION)) if len(unique) >= 3 else 0
    out = {}
    for rank, subject in enumerate(ranked):
        out[subject] = "test" if rank < n_held else "validate" if rank < 2 * n_held else "train"
    return out


def _check_case(study: PhantomStudy, case: PhantomCase) -> None:
    """The phantom's contract, checked before anything is written (a broken case is a bug)."""
    img = case.image
    if not isinstance(img, np.ndarray) or img.ndim != 2 or img.dtype != np.uint16:
        raise ValueError(f"phantom case {study.index}: image must be a 2-D uint16 array")
    if not 1 <= case.bits_stored <= 16 or (img.size and int(img.max()) >= 1 << case.bits_stored):
        raise ValueError(f"phantom case {study.index}: pixel values exceed bits_stored {case.bits_stored}")
    bad = {k: v for k, v in case.labels.items() if v not in _LABEL_CELL or isinstance(v, bool)}
    if bad or not set(case.labels) <= set(CHEXPERT_LABELS):
        raise ValueError(f"phantom case {study.index}: labels not in CheXpert coding: {bad}")


def encode_png16(image: np.ndarray, bits_stored: int) -> bytes:
    """Lossless 16-bit grayscale PNG whose sBIT chunk records the bits stored (12 for the phantom)."""
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add(b"sBIT", bytes([bits_stored]))
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint16)).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def to_uint8(image: np.ndarray, bits_stored: int) -> np.ndarray:
    """Fixed linear map from ``bits_stored`` bits to 8 (no per-image windowing, so images compare)."""
    top = (1 << bits_stored) - 1
    scaled = (np.minimum(image.astype(np.uint32), top) * 255 + top // 2) // top
    return scaled.astype(np.uint8)


def encode_jpg8(image: np.ndarray, bits_stored: int, quality: int = 95) -> bytes:
    """8-bit grayscale JPEG at quality 95, as MIMIC-CXR-JPG ships."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(to_uint8(image, bits_stored), mode="L").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _csv_bytes(columns: tuple[str, ...], rows: list[list[str]], gz: bool) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    data = text.getvalue().encode("utf-8")
    if not gz:
        return data
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as fh:  # mtime 0: reproducible bytes
        fh.write(data)
    return out.getvalue()


def _prepare_out_dir(out: Path, args: dict[str, object]) -> None:
    """Refuse a folder holding anything but an earlier run with the same arguments (which resumes)."""
    marker = out / MANIFEST_FILE
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        try:
            previous = json.loads(marker.read_text())["args"]
        except (OSError, ValueError, KeyError, TypeError):
            raise FileExistsError(f"{out}: folder is not empty and holds no medmint dataset; "
                                  "choose an empty or new folder") from None
        if previous != args:
            changed = sorted(k for k in set(previous) | set(args) if previous.get(k) != args.get(k))
            raise FileExistsError(f"{out}: holds a phantom dataset written with other arguments "
                                  f"({', '.join(changed)} differ); choose an empty or new folder")
        remove_stale_temporaries(out)
    out.mkdir(parents=True, exist_ok=True)


def write_phantom_dataset(
    out_dir: str | os.PathLike[str],
    n: int,
    *,
    seed: int = 0,
    size: int = 256,
    image_format: ImageFormat = "png",
    phi: bool = False,
    gzip_csv: bool = False,
    progress: Callable[[int], object] | None = None,
) -> dict[str, object]:
    """Write ``n`` phantom studies (one image each) in the MIMIC-CXR-JPG layout; return a summary.

    ``image_format`` "png" keeps the phantom's 12-bit values losslessly (16-bit PNG with sBIT);
    "jpg" writes 8-bit JPEGs as MIMIC-CXR-JPG does. ``gzip_csv`` writes the three MIMIC tables as
    ``.csv.gz`` like PhysioNet. ``progress`` is called with 1 after each study (``tqdm.update``).
    Re-running with the same arguments on the same folder resumes and gives identical bytes.
    """
    fmt = {"png": "png", "jpg": "jpg", "jpeg": "jpg"}.get(str(image_format).lower())
    if fmt is None:
        raise ValueError(f"image_format must be 'png' or 'jpg', not {image_format!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, not {n!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an integer >= 8, not {size!r}")
    out = Path(out_dir)
    args: dict[str, object] = {"n": n, "seed": int(seed), "size": size, "image_format": fmt, "phi": bool(phi),
                               "gzip_csv": bool(gzip_csv)}
    _prepare_out_dir(out, args)
    manifest = {"format": "mimic-cxr-jpg-2.0.0", "generator": "phantom", "args": args}
    atomic_write_bytes(out / MANIFEST_FILE, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())

    metadata: list[list[str]] = []
    chexpert: list[list[str]] = []
    demographics: dict[str, tuple[str, int]] = {}
    image_subjects: list[tuple[str, str, str]] = []  # (dicom_id, study_id, subject_id)
    views: Counter[str] = Counter()
    sexes: Counter[str] = Counter()
    label_counts = {label: Counter() for label in CHEXPERT_LABELS}
    for study, case in iter_phantom_studies(n, seed=seed, size=size, phi=phi):
        _check_case(study, case)
        if fmt == "png":
            data = encode_png16(case.image, case.bits_stored)
        else:
            data = encode_jpg8(case.image, case.bits_stored)
        atomic_write_bytes(out / study.study_dir / f"{study.dicom_id}.{fmt}", data)
        report = case.report if case.report.endswith("\n") else case.report + "\n"
        atomic_write_bytes(out / f"{study.study_dir}.txt", report.encode("utf-8"))

        view = case.view.upper()
        rows, cols = case.image.shape
        procedure = _PROCEDURE.get(view, "CHEST (SINGLE VIEW)")
        metadata.append([study.dicom_id, study.subject_id, study.study_id, procedure, view, str(rows), str(cols),
                         study.study_date, study.study_time, procedure, _VIEW_MEANING.get(view, view.lower()),
                         "Erect"])
        labels = {label: case.labels.get(label) for label in CHEXPERT_LABELS}
        chexpert.append([study.subject_id, study.study_id, *(_LABEL_CELL[labels[c]] for c in CHEXPERT_COLUMNS[2:])])
        demographics.setdefault(study.subject_id, (case.sex, case.age))
        image_subjects.append((study.dicom_id, study.study_id, study.subject_id))
        views[view] += 1
        sexes[case.sex] += 1
        for label, value in labels.items():
            label_counts[label][{1: "positive", 0: "negative", -1: "uncertain", None: "unmentioned"}[value]] += 1
        if progress is not None:
            progress(1)

    splits = assign_splits(list(demographics), seed=seed)
    suffix = ".gz" if gzip_csv else ""
    key = lambda r: (int(r[1]), int(r[2]), r[0])  # noqa: E731  MIMIC sorts by subject, then study
    metadata.sort(key=key)
    chexpert.sort(key=lambda r: (int(r[0]), int(r[1])))
    split_rows = sorted(([d, st, su, splits[su]] for d, st, su in image_subjects),
                        key=lambda r: (int(r[2]), int(r[1]), r[0]))
    demo_rows = [[s, sex, str(age)] for s, (sex, age) in sorted(demographics.items(), key=lambda kv: int(kv[0]))]
    tables = {
        METADATA_FILE + suffix: _csv_bytes(METADATA_COLUMNS, metadata, gzip_csv),
        CHEXPERT_FILE + suffix: _csv_bytes(CHEXPERT_COLUMNS, chexpert, gzip_csv),
        SPLIT_FILE + suffix: _csv_bytes(SPLIT_COLUMNS, split_rows, gzip_csv),
        DEMOGRAPHICS_FILE: _csv_bytes(DEMOGRAPHICS_COLUMNS, demo_rows, False),
    }
    # The metadata table goes last: a folder with it is a finished dataset.
    for name in sorted(tables, key=lambda t: t.startswith(METADATA_FILE)):
        atomic_write_bytes(out / name, tables[name])

    split_counts = Counter(row[3] for row in split_rows)
    return {
        "out_dir": os.fspath(out),
        "n_studies": n,
        "n_images": n,
        "n_subjects": len(demographics),
        "image_format": fmt,
        "splits": {s: split_counts.get(s, 0) for s in SPLITS},
        "views": dict(sorted(views.items())),
        "sex": dict(sorted(sexes.items())),
        "labels": {label: dict(label_counts[label]) for label in CHEXPERT_LABELS},
        "files": sorted(tables),
    }
