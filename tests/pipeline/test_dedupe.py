"""Run-wide near-duplicate rejection: the banding finds every close pair, and the Beam step rejects
the later sample of each pair whatever order the samples arrive in."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from medmint.pipeline.dedupe import MarkNearDuplicates, band_keys, duplicates_in_group
from medmint.records import ValidatedSample


def test_bands_share_a_key_whenever_hashes_are_within_the_distance():
    rng = random.Random(0)
    n_bits, max_d = 576, 40
    for d in (0, 1, 17, 40):
        a = rng.getrandbits(n_bits)
        flips = rng.sample(range(n_bits), d)
        b = a
        for bit in flips:
            b ^= 1 << bit
        assert set(band_keys(a, n_bits, max_d)) & set(band_keys(b, n_bits, max_d))
    assert len(band_keys(1, n_bits, max_d)) == max_d + 1


def test_pairs_name_the_later_sample_and_the_closest_earlier_one():
    members = [("b", 0b1111), ("a", 0b1110), ("c", 0b0000)]
    assert sorted(duplicates_in_group(members, 1)) == [("b", (1, "a"))]
    assert sorted(duplicates_in_group(members, 4)) == [("b", (1, "a")), ("c", (3, "a")), ("c", (4, "b"))]


@pytest.fixture(scope="module")
def samples():
    from medmint.generators.phantom.generator import PhantomGenerator
    from medmint.records import SampleRequest, seed_for

    gen = PhantomGenerator(size=64)
    gen.load()
    reqs = [SampleRequest(sample_id=f"s{i}", seed=seed_for(f"s{i}"), task="joint", findings={}, view="PA", sex="F",
                          age=50) for i in range(4)]
    out = gen.sample(reqs)
    rng = np.random.default_rng(0)
    copy = dataclasses.replace(out[1], request=dataclasses.replace(out[1].request, sample_id="s9"),
                               image=np.clip(out[1].image + rng.normal(0, 10, out[1].image.shape), 0, 4095).astype(np.uint16))
    return out + [copy]


def _validated(s, accepted=True):
    return ValidatedSample(generated=s, scores={}, accepted=accepted, reject_reasons=() if accepted else ("x: y",),
                           report_labels=None, image_labels=None)


@pytest.mark.parametrize("reverse", [False, True])
def test_beam_step_rejects_the_later_copy(samples, reverse):
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline

    from apache_beam.testing.util import assert_that

    items = [_validated(s) for s in samples]
    items = items[::-1] if reverse else items

    def check(got):
        verdicts = {sid: (ok, reasons) for sid, ok, reasons in got}
        assert {sid for sid, (ok, _) in verdicts.items() if not ok} == {"s9"}, verdicts
        (reason,) = verdicts["s9"][1]
        assert reason.startswith("image_near_duplicate: dHash distance") and reason.endswith("to s1"), reason

    with TestPipeline(runner="FnApiRunner") as p:
        out = (p | beam.Create(items) | MarkNearDuplicates(0.07)
               | beam.Map(lambda v: (v.generated.request.sample_id, v.accepted, v.reject_reasons)))
        assert_that(out, check)


def test_rejected_samples_are_not_duplicates_of_anything(samples):
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline

    from apache_beam.testing.util import assert_that, equal_to

    items = [_validated(s, accepted=s.request.sample_id != "s1") for s in samples]
    with TestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create(items) | MarkNearDuplicates(0.07) | beam.Map(
            lambda v: (v.generated.request.sample_id, v.accepted))
        assert_that(out, equal_to([("s0", True), ("s1", False), ("s2", True), ("s3", True), ("s9", True)]))
