"""Templated MIMIC-style reports written from the labels and from what was actually drawn.

Every label that is 1 or -1 gets a positive or hedged sentence quoting the drawn side, size and
severity; every 0 gets an explicit negation; every None stays unmentioned -- so the labels are a
faithful reading of the text. Phrasings vary (several per statement) so a model cannot key on one
sentence. Where a real report holds PHI the text holds a ``Slot``; ``phi.py`` later fills it with a
synthetic value or MIMIC's ``___``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medmint.generators.phantom.prevalence import PARENCHYMAL


@dataclass(frozen=True)
class Slot:
    """A place where a real report carries PHI; ``key`` names the identity field that fills it."""

    kind: str  # name | date | time | mrn | phone | accession | age | email | url | address | hospital
    key: str


Part = str | Slot


@dataclass(frozen=True)
class ReportDraft:
    """The clinical content of one report; header/footer PHI blocks are added by ``phi.py``."""

    examination: str
    indication: list[Part]
    technique: str
    comparison: list[Part]
    findings: list[Part]
    impression: list[Part]
    notification: list[Part]


ADVERB = {"mild": "mildly", "moderate": "moderately", "severe": "markedly", "borderline": "borderline"}

REASONS = [
    "shortness of breath", "cough", "fever and cough", "chest pain", "hypoxia", "dyspnea on exertion",
    "weakness", "fall", "preoperative evaluation", "tachypnea", "productive cough", "malaise and fever",
]
QUESTIONS = [
    "eval for acute process", "evaluate for acute cardiopulmonary process", "assess for interval change", "",
]

AP_INTROS = [
    "portable semi-upright AP view of the chest.", "single portable AP view of the chest.",
    "AP portable upright view of the chest.",
]
PA_INTROS = [
    "PA and lateral views of the chest provided.", "frontal and lateral views of the chest.",
    "PA and lateral chest radiographs were obtained.",
]
NORMAL_IMPRESSIONS = [
    "No acute cardiopulmonary process.",
    "No acute intrathoracic process.",
    "No acute cardiopulmonary abnormality.",
    "Normal chest radiograph.",
]


class _Writer:
    """Chooses among phrasings with the report's own random stream."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def pick(self, options: list[str], **fields: str) -> str:
        text = options[int(self.rng.integers(len(options)))].format(**fields)
        return text[0].upper() + text[1:]

    def coin(self, p: float) -> bool:
        return bool(self.rng.random() < p)


# ----------------------------------------------------------------------------------------------
# Sentences per finding: (findings section, impression)
# ----------------------------------------------------------------------------------------------


def _cardiomegaly(w: _Writer, v: int, d: dict[str, str]) -> tuple[str, str]:
    if v == -1:
        s = w.pick(
            [
                "heart size is borderline.",
                "borderline cardiomegaly.",
                "the heart may be mildly enlarged.",
                "possible mild cardiomegaly.",
            ],
        )
        return s, w.pick(
            [
                "borderline cardiomegaly.",
                "possible mild cardiomegaly.",
                "heart size is borderline.",
            ],
        )
    sev = d["severity"]
    word = "marked" if sev == "severe" and w.coin(0.5) else sev
    f = w.pick(["{sev} cardiomegaly.", "the heart is {adv} enlarged.", "heart size is {adv} enlarged.",
                "there is {sev} enlargement of the cardiac silhouette."], sev=word, adv=ADVERB[sev])
    i = w.pick(
        [
            "{sev} cardiomegaly.",
            "cardiomegaly, {sev}.",
            "{sev} enlargement of the cardiac silhouette.",
        ],
        sev=word,
    )
    return f, i


def _mediastinum(w: _Writer, v: int, d: dict[str, str]) -> tuple[str, str]:
    if v == -1:
        s = w.pick(["possible mild widening of the mediastinum.", "the mediastinum may be slightly widened.",
                    "questionable mediastinal widening."])
        return s, s
    adv = ADVERB[d["severity"]]
    f = w.pick(["the mediastinum is {adv} widened.", "{sev} widening of the superior mediastinum.",
                "the cardiomediastinal silhouette is {adv} enlarged."], adv=adv, sev=d["severity"])
    i = w.pick(["{sev} mediastinal widening.", "widened mediastinum.", "{adv} widened mediastinum."],
               adv=adv, sev=d["severity"])
    return f, i


