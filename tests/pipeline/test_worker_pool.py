"""Warm worker processes: kept for every part of a run, the same corpus as one process, nothing left
running after the run ends or the driver is killed, and one clear error when a worker cannot start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from medmint.config import GeneratorConfig
from medmint.pipeline import handler
from medmint.pipeline.handler import GeneratorModelHandler
from medmint.pipeline.runners import runner_args, warm_workers
from medmint.pipeline.worker_pool import WorkerPool, WorkerPoolError
from tests.conftest import CONFIGS, REPO

N = 12
OVERRIDES = [f"target.total={N}", "generator.phantom.size=64", "output.shard_rows=4"]  # 3 parts


def running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_until_gone(pids: list[int], timeout: float = 60.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (alive := [p for p in pids if running(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def accepted(out: Path) -> pa.Table:
    shards = sorted((out / "data").glob("accepted-*.parquet"))
    return pa.concat_tables([pq.read_table(p) for p in shards]).drop_columns(["created_at"]).sort_by("sample_id")


@pytest.mark.parametrize(("args", "want"), [
    (["--runner=FnApiRunner", "--direct_num_workers=2"], 2),
    (["--runner=FnApiRunner", "--direct_num_workers=1"], 0),
    (["--runner=FnApiRunner"], 0),
    (["--runner=FnApiRunner", "--direct_num_workers=2", "--direct_running_mode=multi_processing"], 0),
    (["--runner=FnApiRunner", "--direct_num_workers=2", "--environment_type=LOOPBACK"], 0),
    (["--runner=DirectRunner", "--direct_num_workers=2"], 0),
])
def test_only_fnapi_runner_with_several_workers_of_its_own_gets_warm_workers(args, want):
    assert warm_workers(args) == want


def test_workers_on_fnapi_runner_ask_for_warm_workers_and_beams_mode_stays_available():
    from medmint.config import MedmintConfig

    cfg = MedmintConfig.model_validate({"target": {"total": 4}, "runner": {"workers": 2}})
    assert warm_workers(runner_args(cfg, [])) == 2
    own = runner_args(cfg, ["--direct_running_mode=multi_processing"])
    assert warm_workers(own) == 0 and "--direct_num_workers=2" in own


def test_a_loaded_generator_is_kept_for_the_next_part_and_reloaded_when_the_checkpoint_changes(
        tmp_path, monkeypatch):
    loads: list[Path | None] = []

    class Stub:
        def load(self, checkpoint_dir, device):
            loads.append(checkpoint_dir)

    monkeypatch.setattr(handler, "_LOADED", {})
    monkeypatch.setattr("medmint.generators.registry.create_generator", lambda cfg: Stub())
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "model.safetensors").write_bytes(b"one")
    cfg = GeneratorConfig(name="diffusion", checkpoint=str(ckpt), device="cpu")
    first = GeneratorModelHandler(cfg).load_model()
    assert GeneratorModelHandler(cfg).load_model() is first and len(loads) == 1
    (ckpt / "model.safetensors").write_bytes(b"two, rewritten in place")
    assert GeneratorModelHandler(cfg).load_model() is not first and len(loads) == 2
    other = cfg.model_copy(update={"batch_size": cfg.batch_size + 1})
    assert GeneratorModelHandler(other).load_model() is not first and len(loads) == 3


def test_a_kept_diffusion_generator_samples_the_same_requests_the_same_way(monkeypatch):
    """Keeping the model is only right if sampling leaves nothing behind for the next part."""
    torch = pytest.importorskip("torch")
    from medmint.config import load_config
    from medmint.pipeline.planning import plan_requests

    monkeypatch.setattr(handler, "_LOADED", {})
    cfg = load_config(CONFIGS / "demo.yaml", ["target.total=2"])
    before = torch.get_num_threads()
    try:
        model = GeneratorModelHandler(cfg.generator, threads=1).load_model()
        requests = plan_requests(cfg)[:2]
        first = model.sample(requests)
        model.sample(list(reversed(requests)))  # another part in between
        again = GeneratorModelHandler(cfg.generator, threads=1).load_model().sample(requests)
    finally:
        torch.set_num_threads(before)
    assert [s.report_findings for s in first] == [s.report_findings for s in again]
    assert [s.image.tobytes() for s in first] == [s.image.tobytes() for s in again]


def test_a_run_keeps_its_worker_processes_for_every_part_and_stops_them_at_the_end(tmp_path, monkeypatch):
    from medmint.pipeline.driver import generate

    seen: list[tuple[list[int], list[int]]] = []
    runner = WorkerPool.runner

    def spy(pool: WorkerPool):
        made = runner(pool)
        seen.append((pool.pids(), pool.harnesses_started()))
        return made

    monkeypatch.setattr(WorkerPool, "runner", spy)
    config = CONFIGS / "demo-phantom.yaml"
    generate(config, tmp_path / "one", overrides=OVERRIDES)
    generate(config, tmp_path / "two", overrides=[*OVERRIDES, "runner.workers=2"])

    assert len(seen) == 3  # one job per part
    pids = seen[0][0]
    assert len(pids) == 2 and all(p == pids for p, _ in seen)  # the same two processes throughout
    assert seen[-1][1] == [2, 2]  # before the third job: each hosted one harness per earlier job
    assert wait_until_gone(pids, timeout=0.0) == []  # generate returned: both processes have exited
    assert accepted(tmp_path / "two").equals(accepted(tmp_path / "one"))
    run = json.loads((tmp_path / "two" / "run.json").read_text())
    assert "--direct_num_workers=2" in run["runner_args"] and run["counts"]["accepted"] == N


def test_worker_processes_exit_when_the_driver_is_killed(tmp_path):
    script = (
        "import sys\n"
        "from medmint.config import GeneratorConfig\n"
        "from medmint.pipeline.worker_pool import WorkerPool\n"
        "pool = WorkerPool(2, GeneratorConfig(name='phantom'), threads=1).start()\n"
        "pool.runner()\n"
        "print(*pool.pids(), flush=True)\n"
        "sys.stdin.read()\n"
    )
    driver = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=REPO)
    try:
        line = driver.stdout.readline() if driver.stdout else ""
        pids = [int(p) for p in line.split()]
        assert len(pids) == 2 and all(running(p) for p in pids), line
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
        assert wait_until_gone(pids) == []
    finally:
        driver.kill()
        driver.wait()


def test_a_worker_that_cannot_start_is_one_error_naming_it(tmp_path):
    broken = GeneratorConfig(name="diffusion", checkpoint=str(tmp_path / "no-such-checkpoint"), device="cpu")
    with WorkerPool(1, broken, threads=1) as pool:
        pids = pool.pids()
        with pytest.raises(WorkerPoolError, match=r"^worker process 1 of 1 exited with status 1: CheckpointError: .*no-such-checkpoint: checkpoint folder not found$"):
            pool.runner()
    assert wait_until_gone(pids, timeout=0.0) == []


def test_a_worker_process_killed_mid_run_stops_the_run_in_one_line_and_a_rerun_finishes_it(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from medmint.cli import app
    from medmint.pipeline.driver import generate

    config, out = CONFIGS / "demo-phantom.yaml", tmp_path / "killed"
    overrides = [*OVERRIDES, "runner.workers=2"]
    runner, jobs = WorkerPool.runner, []

    def kill_before_the_second_job(pool: WorkerPool):
        jobs.append(pool.pids())
        if len(jobs) == 2:
            os.kill(pool.pids()[1], signal.SIGKILL)
            assert wait_until_gone(pool.pids()[1:]) == []
        return runner(pool)

    monkeypatch.setattr(WorkerPool, "runner", kill_before_the_second_job)
    sets = [a for o in overrides for a in ("--set", o)]
    result = CliRunner().invoke(app, ["generate", str(config), "--out", str(out), "--no-audit", *sets])
    assert result.exit_code == 4, result.output
    assert result.stderr.strip().splitlines()[-1] == (
        "medmint: error: worker process 2 of 2 exited (status -9) during part r000-00001; the parts before it "
        "are kept: rerun the same command to resume")
    assert wait_until_gone(jobs[0], timeout=0.0) == []  # the other one was stopped too
    assert len(list((out / "data").glob("accepted-*.parquet"))) == 1  # the first part is kept

    monkeypatch.setattr(WorkerPool, "runner", runner)
    generate(config, out, overrides=overrides)
    generate(config, tmp_path / "whole", overrides=overrides)
    assert accepted(out).equals(accepted(tmp_path / "whole"))
