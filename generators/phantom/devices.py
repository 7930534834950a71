"""Support devices: endotracheal and enteric tubes, central venous catheters, pacemakers.

Devices are what makes 'Support Devices' the commonest label, and their radiopaque parts are the only
thing on a chest film brighter than bone, so they are burnt in near full scale by the detector. Paths
follow the real anatomy of the seed (trachea and carina, veins to the SVC, oesophagus to the stomach),
and the report quotes the same tip positions that were drawn.
"""

from __future__ import annotations

import numpy as np

from medmint.generators.phantom.anatomy import LEFT, RIGHT, SIDE_NAME, Anatomy, Film
from medmint.generators.phantom.raster import F32, bezier, disc, flat_profile, stroke, tube_profile

CM = 0.025  # normalised length of one centimetre (the image is about 40 cm wide)

CVC_ACCESS = ["right internal jugular", "left internal jugular", "right subclavian", "left subclavian",
              "right PICC", "left PICC"]
CVC_PRIOR = [0.46, 0.1, 0.1, 0.14, 0.14, 0.06]
CVC_TIPS = {"mid SVC": 0.03, "low SVC": 0.06, "cavoatrial junction": 0.09, "right atrium": 0.125}


def plan_devices(rng: np.random.Generator, a: Anatomy, certainty: int) -> tuple[dict[str, str], dict[str, object]]:
    """Pick which devices the patient has and where their tips lie."""
    u = rng.random(8)
    if certainty == -1:
        access = str(rng.choice(["right internal jugular", "left subclavian"]))
        return ({"devices": "catheter", "cvc_access": access, "visibility": "partial"},
                {"cvc": (access, 0.0), "partial": True, "seed": int(rng.integers(2**31))})
    has = {"ett": u[0] < 0.45, "cvc": u[1] < 0.55, "ng": u[2] < 0.35, "pacemaker": u[3] < 0.22}
    if not any(has.values()):
        has[str(rng.choice(["ett", "cvc", "ng", "pacemaker"], p=[0.3, 0.4, 0.1, 0.2]))] = True
    names = {"ett": "endotracheal tube", "cvc": "central venous catheter", "ng": "enteric tube",
             "pacemaker": "pacemaker"}
    details = {"devices": ", ".join(names[k] for k, v in has.items() if v)}
    params: dict[str, object] = {"seed": int(rng.integers(2**31)), "partial": False}
    ett_cm = round(float(rng.uniform(2.5, 6.0)) * 2) / 2
    access = str(CVC_ACCESS[int(rng.choice(len(CVC_ACCESS), p=CVC_PRIOR))])
    tip = str(rng.choice(list(CVC_TIPS), p=[0.35, 0.3, 0.25, 0.1]))
    pm_side = LEFT if u[4] < 0.85 else RIGHT
    leads = 2 if u[5] < 0.6 else 1
    if has["ett"]:
        details["ett_tip_cm_above_carina"] = f"{ett_cm:.1f}"
        params["ett"] = ett_cm
    if has["cvc"]:
        details["cvc_access"] = access
        details["cvc_tip"] = tip
        params["cvc"] = (access, CVC_TIPS[tip])
    if has["ng"]:
        details["enteric_tip"] = "stomach"
        params["ng"] = True
    if has["pacemaker"]:
        details["pacemaker_side"] = SIDE_NAME[pm_side]
        details["pacemaker_leads"] = str(leads)
        params["pacemaker"] = (pm_side, leads)
    return details, params


def _metal_line(film: Film, pts: np.ndarray, width: float, amount: float = 1.0) -> None:
    """A radiopaque wire or stripe: at least ~1.4 px wide so it stays full-bright at any size."""
    w = max(width, 1.4 / film.grid.size)
    stroke(film.metal, pts, w, amount, profile=flat_profile, combine="max")


