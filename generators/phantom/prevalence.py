"""MIMIC-like label prior: how often each CheXpert label is positive, and what comes with what.

Findings are not independent in real reports: effusion travels with edema and cardiomegaly (heart
failure), lines and tubes with effusion and atelectasis (ICU patients), pneumothorax with devices and
rib fractures (procedures, trauma). The prior therefore draws a few hidden patient states first and the
labels from them. ``REFERENCE_PREVALENCE`` is the resulting share of positive (1) labels, close to
MIMIC-CXR's CheXpert labels; a planner can read it without sampling. Besides positives the prior decides
which labels are uncertain (-1, hedged in the report) and which absent ones the report states
negatively (0) -- the rest stay unmentioned (None), as in real reports.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from medmint.records import CHEXPERT_LABELS

# Share of label == 1 that ``sample_labels`` produces (100k draws; MIMIC-CXR's CheXpert labels are close:
# devices ~29 %, effusion ~24 %, cardiomegaly ~20 %, atelectasis ~20 %, edema ~12 %, pneumothorax ~4.5 %).
REFERENCE_PREVALENCE: dict[str, float] = {
    "No Finding": 0.366,
    "Enlarged Cardiomediastinum": 0.024,
    "Cardiomegaly": 0.174,
    "Lung Opacity": 0.161,
    "Lung Lesion": 0.027,
    "Edema": 0.116,
    "Consolidation": 0.058,
    "Pneumonia": 0.018,
    "Atelectasis": 0.175,
    "Pneumothorax": 0.038,
    "Pleural Effusion": 0.230,
    "Pleural Other": 0.009,
    "Fracture": 0.019,
    "Support Devices": 0.275,
}

# Hidden patient states behind the co-occurrence, as overall shares (being in the ICU also raises the
# chance of heart failure and infection; the conditional rates are spelled out in ``sample_labels``).
LATENT_RATES: dict[str, float] = {
    "icu": 0.27,  # inpatient / ICU: lines and tubes, effusions, atelectasis, AP films
    "heart_failure": 0.175,  # cardiomegaly, edema, effusions (more common in the ICU)
    "infection": 0.107,  # airspace opacity, consolidation, pneumonia
    "trauma": 0.02,  # rib fractures and pneumothorax
}

# Of the findings present, the share the report hedges (label -1) instead of asserting.
UNCERTAIN_SHARE: dict[str, float] = {
    "Enlarged Cardiomediastinum": 0.25,
    "Cardiomegaly": 0.08,
    "Lung Opacity": 0.04,
    "Lung Lesion": 0.12,
    "Edema": 0.18,
    "Consolidation": 0.22,
    "Atelectasis": 0.14,
    "Pneumothorax": 0.07,
    "Pleural Effusion": 0.1,
    "Pleural Other": 0.15,
    "Fracture": 0.15,
    "Support Devices": 0.0,
}

# Of the findings absent, the share the report states negatively (label 0).
NEGATION_SHARE: dict[str, float] = {
    "Enlarged Cardiomediastinum": 0.3,
    "Cardiomegaly": 0.5,
    "Lung Opacity": 0.3,
    "Lung Lesion": 0.06,
    "Edema": 0.35,
    "Consolidation": 0.55,
    "Pneumonia": 0.12,
    "Atelectasis": 0.04,
    "Pneumothorax": 0.75,
    "Pleural Effusion": 0.7,
    "Pleural Other": 0.0,
    "Fracture": 0.12,
    "Support Devices": 0.0,
}

PARENCHYMAL = ("Lung Opacity", "Consolidation", "Pneumonia", "Edema", "Atelectasis", "Lung Lesion")


def _either(*ps: float) -> float:
    """Probability that at least one of several independent causes fires."""
    q = 1.0
    for p in ps:
        q *= 1.0 - p
    return 1.0 - q


def sample_labels(rng: np.random.Generator) -> dict[str, int | None]:
    """One study's 14 CheXpert labels (1, 0, -1, None) from the MIMIC-like prior.

    Draws a fixed number of random numbers whatever comes out, so streams stay aligned.
    """
    u = iter(rng.random(48))

    def bern(p: float) -> bool:
        return bool(next(u) < p)

    icu = bern(LATENT_RATES["icu"])
    hf = bern(0.3 if icu else 0.13)  # overall ~LATENT_RATES["heart_failure"]
    inf = bern(0.18 if icu else 0.08)  # overall ~LATENT_RATES["infection"]
    trauma = bern(LATENT_RATES["trauma"])

    present = {
        "Support Devices": bern(0.82 if icu else (0.12 if hf else 0.058)),
        "Cardiomegaly": bern(0.56 if hf else 0.11),
        "Edema": bern((0.66 if icu else 0.52) if hf else (0.07 if icu else 0.036)),
        "Pleural Effusion": bern(_either(0.5 if hf else 0.0, 0.34 if icu else 0.0, 0.12 if inf else 0.0, 0.095)),
        "Consolidation": bern(0.62 if inf else (0.02 if icu else 0.004)),
        "Lung Lesion": bern(0.03),
        "Pneumothorax": bern(_either(0.5 if trauma else 0.0, 0.075 if icu else 0.0, 0.012)),
        "Fracture": bern(0.7 if trauma else 0.008),
        "Enlarged Cardiomediastinum": bern(0.06 if hf else 0.025),
        "Pleural Other": bern(0.01),
    }
    present["Atelectasis"] = bern(_either(0.28 if icu else 0.0, 0.14 if present["Pleural Effusion"] else 0.0, 0.11))
    # Nonspecific airspace opacity without the word consolidation (infection, aspiration, ICU).
    opacity_alone = bern(_either(0.6 if inf else 0.0, 0.12 if icu else 0.0, 0.04))

    labels: dict[str, int | None] = {k: None for k in CHEXPERT_LABELS}
    for name, is_present in present.items():
        hedge = bern(UNCERTAIN_SHARE[name])
        if is_present:
            labels[name] = -1 if hedge else 1
        elif bern(NEGATION_SHARE[name]):
            labels[name] = 0
    # The drawn opacity always counts as Lung Opacity; pneumonia is an interpretation of it.
    hedge_pneumonia, firm_pneumonia = bern(0.45), bern(0.5)
    if present["Consolidation"] or opacity_alone:
        labels["Lung Opacity"] = 1
        if inf and hedge_pneumonia:  # a hedged consolidation never makes a firm pneumonia
            labels["Pneumonia"] = 1 if firm_pneumonia and labels["Consolidation"] != -1 else -1
    else:
        labels["Lung Opacity"] = 0 if bern(NEGATION_SHARE["Lung Opacity"]) else None
        if labels["Consolidation"] == 0 and bern(0.5):
            labels["Lung Opacity"] = 0  # "The lungs are clear" negates both
        labels["Pneumonia"] = 0 if bern(NEGATION_SHARE["Pneumonia"]) else None
    return finalize_no_finding(labels)


def finalize_no_finding(labels: Mapping[str, int | None]) -> dict[str, int | None]:
    """Set 'No Finding' to 1 exactly when no other label is positive (else unmentioned)."""
    out = {k: labels.get(k) for k in CHEXPERT_LABELS}
    others = [v for k, v in out.items() if k != "No Finding"]
    out["No Finding"] = None if any(v == 1 for v in others) else 1
    return out


def estimate_prevalence(n: int = 4000, seed: int = 0) -> dict[str, float]:
    """Monte-Carlo share of positive labels under the prior (for planners and reports)."""
    rng = np.random.default_rng(seed)
    counts = dict.fromkeys(CHEXPERT_LABELS, 0)
    for _ in range(n):
        for k, v in sample_labels(rng).items():
            counts[k] += v == 1
    return {k: c / n for k, c in counts.items()}
