"""Run-wide near-duplicate rejection, as a Beam step after Validate.

Per-sample validation sees one sample at a time, so near-duplicates across the run are found here:
each accepted sample's difference hash is cut into bands (pigeonhole: two hashes within D differing
bits agree exactly on at least one of D + 1 bands), samples are grouped by (band, value), pairs in a
group are compared, and of two near-identical samples the one with the larger sample_id is
rejected. The rule depends only on the samples, never on arrival order, so reruns agree.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Iterator

import apache_beam as beam

from medmint.records import ValidatedSample

NAME = "image_near_duplicate"


def band_keys(hash_value: int, n_bits: int, max_distance: int) -> list[tuple[int, int]]:
    """(band index, band value) for max_distance + 1 bands covering the hash."""
    bands = max_distance + 1
    edges = [round(i * n_bits / bands) for i in range(bands + 1)]
    return [(i, (hash_value >> lo) & ((1 << (hi - lo)) - 1)) for i, (lo, hi) in enumerate(zip(edges, edges[1:]))]


def duplicates_in_group(members: Iterable[tuple[str, int]], max_distance: int) -> Iterator[tuple[str, tuple[int, str]]]:
    """(later sample_id, (distance, earlier sample_id)) for each pair within ``max_distance`` bits."""
    ordered = sorted(set(members))
    for i, (later, h_later) in enumerate(ordered):
        for earlier, h_earlier in ordered[:i]:
            d = (h_later ^ h_earlier).bit_count()
            if d <= max_distance:
                yield later, (d, earlier)


class MarkNearDuplicates(beam.PTransform):
    """ValidatedSample -> ValidatedSample, the later of each near-identical accepted pair rejected."""

    def __init__(self, max_fraction: float) -> None:
        super().__init__()
        from medmint.validators.image_quality import HASH_SIZE

        self.n_bits = HASH_SIZE * HASH_SIZE
        self.max_fraction = max_fraction
        self.max_distance = int(max_fraction * self.n_bits - 1e-9)  # passes when distance >= threshold

    def expand(self, validated: beam.PCollection) -> beam.PCollection:
        n_bits, max_d = self.n_bits, self.max_distance
        keyed = validated | "KeyBySampleId" >> beam.Map(lambda v: (v.generated.request.sample_id, v))
        dups = (
            keyed
            | "HashAccepted" >> beam.FlatMap(_bands, n_bits, max_d)
            | "GroupByBand" >> beam.GroupByKey()
            | "ComparePairs" >> beam.FlatMap(lambda kv: duplicates_in_group(kv[1], max_d))
            | "Closest" >> beam.CombinePerKey(min)
        )
        return (
            {"sample": keyed, "duplicate_of": dups}
            | "JoinDuplicates" >> beam.CoGroupByKey()
            | "Reject" >> beam.FlatMap(_apply, n_bits, self.max_fraction)
        )


def _bands(kv: tuple[str, ValidatedSample], n_bits: int, max_d: int) -> Iterator[tuple[tuple[int, int], tuple[str, int]]]:
    from medmint.validators.image_quality import dhash

    sample_id, v = kv
    if v.accepted:
        h = dhash(v.generated.image)
        for key in band_keys(h, n_bits, max_d):
            yield key, (sample_id, h)


def _apply(kv: tuple[str, dict[str, list[Any]]], n_bits: int, threshold: float) -> Iterator[ValidatedSample]:
    _, joined = kv
    for v in joined["sample"]:
        if not joined["duplicate_of"]:
            yield v
            continue
        distance, earlier = min(joined["duplicate_of"])
        reason = f"{NAME}: dHash distance {distance / n_bits:.4g} < {threshold:.4g} to {earlier}"
        yield dataclasses.replace(v, accepted=False, reject_reasons=v.reject_reasons + (reason,),
                                  scores={**v.scores, NAME: distance / n_bits})
