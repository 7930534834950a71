"""benchmarks/train_gpu.py, run on CPU with the tiny recipe: the checkpoint comes back in parts no
bigger than the limit, joins back byte-identical and verified, a changed part is named, and
train_gpu.json carries the stage timings.

The GPU recipe itself (configs/train/phantom-gpu.yaml) is only loaded here: CI has no GPU."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load_script

torch = pytest.importorskip("torch")

from medmint.config import load_train_config  # noqa: E402
from medmint.generators.diffusion.checkpoint import verify_checkpoint  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "train_gpu.py"
TINY = REPO / "configs" / "train" / "tiny.yaml"
PART_MIB = 0.05  # ~51 KiB: the tiny model (~140 KiB) and critic are cut into several parts


@pytest.fixture(scope="module")
def bench():
    return load_script(SCRIPT, "_train_gpu_under_test")


@dataclass(frozen=True)
class Run:
    out: Path
    checkpoint: Path  # the trained folder the parts were cut from
    result: dict[str, Any]
    printed: dict[str, Any]


@pytest.fixture(scope="module")
def run(bench, tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("train_gpu")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        result = bench.main(["--out", str(root / "out"), "--config", str(TINY), "--work", str(root / "work"),
                             "--part-mib", str(PART_MIB), "--set", "device=cpu"])
    return Run(root / "out", root / "work" / "checkpoint", result, json.loads(stdout.getvalue()))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_gpu_recipe_loads_and_is_the_one_the_script_defaults_to(bench):
    cfg = load_train_config(bench.DEFAULT_CONFIG)
    assert bench.DEFAULT_CONFIG == REPO / "configs" / "train" / "phantom-gpu.yaml"
    assert cfg.device == "cuda"
    assert cfg.classifier.extra_rare > 0 and cfg.sampler.per_modality
    assert load_train_config(bench.DEFAULT_CONFIG, ["device=cpu"]).device == "cpu"


def test_every_file_fits_and_parts_json_lists_the_split_files(bench, run):
    limit = int(PART_MIB * 2**20)
    assert run.result["part_bytes"] == limit
    assert all(p.stat().st_size <= limit for p in run.out.iterdir())
    manifest = json.loads((run.out / bench.PARTS).read_text())
    trained = {p.name: p.stat().st_size for p in run.checkpoint.iterdir()}
    split = {e["name"]: e for e in manifest["split"]}
    assert set(split) == {name for name, size in trained.items() if size > limit}
    assert "model.safetensors" in split and len(split["model.safetensors"]["parts"]) >= 2
    copied = {e["name"] for e in manifest["copied"]}
    assert copied == {name for name, size in trained.items() if size <= limit}
    expected = copied | {p["name"] for e in split.values() for p in e["parts"]}
    assert {p.name for p in run.out.iterdir()} == expected | {bench.PARTS, bench.RESULT}
    for name, entry in split.items():
        assert entry["size"] == trained[name] == sum(p["size"] for p in entry["parts"])
    assert run.result["split"] == {name: len(e["parts"]) for name, e in split.items()}


def test_join_is_byte_identical_and_verifies(bench, run, tmp_path, capsys):
    dest = bench.join_parts(run.out, tmp_path / "joined")
    assert dest == tmp_path / "joined"
    assert _files(dest) == _files(run.checkpoint)
    sha = run.result["checkpoint_sha256"]
    assert verify_checkpoint(dest).sha256 == verify_checkpoint(run.checkpoint).sha256 == sha
    printed = bench.main(["--join", str(run.out), "--dest", str(tmp_path / "again")])
    assert json.loads(capsys.readouterr().out) == printed
    assert printed["checkpoint_sha256"] == run.result["checkpoint_sha256"]


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_a_damaged_part_fails_naming_it(bench, run, tmp_path, damage):
    parts = tmp_path / "parts"
    shutil.copytree(run.out, parts)
    manifest = json.loads((parts / bench.PARTS).read_text())
    model = next(e for e in manifest["split"] if e["name"] == "model.safetensors")
    victim = parts / model["parts"][1]["name"]
    data = victim.read_bytes()
    if damage == "flip":
        victim.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    elif damage == "truncate":
        victim.write_bytes(data[:-1])
    else:
        victim.unlink()
    with pytest.raises(bench.JoinError) as err:
        bench.join_parts(parts, tmp_path / "joined")
    message = str(err.value)
    assert str(victim) in message and "\n" not in message
    assert not (tmp_path / "joined").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["parts"]  # no half-joined folder left behind


def test_a_changed_whole_file_fails_naming_it(bench, run, tmp_path):
    parts = tmp_path / "parts"
    shutil.copytree(run.out, parts)
    (parts / "medmint.json").write_text((parts / "medmint.json").read_text() + " ")
    with pytest.raises(bench.JoinError, match="medmint.json"):
        bench.join_parts(parts, tmp_path / "joined")


def test_train_gpu_json_has_the_stage_timings(bench, run):
    written = json.loads((run.out / bench.RESULT).read_text())
    assert run.printed == written == json.loads(json.dumps(run.result))
    log = bench.read_log(run.checkpoint / bench.LOG)
    stages = run.result["stage_seconds"]
    assert list(stages) == list(dict.fromkeys(e["stage"] for e in log))
    assert all(s >= 0 for s in stages.values())
    assert sum(stages.values()) <= run.result["total_seconds"] + 1e-6
    # after "done" only the log's copy and the work folder's removal are left
    assert run.result["total_seconds"] - sum(stages.values()) < 5
    logged = run.result["logged_seconds"]
    assert {"model", "done"} <= set(logged) and logged["done"] <= run.result["total_seconds"]
    assert not run.result["resumed"] and run.result["within_minutes"]
    steps = load_train_config(TINY).model.steps
    assert run.result["model"]["steps_done"] == run.result["model"]["steps_planned"] == steps
    assert (run.result["device"], run.result["torch"]) == ("cpu", torch.__version__)
    assert run.result["device_name"]
    assert (run.result["config"], run.result["overrides"]) == (str(TINY), ["device=cpu"])
    assert run.result["config_sha256"] == log[0]["config_sha256"]


def test_stage_seconds_run_from_one_stage_end_to_the_next(bench):
    entries = [{"stage": "start"}, {"stage": "model"}, {"stage": "model"}, {"stage": "done"}]
    assert bench.stage_seconds(entries, [0.5, 2.0, 3.0, 3.5]) == {"start": 0.5, "model": 2.5, "done": 0.5}
    resumed = [{"stage": "model"}, {"stage": "done"}, {"stage": "model"}]
    assert bench.stage_seconds(resumed, [1.0, 2.0, 4.0]) == {"model": 3.0, "done": 1.0}


def test_out_must_be_new_or_empty(bench, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("x")
    with pytest.raises(bench.PartsError, match="not an empty folder"):
        bench.main(["--out", str(tmp_path / "out"), "--config", str(TINY), "--set", "device=cpu"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_failed_run_leaves_no_out_folder(bench, tmp_path):
    from medmint.generators.diffusion.training import TrainingError

    with pytest.raises(TrainingError, match="cuda"):
        bench.main(["--out", str(tmp_path / "out"), "--config", str(TINY), "--set", "device=cuda"])
    assert not (tmp_path / "out").exists()
