"""`medmint train` on the tiny config, and the diffusion generator sampling from what it wrote."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from medmint.config import load_train_config
from medmint.generators.diffusion.checkpoint import SUMS, CheckpointError, verify_checkpoint
from medmint.generators.diffusion.generator import DiffusionGenerator
from medmint.generators.diffusion.training import TrainingError, train
from medmint.records import SampleRequest
from tests.conftest import CONFIGS, error_line, medmint_cli

TINY = CONFIGS / "train" / "tiny.yaml"


def quiet(_entry):
    return None


class Kill(Exception):
    pass


def die_after_save(entry):
    """A crash after the step-10 save and before the end of the tiny run."""
    if entry.get("stage") == "model" and entry.get("step") == 11:
        raise Kill


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "ckpt"
    train(load_train_config(TINY), out, log=quiet)
    return out


def test_rare_finding_set_makes_each_requested_finding_present_and_is_reproducible():
    from medmint.generators.diffusion.training import rare_finding_set
    from medmint.records import CHEXPERT_LABELS

    wanted = ["Fracture", "Lung Lesion", "Consolidation"]
    a = rare_finding_set(7, 64, wanted, 6)
    for i, row in enumerate(a.labels):
        assert row[CHEXPERT_LABELS.index(wanted[i % 3])] == 1, (i, a.reports[i])
    assert not a.holdout.any()
    b = rare_finding_set(7, 64, wanted, 6)
    assert np.array_equal(a.images, b.images) and a.reports == b.reports
    assert not np.array_equal(rare_finding_set(8, 64, wanted, 6).images, a.images)


def test_critic_sees_the_extra_rare_studies(tiny_ckpt):
    log = [json.loads(line) for line in (tiny_ckpt / "train.log.jsonl").read_text().splitlines()]
    extra = [e for e in log if e.get("stage") == "classifier" and "extra_rare" in e]
    assert extra and extra[0]["extra_rare"] == load_train_config(TINY).classifier.extra_rare


def test_checkpoint_is_complete_and_described(tiny_ckpt):
    ckpt = verify_checkpoint(tiny_ckpt)
    listed = {line.split("  ")[1] for line in (tiny_ckpt / SUMS).read_text().splitlines()}
    assert listed == {"medmint.json", "model.safetensors", "image_tokenizer.safetensors",
                      "critic_findings.safetensors", "text_tokenizer.json"}
    m = ckpt.manifest
    summary = m["data_summary"]
    assert summary["n_train"] + summary["n_holdout"] == 48
    assert set(summary["prevalence"]) == set(summary["labels"]) and len(summary["cooccurrence"]) == 14
    combos = summary["combinations"]  # the rebalancer's reference: every training study in exactly one
    assert sum(c["count"] for c in combos) == summary["n_train"]
    for i, label in enumerate(summary["labels"][1:], start=1):  # every finding's count agrees with co-occurrence
        assert sum(c["count"] for c in combos if label in c["labels"]) == summary["cooccurrence"][i][i]
    assert m["training"]["model"]["steps_done"] == 12 and not m["training"]["model"]["stopped_early"]
    assert m["layout"]["image_tokens"] == 64 and m["layout"]["text_vocab"] == m["text_tokenizer"]["vocab_size"]
    assert m["critics"]["findings"]["config"]["thresholds"] is not None
    json.dumps(m, allow_nan=False)  # strict JSON: no NaN from empty-label metrics
    assert not (tiny_ckpt / ".work").exists()


def test_training_is_deterministic_and_resumes_exactly(tiny_ckpt, tmp_path):
    cfg = load_train_config(TINY)
    killed = tmp_path / "killed"

    with pytest.raises(Kill):
        train(cfg, killed, log=die_after_save)
    assert (killed / ".work" / "model_state.pt").exists() and not (killed / SUMS).exists()
    seen = []
    train(cfg, killed, log=seen.append)
    assert {"stage": "model", "resumed_at": 10} in seen
    for name in ("model.safetensors", "image_tokenizer.safetensors", "critic_findings.safetensors",
                 "text_tokenizer.json"):
        assert (killed / name).read_bytes() == (tiny_ckpt / name).read_bytes(), name


def test_snapshot_of_a_running_training_leaves_it_alone(tmp_path):
    cfg = load_train_config(TINY)
    run = tmp_path / "run"

    with pytest.raises(TrainingError, match="holds no unfinished training run"):
        train(cfg, run, log=quiet, snapshot_to=tmp_path / "snap0")
    with pytest.raises(Kill):
        train(cfg, run, log=die_after_save)
    before = {p.name: p.read_bytes() for p in (run / ".work").iterdir()}
    proc = medmint_cli("train", str(TINY), "--out", str(run), "--snapshot", str(tmp_path / "snap"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert {p.name: p.read_bytes() for p in (run / ".work").iterdir()} == before  # nothing in OUT changed
    snap = verify_checkpoint(tmp_path / "snap")
    assert snap.manifest["training"]["model"]["steps_done"] == 10
    assert "step 10" in snap.manifest["training"]["model"]["snapshot"]
    gen = DiffusionGenerator()
    gen.load(tmp_path / "snap", "cpu")
    (sample,) = gen.sample([SampleRequest(sample_id="x", seed=1, task="joint", findings={}, view="PA", sex="F", age=50)])
    assert sample.image.ndim == 2
    proc = medmint_cli("train", str(TINY), "--out", str(run), "--snapshot", str(tmp_path / "snap"))
    assert proc.returncode == 2 and "snapshot folder is not empty" in error_line(proc)
    seen = []
    train(cfg, run, log=seen.append)  # and the run itself resumes and finishes as before
    assert {"stage": "model", "resumed_at": 10} in seen and (run / SUMS).exists()


def test_out_folder_rules(tiny_ckpt, tmp_path):
    cfg = load_train_config(TINY)
    with pytest.raises(TrainingError, match="already holds a finished checkpoint"):
        train(cfg, tiny_ckpt, log=quiet)
    (tmp_path / "busy" / ".work").mkdir(parents=True)
    (tmp_path / "busy" / ".work" / "config_sha256").write_text("0" * 64)
    with pytest.raises(TrainingError, match="unfinished training run with another config"):
        train(cfg, tmp_path / "busy", log=quiet)
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "x.txt").write_text("mine")
    with pytest.raises(TrainingError, match="holds no medmint training run"):
        train(cfg, tmp_path / "foreign", log=quiet)


def test_cli_train_config_errors_name_the_key(tmp_path):
    proc = medmint_cli("train", str(TINY), "--out", str(tmp_path / "c"), "--set", "image_tokenizer.downsample=6")
    assert proc.returncode == 2 and "image_tokenizer" in error_line(proc) and "power of two" in error_line(proc)
    proc = medmint_cli("train", str(TINY), "--out", str(tmp_path / "c"), "--set", "model.num_heads=3")
    assert proc.returncode == 2 and "not divisible by num_heads 3" in error_line(proc)


def requests(task: str, n: int = 3, **extra) -> list[SampleRequest]:
    return [SampleRequest(sample_id=f"{task}{i}", seed=100 + i, task=task, findings={"Cardiomegaly": 1},
                          view="PA", sex="M", age=70, **extra) for i in range(n)]


@pytest.fixture(scope="module")
def generator(tiny_ckpt):
    g = DiffusionGenerator()
    g.load(tiny_ckpt, "cpu")
    return g


def test_joint_samples_are_images_and_reports_and_deterministic(generator, tiny_ckpt):
    first = generator.sample(requests("joint"))
    again = generator.sample(requests("joint"))
    assert all(s.image.shape == (32, 32) and s.image.dtype == np.uint16 for s in first)
    assert all(int(s.image.max()) < 2**s.bits_stored for s in first)
    for a, b in zip(first, again):
        assert a.image.tobytes() == b.image.tobytes() and a.report_text == b.report_text
    assert first[0].image.tobytes() != first[1].image.tobytes()  # different seeds differ
    assert first[0].checkpoint_sha256 == verify_checkpoint(tiny_ckpt).sha256
    assert first[0].generator == "diffusion" and first[0].sampling["task"] == "joint"


def test_conditional_tasks_keep_their_prompt(generator):
    report = "FINDINGS: Large right pleural effusion. IMPRESSION: Right effusion."
    out = generator.sample(requests("image_from_report", report_prompt=report))
    assert out[0].report_findings == "Large right pleural effusion." and out[0].report_impression == "Right effusion."
    image = out[0].image
    back = generator.sample(requests("report_from_image", n=1, image_prompt=image))
    prompt_as_decoded = generator.image_tokenizer.decode(generator.image_tokenizer.encode(image[None], 12))[0]
    assert np.array_equal(back[0].image, prompt_as_decoded)
    with pytest.raises(ValueError, match="needs a report prompt"):
        generator.sample(requests("image_from_report", n=1))


def test_corrupt_checkpoint_fails_to_load_with_the_file_named(tiny_ckpt, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_ckpt, broken)
    with open(broken / "image_tokenizer.safetensors", "r+b") as fh:
        fh.seek(200)
        fh.write(b"\x00\x01\x02")
    with pytest.raises(CheckpointError, match=r"image_tokenizer\.safetensors: SHA-256 mismatch"):
        DiffusionGenerator().load(broken, "cpu")
