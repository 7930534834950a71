"""Pixel conventions shared by every model that looks at images (numpy only, no torch).

Images travel through medmint as unsigned integer arrays (uint16, MONOCHROME2) with a
``bits_stored`` value (12 for the phantom and most DX, 8 for MIMIC-CXR-JPG). Models see them as
float32 in ``[-1, 1]`` at a fixed square resolution:

    to_unit(images, bits_stored)  -> float32 in [-1, 1]      (0 -> -1, 2**bits - 1 -> +1)
    resize_area(x, size)          -> float32, area-averaged    (exact box filter, any ratio)
    from_unit(x, bits_stored)     -> uint16 in [0, 2**bits - 1]
    prepare_images(data, resolution, bits_stored) -> float32 [N, res, res] in [-1, 1]

The image tokenizer (generators) and the findings classifier (validators) both use these, so a
generated image and a training image are judged through exactly the same preprocessing.
Non-square images are resized (squashed) to a square; callers that care pad or crop first.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

__all__ = ["to_unit", "from_unit", "resize_area", "prepare_images", "max_value"]


def max_value(bits_stored: int) -> int:
    if not 1 <= int(bits_stored) <= 16:
        raise ValueError(f"bits_stored must be in 1..16, got {bits_stored}")
    return (1 << int(bits_stored)) - 1


def _bits_column(bits_stored: int | Sequence[int] | np.ndarray, n: int, ndim: int) -> np.ndarray:
    """bits_stored as a float array broadcastable over [B, H, W] (or a scalar for one image)."""
    bits = np.asarray(bits_stored)
    if bits.ndim == 0:
        return np.float64(max_value(int(bits)))
    if ndim != 3 or bits.shape != (n,):
        raise ValueError(f"per-image bits_stored needs a [B, H, W] batch and B values, got {bits.shape}")
    return np.array([max_value(int(b)) for b in bits], dtype=np.float64)[:, None, None]


def to_unit(images: np.ndarray, bits_stored: int | Sequence[int] | np.ndarray) -> np.ndarray:
    """Integer pixels ([H, W] or [B, H, W]) -> float32 in [-1, 1]. Values above 2**bits - 1 clip.

    ``bits_stored`` is one int or one per image of a batch.
    """
    images = np.asarray(images)
    if images.ndim not in (2, 3):
        raise ValueError(f"images must be [H, W] or [B, H, W], got shape {images.shape}")
    if not (np.issubdtype(images.dtype, np.integer) or images.dtype == np.bool_):
        raise ValueError(f"images must hold integer pixels (uint16 with bits_stored), got {images.dtype}")
    peak = _bits_column(bits_stored, images.shape[0], images.ndim)
    x = np.minimum(images.astype(np.float64), peak) / peak
    return (x * 2.0 - 1.0).astype(np.float32)


def from_unit(x: np.ndarray, bits_stored: int) -> np.ndarray:
    """Float in [-1, 1] (clipped) -> uint16 in [0, 2**bits_stored - 1], rounded to nearest."""
    peak = max_value(bits_stored)
    x = np.clip(np.asarray(x, dtype=np.float64), -1.0, 1.0)
    return np.rint((x + 1.0) * 0.5 * peak).astype(np.uint16)


def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """[n_out, n_in] weights: output cell i averages input interval [i, i+1) * n_in / n_out."""
    scale = n_in / n_out
    edges = np.arange(n_out + 1, dtype=np.float64) * scale
    lo, hi = edges[:-1, None], edges[1:, None]
    px = np.arange(n_in, dtype=np.float64)[None, :]
    overlap = np.clip(np.minimum(hi, px + 1) - np.maximum(lo, px), 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def resize_area(x: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize the last two axes by exact area averaging (a box filter; fractional ratios allowed).

    Downsampling averages every input pixel that overlaps an output cell, weighted by overlap, so
    thin bright lines lose contrast but never vanish by aliasing; upsampling repeats pixels.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim < 2:
        raise ValueError(f"resize_area needs [..., H, W], got shape {x.shape}")
    h, w = (size, size) if isinstance(size, (int, np.integer)) else (int(size[0]), int(size[1]))
    if h < 1 or w < 1:
        raise ValueError(f"size must be positive, got {size}")
    H, W = x.shape[-2:]
    if (H, W) == (h, w):
        return x.copy()
    if H % h == 0 and W % w == 0:  # integer factors: a plain block mean
        fh, fw = H // h, W // w
        return x.reshape(*x.shape[:-2], h, fh, w, fw).mean(axis=(-3, -1), dtype=np.float64).astype(np.float32)
    ah = _area_matrix(H, h).astype(np.float32)
    aw = _area_matrix(W, w).astype(np.float32)
    return np.matmul(np.matmul(ah, x), aw.T).astype(np.float32)


def _as_image_and_bits(item: Any, default_bits: int | None) -> tuple[np.ndarray, int]:
    if isinstance(item, tuple) and len(item) == 2:
        return np.asarray(item[0]), int(item[1])
    if hasattr(item, "image") and hasattr(item, "bits_stored"):  # PhantomCase, GeneratedSample-like
        return np.asarray(item.image), int(item.bits_stored)
    if default_bits is None:
        raise ValueError("bits_stored is required for bare image arrays")
    return np.asarray(item), int(default_bits)


def prepare_images(
    data: np.ndarray | Iterable[Any],
    resolution: int,
    bits_stored: int | Sequence[int] | None = None,
    *,
    dtype: type = np.float32,
) -> np.ndarray:
    """Training or inference images -> [N, resolution, resolution] in [-1, 1].

    ``data`` is a [N, H, W] integer array (``bits_stored`` one int or N ints), or an iterable of
    [H, W] arrays (``bits_stored`` one int or one per item), ``(image, bits_stored)`` pairs, or objects with
    ``.image`` and ``.bits_stored`` (a ``PhantomCase``); images of an iterable may differ in size.
    The whole set is materialised in memory (N * res * res values of ``dtype``).
    """
    if isinstance(data, np.ndarray):
        if data.ndim == 2:
            data = data[None]
        if bits_stored is None:
            raise ValueError("bits_stored is required for an image array")
        return resize_area(to_unit(data, bits_stored), resolution).astype(dtype, copy=False)
    per_item = None if bits_stored is None or np.ndim(bits_stored) == 0 else list(bits_stored)
    rows = []
    for i, item in enumerate(data):
        default = bits_stored if per_item is None else per_item[i]
        img, bits = _as_image_and_bits(item, None if default is None else int(default))
        rows.append(resize_area(to_unit(img, bits), resolution).astype(dtype, copy=False))
    if not rows:
        raise ValueError("no images given")
    return np.stack(rows)
