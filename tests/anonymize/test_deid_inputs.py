"""Every input is accounted for, and the header's own identifiers leave every kept text and report.

Inputs: files named .dcm / .dicom and files whose bytes are DICOM (with or without the preamble). Each is
de-identified or listed as skipped with its reason; a skipped file stops the run (exit 2, one line naming
it) unless --skip-bad, which lists them all on stderr, in the summary and in the audit log (exit 0).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from medmint.anonymize.corpus import anonymize_folder
from medmint.anonymize.dicom_deid import DeidOptions
from medmint.anonymize.run_state import AUDIT_FILE
from medmint.generators.datasets import write_phantom_dicom
from tests.anonymize.deid_helpers import KEY, PYDICOM_FILES, TEST_KEY, has_preamble, read
from tests.conftest import error_line, medmint_cli

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
SKIPPED = {"broken/UPPER.DICOM": "not DICOM", "broken/empty.dcm": "empty file (0 bytes)",
           "broken/notes.dcm": "not DICOM"}


@pytest.fixture
def mixed(tmp_path) -> Path:
    src = tmp_path / "in"
    write_phantom_dicom(src, 2, seed=4, size=64, phi=True)
    first = sorted(src.rglob("*.dcm"))[0]
    (src / "old").mkdir()
    (src / "old" / "no-preamble.dcm").write_bytes(first.read_bytes()[132:])  # file meta, no preamble
    shutil.copy(PYDICOM_FILES / "rtstruct.dcm", src / "old" / "IM0001")  # a bare data set, no name
    (src / "broken").mkdir()
    (src / "broken" / "empty.dcm").write_bytes(b"")
    (src / "broken" / "notes.dcm").write_text("Patient called back, see chart.\n")
    (src / "broken" / "UPPER.DICOM").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    (src / "README").write_text("export of 2 studies\n")  # neither named nor made as DICOM: not an input
    return src


def _audit(out: Path) -> tuple[dict, list[dict]]:
    lines = [json.loads(line) for line in (out / AUDIT_FILE).read_text().splitlines()]
    return lines[0]["audit"], lines[1:]


def test_skipped_files_stop_the_run_or_are_listed_with_their_reasons(mixed, tmp_path):
    out = tmp_path / "out"
    env = {"MEDMINT_DEID_KEY": TEST_KEY}
    stopped = medmint_cli("anonymize", str(mixed), str(out), env=env)
    first = mixed / "broken" / "UPPER.DICOM"  # the walk is sorted: the first skipped file stops the run
    assert stopped.returncode == 2 and str(first) in error_line(stopped) and "not DICOM" in error_line(stopped)
    assert "--skip-bad" in error_line(stopped)

    listed = medmint_cli("anonymize", str(mixed), str(out), "--skip-bad", env=env)
    assert listed.returncode == 0, listed.stderr
    summary = json.loads(listed.stdout)
    assert {b["file"]: b["reason"] for b in summary["bad"]}.keys() == SKIPPED.keys()
    assert all(b["reason"].startswith(SKIPPED[b["file"]]) for b in summary["bad"])
    for name, reason in SKIPPED.items():
        assert f"skipped bad file: {mixed / name}: {reason}" in listed.stderr
    header, records = _audit(out)
    assert header["files"] == summary["files"] == 2 + 2 + 3 and header["bad"] == 3
    assert {r["file"]: r["status"] for r in records} == {
        **{name: "bad" for name in SKIPPED}, "old/IM0001": "ok", "old/no-preamble.dcm": "ok",
        **{p.relative_to(mixed).as_posix(): "ok" for p in (mixed / "files").rglob("*.dcm")}}
    assert all(r["reason"] for r in records if r["status"] == "bad")
    for name in ("old/IM0001", "old/no-preamble.dcm"):  # read without the preamble, written with it
        assert has_preamble(out / name) and read(out / name).PatientIdentityRemoved == "YES"
    assert not (out / "README").exists() and not (out / "broken").exists()


def test_a_clean_folder_exits_zero_and_counts_every_file(tmp_path):
    src = tmp_path / "in"
    write_phantom_dicom(src, 2, seed=4, size=64, phi=True)
    summary = anonymize_folder(src, tmp_path / "out", KEY)
    assert summary["bad"] == [] and summary["files"] == summary["ok"] == len(list(src.rglob("*.dcm")))


def _edit(path: Path, **values: str) -> None:
    ds = read(path)
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    ds.save_as(path)


def test_header_identifiers_leave_descriptors_kept_text_and_reports(tmp_path):
    """A surname on no name list, a two-letter one, a compound one: gone from every kept text and report."""
    src = tmp_path / "in"
    write_phantom_dicom(src, 2, seed=6, size=64, phi=True)
    one, two = sorted(src.rglob("*.dcm"))[:2]
    _edit(one, PatientName="Qzarnik^Ulla", ReferringPhysicianName="Van Oostrom-Brakel^Ide",
          StudyDescription="CHEST PA qzarnik", SeriesDescription="Ulla QZARNIK lateral",
          ImageComments="for Brakel", DetectorDescription="Qzarnik room detector")
    _edit(two, PatientName="Wu^Li", StudyDescription="XR CHEST WU", SeriesDescription="Li Wu AP")
    one.with_suffix(".txt").write_text("FINDINGS: Compared to the qzarnik study of last year. Ulla Qzarnik "
                                       "tolerated well; Oostrom reviewed. Heart size normal.\n")
    two.with_suffix(".txt").write_text("IMPRESSION: WU chest unchanged. No pneumothorax.\n")
    out = tmp_path / "out"
    anonymize_folder(src, out, KEY, DeidOptions(clean_descriptors=True))

    for path, names in ((one, ("qzarnik", "ulla", "oostrom", "brakel")), (two, ("wu",))):
        after = read(out / path.relative_to(src))
        kept = {k: str(after.get(k, "")) for k in ("StudyDescription", "SeriesDescription", "ImageComments",
                                                   "DetectorDescription")}
        report = (out / path.relative_to(src)).with_suffix(".txt").read_text()
        for text in [*kept.values(), report]:
            words = {w.strip(".,;:").lower() for w in text.split()}
            assert not words & set(names), text
        assert "CHEST" in kept["StudyDescription"] and "___" in kept["StudyDescription"]
        assert "chest" in report.lower() or "heart" in report.lower()  # the clinical words stay
    audit = _audit(out)[1]
    assert any(c[0] == "DetectorDescription" and c[3] == "known identifier" for r in audit for c in r["changes"])
