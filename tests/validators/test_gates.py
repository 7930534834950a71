"""Quality, consistency and privacy gates on real phantom samples and on deliberately broken ones.

Real (held-out) phantom samples must pass; each broken class must be rejected by the gate that
names its fault, and only for reasons that fit it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from medmint.validators.base import ValidationContext
from medmint.validators.privacy import NgramIndex, nearest_distances
from medmint.validators.registry import VALIDATORS, build_validators, validate
from tests.conftest import phantom_samples

NO_CHECKPOINT = {name: {"enabled": False} for name in
                 ("image_ood", "consistency_image_report", "privacy_nearest_training", "privacy_training_text")}


@pytest.fixture(scope="module")
def real():
    return phantom_samples(120, seed=7, size=128, prefix="held")


@pytest.fixture(scope="module")
def gates():
    ctx = ValidationContext()
    return ctx, build_validators(NO_CHECKPOINT, ctx)


def test_real_phantom_samples_pass(real, gates):
    ctx, validators = gates
    out = validate(real, validators, ctx)
    rejected = [(o.generated.request.sample_id, o.reject_reasons) for o in out if not o.accepted]
    assert len(rejected) <= 0.02 * len(real), rejected
    assert set(out[0].scores) == {v.name for v in validators}


def _with_image(sample, image):
    return dataclasses.replace(sample, image=np.asarray(image).astype(np.uint16))


def _broken(kind: str, s, rng):
    full = (1 << s.bits_stored) - 1
    im = s.image.astype(np.float64)
    if kind == "blank":
        return _with_image(s, np.full_like(im, 1200))
    if kind == "saturated":
        return _with_image(s, np.where(im > np.median(im), full, 0))
    if kind == "noise":
        return _with_image(s, rng.uniform(0, full, im.shape))
    if kind == "repeated":
        first = s.report_findings.split(". ")[0].rstrip(".") + ". "
        return dataclasses.replace(s, report_findings=first * 4 + s.report_findings)
    if kind == "phi":
        return dataclasses.replace(s, report_impression=s.report_impression + " Discussed with Dr. Helen Okafor at 14:32.")
    if kind == "empty_impression":
        return dataclasses.replace(s, report_impression="")
    if kind == "garbled":
        return dataclasses.replace(s, report_findings="pneumthxrrr@@ ##opac9ity ]]] " * 3 + s.report_findings)
    if kind == "doubled_word":
        first, _, rest = s.report_findings.partition(" ")
        return dataclasses.replace(s, report_findings=f"{first} {rest.split(' ')[0]} {rest}")
    if kind == "doubled_punctuation":
        return dataclasses.replace(s, report_impression=s.report_impression.rstrip(".") + "..")
    if kind == "stray_letter":
        return dataclasses.replace(s, report_findings="F " + s.report_findings)  # as in "F is edema."
    if kind == "unrequested":
        # the request says no effusion, the report adds one
        req = dataclasses.replace(s.request, findings={**s.request.findings, "Pleural Effusion": 0})
        return dataclasses.replace(s, request=req, report_impression=s.report_impression + " Large left pleural effusion.")
    raise AssertionError(kind)


EXPECTED = {
    "blank": {"image_dynamic_range", "image_entropy", "image_sharpness"},
    "saturated": {"image_saturation", "image_entropy"},
    "noise": {"image_noise"},
    "repeated": {"report_repetition"},
    "phi": {"privacy_phi"},
    "empty_impression": {"report_sections"},
    "garbled": {"report_garbled"},
    "doubled_word": {"report_wellformed"},
    "doubled_punctuation": {"report_wellformed"},
    "stray_letter": {"report_wellformed"},
    "unrequested": {"consistency_request"},
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_broken_samples_rejected_for_the_right_reason(real, gates, kind):
    ctx, validators = gates
    rng = np.random.default_rng(3)
    broken = [_broken(kind, s, rng) for s in real[:20]]
    for out in validate(broken, validators, ctx):
        named = {r.split(":")[0] for r in out.reject_reasons}
        assert not out.accepted, kind
        assert named & EXPECTED[kind], (kind, out.reject_reasons)
        # a report fault never blames the image, and an image fault never blames the report
        image_side = {n for n in named if n.startswith("image_")}
        report_side = named - image_side
        assert not (image_side if kind in {"repeated", "phi", "empty_impression", "garbled", "unrequested",
                                           "doubled_word", "doubled_punctuation", "stray_letter"}
                    else report_side), (kind, out.reject_reasons)
        if EXPECTED[kind] == {"report_wellformed"}:  # and nothing else: the words are fine, the sentences are not
            assert named == {"report_wellformed"}, (kind, out.reject_reasons)


def test_reasons_name_what_is_wrong(real, gates):
    ctx, validators = gates
    s = real[0]
    from medmint.validators.consistency import FINDINGS13

    req = dataclasses.replace(s.request, findings={**{k: 0 for k in FINDINGS13}, "Pneumothorax": 1})
    bad = dataclasses.replace(s, request=req, report_findings="Large left pleural effusion. No pneumothorax.",
                              report_impression="Large left pleural effusion.")
    (out,) = validate([bad], validators, ctx)
    assert out.reject_reasons == ("consistency_request: report requested Pneumothorax not stated; "
                                  "states unrequested Pleural Effusion",)


def test_near_duplicates_keep_the_smallest_sample_id_in_any_order(real):
    from medmint.validators.image_quality import NearDuplicate

    a, b = real[0], real[1]
    rng = np.random.default_rng(0)
    noisy = dataclasses.replace(a, request=dataclasses.replace(a.request, sample_id="zz-copy"),
                                image=np.clip(a.image + rng.normal(0, 20, a.image.shape), 0, 4095).astype(np.uint16))
    v = NearDuplicate()
    for order in ([a, b, noisy], [noisy, b, a]):
        verdicts = {s.request.sample_id: j.passed for s, j in zip(order, v.judge(_batch(order)))}
        assert verdicts == {a.request.sample_id: True, b.request.sample_id: True, "zz-copy": False}


def _batch(samples):
    from medmint.validators.base import Batch

    return Batch(samples, ValidationContext())


def test_unknown_validator_and_missing_inputs_are_one_clear_error():
    with pytest.raises(ValueError, match=r"unknown \['image_sharpnes'\]"):
        build_validators({"image_sharpnes": {}}, ValidationContext())
    with pytest.raises(ValueError, match="privacy_nearest_training: needs the checkpoint's train_features"):
        build_validators({**NO_CHECKPOINT, "privacy_nearest_training": {"enabled": True}}, ValidationContext())
    with pytest.raises(ValueError, match=r"report_length: unknown parameters \['max'\]"):
        build_validators({**NO_CHECKPOINT, "report_length": {"max": 3}}, ValidationContext())


def test_every_validator_describes_its_threshold():
    assert all(cls.name and cls.default_threshold is not None for cls in VALIDATORS.values())
    described = [v.describe() for v in build_validators(NO_CHECKPOINT, ValidationContext())]
    assert all(d["passes_when"] in {">=", "<="} and "threshold" in d for d in described)


def test_chunked_nearest_search_matches_brute_force():
    rng = np.random.default_rng(1)
    index, queries = rng.normal(size=(1000, 16)).astype(np.float32), rng.normal(size=(37, 16)).astype(np.float32)
    queries[5] = index[421]
    dist, row = nearest_distances(queries, index, chunk=97)
    brute = np.sqrt(((queries[:, None, :].astype(np.float64) - index[None].astype(np.float64)) ** 2).sum(-1))
    assert (row == brute.argmin(1)).all()
    np.testing.assert_allclose(dist, brute.min(1), atol=1e-4)
    assert row[5] == 421 and dist[5] < 1e-3


def test_ngram_index_flags_a_copied_report_not_shared_templates():
    shared = "No pleural effusion or pneumothorax is seen. The heart size is normal."
    reports = [f"{shared} Case {i} shows a rare spiculated nodule number {i} in the apex." for i in range(5)]
    idx = NgramIndex.build(reports, n=6)
    assert idx.copied(shared) == 0
    assert idx.copied(reports[2]) > 0
    assert idx.copied("Completely new words about a different spiculated lesion elsewhere today.") == 0