def _effusion(w: _Writer, v: int, d: dict[str, str]) -> tuple[str, str]:
    side, sev = d["laterality"], d["severity"]
    if v == -1:
        where = "bilaterally" if side == "bilateral" else f"on the {side}"
        angle = "both costophrenic angles" if side == "bilateral" else f"the {side} costophrenic angle"
        f = w.pick(
            [
                "possible small {side} pleural effusion.",
                "blunting of {angle} may reflect a small pleural effusion.",
                "a small pleural effusion {where} cannot be excluded.",
            ],
            side=side,
            where=where,
            angle=angle,
        )
        i = w.pick(
            [
                "possible small {side} pleural effusion.",
                "small {side} pleural effusion cannot be excluded.",
            ],
            side=side,
        )
        return f, i
    if side == "bilateral":
        f = w.pick(["{sev} bilateral pleural effusions.", "there are {sev} bilateral pleural effusions.",
                    "{sev} bilateral pleural effusions with blunting of the costophrenic angles.",
                    "{sev} pleural effusions are present bilaterally."], sev=sev)
        i = w.pick(["{sev} bilateral pleural effusions.", "bilateral {sev} pleural effusions."], sev=sev)
    else:
        f = w.pick(["{sev} {side} pleural effusion.", "there is a {sev} {side} pleural effusion.",
                    "{sev} {side} pleural effusion with blunting of the {side} costophrenic angle.",
                    "a {sev} pleural effusion is present on the {side}."], sev=sev, side=side)
        i = w.pick(
            [
                "{sev} {side} pleural effusion.",
                "{sev} {side}-sided pleural effusion.",
            ],
            sev=sev,
            side=side,
        )
    return f, i


def _pneumothorax(w: _Writer, v: int, d: dict[str, str]) -> tuple[str, str]:
    side = d["laterality"]
    if v == -1:
        f = w.pick(
            [
                "possible tiny {side} apical pneumothorax.",
                "a small {side} apical pneumothorax cannot be excluded.",
                "questionable {side} apical pneumothorax.",
            ],
            side=side,
        )
        i = w.pick(
            [
                "possible small {side} apical pneumothorax.",
                "{side} apical pneumothorax cannot be excluded.",
            ],
            side=side,
        )
        return f, i
    if d["severity"] == "small":
        f = w.pick(
            [
                "small {side} apical pneumothorax.",
                "there is a small {side} apical pneumothorax.",
                "a small {side} apical pneumothorax is present, with a visible visceral pleural line.",
            ],
            side=side,
        )
        i = w.pick(["small {side} apical pneumothorax.", "{side} apical pneumothorax, small."], side=side)
    else:
        f = w.pick(
            [
                "large {side} pneumothorax.",
                "there is a large {side} pneumothorax.",
                "large {side} pneumothorax with the visceral pleural line well away from the chest wall.",
            ],
            side=side,
        )
        i = w.pick(["large {side} pneumothorax.", "{side} pneumothorax, large."], side=side)
    return f, i


