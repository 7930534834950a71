"""Normal frontal chest anatomy: per-seed geometry (``Anatomy``) and its rendering into density layers.

Coordinates are normalised (0..1 across the image, y down) so one seed gives the same patient at
every size. Laterality follows radiographic convention for both PA and AP: the patient's right is
on the image left, so ``RIGHT = -1`` and ``LEFT = +1`` are the directions away from the midline.

The picture is built as X-ray attenuation ("density") layers that findings can edit before the
detector turns density into 12-bit counts (``detector.py``). Lungs are modelled as air replacing
part of the chest contents, so anything that fills the air (fluid, consolidation, collapse) can only
ever brighten the lung towards soft-tissue density -- as on a real film.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medmint.generators.phantom.raster import (
    F32,
    Grid,
    bezier,
    bone_profile,
    disc,
    gauss_profile,
    ramp,
    segments,
    smooth_noise,
    stroke,
)

RIGHT, LEFT = -1, 1  # patient side -> direction on the image (patient's right is image left)
SIDE_NAME = {RIGHT: "right", LEFT: "left"}
AIR_FILL = 0.93  # fraction of the chest contents' density that fresh lung air removes


@dataclass(frozen=True)
class RibFracture:
    """Where a rib is broken (drawn by the rib renderer so the break sits exactly on the rib)."""

    side: int
    rib: int  # 0 = first posterior rib
    t: float  # position along the rib, 0 at the spine .. 1 at the lateral chest wall
    offset: float  # step of the lateral fragment, in rib widths (0 = nondisplaced)
    gap: float  # cortical gap strength, 0..1


@dataclass(frozen=True)
class Exposure:
    """How the (simulated) detector maps density to counts; varies per seed like real technique."""

    lo: float  # counts of unattenuated air
    hi: float  # counts of the densest anatomy
    gamma: float  # strength of the curve's shoulder: higher compresses the mediastinum and abdomen more
    noise: float  # quantum-noise standard deviation in counts
    shading: float  # amplitude of the smooth large-scale non-uniformity (heel effect, grid)


@dataclass(frozen=True)
class Anatomy:
    """Geometry of one synthetic patient. All lengths normalised to the image width."""

    view: str
    sex: str
    age: int
    mx: float  # midline
    hw: float  # inner half-width of the rib cage at the costophrenic level
    body_w: float  # half-width of the body outline
    shoulder_y: float  # top of the shoulders next to the neck
    apex_y: float  # top of the lung apices
    dome: tuple[float, float]  # hemidiaphragm dome height (right, left); right sits higher
    cp_drop: float  # costophrenic angle below the dome
    ctr: float  # cardiothoracic ratio
    heart_shift: float  # share of the heart width left of the midline (image right)
    med_w: float  # upper mediastinal half-width
    knob: float  # aortic knob bulge
    carina_y: float
    rib_gap: float  # spacing of posterior ribs at the spine
    rib_w: float  # rib width
    rib_sag: float  # how much ribs droop laterally
    clav_y: float  # medial clavicle height
    soft: float  # soft-tissue density scale (habitus)
    content: float  # chest-content density scale
    bone: float  # bone density scale (age, osteopenia)
    breast: float  # 0 for male; strength of the breast shadows
    bubble: bool  # gastric air bubble under the left hemidiaphragm
    exposure: Exposure
    fracture: RibFracture | None = None
    mediastinal_widening: float = 0.0  # extra upper-mediastinal half-width (Enlarged Cardiomediastinum)

    # ----- derived geometry shared by the renderer and the findings -----

    def lung_box(self, side: int) -> tuple[float, float, float, float, float]:
        """Centre and radii (cx, cy, rx_lateral, rx_medial, ry_top) of the lung's outer shape."""
        cy = self.dome[0 if side == RIGHT else 1] + self.cp_drop
        return (self.mx + side * 0.5 * self.hw, cy, 0.5 * self.hw, 0.47 * self.hw, cy - self.apex_y)

    def lung_level(self, side: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Normalised 'radius' of the lung's outer (pleural) shape: 1 on the chest wall/apex.

        Level sets below 1 are the same shape shrunk towards the hilum -- which is exactly where a
        collapsing lung's visceral pleura goes in a pneumothorax.
        """
        cx, cy, rx_lat, rx_med, ry_top = self.lung_box(side)
        dxr = (x - F32(cx)) * F32(side)  # >0 lateral
        dx = np.where(dxr > 0, dxr * F32(1.0 / rx_lat), dxr * F32(1.0 / rx_med))
        dy = (y - F32(cy)) * F32(1.0 / ry_top)
        dy2 = dy * dy
        return dx * dx + np.where(dy < 0, -dy2 * dy, dy2 * F32(ry_top / 0.2) ** 2)

    def diaphragm(self, side: int, x: np.ndarray) -> np.ndarray:
        """Height of the hemidiaphragm under ``x``: a dome, steep into the costophrenic angle."""
        dome = self.dome[0 if side == RIGHT else 1]
        peak = self.mx + side * 0.48 * self.hw
        d = (x - F32(peak)) * F32(side / (0.52 * self.hw))  # >0 lateral, 1 at the chest wall
        lateral = F32(self.cp_drop) * np.clip(d, 0, None) ** 2
        medial = F32(0.45 * self.cp_drop) * np.clip(-d, 0, None) ** 2
        return F32(dome) + lateral + medial

    def hilum(self, side: int) -> tuple[float, float]:
        return (self.mx + side * (0.2 * self.hw + 0.055), self.carina_y + 0.085)

    def heart_half_widths(self) -> tuple[float, float]:
        """(towards patient right, towards patient left) of the widest cardiac diameter."""
        w = self.ctr * 2 * self.hw
        return w * (1 - self.heart_shift), w * self.heart_shift

    def mediastinum_borders(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Image-left and image-right x of the cardiomediastinal silhouette on each row ``y``.

        Right side: superior vena cava, then the convex right atrium down to the diaphragm. Left side:
        aortic knob, pulmonary trunk, then the left ventricle bulging out to its widest just above the
        left hemidiaphragm. Widths come from the cardiothoracic ratio, so cardiomegaly is one number.
        """
        wr, wl = self.heart_half_widths()
        grow = 1 + 1.6 * max(self.ctr - 0.43, 0.0)  # big hearts are also taller
        c_r, b_r = self.dome[0] - 0.045, 0.14 * grow
        above_r = np.sqrt(np.clip(1 - ((y - c_r) / b_r) ** 2, 0, 1))
        below_r = np.ones_like(y)
        p_r = np.where(y < c_r, above_r, below_r)
        top_l, widest_l = self.carina_y + 0.07 - 0.05 * (grow - 1), self.dome[1] - 0.035
        t = np.clip((y - top_l) / (widest_l - top_l), 0, 1)
        p_l = np.where(y < widest_l, np.sin(0.5 * np.pi * t), np.clip(1 - 0.3 * ((y - widest_l) / 0.06) ** 2, 0.85, 1))
        med = self.med_w + self.mediastinal_widening * np.exp(-(((y - self.carina_y + 0.03) / 0.09) ** 2))
        knob = self.knob * np.exp(-(((y - (self.carina_y - 0.035)) / 0.022) ** 2))
        trunk = 0.008 * np.exp(-(((y - (self.carina_y + 0.025)) / 0.02) ** 2))
        left_x = self.mx - np.maximum(med * 0.95, wr * p_r)
        right_x = self.mx + np.maximum(med + knob + trunk, wl * p_l)
        return left_x.astype(F32), right_x.astype(F32)

    def rib_curve(self, side: int, k: int, t: np.ndarray) -> np.ndarray:
        """Centre-line height of posterior rib ``k`` at lateral fraction ``t`` (0 spine, 1 wall)."""
        y0 = self.apex_y + 0.012 + k * self.rib_gap * (1 + 0.025 * k)
        sag = self.rib_sag * (0.75 + 0.05 * k)
        return y0 - 0.05 * t + sag * t**2 + 0.5 * sag * t**5

    def rib_count(self) -> int:
        return 12


def sample_anatomy(rng: np.random.Generator, view: str, sex: str, age: int) -> Anatomy:
    """Draw one patient's geometry; ranges keep every seed a plausible adult chest."""
    u = rng.uniform
    scale = u(0.93, 1.04) * (0.96 if sex == "F" else 1.0)
    hw = 0.355 * scale
    apex = u(0.09, 0.13)
    ap = view == "AP"
    dome_r = u(0.69, 0.75) - (0.025 if ap else 0.0)  # AP films are often shallower inspirations
    dome_l = dome_r + u(0.015, 0.04)
    ctr = u(0.38, 0.45) * (1.06 if ap else 1.0)  # AP projection magnifies the heart
    carina = apex + u(0.18, 0.22)
    gap = (dome_r - apex) / u(8.4, 9.4)
    old = float(np.clip((age - 50) / 40, 0, 1))
    clav = apex + u(0.06, 0.09) - (u(0.04, 0.06) if ap else 0.0)  # AP: clavicles project higher
    exposure = Exposure(
        lo=u(60, 220), hi=u(3450, 3780), gamma=u(2.0, 3.0), noise=u(9, 20), shading=u(0.015, 0.045)
    )
    return Anatomy(
        view=view,
        sex=sex,
        age=age,
        mx=0.5 + float(rng.normal(0, 0.012)),
        hw=hw,
        body_w=hw + u(0.08, 0.16),
        shoulder_y=apex - u(0.03, 0.07),
        apex_y=apex,
        dome=(dome_r, dome_l),
        cp_drop=u(0.075, 0.105),
        ctr=ctr,
        heart_shift=u(0.6, 0.68),
        med_w=u(0.05, 0.062) * (1.05 if ap else 1.0),
        knob=u(0.008, 0.02) + 0.012 * old,
        carina_y=carina,
        rib_gap=gap,
        rib_w=gap * u(0.38, 0.46),
        rib_sag=u(0.08, 0.11),
        clav_y=clav,
        soft=u(0.13, 0.19) * (1.05 if sex == "M" else 1.0),
        content=u(0.5, 0.58),
        bone=u(0.9, 1.1) * (1 - 0.2 * old),
        breast=u(0.5, 1.0) if sex == "F" else 0.0,
        bubble=bool(u() < 0.7),
        exposure=exposure,
    )


@dataclass
class Film:
    """Density layers of one radiograph, editable by findings before exposure.

    ``density()`` = soft + content * (1 - AIR_FILL * air) + bone + markings + extra.
    ``air`` is the lung-air fraction (0 outside the lungs, ~0.9 in aerated lung, 1 for free air),
    ``lung`` the lung mask, ``markings`` the vessel/interstitial density seen only in aerated lung,
    ``metal`` the coverage of radiopaque devices (burnt in near full scale by the detector).
    """

    grid: Grid
    soft: np.ndarray
    content: np.ndarray
    air: np.ndarray
    lung: np.ndarray
    markings: np.ndarray
    bone: np.ndarray
    extra: np.ndarray
    metal: np.ndarray

    def fill(self, opacity: np.ndarray, rows: slice = slice(None), cols: slice = slice(None)) -> None:
        """Replace lung air by fluid/tissue (0..1) in a window; hides the markings it covers."""
        keep = F32(1.0) - np.clip(opacity, 0.0, 1.0).astype(F32)
        self.air[rows, cols] *= keep
        self.markings[rows, cols] *= keep

    def density(self) -> np.ndarray:
        d = self.content * (F32(1.0) - F32(AIR_FILL) * self.air)
        d += self.soft
        d += self.bone
        d += self.markings
        d += self.extra
        return d


def render_anatomy(a: Anatomy, grid: Grid, rng: np.random.Generator) -> Film:
    """Draw the normal chest of ``a``; ``rng`` only drives texture (vessel trees, interstitium)."""
    n = grid.size
    x, y = grid.x, grid.y
    aa = 1.5 * grid.px  # anti-aliasing width of sharp (pleural, cortical) edges

    # Body: an elliptical cylinder of soft tissue, a thicker chest wall hugging the rib cage
    # (seen tangentially it is brighter than the lungs), the neck and sloping shoulders.
    ax = np.abs(x - F32(a.mx))
    dx_body = ax * F32(1.0 / a.body_w)
    thick = np.sqrt(np.clip(1 - dx_body * dx_body, 0, 1))
    # Rib-cage half-width per row: narrow at the thoracic inlet, widest at the costophrenic angles.
    half = F32(a.hw) * (F32(0.7) + F32(0.3) * np.clip((y - F32(a.apex_y)) / F32(0.42), 0, 1) ** 0.6)
    # Seen tangentially the lateral chest wall (muscle, rib margins) is denser than the aerated lung.
    out = ax - np.maximum(half, F32(a.hw * 0.93))
    wall = np.clip((out + F32(0.01)) * F32(1 / 0.02), 0, 1) * np.exp(-(((out - F32(0.03)) * F32(1 / 0.07)) ** 2))
    shoulder = F32(a.shoulder_y) + F32(0.12) * np.clip((ax - F32(0.07)) / F32(0.33), 0, 1) ** 0.7
    neck = ramp(ax - F32(0.072), 4 * aa) * ramp(y - F32(a.shoulder_y + 0.05), 0.06)
    body = np.maximum(ramp(shoulder - y, 4 * aa), neck)
    soft = (F32(a.soft) * (F32(0.6) * thick + F32(0.3)) + F32(0.24) * wall) * body

    # Chest contents (mediastinum, heart, abdomen) inside the rib cage; the thoracic inlet is a dome.
    cx_rel = (x - F32(a.mx)) / half
    inlet = F32(a.apex_y - 0.03) + F32(0.06) * (ax / F32(a.hw)) ** 2
    content = F32(a.content) * np.sqrt(np.clip(1 - cx_rel * cx_rel, 0, 1)) * ramp(inlet - y, 0.03)
    neck_chord = np.sqrt(np.clip(1 - (ax * F32(1 / 0.072)) ** 2, 0, 1))
    content += F32(0.6 * a.content) * neck * neck_chord * ramp(y - inlet, 0.03)

    # Lungs: outer pleural shape, cut by the diaphragm and the cardiomediastinal silhouette.
    yv = y[:, 0]
    left_x, right_x = a.mediastinum_borders(yv)
    lung = np.zeros((n, n), dtype=F32)
    air = np.zeros((n, n), dtype=F32)
    for side in (RIGHT, LEFT):
        cols = grid.span(0, a.mx) if side == RIGHT else grid.span(a.mx, 1)
        xs = x[:, cols]
        level = a.lung_level(side, xs, y)
        rx = a.lung_box(side)[2]
        outer = ramp((level - F32(1.0)) * F32(rx * 0.5), aa)
        dia = ramp(y - a.diaphragm(side, xs), aa)
        border = left_x[:, None] if side == RIGHT else right_x[:, None]
        med = ramp((xs - border) * F32(-side), aa)
        mask = outer * dia * med
        lung[:, cols] = mask
        # Aerated lung is thinner at the periphery and apex, so it is less dark there.
        depth = np.clip((F32(1.0) - level) * F32(1.5), 0, 1)
        air[:, cols] = mask * (F32(0.8) + F32(0.17) * depth)

    # Gastric bubble under the left hemidiaphragm.
    if a.bubble:
        bx = a.mx + 0.42 * a.hw
        by = a.dome[1] + 0.045
        rows, cols, r = disc(grid, bx, by, 0.055, 0.028, pad=0.01)
        content[rows, cols] -= F32(0.2 * a.content) * np.clip((F32(1.0) - r) * F32(3.0), 0, 1)

    # Airways: trachea and main bronchi are air inside the mediastinum.
    tx = a.mx - 0.006
    trachea = np.array([[tx, 0.0], [tx, a.carina_y - 0.02], [tx, a.carina_y]])
    airway = np.zeros((n, n), dtype=F32)
    stroke(airway, trachea, 0.032, 1.0, profile=gauss_profile)
    for side in (RIGHT, LEFT):
        hx, hy = a.hilum(side)
        ctrl = [(tx, a.carina_y - 0.005), (tx + side * 0.03, a.carina_y + 0.03), (hx - side * 0.03, hy - 0.01)]
        pts = bezier(ctrl, 8)
        stroke(airway, pts, 0.02, 1.0, profile=gauss_profile, combine="max")
    content -= F32(0.28 * a.content) * np.minimum(airway, 1.0) * (F32(1.0) - lung)

    markings = _lung_markings(a, grid, rng, lung)
    bone = _skeleton(a, grid)

    if a.breast > 0:
        for side in (RIGHT, LEFT):
            bx, by = a.mx + side * 0.62 * a.hw, a.dome[0] + 0.09
            rows, cols, r = disc(grid, bx, by, 0.24 * a.hw / 0.355, 0.13, pad=0.02)
            lower = np.clip((grid.y[rows, :] - F32(by - 0.08)) * F32(12.0), 0, 1)
            soft[rows, cols] += F32(0.07 * a.breast) * np.clip((F32(1.0) - r) * F32(4.0), 0, 1) * lower

    zeros = np.zeros((n, n), dtype=F32)
    return Film(grid, soft, content, air, lung, markings, bone, zeros, zeros.copy())


def _lung_markings(a: Anatomy, grid: Grid, rng: np.random.Generator, lung: np.ndarray) -> np.ndarray:
    """Branching pulmonary vessels from each hilum plus fine interstitial texture, in the lungs only.

    Real markings are what a pneumothorax takes away, so they are drawn explicitly rather than
    faked by noise, and they taper towards the periphery.
    """
    n = grid.size
    vessels = np.zeros((n, n), dtype=F32)
    segs: list[tuple[float, float, float, float, float]] = []
    for side in (RIGHT, LEFT):
        hx, hy = a.hilum(side)
        # Hilar vessels: a dense knot at the hilum.
        rows, cols, r = disc(grid, hx + side * 0.01, hy, 0.035, 0.05, pad=0.01)
        vessels[rows, cols] += F32(0.06) * np.exp(-(r * r) * F32(2.0))
        for base_angle in np.linspace(-70, 75, 6):  # degrees from horizontal, + is downward
            ang = np.deg2rad(base_angle + rng.normal(0, 8))
            length = 0.1 * (1.15 if base_angle > 0 else 0.85)
            _branch(segs, rng, hx, hy, ang, side, length, 0.0085, depth=0)
    arr = np.asarray(segs, dtype=np.float64)
    segments(vessels, arr[:, 0:2], arr[:, 2:4], arr[:, 4], 0.09, profile=gauss_profile)
    # Interstitium: a coarse mottle plus a fine reticular grain (~2.5 mm), both part of the 'markings'.
    texture = smooth_noise(rng, n, 48) * F32(0.01) + smooth_noise(rng, n, 150) * F32(0.013)
    return (vessels + texture) * lung


def _branch(segs: list[tuple[float, float, float, float, float]], rng: np.random.Generator, x: float, y: float,
            ang: float, side: int, length: float, width: float, depth: int) -> None:
    """Recursively add one gently bent vessel and its two daughters (narrower, shorter)."""
    dx, dy = side * np.cos(ang) * length, np.sin(ang) * length
    bend = rng.normal(0, 0.12)
    mx, my = x + dx * 0.5 - dy * bend, y + dy * 0.5 + dx * bend
    segs.append((x, y, mx, my, width))
    segs.append((mx, my, x + dx, y + dy, width * 0.85))
    if depth >= 3:
        return
    for sign in (-1, 1):
        da = np.deg2rad(rng.uniform(14, 34)) * sign
        _branch(segs, rng, x + dx, y + dy, ang + da, side, length * rng.uniform(0.62, 0.8), width * 0.72, depth + 1)


def _skeleton(a: Anatomy, grid: Grid) -> np.ndarray:
    """Spine, posterior and anterior ribs, clavicles and humeral heads as bone density."""
    n = grid.size
    x, y = grid.x, grid.y
    bone = np.zeros((n, n), dtype=F32)
    k = F32(0.075 * a.bone)

    # Thoracic spine: a column with cortical margins, darker disc spaces, pedicle rings.
    sw = 0.036 * a.hw / 0.355
    dxs = np.abs(x - F32(a.mx)) / F32(sw)
    body = np.clip((F32(1.0) - dxs) * F32(sw * n / 1.5), 0, 1)
    column = F32(0.5) * body + F32(0.35) * np.exp(-((dxs - F32(0.92)) ** 2) * F32(60))
    period = a.rib_gap * 1.05
    phase = (y - F32(a.apex_y)) / F32(period)
    disc_space = F32(1.0) - F32(0.35) * np.exp(-((phase - np.round(phase)) ** 2) * F32(90))
    bone += k * F32(0.7) * column * disc_space * ramp(F32(a.shoulder_y - 0.05) - y, 0.02)
    for level in range(14):
        py = a.apex_y + (level + 0.5) * period
        for side in (RIGHT, LEFT):
            rows, cols, r = disc(grid, a.mx + side * sw * 0.62, py, sw * 0.22, period * 0.22, pad=0.005)
            bone[rows, cols] += k * F32(0.15) * np.exp(-((r - F32(0.85)) ** 2) * F32(18))

    # Ribs: posterior arcs (spine -> lateral wall) and fainter anterior arcs dropping medially.
    for side in (RIGHT, LEFT):
        for rib in range(a.rib_count()):
            frac = a.fracture if a.fracture is not None and a.fracture.side == side and a.fracture.rib == rib else None
            _rib(bone, grid, a, side, rib, frac, k)

    # Clavicles: S-shaped, from the sternal notch out to the acromion.
    for side in (RIGHT, LEFT):
        mx = a.mx
        pts = bezier(
            [
                (mx + side * 0.035, a.clav_y + 0.012),
                (mx + side * 0.12, a.clav_y + 0.02),
                (mx + side * 0.2, a.clav_y - 0.035),
                (mx + side * 0.33 * a.hw / 0.355, a.clav_y - 0.03),
            ],
            16,
        )
        stroke(bone, pts, np.linspace(0.032, 0.025, 16), float(k) * 2.6, profile=bone_profile)
        # Humeral head at the shoulder (often partly off the image).
        hx, hy = mx + side * (a.body_w + 0.01), a.shoulder_y + 0.16
        rows, cols, r = disc(grid, hx, hy, 0.075, 0.075, pad=0.01)
        bone[rows, cols] += k * F32(1.2) * (np.clip((F32(1.0) - r) * F32(12), 0, 1) * F32(0.6)
                                           + F32(0.25) * np.exp(-((r - F32(0.93)) ** 2) * F32(300)))
    return bone


def _rib(bone: np.ndarray, grid: Grid, a: Anatomy, side: int, rib: int, frac: RibFracture | None, k: F32) -> None:
    """One posterior rib (with an optional fracture) and its anterior continuation."""
    w = a.rib_w * (0.8 + 0.025 * rib)
    x_start, x_end = a.mx + side * 0.04, a.mx + side * (a.hw + w * 0.4)
    cols = grid.span(min(x_start, x_end), max(x_start, x_end))
    xs = grid.x[0, cols].astype(np.float64)
    t = np.clip((xs - a.mx) * side / a.hw, 0, 1.05)
    yc = a.rib_curve(side, rib, t)
    if frac is not None:
        yc = yc + np.where(t > frac.t, frac.offset * w, 0.0)
    slope = np.gradient(yc, xs) if len(xs) > 1 else np.zeros_like(xs)
    inv = 1 / np.sqrt(1 + slope**2)
    rows = grid.span(float(yc.min()) - w, float(yc.max()) + w)
    if rows.stop <= rows.start or len(xs) == 0:
        return
    d = np.abs(grid.y[rows, :] - yc[None, :].astype(F32)) * inv[None, :].astype(F32) * F32(grid.size)
    half = w * grid.size * 0.5
    profile = bone_profile(d, half)
    # Ribs fade in at the costovertebral junction and keep full density out to the wall.
    fade = np.clip((t - 0.02) / 0.08, 0, 1).astype(F32)[None, :]
    strength = k * F32(1.0 if rib > 0 else 0.8)
    if frac is not None:
        xf = a.mx + side * frac.t * a.hw
        gap = 1 - frac.gap * np.exp(-(((xs - xf) * grid.size / max(1.2, 0.012 * grid.size)) ** 2))
        fade = fade * gap.astype(F32)[None, :]
    bone[rows, cols] += strength * profile * fade

    # Anterior rib: starts at the lateral end of the posterior arc and runs down and medially.
    y_lat = a.rib_curve(side, rib, np.array([1.0]))[0]
    ant_end = 0.38
    xa0, xa1 = a.mx + side * ant_end * a.hw, a.mx + side * a.hw
    cols_a = grid.span(min(xa0, xa1), max(xa0, xa1))
    xa = grid.x[0, cols_a].astype(np.float64)
    ta = np.clip((xa - a.mx) * side / a.hw, 0, 1)
    ya = y_lat + 0.01 + 0.17 * (1 - ta) ** 1.2 - 0.02 * (1 - ta)
    rows_a = grid.span(float(ya.min()) - w, float(ya.max()) + w)
    if rows_a.stop <= rows_a.start or len(xa) == 0:
        return
    slope_a = np.gradient(ya, xa) if len(xa) > 1 else np.zeros_like(xa)
    inv_a = (1 / np.sqrt(1 + slope_a**2))[None, :].astype(F32)
    da = np.abs(grid.y[rows_a, :] - ya[None, :].astype(F32)) * inv_a * F32(grid.size)
    fade_a = np.clip((ta - ant_end) / 0.1, 0, 1).astype(F32)[None, :]
    bone[rows_a, cols_a] += strength * F32(0.4) * bone_profile(da, half * 1.1) * fade_a
