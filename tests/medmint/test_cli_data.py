"""`medmint data phantom` and `medmint data check`: the layout, and bad training data at the CLI."""

import csv
import json

import pytest

from tests.conftest import error_line, medmint_cli


@pytest.fixture(scope="module")
def phantom_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "set"
    proc = medmint_cli("data", "phantom", "--n", "12", "--out", str(out), "--size", "64", "--seed", "3", check=True)
    assert json.loads(proc.stdout)
    return out


def test_phantom_set_has_the_mimic_layout_and_reads_back(phantom_set):
    for name in ("mimic-cxr-2.0.0-metadata.csv", "mimic-cxr-2.0.0-chexpert.csv", "mimic-cxr-2.0.0-split.csv"):
        assert (phantom_set / name).is_file()
    images = sorted(phantom_set.glob("files/p1*/p1*/s5*/*.png"))
    reports = sorted(phantom_set.glob("files/p1*/p1*/s5*.txt"))
    assert len(images) == len(reports) == 12
    report = json.loads(medmint_cli("data", "check", str(phantom_set), check=True).stdout)
    assert report["loaded"] == 12 and report["skipped"] == {} and report["complete"]


def test_corrupt_label_row_is_one_line_naming_file_row_and_value(phantom_set, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(phantom_set, broken)
    table = broken / "mimic-cxr-2.0.0-chexpert.csv"
    rows = list(csv.reader(table.open()))
    rows[2][rows[0].index("Edema")] = "maybe"
    with table.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    proc = medmint_cli("data", "check", str(broken))
    line = error_line(proc)
    assert proc.returncode == 2 and "mimic-cxr-2.0.0-chexpert.csv" in line and "'maybe'" in line and "Edema" in line
    skipped = json.loads(medmint_cli("data", "check", str(broken), "--skip-bad", check=True).stdout)
    assert skipped["loaded"] < 12 and sum(skipped["skipped"].values()) == 12 - skipped["loaded"]


def test_missing_image_file_is_named(phantom_set, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(phantom_set, broken)
    victim = sorted(broken.glob("files/**/*.png"))[4]
    victim.unlink()
    proc = medmint_cli("data", "check", str(broken))
    assert proc.returncode == 2 and victim.name in error_line(proc)
    skipped = json.loads(medmint_cli("data", "check", str(broken), "--skip-bad", check=True).stdout)
    assert skipped["loaded"] == 11 and sum(skipped["skipped"].values()) == 1


def test_manifest_with_a_corrupt_row(phantom_set, tmp_path):
    manifest = tmp_path / "manifest.csv"
    image = sorted(phantom_set.glob("files/**/*.png"))[0]
    manifest.write_text(
        "image_path,report,pleural_effusion\n"
        f"{image},FINDINGS: Lungs clear. IMPRESSION: Normal.,0\n"
        f"{image},FINDINGS: Effusion. IMPRESSION: Effusion.,yes\n"
    )
    proc = medmint_cli("data", "check", str(manifest))
    line = error_line(proc)
    assert proc.returncode == 2 and "manifest.csv" in line and "'yes'" in line


def test_not_a_dataset(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    proc = medmint_cli("data", "check", str(tmp_path))
    assert proc.returncode == 2 and str(tmp_path) in error_line(proc)


def test_phantom_out_holding_other_files_is_refused(tmp_path):
    (tmp_path / "mine.txt").write_text("keep")
    proc = medmint_cli("data", "phantom", "--n", "2", "--out", str(tmp_path), "--size", "64")
    assert proc.returncode == 2 and str(tmp_path) in error_line(proc)
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]
