"""Rounds end to end: rebalancing until the targets are met, SIGKILL and resume, budgets, the job alone."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from medmint.records import DRAWABLE_FINDINGS, label_slug
from tests.conftest import CONFIGS, error_line, medmint_cli

pytestmark = pytest.mark.e2e

N = 60
# Rebalancing on the phantom, with a gate that rejects about a third of the samples, so it takes rounds.
BALANCED = ["--set", f"target.total={N}", "--set", "generator.phantom.size=64", "--set", "output.shard_rows=16",
            "--set", "validators.report_length.threshold=40", "--set", "target.tolerance=1", "--no-audit"]
EPOCH = {"SOURCE_DATE_EPOCH": "1795000000"}


def generate(out: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return medmint_cli("generate", str(CONFIGS / "demo-balanced.yaml"), "--out", str(out), *BALANCED, *extra, env=env)


def files(out: Path) -> dict[str, str]:
    """Every file under OUT but run.json and the lock -> sha256."""
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and p.name not in ("run.json", ".medmint-lock")}


def rows(out: Path, kind: str) -> list[dict]:
    tables = [pq.read_table(p) for p in sorted((out / "data").glob(f"{kind}-*.parquet"))]
    return pa.concat_tables(tables).sort_by("sample_id").to_pylist()


@pytest.fixture(scope="module")
def balanced(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("rounds") / "A"
    proc = generate(out, env=EPOCH)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def test_rounds_meet_every_target_and_say_so(balanced):
    out, proc = balanced
    manifest = json.loads((out / "run.json").read_text())
    rounds = manifest["rounds"]
    assert len(rounds) >= 2 and manifest["stopped_because"] == "every target met" and manifest["shortfall"] == []
    assert 0.3 < rounds[0]["acceptance_rate"] < 0.95  # the gate rejects some: later rounds make up for it
    con = duckdb.connect()
    glob = str(out / "data" / "accepted-*.parquet")
    ((total,),) = con.execute(f"select count(*) from '{glob}'").fetchall()
    assert N <= total <= N + manifest["progress"]["total"]["surplus_allowed"]
    wanted = round(0.15 * N)
    for finding in DRAWABLE_FINDINGS:
        col = f"requested_{label_slug(finding)}"
        ((have,),) = con.execute(f"select count(*) from '{glob}' where {col} = 1").fetchall()
        assert have >= wanted - 1, finding
        assert manifest["progress"]["findings"][finding]["have"] == have
        assert f"  {finding}: {have} of {wanted}" in proc.stdout
    ((rejected,),) = con.execute(f"select count(*) from '{out / 'data' / 'rejected-*.parquet'}'").fetchall()
    assert rejected == manifest["counts"]["rejected"] > 0
    assert manifest["counts"]["accepted"] == total == sum(r["counts"]["accepted"] for r in rounds)
    for r in rounds:  # Beam's counters agree with what the shards hold
        assert r["beam_metrics"]["accepted"] == r["counts"]["accepted"]
        assert r["beam_metrics"]["rejected_report_length"] == r["counts"]["rejected_report_length"]
    assert [line.split(":")[0] for line in proc.stdout.splitlines() if line.startswith("round ")] == \
        [f"round {i}" for i in range(len(rounds))]


def test_later_rounds_ask_for_what_is_still_missing(balanced):
    out, _ = balanced
    accepted = rows(out, "accepted")
    assert len({r["sample_id"] for r in accepted}) == len(accepted)
    assert {r["round"] for r in accepted} == set(range(len(json.loads((out / "run.json").read_text())["rounds"])))
    later = [r for r in rows(out, "accepted") + rows(out, "rejected") if r["round"] > 0]
    manifest = json.loads((out / "run.json").read_text())
    assert len(later) == sum(r["requested"] for r in manifest["rounds"][1:])


def test_same_config_and_seed_give_byte_identical_shards_and_dicom(balanced, tmp_path):
    out, _ = balanced
    again = tmp_path / "B"
    assert generate(again, env=EPOCH).returncode == 0
    assert files(again) == files(out)


def _kill_when(out: Path, ready, env: dict[str, str]) -> None:
    """Start the run, SIGKILL it (the whole process group, Beam workers too) once ``ready(out)``."""
    cmd = [sys.executable, "-m", "medmint.cli", "generate", str(CONFIGS / "demo-balanced.yaml"), "--out", str(out),
           *BALANCED]
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 300
    try:
        while not ready(out):
            try:
                proc.wait(timeout=0.05)  # poll: it must not finish before the moment we wait for
            except subprocess.TimeoutExpired:
                pass
            assert proc.returncode is None, "the run finished before the moment to kill it"
            assert time.monotonic() < deadline
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _in_round(index: int):
    def ready(out: Path) -> bool:
        try:
            planning = json.loads((out / "run.json").read_text()).get("planning", {})
        except (OSError, ValueError):
            return False
        return planning.get("round") == index
    return ready


def _dicom_written(out: Path) -> bool:
    return any((out / "dicom").rglob("*.dcm")) if (out / "dicom").exists() else False


@pytest.mark.parametrize("moment", ["first DICOM written", "round 1 under way"])
def test_sigkill_at_any_moment_then_rerun_gives_the_uninterrupted_corpus(balanced, tmp_path, moment):
    out, _ = balanced
    crashed = tmp_path / "C"
    _kill_when(crashed, _dicom_written if moment == "first DICOM written" else _in_round(1), EPOCH)
    assert json.loads((crashed / "run.json").read_text())["status"] == "running"
    proc = generate(crashed, env=EPOCH)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not list(crashed.rglob(".medmint-tmp-*"))
    assert files(crashed) == files(out)  # file by file: same names, same bytes, nothing extra
    for kind in ("accepted", "rejected"):  # row by row
        assert rows(crashed, kind) == rows(out, kind)
    a, c = (json.loads((d / "run.json").read_text()) for d in (out, crashed))
    assert [r["counts"] for r in c["rounds"]] == [r["counts"] for r in a["rounds"]]


def test_the_job_alone_reruns_one_part_to_the_same_shard(balanced, tmp_path):
    out = tmp_path / "J"
    _kill_when(out, _in_round(0), EPOCH)
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["planning"]["round"] == 0
    def job(part: int) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "medmint.pipeline.job", "--config", str(CONFIGS / "demo-balanced.yaml"),
               "--out", str(out), *BALANCED, "--round", "0", "--part", str(part), "--runner=FnApiRunner"]
        return subprocess.run(cmd, capture_output=True, text=True)

    for shard in (out / "data").glob("*-r000-00000-of-*.parquet"):  # as if killed before part 0 finished
        shard.unlink()
    early = job(1)  # part 1 is checked for near-duplicates against part 0's accepted rows
    assert early.returncode == 1
    assert early.stderr.strip().splitlines()[-1].startswith("medmint.pipeline.job: error: ")
    assert "part r000-00001 is checked for near-duplicates against the parts before it" in early.stderr
    for part in (0, 1):
        proc = job(part)
        assert proc.returncode == 0, proc.stderr[-3000:]
    (shard,) = (out / "data").glob("accepted-r000-00001-of-*.parquet")
    table = pq.read_table(shard)
    assert table.num_rows > 0 and set(table.column("round").to_pylist()) == {0}
    assert sorted(table.column("sample_index").to_pylist())[0] >= 16  # part 1 holds requests 16..31
    for shard in (out / "data").glob("*-r000-0000[01]-of-*.parquet"):
        assert shard.read_bytes() == (balanced[0] / shard.relative_to(out)).read_bytes(), shard.name
    done = generate(out, env=EPOCH)
    assert done.returncode == 0, done.stderr[-3000:]
    assert files(out) == files(balanced[0])


def test_an_hours_budget_stops_the_rounds_and_names_what_is_missing(tmp_path):
    proc = generate(tmp_path / "H", "--set", "target.budget.hours=0.00001")
    assert proc.returncode == 3
    assert "hours budget is spent" in proc.stderr
    manifest = json.loads((tmp_path / "H" / "run.json").read_text())
    assert manifest["status"] == "complete" and manifest["stopped_because"] == "the hours budget is spent"


def test_an_error_mid_run_exits_5_naming_the_part_keeps_what_was_written_and_a_rerun_finishes(
        balanced, tmp_path, monkeypatch):
    """A full disk in the second part: not "bad input" (exit 2) but a stopped run a scheduler may retry."""
    from typer.testing import CliRunner

    from medmint.cli import app
    from medmint.pipeline import job

    run_part, calls = job.run_part, []

    def disk_full_in_the_second_part(cfg, out, part, *args, **kwargs):
        calls.append(part.name)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return run_part(cfg, out, part, *args, **kwargs)

    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH["SOURCE_DATE_EPOCH"])
    monkeypatch.setattr(job, "run_part", disk_full_in_the_second_part)
    out = tmp_path / "F"
    command = ["generate", str(CONFIGS / "demo-balanced.yaml"), "--out", str(out), *BALANCED]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 5, result.output
    assert result.stderr.strip().splitlines()[-1] == (
        f"medmint: error: stopped during part {calls[1]}: OSError: [Errno 28] No space left on device; "
        "what was written is kept: fix the cause and rerun the same command to resume")
    assert "Traceback" in result.stderr  # the cause, for the log
    assert len(list((out / "data").glob("accepted-*.parquet"))) == 1  # the first part is kept
    assert json.loads((out / "run.json").read_text())["status"] == "running"

    monkeypatch.setattr(job, "run_part", run_part)
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    assert files(out) == files(balanced[0])


def test_a_finished_rounds_missing_shard_is_refused(balanced, tmp_path):
    import shutil

    out, _ = balanced
    broken = tmp_path / "M"
    shutil.copytree(out, broken)
    manifest = json.loads((broken / "run.json").read_text())
    manifest["status"] = "running"
    (broken / "run.json").write_text(json.dumps(manifest))
    victim = broken / manifest["rounds"][0]["shards"][0]
    victim.unlink()
    proc = generate(broken, env=EPOCH)
    assert proc.returncode == 2 and str(victim) in error_line(proc) and "round 0 finished" in error_line(proc)


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--set", "target.budget.samples=20"], "total = 60 needs at least that many generated samples but budget.samples is 20"),
        (["--set", "target.balance.mode=counts", "--set", "target.balance.prevalence=null", "--set", "target.budget.samples=40",
          "--set", "target.balance.counts={Pneumothorax: 50}"], "Pneumothorax needs at least 50 accepted samples but budget.samples is 40"),
        (["--set", "target.budget.samples=0"], "a budget of zero"),
        (["--set", "target.budget.hours=0"], "a budget of zero"),
        (["--set", "target.balance.mode=counts", "--set", "target.balance.prevalence=null",
          "--set", "target.balance.counts={Pneumothorax: 70}"], "is more than total = 60"),
        (["--runner", "WarpRunner"], "unknown runner 'WarpRunner'"),
        (["--set", "generator.name=diffusion", "--set", "generator.checkpoint=/no/such/ckpt"],
         "/no/such/ckpt: checkpoint folder not found"),
    ],
)
def test_impossible_targets_and_bad_settings_fail_before_any_work(tmp_path, extra, expected):
    out = tmp_path / "never"
    proc = generate(out, *extra)
    assert proc.returncode == 2 and expected in error_line(proc), proc.stderr[-2000:]
    assert not out.exists()