def _opacity(w: _Writer, labels: dict[str, int | None], d: dict[str, str]) -> tuple[str, str]:
    """One drawn airspace opacity, read as Lung Opacity, Consolidation and/or Pneumonia per the labels."""
    loc, extent = d["location"], d["extent"]
    cons, pna = labels.get("Consolidation"), labels.get("Pneumonia")
    bron = " with air bronchograms" if d.get("air_bronchograms") == "yes" else ""
    if cons == 1:
        core = w.pick(
            [
                "{extent} opacity in the {loc} consistent with consolidation{bron}",
                "there is a {extent} airspace opacity in the {loc}, compatible with consolidation{bron}",
                "{loc} consolidative opacity{bron}",
                "{extent} {loc} opacity representing consolidation{bron}",
            ],
            extent=extent,
            loc=loc,
            bron=bron,
        )
        short = w.pick(["{loc} consolidation", "consolidative opacity in the {loc}"], loc=loc)
    elif cons == -1:
        core = w.pick(
            [
                "{extent} opacity in the {loc}, possibly consolidation",
                "{extent} {loc} opacity; consolidation cannot be excluded",
                "there is a {extent} opacity in the {loc}, which may represent consolidation",
            ],
            extent=extent,
            loc=loc,
        )
        short = w.pick(
            [
                "{loc} opacity, possibly consolidation",
                "{loc} opacity; consolidation cannot be excluded",
            ],
            loc=loc,
        )
    elif labels.get("Lung Opacity") == -1:
        core = w.pick(["possible subtle opacity in the {loc}", "questionable opacity in the {loc}",
                       "subtle haziness in the {loc} may represent an early opacity"], loc=loc)
        short = w.pick(["possible {loc} opacity", "questionable opacity in the {loc}"], loc=loc)
    else:
        core = w.pick(["{extent} opacity in the {loc}", "there is a {extent} opacity in the {loc}",
                       "ill-defined {extent} opacity projecting over the {loc}"], extent=extent, loc=loc)
        short = w.pick(["{loc} opacity", "{extent} opacity in the {loc}"], extent=extent, loc=loc)
    tail = ""
    if pna == 1:
        tail = w.pick(
            [
                ", consistent with pneumonia",
                ", compatible with pneumonia",
                ", in keeping with pneumonia",
            ],
        )
    elif pna == -1:
        tail = w.pick(
            [
                ", concerning for pneumonia",
                ", which may represent pneumonia",
                ", possibly pneumonia",
            ],
        )
    return core + tail + ".", (short + tail + ".")[0].upper() + (short + tail + ".")[1:]


def _edema(w: _Writer, v: int, d: dict[str, str]) -> tuple[str, str]:
    if v == -1:
        f = w.pick(
            [
                "perihilar haziness may reflect mild pulmonary edema.",
                "possible mild interstitial edema.",
                "mild pulmonary edema cannot be excluded.",
            ],
        )
        i = w.pick(["possible mild pulmonary edema.", "mild pulmonary edema cannot be excluded."])
        return f, i
    sev = d["severity"]
    kerley = " and Kerley B lines" if d.get("kerley_lines") == "yes" else ""
    f = w.pick(["{sev} pulmonary edema.", "there is {sev} pulmonary edema with perihilar haziness{k}.",
                "findings are consistent with {sev} pulmonary edema, with bilateral perihilar haziness{k}.",
                "{sev} bilateral perihilar edema{k}."], sev=sev, k=kerley)
    i = w.pick(["{sev} pulmonary edema.", "{sev} pulmonary edema.", "pulmonary edema, {sev}."], sev=sev)
    return f, i


def _atelectasis(w: _Writer, v: int, d: dict[str, str]) -> tuple[str, str]:
    side = d["laterality"]
    base = "bibasilar" if side == "bilateral" else f"{side} basilar"
    at = "both lung bases" if side == "bilateral" else f"the {side} lung base"
    if v == -1:
        f = w.pick(["possible {base} atelectasis.", "streaky densities at {at} may represent atelectasis.",
                    "atelectasis at {at} cannot be excluded."], base=base, at=at)
        return f, w.pick(
            [
                "possible {base} atelectasis.",
                "{base} atelectasis cannot be excluded.",
            ],
            base=base,
        )
    sev, pat = d["severity"], d["pattern"]
    f = w.pick(["{sev} {pat} atelectasis at {at}.", "{sev} {base} atelectasis.",
                "there is {sev} {pat} atelectasis at {at}.", "{pat} atelectasis is seen at {at}."],
               sev=sev, pat=pat, at=at, base=base)
    i = w.pick(["{sev} {base} atelectasis.", "{base} {pat} atelectasis."], sev=sev, base=base, pat=pat)
    return f, i


def _lesion(w: _Writer, v: int, d: dict[str, str]) -> tuple[str, str]:
    mm = int(d["size_mm"])
    size = f"{mm} mm" if mm < 10 else f"{mm / 10:.1f} cm"
    loc, kind = d["location"], d["kind"]
    if v == -1:
        f = w.pick(
            [
                "possible {size} nodule in the {loc}.",
                "questionable small nodule in the {loc}.",
                "a {size} nodular density in the {loc} may represent a nipple shadow.",
            ],
            size=size,
            loc=loc,
        )
        i = w.pick(
            [
                "possible {size} nodule in the {loc}; repeat radiograph with nipple markers may be helpful.",
                "questionable {loc} nodule.",
            ],
            size=size,
            loc=loc,
        )
        return f, i
    f = w.pick(
        [
            "there is a {size} {kind} in the {loc}.",
            "a {size} {kind} projects over the {loc}.",
            "{size} well-circumscribed {kind} in the {loc}.",
            "{size} {loc} {kind}.",
        ],
        size=size,
        kind=kind,
        loc=loc,
    )
    i = w.pick(["{size} {loc} {kind}. Recommend chest CT for further evaluation.",
                "{size} {kind} in the {loc}; CT is recommended for further characterization.",
                "{loc} {kind} measuring {size}."], size=size, kind=kind, loc=loc)
    return f, i


