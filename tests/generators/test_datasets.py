"""Training-data loaders and the MIMIC-CXR-JPG writer: round trips, determinism, and every bad input."""

from __future__ import annotations

import csv
import gzip
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from medmint.generators.datasets import (
    DatasetError, DicomFolderDataset, LoadReport, ManifestDataset, MimicCxrJpgDataset, TrainingExample,
    open_dataset, parse_sections, plan_phantom_studies, write_phantom_dataset,
)
from medmint.generators.datasets import mimic_writer
from medmint.generators.datasets.errors import (
    BAD_LABEL, BAD_VALUE, COLUMN_COUNT, CORRUPT_IMAGE, MISSING_IMAGE, MISSING_LABELS, MISSING_REPORT,
    MISSING_VALUE, NO_PIXEL_DATA, TRUNCATED_DICOM, UNKNOWN_VIEW,
)
from medmint.generators.datasets.mimic_writer import (
    CHEXPERT_COLUMNS, CHEXPERT_FILE, DEMOGRAPHICS_FILE, METADATA_COLUMNS, METADATA_FILE, SPLIT_FILE, to_uint8,
)
from medmint.atomic import TMP_MARK
from medmint.records import CHEXPERT_LABELS, label_slug

SUBJECT_RE = re.compile(r"^1\d{7}$")
STUDY_RE = re.compile(r"^5\d{7}$")
DICOM_ID_RE = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{8}){4}$")


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------

def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def set_cell(path: Path, row: int, column: str, value: str) -> list[str]:
    """Set one cell (row is 1-based, as in the error messages); returns the row as it was."""
    header, rows = read_csv(path)
    before = list(rows[row - 1])
    rows[row - 1][header.index(column)] = value
    write_csv(path, header, rows)
    return before


def norm(text: str) -> str:
    return " ".join(text.split())


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def image_path(root: Path, study, suffix: str = ".png") -> Path:
    return root / study.study_dir / f"{study.dicom_id}{suffix}"


def assert_one_line_error(err: pytest.ExceptionInfo, *needles: str) -> str:
    message = str(err.value)
    assert "\n" not in message and "\r" not in message, message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


# ------------------------------------------------------------------------------------------------
# writer: layout, tables, determinism, resume, atomicity
# ------------------------------------------------------------------------------------------------

def test_writer_layout_and_tables(mimic_png) -> None:
    root, summary, studies = mimic_png.root, mimic_png.summary, mimic_png.studies
    header, meta = read_csv(root / METADATA_FILE)
    assert tuple(header) == METADATA_COLUMNS
    assert len(meta) == summary["n_images"] == len(studies) == 24
    for row in meta:
        cells = dict(zip(header, row))
        assert SUBJECT_RE.match(cells["subject_id"]) and STUDY_RE.match(cells["study_id"])
        assert DICOM_ID_RE.match(cells["dicom_id"])
        study, case = studies[cells["study_id"]]
        assert (cells["dicom_id"], cells["subject_id"]) == (study.dicom_id, study.subject_id)
        assert (cells["Rows"], cells["Columns"]) == ("64", "64")
        assert cells["ViewPosition"] == case.view
        assert re.match(r"^2[12]\d{6}$", cells["StudyDate"]) and re.match(r"^\d{1,6}\.\d{3}$", cells["StudyTime"])
        sid = cells["subject_id"]
        assert image_path(root, study).relative_to(root).as_posix() == \
            f"files/p{sid[:2]}/p{sid}/s{cells['study_id']}/{cells['dicom_id']}.png"
        report = root / f"files/p{sid[:2]}/p{sid}/s{cells['study_id']}.txt"
        assert report.read_text().rstrip("\n") == case.report.rstrip("\n")
    assert len({r[0] for r in meta}) == len({r[2] for r in meta}) == 24  # unique image and study ids

    header, labels = read_csv(root / CHEXPERT_FILE)
    assert tuple(header) == CHEXPERT_COLUMNS and len(labels) == 24
    assert {cell for row in labels for cell in row[2:]} <= {"1.0", "0.0", "-1.0", ""}
    for row in labels:
        case = studies[row[1]][1]
        coded = {"1.0": 1, "0.0": 0, "-1.0": -1, "": None}
        assert {lab: coded[v] for lab, v in zip(header[2:], row[2:])} == \
            {lab: case.labels.get(lab) for lab in CHEXPERT_LABELS}

    header, splits = read_csv(root / SPLIT_FILE)
    assert header == ["dicom_id", "study_id", "subject_id", "split"]
    by_subject: dict[str, set[str]] = {}
    for dicom_id, study_id, subject_id, split in splits:
        by_subject.setdefault(subject_id, set()).add(split)
    assert all(len(s) == 1 for s in by_subject.values()), "a subject spans two splits"
    assert {r[3] for r in splits} == {"train", "validate", "test"}
    assert summary["splits"] == {s: sum(r[3] == s for r in splits) for s in ("train", "validate", "test")}

    header, demo = read_csv(root / DEMOGRAPHICS_FILE)
    assert header == ["subject_id", "sex", "age"]
    assert summary["n_subjects"] == len(demo) == len(by_subject) < 24  # some subjects have repeat studies
    for subject_id, sex, age in demo:
        for study, case in studies.values():
            if study.subject_id == subject_id:
                assert (case.sex, case.age) == (sex, int(age))  # repeat studies keep sex and age
    assert sum(summary["views"].values()) == 24
    assert all(sum(c.values()) == 24 for c in summary["labels"].values())
    assert not list(root.rglob(f"{TMP_MARK}*"))


def test_plan_is_prefix_stable_and_ids_unique() -> None:
    long, short = plan_phantom_studies(60, seed=5), plan_phantom_studies(20, seed=5)
    assert long[:20] == short
    assert len({s.subject_id for s in long}) < 60  # repeat subjects exist
    assert len({s.study_id for s in long}) == len({s.dicom_id for s in long}) == 60
    assert plan_phantom_studies(20, seed=6)[0].study_id != short[0].study_id


