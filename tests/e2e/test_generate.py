"""``medmint generate`` end to end: real Beam (FnApiRunner), real DICOM, Parquet read by DuckDB."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pydicom
import pytest

from medmint.records import parquet_schema
from tests.conftest import CONFIGS, error_line, medmint_cli, require_tool

pytestmark = pytest.mark.e2e

N = 24
SETS = ["--set", f"target.total={N}", "--set", "generator.phantom.size=64", "--set", "output.shard_rows=8"]


def generate(out: Path, *extra: str, audit: bool = False) -> subprocess.CompletedProcess[str]:
    """The audit (Great Expectations' import alone takes seconds) runs only where a test looks at it."""
    return medmint_cli("generate", str(CONFIGS / "demo-phantom.yaml"), "--out", str(out), *SETS, *extra,
                       "--audit" if audit else "--no-audit")


def snapshot(out: Path) -> dict[str, tuple[str, int]]:
    """Every file under OUT (but run.json and the lock) -> (sha256, mtime_ns)."""
    return {
        str(p.relative_to(out)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name not in ("run.json", ".medmint-lock") and p.relative_to(out).parts[0] != "report"
    }


def table(out: Path, kind: str = "accepted"):
    import pyarrow as pa

    return pa.concat_tables([pq.read_table(p) for p in sorted((out / "data").glob(f"{kind}-*.parquet"))])


def content(out: Path, drop=("created_at",)):
    t = table(out)
    return t.drop_columns(list(drop)).sort_by("sample_id")


@pytest.fixture(scope="module")
def run_a(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("e2e") / "A"
    proc = generate(out, audit=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"{N} accepted" in proc.stdout
    assert "audit PASS:" in proc.stdout and (out / "report" / "index.html").is_file()  # generate audits at the end
    return out


def test_output_layout_and_run_manifest(run_a):
    manifest = json.loads((run_a / "run.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["counts"]["generated"] == manifest["counts"]["accepted"] == N
    assert len(manifest["config_sha256"]) == 64 and manifest["versions"]["medmint"]
    shards = sorted(p.name for p in (run_a / "data").iterdir())
    assert shards == [f"{kind}-r000-{i:05d}-of-00003.parquet" for kind in ("accepted", "rejected") for i in range(3)]
    (round0,) = manifest["rounds"]
    assert round0["shards"] == [f"data/{n}" for n in sorted(shards, key=lambda n: (n.split("-")[2], n))]
    assert round0["counts"]["accepted"] == round0["beam_metrics"]["accepted"] == N
    assert manifest["stopped_because"] == "every target met" and manifest["shortfall"] == []
    studies = list((run_a / "dicom").iterdir())
    assert len(studies) == N
    for study in studies:  # one image series and one SR series per study
        modalities = sorted(pydicom.dcmread(f, stop_before_pixels=True).Modality for f in study.rglob("*.dcm"))
        assert modalities == ["DX", "SR"]


def test_every_dicom_passes_dciodvfy_and_dcmdump(run_a):
    dciodvfy, dcmdump = require_tool("dciodvfy"), require_tool("dcmdump")
    files = sorted(run_a.rglob("*.dcm"))
    assert len(files) == 2 * N
    for f in files:
        proc = subprocess.run([dciodvfy, str(f)], capture_output=True, text=True)
        errors = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith("Error")]
        assert errors == [], (f, errors)
        assert subprocess.run([dcmdump, "-q", str(f)], capture_output=True).returncode == 0


def test_duckdb_reads_the_documented_schema_and_row_count(run_a):
    import duckdb

    con = duckdb.connect()
    glob = str(run_a / "data" / "accepted-*.parquet")
    ((n, ids),) = con.execute(f"select count(*), count(distinct sample_id) from '{glob}'").fetchall()
    assert n == ids == N
    described = dict(con.execute(f"select column_name, column_type from (describe select * from '{glob}')").fetchall())
    assert list(described) == parquet_schema().names
    assert described["requested_pneumothorax"] == "TINYINT" and described["created_at"].startswith("TIMESTAMP")
    assert con.execute(f"select count(*) from '{run_a / 'data' / 'rejected-*.parquet'}'").fetchall() == [(0,)]
    on_disk = pq.read_schema(next((run_a / "data").glob("accepted-*.parquet")))
    assert on_disk.equals(parquet_schema(), check_metadata=False)
    assert on_disk.field("report_text").metadata[b"description"]


def test_rows_point_at_their_dicom_and_hold_the_same_pixels(run_a):
    from PIL import Image

    t = table(run_a).to_pylist()
    for row in t[:6]:
        dx = pydicom.dcmread(run_a / row["image_path"])
        sr = pydicom.dcmread(run_a / row["sr_path"])
        png = np.array(Image.open(io.BytesIO(row["image_png"])))
        assert np.array_equal(png, dx.pixel_array)
        assert dx.SOPInstanceUID == row["sop_instance_uid"] and sr.StudyInstanceUID == row["study_instance_uid"]
        assert dx.PatientID == row["patient_id"] and dx.ViewPosition == row["view"]
        assert row["report_findings"] in str(sr.ContentSequence[0].ContentSequence[0].TextValue)
        assert row["generator"] == "phantom" and row["shard"].endswith(".parquet")
        assert Path(row["shard"]).name in {p.name for p in (run_a / "data").iterdir()}


def test_rerun_is_a_no_op(run_a):
    before = snapshot(run_a)
    proc = generate(run_a)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert snapshot(run_a) == before


def test_resume_after_a_crash_gives_the_same_corpus(run_a, tmp_path):
    crashed = tmp_path / "C"
    shutil.copytree(run_a, crashed)
    manifest = json.loads((crashed / "run.json").read_text())
    # as a crash inside round 0 leaves it: the round planned, not yet recorded as finished
    manifest.update(status="running", rounds=[], ledger=[], planning={"round": 0, "budget_left": 10 * N,
                                                                      "seconds": 1.0, "metrics": {}})
    (crashed / "run.json").write_text(json.dumps(manifest))
    for shard in (crashed / "data").glob("*.parquet"):
        shard.unlink()
    dcms = sorted(crashed.rglob("*.dcm"))
    for f in dcms[::3]:
        f.unlink()
    half = dcms[1].with_name(".medmint-tmp-999-" + dcms[1].name)
    half.write_bytes(dcms[1].read_bytes()[:100])  # a temporary a killed writer left behind
    kept = {p: p.stat().st_mtime_ns for p in crashed.rglob("*.dcm") if p != half}
    proc = generate(crashed)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert {k: v[0] for k, v in snapshot(crashed).items()} == {k: v[0] for k, v in snapshot(run_a).items()}
    assert all(p.stat().st_mtime_ns == m for p, m in kept.items())  # written files were not redone
    assert not half.exists()


def test_same_config_and_seed_give_identical_records(run_a, tmp_path):
    proc = generate(tmp_path / "B")
    assert proc.returncode == 0, proc.stderr[-2000:]
    a, b = snapshot(run_a), snapshot(tmp_path / "B")
    dicom_a = {k: v[0] for k, v in a.items() if k.endswith(".dcm")}
    assert dicom_a == {k: v[0] for k, v in b.items() if k.endswith(".dcm")}
    assert content(run_a).equals(content(tmp_path / "B"))
    seed_changed = tmp_path / "D"
    assert generate(seed_changed, "--set", "seed=99").returncode == 0
    assert not set(table(seed_changed).column("sample_id").to_pylist()) & set(table(run_a).column("sample_id").to_pylist())


def test_out_holding_another_run_is_refused_and_left_untouched(run_a):
    before = snapshot(run_a)
    proc = generate(run_a, "--set", "seed=5")
    assert proc.returncode == 2
    assert "holds another run" in error_line(proc) and str(run_a) in error_line(proc)
    assert snapshot(run_a) == before


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--set", "target.colour=red"], "unknown key 'target.colour'"),
        (["--set", "target.total=lots"], "'target.total'"),
        (["--runner", "TurboRunner"], "unknown runner 'TurboRunner'"),
        (["--set", "generator.name=diffusion", "--set", "generator.checkpoint=/nope"], "/nope: checkpoint folder not found"),
        (["--set", "generator.name=diffusion"], "generator.checkpoint is required"),
        (["--set", "validators.image_sharpnes.threshold=1"], "unknown validator 'image_sharpnes'"),
        (["--set", "validators.report_length.threshold=high"], "report_length.threshold: 'high' is not a number"),
        (["--set", "validators.image_noise.enabled=maybe"], "image_noise.enabled: 'maybe' is not true, false or auto"),
        (["--set", "validators.privacy_nearest_training.enabled=true"],
         "privacy_nearest_training: needs the checkpoint's train_features"),
    ],
)
def test_bad_config_fails_before_touching_out(tmp_path, extra, expected):
    out = tmp_path / "never"
    proc = generate(out, *extra)
    assert proc.returncode == 2 and expected in error_line(proc)
    assert not out.exists()


def test_missing_config_file(tmp_path):
    proc = medmint_cli("generate", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "nope.yaml: config file not found" in error_line(proc)


def test_unwritable_or_foreign_out(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = generate(blocker / "out")
    assert proc.returncode == 2 and "not writable" in error_line(proc)
    proc = generate(Path("/proc/medmint-out"))
    assert proc.returncode == 2 and "/proc/medmint-out" in error_line(proc)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    proc = generate(foreign)
    assert proc.returncode == 2 and "holds no medmint run" in error_line(proc)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]


def test_run_manifest_records_each_validator_used_or_skipped(run_a):
    record = {v["name"]: v for v in json.loads((run_a / "run.json").read_text())["validators"]}
    assert record["image_noise"]["used"] and record["image_noise"]["threshold"] == 0.35
    assert record["privacy_phi"]["passes_when"] == "<="
    # the phantom has no checkpoint: the gates that need one say so instead of passing silently
    assert not record["privacy_nearest_training"]["used"]
    assert "needs a calibrated checkpoint" in record["privacy_nearest_training"]["why"]


def test_a_failing_gate_rejects_with_its_reason_and_writes_no_dicom(tmp_path):
    out = tmp_path / "strict"
    proc = generate(out, "--set", "validators.report_length.threshold=1000", "--set", "validators.image_noise.enabled=false",
                    "--set", f"target.budget.samples={N}")
    assert proc.returncode == 3, proc.stderr[-3000:]  # finished, short of its target
    assert f"0 accepted, {N} rejected" in proc.stdout
    assert f"shortfall: total: 0 of {N} accepted" in proc.stderr and "samples budget is spent" in proc.stderr
    rejected = table(out, "rejected").to_pylist()
    assert len(rejected) == N and not any(r["accepted"] for r in rejected)
    assert all(any(reason.startswith("report_length: ") and reason.endswith("words < 1000") for reason in r["reject_reasons"])
               for r in rejected)
    assert all(dict(r["scores"])["report_length"] >= 4 for r in rejected)
    assert not list(out.rglob("*.dcm"))
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["counts"]["rejected_report_length"] == N  # counted per gate, not per reason text
    assert manifest["rounds"][0]["beam_metrics"]["rejected_report_length"] == N
    assert not any(k.startswith("rejected_") and ":" in k for k in manifest["counts"])
    record = {v["name"]: v for v in manifest["validators"]}
    assert record["report_length"]["threshold"] == 1000 and record["image_noise"] == {
        "name": "image_noise", "used": False, "why": "disabled in config"}