def _fracture(w: _Writer, v: int, d: dict[str, str]) -> tuple[str, str]:
    side, rib, loc = d["laterality"], d["rib"], d["location"]
    if v == -1:
        f = w.pick(
            [
                "possible nondisplaced fracture of the {side} {loc} {rib} rib.",
                "subtle cortical irregularity of the {side} {rib} rib, possibly a nondisplaced fracture.",
                "a nondisplaced fracture of the {side} {rib} rib cannot be excluded.",
            ],
            side=side,
            rib=rib,
            loc=loc,
        )
        i = w.pick(
            [
                "possible nondisplaced {side} {rib} rib fracture.",
                "{side} {rib} rib fracture cannot be excluded.",
            ],
            side=side,
            rib=rib,
        )
        return f, i
    disp = "mildly displaced" if d["displacement"] == "displaced" else "nondisplaced"
    f = w.pick(
        [
            "acute {disp} fracture of the {side} {loc} {rib} rib.",
            "there is a {disp} fracture of the {side} {rib} rib.",
            "{disp} {side} {loc} {rib} rib fracture.",
        ],
        disp=disp,
        side=side,
        rib=rib,
        loc=loc,
    )
    i = w.pick(
        [
            "{disp} {side} {rib} rib fracture.",
            "acute {side} {rib} rib fracture, {disp}.",
        ],
        disp=disp,
        side=side,
        rib=rib,
    )
    return f, i


def _pleural_other(w: _Writer, v: int, d: dict[str, str]) -> tuple[str, str]:
    side = d["laterality"]
    if v == -1:
        s = w.pick(
            [
                "possible {side} apical pleural thickening.",
                "questionable {side} apical pleural thickening.",
                "{side} apical pleural thickening cannot be excluded.",
            ],
            side=side,
        )
        return s, s
    f = w.pick(["{side} apical pleural thickening.", "there is mild {side} apical pleural thickening.",
                "{side} apical pleural thickening is noted."], side=side)
    return f, w.pick(
        [
            "{side} apical pleural thickening.",
            "mild {side} apical pleural thickening.",
        ],
        side=side,
    )