def test_writer_is_byte_identical_and_seed_sensitive(tmp_path: Path) -> None:
    kwargs = dict(seed=4, size=64, image_format="jpg", gzip_csv=True)
    write_phantom_dataset(tmp_path / "a", 6, **kwargs)
    write_phantom_dataset(tmp_path / "b", 6, **kwargs)
    a, b = tree_bytes(tmp_path / "a"), tree_bytes(tmp_path / "b")
    assert a == b
    assert {METADATA_FILE + ".gz", CHEXPERT_FILE + ".gz", SPLIT_FILE + ".gz"} <= set(a)
    assert sum(k.endswith(".jpg") for k in a) == 6
    write_phantom_dataset(tmp_path / "c", 6, **{**kwargs, "seed": 5})
    assert tree_bytes(tmp_path / "c")[METADATA_FILE + ".gz"] != a[METADATA_FILE + ".gz"]
    # gzip tables load like plain ones
    examples = list(MimicCxrJpgDataset(tmp_path / "a", views=None))
    assert len(examples) == 6 and all(e.image.dtype == np.uint8 for e in examples)


def test_writer_progress_resume_and_refusals(tmp_path: Path) -> None:
    calls: list[int] = []
    out = tmp_path / "ds"
    summary = write_phantom_dataset(out, 5, seed=2, size=64, progress=calls.append)
    assert calls == [1] * 5 and summary["n_studies"] == 5
    first = tree_bytes(out)
    stale = out / "files" / f"{TMP_MARK}999-leftover.png"
    stale.write_bytes(b"half")
    write_phantom_dataset(out, 5, seed=2, size=64)  # same arguments: resumes, same bytes
    assert tree_bytes(out) == first and not stale.exists()
    with pytest.raises(FileExistsError) as err:
        write_phantom_dataset(out, 5, seed=3, size=64)
    assert_one_line_error(err, str(out), "seed")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError) as err:
        write_phantom_dataset(foreign, 2, size=64)
    assert_one_line_error(err, str(foreign), "not empty")
    assert (foreign / "notes.txt").read_text() == "mine"
    with pytest.raises(ValueError):
        write_phantom_dataset(tmp_path / "x", 2, image_format="tiff")
    with pytest.raises(ValueError):
        write_phantom_dataset(tmp_path / "y", 0)


def test_interrupted_writer_leaves_no_half_files_and_resumes(tmp_path: Path, monkeypatch) -> None:
    real_encode = mimic_writer.encode_png16
    calls = {"n": 0}

    def failing_encode(image, bits):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("simulated interrupt")
        return real_encode(image, bits)

    real_replace = os.replace

    def crash_in_rename(src, dst):  # the 2nd image dies after its temp file is written
        if str(dst).endswith(".png") and calls["n"] == 2:
            raise OSError("disk full")
        return real_replace(src, dst)

    out = tmp_path / "ds"
    monkeypatch.setattr(mimic_writer, "encode_png16", failing_encode)
    monkeypatch.setattr(os, "replace", crash_in_rename)
    with pytest.raises(OSError, match="disk full"):
        write_phantom_dataset(out, 6, seed=9, size=64)
    monkeypatch.setattr(os, "replace", real_replace)
    with pytest.raises(KeyboardInterrupt):
        write_phantom_dataset(out, 6, seed=9, size=64)
    assert not list(out.rglob(f"{TMP_MARK}*"))
    for png in out.rglob("*.png"):  # whatever exists is whole
        Image.open(png).load()
    assert not (out / METADATA_FILE).exists()  # not a finished dataset
    with pytest.raises(DatasetError):
        open_dataset(out)

    monkeypatch.setattr(mimic_writer, "encode_png16", real_encode)
    write_phantom_dataset(out, 6, seed=9, size=64)
    write_phantom_dataset(tmp_path / "clean", 6, seed=9, size=64)
    assert tree_bytes(out) == tree_bytes(tmp_path / "clean")


# ------------------------------------------------------------------------------------------------
# MIMIC loader: round trips and filters
# ------------------------------------------------------------------------------------------------

def test_mimic_png_round_trip(mimic_png) -> None:
    ds = MimicCxrJpgDataset(mimic_png.root, views=None)
    examples = list(ds)
    assert len(examples) == 24
    assert (ds.report.loaded, ds.report.n_skipped, ds.report.complete) == (24, 0, True)
    for ex in examples:
        study, case = mimic_png.studies[ex.study_id]
        assert ex.subject_id == study.subject_id
        assert ex.labels == {lab: case.labels.get(lab) for lab in CHEXPERT_LABELS}
        assert ex.findings == norm(case.findings) and ex.impression == norm(case.impression)
        assert (ex.view, ex.sex, ex.age) == (case.view, case.sex, case.age)
        assert ex.image.dtype == np.uint16 and ex.bits_stored == case.bits_stored
        np.testing.assert_array_equal(ex.image, case.image)
        assert ex.source == str(image_path(mimic_png.root, study))


def test_mimic_jpg_round_trip_is_close(mimic_jpg) -> None:
    examples = list(MimicCxrJpgDataset(mimic_jpg.root, views=None))
    assert len(examples) == 8
    for ex in examples:
        _, case = mimic_jpg.studies[ex.study_id]
        assert ex.image.dtype == np.uint8 and ex.bits_stored == 8 and ex.image.shape == case.image.shape
        expected = to_uint8(case.image, case.bits_stored).astype(int)
        diff = np.abs(ex.image.astype(int) - expected)
        assert diff.mean() < 4 and diff.max() <= 40
        assert np.corrcoef(ex.image.ravel(), expected.ravel())[0, 1] > 0.95
        assert ex.source.endswith(".jpg")


