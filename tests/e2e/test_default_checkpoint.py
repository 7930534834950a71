"""The committed default checkpoint and the README's main command that uses it."""

from __future__ import annotations

import json
import os

import pyarrow.parquet as pq
import pytest

from medmint.generators.diffusion.checkpoint import verify_checkpoint
from tests.conftest import REPO, medmint_cli

pytestmark = pytest.mark.e2e

DEFAULT = REPO / "checkpoints" / "default"
N = 8


def test_the_default_checkpoint_is_small_verified_and_calibrated():
    info = verify_checkpoint(DEFAULT)  # every file against SHA256SUMS, format version
    size = sum(p.stat().st_size for p in DEFAULT.iterdir() if p.is_file())
    assert size <= 50 * 2**20, f"{size / 2**20:.1f} MiB"
    manifest = json.loads((DEFAULT / "medmint.json").read_text())
    calibration = manifest["validators"]["calibration"]
    assert calibration["accepted"] >= 0.98, calibration  # the bar on held-out real studies
    assert info.sha256 and not (DEFAULT / ".work").exists()


def test_the_readme_main_command_generates_with_the_default_checkpoint(tmp_path):
    out = tmp_path / "demo"
    # run from the repository root, as the README does (the config names checkpoints/default), with a
    # relative config and a relative OUT (an absolute one once hid a failure at the audit)
    proc = medmint_cli("generate", "configs/demo.yaml", "--out", os.path.relpath(out, REPO),
                       "--set", f"target.total={N}", "--set", "generator.batch_size=4", cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = json.loads((out / "run.json").read_text())
    assert run["checkpoint_sha256"] == verify_checkpoint(DEFAULT).sha256
    # calibrated: every gate runs, none is skipped for want of a critic or index
    skipped = [v for v in run["validators"] if not v["used"]]
    assert not skipped, skipped
    rows = [r for kind in ("accepted", "rejected") for p in sorted((out / "data").glob(f"{kind}-*.parquet"))
            for r in pq.read_table(p).to_pylist()]
    assert len(rows) == run["counts"]["generated"] and {r["generator"] for r in rows} == {"diffusion"}
    assert sum(r["accepted"] for r in rows) == run["counts"]["accepted"] == N  # rounds until N are accepted
    assert run["stopped_because"] == "every target met" and len(run["rounds"]) >= 2
    assert all(r["reject_reasons"] for r in rows if not r["accepted"])
    # a small model trained briefly on the CPU: its corpus passes every schema expectation, and the verdict
    # still must not read PASS; the first screen names the fitness checks it missed (exit 0: WARN)
    metrics = json.loads((out / "report" / "metrics.json").read_text())["verdict"]
    assert metrics["verdict"] == "WARN" and not metrics["failed"], metrics
    missed = [c["name"] for c in metrics["fitness"] if c["status"] == "warn"]
    assert any(name.startswith(("fidelity:", "labels:", "prevalence:")) for name in missed), metrics["fitness"]
    first_screen = (out / "report" / "index.html").read_text().split('<section id="counts">')[0]
    assert ">WARN<" in first_screen and all(name in first_screen for name in missed)
    assert proc.stdout.count("\n  WARN ") == len(missed) and "audit WARN:" in proc.stdout
