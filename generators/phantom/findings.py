"""Drawable findings: each one is planned (severity, side, place -> ``details``) then drawn on the film.

Planning and drawing are split so that the report can be written from exactly what was drawn, and so
that findings which are really anatomy (cardiomegaly, a widened mediastinum, a broken rib) change the
patient's geometry before the anatomy is rendered. Every finding has its own random stream, so adding
one finding never moves another. Uncertain findings (label -1) are drawn small and faint, which is what
makes a radiologist hedge.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from medmint.generators.phantom.anatomy import LEFT, RIGHT, SIDE_NAME, Anatomy, Film, RibFracture
from medmint.generators.phantom.devices import draw_devices, plan_devices
from medmint.generators.phantom.raster import F32, Grid, disc, gauss_profile, segments, smooth_noise, stroke

MM_PER_UNIT = 400.0  # the image is about 40 cm wide: converts normalised lengths to report millimetres

ORDINALS = ["1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th", "9th", "10th", "11th", "12th"]


@dataclass
class Plan:
    """One finding to draw: what the report may say (``details``) and how to draw it (``params``)."""

    label: str
    certainty: int  # 1 positive, -1 uncertain
    details: dict[str, str]
    params: dict[str, object] = field(default_factory=dict)

    @property
    def faint(self) -> bool:
        return self.certainty == -1


def _choice(rng: np.random.Generator, options: list[str], p: list[float] | None = None) -> str:
    return str(options[int(rng.choice(len(options), p=p))])


def _side(rng: np.random.Generator, p_right: float = 0.5) -> int:
    return RIGHT if rng.random() < p_right else LEFT


# ----------------------------------------------------------------------------------------------
# Planners
# ----------------------------------------------------------------------------------------------

CTR_BY_SEVERITY = {"mild": (0.55, 0.59), "moderate": (0.59, 0.64), "severe": (0.64, 0.70)}


def plan_cardiomegaly(rng: np.random.Generator, a: Anatomy, certainty: int) -> Plan:
    if certainty == -1:
        ctr, sev = rng.uniform(0.5, 0.53), "borderline"
    else:
        sev = _choice(rng, ["mild", "moderate", "severe"], [0.5, 0.35, 0.15])
        ctr = rng.uniform(*CTR_BY_SEVERITY[sev])
    return Plan("Cardiomegaly", certainty, {"severity": sev, "ctr": f"{ctr:.2f}"}, {"ctr": ctr})


def plan_mediastinum(rng: np.random.Generator, a: Anatomy, certainty: int) -> Plan:
    if certainty == -1:
        sev, widen = "mild", rng.uniform(0.012, 0.018)
    else:
        sev = _choice(rng, ["mild", "moderate"], [0.6, 0.4])
        widen = rng.uniform(0.022, 0.03) if sev == "mild" else rng.uniform(0.035, 0.05)
    details = {"severity": sev, "kind": "widened mediastinum"}
    return Plan("Enlarged Cardiomediastinum", certainty, details, {"widen": widen})


def plan_fracture(rng: np.random.Generator, a: Anatomy, certainty: int) -> Plan:
    side = _side(rng)
    # the 4th to 7th ribs: where the break and its hematoma project over the lung (the 8th and 9th
    # ribs' posterior arcs lie behind the diaphragm and liver, where a 128 px film hides them)
    rib = int(rng.integers(3, 7))
    t = rng.uniform(0.55, 0.9)
    # An acute fracture that a report calls certain shows a cortical break with a step of about a rib
    # width when displaced, and an extrapleural hematoma at the break: signs a 128 px film still shows.
    displaced = certainty == 1 and rng.random() < 0.75
    offset = rng.uniform(0.9, 1.4) * rng.choice([-1, 1]) if displaced else 0.0
    gap = 0.5 if certainty == -1 else rng.uniform(0.85, 1.0)
    details = {
        "laterality": SIDE_NAME[side],
        "rib": ORDINALS[rib],
        "location": "lateral" if t > 0.75 else "posterior",
        "displacement": "displaced" if displaced else "nondisplaced",
    }
    hematoma = rng.uniform(0.2, 0.28) if certainty == 1 else 0.0
    return Plan("Fracture", certainty, details, {"fracture": RibFracture(side, rib, t, offset, gap),
                                                 "hematoma": hematoma})


def plan_effusion(rng: np.random.Generator, a: Anatomy, certainty: int) -> Plan:
    lat = _choice(rng, ["right", "left", "bilateral"], [0.36, 0.3, 0.34])
    if certainty == -1:
        sev = "small"
    else:
        sev = _choice(rng, ["small", "moderate", "large"], [0.5, 0.35, 0.15])
    sides = [RIGHT, LEFT] if lat == "bilateral" else [RIGHT if lat == "right" else LEFT]
    # Fluid height at the chest wall above the costophrenic angle, and how much lower it lies medially.
    # small: a meniscus 2.4-3.6 cm up the chest wall (blunting that a 128 px film still shows, about
    # 8-12 px; the 1.8-2.6 cm it was drew 3-4 px, below what a reader -- or the critic -- can see)
    height = {"small": (0.06, 0.09), "moderate": (0.12, 0.18), "large": (0.28, 0.38)}[sev]
    curve = {"small": (0.04, 0.06), "moderate": (0.06, 0.09), "large": (0.08, 0.12)}[sev]
    levels = {s: rng.uniform(*height) for s in (RIGHT, LEFT)}
    return Plan("Pleural Effusion", certainty, {"laterality": lat, "severity": sev},
                {"sides": sides, "levels": levels, "curve": rng.uniform(*curve)})


def plan_pneumothorax(rng: np.random.Generator, a: Anatomy, certainty: int) -> Plan:
    side = _side(rng, 0.55)
    sev = "small" if certainty == -1 else _choice(rng, ["small", "large"], [0.65, 0.35])
    if sev == "small":
        depth, reach = (rng.uniform(0.18, 0.24) if certainty == -1 else rng.uniform(0.32, 0.42)), 0.4
    else:
        depth, reach = rng.uniform(0.55, 0.72), -0.4
    loc = "apical" if sev == "small" else "apicolateral"
    return Plan("Pneumothorax", certainty, {"laterality": SIDE_NAME[side], "severity": sev, "location": loc},
                {"side": side, "depth": depth, "reach": reach})


LOBES = {
    # name: (side, vertical fraction apex->dome, lateral fraction of the hemithorax half-width)
    "right upper lobe": (RIGHT, 0.25, 0.55),
    "right middle lobe": (RIGHT, 0.64, 0.5),
    "right lower lobe": (RIGHT, 0.82, 0.6),
    "left upper lobe": (LEFT, 0.27, 0.55),
    "lingula": (LEFT, 0.6, 0.72),
    "left lower lobe": (LEFT, 0.84, 0.68),
}
LOBE_PRIOR = [0.13, 0.12, 0.28, 0.11, 0.1, 0.26]


def _lobe_point(a: Anatomy, lobe: str) -> tuple[float, float, int]:
    side, fy, fx = LOBES[lobe]
    dome = a.dome[0 if side == RIGHT else 1]
    return a.mx + side * fx * a.hw, a.apex_y + fy * (dome - a.apex_y), side


def plan_opacity(rng: np.random.Generator, a: Anatomy, certainty: int, kind: str) -> Plan:
    """Airspace opacity: 'consolidation' (dense, bronchograms) or nonspecific 'opacity' (hazy)."""
    lobe = _choice(rng, list(LOBES), LOBE_PRIOR)
    dense = kind == "consolidation" and certainty == 1
    extent = _choice(rng, ["patchy", "dense"], [0.55, 0.45]) if dense else ("hazy" if certainty == -1 else "patchy")
    # Consolidation replaces the air of the airspaces (dense, often with air bronchograms); a nonspecific
    # opacity only partly does. Kept apart in density so that what a report calls consolidation can be
    # told from an opacity on the image at 128 px.
    amp = ({"dense": 0.95, "patchy": 0.85}[extent] if dense else {"patchy": 0.55, "hazy": 0.5}[extent]) \
        * (0.75 if certainty == -1 else 1.0)
    bronchograms = dense and rng.random() < 0.7
    cx, cy, side = _lobe_point(a, lobe)
    details = {"location": lobe, "laterality": SIDE_NAME[side], "extent": extent,
               "air_bronchograms": "yes" if bronchograms else "no"}
    return Plan("Consolidation" if kind == "consolidation" else "Lung Opacity", certainty, details, {
        "center": (cx + rng.normal(0, 0.01), cy + rng.normal(0, 0.01)), "radius": rng.uniform(0.07, 0.11)
        * (0.8 if certainty == -1 else 1.0), "amp": amp, "bronchograms": bronchograms, "seed": int(rng.integers(2**31)),
    })


def plan_lesion(rng: np.random.Generator, a: Anatomy, certainty: int) -> Plan:
    # Sizes as reports use the words: a nodule is at most 3 cm, a mass larger. Certain nodules start at
    # 12 mm (4 px at 128 px): what a 2-view film shows reliably; smaller ones are the "possible" nodules.
    if certainty == -1:
        kind, size = "nodule", rng.uniform(8, 12)
    else:
        kind = _choice(rng, ["nodule", "mass"], [0.72, 0.28])
        size = rng.uniform(12, 30) if kind == "nodule" else rng.uniform(32, 60)
    lobes = ["right upper lobe", "right lower lobe", "left upper lobe", "left lower lobe", "right middle lobe"]
    lobe = _choice(rng, lobes, [0.3, 0.2, 0.25, 0.15, 0.1])
    side = RIGHT if lobe.startswith("right") else LEFT
    zone = {"upper": (0.22, 0.45), "middle": (0.55, 0.65), "lower": (0.6, 0.75)}[lobe.split()[1]]
    fy = rng.uniform(*zone)
    fx = rng.uniform(0.5, 0.8) if "middle" not in lobe else rng.uniform(0.35, 0.5)
    dome = a.dome[0 if side == RIGHT else 1]
    cx, cy = a.mx + side * fx * a.hw, a.apex_y + fy * (dome - a.apex_y)
    details = {"kind": kind, "size_mm": f"{size:.0f}", "location": lobe, "laterality": SIDE_NAME[side]}
    return Plan("Lung Lesion", certainty, details, {
        "center": (cx, cy), "radius": size / 2 / MM_PER_UNIT, "amp": (0.6 if certainty == -1 else 1.0),
        "lobulation": rng.uniform(0.03, 0.12), "phase": rng.uniform(0, 2 * np.pi)})


def plan_atelectasis(rng: np.random.Generator, a: Anatomy, certainty: int) -> Plan:
    lat = _choice(rng, ["right", "left", "bilateral"], [0.3, 0.35, 0.35])
    sev = "minimal" if certainty == -1 else _choice(rng, ["minimal", "mild", "moderate"], [0.3, 0.5, 0.2])
    pattern = _choice(rng, ["plate-like", "subsegmental", "linear"])
    sides = [RIGHT, LEFT] if lat == "bilateral" else [RIGHT if lat == "right" else LEFT]
    bands = []
    for s in sides:
        for _ in range(1 if sev == "minimal" else 2):
            # (side, height above the dome, lateral position, length, tilt in degrees)
            bands.append((s, rng.uniform(0.035, 0.1), rng.uniform(0.5, 0.75), rng.uniform(0.09, 0.16),
                          rng.uniform(-12, 14)))
    width = {"minimal": 0.008, "mild": 0.011, "moderate": 0.015}[sev]
    return Plan("Atelectasis", certainty, {"laterality": lat, "severity": sev, "pattern": pattern, "location": "base"},
                {"bands": bands, "width": width, "amp": 0.5 if certainty == -1 else 0.85,
                 "haze": {"minimal": 0.0, "mild": 0.2, "moderate": 0.35}[sev]})


def plan_edema(rng: np.random.Generator, a: Anatomy, certainty: int) -> Plan:
    sev = "mild" if certainty == -1 else _choice(rng, ["mild", "moderate", "severe"], [0.45, 0.4, 0.15])
    amp = {"mild": 0.3, "moderate": 0.45, "severe": 0.62}[sev] * (0.7 if certainty == -1 else 1.0)
    kerley = certainty == 1 and sev != "mild" and rng.random() < 0.6
    return Plan("Edema", certainty, {"severity": sev, "laterality": "bilateral", "distribution": "perihilar",
                                     "kerley_lines": "yes" if kerley else "no"},
                {"amp": amp, "spread": rng.uniform(0.9, 1.15), "kerley": kerley, "seed": int(rng.integers(2**31))})


def plan_pleural_other(rng: np.random.Generator, a: Anatomy, certainty: int) -> Plan:
    side = _side(rng)
    return Plan("Pleural Other", certainty, {"laterality": SIDE_NAME[side], "kind": "apical pleural thickening"},
                {"side": side, "depth": rng.uniform(0.08, 0.13), "amp": 0.4 if certainty == -1 else 0.75})


def plan_support_devices(rng: np.random.Generator, a: Anatomy, certainty: int) -> Plan:
    details, params = plan_devices(rng, a, certainty)
    return Plan("Support Devices", certainty, details, params)


PLANNERS: dict[str, Callable[[np.random.Generator, Anatomy, int], Plan]] = {
    "Cardiomegaly": plan_cardiomegaly,
    "Enlarged Cardiomediastinum": plan_mediastinum,
    "Fracture": plan_fracture,
    "Pleural Effusion": plan_effusion,
    "Atelectasis": plan_atelectasis,
    "Consolidation": lambda r, a, c: plan_opacity(r, a, c, "consolidation"),
    "Lung Opacity": lambda r, a, c: plan_opacity(r, a, c, "opacity"),
    "Edema": plan_edema,
    "Lung Lesion": plan_lesion,
    "Pleural Other": plan_pleural_other,
    "Pneumothorax": plan_pneumothorax,
    "Support Devices": plan_support_devices,
}


def reshape_anatomy(a: Anatomy, plans: list[Plan]) -> Anatomy:
    """Apply the findings that are really anatomy: heart size, mediastinal width, a broken rib."""
    for p in plans:
        if p.label == "Cardiomegaly":
            a = replace(a, ctr=float(p.params["ctr"]))
        elif p.label == "Enlarged Cardiomediastinum":
            a = replace(a, mediastinal_widening=float(p.params["widen"]))  # type: ignore[arg-type]
        elif p.label == "Fracture":
            a = replace(a, fracture=p.params["fracture"])  # type: ignore[arg-type]
    return a


# ----------------------------------------------------------------------------------------------
# Drawers
# ----------------------------------------------------------------------------------------------


def _half(grid: Grid, a: Anatomy, side: int) -> slice:
    return grid.span(0, a.mx) if side == RIGHT else grid.span(a.mx, 1)


def draw_effusion(film: Film, a: Anatomy, p: Plan) -> None:
    """Dependent fluid: fills the base, meniscus climbing the lateral wall, costophrenic angle blunted."""
    grid = film.grid
    amp = 0.55 if p.faint else 0.97
    for side in p.params["sides"]:  # type: ignore[union-attr]
        cp_y = a.dome[0 if side == RIGHT else 1] + a.cp_drop
        level = cp_y - float(p.params["levels"][side])  # type: ignore[index]
        cols = _half(grid, a, side)
        rows = grid.span(level - 0.03, 1.0)
        x, y = grid.x[:, cols], grid.y[rows, :]
        lat = np.clip((x - F32(a.mx)) * F32(side / a.hw), 0, 1)  # 0 medial .. 1 at the chest wall
        surface = F32(level) + F32(p.params["curve"]) * (F32(1.0) - lat**3)  # meniscus: steep at the wall
        fade = 0.025 + 0.03 * (level < cp_y - 0.1)
        op = np.clip((y - surface) * F32(1.0 / fade), 0, 1)
        op = op * op * (F32(3) - F32(2) * op)
        film.fill(op * F32(amp), rows, cols)


def draw_pneumothorax(film: Film, a: Anatomy, p: Plan) -> None:
    """Free pleural air: no markings beyond a thin visceral pleural line, lung edge pulled in."""
    grid = film.grid
    side = int(p.params["side"])  # type: ignore[arg-type]
    cols = _half(grid, a, side)
    x, y = grid.x[:, cols], grid.y
    cx, cy, rx_lat, _, ry_top = a.lung_box(side)
    level = a.lung_level(side, x, y)
    dy = (y - F32(cy)) * F32(1.0 / ry_top)  # -1 apex .. 0 costophrenic level
    reach = float(p.params["reach"])  # type: ignore[arg-type]
    w = np.clip((-dy - F32(reach)) * F32(1.0 / (1 - reach)), 0, 1)
    lateral = np.clip((x - F32(cx)) * F32(side / rx_lat) + F32(0.6), 0, 1)
    w = w * np.maximum(lateral, np.clip(-dy * F32(3) - F32(2), 0, 1))
    thr = F32(1.0) - F32(p.params["depth"]) * np.sqrt(w)
    lung = film.lung[:, cols]
    ptx = np.clip((level - thr) * F32(grid.size * 0.06), 0, 1) * lung * (w > 0.02)
    gain = 0.6 if p.faint else 1.0
    film.markings[:, cols] *= F32(1.0) - ptx * F32(gain)
    # Pleural air replaces the lung's tissue share (not its thickness): locally a bit more lucent.
    film.air[:, cols] *= F32(1.0) + F32(0.2 * gain) * ptx
    # The visceral pleural line: a thin bright rim on the collapsed lung's edge.
    width = F32(max(0.0022 * grid.size, 0.7))
    grad = F32(2.0 / rx_lat) / F32(grid.size)  # level units per pixel (approximately)
    line = np.exp(-(((level - thr) / (grad * width)) ** 2)) * lung * (w > 0.05)
    film.extra[:, cols] += line * F32(0.07 * gain)


def _blob_field(grid: Grid, rng: np.random.Generator, center: tuple[float, float], radius: float,
                rows: slice, cols: slice) -> np.ndarray:
    """A patchy, lobulated 0..1 field: several Gaussian puffs modulated by smooth noise."""
    x, y = grid.x[:, cols], grid.y[rows, :]
    field_ = np.zeros((rows.stop - rows.start, cols.stop - cols.start), dtype=F32)
    cx, cy = center
    for _ in range(7):
        px, py = cx + rng.normal(0, radius * 0.45), cy + rng.normal(0, radius * 0.4)
        s = radius * rng.uniform(0.35, 0.6)
        field_ += np.exp(-(((x - F32(px)) ** 2 + (y - F32(py)) ** 2) * F32(1.0 / (s * s)))) * F32(rng.uniform(0.5, 1.0))
    noise = smooth_noise(rng, grid.size, 22)[rows, cols]
    field_ *= np.clip(F32(0.78) + F32(0.3) * noise, 0.45, 1.1)
    return np.clip(field_ * F32(1.3), 0, 1)


def draw_opacity(film: Film, a: Anatomy, p: Plan) -> None:
    """Airspace filling (consolidation or nonspecific opacity), optionally with air bronchograms."""
    grid = film.grid
    rng = np.random.default_rng(int(p.params["seed"]))  # type: ignore[arg-type]
    cx, cy = p.params["center"]  # type: ignore[misc]
    r = float(p.params["radius"])  # type: ignore[arg-type]
    rows, cols = grid.span(cy - 2.2 * r, cy + 2.2 * r), grid.span(cx - 2.2 * r, cx + 2.2 * r)
    op = _blob_field(grid, rng, (cx, cy), r, rows, cols) * F32(p.params["amp"])
    if p.params["bronchograms"]:
        tubes = np.zeros_like(op)
        starts, ends, widths = [], [], []
        for _ in range(3):
            ang = rng.uniform(0, 2 * np.pi)
            x0, y0 = cx - 0.6 * r * np.cos(ang), cy - 0.6 * r * np.sin(ang)
            for k in range(3):
                ang += rng.normal(0, 0.25)
                x1, y1 = x0 + 0.35 * r * np.cos(ang), y0 + 0.35 * r * np.sin(ang)
                starts.append((x0, y0))
                ends.append((x1, y1))
                widths.append(0.006 * (1 - 0.2 * k))
                x0, y0 = x1, y1
        segments(tubes, np.array(starts), np.array(ends), np.array(widths), 1.0, profile=gauss_profile,
                 size=grid.size, origin=(cols.start, rows.start))
        op *= F32(1.0) - F32(0.45) * tubes * (op > 0.5)
    film.fill(op, rows, cols)


def draw_lesion(film: Film, a: Anatomy, p: Plan) -> None:
    """A solid nodule or mass: a lobulated sphere of soft tissue, round and well defined."""
    grid = film.grid
    cx, cy = p.params["center"]  # type: ignore[misc]
    r = float(p.params["radius"])  # type: ignore[arg-type]
    rows, cols, rr = disc(grid, cx, cy, r * 1.2, r * 1.2, pad=2 * grid.px)
    ang = np.arctan2(grid.y[rows, :] - F32(cy), grid.x[:, cols] - F32(cx))
    lob = F32(1.0) + F32(p.params["lobulation"]) * np.sin(F32(3) * ang + F32(p.params["phase"]))
    rn = rr * F32(1.2) / lob  # 1 on the (lobulated) surface
    thickness = np.sqrt(np.clip(F32(1.0) - rn * rn, 0, 1))
    edge = np.clip((F32(1.0) - rn) * F32(r * grid.size / 1.2), 0, 1)
    # Sphere of tissue: denser for bigger lesions (longer path), never below a visible minimum.
    amp = (0.16 + 0.14 * min(r * MM_PER_UNIT * 2 / 60.0, 1.0)) * float(p.params["amp"])  # type: ignore[arg-type]
    film.extra[rows, cols] += F32(amp) * np.maximum(thickness, F32(0.35) * edge)
    film.markings[rows, cols] *= F32(1.0) - edge * F32(0.7)


def draw_atelectasis(film: Film, a: Anatomy, p: Plan) -> None:
    """Plate-like (discoid) bands of collapsed lung just above the diaphragm, with mild basal haze."""
    grid = film.grid
    canvas = np.zeros((grid.size, grid.size), dtype=F32)
    for side, lift, fx, length, tilt in p.params["bands"]:  # type: ignore[union-attr]
        dome = a.dome[0 if side == RIGHT else 1]
        cx, cy = a.mx + side * fx * a.hw, dome - lift
        t = np.deg2rad(tilt)
        dx, dy = 0.5 * length * np.cos(t), 0.5 * length * np.sin(t) * side
        pts = np.array([[cx - dx * side, cy - dy], [cx, cy + 0.004], [cx + dx * side, cy + dy]])
        stroke(canvas, pts, float(p.params["width"]), 1.0, profile=gauss_profile, combine="max")
    op = canvas * F32(p.params["amp"])
    haze = float(p.params["haze"])  # type: ignore[arg-type]
    if haze:
        for side in sorted({b[0] for b in p.params["bands"]}):  # type: ignore[union-attr]
            dome = a.dome[0 if side == RIGHT else 1]
            rows, cols, r = disc(grid, a.mx + side * 0.5 * a.hw, dome, 0.4 * a.hw, 0.07)
            op[rows, cols] = np.maximum(op[rows, cols], F32(haze) * np.exp(-(r * r) * F32(2.5)))
    film.fill(op)


def draw_edema(film: Film, a: Anatomy, p: Plan) -> None:
    """Bilateral perihilar (bat-wing) haze fading to the periphery, thickened interstitium, Kerley B lines."""
    grid = film.grid
    rng = np.random.default_rng(int(p.params["seed"]))  # type: ignore[arg-type]
    amp, spread = float(p.params["amp"]), float(p.params["spread"])  # type: ignore[arg-type]
    x, y = grid.x, grid.y
    haze = np.zeros((grid.size, grid.size), dtype=F32)
    for side in (RIGHT, LEFT):
        hx, hy = a.hilum(side)
        cols = _half(grid, a, side)
        sx, sy = 0.17 * a.hw / 0.355 * spread, 0.15 * spread
        g = np.exp(-(((x[:, cols] - F32(hx)) / F32(sx)) ** 2) - (((y - F32(hy + 0.03)) / F32(sy)) ** 2))
        haze[:, cols] = g
    texture = smooth_noise(rng, grid.size, 36)
    op = haze * (F32(0.8) + F32(0.25) * texture) * F32(amp)
    film.fill(np.clip(op, 0, 1))
    film.markings += film.lung * np.clip(texture, 0, None) * F32(0.02 * amp)
    if p.params["kerley"]:
        starts, ends = [], []
        for side in (RIGHT, LEFT):
            dome = a.dome[0 if side == RIGHT else 1]
            for _ in range(7):
                yy = dome - rng.uniform(0.01, 0.12)
                wall = a.mx + side * a.hw * 0.97
                starts.append((wall, yy))
                ends.append((wall - side * rng.uniform(0.018, 0.03), yy + rng.normal(0, 0.002)))
        lines = np.zeros((grid.size, grid.size), dtype=F32)
        segments(lines, np.array(starts), np.array(ends), 0.0025, 1.0)
        film.extra += lines * film.lung * F32(0.06)


def draw_pleural_other(film: Film, a: Anatomy, p: Plan) -> None:
    """Apical pleural thickening: a thin cap of soft tissue over the lung apex."""
    grid = film.grid
    side = int(p.params["side"])  # type: ignore[arg-type]
    cols = _half(grid, a, side)
    _, cy, _, _, ry_top = a.lung_box(side)
    rows = grid.span(0, cy - 0.55 * ry_top)
    level = a.lung_level(side, grid.x[:, cols], grid.y[rows, :])
    depth = float(p.params["depth"])  # type: ignore[arg-type]
    op = np.clip((level - F32(1 - depth)) * F32(1.0 / depth), 0, 1) ** 0.5
    film.fill(op * F32(p.params["amp"]) * film.lung[rows, cols], rows, cols)


def draw_fracture_hematoma(film: Film, a: Anatomy, p: Plan) -> None:
    """The soft-tissue density of blood along the inner chest wall at an acute rib break (the rib
    itself is broken by the anatomy renderer)."""
    amp = float(p.params.get("hematoma", 0.0))  # type: ignore[arg-type]
    if amp <= 0:
        return
    f: RibFracture = p.params["fracture"]  # type: ignore[assignment]
    w = a.rib_w * (0.8 + 0.025 * f.rib)
    cx = a.mx + f.side * f.t * a.hw
    cy = float(a.rib_curve(f.side, f.rib, np.array([f.t]))[0]) + 0.5 * f.offset * w
    # lens-shaped along the rib (a callus-like cuff), not round like a nodule
    rows, cols, rr = disc(film.grid, cx, cy, 2.4 * w, 0.75 * w, pad=2 * film.grid.px)
    film.extra[rows, cols] += F32(amp) * np.sqrt(np.clip(F32(1.0) - rr * rr, 0, 1))


DRAWERS: dict[str, Callable[[Film, Anatomy, Plan], None]] = {
    "Pleural Effusion": draw_effusion,
    "Atelectasis": draw_atelectasis,
    "Consolidation": draw_opacity,
    "Lung Opacity": draw_opacity,
    "Edema": draw_edema,
    "Lung Lesion": draw_lesion,
    "Fracture": draw_fracture_hematoma,
    "Pleural Other": draw_pleural_other,
    "Pneumothorax": draw_pneumothorax,
    "Support Devices": lambda film, a, p: draw_devices(film, a, p.params),
}


def draw_findings(film: Film, a: Anatomy, plans: list[Plan]) -> None:
    """Draw every planned finding in a fixed, physically sensible order (air last, metal on top)."""
    order = {name: i for i, name in enumerate(DRAWERS)}
    for p in sorted(plans, key=lambda q: order.get(q.label, -1)):
        drawer = DRAWERS.get(p.label)
        if drawer is not None:
            drawer(film, a, p)
