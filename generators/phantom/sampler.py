"""``sample_case``: one deterministic phantom study -- labels, image, report, optional PHI.

The steps each draw from their own random stream derived from the seed (labels, demographics,
anatomy, texture, noise, report, PHI, and one per finding). So the same seed with a different finding
gives the same patient, film grain and report phrasing everywhere else -- which is what lets tests
and validators compare a case with and without a finding pixel for pixel.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from medmint.generators.phantom.anatomy import render_anatomy, sample_anatomy
from medmint.generators.phantom.case import PhantomCase
from medmint.generators.phantom.detector import BITS_STORED, expose
from medmint.generators.phantom.findings import PLANNERS, Plan, draw_findings, reshape_anatomy
from medmint.generators.phantom.phi import phi_blocks, render, sample_identity
from medmint.generators.phantom.prevalence import finalize_no_finding, sample_labels
from medmint.generators.phantom.raster import Grid
from medmint.generators.phantom.reports import assemble, draft_report
from medmint.records import CHEXPERT_LABELS

__all__ = ["MIN_SIZE", "MAX_SIZE", "sample_case", "sample_labels", "labels_for_seed", "resolve_labels", "stream"]

MIN_SIZE, MAX_SIZE = 64, 1024
VIEWS, SEXES = ("PA", "AP"), ("F", "M")
_STREAMS = {"labels": 1, "demographics": 2, "anatomy": 3, "texture": 4, "noise": 5, "report": 6, "phi": 7}
_CODES = (1, 0, -1, None)


def stream(seed: int, name: str) -> np.random.Generator:
    """The named random stream of a seed ('labels', 'anatomy', ... or a CheXpert label for a finding)."""
    key = _STREAMS[name] if name in _STREAMS else 100 + CHEXPERT_LABELS.index(name)
    return np.random.default_rng([int(seed) % 2**64, key])


def labels_for_seed(seed: int) -> dict[str, int | None]:
    """The labels ``sample_case(seed)`` draws when no findings are given (cheap: no rendering)."""
    return sample_labels(stream(seed, "labels"))


def _code(label: str, value: object) -> int | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, float, np.floating)):
        raise ValueError(f"findings[{label!r}] = {value!r}: expected 1, 0, -1 or None")
    if float(value) not in (1.0, 0.0, -1.0):
        raise ValueError(f"findings[{label!r}] = {value!r}: expected 1, 0, -1 or None")
    return int(value)


def resolve_labels(findings: Mapping[str, object]) -> dict[str, int | None]:
    """Validate requested findings and complete them into the 14 labels the case will carry.

    The drawn airspace opacity behind Consolidation or Pneumonia is itself a Lung Opacity, so an
    unspecified Lung Opacity becomes 1 then; 'No Finding' is 1 exactly when nothing else is positive.
    """
    unknown = sorted(set(findings) - set(CHEXPERT_LABELS))
    if unknown:
        raise ValueError(f"findings: unknown label(s) {unknown}; expected CheXpert labels {list(CHEXPERT_LABELS)}")
    labels = {k: _code(k, findings.get(k)) for k in CHEXPERT_LABELS}
    drives_opacity = labels["Consolidation"] in (1, -1) or labels["Pneumonia"] in (1, -1)
    if labels["Consolidation"] in (1, -1) and labels["Lung Opacity"] in (0, -1):
        raise ValueError("findings: Consolidation is drawn as an airspace opacity, so Lung Opacity must be 1 or None")
    if labels["Pneumonia"] in (1, -1) and labels["Lung Opacity"] == 0 and labels["Consolidation"] not in (1, -1):
        raise ValueError("findings: Pneumonia is drawn as an airspace opacity, so Lung Opacity cannot be 0")
    if drives_opacity and labels["Lung Opacity"] is None:
        labels["Lung Opacity"] = 1
    if labels["No Finding"] == 1 and any(v == 1 for k, v in labels.items() if k != "No Finding"):
        positive = [k for k, v in labels.items() if v == 1 and k != "No Finding"]
        raise ValueError(f"findings: 'No Finding' = 1 contradicts positive {positive}")
    return finalize_no_finding(labels)


def _demographics(seed: int, labels: Mapping[str, int | None], view: str | None, sex: str | None,
                  age: int | None) -> tuple[str, str, int]:
    """Fill in view/sex/age that were not given (ICU-type studies with devices are mostly AP)."""
    rng = stream(seed, "demographics")
    u = rng.random(3)
    z = float(rng.normal())
    if view is None:
        view = "AP" if u[0] < (0.85 if labels.get("Support Devices") in (1, -1) else 0.35) else "PA"
    if sex is None:
        sex = "F" if u[1] < 0.48 else "M"
    if age is None:
        age = int(np.clip(round(63 + 16 * z), 18, 99))
    if view not in VIEWS:
        raise ValueError(f"view: {view!r} is not drawable by the phantom; expected one of {VIEWS}")
    if sex not in SEXES:
        raise ValueError(f"sex: {sex!r}; expected one of {SEXES}")
    if isinstance(age, bool) or not isinstance(age, (int, np.integer)) or not 1 <= int(age) <= 120:
        raise ValueError(f"age: {age!r}; expected an integer number of years in 1..120")
    return view, sex, int(age)


def _plan(seed: int, labels: Mapping[str, int | None], anatomy: object) -> list[Plan]:
    """Plan every drawable label that is positive or uncertain, each from its own stream.

    Pneumonia is an interpretation of the drawn opacity (``resolve_labels`` guarantees one).
    """
    plans = []
    for label, planner in PLANNERS.items():
        value = labels.get(label)
        if value not in (1, -1):
            continue
        if label == "Lung Opacity" and labels.get("Consolidation") in (1, -1):
            continue  # the consolidation is the opacity
        plans.append(planner(stream(seed, label), anatomy, int(value)))  # type: ignore[arg-type]
    return plans


def sample_case(
    seed: int,
    *,
    size: int = 256,
    phi: bool = False,
    findings: Mapping[str, int | None] | None = None,
    view: str | None = None,
    sex: str | None = None,
    age: int | None = None,
) -> PhantomCase:
    """Draw one phantom study deterministically from ``seed``.

    ``findings`` (CheXpert label -> 1/0/-1/None) fixes what is drawn and reported; without it labels
    come from the MIMIC-like prior. ``size`` is the square image side in pixels (64..1024).
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not MIN_SIZE <= int(size) <= MAX_SIZE:
        raise ValueError(f"size: {size!r} is out of range; the phantom draws {MIN_SIZE}..{MAX_SIZE} px")
    size = int(size)
    labels = labels_for_seed(seed) if findings is None else resolve_labels(findings)
    view, sex, age = _demographics(seed, labels, view, sex, age)

    anatomy = sample_anatomy(stream(seed, "anatomy"), view, sex, age)
    plans = _plan(seed, labels, anatomy)
    anatomy = reshape_anatomy(anatomy, plans)
    film = render_anatomy(anatomy, Grid.of(size), stream(seed, "texture"))
    draw_findings(film, anatomy, plans)
    image = expose(film, anatomy.exposure, stream(seed, "noise"))

    details: dict[str, dict[str, str]] = {}
    for p in plans:
        entry = {**p.details, "certainty": "positive" if p.certainty == 1 else "uncertain"}
        details[p.label] = entry
        if p.label == "Consolidation":  # the consolidation is also the (positive) Lung Opacity
            details["Lung Opacity"] = {**entry, "certainty": "positive"}
    if labels.get("Pneumonia") in (1, -1):
        source = details.get("Consolidation") or details["Lung Opacity"]
        details["Pneumonia"] = {**source, "certainty": "positive" if labels["Pneumonia"] == 1 else "uncertain"}

    draft = draft_report(labels, details, view, sex, stream(seed, "report"))
    identity = None
    header: list = []
    footer: list = []
    if phi:
        phi_rng = stream(seed, "phi")
        identity = sample_identity(phi_rng, sex, age)
        header, footer = phi_blocks(phi_rng, identity)
    report, spans = render(assemble(draft, header, footer), identity)
    findings_text, _ = render(draft.findings, identity)
    impression_text, _ = render(draft.impression, identity)
    return PhantomCase(
        image=image,
        bits_stored=BITS_STORED,
        labels=labels,
        findings=findings_text,
        impression=impression_text,
        report=report,
        view=view,
        sex=sex,
        age=age,
        details=details,
        phi_spans=spans,
        dicom_phi=dict(identity.dicom) if identity is not None else {},
    )