def _devices(w: _Writer, v: int, d: dict[str, str]) -> tuple[list[str], str]:
    if v == -1:
        access = d.get("cvc_access", "right internal jugular")
        where = "neck" if "jugular" in access else "upper chest"
        f = w.pick(["a partially imaged linear density over the {side} {where} may represent a catheter.",
                    "possible catheter projecting over the {side} {where}.",
                    "a catheter may be present over the {side} {where}, incompletely imaged."],
                   side=access.split()[0], where=where)
        return [f], w.pick(
            [
                "possible catheter over the {side} {where}.",
                "a catheter may be present over the {side} {where}.",
            ],
            side=access.split()[0],
            where=where,
        )
    out: list[str] = []
    imp: list[str] = []
    if "ett_tip_cm_above_carina" in d:
        cm = d["ett_tip_cm_above_carina"]
        out.append(w.pick(["endotracheal tube terminates {cm} cm above the carina.",
                           "an endotracheal tube is in place with its tip {cm} cm above the carina.",
                           "ET tube tip is approximately {cm} cm above the carina."], cm=cm))
        imp.append(w.pick(
            [
                "endotracheal tube in standard position.",
                "endotracheal tube tip {cm} cm above the carina.",
            ],
            cm=cm,
        ))
    if "cvc_access" in d:
        access, tip = d["cvc_access"], d["cvc_tip"]
        if "PICC" in access:
            out.append(w.pick(
                [
                    "{side} PICC terminates in the {tip}.",
                    "a {side}-sided PICC is seen with tip in the {tip}.",
                    "{side} upper extremity PICC tip projects over the {tip}.",
                ],
                side=access.split()[0],
                tip=tip,
            ))
            imp.append(w.pick(
                [
                    "{side} PICC with tip in the {tip}.",
                    "PICC tip in the {tip}.",
                ],
                side=access.split()[0],
                tip=tip,
            ))
        else:
            out.append(w.pick(
                [
                    "{access} central venous catheter terminates in the {tip}.",
                    "a {access} catheter is present with tip in the {tip}.",
                    "{access} central venous catheter tip projects over the {tip}.",
                ],
                access=access,
                tip=tip,
            ))
            imp.append(w.pick(
                [
                    "{access} catheter tip in the {tip}.",
                    "central venous catheter terminating in the {tip}.",
                ],
                access=access,
                tip=tip,
            ))
    if "enteric_tip" in d:
        out.append(w.pick(["enteric tube courses below the diaphragm with tip in the stomach.",
                           "a nasogastric tube is seen with tip in the stomach.",
                           "the enteric tube terminates in the stomach."]))
        imp.append(w.pick(["enteric tube in the stomach.", "nasogastric tube tip in the stomach."]))
    if "pacemaker_side" in d:
        side = d["pacemaker_side"]
        if d["pacemaker_leads"] == "2":
            out.append(w.pick(
                [
                    "{side}-sided pacemaker with leads terminating in the right atrium and right ventricle.",
                    "a dual-chamber pacemaker is present over the {side} chest with leads in the right atrium and right ventricle.",
                    "{side} chest wall pacemaker device with atrial and ventricular leads.",
                ],
                side=side,
            ))
        else:
            out.append(w.pick(
                [
                    "{side}-sided pacemaker with a single lead terminating in the right ventricle.",
                    "a single-chamber pacemaker is present over the {side} chest with its lead in the right ventricle.",
                    "{side} chest wall pacemaker device with a right ventricular lead.",
                ],
                side=side,
            ))
        imp.append(w.pick(
            [
                "{side}-sided pacemaker in place.",
                "pacemaker leads in expected position.",
            ],
            side=side,
        ))
    if len(imp) > 1 and w.coin(0.5):
        return [s[0].upper() + s[1:] for s in out], w.pick(["lines and tubes in standard position.",
                                                             "support devices in expected position."])
    return [s[0].upper() + s[1:] for s in out], " ".join(s[0].upper() + s[1:] for s in imp)


# ----------------------------------------------------------------------------------------------
# Negations
# ----------------------------------------------------------------------------------------------

NEGATIONS = {
    "Cardiomegaly": [
        "heart size is normal.", "the heart is normal in size.", "normal heart size.",
        "the cardiac silhouette is not enlarged.",
    ],
    "Enlarged Cardiomediastinum": [
        "mediastinal contours are normal.", "the mediastinal silhouette is within normal limits.",
        "normal mediastinal contours.",
    ],
    "Lung Opacity": ["no focal airspace opacity.", "there is no focal opacity.", "no airspace opacities are seen."],
    "Consolidation": ["no focal consolidation.", "there is no consolidation.", "no consolidation is seen."],
    "Pneumonia": ["no evidence of pneumonia.", "no radiographic evidence of pneumonia.", "negative for pneumonia."],
    "Edema": ["no pulmonary edema.", "there is no pulmonary edema.", "no evidence of pulmonary edema."],
    "Atelectasis": ["no atelectasis.", "there is no atelectasis.", "no evidence of atelectasis."],
    "Lung Lesion": [
        "no pulmonary nodules or masses.", "no suspicious pulmonary nodule.", "no focal lung mass or nodule.",
    ],
    "Pleural Effusion": ["no pleural effusion.", "there is no pleural effusion.", "no pleural effusions are seen."],
    "Pneumothorax": ["no pneumothorax.", "there is no pneumothorax.", "no pneumothorax is seen."],
    "Pleural Other": ["no pleural thickening.", "there is no pleural thickening.", "no pleural thickening is seen."],
    "Fracture": ["no acute rib fracture.", "no displaced fracture is seen.", "no acute fracture."],
    "Support Devices": [
        "no support devices are present.", "no tubes or catheters are seen.", "no indwelling catheters or tubes.",
    ],
}
JOINT_NEGATIONS = {
    ("Consolidation", "Pleural Effusion", "Pneumothorax"): [
        "no focal consolidation, pleural effusion, or pneumothorax.",
        "there is no focal consolidation, pleural effusion or pneumothorax.",
        "no consolidation, effusion, or pneumothorax is seen.",
    ],
    ("Pleural Effusion", "Pneumothorax"): [
        "no pleural effusion or pneumothorax.",
        "there is no pleural effusion or pneumothorax.",
        "no pneumothorax or pleural effusion.",
    ],
    ("Cardiomegaly", "Enlarged Cardiomediastinum"): [
        "heart size and mediastinal contours are normal.",
        "the heart size and mediastinal contours are within normal limits.",
        "normal heart size and mediastinal contours.",
    ],
    ("Lung Opacity", "Consolidation"): ["the lungs are clear.", "lungs are clear.", "the lungs are clear bilaterally."],
}


