"""Image quality gates: an image must look like a radiograph before anyone asks what it shows.

All measures are taken on the image scaled to [0, 1] by its own ``bits_stored`` so 8-, 12- and
16-bit images share thresholds. Defaults were set on phantom radiographs and are replaced by
``medmint validators calibrate`` with values that accept >= 98 % of held-out real images.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterable, Iterator

import numpy as np

from medmint.validators.base import Batch, Validator


def unit(image: np.ndarray, bits_stored: int) -> np.ndarray:
    return np.asarray(image, np.float64) / float((1 << int(bits_stored)) - 1)


def _units(batch: Batch) -> list[np.ndarray]:
    return [unit(s.image, s.bits_stored) for s in batch.samples]


class DynamicRange(Validator):
    """A blank (constant) image has none; p99.5 - p0.5 ignores a few hot pixels."""

    name: ClassVar[str] = "image_dynamic_range"
    higher_passes: ClassVar[bool] = True
    default_threshold: ClassVar[float] = 0.15
    what: ClassVar[str] = "p99.5 - p0.5 (fraction of full scale)"

    def scores(self, batch: Batch) -> np.ndarray:
        return np.array([np.subtract(*np.percentile(x, [99.5, 0.5])) for x in _units(batch)])


class Saturation(Validator):
    """Fraction of pixels stuck at either end of the scale (a burnt-out or clipped image)."""

    name: ClassVar[str] = "image_saturation"
    higher_passes: ClassVar[bool] = False
    default_threshold: ClassVar[float] = 0.25
    what: ClassVar[str] = "fraction of pixels at 0 or full scale"

    def scores(self, batch: Batch) -> np.ndarray:
        return np.array([float(((x <= 0.0) | (x >= 1.0)).mean()) for x in _units(batch)])


class Entropy(Validator):
    """Shannon entropy (bits) of a 256-bin histogram: near 0 for flat or two-level images."""

    name: ClassVar[str] = "image_entropy"
    higher_passes: ClassVar[bool] = True
    default_threshold: ClassVar[float] = 3.0
    what: ClassVar[str] = "histogram entropy (bits)"

    def scores(self, batch: Batch) -> np.ndarray:
        out = []
        for x in _units(batch):
            counts = np.bincount(np.clip((x * 255).astype(np.int64), 0, 255).ravel(), minlength=256)
            p = counts[counts > 0] / counts.sum()
            out.append(float(-(p * np.log2(p)).sum()))
        return np.array(out)


def _laplacian(x: np.ndarray) -> np.ndarray:
    return 4 * x[1:-1, 1:-1] - x[:-2, 1:-1] - x[2:, 1:-1] - x[1:-1, :-2] - x[1:-1, 2:]


def _downsample(x: np.ndarray, size: int = 128) -> np.ndarray:
    """Area-average to about ``size`` px so the measures do not depend on the output size."""
    f = max(1, min(x.shape) // size)
    h, w = (x.shape[0] // f) * f, (x.shape[1] // f) * f
    return x[:h, :w].reshape(h // f, f, w // f, f).mean(axis=(1, 3))


class Sharpness(Validator):
    """Mean |Laplacian| relative to the image's spread, at ~128 px: a smeared image has almost no
    edges (the diffusion model's failure mode when it collapses to the mean)."""

    name: ClassVar[str] = "image_sharpness"
    higher_passes: ClassVar[bool] = True
    default_threshold: ClassVar[float] = 0.01
    what: ClassVar[str] = "mean |Laplacian| / std"

    def scores(self, batch: Batch) -> np.ndarray:
        out = []
        for x in _units(batch):
            d = _downsample(x)
            out.append(float(np.abs(_laplacian(d)).mean() / max(d.std(), 1e-6)))
        return np.array(out)


class Noise(Validator):
    """Share of the image's variance at the finest scale: radiographs are smooth at ~128 px, pixel
    noise is not (the ratio is about 1 for white noise)."""

    name: ClassVar[str] = "image_noise"
    higher_passes: ClassVar[bool] = False
    default_threshold: ClassVar[float] = 0.35
    what: ClassVar[str] = "finest-scale variance share"

    def scores(self, batch: Batch) -> np.ndarray:
        out = []
        for x in _units(batch):
            d = _downsample(x)
            fine = d - _downsample_mean3(d)
            out.append(float(fine.var() / max(d.var(), 1e-12)))
        return np.array(out)


def _downsample_mean3(x: np.ndarray) -> np.ndarray:
    """3x3 box blur with edge padding."""
    p = np.pad(x, 1, mode="edge")
    return sum(p[i : i + x.shape[0], j : j + x.shape[1]] for i in range(3) for j in range(3)) / 9.0


class OutOfDistribution(Validator):
    """Mahalanobis distance of the critic's embedding from the training images' (mean, covariance
    from the privacy index), per dimension: large when the image is unlike anything trained on."""

    name: ClassVar[str] = "image_ood"
    higher_passes: ClassVar[bool] = False
    default_threshold: ClassVar[float] = 3.0
    what: ClassVar[str] = "embedding Mahalanobis distance / sqrt(dim)"

    def __init__(self, context=None, threshold=None, **params) -> None:  # type: ignore[no-untyped-def]
        super().__init__(context, threshold, **params)
        self._stats: tuple[np.ndarray, np.ndarray] | None = None

    def _fit(self) -> tuple[np.ndarray, np.ndarray]:
        if self._stats is None:
            train = np.asarray(self.context.require("train_features", self.name), np.float64)
            mu = train.mean(0)
            cov = np.cov(train, rowvar=False) + 1e-3 * np.eye(train.shape[1]) * max(np.trace(np.cov(train, rowvar=False))
                                                                                      / train.shape[1], 1e-12)
            self._stats = (mu, np.linalg.inv(cov))
        return self._stats

    def scores(self, batch: Batch) -> np.ndarray:
        mu, prec = self._fit()
        d = np.asarray(batch.critic_features, np.float64) - mu
        return np.sqrt(np.einsum("nd,de,ne->n", d, prec, d) / d.shape[1])


HASH_SIZE = 24  # 576 bits: 8x8 (64 bits) cannot tell two chest radiographs apart, 24x24 can


def dhash(image: np.ndarray, size: int = HASH_SIZE) -> int:
    """size*size-bit difference hash: signs of horizontal gradients on a (size+1) x size area-average.

    On phantom radiographs two different studies differ in >= 60 of 576 bits, a copy with
    sensor-level noise in <= 25 (measured on 150 studies)."""
    x = np.asarray(image, np.float64)
    r0 = np.linspace(0, x.shape[0], size + 1).astype(int)[:-1]
    c0 = np.linspace(0, x.shape[1], size + 2).astype(int)[:-1]
    sums = np.add.reduceat(np.add.reduceat(x, r0, axis=0), c0, axis=1)
    counts = np.outer(np.diff(np.append(r0, x.shape[0])), np.diff(np.append(c0, x.shape[1])))
    small = sums / counts
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    return int.from_bytes(np.packbits(bits, bitorder="little").tobytes(), "little")


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


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


def dhash_bytes(image: np.ndarray) -> bytes:
    """The dHash as the Parquet ``image_dhash`` column stores it: HASH_SIZE**2 / 8 bytes, little-endian,
    so ``int.from_bytes(b, "little") == dhash(image)``."""
    return dhash(image).to_bytes(HASH_SIZE * HASH_SIZE // 8, "little")


class NearDuplicate(Validator):
    """Hamming distance of the perceptual hash to the closest sample of the batch with a smaller
    sample_id: of two near-identical samples the later one goes, whatever order they arrive in.
    (The whole-run check groups hashes across batches with the same rule.)"""

    name: ClassVar[str] = "image_near_duplicate"
    higher_passes: ClassVar[bool] = True
    default_threshold: ClassVar[float] = 0.07  # about 40 of 576 bits
    what: ClassVar[str] = "dHash Hamming distance (fraction of bits) to an earlier sample"

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "scope": "run-wide in medmint generate (pipeline/dedupe.py)"}

    def scores(self, batch: Batch) -> np.ndarray:
        ids = [s.request.sample_id for s in batch.samples]
        hashes = [dhash(s.image) for s in batch.samples]
        out = np.ones(len(batch))
        for i in range(len(batch)):
            for j in range(len(batch)):
                if ids[j] < ids[i]:
                    out[i] = min(out[i], hamming(hashes[i], hashes[j]) / HASH_SIZE**2)
        return out


__all__ = ["DynamicRange", "Saturation", "Entropy", "Sharpness", "Noise", "OutOfDistribution", "NearDuplicate",
           "band_keys", "dhash", "dhash_bytes", "duplicates_in_group", "hamming", "unit"]