def test_split_filter_partitions_the_dataset(mimic_png) -> None:
    _, rows = read_csv(mimic_png.root / SPLIT_FILE)
    split_of = {r[0]: r[3] for r in rows}
    seen: dict[str, str] = {}
    for split in ("train", "validate", "test"):
        ds = MimicCxrJpgDataset(mimic_png.root, split=split, views=None)
        ids = [Path(e.source).stem for e in ds]
        assert ids and all(split_of[i] == split for i in ids)
        assert ds.report.filtered == {"split": 24 - len(ids)}
        seen.update({i: split for i in ids})
    assert seen == split_of
    assert [e.study_id for e in MimicCxrJpgDataset(mimic_png.root, split="val", views=None)] == \
        [e.study_id for e in MimicCxrJpgDataset(mimic_png.root, split="validate", views=None)]
    with pytest.raises(ValueError, match="split"):
        MimicCxrJpgDataset(mimic_png.root, split="holdout")


def test_split_filter_needs_split_file(mimic_small, copy_mimic) -> None:
    root = copy_mimic(mimic_small)
    (root / SPLIT_FILE).unlink()
    assert len(list(MimicCxrJpgDataset(root, views=None))) == 8  # fine without a split filter
    with pytest.raises(DatasetError) as err:
        MimicCxrJpgDataset(root, split="test")
    assert_one_line_error(err, str(root), SPLIT_FILE)


def test_view_filter_and_blank_views(mimic_small, copy_mimic) -> None:
    root = copy_mimic(mimic_small)
    meta = root / METADATA_FILE
    set_cell(meta, 1, "ViewPosition", "LATERAL")
    set_cell(meta, 2, "ViewPosition", "ap")  # case-insensitive
    set_cell(meta, 3, "ViewPosition", "")  # MIMIC has images with no ViewPosition
    default = MimicCxrJpgDataset(root)
    views = [e.view for e in default]
    assert len(views) == 6 and views.count("AP") >= 1 and set(views) <= {"PA", "AP"}
    assert default.report.filtered == {"view": 2}
    everything = [e.view for e in MimicCxrJpgDataset(root, views=None)]
    assert len(everything) == 8 and "LATERAL" in everything and None in everything
    only_lateral = MimicCxrJpgDataset(root, views=("lateral",))
    assert [e.view for e in only_lateral] == ["LATERAL"] and only_lateral.report.filtered == {"view": 7}
    with pytest.raises(ValueError, match="unknown view"):
        MimicCxrJpgDataset(root, views=("FRONTALISH",))


def test_chexpert_cell_coding(mimic_small, copy_mimic) -> None:
    root = copy_mimic(mimic_small)
    path = root / CHEXPERT_FILE
    header, rows = read_csv(path)
    cells = {"Atelectasis": "1.0", "Cardiomegaly": "0.0", "Consolidation": "-1.0", "Edema": "",
             "Fracture": "1", "Lung Lesion": "0", "Lung Opacity": "-1", "No Finding": " "}
    for label, value in cells.items():
        rows[0][header.index(label)] = value
    write_csv(path, header, rows)
    ex = next(e for e in MimicCxrJpgDataset(root, views=None) if e.study_id == rows[0][1])
    assert {k: ex.labels[k] for k in cells} == {"Atelectasis": 1, "Cardiomegaly": 0, "Consolidation": -1,
                                                "Edema": None, "Fracture": 1, "Lung Lesion": 0,
                                                "Lung Opacity": -1, "No Finding": None}
    assert all(type(v) is int or v is None for v in ex.labels.values())


def test_mimic_without_demographics_and_with_mimic_iv_patients(mimic_small, copy_mimic) -> None:
    root = copy_mimic(mimic_small)
    (root / DEMOGRAPHICS_FILE).rename(root / "elsewhere.csv")
    assert {(e.sex, e.age) for e in MimicCxrJpgDataset(root, views=None)} == {(None, None)}
    _, demo = read_csv(root / "elsewhere.csv")
    write_csv(root / "patients.csv", ["subject_id", "gender", "anchor_age", "anchor_year"],
              [[s, sex, age, "2150"] for s, sex, age in demo])
    expected = {s: (sex, int(age)) for s, sex, age in demo}
    for ex in MimicCxrJpgDataset(root, views=None):
        assert (ex.sex, ex.age) == expected[ex.subject_id]


