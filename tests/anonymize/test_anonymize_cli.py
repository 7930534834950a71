"""`medmint anonymize IN OUT` at the command line: resume, bad input, IN untouched, audit and key hygiene."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from medmint.anonymize.run_state import AUDIT_FILE, JOURNAL_FILE, STATE_DIR, read_journal
from medmint.atomic import TMP_MARK
from medmint.cli import app
from medmint.generators.datasets import write_phantom_dicom
from tests.anonymize.deid_helpers import PYDICOM_FILES, TEST_KEY, elements, read, snapshot
from tests.conftest import error_line, medmint_cli

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(autouse=True)
def key_env(monkeypatch):
    monkeypatch.setenv("MEDMINT_DEID_KEY", TEST_KEY)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Phantom PHI studies, an SR, a non-DICOM file and a stray text file."""
    root = tmp_path_factory.mktemp("corpus") / "in"
    write_phantom_dicom(root, 6, seed=11, size=64, phi=True)
    shutil.copy(PYDICOM_FILES / "reportsi.dcm", root / "files" / "report-sr")  # no extension, no pixels
    (root / "notes.csv").write_text("not,dicom\n")
    return root


def _in_process(*args: str) -> Result:
    """The CLI without a new interpreter (argument errors need no process of their own)."""
    return CliRunner().invoke(app, list(args))


def _copy(corpus: Path, tmp_path: Path) -> Path:
    src = tmp_path / "in"
    shutil.copytree(corpus, src)
    return src


def _outputs(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and STATE_DIR not in p.parts}


def test_run_resume_and_rerun_give_identical_bytes_and_leave_in_alone(corpus, tmp_path):
    src = _copy(corpus, tmp_path)
    before = snapshot(src)
    first, out = tmp_path / "first", tmp_path / "out"
    summary = json.loads(medmint_cli("anonymize", str(src), str(first), "--workers", "2", check=True).stdout)
    assert summary["ok"] == summary["files"] == 11 and summary["bad"] == [] and summary["reports"] == 10
    expected = _outputs(first)
    assert "notes.csv" not in expected and "files/report-sr" in expected

    # A crash: half the inputs' outputs written, a temporary file left, the journal's last line torn.
    # (Which inputs lose their output is chosen by input, not by output name: output names are minted
    # from a per-run key, so deleting every other name could hit every input's image or report.)
    shutil.copytree(first, out)
    done = [r for _, r in sorted(read_journal(out).items()) if r["status"] == "ok"]
    for record in done[::2]:
        (out / record["file"]).unlink()
    (out / AUDIT_FILE).unlink(missing_ok=True)
    journal = out / STATE_DIR / JOURNAL_FILE
    journal.write_bytes(journal.read_bytes()[:-40])
    stale = next(out.rglob("*.dcm")).with_name(f"{TMP_MARK}999-half.dcm")
    stale.write_bytes(b"\0" * 100)

    resumed = json.loads(medmint_cli("anonymize", str(src), str(out), check=True).stdout)
    assert resumed["ok"] == 11 and 0 < resumed["resumed"] < 11
    assert _outputs(out) == expected  # same bytes, audit log included; the temporary is gone
    again = json.loads(medmint_cli("anonymize", str(src), str(out), check=True).stdout)
    assert again["resumed"] == 11 and _outputs(out) == expected
    assert snapshot(src) == before  # IN: same bytes, same mtimes


