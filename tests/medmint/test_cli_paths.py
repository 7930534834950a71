"""Relative paths, as users type them, from a working directory that is not the repository.

The tests elsewhere pass absolute paths; a relative ``--out`` once generated a whole run and then
failed in the audit (Great Expectations' file stores want absolute folders) with exit 2. Every
command that takes a path is run here with relative ones, from a fresh directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CONFIGS, REPO, error_line, medmint_cli

pytestmark = pytest.mark.e2e

SETS = ["--set", "target.total=8", "--set", "generator.phantom.size=64", "--set", "output.shard_rows=8"]
OURS = ("medmint: ", "note: ", "shortfall: ")  # the prefixes of the lines medmint itself writes on stderr


def rel(path: Path, cwd: Path) -> str:
    return os.path.relpath(path, cwd)


def as_a_user(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``medmint`` with the user's environment: no PYTHONWARNINGS, so stderr is what a user reads."""
    exe = shutil.which("medmint", path=str(Path(sys.executable).parent)) or "medmint"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    return subprocess.run([exe, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    cwd = tmp_path_factory.mktemp("cwd")
    # two warm worker processes: they too run from cwd, and their stderr is the user's
    proc = as_a_user("generate", rel(CONFIGS / "demo-phantom.yaml", cwd), "--out", "out/run", *SETS, "--workers", "2",
                     cwd=cwd)
    return cwd, proc


def test_generate_with_relative_config_and_out_from_another_directory(run):
    cwd, proc = run
    assert proc.returncode == 0, proc.stderr
    out = cwd / "out" / "run"
    assert (out / "run.json").is_file() and (out / "report" / "index.html").is_file()
    assert list((out / "data").glob("accepted-*.parquet")) and list((out / "dicom").rglob("*.dcm"))
    assert "-> out/run" in proc.stdout and "out/run/report/index.html" in proc.stdout  # named as the user wrote it
    assert not (REPO / "out" / "run").exists()


def test_generate_stderr_holds_nothing_but_medmint_lines(run):
    _, proc = run
    assert "apitools" not in proc.stderr and "INFO" not in proc.stderr, proc.stderr
    assert all(line.startswith(OURS) for line in proc.stderr.splitlines() if line.strip()), proc.stderr


def test_rerunning_the_same_relative_command_resumes_into_the_same_folder(run):
    cwd, _ = run
    again = as_a_user("generate", rel(CONFIGS / "demo-phantom.yaml", cwd), "--out", "out/run", *SETS, "--workers", "2",
                      cwd=cwd)
    assert again.returncode == 0, again.stderr
    assert "run complete" in again.stdout and "\naudit " in again.stdout
    # from another directory, the same OUT written another way is the same run
    sub = cwd / "elsewhere"
    sub.mkdir()
    other = as_a_user("generate", rel(CONFIGS / "demo-phantom.yaml", sub), "--out", "../out/run", *SETS, "--no-audit",
                      cwd=sub)
    assert other.returncode == 0 and "run complete" in other.stdout, other.stderr


def test_audit_with_relative_out(run):
    cwd, _ = run
    proc = as_a_user("audit", "out/run", cwd=cwd)
    assert proc.returncode == 0 and proc.stdout.startswith("audit "), proc.stderr
    assert not [line for line in proc.stderr.splitlines() if not line.startswith(OURS)], proc.stderr
    data = json.loads(as_a_user("audit", "./out/../out/run", "--json", cwd=cwd).stdout)
    assert data["verdict"].lower() in ("pass", "warn") and data["paths"]["report"] == "report/index.html"


def test_config_show_with_a_relative_config(tmp_path):
    proc = medmint_cli("config", "show", rel(CONFIGS / "demo-phantom.yaml", tmp_path), "--json", cwd=tmp_path)
    assert proc.returncode == 0 and json.loads(proc.stdout)["config"]["target"]["total"] == 128


def test_data_phantom_check_and_anonymize_with_relative_paths(tmp_path):
    made = medmint_cli("data", "phantom", "--n", "3", "--size", "64", "--format", "dicom", "--phi", "--out", "raw",
                       cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert list((tmp_path / "raw").rglob("*.dcm"))
    checked = medmint_cli("data", "check", "raw", cwd=tmp_path)
    assert checked.returncode == 0 and json.loads(checked.stdout)["loaded"] >= 3, checked.stderr
    (tmp_path / "deid.key").write_text("ab" * 32)
    anon = medmint_cli("anonymize", "raw", "deid", "--key-file", "deid.key", "--originals", "originals.jsonl",
                       cwd=tmp_path)
    assert anon.returncode == 0, anon.stderr
    assert (tmp_path / "deid" / "anonymize-audit.jsonl").is_file() and (tmp_path / "originals.jsonl").is_file()
    assert len(list((tmp_path / "deid").rglob("*.dcm"))) == len(list((tmp_path / "raw").rglob("*.dcm")))


def test_a_relative_out_that_cannot_be_written_is_bad_input_before_any_work(tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")
    proc = medmint_cli("generate", rel(CONFIGS / "demo-phantom.yaml", tmp_path), "--out", "taken/run", *SETS,
                       cwd=tmp_path)
    assert proc.returncode == 2 and "taken" in error_line(proc)


def test_resuming_with_other_weights_at_the_same_checkpoint_path_is_refused(run, tmp_path):
    """generator.checkpoint is a path relative to where you run, and the config hash holds the path: the
    same config from another directory can name other weights. run.json's checkpoint_sha256 decides."""
    cwd, _ = run
    out = tmp_path / "run"
    shutil.copytree(cwd / "out" / "run", out)
    manifest = json.loads((out / "run.json").read_text())
    manifest.update(status="running", checkpoint_sha256="0" * 64)  # as if started with other weights
    (out / "run.json").write_text(json.dumps(manifest))
    proc = medmint_cli("generate", rel(CONFIGS / "demo-phantom.yaml", tmp_path), "--out", "run", *SETS, cwd=tmp_path)
    assert proc.returncode == 2 and "its run was started with checkpoint 000000000000" in error_line(proc)