def _negate(w: _Writer, labels: dict[str, int | None], names: list[str], sentences: list[str]) -> None:
    """Append negations for the labels in ``names`` that are 0, joining them where a report would."""
    todo = [n for n in names if labels.get(n) == 0]
    for combo, options in JOINT_NEGATIONS.items():
        if all(c in todo for c in combo):
            lungs_occupied = any(labels.get(p) in (1, -1) for p in PARENCHYMAL)
            if combo == ("Lung Opacity", "Consolidation") and lungs_occupied:
                continue  # "the lungs are clear" only when nothing is in them
            if w.coin(0.8):
                sentences.append(w.pick(options))
                todo = [n for n in todo if n not in combo]
    for n in todo:
        sentences.append(w.pick(NEGATIONS[n]))


# ----------------------------------------------------------------------------------------------
# The report
# ----------------------------------------------------------------------------------------------


def draft_report(
    labels: dict[str, int | None],
    details: dict[str, dict[str, str]],
    view: str,
    sex: str,
    rng: np.random.Generator,
) -> ReportDraft:
    """Write FINDINGS and IMPRESSION (and the header sections) for ``labels`` as drawn in ``details``."""
    w = _Writer(rng)
    on = {k: v for k, v in labels.items() if v in (1, -1) and k != "No Finding"}
    found: list[str] = []  # findings sentences
    imp: list[tuple[int, str]] = []  # (priority, impression sentence)

    if w.coin(0.5 if view == "AP" else 0.4):
        found.append(w.pick(AP_INTROS if view == "AP" else PA_INTROS))

    if "Support Devices" in on:
        dev, dev_imp = _devices(w, on["Support Devices"], details["Support Devices"])
        found += dev
        imp.append((9, dev_imp))

    # Lungs
    opacity_key = next((k for k in ("Consolidation", "Lung Opacity") if k in on), None)
    if opacity_key is not None:
        f, i = _opacity(w, labels, details[opacity_key])
        found.append(f)
        imp.append((4, i))
    lung_findings = (("Edema", _edema, 2), ("Atelectasis", _atelectasis, 7), ("Lung Lesion", _lesion, 5))
    for name, fn, prio in lung_findings:
        if name in on:
            f, i = fn(w, on[name], details[name])
            found.append(f)
            imp.append((prio, i))
    neg: list[str] = []
    lung_and_pleura = ["Lung Opacity", "Consolidation", "Pleural Effusion", "Pneumothorax", "Edema", "Atelectasis",
                       "Lung Lesion", "Pneumonia"]
    _negate(w, labels, lung_and_pleura, neg)

    # Pleura
    for name, fn, prio in (("Pleural Effusion", _effusion, 1), ("Pneumothorax", _pneumothorax, 0),
                           ("Pleural Other", _pleural_other, 8)):
        if name in on:
            f, i = fn(w, on[name], details[name])
            found.append(f)
            imp.append((prio, i))
    found += neg
    _negate(w, labels, ["Pleural Other"], found)

    # Heart and mediastinum
    cardiac = (("Cardiomegaly", _cardiomegaly, 3), ("Enlarged Cardiomediastinum", _mediastinum, 6))
    for name, fn, prio in cardiac:
        if name in on:
            f, i = fn(w, on[name], details[name])
            found.append(f)
            imp.append((prio, i))
    _negate(w, labels, ["Cardiomegaly", "Enlarged Cardiomediastinum"], found)

    # Bones and devices' absence
    if "Fracture" in on:
        f, i = _fracture(w, on["Fracture"], details["Fracture"])
        found.append(f)
        imp.append((5, i))
    _negate(w, labels, ["Fracture", "Support Devices"], found)

    found = [s[0].upper() + s[1:] for s in found if s]
    if not found:
        found = ["Frontal view of the chest."]

    # Impression: positives by urgency; a normal line when nothing is positive or hedged.
    imp.sort(key=lambda t: t[0])
    items = [s[0].upper() + s[1:] for _, s in imp if s]
    disease = [k for k in on if k != "Support Devices"]
    if not disease:
        items.append(w.pick(NORMAL_IMPRESSIONS))
    elif labels.get("Pneumothorax") == 0 and ("Support Devices" in on or "Fracture" in on) and w.coin(0.5):
        items.append("No pneumothorax.")
    if len(items) > 1 and w.coin(0.5):
        impression_text = "\n ".join(f"{n}. {s}" for n, s in enumerate(items, 1))
    else:
        impression_text = " ".join(items)

    notification: list[Part] = []
    urgent = any(k in on for k in ("Pneumothorax", "Lung Lesion", "Fracture")) or (
        on.get("Pleural Effusion") == 1 and details["Pleural Effusion"]["severity"] == "large")
    impression: list[Part] = [impression_text]
    if urgent or (disease and w.coin(0.15)):
        notification = _notification(w)
        if w.coin(0.3):  # sometimes the call is documented inside the impression instead
            impression += [" "] + notification
            notification = []

    return ReportDraft(
        examination="CHEST (PORTABLE AP)" if view == "AP" else "CHEST (PA AND LAT)",
        indication=_indication(w, sex),
        technique=("Portable AP chest radiograph." if view == "AP" else "Chest PA and lateral."),
        comparison=_comparison(w),
        findings=[" ".join(found)],
        impression=impression,
        notification=notification,
    )