def test_mimic_negbio_labels_and_separate_reports_root(mimic_small, copy_mimic, tmp_path: Path) -> None:
    root = copy_mimic(mimic_small)
    (root / CHEXPERT_FILE).rename(root / CHEXPERT_FILE.replace("chexpert", "negbio"))
    reports = tmp_path / "reports"
    for txt in root.rglob("s*.txt"):
        dest = reports / txt.relative_to(root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        txt.rename(dest)
    with pytest.raises(DatasetError, match="chexpert"):
        MimicCxrJpgDataset(root)
    ds = MimicCxrJpgDataset(root, labeler="negbio", reports_root=reports, views=None)
    examples = list(ds)
    assert len(examples) == 8
    for ex in examples:
        _, case = mimic_small.studies[ex.study_id]
        assert ex.findings == norm(case.findings) and ex.labels["No Finding"] == case.labels.get("No Finding")
    with pytest.raises(DatasetError, match="report file not found"):
        list(MimicCxrJpgDataset(root, labeler="negbio", views=None))


# ------------------------------------------------------------------------------------------------
# report sections
# ------------------------------------------------------------------------------------------------

MIMIC_REPORT = """                                 FINAL REPORT
 EXAMINATION:  CHEST (PA AND LAT)

 INDICATION:  ___F with new onset ascites  // eval for infection

 COMPARISON:  None.

 FINDINGS:

 There is no focal consolidation, pleural effusion or pneumothorax.  Bilateral
 nodular opacities that most likely represent nipple shadows.

 IMPRESSION:

 No acute cardiopulmonary process.
"""


@pytest.mark.parametrize("text, findings, impression", [
    (MIMIC_REPORT, "There is no focal consolidation, pleural effusion or pneumothorax. Bilateral nodular "
                   "opacities that most likely represent nipple shadows.", "No acute cardiopulmonary process."),
    ("FINAL REPORT\nFINDINGS: Lungs clear.\n\nIMPRESSION: Normal.\n", "Lungs clear.", "Normal."),
    (" findings :  Small left effusion.\n Impression:Effusion.\n NOTIFICATION: Dr. ___ paged.",
     "Small left effusion.", "Effusion."),
    (" FINDINGS AND IMPRESSION:  Stable cardiomegaly.\n", "", "Stable cardiomegaly."),
    (" FINDINGS/ IMPRESSION: Stable.", "", "Stable."),
    (" INDICATION: cough\n IMPRESSION: No pneumonia.\n", "", "No pneumonia."),
    (" INDICATION: cough\n FINDINGS: Clear lungs.\n", "Clear lungs.", ""),
    (" INDICATION: cough\n TECHNIQUE: PA\n", "", ""),
    (" FINDINGS\n Clear lungs.\n PA AND LATERAL CHEST RADIOGRAPHS: ignored\n CONCLUSION: fine", "Clear lungs.",
     "fine"),
    (" FINDINGS: Note: heart size normal. In comparison with the study of ___:\n stable.",
     "Note: heart size normal. In comparison with the study of ___: stable.", ""),
    (" IMPRESSON: misspelt heading.", "", "misspelt heading."),
    ("Lungs are clear without a heading.", "Lungs are clear without a heading.", ""),
    ("", "", ""),
])
def test_parse_sections_variants(text: str, findings: str, impression: str) -> None:
    assert parse_sections(text) == (findings, impression)


# ------------------------------------------------------------------------------------------------
# manifests (CSV and Parquet)
# ------------------------------------------------------------------------------------------------

MANIFEST_HEADER = ["image_path", "report", "no_finding", "pleural_effusion", "Cardiomegaly", "view", "sex", "age",
                   "subject_id", "study_id", "notes"]


def build_manifest(ds, dest: Path) -> tuple[Path, list]:
    """8-row CSV manifest over copies of a written dataset's images (relative paths, snake_case labels)."""
    (dest / "images").mkdir(parents=True)
    rows, cases = [], []
    for i, (study, case) in enumerate(ds.studies.values()):
        shutil.copy(image_path(ds.root, study), dest / "images" / f"img{i}.png")
        coded = {1: "1", 0: "0", -1: "-1", None: ""}
        rows.append([f"images/img{i}.png", case.report, coded[case.labels.get("No Finding")],
                     coded[case.labels.get("Pleural Effusion")], coded[case.labels.get("Cardiomegaly")],
                     case.view, case.sex, str(case.age), study.subject_id, study.study_id, "free text, ignored"])
        cases.append(case)
    path = dest / "manifest.csv"
    write_csv(path, MANIFEST_HEADER, rows)
    return path, cases


def test_manifest_csv_relative_absolute_and_snake_case(mimic_small, tmp_path: Path) -> None:
    path, cases = build_manifest(mimic_small, tmp_path / "m")
    header, rows = read_csv(path)
    rows[1][0] = str((tmp_path / "m" / "images" / "img1.png").resolve())  # absolute path
    write_csv(path, header, rows)
    ds = ManifestDataset(path)
    examples = list(ds)
    assert len(examples) == 8 and ds.report.loaded == 8
    for ex, case, row in zip(examples, cases, rows):
        np.testing.assert_array_equal(ex.image, case.image)
        assert ex.bits_stored == case.bits_stored
        assert ex.findings == norm(case.findings) and ex.impression == norm(case.impression)
        for label in CHEXPERT_LABELS:
            expected = case.labels.get(label) if label in ("No Finding", "Pleural Effusion", "Cardiomegaly") else None
            assert ex.labels[label] == expected, label
        assert (ex.view, ex.sex, ex.age, ex.subject_id, ex.study_id) == (case.view, case.sex, case.age, row[8], row[9])
    assert examples[1].source == rows[1][0]
    assert examples[0].source == str(tmp_path / "m" / "images" / "img0.png")


def test_manifest_parquet_with_sections_and_dicom_images(mimic_small, tmp_path: Path, make_dicom) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    studies = list(mimic_small.studies.values())[:4]
    (tmp_path / "img").mkdir()
    paths = []
    for i, (study, case) in enumerate(studies):
        if i == 0:  # a DICOM image in a manifest works too
            paths.append("img/first.dcm")
            make_dicom(tmp_path / "img" / "first.dcm", case.image, bits_stored=case.bits_stored)
        else:
            paths.append(f"img/{i}.png")
            shutil.copy(image_path(mimic_small.root, study), tmp_path / "img" / f"{i}.png")
    table = pa.table({
        "image_path": paths,
        "findings": [c.findings for _, c in studies],
        "impression": [c.impression for _, c in studies],
        "Pleural Effusion": pa.array([1, None, -1, 0], pa.int8()),
        "edema": pa.array([0.0, 1.0, None, float("nan")]),
        "view": ["PA", "AP", None, "pa"],
        "sex": ["F", "male", None, "M"],
        "age": [61.0, None, 40.0, 90.0],
        "subject_id": [10000001.0, 10000002.0, None, 10000004.0],
    })
    pq.write_table(table, tmp_path / "manifest.parquet")
    examples = list(ManifestDataset(tmp_path / "manifest.parquet"))
    assert [e.labels["Pleural Effusion"] for e in examples] == [1, None, -1, 0]
    assert [e.labels["Edema"] for e in examples] == [0, 1, None, None]
    assert [e.view for e in examples] == ["PA", "AP", None, "PA"]
    assert [e.sex for e in examples] == ["F", "M", None, "M"]
    assert [e.age for e in examples] == [61, None, 40, 90]
    assert [e.subject_id for e in examples] == ["10000001", "10000002", "", "10000004"]
    for ex, (_, case) in zip(examples, studies):
        np.testing.assert_array_equal(ex.image, case.image)
        assert ex.findings == norm(case.findings) and ex.impression == norm(case.impression)
    assert examples[0].study_id == "first"  # no study_id column: the file stem
    only_pa = ManifestDataset(tmp_path / "manifest.parquet", views=["PA"])
    assert len(list(only_pa)) == 2 and only_pa.report.filtered == {"view": 2}


def test_manifest_label_named_twice_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    write_csv(path, ["image_path", "report", "Edema", "edema"], [["a.png", "x", "1", "1"]])
    with pytest.raises(DatasetError) as err:
        ManifestDataset(path)
    assert_one_line_error(err, str(path), "'Edema'", "'edema'")


# ------------------------------------------------------------------------------------------------
# DICOM folder
# ------------------------------------------------------------------------------------------------

def build_dicom_folder(ds, root: Path, make_dicom) -> list[tuple[Path, object, object]]:
    """Six DICOMs at mixed depths and names (some without extension), plus non-DICOM clutter."""
    layout = ["IMG0001", "a/IMG0002", "a/b/scan.dcm", "a/b/IMG0004", "c/1.2.3.4.5", "c/mono1.dcm"]
    out = []
    for rel, (study, case) in zip(layout, ds.studies.values()):
        kwargs = dict(bits_stored=case.bits_stored, view=case.view, sex=case.sex, age=f"{case.age:03d}Y",
                      patient_id=study.subject_id, study_uid=f"2.25.{study.study_id}")
        if rel.endswith("mono1.dcm"):
            inverted = ((1 << case.bits_stored) - 1 - case.image).astype(np.uint16)
            path = make_dicom(root / rel, inverted, photometric="MONOCHROME1", **kwargs)
        else:
            path = make_dicom(root / rel, case.image, **kwargs)
        out.append((path, study, case))
    (root / "a" / "IMG0002.txt").write_text(out[1][2].report)  # sibling reports
    (root / "c" / "1.2.3.4.5.txt").write_text(out[4][2].report)  # UID-named file: '<name>.txt'
    (root / "README.txt").write_text("not dicom")
    (root / "a" / "junk.bin").write_bytes(bytes(range(256)) * 2)
    shutil.copy(image_path(ds.root, out[0][1]), root / "a" / "preview.png")
    return out


def test_dicom_folder_reads_every_dicom_by_preamble(mimic_png, tmp_path: Path, make_dicom) -> None:
    root = tmp_path / "dicoms"
    written = build_dicom_folder(mimic_png, root, make_dicom)
    ds = DicomFolderDataset(root)
    examples = {e.source: e for e in ds}
    assert set(examples) == {str(p) for p, _, _ in written}
    assert (ds.report.loaded, ds.report.n_skipped) == (6, 0)
    for path, study, case in written:
        ex = examples[str(path)]
        np.testing.assert_array_equal(ex.image, case.image)  # MONOCHROME1 comes back inverted to MONOCHROME2
        assert ex.bits_stored == case.bits_stored and ex.image.dtype == np.uint16
        assert (ex.view, ex.sex, ex.age) == (case.view, case.sex, case.age)
        assert (ex.subject_id, ex.study_id) == (study.subject_id, f"2.25.{study.study_id}")
        assert all(v is None for v in ex.labels.values())
    for i in (1, 4):
        path, _, case = written[i]
        assert examples[str(path)].findings == norm(case.findings)
        assert examples[str(path)].impression == norm(case.impression)
    assert examples[str(written[0][0])].findings == "" and examples[str(written[0][0])].impression == ""


def test_dicom_folder_labels_csv_by_path_and_uid(mimic_small, tmp_path: Path, make_dicom) -> None:
    root = tmp_path / "d"
    make_dicom(root / "x" / "one.dcm", np.zeros((8, 8), np.uint16))
    make_dicom(root / "two", np.ones((8, 8), np.uint16), sop_uid="1.2.826.0.1.3680043.8.498.1")
    make_dicom(root / "three.dcm", np.ones((8, 8), np.uint16), age=None, sex="O")
    labels = tmp_path / "labels.csv"
    write_csv(labels, ["path", "pneumothorax", "Support Devices"],
              [["./x/one.dcm", "1", ""], ["1.2.826.0.1.3680043.8.498.1", "-1.0", "1.0"]])
    by_name = {Path(e.source).name: e for e in DicomFolderDataset(root, labels_csv=labels)}
    assert by_name["one.dcm"].labels["Pneumothorax"] == 1 and by_name["one.dcm"].labels["Support Devices"] is None
    assert (by_name["two"].labels["Pneumothorax"], by_name["two"].labels["Support Devices"]) == (-1, 1)
    assert all(v is None for v in by_name["three.dcm"].labels.values())
    assert (by_name["three.dcm"].sex, by_name["three.dcm"].age) == (None, None)


# ------------------------------------------------------------------------------------------------
# bad input: every kind, with on_error="raise" (one line naming the file) and "skip" (counted)
# ------------------------------------------------------------------------------------------------

@dataclass
class Broken:
    open: Callable[[str], object]  # on_error -> dataset
    reason: str
    needles: list[str]  # what the one-line message must name
    loaded: int  # examples still loaded with on_error="skip"
    skipped: int = 1


class Env:
    def __init__(self, mimic_small, copy_mimic, tmp_path: Path, make_dicom) -> None:
        self.mimic_small, self.copy_mimic, self.tmp, self.make_dicom = mimic_small, copy_mimic, tmp_path, make_dicom

    def mimic(self) -> tuple[Path, list[dict[str, str]]]:
        root = self.copy_mimic(self.mimic_small)
        header, rows = read_csv(root / METADATA_FILE)
        return root, [dict(zip(header, r)) for r in rows]

    def manifest(self) -> Path:
        return build_manifest(self.mimic_small, self.tmp / "manifest")[0]

    def dicoms(self) -> tuple[Path, list[Path]]:
        root = self.tmp / "dicoms"
        paths = [self.make_dicom(root / f"s{i}" / f"im{i}.dcm", c.image, view=c.view)
                 for i, (_, c) in enumerate(self.mimic_small.studies.values())]
        return root, paths


def _mimic(root: Path) -> Callable[[str], object]:
    return lambda on_error: MimicCxrJpgDataset(root, views=None, on_error=on_error)


def _manifest(path: Path) -> Callable[[str], object]:
    return lambda on_error: ManifestDataset(path, on_error=on_error)


def _dicoms(root: Path, **kw) -> Callable[[str], object]:
    return lambda on_error: DicomFolderDataset(root, on_error=on_error, **kw)


def mimic_bad_label(env: Env) -> Broken:
    root, _ = env.mimic()
    set_cell(root / CHEXPERT_FILE, 3, "Edema", "2")
    return Broken(_mimic(root), BAD_LABEL, [str(root / CHEXPERT_FILE), "row 3 (line 4)", "'Edema'", "'2'"], 7)


def mimic_bad_label_word(env: Env) -> Broken:
    root, _ = env.mimic()
    set_cell(root / CHEXPERT_FILE, 8, "No Finding", "yes")
    return Broken(_mimic(root), BAD_LABEL, [CHEXPERT_FILE, "row 8", "'No Finding'", "'yes'"], 7)


def mimic_ragged_row(env: Env) -> Broken:
    root, _ = env.mimic()
    with open(root / METADATA_FILE) as fh:
        lines = fh.read().splitlines()
    lines[2] += ",extra"
    (root / METADATA_FILE).write_text("\n".join(lines) + "\n")
    return Broken(_mimic(root), COLUMN_COUNT, [METADATA_FILE, "row 2 (line 3)", "13 fields", "12"], 7)


def mimic_missing_image(env: Env) -> Broken:
    root, rows = env.mimic()
    r = rows[4]
    img = root / f"files/p{r['subject_id'][:2]}/p{r['subject_id']}/s{r['study_id']}/{r['dicom_id']}.png"
    img.unlink()
    return Broken(_mimic(root), MISSING_IMAGE, [METADATA_FILE, "row 5 (line 6)", str(img), "not found"], 7)


def mimic_corrupt_image(env: Env) -> Broken:
    root, rows = env.mimic()
    r = rows[0]
    img = root / f"files/p{r['subject_id'][:2]}/p{r['subject_id']}/s{r['study_id']}/{r['dicom_id']}.png"
    img.write_bytes(b"this is not an image at all")
    return Broken(_mimic(root), CORRUPT_IMAGE, [str(img)], 7)


def mimic_truncated_png(env: Env) -> Broken:
    root, rows = env.mimic()
    r = rows[6]
    img = root / f"files/p{r['subject_id'][:2]}/p{r['subject_id']}/s{r['study_id']}/{r['dicom_id']}.png"
    img.write_bytes(img.read_bytes()[: len(img.read_bytes()) // 2])
    return Broken(_mimic(root), CORRUPT_IMAGE, [str(img), "corrupt"], 7)


def mimic_unknown_view(env: Env) -> Broken:
    root, _ = env.mimic()
    set_cell(root / METADATA_FILE, 4, "ViewPosition", "SIDEWAYS")
    return Broken(_mimic(root), UNKNOWN_VIEW, [METADATA_FILE, "row 4 (line 5)", "'ViewPosition'", "'SIDEWAYS'"], 7)


def mimic_missing_report(env: Env) -> Broken:
    root, rows = env.mimic()
    r = rows[2]
    report = root / f"files/p{r['subject_id'][:2]}/p{r['subject_id']}/s{r['study_id']}.txt"
    report.unlink()
    return Broken(_mimic(root), MISSING_REPORT, [METADATA_FILE, "row 3 (line 4)", str(report), "not found"], 7)


def mimic_missing_label_row(env: Env) -> Broken:
    root, rows = env.mimic()
    header, labels = read_csv(root / CHEXPERT_FILE)
    study = labels[5][1]
    write_csv(root / CHEXPERT_FILE, header, labels[:5] + labels[6:])
    row = next(i for i, r in enumerate(rows, 1) if r["study_id"] == study)
    return Broken(_mimic(root), MISSING_LABELS, [METADATA_FILE, f"row {row}", study, CHEXPERT_FILE], 7)


def mimic_bad_age(env: Env) -> Broken:
    root, rows = env.mimic()
    header, demo = read_csv(root / DEMOGRAPHICS_FILE)
    subject = demo[0][0]
    set_cell(root / DEMOGRAPHICS_FILE, 1, "age", "old")
    n = sum(r["subject_id"] == subject for r in rows)
    return Broken(_mimic(root), BAD_VALUE, [DEMOGRAPHICS_FILE, "row 1", "'age'", "'old'"], 8 - n, n)


def start_line(path: Path, first_cell: str) -> int:
    """The file line a CSV row starts on (reports span several lines, so rows and lines differ)."""
    text = path.read_text()
    return text[: text.index("\n" + first_cell + ",")].count("\n") + 2


def manifest_bad_label(env: Env) -> Broken:
    path = env.manifest()
    set_cell(path, 2, "pleural_effusion", "yes")
    line = start_line(path, "images/img1.png")
    assert line > 3  # the multi-line report of row 1 pushes row 2 down
    return Broken(_manifest(path), BAD_LABEL, [str(path), f"row 2 (line {line})", "'pleural_effusion'", "'yes'"], 7)


def manifest_ragged_row(env: Env) -> Broken:
    path = env.manifest()
    header, rows = read_csv(path)
    rows[2] = rows[2][:-1]
    write_csv(path, header, rows)
    line = start_line(path, "images/img2.png")
    return Broken(_manifest(path), COLUMN_COUNT, [str(path), f"row 3 (line {line})", "10 fields", "11"], 7)


def manifest_missing_image(env: Env) -> Broken:
    path = env.manifest()
    set_cell(path, 4, "image_path", "images/nope.png")
    return Broken(_manifest(path), MISSING_IMAGE, [str(path), "row 4", "'image_path'", "nope.png", "not found"], 7)


def manifest_empty_image_path(env: Env) -> Broken:
    path = env.manifest()
    set_cell(path, 5, "image_path", "")
    return Broken(_manifest(path), MISSING_VALUE, [str(path), "row 5", "'image_path'", "empty"], 7)


def manifest_corrupt_image(env: Env) -> Broken:
    path = env.manifest()
    (path.parent / "images" / "img0.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return Broken(_manifest(path), CORRUPT_IMAGE, [str(path), "row 1", "img0.png"], 7)


def manifest_unknown_view(env: Env) -> Broken:
    path = env.manifest()
    set_cell(path, 6, "view", "upside down")
    return Broken(_manifest(path), UNKNOWN_VIEW, [str(path), "row 6", "'view'", "'upside down'"], 7)


def manifest_bad_age(env: Env) -> Broken:
    path = env.manifest()
    set_cell(path, 7, "age", "sixty")
    return Broken(_manifest(path), BAD_VALUE, [str(path), "row 7", "'age'", "'sixty'"], 7)


def manifest_non_image_dicom(env: Env) -> Broken:
    path = env.manifest()
    sr = env.make_dicom(path.parent / "images" / "report.dcm", None, with_pixels=False)
    set_cell(path, 8, "image_path", "images/report.dcm")
    return Broken(_manifest(path), NO_PIXEL_DATA, [str(path), "row 8", str(sr), "no PixelData"], 7)


def manifest_parquet_bad_label(env: Env) -> Broken:
    import pyarrow as pa
    import pyarrow.parquet as pq

    csv_path = env.manifest()
    header, rows = read_csv(csv_path)
    columns = {h: [r[i] for r in rows] for i, h in enumerate(header)}
    columns["edema"] = [None, None, 2.0, None, None, None, None, None]
    path = csv_path.with_suffix(".parquet")
    pq.write_table(pa.table(columns), path)
    return Broken(_manifest(path), BAD_LABEL, [str(path), "row 3", "'edema'", "'2.0'"], 7)


def dicom_non_image(env: Env) -> Broken:
    root, _ = env.dicoms()
    sr = env.make_dicom(root / "s0" / "zz_report", None, with_pixels=False)
    return Broken(_dicoms(root), NO_PIXEL_DATA, [str(sr), "not an image DICOM", "no PixelData"], 8)


def dicom_truncated_pixels(env: Env) -> Broken:
    root, paths = env.dicoms()
    data = paths[3].read_bytes()
    paths[3].write_bytes(data[:-100])
    return Broken(_dicoms(root), TRUNCATED_DICOM, [str(paths[3]), "truncated"], 7)


def dicom_truncated_header(env: Env) -> Broken:
    root, paths = env.dicoms()
    paths[5].write_bytes(paths[5].read_bytes()[:400])
    return Broken(_dicoms(root), TRUNCATED_DICOM, [str(paths[5]), "truncated"], 7)


def dicom_unknown_view(env: Env) -> Broken:
    root, paths = env.dicoms()
    env.make_dicom(paths[2], np.zeros((8, 8), np.uint16), view="OBLIQUE")
    return Broken(_dicoms(root), UNKNOWN_VIEW, [str(paths[2]), "ViewPosition", "'OBLIQUE'"], 7)


def dicom_bad_labels_csv(env: Env) -> Broken:
    root, paths = env.dicoms()
    labels = env.tmp / "labels.csv"
    write_csv(labels, ["path", "Fracture"], [["s0/im0.dcm", "1"], ["s1/im1.dcm", "maybe"]])
    return Broken(_dicoms(root, labels_csv=labels), BAD_LABEL, [str(labels), "row 2 (line 3)", "'Fracture'",
                                                                 "'maybe'"], 7)


BROKEN = [mimic_bad_label, mimic_bad_label_word, mimic_ragged_row, mimic_missing_image, mimic_corrupt_image,
          mimic_truncated_png, mimic_unknown_view, mimic_missing_report, mimic_missing_label_row, mimic_bad_age,
          manifest_bad_label, manifest_ragged_row, manifest_missing_image, manifest_empty_image_path,
          manifest_corrupt_image, manifest_unknown_view, manifest_bad_age, manifest_non_image_dicom,
          manifest_parquet_bad_label, dicom_non_image, dicom_truncated_pixels, dicom_truncated_header,
          dicom_unknown_view, dicom_bad_labels_csv]


@pytest.mark.parametrize("build", BROKEN, ids=[b.__name__ for b in BROKEN])
def test_bad_input_raises_one_line_or_is_skipped_and_counted(build, mimic_small, copy_mimic, tmp_path,
                                                             make_dicom) -> None:
    broken = build(Env(mimic_small, copy_mimic, tmp_path, make_dicom))
    with pytest.raises(DatasetError) as err:
        list(broken.open("raise"))
    message = assert_one_line_error(err, *broken.needles)
    assert err.value.reason == broken.reason and isinstance(err.value, ValueError)

    ds = broken.open("skip")
    examples = list(ds)
    assert len(examples) == ds.report.loaded == broken.loaded
    assert dict(ds.report.skipped) == {broken.reason: broken.skipped}
    assert ds.report.messages[broken.reason][0] == message
    assert ds.report.complete and all(isinstance(e, TrainingExample) for e in examples)


def _drop_column(path: Path, column: str) -> None:
    header, rows = read_csv(path)
    i = header.index(column)
    write_csv(path, header[:i] + header[i + 1:], [r[:i] + r[i + 1:] for r in rows])


@pytest.mark.parametrize("what", ["metadata dicom_id", "chexpert Edema", "manifest image_path",
                                  "manifest report", "dicom labels path"])
@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_missing_required_column_fails_fast_in_both_modes(what, on_error, mimic_small, copy_mimic, tmp_path,
                                                          make_dicom) -> None:
    env = Env(mimic_small, copy_mimic, tmp_path, make_dicom)
    if what.startswith(("metadata", "chexpert")):
        root, _ = env.mimic()
        table, column = (root / (METADATA_FILE if what.startswith("metadata") else CHEXPERT_FILE)), what.split()[1]
        _drop_column(table, column)
        open_ = _mimic(root)
    elif what.startswith("manifest"):
        table = env.manifest()
        column = what.split()[1]
        _drop_column(table, column)
        open_ = _manifest(table)
    else:
        root, _ = env.dicoms()
        table, column = tmp_path / "labels.csv", "path"
        write_csv(table, ["file", "Edema"], [["s0/im0.dcm", "1"]])
        open_ = _dicoms(root, labels_csv=table)
    with pytest.raises(DatasetError) as err:
        list(open_(on_error))  # a file without a required column has no good rows: never silently empty
    assert_one_line_error(err, str(table), "missing required column", f"'{column}'")


def test_every_truncation_of_a_dicom_is_reported_not_crashed(tmp_path: Path, make_dicom) -> None:
    data = make_dicom(tmp_path / "full.dcm", np.arange(256, dtype=np.uint16).reshape(16, 16)).read_bytes()
    folder = tmp_path / "d"
    folder.mkdir()
    reasons = set()
    for cut in range(132, len(data), 5):
        (folder / "cut.dcm").write_bytes(data[:cut])
        ds = DicomFolderDataset(folder, on_error="skip")
        assert list(ds) == [] and ds.report.n_skipped == 1, cut
        reasons |= set(ds.report.skipped)
    assert reasons <= {TRUNCATED_DICOM, CORRUPT_IMAGE} and TRUNCATED_DICOM in reasons


def test_first_bad_item_raises_after_good_ones(mimic_small, copy_mimic) -> None:
    root = copy_mimic(mimic_small)
    set_cell(root / METADATA_FILE, 5, "ViewPosition", "SIDEWAYS")
    seen = []
    with pytest.raises(DatasetError, match="row 5"):
        for ex in MimicCxrJpgDataset(root, views=None):
            seen.append(ex)
    assert len(seen) == 4


def test_several_bad_items_are_counted_by_reason(mimic_small, copy_mimic) -> None:
    root = copy_mimic(mimic_small)
    set_cell(root / METADATA_FILE, 1, "ViewPosition", "SIDEWAYS")
    set_cell(root / METADATA_FILE, 2, "ViewPosition", "???")
    set_cell(root / CHEXPERT_FILE, 3, "Fracture", "2")
    ds = MimicCxrJpgDataset(root, views=None, on_error="skip")
    assert len(list(ds)) == 5
    assert dict(ds.report.skipped) == {UNKNOWN_VIEW: 2, BAD_LABEL: 1}
    assert ds.report.summary() == f"{root}: loaded 5, skipped 3 (bad_label 1, unknown_view 2), filtered 0"
    assert len(list(ds)) == 5 and ds.report.loaded == 5  # a second pass starts a fresh report


# ------------------------------------------------------------------------------------------------
# open_dataset and small contracts
# ------------------------------------------------------------------------------------------------

def test_open_dataset_picks_the_loader(mimic_small, tmp_path: Path, make_dicom) -> None:
    assert isinstance(open_dataset(mimic_small.root), MimicCxrJpgDataset)
    manifest = build_manifest(mimic_small, tmp_path / "m")[0]
    assert isinstance(open_dataset(manifest), ManifestDataset)
    make_dicom(tmp_path / "d" / "deep" / "x", np.zeros((4, 4), np.uint16))
    ds = open_dataset(tmp_path / "d", on_error="skip")
    assert isinstance(ds, DicomFolderDataset) and ds.on_error == "skip"
    assert isinstance(open_dataset(mimic_small.root, split="test"), MimicCxrJpgDataset)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.png").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    for bad in (tmp_path / "empty", tmp_path / "notes.txt", tmp_path / "missing"):
        with pytest.raises(DatasetError) as err:
            open_dataset(bad)
        assert_one_line_error(err, str(bad))


def test_unreadable_tables_fail_with_one_line(tmp_path: Path) -> None:
    bad_csv = tmp_path / "m.csv"
    bad_csv.write_bytes(b"image_path,report\n\xff\xfe\x00bad\n")
    with pytest.raises(DatasetError) as err:
        list(ManifestDataset(bad_csv, on_error="skip"))
    assert_one_line_error(err, str(bad_csv))
    bad_pq = tmp_path / "m.parquet"
    bad_pq.write_bytes(b"PAR1 not really")
    with pytest.raises(DatasetError) as err:
        ManifestDataset(bad_pq)
    assert_one_line_error(err, str(bad_pq), "Parquet")
    empty = tmp_path / "e.csv"
    empty.write_text("")
    with pytest.raises(DatasetError) as err:
        ManifestDataset(empty)
    assert_one_line_error(err, str(empty), "empty")


def test_error_messages_stay_one_line_with_newlines_in_values(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    write_csv(path, ["image_path", "report", "Edema"], [["a.png", "x", "1\n2"]])
    with pytest.raises(DatasetError) as err:
        list(ManifestDataset(path))
    assert_one_line_error(err, str(path), "row 1 (line 2)", r"'1\n2'")


def test_training_example_and_options_validate() -> None:
    labels = {k: None for k in CHEXPERT_LABELS}
    ok = TrainingExample(np.zeros((4, 4), np.uint16), 12, "f", "i", labels, "PA", "F", 50, "1", "5", "x.png")
    assert ok.report_text == "FINDINGS: f\n\nIMPRESSION: i\n"
    with pytest.raises(ValueError):
        TrainingExample(np.zeros((4, 4, 3), np.uint8), 8, "", "", labels, None, None, None, "", "", "")
    with pytest.raises(ValueError):
        TrainingExample(np.zeros((4, 4), np.uint8), 12, "", "", labels, None, None, None, "", "", "")
    with pytest.raises(ValueError):
        TrainingExample(np.zeros((4, 4), np.uint8), 8, "", "", {**labels, "Edema": 2}, None, None, None, "", "", "")
    with pytest.raises(ValueError):
        TrainingExample(np.zeros((4, 4), np.uint8), 8, "", "", {"Edema": 1}, None, None, None, "", "", "")
    with pytest.raises(ValueError, match="on_error"):
        ManifestDataset("whatever.csv", on_error="ignore")
    report = LoadReport(source="s")
    assert report.summary() == "s: loaded 0, skipped 0, filtered 0"
    assert label_slug("Pleural Effusion") == "pleural_effusion"
