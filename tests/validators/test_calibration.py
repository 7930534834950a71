"""`medmint validators calibrate` on a tiny checkpoint: thresholds and index land in the checkpoint,
the checkpoint still verifies, held-out studies are accepted, and training copies are caught."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest

from medmint.config import load_train_config
from medmint.generators.diffusion.checkpoint import update_checkpoint, verify_checkpoint
from medmint.generators.diffusion.training import train
from tests.conftest import CONFIGS, error_line, medmint_cli


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    out = tmp_path_factory.mktemp("cal") / "tiny"
    # enough studies (300 train, 100 held out) for tail quantiles and a report vocabulary to mean something
    train(load_train_config(CONFIGS / "train" / "tiny.yaml", ["data.n=400"]), out, log=lambda e: None)
    # as a checkpoint trained before data summaries listed label combinations: calibration fills them in
    summary = verify_checkpoint(out).manifest["data_summary"]
    combos = summary.pop("combinations")
    update_checkpoint(out, {"data_summary": summary})
    before = verify_checkpoint(out).sha256
    proc = medmint_cli("validators", "calibrate", str(out), "--n", "100")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert verify_checkpoint(out).manifest["data_summary"]["combinations"] == combos
    return out, before, json.loads(proc.stdout)


def test_calibration_is_written_into_a_checkpoint_that_still_verifies(calibrated):
    out, before, printed = calibrated
    ckpt = verify_checkpoint(out)
    assert ckpt.sha256 == printed["checkpoint_sha256"] != before
    record = ckpt.manifest["validators"]
    assert (out / "privacy_index.safetensors").is_file() and "privacy_index.safetensors" in (out / "SHA256SUMS").read_text()
    assert record["calibration"]["accepted"] >= 0.98 and printed["accepted"] == record["calibration"]["accepted"]
    assert record["settings"]["image_noise"]["threshold"] > 0
    # the training reports' word statistics for report_wellformed, beside the privacy index
    assert "report_ngrams.safetensors" in (out / "SHA256SUMS").read_text()
    assert record["files"] == ["privacy_index.safetensors", "report_ngrams.safetensors"]
    assert (out / "report_ngrams.safetensors").stat().st_size < 256 * 1024
    assert record["calibration"]["report_ngrams"]["sentences"] > 300
    from medmint.validators.report_wellformed import WellFormed

    assert 0 < record["settings"]["report_wellformed"]["threshold"] <= WellFormed.default_threshold
    assert set(record["settings"]["consistency_image_report"]["low"]) == set(ckpt.manifest["critics"]["findings"]["config"]["labels"])


def test_a_calibrated_run_uses_every_gate_and_catches_training_copies(calibrated):
    from medmint.generators.diffusion.training import build_training_set
    from medmint.config import TrainConfig
    from medmint.validators.calibration import _held_out_samples
    from medmint.validators.context import load_context
    from medmint.validators.registry import plan_validators, validate

    out, _, _ = calibrated
    ctx, settings = load_context(out)
    validators, record = plan_validators({}, settings, ctx)
    assert all(r["used"] for r in record), [r for r in record if not r["used"]]
    wellformed = next(r for r in record if r["name"] == "report_wellformed")
    assert wellformed["calibrated"] and wellformed["statistics"]["sentences"] > 300, wellformed
    ts = build_training_set(TrainConfig.model_validate(verify_checkpoint(out).manifest["training"]["config"]),
                            lambda e: None)
    train_rows = np.flatnonzero(~ts.holdout)[:6]
    copies = _held_out_samples(ts, train_rows)
    rng = np.random.default_rng(0)
    noisy = [dataclasses.replace(s, image=np.clip(s.image + rng.normal(0, 8, s.image.shape), 0, 4095).astype(np.uint16))
             for s in copies]
    for sample in validate(copies + noisy, validators, ctx):
        assert not sample.accepted
        assert any(r.startswith("privacy_nearest_training") for r in sample.reject_reasons), sample.reject_reasons


def test_calibrating_a_missing_or_corrupt_checkpoint_is_one_line(calibrated, tmp_path):
    proc = medmint_cli("validators", "calibrate", str(tmp_path / "nope"))
    assert proc.returncode == 2 and "checkpoint folder not found" in error_line(proc)
    bad = tmp_path / "bad"
    shutil.copytree(calibrated[0], bad)
    (bad / "privacy_index.safetensors").write_bytes(b"x")
    proc = medmint_cli("validators", "calibrate", str(bad))
    assert proc.returncode == 2 and "privacy_index.safetensors: SHA-256 mismatch" in error_line(proc)
