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


def _hash_shard(path, rows):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from medmint.validators.image_quality import dhash_bytes

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"sample_id": [sid for sid, _ in rows],
                             "image_dhash": [dhash_bytes(img) for _, img in rows]}), path)


def test_earlier_rows_are_searched_for_the_closest_hash_with_ties_to_the_smaller_id(tmp_path, samples):
    from medmint.pipeline.dedupe import EarlierHashes
    from medmint.validators.image_quality import dhash, hamming

    s0, s1, s2 = (s.image for s in samples[:3])
    _hash_shard(tmp_path / "data" / "a.parquet", [("e-b", s1), ("e-z", s0)])
    _hash_shard(tmp_path / "data" / "b.parquet", [("e-a", s1), ("e-c", s2)])
    earlier = EarlierHashes.read(tmp_path, ["data/a.parquet", "data/b.parquet"])
    assert earlier.closest(dhash(s1), 72) == (0, "e-a")  # two exact copies: the smaller id
    assert earlier.closest(dhash(samples[4].image), 72) == (hamming(dhash(samples[4].image), dhash(s1)), "e-a")
    assert EarlierHashes.read(tmp_path, []).closest(dhash(s1), 72) is None
    with pytest.raises(FileNotFoundError, match=r"data/c\.parquet: an earlier part's accepted shard is missing"):
        EarlierHashes.read(tmp_path, ["data/a.parquet", "data/c.parquet"])


def test_a_copy_of_an_earlier_parts_sample_is_rejected_naming_it(tmp_path, samples):
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that

    from medmint.pipeline.dedupe import RejectNearEarlierParts

    _hash_shard(tmp_path / "data" / "accepted-r000-00000-of-00002.parquet", [("s1", samples[1].image)])
    items = [_validated(s) for s in samples if s.request.sample_id != "s1"]  # this part: s0, s2, s3 and the copy

    def check(got):
        verdicts = {sid: (ok, reasons) for sid, ok, reasons in got}
        assert {sid for sid, (ok, _) in verdicts.items() if not ok} == {"s9"}, verdicts
        (reason,) = verdicts["s9"][1]
        assert reason.startswith("image_near_duplicate: dHash distance") and reason.endswith("< 0.07 to s1"), reason

    with TestPipeline(runner="FnApiRunner") as p:
        out = (p | beam.Create(items)
               | beam.ParDo(RejectNearEarlierParts(str(tmp_path), ["data/accepted-r000-00000-of-00002.parquet"], 0.07))
               | beam.Map(lambda v: (v.generated.request.sample_id, v.accepted, v.reject_reasons)))
        assert_that(out, check)


def test_no_two_accepted_images_of_a_run_are_near_duplicates_across_parts(tmp_path):
    """A threshold that phantom studies often fall under: parts must reject copies of earlier parts."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    from medmint.pipeline.driver import generate
    from medmint.validators.image_quality import dhash
    from tests.conftest import CONFIGS

    threshold, n_bits = 0.2, 576
    out = tmp_path / "run"
    generate(CONFIGS / "demo-phantom.yaml", out, overrides=[
        "target.total=10", "target.budget.samples=200", "generator.phantom.size=64", "output.shard_rows=6",
        f"validators.image_near_duplicate.threshold={threshold}"])
    shards = sorted((out / "data").glob("accepted-*.parquet"))
    table = pa.concat_tables([pq.read_table(p, columns=["sample_id", "image_dhash", "image_png", "shard"])
                              for p in shards])
    rows = table.to_pylist()
    hashes = [int.from_bytes(r["image_dhash"], "little") for r in rows]
    for r, h in zip(rows, hashes):  # the stored hash is the image's
        assert dhash(np.asarray(Image.open(io.BytesIO(r["image_png"])))) == h
    closest = min((a ^ b).bit_count() for i, a in enumerate(hashes) for b in hashes[:i])
    assert closest > int(threshold * n_bits - 1e-9), closest

    shard_of = {r["sample_id"]: r["shard"] for r in rows}
    rejected = pa.concat_tables([pq.read_table(p, columns=["sample_id", "shard", "reject_reasons"])
                                 for p in sorted((out / "data").glob("rejected-*.parquet"))]).to_pylist()
    across = [r for r in rejected for reason in r["reject_reasons"] if reason.startswith("image_near_duplicate")
              and shard_of.get(reason.rsplit(" to ", 1)[1], r["shard"].replace("rejected", "accepted"))
              != r["shard"].replace("rejected", "accepted")]
    assert across, "no sample was rejected as a copy of an earlier part's: the check was not exercised"