def _cvc_path(a: Anatomy, access: str, tip_drop: float, partial: bool) -> np.ndarray:
    """Catheter course from the access vein to the SVC (left-sided lines cross the midline)."""
    mx, cy, clav = a.mx, a.carina_y, a.clav_y
    s = RIGHT if access.startswith("right") else LEFT
    svc_x = mx - 0.033
    tip = (svc_x, cy + tip_drop)
    junction = mx + 0.05 * s if s == RIGHT else mx  # brachiocephalic confluence
    if "jugular" in access:
        ctrl = [(mx + s * 0.1, -0.01), (mx + s * 0.085, clav - 0.02),
                (junction if s == RIGHT else mx + 0.02, cy - 0.06), (svc_x, cy - 0.02), tip]
    elif "subclavian" in access:
        ctrl = [(mx + s * 0.3, clav + 0.03), (mx + s * 0.14, clav + 0.04), (junction, cy - 0.05),
                (svc_x, cy - 0.01), tip]
    else:  # PICC from the arm
        ctrl = [(mx + s * (a.body_w + 0.05), a.shoulder_y + 0.2), (mx + s * 0.33, clav + 0.05),
                (mx + s * 0.14, clav + 0.045), (junction, cy - 0.05), (svc_x, cy - 0.005), tip]
    pts = bezier(ctrl, 40)
    return pts[:18] if partial else pts


def draw_devices(film: Film, a: Anatomy, params: dict[str, object]) -> None:
    """Draw the planned devices: tube walls as soft density, radiopaque parts as metal."""
    mx = a.mx
    if "ett" in params:
        tip_y = a.carina_y - float(params["ett"]) * CM  # type: ignore[arg-type]
        tx = mx - 0.006
        pts = np.array([[tx + 0.004, -0.02], [tx + 0.001, 0.5 * tip_y], [tx, tip_y]])
        stroke(film.extra, pts, 0.02, 0.05, profile=tube_profile)
        _metal_line(film, pts + np.array([0.006, 0.0]), 0.0028)
    if "ng" in params:
        d = a.dome[1]
        pts = bezier([(mx + 0.014, -0.02), (mx + 0.012, a.carina_y), (mx + 0.03, d - 0.02), (mx + 0.07, d + 0.07),
                      (mx + 0.17, d + 0.075)], 36)
        stroke(film.extra, pts, 0.011, 0.05, profile=tube_profile)
        _metal_line(film, pts, 0.0025)
    if "cvc" in params:
        access, drop = params["cvc"]  # type: ignore[misc]
        pts = _cvc_path(a, str(access), float(drop), bool(params.get("partial")))
        _metal_line(film, pts, 0.0035, 0.75 if params.get("partial") else 1.0)
    if "pacemaker" in params:
        side, leads = params["pacemaker"]  # type: ignore[misc]
        gx, gy = mx + side * 0.24 * a.hw / 0.355, a.clav_y + 0.075
        rows, cols, _ = disc(film.grid, gx, gy, 0.04, 0.03, pad=0.004)
        dx = (film.grid.x[:, cols] - F32(gx)) * F32(1 / 0.04)
        dy = (film.grid.y[rows, :] - F32(gy)) * F32(1 / 0.028)
        box = np.clip((F32(1.0) - (dx**4 + dy**4)) * F32(0.04 * film.grid.size / 3), 0, 1)
        np.maximum(film.metal[rows, cols], box, out=film.metal[rows, cols])
        tips = [(mx + 0.065, a.dome[1] - 0.03)]
        if leads == 2:
            tips.insert(0, (mx - 0.035, a.dome[0] - 0.11))
        for j, (ex, ey) in enumerate(tips):
            pts = bezier([(gx - side * 0.03, gy - 0.01), (mx + side * 0.12, a.clav_y + 0.03 + 0.01 * j),
                          (mx - 0.03, a.carina_y - 0.02), (mx - 0.04, a.carina_y + 0.12), (ex, ey)], 40)
            _metal_line(film, pts, 0.0035)
            _metal_line(film, np.array([[ex - 0.004, ey - 0.003], [ex + 0.004, ey + 0.003]]), 0.007)
