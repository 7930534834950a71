"""The metrics library: each figure moves the way its definition says it must."""

from __future__ import annotations

import numpy as np
import pytest

from medmint.validators.metrics import (METEOR_FALLBACK, bleu, frechet_distance, label_f1, meteor, meteor_exact,
                                        precision_recall_knn, rouge_l)

REF = ["there is a small left pleural effusion and the heart is mildly enlarged",
       "no pneumothorax is seen and the lungs are clear"]


def test_bleu_is_one_on_identity_and_falls_with_order_on_a_shuffled_text():
    assert all(v == pytest.approx(1.0) for v in bleu(REF, REF).values())
    shuffled = [" ".join(reversed(r.split())) for r in REF]
    scores = bleu(shuffled, REF)
    assert scores["bleu1"] == pytest.approx(1.0) and scores["bleu4"] < 0.2
    assert scores["bleu1"] >= scores["bleu2"] >= scores["bleu3"] >= scores["bleu4"]


def test_rouge_l_and_meteor_order_a_close_and_a_far_hypothesis():
    close = ["there is a small left pleural effusion and the heart is enlarged", "no pneumothorax and the lungs are clear"]
    far = ["support devices unchanged", "rib fracture"]
    assert rouge_l(REF, REF) == pytest.approx(1.0)
    assert rouge_l(close, REF) > rouge_l(far, REF) > -1e-9
    assert meteor(close, REF)["meteor"] > meteor(far, REF)["meteor"]
    assert meteor(REF, REF)["implementation"] == METEOR_FALLBACK


def test_meteor_fragmentation_penalty():
    ref = "a b c d e f"
    assert meteor_exact("a b c d e f", ref) > meteor_exact("f e d c b a", ref) > 0
    assert meteor_exact("x y z", ref) == 0.0


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="1 hypotheses for 2 references"):
        bleu(REF[:1], REF)


def test_precision_recall_separate_fidelity_from_coverage():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(400, 4))
    collapsed = rng.normal(scale=0.2, size=(400, 4))  # faithful but covers little
    off = rng.normal(loc=6.0, size=(400, 4))  # covers nothing real
    same = precision_recall_knn(real, rng.normal(size=(400, 4)))
    c = precision_recall_knn(real, collapsed)
    o = precision_recall_knn(real, off)
    assert same["precision"] > 0.8 and same["recall"] > 0.8
    assert c["precision"] > 0.9 and c["recall"] < 0.5
    assert o["precision"] < 0.05 and o["recall"] < 0.05
    with pytest.raises(ValueError, match="more than 3 samples"):
        precision_recall_knn(real[:3], real)


def test_frechet_distance_grows_with_a_mean_shift():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(500, 8)), rng.normal(size=(500, 8))
    assert frechet_distance(a, b) < frechet_distance(a, b + 1.0)


def test_label_f1_micro_and_macro():
    pred = [{"Edema": 1, "Cardiomegaly": 0}, {"Edema": 1, "Cardiomegaly": 1}]
    ref = [{"Edema": 1, "Cardiomegaly": 1}, {"Edema": 0, "Cardiomegaly": 1}]
    out = label_f1(pred, ref, ["Edema", "Cardiomegaly"])
    assert out["per_label"]["Edema"]["f1"] == pytest.approx(2 / 3)
    assert out["per_label"]["Cardiomegaly"]["f1"] == pytest.approx(2 / 3)
    assert out["micro_f1"] == pytest.approx(2 / 3) and out["macro_f1"] == pytest.approx(2 / 3)
