"""`medmint evaluate` on a tiny checkpoint: every figure is present, finite and in range."""

import json
import math

import pytest

from medmint.config import load_train_config
from medmint.generators.diffusion.training import train
from tests.conftest import CONFIGS, medmint_cli


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("ev") / "tiny"
    train(load_train_config(CONFIGS / "train" / "tiny.yaml"), out, log=lambda e: None)
    return out


def test_evaluate_reports_every_task(ckpt, tmp_path):
    proc = medmint_cli("evaluate", str(ckpt), "--n", "6", "--device", "cpu", "--batch-size", "4",
                       "--out", str(tmp_path / "figures.json"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(proc.stdout)
    assert figures == json.loads((tmp_path / "figures.json").read_text())
    joint = figures["joint_conditional"]
    assert 0.0 <= joint["report_label_exact_match"] <= 1.0
    assert set(joint["image_vs_requested"]["per_label"]) >= {"Cardiomegaly", "Pleural Effusion"}
    assert 0.0 <= figures["joint_unconditional"]["image_report_agreement"] <= 1.0
    for task in ("report_from_image", "image_from_report"):
        assert "per_label" in figures[task]
    fd = figures["frechet"]
    assert fd["real_vs_real"] > 0 and math.isfinite(fd["generated_vs_real"]) and fd["ratio"] > 0
    assert set(figures["seconds_per_sample"]) == {"joint", "joint_unconditional", "report_from_image",
                                                  "image_from_report"}
    assert figures["feature_extractor"].startswith("medmint findings classifier")
    gates = figures["validators_on_joint"]
    assert 0.0 <= gates["accepted"] <= 1.0 and not gates["calibrated"]
    assert "privacy_nearest_training" in gates["gates_skipped"]  # uncalibrated: no privacy index
    roundtrip = figures["image_tokenizer_roundtrip"]
    assert roundtrip["n_images"] == 6 and roundtrip["psnr_db"] > 0
    assert 0.0 <= roundtrip["critic_label_agreement"] <= 1.0
    assert set(roundtrip["critic_per_label_agreement"]) == set(joint["image_vs_requested"]["per_label"])
    assert set(figures["critic_on_real"]["per_label"]) == set(joint["image_vs_requested"]["per_label"])
    # the ceilings measured at training, on the checkpoint's own held-out images, are printed too
    at_training = figures["ceilings_at_training"]
    assert at_training["n_images"] >= 1 and 0.0 <= at_training["roundtrip"]["same_labels"] <= 1.0
    assert set(at_training["critic"]["per_label"]) == set(json.loads((ckpt / "medmint.json").read_text())[
        "critics"]["findings"]["config"]["labels"])


def test_evaluate_missing_checkpoint(tmp_path):
    proc = medmint_cli("evaluate", str(tmp_path / "nope"))
    assert proc.returncode == 2 and "checkpoint folder not found" in proc.stderr


def test_evaluate_sampler_overrides_reach_the_sampler(ckpt):
    proc = medmint_cli("evaluate", str(ckpt), "--n", "2", "--device", "cpu", "--batch-size", "2",
                       "--sampler", "steps=3", "--sampler", "guidance=1.5", "--sampler", "temperature=0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    sampler = json.loads(proc.stdout)["sampler"]
    assert (sampler["steps"], sampler["guidance"], sampler["temperature"]) == (3, 1.5, 0)


@pytest.mark.parametrize("override, fault", [
    ("steps", "expected KEY=VALUE"),
    ("steps=abc", "sampler steps 'abc': expected int"),
    ("bogus=1", "unknown keys ['bogus']"),
])
def test_evaluate_bad_sampler_override(ckpt, override, fault):
    proc = medmint_cli("evaluate", str(ckpt), "--n", "2", "--device", "cpu", "--sampler", override)
    assert proc.returncode == 2 and fault in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
