"""The phantom's pixels: format, determinism, and every finding measured from the image.

Each finding is rendered alone on a seed and compared with the same seed rendered normal; since every
part of a case draws from its own random stream, the two images share patient, exposure and noise
and differ only where the finding is. The measurements below use only pixels (plus the side/place
the case reports in ``details``), never the generator's internal geometry.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from medmint.generators.phantom import sample_case

SIZE = 256
NORMAL = {"No Finding": 1}


def _smooth(v: np.ndarray, k: int) -> np.ndarray:
    return np.convolve(v, np.ones(k) / k, mode="same")


def box_blur(img: np.ndarray, k: int) -> np.ndarray:
    """Mean over a (2k+1)^2 box via an integral image (edges clamped)."""
    p = np.pad(img.astype(np.float64), k + 1, mode="edge")
    c = p.cumsum(0).cumsum(1)
    s = 2 * k + 1
    out = c[s:, s:] - c[:-s, s:] - c[s:, :-s] + c[:-s, :-s]
    return out[: img.shape[0], : img.shape[1]] / (s * s)


def row_blur(img: np.ndarray, k: int) -> np.ndarray:
    """Mean over 2k+1 neighbouring columns of the same row (edges clamped)."""
    p = np.pad(img.astype(np.float64), ((0, 0), (k + 1, k)), mode="edge")
    c = p.cumsum(1)
    return (c[:, 2 * k + 1 :] - c[:, : -2 * k - 1]) / (2 * k + 1)


def cardiothoracic_ratio(img: np.ndarray) -> float:
    """Max transverse cardiac diameter / max inner thoracic diameter, read from the pixels.

    Per row (scanning down from the upper chest): the bright central run around the midline is the
    cardiomediastinal silhouette, the dark runs either side are the lungs, and each lung's lateral
    edge is where the profile climbs towards the chest wall. Scanning stops where the silhouette
    jumps outwards (a hemidiaphragm joins it) or a lung disappears.
    """
    n = img.shape[0]
    im = img.astype(float)
    k = max(2, n // 64)
    mid = n // 2
    hearts, thoraces = [], []
    prev = None
    for r in range(int(0.35 * n), int(0.9 * n), max(1, n // 128)):
        p = _smooth(im[r - k : r + k + 1].mean(0), k)
        centre = np.median(p[mid - n // 32 : mid + n // 32])
        lung = np.percentile(p[int(0.1 * n) : int(0.9 * n)], 5)
        thr = lung + 0.5 * (centre - lung)
        left = mid
        while left > 0 and p[left - 1] >= thr:
            left -= 1
        right = mid
        while right < n - 1 and p[right + 1] >= thr:
            right += 1
        edges = []
        for start, step in ((left - 1, -1), (right + 1, 1)):
            run = []
            x = start
            while 0 <= x < n and p[x] < thr:
                run.append(x)
                x += step
            if len(run) < n // 20:
                break
            vals = p[run]
            floor, wall = np.median(vals), vals.max()
            cut = floor + 0.6 * (wall - floor)
            edges.append(next((x for x, v in zip(run, vals) if v > cut and abs(x - start) > n // 25), run[-1]))
        if len(edges) < 2:
            break
        if prev is not None and max(prev[0] - left, right - prev[1]) > n // 20:
            break
        prev = (left, right)
        hearts.append(right - left)
        thoraces.append(edges[1] - edges[0])
    assert hearts, "no row with both lungs and a cardiac silhouette found"
    return max(hearts) / max(thoraces)


@functools.lru_cache(maxsize=None)
def _render(seed: int, label: str, value: int, view: str | None) -> tuple[np.ndarray, dict[str, str]]:
    case = sample_case(seed, size=SIZE, findings={label: value}, view=view)
    image = case.image.astype(float)
    image.flags.writeable = False
    return image, case.details.get(label, {})


def pair(
    seed: int, label: str, value: int = 1, view: str | None = None
) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """(normal image, image with the finding, the finding's details) for one seed (cached)."""
    base, _ = _render(seed, "No Finding", 1, view)
    case, details = _render(seed, label, value, view)
    return base, case, details


def half_cols(side: str, n: int = SIZE) -> slice:
    """Image columns of a patient side (radiographic convention: patient right on image left)."""
    return slice(0, n // 2) if side == "right" else slice(n // 2, n)


# ----------------------------------------------------------------------------------------------
# Format and determinism
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [63, 1025, 0, -256])
def test_out_of_range_sizes_are_rejected_naming_the_value(size: int) -> None:
    with pytest.raises(ValueError, match=str(size)):
        sample_case(0, size=size)


@pytest.mark.parametrize("size", [64, 100, 1024])
def test_image_format_is_12_bit_monochrome2(size: int) -> None:
    case = sample_case(5, size=size)
    assert case.image.shape == (size, size)
    assert case.image.dtype == np.uint16
    assert case.bits_stored == 12
    assert int(case.image.max()) <= 4095
    assert int(case.image.max()) - int(case.image.min()) > 2000  # uses the range


def test_same_arguments_give_identical_bytes_and_text() -> None:
    kw = dict(size=128, phi=True, findings={"Pleural Effusion": 1, "Support Devices": 1})
    a, b = sample_case(42, **kw), sample_case(42, **kw)  # type: ignore[arg-type]
    assert a.image.tobytes() == b.image.tobytes()
    for field in ("report", "labels", "details", "phi_spans", "dicom_phi", "findings", "impression"):
        assert getattr(a, field) == getattr(b, field)
    c = sample_case(43, **kw)  # type: ignore[arg-type]
    assert c.image.tobytes() != a.image.tobytes()


def test_anatomy_reads_as_a_frontal_chest_film() -> None:
    """Bright = dense: mediastinum and abdomen bright, lungs dark, air above the shoulders darkest."""
    for seed in range(4):
        im = pair(seed, "No Finding")[0]
        n = SIZE
        mediastinum = im[int(0.25 * n) : int(0.5 * n), n // 2 - 6 : n // 2 + 6].mean()
        right_lung = im[int(0.3 * n) : int(0.55 * n), int(0.22 * n) : int(0.35 * n)].mean()
        left_lung = im[int(0.3 * n) : int(0.55 * n), int(0.65 * n) : int(0.78 * n)].mean()
        abdomen = im[int(0.92 * n) :, int(0.3 * n) : int(0.7 * n)].mean()
        corner = im[:6, :6].mean()
        assert mediastinum > max(right_lung, left_lung) + 800
        assert abdomen > max(right_lung, left_lung) + 800
        assert corner < min(right_lung, left_lung) - 300


def test_anatomy_varies_per_seed() -> None:
    ratios = {round(cardiothoracic_ratio(pair(s, "No Finding")[0]), 3) for s in range(6)}
    assert len(ratios) >= 4


# ----------------------------------------------------------------------------------------------
# Findings, measured from pixels
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("view", ["PA", "AP"])
def test_cardiomegaly_raises_the_measured_cardiothoracic_ratio(view: str) -> None:
    for seed in range(4):
        base, case, d = pair(seed, "Cardiomegaly", view=view)
        normal, big = cardiothoracic_ratio(base), cardiothoracic_ratio(case)
        assert normal < 0.5, (seed, normal)
        assert big > 0.5, (seed, big, d)
        assert big > normal + 0.08


def test_cardiomegaly_severity_orders_the_ratio() -> None:
    measured: dict[str, list[float]] = {}
    for seed in range(10):
        _, image, d = pair(seed, "Cardiomegaly", view="PA")
        measured.setdefault(d["severity"], []).append(cardiothoracic_ratio(image))
    assert {"mild", "moderate"} <= set(measured)
    assert np.mean(measured["mild"]) < np.mean(measured["moderate"])


def costophrenic_gain(base: np.ndarray, case: np.ndarray) -> dict[str, float]:
    """Largest 7x7-mean brightening in each side's lower lateral chest (the costophrenic region)."""
    n = base.shape[0]
    diff = box_blur(case - base, 3)
    rows = slice(int(0.6 * n), int(0.95 * n))
    right, left = diff[rows, int(0.08 * n) : int(0.35 * n)], diff[rows, int(0.65 * n) : int(0.92 * n)]
    return {"right": right.max(), "left": left.max()}


def test_effusion_brightens_the_costophrenic_region_on_its_side() -> None:
    seen = set()
    for seed in range(10):
        base, case, d = pair(seed, "Pleural Effusion")
        gain = costophrenic_gain(base, case)
        sides = ["right", "left"] if d["laterality"] == "bilateral" else [d["laterality"]]
        seen.add(d["laterality"])
        for side in ("right", "left"):
            if side in sides:
                assert gain[side] > 150, (seed, d, side, gain)
            else:
                assert abs(gain[side]) < 5, (seed, d, side, gain)
    assert seen == {"right", "left", "bilateral"}


def test_effusion_meniscus_climbs_laterally() -> None:
    """Fluid reaches higher against the chest wall than medially (the meniscus)."""
    checked = 0
    for seed in range(30):
        base, case, d = pair(seed, "Pleural Effusion")
        if d["severity"] == "small":
            continue  # a small effusion only fills the costophrenic recess
        checked += 1
        side = "right" if d["laterality"] != "left" else "left"
        diff = box_blur(case - base, 1)
        n = SIZE
        # Top of the fluid per column, from the chest wall (lateral) towards the heart (medial).
        if side == "right":
            lateral_to_medial = range(int(0.16 * n), int(0.36 * n))
        else:
            lateral_to_medial = range(int(0.84 * n), int(0.64 * n), -1)
        tops = []
        for x in lateral_to_medial:
            rows = np.nonzero(diff[:, x] > 40)[0]
            if len(rows):
                tops.append(rows.min())
        assert len(tops) > n // 10, (seed, d)
        third = len(tops) // 3
        assert np.mean(tops[:third]) < np.mean(tops[-third:]) - 2, (seed, d, tops)
        if checked == 4:
            return
    pytest.fail("fewer than 4 moderate/large effusions in 30 seeds")


def test_uncertain_effusion_is_drawn_fainter() -> None:
    for seed in range(4):
        base, firm, _ = pair(seed, "Pleural Effusion", 1)
        _, faint, _ = pair(seed, "Pleural Effusion", -1)
        assert 0 < np.abs(faint - base).sum() < np.abs(firm - base).sum()


def test_pneumothorax_removes_lung_markings_at_the_apex_and_shows_a_pleural_line() -> None:
    n = SIZE
    for seed in range(6):
        base, case, d = pair(seed, "Pneumothorax")
        diff = case - base
        darker = box_blur(-diff, 1) > 12
        ys, xs = np.nonzero(darker)
        assert len(ys) > 40, (seed, d)
        # Where: on the reported side, reaching the apex.
        assert (xs.mean() < n / 2) == (d["laterality"] == "right"), (seed, d)
        assert np.percentile(ys, 10) < 0.3 * n
        # What: hyperlucent, and no lung markings. Fine texture across rows (image minus its mean over
        # 5 neighbouring columns) is compared inside the air collection, away from its edges and the
        # pleural line. Across rows it sees the vessels, which run up and out from the hilum, and hardly
        # the ribs and clavicles, which run across and stay.
        line = box_blur((diff > 5).astype(float), 4) > 0
        core = (box_blur(darker.astype(float), 3) > 0.999) & ~line
        assert core.sum() > 100, (seed, d)
        h0, h1 = base - row_blur(base, 2), case - row_blur(case, 2)
        assert (h1[core] ** 2).mean() < 0.75 * (h0[core] ** 2).mean(), (seed, d)
        assert case[core].mean() < base[core].mean() - 20
        # And a thin bright visceral pleural line along the collapsed lung's edge.
        near = box_blur(darker.astype(float), 3) > 0.02
        bright = (diff > 25) & near
        assert bright.sum() > 8, (seed, d)
        assert bright.sum() < 0.5 * darker.sum()  # a line, not an area


def test_pneumothorax_on_the_left_spares_the_right_lung() -> None:
    for seed in range(12):
        base, case, d = pair(seed, "Pneumothorax")
        if d["laterality"] == "left":
            assert np.abs(case - base)[:, : SIZE // 2 - 10].max() == 0
            return
    pytest.fail("no left pneumothorax in 12 seeds")


def test_lesion_is_a_round_bright_blob_sized_as_reported() -> None:
    for seed in range(6):
        base, case, d = pair(seed, "Lung Lesion")
        diff = box_blur(case - base, 1)
        blob = diff > 0.4 * diff.max()
        ys, xs = np.nonzero(blob)
        assert diff.max() > 60, (seed, d)
        h, w = np.ptp(ys) + 1, np.ptp(xs) + 1
        fill = blob.sum() / (h * w)
        assert 0.55 < fill < 0.95 and 0.6 < h / w < 1.6, (seed, d, h, w, fill)  # round, not a band
        assert (xs.mean() < SIZE / 2) == (d["laterality"] == "right")
        # Size: the blob's diameter in mm (40 cm field of view) follows the reported size.
        diameter_mm = max(h, w) / SIZE * 400
        assert 0.4 * int(d["size_mm"]) < diameter_mm < 1.6 * int(d["size_mm"]) + 6, (seed, d, diameter_mm)


def test_support_devices_add_near_full_scale_metal() -> None:
    for seed in range(6):
        base, case, d = pair(seed, "Support Devices", view="AP")  # same view: same patient
        assert base.max() < 3950
        assert (case >= 3950).sum() > 20, d


def test_rib_fracture_breaks_one_rib_locally() -> None:
    n = SIZE
    for seed in range(6):
        base, case, d = pair(seed, "Fracture")
        changed = np.abs(case - base) > 25
        ys, xs = np.nonzero(changed)
        assert len(ys) > 5, (seed, d)
        assert changed.sum() < 0.02 * n * n and np.ptp(xs) < 0.35 * n, (seed, d)  # one rib (its lateral fragment), one place
        assert (xs.mean() < n / 2) == (d["laterality"] == "right"), (seed, d)
        # The break: bone density drops at the cortical gap (or the fragment steps), while the
        # hematoma along the rib adds soft-tissue density beside it.
        diff = case - base
        assert diff.min() < -10 and diff.max() > 25, (seed, d)
        bright_ys, bright_xs = np.nonzero(diff > 25)
        if d["displacement"] == "nondisplaced":  # (a displaced fragment brightens down the rib's curve)
            assert np.ptp(bright_xs) > np.ptp(bright_ys), (seed, d)  # lens-shaped along the rib, not round


def test_displaced_fracture_offsets_the_lateral_fragment() -> None:
    for seed in range(20):
        base, case, d = pair(seed, "Fracture")
        if d["displacement"] != "displaced":
            continue
        diff = case - base
        # The shifted fragment brightens on one edge of the rib and darkens on the other.
        assert diff.max() > 40 and diff.min() < -40, (seed, d)
        return
    pytest.fail("no displaced fracture in 20 seeds")


def perihilar_and_peripheral(img: np.ndarray) -> tuple[float, float]:
    n = img.shape[0]
    rows = slice(int(0.36 * n), int(0.56 * n))
    hilar = (img[rows, int(0.3 * n) : int(0.4 * n)].mean() + img[rows, int(0.6 * n) : int(0.7 * n)].mean()) / 2
    upper_rows = slice(int(0.16 * n), int(0.26 * n))
    periphery = (img[upper_rows, int(0.15 * n) : int(0.22 * n)].mean()
                 + img[upper_rows, int(0.78 * n) : int(0.85 * n)].mean()) / 2
    return hilar, periphery


def test_edema_raises_perihilar_intensity_on_both_sides() -> None:
    n = SIZE
    for seed in range(5):
        base, case, d = pair(seed, "Edema")
        diff = case - base
        rows = slice(int(0.36 * n), int(0.56 * n))
        right, left = diff[rows, int(0.3 * n) : int(0.4 * n)].mean(), diff[rows, int(0.6 * n) : int(0.7 * n)].mean()
        assert right > 40 and left > 40, (seed, d, right, left)
        hilar_gain = perihilar_and_peripheral(case)[0] - perihilar_and_peripheral(base)[0]
        periph_gain = perihilar_and_peripheral(case)[1] - perihilar_and_peripheral(base)[1]
        assert hilar_gain > 2 * periph_gain, (seed, d)


def test_edema_severity_orders_the_haze() -> None:
    gain: dict[str, list[float]] = {}
    for seed in range(9):
        base, case, d = pair(seed, "Edema")
        gain.setdefault(d["severity"], []).append(perihilar_and_peripheral(case)[0] - perihilar_and_peripheral(base)[0])
    assert np.mean(gain["mild"]) < np.mean(gain["moderate"])


def test_atelectasis_adds_a_thin_band_at_the_base() -> None:
    n = SIZE
    for seed in range(6):
        base, case, d = pair(seed, "Atelectasis")
        diff = case - base
        sides = ["right", "left"] if d["laterality"] == "bilateral" else [d["laterality"]]
        for side in sides:
            part = diff[:, half_cols(side)]
            core, extent = part > 0.5 * part.max(), part > 0.25 * part.max()
            ys, xs = np.nonzero(core)
            assert part.max() > 40, (seed, d, side)
            assert ys.mean() > 0.55 * n, (seed, d)  # at the base
            # Thin and long: few rows per column, many columns.
            thickness = np.median(core[:, np.unique(xs)].sum(axis=0))
            length = len(np.unique(np.nonzero(extent)[1]))
            assert thickness <= 0.03 * n and length > 0.05 * n, (seed, d, thickness, length)
        other = {"right", "left"} - set(sides)
        for side in other:
            assert np.abs(diff[:, half_cols(side)][:, 10:-10]).max() < 5


@pytest.mark.parametrize("label", ["Consolidation", "Lung Opacity"])
def test_airspace_opacity_raises_regional_intensity(label: str) -> None:
    for seed in range(6):
        base, case, d = pair(seed, label)
        diff = box_blur(case - base, 2)
        other_side = "left" if d["laterality"] == "right" else "right"
        own, other = diff[:, half_cols(d["laterality"])], diff[:, half_cols(other_side)]
        assert own.max() > 80, (seed, d)
        assert own.sum() > 20 * max(abs(other.sum()), 1), (seed, d)
        ys = np.nonzero((own > 0.5 * own.max()).any(axis=1))[0].mean() / SIZE
        zone = "upper" if "upper" in d["location"] else "lower" if "lower" in d["location"] else "mid"
        assert {"upper": ys < 0.5, "lower": ys > 0.5, "mid": 0.35 < ys < 0.75}[zone], (seed, d, ys)


def test_consolidation_is_denser_than_a_hazy_uncertain_opacity() -> None:
    for seed in range(4):
        base, firm, _ = pair(seed, "Consolidation", 1)
        _, hazy, _ = pair(seed, "Consolidation", -1)
        assert box_blur(hazy - base, 2).max() < box_blur(firm - base, 2).max()


def test_widened_mediastinum_and_apical_cap_are_drawn() -> None:
    n = SIZE
    base, case, _ = pair(3, "Enlarged Cardiomediastinum")
    rows = slice(int(0.2 * n), int(0.4 * n))
    assert (case[rows] - base[rows]).sum() > 0 and np.abs(case - base)[int(0.7 * n) :].max() == 0
    base, case, d = pair(3, "Pleural Other")
    ys, xs = np.nonzero(case - base > 20)
    assert len(ys) and ys.mean() < 0.3 * n and (xs.mean() < n / 2) == (d["laterality"] == "right")


def test_findings_do_not_disturb_each_other() -> None:
    """Adding a nodule to an effusion changes only the nodule's neighbourhood."""
    one = sample_case(7, size=SIZE, findings={"Pleural Effusion": 1}).image.astype(float)
    two = sample_case(7, size=SIZE, findings={"Pleural Effusion": 1, "Lung Lesion": 1}).image.astype(float)
    ys, xs = np.nonzero(one != two)
    assert len(ys) and np.ptp(ys) < 0.2 * SIZE and np.ptp(xs) < 0.2 * SIZE
