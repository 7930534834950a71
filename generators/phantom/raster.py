"""Numpy-only drawing primitives in normalised image coordinates (0..1 across the image).

Everything the phantom draws goes through these few helpers so that every structure scales with the
image size, edges are anti-aliased by the same rule, and thin strokes only touch the pixels in their
bounding box (a 1024 px image has a million pixels; full-image passes are counted, not free).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

F32 = np.float32


@dataclass(frozen=True)
class Grid:
    """Pixel-centre coordinates of a square image: ``x`` is a row vector, ``y`` a column vector.

    Broadcasting ``x`` against ``y`` gives full images without materialising two coordinate
    planes; ``px`` is one pixel in normalised units (the anti-aliasing width).
    """

    size: int
    x: np.ndarray  # (1, size)
    y: np.ndarray  # (size, 1)

    @property
    def px(self) -> float:
        return 1.0 / self.size

    @classmethod
    def of(cls, size: int) -> "Grid":
        c = ((np.arange(size, dtype=F32) + F32(0.5)) / F32(size)).astype(F32)
        return cls(size, c[None, :], c[:, None])

    def span(self, lo: float, hi: float) -> slice:
        """Pixel slice covering normalised [lo, hi] (clamped; may be empty)."""
        a = max(int(np.floor(lo * self.size)), 0)
        b = min(int(np.ceil(hi * self.size)) + 1, self.size)
        return slice(a, max(a, b))


def ramp(signed: np.ndarray, width: float) -> np.ndarray:
    """Soft inside-indicator of a signed quantity (negative = inside), linear over ``width``.

    Used for every boundary so anatomy edges are one or two pixels soft at any size, like a real
    detector's point-spread, instead of aliased steps.
    """
    return np.clip(F32(0.5) - signed * F32(1.0 / width), 0.0, 1.0)


def _bspline(size: int, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """First lattice index (size,) and cubic B-spline weights (size, 4) for each pixel centre.

    B-splines are C2-smooth, so interpolated noise shows no lattice plateaus or grid lines.
    """
    pos = (np.arange(size, dtype=np.float64) + 0.5) / size * cells
    i0 = np.floor(pos).astype(np.intp)
    t = pos - i0
    w = np.stack([(1 - t) ** 3, 3 * t**3 - 6 * t**2 + 4, -3 * t**3 + 3 * t**2 + 3 * t + 1, t**3], axis=1) / 6
    return i0, w.astype(F32)


def smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Zero-mean, unit-variance noise with features about ``1/cells`` of the image wide.

    A coarse Gaussian lattice interpolated separably with 4-tap gathers: cost scales with the
    image, not the lattice, and no BLAS call is involved -- so it is fast even on a busy machine
    and bit-identical on every CPU. Features finer than ~2 px are not representable and are
    dropped (the lattice is capped at half the image size), keeping small images alias-free.
    """
    lattice = rng.standard_normal((cells + 3, cells + 3)).astype(F32)
    cells_used = min(cells, max(size // 2, 2))
    lattice = lattice[: cells_used + 3, : cells_used + 3]
    i0, w = _bspline(size, cells_used)
    rows = w[:, 0:1] * lattice[i0]
    for k in range(1, 4):
        rows += w[:, k : k + 1] * lattice[i0 + k]
    out = rows[:, i0] * w[:, 0][None, :]
    for k in range(1, 4):
        out += rows[:, i0 + k] * w[:, k][None, :]
    out -= F32(out.mean())
    return out * F32(1.0 / max(float(out.std()), 1e-6))


def blur3(img: np.ndarray) -> np.ndarray:
    """Separable [1 2 1]/4 blur (edges replicated): the detector's slight unsharpness."""
    p = np.pad(img, 1, mode="edge")
    v = (p[:-2, :] + F32(2.0) * p[1:-1, :] + p[2:, :]) * F32(0.25)
    return (v[:, :-2] + F32(2.0) * v[:, 1:-1] + v[:, 2:]) * F32(0.25)


def bezier(points: list[tuple[float, float]], n: int = 24) -> np.ndarray:
    """Sample a Bezier curve of any degree (de Casteljau) into ``n`` points; (n, 2) as (x, y)."""
    p = np.asarray(points, dtype=np.float64)
    t = np.linspace(0.0, 1.0, n)[:, None, None]
    pts = np.broadcast_to(p, (n, *p.shape)).copy()
    while pts.shape[1] > 1:
        pts = (1 - t) * pts[:, :-1] + t * pts[:, 1:]
    return pts[:, 0, :]


Profile = Callable[[np.ndarray, "float | np.ndarray"], np.ndarray]


def flat_profile(dist: np.ndarray, half_width: float | np.ndarray) -> np.ndarray:
    """A solid stroke: 1 inside ``half_width``, anti-aliased edge."""
    return np.clip(half_width - dist + F32(0.5), 0.0, 1.0)


def gauss_profile(dist: np.ndarray, half_width: float | np.ndarray) -> np.ndarray:
    """A soft stroke (vessels, haze lines): Gaussian cross-section."""
    hw = np.asarray(half_width, dtype=F32)
    return np.exp(-(dist * dist) / (hw * hw))


def tube_profile(dist: np.ndarray, half_width: float | np.ndarray) -> np.ndarray:
    """A hollow tube seen side-on: two bright walls, a fainter lumen (ET and enteric tubes)."""
    hw = np.asarray(half_width, dtype=F32)
    wall = np.exp(-((dist - hw * F32(0.8)) ** 2) / np.maximum(hw * F32(0.3), F32(0.6)) ** 2)
    return np.maximum(wall, F32(0.45) * np.clip(hw - dist + F32(0.5), 0.0, 1.0))


def bone_profile(dist: np.ndarray, half_width: float | np.ndarray) -> np.ndarray:
    """A tubular bone edge-on: moderately dense marrow, brighter cortical margins."""
    hw = np.asarray(half_width, dtype=F32)
    inside = np.clip(hw - dist + F32(0.5), 0.0, 1.0)
    rim = np.exp(-((dist - hw * F32(0.8)) ** 2) / np.maximum(hw * F32(0.3), F32(1.0)) ** 2)
    return F32(0.6) * inside + F32(0.4) * rim * inside


def _segment_windows(
    a: np.ndarray, b: np.ndarray, reach: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distances from pixel centres to N segments, each in a same-sized window around it.

    ``a``/``b`` are (N, 2) pixel-index coordinates relative to the canvas, ``reach`` how far beyond
    each segment pixels matter. Returns window origins (N,) x and y, and distances (N, H, W): one
    batched computation instead of a Python loop of small array operations per segment.
    """
    h, w = shape
    lo = np.floor(np.minimum(a, b) - reach[:, None]).astype(int)
    hi = np.ceil(np.maximum(a, b) + reach[:, None]).astype(int) + 1
    win_w = int(min(max(int((hi[:, 0] - lo[:, 0]).max()), 1), w))
    win_h = int(min(max(int((hi[:, 1] - lo[:, 1]).max()), 1), h))
    x0 = np.clip(lo[:, 0], 0, w - win_w)
    y0 = np.clip(lo[:, 1], 0, h - win_h)
    px = (x0[:, None] + np.arange(win_w)[None, :] - a[:, 0:1]).astype(F32)[:, None, :]  # (N, 1, W)
    py = (y0[:, None] + np.arange(win_h)[None, :] - a[:, 1:2]).astype(F32)[:, :, None]  # (N, H, 1)
    d = (b - a).astype(F32)
    dx, dy = d[:, 0, None, None], d[:, 1, None, None]
    inv = (F32(1.0) / np.maximum(dx * dx + dy * dy, F32(1e-9)))
    t = np.clip((px * dx + py * dy) * inv, 0.0, 1.0)
    ex, ey = px - t * dx, py - t * dy
    return x0, y0, np.sqrt(ex * ex + ey * ey)


def segments(
    canvas: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    widths: np.ndarray | float,
    amount: float,
    *,
    profile: Profile = flat_profile,
    size: int | None = None,
    origin: tuple[int, int] = (0, 0),
) -> None:
    """Merge many independent segments into ``canvas`` by maximum (vessel trees, short lines).

    ``starts``/``ends`` are (N, 2) normalised (x, y) and ``widths`` full widths. ``canvas`` may be a
    window of an image of ``size`` px whose top-left pixel is ``origin`` = (col, row). Sub-pixel widths
    are widened to ~1 px and dimmed in proportion, so thin structures keep their contrast-to-calibre
    relation at every size.
    """
    starts, ends = np.asarray(starts, dtype=np.float64), np.asarray(ends, dtype=np.float64)
    if len(starts) == 0:
        return
    size = canvas.shape[1] if size is None else size
    shift = np.asarray(origin, dtype=np.float64) + 0.5
    a, b = starts * size - shift, ends * size - shift  # pixel-index coordinates in the canvas
    w = np.broadcast_to(np.asarray(widths, dtype=np.float64) * size, (len(a),))
    gains = (np.clip(w / 1.2, 0.0, 1.0) * amount).astype(F32)[:, None, None]
    halves = (np.maximum(w, 1.2) * 0.5).astype(F32)[:, None, None]
    reach = halves[:, 0, 0] * 2.5 + 2
    # Batch segments of similar extent together so short twigs do not pay for long trunks.
    extent = np.maximum(np.abs(a - b).max(axis=1), 1) + 2 * reach
    order = np.argsort(extent, kind="stable")
    for chunk in np.array_split(order, max(1, len(order) // 24)):
        x0, y0, dist = _segment_windows(a[chunk], b[chunk], reach[chunk], canvas.shape)
        vals = gains[chunk] * profile(dist, halves[chunk])
        hh, ww = dist.shape[1:]
        for j in range(len(chunk)):
            win = canvas[y0[j] : y0[j] + hh, x0[j] : x0[j] + ww]
            np.maximum(win, vals[j], out=win)


def stroke(
    canvas: np.ndarray,
    points: np.ndarray,
    width: float | np.ndarray,
    amount: float,
    *,
    profile: Profile = flat_profile,
    combine: str = "add",
) -> None:
    """Draw a polyline of normalised (x, y) ``points`` into ``canvas`` in place.

    ``width`` is the full width (normalised; per point to taper). The distance to the whole polyline
    is taken first and the cross-section ``profile`` applied once, so joints show no seams even for
    profiles with bright rims (bones, tube walls). The stroke is then added to the canvas
    (``combine='add'``) or merged by maximum (``'max'``). Only its bounding box is touched.
    """
    size = canvas.shape[0]
    pts = np.asarray(points, dtype=np.float64) * size - 0.5  # pixel-index coordinates
    halves = np.broadcast_to(np.asarray(width, dtype=np.float64) * size * 0.5, (len(pts),))
    gain = float(np.clip(2 * halves.mean() / 1.2, 0.0, 1.0))
    halves = np.maximum(halves, 0.6)
    ref = float(halves.mean())
    pad = float(halves.max()) * 2 + 2
    x0 = max(int(np.floor(pts[:, 0].min() - pad)), 0)
    x1 = min(int(np.ceil(pts[:, 0].max() + pad)) + 1, size)
    y0 = max(int(np.floor(pts[:, 1].min() - pad)), 0)
    y1 = min(int(np.ceil(pts[:, 1].max() + pad)) + 1, size)
    if x0 >= x1 or y0 >= y1:
        return
    rel = pts - np.array([x0, y0], dtype=np.float64)
    seg_half = 0.5 * (halves[:-1] + halves[1:])
    sx, sy, dist = _segment_windows(rel[:-1], rel[1:], seg_half * 2 + 2, (y1 - y0, x1 - x0))
    dist -= seg_half.astype(F32)[:, None, None]
    sd = np.full((y1 - y0, x1 - x0), np.inf, dtype=F32)  # distance to the stroke's edge
    hh, ww = dist.shape[1:]
    for i in range(len(dist)):
        win = sd[sy[i] : sy[i] + hh, sx[i] : sx[i] + ww]
        np.minimum(win, dist[i], out=win)
    local = profile(np.maximum(sd + F32(ref), 0.0), ref) * F32(gain * amount)
    target = canvas[y0:y1, x0:x1]
    if combine == "max":
        np.maximum(target, local, out=target)
    else:
        target += local


def disc(grid: Grid, cx: float, cy: float, rx: float, ry: float, pad: float = 0.0) -> tuple[slice, slice, np.ndarray]:
    """Normalised radius ``r`` (1 on the ellipse) in the ellipse's bounding box.

    Returns the (rows, cols) window and ``r`` there, so callers shape blobs without full-image work.
    """
    rows = grid.span(cy - ry - pad, cy + ry + pad)
    cols = grid.span(cx - rx - pad, cx + rx + pad)
    dx = (grid.x[:, cols] - F32(cx)) * F32(1.0 / rx)
    dy = (grid.y[rows, :] - F32(cy)) * F32(1.0 / ry)
    return rows, cols, np.sqrt(dx * dx + dy * dy)