def _indication(w: _Writer, sex: str) -> list[Part]:
    reason = REASONS[int(w.rng.integers(len(REASONS)))]
    question = QUESTIONS[int(w.rng.integers(len(QUESTIONS)))]
    person = ("woman" if sex == "F" else "man") if w.coin(0.6) else ("female" if sex == "F" else "male")
    tail = f"  // {question}" if question else ""
    if w.coin(0.5):
        return [Slot("age", "age"), f" year old {person} with {reason}{tail}"]
    return [Slot("age", "age"), f"-year-old {person} with {reason}.{tail}"]


def _comparison(w: _Writer) -> list[Part]:
    r = w.rng.random()
    if r < 0.45:
        return ["None."]
    if r < 0.75:
        return [Slot("date", "comparison_date"), "."]
    return ["Chest radiograph from ", Slot("date", "comparison_date"), "."]


def _notification(w: _Writer) -> list[Part]:
    r = w.rng.random()
    if r < 0.4:
        return ["The findings were discussed with Dr. ", Slot("name", "notified_physician"), " by Dr. ",
                Slot("name", "radiologist"), " on the telephone on ", Slot("date", "study_date"), " at ",
                Slot("time", "notify_time"), ", ", str(int(w.rng.integers(2, 30))),
                " minutes after discovery of the findings."]
    if r < 0.75:
        return ["Findings were discussed with Dr. ", Slot("name", "notified_physician"), " at ",
                Slot("time", "notify_time"), " on ", Slot("date", "study_date"), "."]
    return ["Dr. ", Slot("name", "notified_physician"), " was paged at ", Slot("phone", "pager"),
            " and informed of the findings at ", Slot("time", "notify_time"), " on ", Slot("date", "study_date"), "."]


def assemble(draft: ReportDraft, header: list[Part], footer: list[Part]) -> list[Part]:
    """The whole report in MIMIC's layout, PHI blocks (phi mode only) around it."""
    parts: list[Part] = ["                                 FINAL REPORT\n"]
    parts += header
    parts += [f" EXAMINATION:  {draft.examination}\n\n INDICATION:  "] + draft.indication
    parts += [f"\n\n TECHNIQUE:  {draft.technique}\n\n COMPARISON:  "] + draft.comparison
    parts += ["\n\n FINDINGS: \n "] + draft.findings + ["\n\n IMPRESSION: \n "] + draft.impression + ["\n"]
    if draft.notification:
        parts += ["\n NOTIFICATION:  "] + draft.notification + ["\n"]
    parts += footer
    return parts