def test_audit_has_no_original_values_and_originals_go_only_outside_out(corpus, tmp_path):
    src, out = _copy(corpus, tmp_path), tmp_path / "out"
    inside = medmint_cli("anonymize", str(src), str(out), "--originals", str(out / "orig.jsonl"))
    assert inside.returncode != 0 and "--originals must be outside OUT" in error_line(inside)
    in_src = medmint_cli("anonymize", str(src), str(out), "--originals", str(src / "orig.jsonl"))
    assert in_src.returncode != 0 and "outside IN" in error_line(in_src)

    originals = tmp_path / "private" / "orig.jsonl"
    originals.parent.mkdir()
    medmint_cli("anonymize", str(src), str(out), "--originals", str(originals), check=True)
    phi = set()
    for path in src.rglob("*.dcm"):
        ds = read(path)
        phi |= {str(ds.PatientName), str(ds.PatientID), str(ds.AccessionNumber), str(ds.PatientBirthDate),
                str(ds.StudyDate), str(ds.InstitutionName), str(ds.OtherPatientIDs), str(ds.SOPInstanceUID)}
    written = "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.suffix in (".jsonl", ".json", ".txt"))
    assert not [v for v in phi if v in written]
    kept = originals.read_text()
    assert all(v in kept for v in phi)  # the mapping back, only where it was asked for
    assert oct(originals.stat().st_mode & 0o777) == "0o600"
    audit = [json.loads(line) for line in (out / AUDIT_FILE).read_text().splitlines()]
    assert audit[0]["audit"]["table"] == "PS3.15 2026c Table E.1-1"
    changes = {tuple(c[:3]) for r in audit[1:] if r["status"] == "ok" for c in r["changes"]}
    assert ("PatientName", "(0010,0010)", "D") in changes and ("StudyDate", "(0008,0020)", "Z") in changes


def test_key_never_appears_in_outputs_logs_or_messages(corpus, tmp_path):
    src, out = _copy(corpus, tmp_path), tmp_path / "out"
    key_file = tmp_path / "key"
    key_file.write_text(TEST_KEY + "\n")
    originals = tmp_path / "orig.jsonl"
    procs = [medmint_cli("anonymize", str(src), str(out), "--key-file", str(key_file), "--originals", str(originals),
                         "--shift-dates", "--clean-descriptors", "--workers", "2", check=True),
             medmint_cli("anonymize", str(src), str(out), "--key-file", str(key_file), "--originals", str(originals),
                         check=False)]  # other settings: refused
    assert procs[1].returncode != 0 and "other settings" in error_line(procs[1])
    needles = [TEST_KEY.encode(), TEST_KEY.encode().hex().encode(), TEST_KEY[::-1].encode()]
    blobs = [p.read_bytes() for p in [*out.rglob("*"), originals] if p.is_file()]
    blobs += [(p.stdout + p.stderr).encode() for p in procs]
    assert not [n for n in needles for b in blobs if n in b]


def test_bad_files_stop_the_run_or_are_skipped_and_listed(corpus, tmp_path):
    src, out = _copy(corpus, tmp_path), tmp_path / "out"
    good = sorted(src.rglob("*.dcm"))
    truncated = good[-1].with_name("zz-truncated.dcm")
    truncated.write_bytes(good[-1].read_bytes()[:-500])
    garbage = truncated.with_name("zzz-garbage")  # the preamble, then bytes that are no data set
    garbage.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\xff\xff" + b"junk" * 10)
    cut_header = truncated.with_name("zzzz-cut-header.dcm")  # cut just before Pixel Data: pydicom says nothing
    pixel_header = read(good[-1]).get_item("PixelData").value_tell - 12  # explicit VR OW: 12-byte header
    cut_header.write_bytes(good[-1].read_bytes()[:pixel_header])

    stopped = medmint_cli("anonymize", str(src), str(out))
    line = error_line(stopped)
    assert stopped.returncode != 0 and "truncated" in line and str(truncated) in line
    written = [p for p in out.rglob("*.dcm")]
    assert written and all(read(p).PatientIdentityRemoved == "YES" for p in written)  # complete files only
    assert not [p for p in out.rglob(f"{TMP_MARK}*")]

    skipped = medmint_cli("anonymize", str(src), str(out), "--skip-bad")
    assert skipped.returncode == 0, skipped.stderr
    summary = json.loads(skipped.stdout)
    assert {b["file"] for b in summary["bad"]} == {p.relative_to(src).as_posix()
                                                   for p in (garbage, truncated, cut_header)}
    assert "image object without Pixel Data" in skipped.stderr
    assert f"skipped bad file: {truncated}" in skipped.stderr
    audit = [json.loads(line) for line in (out / AUDIT_FILE).read_text().splitlines()[1:]]
    assert {r["file"] for r in audit if r["status"] == "bad"} == {b["file"] for b in summary["bad"]}
    assert summary["ok"] == 11  # the 10 phantom images and the SR


