"""Findings classifier (the checkpoint's critic): learning, calibration, features, persistence."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from medmint.generators.phantom import sample_case
from medmint.generators.phantom.sampler import labels_for_seed
from medmint.validators.findings_classifier import (
    DRAWABLE_FINDINGS,
    FindingsClassifier,
    FindingsClassifierConfig,
    augment_batch,
    calibrate_thresholds,
    label_certain,
    classifier_report,
    label_targets,
    roc_auc,
    train_findings_classifier,
)

SMALL = FindingsClassifierConfig(resolution=64, channels=(8, 16, 32, 64), feature_dim=128)
TINY = FindingsClassifierConfig(resolution=32, channels=(4, 8, 8, 8), feature_dim=16, pool=2)
CARDIO, EFFUSION = DRAWABLE_FINDINGS.index("Cardiomegaly"), DRAWABLE_FINDINGS.index("Pleural Effusion")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _phantom_set(n: int, first_seed: int):
    """n phantom films (128 px) with the usual label mix, Cardiomegaly and Pleural Effusion each
    present in about half. Small effusions are left out: at 64 px one is a dozen pixels, which a
    few hundred steps on 200 images cannot be expected to learn (the full-size model is measured
    separately)."""
    images, labels = [], []
    seed = first_seed
    while len(images) < n:
        rng = np.random.default_rng([seed, 99])
        findings = {k: v for k, v in labels_for_seed(seed).items() if k != "No Finding"}
        findings["Cardiomegaly"] = int(rng.random() < 0.5)
        findings["Pleural Effusion"] = int(rng.random() < 0.5)
        case = sample_case(seed, size=128, findings=findings)
        seed += 1
        if case.details.get("Pleural Effusion", {}).get("severity") == "small":
            continue
        images.append(case.image)
        labels.append(case.labels)
    return np.stack(images), labels


@pytest.fixture(scope="module")
def data():
    train = _phantom_set(200, 0)
    held_out = _phantom_set(100, 10_000)
    return train, held_out


@pytest.fixture(scope="module")
def trained(data):
    (images, labels), _ = data
    return train_findings_classifier(images, labels, SMALL, steps=400, batch_size=32, lr=4e-3, seed=0)


# --- helpers ------------------------------------------------------------------------------------


def test_roc_auc_matches_pairwise_counting():
    rng = np.random.default_rng(0)
    scores = np.round(rng.random(60), 1)  # plenty of ties
    y = rng.random(60) < 0.4
    pos, neg = scores[y], scores[~y]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    brute = wins / (len(pos) * len(neg))
    assert math.isclose(roc_auc(scores, y), brute)
    assert roc_auc([0.1, 0.9], [0, 1]) == 1.0 and roc_auc([0.9, 0.1], [0, 1]) == 0.0
    assert math.isnan(roc_auc([0.1, 0.2], [0, 0]))


def test_label_targets_positive_vs_everything_else():
    dicts = [{"Cardiomegaly": 1, "Pleural Effusion": -1}, {"Cardiomegaly": 0, "Pleural Effusion": None}, {}]
    assert label_targets(dicts, ("Cardiomegaly", "Pleural Effusion")).tolist() == [[1, 0], [0, 0], [0, 0]]
    matrix = np.array([[1, np.nan], [-1, 1]])
    assert label_targets(matrix, ("a", "b")).tolist() == [[1, 0], [0, 1]]
    with pytest.raises(ValueError):
        label_targets(matrix, ("a", "b", "c"))


def test_calibrate_thresholds_maximises_f1():
    probs = np.array([[0.9, 0.2, 0.7], [0.8, 0.3, 0.7], [0.4, 0.1, 0.7], [0.35, 0.6, 0.7], [0.1, 0.4, 0.7]])
    labels = np.array([[1, 0, 1], [1, 0, 0], [1, 0, 1], [0, 0, 0], [0, 0, 1]])
    th = calibrate_thresholds(probs, labels)
    assert 0.35 < th[0] <= 0.4  # all three positives above, the negatives below: F1 = 1
    assert th[1] == 0.5  # no positives held out: the default stays
    assert th[2] <= 0.7  # tied scores cannot be split: all-positive is the best F1 (0.75)
    pred = probs >= th
    assert pred[:, 0].tolist() == [True, True, True, False, False]
    with pytest.raises(ValueError):
        calibrate_thresholds(probs, labels[:, :2])


def test_config_json_round_trip_and_validation():
    cfg = FindingsClassifierConfig(thresholds=[0.3] * len(DRAWABLE_FINDINGS))
    assert FindingsClassifierConfig.from_json(cfg.to_json()) == cfg
    assert FindingsClassifierConfig().labels == DRAWABLE_FINDINGS and "No Finding" not in DRAWABLE_FINDINGS
    with pytest.raises(ValueError):
        FindingsClassifierConfig(thresholds=(0.5, 0.5))
    with pytest.raises(ValueError):
        FindingsClassifierConfig.from_json({**cfg.to_json(), "colour": "blue"})


def test_augmentation_never_mirrors():
    x = -torch.ones(64, 1, 32, 32)
    x[:, :, 12:20, 3:9] = 1.0  # a bright patch on the image's left
    out = augment_batch(x, FindingsClassifierConfig(resolution=32), torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.min() >= -1 and out.max() <= 1
    bright_col = (out[:, 0] > 0.3).float().sum(dim=1).argmax(dim=1)
    assert (bright_col < 12).all()  # the patch stays on the left in every draw
    assert not torch.equal(out[0], out[1])  # and the draws do differ


# --- the model ----------------------------------------------------------------------------------


def test_untrained_shapes_and_determinism(data):
    (images, _), _ = data
    model = FindingsClassifier(SMALL)
    p = model.predict_proba(images[:6], 12)
    assert p.shape == (6, len(DRAWABLE_FINDINGS)) and p.dtype == np.float32 and ((p > 0) & (p < 1)).all()
    assert np.array_equal(p, model.predict_proba(images[:6], 12))
    assert np.allclose(p[2:3], model.predict_proba(images[2:3], 12), atol=1e-6)  # batch-independent
    f = model.features(images[:6], 12)
    assert f.shape == (6, 128) and np.isfinite(f).all()
    assert FindingsClassifier().features(images[:2], 12).shape == (2, 256)  # default embedding size
    both = model.features_and_proba(images[:6], 12)  # one pass for the validators: the very same numbers
    assert np.array_equal(both[0], f) and np.array_equal(both[1], p)


def test_short_training_reads_cardiomegaly_and_effusion(trained, data):
    model, history = trained
    _, (images, labels) = data
    y = label_targets(labels, model.labels)
    probs = model.predict_proba(images, 12)
    auc_cardio = roc_auc(probs[:, CARDIO], y[:, CARDIO])
    auc_effusion = roc_auc(probs[:, EFFUSION], y[:, EFFUSION])
    assert auc_cardio > 0.8 and auc_effusion > 0.8, (auc_cardio, auc_effusion)
    assert np.mean(history["loss"][-20:]) < 0.6 * np.mean(history["loss"][:20])
    assert history["state"]["step"] == 400 and len(history["pos_weight"]) == len(DRAWABLE_FINDINGS)
    report = classifier_report(model, images, labels, 12)
    assert math.isclose(report["labels"]["Cardiomegaly"]["auc"], auc_cardio)


def test_calibrated_thresholds_are_stored_used_and_saved(trained, data, tmp_path):
    from safetensors.torch import load_file, save_file

    trained_model, _ = trained
    _, (images, labels) = data
    model = FindingsClassifier.load(trained_model.to_json(), trained_model.state_dict())
    th = model.calibrate(images[:50], labels[:50], 12)
    assert th.shape == (len(DRAWABLE_FINDINGS),) and ((th > 0) & (th < 1)).all()
    assert model.to_json()["thresholds"] == pytest.approx(th.tolist())
    assert trained_model.cfg.thresholds is None  # calibrating a copy leaves the original alone

    probs = model.predict_proba(images[50:], 12)
    pred = model.predict(images[50:], 12)
    assert np.array_equal(pred, probs >= th)
    y = label_targets(labels[50:], model.labels).astype(bool)
    tp = (pred[:, CARDIO] & y[:, CARDIO]).sum()
    assert 2 * tp / (pred[:, CARDIO].sum() + y[:, CARDIO].sum()) > 0.8  # F1 on data not used to calibrate

    readings = model.predict_labels(images[50:], 12)
    assert all(set(r) == {*DRAWABLE_FINDINGS, "No Finding"} for r in readings)
    assert all(r["No Finding"] == int(not row.any()) for r, row in zip(readings, pred))

    save_file(model.state_dict(), tmp_path / "critic.safetensors")
    loaded = FindingsClassifier.load(model.to_json(), load_file(tmp_path / "critic.safetensors"))
    assert np.array_equal(loaded.cfg.decision_thresholds, model.cfg.decision_thresholds)
    assert np.array_equal(loaded.predict(images[50:], 12), pred)
    assert np.array_equal(loaded.features(images[50:55], 12), model.features(images[50:55], 12))


def test_features_separate_cardiomegaly(trained, data):
    model, _ = trained
    _, (images, labels) = data
    f = model.features(images, 12)
    y = label_targets(labels, model.labels)[:, CARDIO].astype(bool)
    # nearest class mean in feature space (no probe training) already reads the finding
    mu1, mu0 = f[y].mean(0), f[~y].mean(0)
    guess = np.linalg.norm(f - mu1, axis=1) < np.linalg.norm(f - mu0, axis=1)
    assert (guess == y).mean() > 0.75


def test_training_rejects_mismatched_labels_and_resumes_exactly(data):
    (images, labels), _ = data
    with pytest.raises(ValueError):
        train_findings_classifier(images[:10], labels[:9], TINY, steps=1)
    kwargs = dict(batch_size=4, lr=3e-3, seed=2)
    straight, h_straight = train_findings_classifier(images[:12], labels[:12], TINY, steps=6, **kwargs)
    _, h_first = train_findings_classifier(images[:12], labels[:12], TINY, steps=6, stop_at=2, **kwargs)
    resumed, h_rest = train_findings_classifier(images[:12], labels[:12], TINY, steps=6,
                                                resume_state=h_first["state"], **kwargs)
    assert h_first["step"] == [1, 2] and h_rest["step"] == [3, 4, 5, 6]
    assert h_first["loss"] + h_rest["loss"] == h_straight["loss"]
    assert all(torch.equal(v, resumed.state_dict()[k]) for k, v in straight.state_dict().items())


# --- the image-vs-report gate with a critic that can see ----------------------------------------


def _sample(case, report_case=None):
    from medmint.records import GeneratedSample, SampleRequest

    reporter = report_case or case
    findings, impression = " ".join(reporter.findings.split()), " ".join(reporter.impression.split())
    request = SampleRequest(sample_id=f"c{id(case)}", seed=1, task="joint", findings=case.labels, view="PA", sex="F",
                            age=50)
    return GeneratedSample(request=request, image=case.image, bits_stored=12, report_findings=findings,
                           report_impression=impression, generator="test", checkpoint_sha256=None, sampling={},
                           seconds=0.0)


def test_image_of_one_finding_with_a_report_of_another_is_rejected(trained):
    from medmint.validators.base import Batch, ValidationContext
    from medmint.validators.calibration import _finding_bounds
    from medmint.validators.consistency import ImageMatchesReport

    model, _ = trained
    ctx = ValidationContext(critic=model)
    held = [_sample(sample_case(20_000 + i, size=128,
                                findings={"Cardiomegaly": i % 2, "Pleural Effusion": 1 - i % 2}))
            for i in range(80)]
    batch = Batch(held, ctx)
    bounds = _finding_bounds(batch.critic_probs, batch.report_labels, list(model.labels), tail=0.0)
    low = {f: b["low"] / 1.5 for f, b in bounds.items()}
    high = {f: 1 - (1 - b["high"]) / 1.5 for f, b in bounds.items()}
    gate = ImageMatchesReport(ctx, low=low, high=high)
    assert all(v.passed for v in gate.judge(batch))  # real pairs pass
    # a large heart with a report of an effusion and a normal heart (and the other way round)
    cardio = [sample_case(30_000 + i, size=128, findings={"Cardiomegaly": 1, "Pleural Effusion": 0}) for i in range(10)]
    effusion = [sample_case(31_000 + i, size=128, findings={"Cardiomegaly": 0, "Pleural Effusion": 1})
                for i in range(10)]
    swapped = [_sample(a, b) for a, b in zip(cardio, effusion)] + [_sample(b, a) for a, b in zip(cardio, effusion)]
    verdicts = gate.judge(Batch(swapped, ctx))
    assert not any(v.passed for v in verdicts), [v.reason for v in verdicts if v.passed]
    assert all("Cardiomegaly" in v.reason for v in verdicts)


def test_uncertain_labels_are_left_out_of_thresholds_and_figures():
    names = ("A", "B")
    rows = [{"A": 1, "B": -1}, {"A": -1, "B": 0}, {"A": 0, "B": None}]
    assert label_certain(rows, names).tolist() == [[True, False], [False, True], [True, True]]
    assert label_certain(np.array([[1.0, -1.0], [np.nan, 0.0]]), names).tolist() == [[True, False], [True, True]]
    # an uncertain row scored high would pull the threshold down if it counted as a negative
    probs = np.array([[0.9], [0.7], [0.6], [0.5], [0.2]])
    labels = np.array([[1], [-1], [-1], [1], [0]])
    assert calibrate_thresholds(probs, labels)[0] == pytest.approx(0.8)  # as negatives: the faint positive lost
    masked = np.where(labels == -1, np.nan, probs)
    assert calibrate_thresholds(masked, labels)[0] == pytest.approx(0.35)  # left out: both positives kept
