"""Runners end to end: the same corpus whichever way the Beam job runs, and bad runner options
refused in one line before OUT exists.

PortableRunner runs against Beam's local job service with a LOOPBACK environment (the SDK harness
runs in the submitting process), the offline stand-in for a Flink or Spark job server.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import CONFIGS, error_line, medmint_cli

pytestmark = pytest.mark.e2e

N = 12
# One part (shard_rows >= N): one Beam job per run; every extra job costs worker start-up again.
SETS = ["--set", f"target.total={N}", "--set", "generator.phantom.size=64", "--set", "output.shard_rows=16",
        "--no-audit"]


def generate(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return medmint_cli("generate", str(CONFIGS / "demo-phantom.yaml"), "--out", str(out), *SETS, *extra)


def generated(out: Path, *extra: str) -> Path:
    proc = generate(out, *extra)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"{N} accepted" in proc.stdout
    return out


def accepted(out: Path, drop: tuple[str, ...] = ("created_at",)) -> pa.Table:
    """Every accepted row, in sample_id order, without the columns that may differ between runs."""
    shards = sorted((out / "data").glob("accepted-*.parquet"))
    return pa.concat_tables([pq.read_table(p) for p in shards]).drop_columns(list(drop)).sort_by("sample_id")


def dicom_hashes(out: Path) -> dict[str, str]:
    files = sorted(out.rglob("*.dcm"))
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def manifest(out: Path) -> dict:
    return json.loads((out / "run.json").read_text())


@pytest.fixture(scope="module")
def job_endpoint(tmp_path_factory) -> Iterator[str]:
    """Beam's local job service on a free port (port 0: it picks one and writes it to --port_file,
    atomically, once the gRPC server is listening)."""
    folder = tmp_path_factory.mktemp("job-service")
    port_file, log_path = folder / "port", folder / "service.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main",
             "--port", "0", "--port_file", str(port_file), "--staging_dir", str(folder / "staging")],
            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists():
            if proc.poll() is not None:
                pytest.fail(f"job service exited ({proc.returncode}):\n{log_path.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"job service wrote no port file in 60 s:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.05)
        yield f"localhost:{port_file.read_text().strip()}"
    finally:
        proc.terminate()  # SIGTERM: it stops the gRPC server and exits 0
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def in_process(tmp_path_factory) -> Path:
    """The reference: the default FnApiRunner, one process."""
    return generated(tmp_path_factory.mktemp("runners") / "fnapi")


@pytest.fixture(scope="module")
def portable(tmp_path_factory, job_endpoint) -> Path:
    out = tmp_path_factory.mktemp("runners") / "portable"
    return generated(out, "--runner", "PortableRunner", f"--job_endpoint={job_endpoint}",
                     "--environment_type=LOOPBACK", "--experiments=medmint_test")


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory) -> Path:
    return generated(tmp_path_factory.mktemp("runners") / "workers2", "--workers", "2")


def test_portable_runner_on_a_local_job_service_gives_the_same_corpus(in_process, portable):
    assert accepted(portable).equals(accepted(in_process))
    assert dicom_hashes(portable) == dicom_hashes(in_process) and len(dicom_hashes(portable)) == 2 * N
    assert manifest(portable)["status"] == "complete"
    assert manifest(portable)["counts"]["accepted"] == manifest(in_process)["counts"]["accepted"] == N


def test_extra_beam_options_reach_the_pipeline(portable):
    args = manifest(portable)["runner_args"]
    for option in ("--runner=PortableRunner", "--environment_type=LOOPBACK", "--experiments=medmint_test"):
        assert option in args, args


def test_two_workers_give_the_same_corpus(in_process, two_workers):
    """--workers 2 on FnApiRunner: two warm worker processes (pipeline/worker_pool.py)."""
    assert accepted(two_workers).equals(accepted(in_process))
    assert dicom_hashes(two_workers) == dicom_hashes(in_process)
    assert "--direct_num_workers=2" in manifest(two_workers)["runner_args"]


def test_beams_own_worker_processes_give_the_same_corpus(tmp_path, in_process):
    """Asked for by name, Beam's multi_processing mode still runs (fresh workers for every job)."""
    out = generated(tmp_path / "beam-workers", "--workers", "2", "--direct_running_mode=multi_processing")
    assert accepted(out).equals(accepted(in_process))
    assert dicom_hashes(out) == dicom_hashes(in_process)
    assert "--direct_running_mode=multi_processing" in manifest(out)["runner_args"]


def test_worker_count_is_not_part_of_the_run_identity(in_process, two_workers):
    assert manifest(two_workers)["config_sha256"] == manifest(in_process)["config_sha256"]


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--wrokers", "2"], "--wrokers: not a medmint or Beam option; did you mean --workers?"),
        (["--runner", "PortableRunner"], "--runner PortableRunner needs --job_endpoint"),
        (["--runner", "PortableRunner", "--job_endpoint=localhost:1"], "--environment_config=IMAGE"),
        (["--runner", "DataflowRunner", "--project", "p"], "needs --region, --temp_location"),
        (["--runner", "DataflowRunner", "--project", "p", "--region", "us-central1", "--temp_location", "gs://b/t",
          "--sdk_container_image", "r/medmint-sdk:1"], "DataflowRunner: not supported yet: its workers cannot write OUT"),
    ],
    ids=["misspelt-option", "portable-without-endpoint", "portable-docker-no-image", "dataflow-incomplete",
         "dataflow-cannot-write-out"],
)
def test_bad_runner_options_fail_in_one_line_before_out_exists(tmp_path, extra, expected):
    out = tmp_path / "out"
    proc = generate(out, *extra)
    assert proc.returncode == 2 and expected in error_line(proc)
    assert not out.exists()