@pytest.mark.parametrize("case", ["in-missing", "out-is-in", "out-in-in", "in-in-out", "no-key", "key-file-missing",
                                  "short-key", "out-not-empty", "out-read-only", "bad-keep-private"])
def test_bad_arguments_are_one_line_and_write_nothing(case, corpus, tmp_path, monkeypatch):
    src, out = _copy(corpus, tmp_path), tmp_path / "out"
    args = [str(src), str(out)]
    expect = {"in-missing": "IN is not a folder", "out-is-in": "OUT is IN", "out-in-in": "OUT is inside IN",
              "in-in-out": "IN is inside OUT", "no-key": "MEDMINT_DEID_KEY", "key-file-missing": "cannot read the key",
              "short-key": "too short", "out-not-empty": "not empty", "out-read-only": "is not writable",
              "bad-keep-private": "--keep-private"}[case]
    if case == "in-missing":
        args = [str(tmp_path / "nowhere"), str(out)]
    elif case == "out-is-in":
        args = [str(src), str(src / "files" / "..")]
    elif case == "out-in-in":
        args = [str(src), str(src / "files" / "anon")]
    elif case == "in-in-out":
        args = [str(src), str(tmp_path)]
    elif case == "no-key":
        monkeypatch.delenv("MEDMINT_DEID_KEY")
    elif case == "key-file-missing":
        args += ["--key-file", str(tmp_path / "no-key-here")]
    elif case == "short-key":
        monkeypatch.setenv("MEDMINT_DEID_KEY", "short")
    elif case == "out-not-empty":
        out.mkdir()
        (out / "precious.txt").write_text("keep me")
    elif case == "out-read-only":
        if os.geteuid() == 0:  # root writes through file modes; a read-only file system stops it
            args = [str(src), "/sys/fs/medmint-anonymize-out"]
        else:
            out.mkdir()
            out.chmod(0o555)
    elif case == "bad-keep-private":
        args += ["--keep-private", "NOCOLON"]
    before = snapshot(src)
    proc = _in_process("anonymize", *args)
    assert proc.exit_code != 0 and expect in error_line(proc), proc.stderr
    assert snapshot(src) == before
    if case == "out-not-empty":
        assert [p.name for p in out.iterdir()] == ["precious.txt"]
    elif case not in ("out-read-only", "in-in-out"):
        assert not out.exists() or not _outputs(out)


def test_flags_and_exclusions(corpus, tmp_path):
    src, out = _copy(corpus, tmp_path), tmp_path / "out"
    proc = _in_process("anonymize", str(src), str(out), "--exclude-burned-in")
    assert proc.exit_code == 0, proc.stderr
    summary = json.loads(proc.stdout)
    audit = [json.loads(line) for line in (out / AUDIT_FILE).read_text().splitlines()[1:]]
    burned = {r["file"] for r in audit if r["status"] == "excluded"}
    assert burned and summary["excluded"] == len(burned)
    assert all(r["reason"] == "burned_in_annotation" for r in audit if r["status"] == "excluded")
    assert not [name for name in burned if (out / name).exists()]
    assert all("burned_in_annotation" not in r["flags"] for r in audit if r["status"] == "ok")


def test_phantom_dicom_from_the_cli_carries_phi_and_reads_back(tmp_path):
    out = tmp_path / "phantom"
    summary = json.loads(medmint_cli("data", "phantom", "--n", "3", "--out", str(out), "--size", "64", "--phi",
                                     "--format", "dicom", "--seed", "2", check=True).stdout)
    files = sorted(out.rglob("*.dcm"))
    assert summary["n_images"] == len(files) >= 3 and all(f.with_suffix(".txt").is_file() for f in files)
    ds = read(files[0])
    assert ds.PatientIdentityRemoved == "NO" and ds.OtherPatientIDs and "MRN" in ds.ImageComments
    assert [e for _, e in elements(ds) if e.tag.is_private]
    check = json.loads(medmint_cli("data", "check", str(out), check=True).stdout)
    assert check["loaded"] == len(files) and check["skipped"] == {}  # the DICOM folder loader reads them all
