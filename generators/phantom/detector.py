"""The simulated detector: density layers -> 12-bit MONOCHROME2 counts (bright = dense).

Kept apart from the anatomy so exposure, noise and the metal burn-in are decided in one place; the
noise is drawn from its own random stream in a fixed amount, so two cases of one seed that differ only
in a finding differ only where that finding is.
"""

from __future__ import annotations

import numpy as np

from medmint.generators.phantom.anatomy import Exposure, Film
from medmint.generators.phantom.raster import F32, blur3, smooth_noise

BITS_STORED = 12
MAX_COUNT = (1 << BITS_STORED) - 1
DENSITY_FULL_SCALE = 0.9  # density that maps to ``Exposure.hi``
KNEE = 0.6  # normalised density where the curve leaves its linear (lung) range
METAL_COUNT = 4040.0  # radiopaque metal burns in near full scale, above any anatomy


def expose(film: Film, exposure: Exposure, rng: np.random.Generator) -> np.ndarray:
    """Map density to counts with the seed's technique, add shading and quantum noise, burn in metal."""
    n = film.grid.size
    d = np.clip(film.density(), 0.0, None)
    shading = F32(1.0) + F32(exposure.shading) * smooth_noise(rng, n, 3)
    d *= shading
    # Characteristic curve: linear through the lungs (so contrast there does not depend on how dark a
    # region is), then a shoulder that compresses the dense mediastinum and abdomen.
    k = F32(exposure.gamma)
    v = d * F32(1.0 / DENSITY_FULL_SCALE)
    shoulder = F32(KNEE) + (F32(1.0) - np.exp(-k * np.maximum(v - F32(KNEE), 0.0))) / k
    counts = np.where(v < F32(KNEE), v, shoulder)
    top = KNEE + (1.0 - np.exp(-float(k) * (1.0 - KNEE))) / float(k)
    counts *= F32((exposure.hi - exposure.lo) / top)
    counts += F32(exposure.lo)
    # Quantum noise: slightly correlated (detector blur), stronger where few photons get through.
    grain = blur3(rng.standard_normal((n, n), dtype=F32)) * F32(2.0)
    counts += grain * F32(exposure.noise) * (F32(0.6) + F32(0.8) * np.clip(d, 0, 1))
    if film.metal.any():
        m = np.clip(film.metal, 0.0, 1.0)
        counts += m * (F32(METAL_COUNT) + grain * F32(6.0) - counts)
    return np.clip(np.rint(counts), 0, MAX_COUNT).astype(np.uint16)
