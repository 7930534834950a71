"""`medmint generate` with the diffusion generator: a real (tiny) checkpoint through the Beam job."""

from __future__ import annotations

import json
import subprocess

import pyarrow.parquet as pq
import pydicom
import pytest

from medmint.config import load_train_config
from medmint.generators.diffusion.checkpoint import verify_checkpoint
from medmint.generators.diffusion.training import train
from tests.conftest import CONFIGS, medmint_cli, require_tool

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("ck") / "tiny"
    train(load_train_config(CONFIGS / "train" / "tiny.yaml"), out, log=lambda e: None)
    return out


def _generate(ckpt, out, *extra):
    return medmint_cli(
        "generate", str(CONFIGS / "demo-phantom.yaml"), "--out", str(out), "--set", "target.total=6",
        "--set", "generator.name=diffusion", "--set", f"generator.checkpoint={ckpt}", "--set", "generator.batch_size=4",
        "--no-audit", *extra)


def test_the_gates_reject_an_untrained_models_samples_with_reasons(ckpt, tmp_path):
    out = tmp_path / "gated"
    proc = _generate(ckpt, out, "--set", "target.budget.samples=6")
    assert proc.returncode == 3, proc.stderr[-3000:]  # finished short: nothing passed the gates
    assert "shortfall: total: 0 of 6 accepted" in proc.stderr
    rejected = [r for p in sorted((out / "data").glob("rejected-*.parquet")) for r in pq.read_table(p).to_pylist()]
    assert len(rejected) == 6 and not list(out.rglob("*.dcm"))
    assert all(r["reject_reasons"] and r["generator"] == "diffusion" for r in rejected)
    # a tiny uncalibrated checkpoint has a critic but no privacy index: those gates say so
    record = {v["name"]: v for v in json.loads((out / "run.json").read_text())["validators"]}
    assert record["consistency_image_report"]["used"] and not record["privacy_nearest_training"]["used"]


def test_generate_with_the_diffusion_model(ckpt, tmp_path):
    from medmint.validators.registry import VALIDATORS

    out = tmp_path / "run"
    # the tiny model draws noise and writes word salad: switch the gates off to test the plumbing
    proc = _generate(ckpt, out, *[a for name in VALIDATORS for a in ("--set", f"validators.{name}.enabled=false")])
    assert proc.returncode == 0, proc.stderr[-3000:]
    sha = verify_checkpoint(ckpt).sha256
    assert json.loads((out / "run.json").read_text())["checkpoint_sha256"] == sha
    rows = [r for p in sorted((out / "data").glob("accepted-*.parquet")) for r in pq.read_table(p).to_pylist()]
    assert len(rows) == 6
    assert {r["generator"] for r in rows} == {"diffusion"} and {r["checkpoint_sha256"] for r in rows} == {sha}
    assert all(dict(r["sampling"])["task"] == "joint" for r in rows)
    dciodvfy = require_tool("dciodvfy")
    for row in rows[:3]:
        dx = pydicom.dcmread(out / row["image_path"])
        assert (dx.Rows, dx.Columns) == (32, 32)
        check = subprocess.run([dciodvfy, str(out / row["image_path"])], capture_output=True, text=True)
        assert not [ln for ln in (check.stdout + check.stderr).splitlines() if ln.startswith("Error")]
