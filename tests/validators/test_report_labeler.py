"""The rule-based report labeler: a hand-written table it must get 100 % right, the issue's real-report
examples, per-label P/R/F1 on the sentence sets in ``data/`` (real-report style, CheXpert gold), and the
phantom's reports.

Table rows give the expected value of every label the text mentions; every other finding must come
out None (so a false mention fails the row too). 'No Finding' is checked only where a row gives it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from medmint.records import CHEXPERT_LABELS
from medmint.validators.report_labeler import (
    ReportLabeler,
    label_report,
    label_reports,
    report_sections,
    split_sentences,
)

FINDINGS = [label for label in CHEXPERT_LABELS if label != "No Finding"]

EC, CM, LO, LL = "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion"
ED, CO, PN, AT = "Edema", "Consolidation", "Pneumonia", "Atelectasis"
PTX, PE, PO, FX = "Pneumothorax", "Pleural Effusion", "Pleural Other", "Fracture"
SD, NF = "Support Devices", "No Finding"

TABLE: list[tuple[str, dict[str, int | None]]] = [
    # ---- Pleural Effusion
    ("Small bilateral pleural effusions.", {PE: 1}),
    ("Bilateral pleural effusions, left greater than right.", {PE: 1}),
    ("No pleural effusion.", {PE: 0}),
    ("There is blunting of the right costophrenic angle.", {PE: 1}),
    ("Possible small right pleural effusion.", {PE: -1}),
    ("A small left effusion cannot be excluded.", {PE: -1}),
    ("No change in the small left effusion.", {PE: 1}),
    ("The left pleural effusion has resolved.", {PE: 0}),
    ("Trace pleural fluid on the right.", {PE: 1}),
    ("The costophrenic angles are sharp.", {PE: 0}),
    ("Layering right effusion is unchanged.", {PE: 1}),
    ("Pleural effusion is not seen.", {PE: 0}),
    ("Interval resolution of the right pleural effusion.", {PE: 0}),
    ("Small pericardial effusion.", {}),
    ("Loculated left hydropneumothorax.", {PE: 1, PTX: 1}),
    ("A small pleural effusion on the left is not excluded.", {PE: -1}),
    # ---- Pneumothorax
    ("Small right apical pneumothorax.", {PTX: 1}),
    ("No pneumothorax.", {PTX: 0}),
    ("No evidence of pneumothorax.", {PTX: 0}),
    ("Resolved left pneumothorax.", {PTX: 0}),
    ("The pneumothorax is no longer seen.", {PTX: 0}),
    ("Tiny left apical pneumothorax cannot be excluded.", {PTX: -1}),
    ("Questionable small right pneumothorax.", {PTX: -1}),
    ("No ptx.", {PTX: 0}),
    ("Interval increase in size of the right pneumothorax.", {PTX: 1}),
    ("Without evidence of pneumothorax but small effusion.", {PTX: 0, PE: 1}),
    ("Skin fold over the right apex; no definite pneumothorax.", {PTX: 0}),
    ("Pneumothorax cannot be ruled out.", {PTX: -1}),
    ("Large left pneumothorax with the visceral pleural line well away from the chest wall.", {PTX: 1}),
    # ---- Cardiomegaly
    ("Moderate cardiomegaly.", {CM: 1}),
    ("The heart is mildly enlarged.", {CM: 1}),
    ("Heart size is normal.", {CM: 0}),
    ("Normal heart size.", {CM: 0}),
    ("The cardiac silhouette is not enlarged.", {CM: 0}),
    ("The cardiac silhouette is normal.", {CM: 0}),
    ("Borderline cardiomegaly.", {CM: -1}),
    ("Heart size is top normal.", {CM: -1}),
    ("The heart size is at the upper limits of normal.", {CM: -1}),
    ("There is moderate enlargement of the cardiac silhouette.", {CM: 1}),
    ("Enlarged cardiac silhouette.", {CM: 1}),
    ("Stable cardiomegaly.", {CM: 1}),
    ("No cardiomegaly.", {CM: 0}),
    ("The heart is normal in size.", {CM: 0}),
    ("The heart may be mildly enlarged.", {CM: -1}),
    ("Heart size is stable.", {CM: -1}),  # CheXpert: a stable silhouette is uncertain
    ("No significant change in moderate cardiomegaly.", {CM: 1}),
    ("Cardiomegaly is not significantly changed.", {CM: 1}),
    ("The cardiac silhouette is obscured by the left effusion.", {PE: 1}),
    # ---- Enlarged Cardiomediastinum
    ("The mediastinum is widened.", {EC: 1}),
    ("Widened mediastinum.", {EC: 1}),
    ("Mediastinal widening is unchanged.", {EC: 1}),
    ("Mediastinal contours are normal.", {EC: 0}),
    ("Normal cardiomediastinal silhouette.", {EC: 0}),
    ("The cardiomediastinal silhouette is enlarged.", {EC: 1}),
    ("Possible mild widening of the mediastinum.", {EC: -1}),
    ("No mediastinal widening.", {EC: 0}),
    ("Heart size and mediastinal contours are normal.", {CM: 0, EC: 0}),
    ("Normal heart size and mediastinal contours.", {CM: 0, EC: 0}),
    ("The mediastinum may be slightly widened.", {EC: -1}),
    ("The heart is enlarged and the mediastinum is normal.", {CM: 1, EC: 0}),
    # ---- Lung Opacity
    ("Patchy opacity in the right lower lobe.", {LO: 1}),
    ("There is no focal opacity.", {LO: 0}),
    ("Bibasilar opacities, likely atelectasis.", {LO: 1, AT: -1}),
    ("Possible subtle opacity in the lingula.", {LO: -1}),
    ("Retrocardiac opacification.", {LO: 1}),
    ("No focal airspace opacities are seen.", {LO: 0}),
    ("Subtle haziness at the right lung base.", {LO: 1}),
    ("Right lower lobe infiltrate.", {LO: 1}),
    ("The lungs are clear.", {LO: 0, CO: 0}),
    ("Clear lungs.", {LO: 0, CO: 0}),
    ("Lungs are well expanded and clear.", {LO: 0, CO: 0}),
    ("Lungs: clear. Pleura: no effusion.", {LO: 0, CO: 0, PE: 0}),
    ("Streaky densities at the lung bases may represent atelectasis.", {AT: -1}),
    # ---- Lung Lesion
    ("A 1.2 cm nodule in the right upper lobe.", {LL: 1}),
    ("No suspicious pulmonary nodule.", {LL: 0}),
    ("Left upper lobe mass measuring 4.5 cm. Recommend chest CT.", {LL: 1}),
    ("Possible 8 mm nodule in the left lower lobe.", {LL: -1}),
    ("A 6 mm nodular density in the left lower lobe may represent a nipple shadow.", {LL: -1}),
    ("No focal lung mass or nodule.", {LL: 0}),
    ("Pulmonary nodules are not seen.", {LL: 0}),
    ("No mass effect on the trachea.", {}),
    ("Calcified granuloma in the left upper lobe.", {}),
    ("Spiculated right upper lobe mass, suspicious for malignancy.", {LL: 1}),
    # ---- Edema
    ("Mild pulmonary edema.", {ED: 1}),
    ("No pulmonary edema.", {ED: 0}),
    ("Mild interstitial edema cannot be excluded.", {ED: -1}),
    ("Pulmonary vascular congestion.", {ED: -1}),  # CheXpert: congestion is uncertain Edema
    ("Kerley B lines at the lung bases.", {ED: 1}),
    ("Pulmonary vascularity is normal.", {ED: 0}),
    ("Resolution of pulmonary edema.", {ED: 0}),
    ("Perihilar haziness may reflect mild edema.", {ED: -1}),
    ("Interval improvement in pulmonary edema.", {ED: 1}),
    ("Soft tissue edema of the chest wall.", {}),
    ("Mild vascular engorgement without frank edema.", {ED: -1}),
    # ---- Consolidation
    ("Right lower lobe consolidation.", {CO: 1}),
    ("No focal consolidation.", {CO: 0}),
    ("Opacity in the left lower lobe; consolidation cannot be excluded.", {LO: 1, CO: -1}),
    ("No new consolidation.", {CO: -1}),  # CheXpert: "no new X" is uncertain
    ("Dense consolidation with air bronchograms in the right lower lobe.", {CO: 1}),
    ("Left basilar opacity, possibly consolidation.", {LO: 1, CO: -1}),
    ("Consolidation has resolved.", {CO: 0}),
    ("No interval change in the left lower lobe consolidation.", {CO: 1}),
    # ---- Pneumonia
    ("Findings consistent with pneumonia.", {PN: 1}),
    ("No evidence of pneumonia.", {PN: 0}),
    ("Right lower lobe opacity concerning for pneumonia.", {LO: 1, PN: -1}),
    ("Patchy opacity in the lingula, which may represent pneumonia.", {LO: 1, PN: -1}),
    ("Pneumonia is not excluded.", {PN: -1}),
    ("Negative for pneumonia.", {PN: 0}),
    ("Atelectasis rather than pneumonia.", {AT: 1, PN: 0}),
    ("Multifocal pneumonia.", {PN: 1}),
    ("Left basilar atelectasis, although superimposed pneumonia is possible.", {AT: 1, PN: -1}),
    # ---- Atelectasis
    ("Mild bibasilar atelectasis.", {AT: 1}),
    ("No atelectasis.", {AT: 0}),
    ("Possible left basilar atelectasis.", {AT: -1}),
    ("Left lower lobe collapse.", {AT: 1}),
    ("Plate-like atelectasis at the right base has resolved.", {AT: 0}),
    ("Effusion versus atelectasis at the left base.", {PE: -1, AT: -1}),
    ("Small left pleural effusion vs atelectasis.", {PE: -1, AT: -1}),
    ("Atelectatic changes at the left base.", {AT: 1}),
    ("Small left effusion with adjacent atelectasis.", {PE: 1, AT: 1}),
    # ---- Pleural Other
    ("Left apical pleural thickening.", {PO: 1}),
    ("No pleural thickening.", {PO: 0}),
    ("Calcified pleural plaques, consistent with prior asbestos exposure.", {PO: 1}),
    ("Biapical pleural thickening is unchanged.", {PO: 1}),
    ("Possible right apical pleural thickening.", {PO: -1}),
    ("Right apical cap.", {PO: 1}),
    ("There is no pleural thickening or effusion.", {PO: 0, PE: 0}),
    # ---- Fracture
    ("Acute nondisplaced fracture of the right 6th rib.", {FX: 1}),
    ("No acute fracture.", {FX: 0}),
    ("No displaced rib fracture is seen.", {FX: 0}),
    ("Healed left rib fractures.", {FX: 1, NF: None}),
    ("Possible nondisplaced fracture of the left 7th rib.", {FX: -1}),
    ("A right rib fracture cannot be excluded.", {FX: -1}),
    ("Subtle cortical irregularity of the left 5th rib, possibly a nondisplaced fracture.", {FX: -1}),
    ("No fx.", {FX: 0}),
    # ---- Support Devices
    ("Endotracheal tube terminates 4 cm above the carina.", {SD: 1}),
    ("ET tube tip is approx. 4 cm above the carina. No pneumothorax.", {SD: 1, PTX: 0}),
    ("Right IJ central line tip in the mid SVC.", {SD: 1}),
    ("Left-sided pacemaker with leads in the right atrium and right ventricle.", {SD: 1}),
    ("The endotracheal tube has been removed.", {SD: 0}),
    ("Interval removal of the nasogastric tube.", {SD: 0}),
    ("No support devices are present.", {SD: 0}),
    ("Possible catheter projecting over the right neck.", {SD: -1}),
    ("A linear density over the left neck may represent a catheter.", {SD: -1}),
    ("Median sternotomy wires and mediastinal clips.", {}),  # not in CheXpert's device list
    ("PICC line tip in the cavoatrial junction.", {SD: 1}),
    ("Lines and tubes are unchanged in position.", {SD: 1}),
    ("Portable AP view of the chest.", {}),
    # ---- lists, scopes, restarts, case, layout
    ("No pleural effusion or pneumothorax.", {PE: 0, PTX: 0}),
    ("no effusion, pneumothorax, or consolidation", {PE: 0, PTX: 0, CO: 0}),
    ("There is no focal consolidation, pleural effusion or pneumothorax. Heart size is normal.",
     {CO: 0, PE: 0, PTX: 0, CM: 0, NF: 1}),
    ("There is no evidence of pneumothorax or large pleural effusion.", {PTX: 0, PE: 0}),
    ("There is no pneumothorax and there is a small left effusion.", {PTX: 0, PE: 1}),
    ("No pneumothorax, although a small effusion is present.", {PTX: 0, PE: 1}),
    ("Mild cardiomegaly with small bilateral effusions and no pneumothorax.", {CM: 1, PE: 1, PTX: 0}),
    ("Possible small effusion, no pneumothorax.", {PE: -1, PTX: 0}),
    ("No pneumothorax and mild pulmonary edema.", {PTX: 0, ED: 1}),
    ("NO PNEUMOTHORAX. SMALL LEFT PLEURAL EFFUSION.", {PTX: 0, PE: 1}),
    ("Moderate Left Pleural Effusion With Adjacent Atelectasis.", {PE: 1, AT: 1}),
    ("IMPRESSION:\n 1. Small left pleural effusion.\n 2. No pneumothorax.\n 3. Stable cardiomegaly.",
     {PE: 1, PTX: 0, CM: 1, NF: None}),
    ("Impression: 1. Moderate pulmonary edema. 2. Bilateral pleural effusions. 3. No focal consolidation.",
     {ED: 1, PE: 1, CO: 0}),
    ("No acute cardiopulmonary process.", {NF: 1}),
    ("", {NF: 1}),
    ("Right PICC terminates in the low SVC; no pneumothorax.", {SD: 1, PTX: 0, NF: 1}),
    ("Possible small left pleural effusion.", {PE: -1, NF: None}),
    ("INDICATION: Evaluate for pneumonia.\n\nFINDINGS: The lungs are clear. No pleural effusion.\n\n"
     "IMPRESSION: No acute cardiopulmonary process.", {LO: 0, CO: 0, PE: 0, NF: 1}),
    ("EXAMINATION: CHEST (PA AND LAT)\nINDICATION: ___ with pneumothorax, s/p chest tube placement\n"
     "FINDINGS: Interval resolution of the left pneumothorax. The chest tube has been removed.\n"
     "IMPRESSION: Resolved left pneumothorax.", {PTX: 0, SD: 0, NF: 1}),
    ("findings: small right effusion. impression: small right effusion, no pneumothorax.", {PE: 1, PTX: 0}),
    ("HISTORY: fever, rule out pneumonia.\nCOMPARISON: None.\nThere is a small right pleural effusion.",
     {PE: 1}),
    ("FINDINGS: Mild cardiomegaly.\n\nIMPRESSION: Mild cardiomegaly.\n\nNOTIFICATION: The pneumothorax "
     "seen on the prior study was discussed with Dr. ___.", {CM: 1}),
    ("The findings were discussed with Dr. Smith at 10:00. No pleural effusion.", {PE: 0}),
    ("Left basilar opacity which may represent atelectasis or pneumonia.", {LO: 1, AT: -1, PN: -1}),
    ("Right lower lobe pneumonia has resolved. Unchanged position of the endotracheal tube.",
     {PN: 0, SD: 1}),
    ("No pneumothorax, small left effusion.", {PTX: 0, PE: 1}),
    ("No focal consolidation, large pleural effusion, or pneumothorax.", {CO: 0, PE: 0, PTX: 0}),
    ("There is no evidence of pulmonary edema, pleural effusion, or pneumothorax.", {ED: 0, PE: 0, PTX: 0}),
    ("No new focal opacity to suggest pneumonia.", {LO: -1, PN: 0}),
    ("Nothing to suggest pneumonia.", {PN: 0}),
    ("Patchy bibasilar opacities may be due to atelectasis, aspiration, or infection.",
     {LO: 1, AT: -1, PN: -1}),
    ("Patchy opacity at the left base, favored to represent atelectasis.", {LO: 1, AT: -1}),
    ("A rounded opacity in the right mid lung may represent a nodule; recommend CT.", {LO: 1, LL: -1}),
    ("Small pleural effusions are likely present bilaterally.", {PE: -1}),
    ("The tip of the nasogastric tube is not visualized below the diaphragm.", {SD: 1}),
    ("There has been interval removal of the right IJ catheter, with no pneumothorax.", {SD: 0, PTX: 0}),
    ("Left-sided chest tube remains in place with no residual pneumothorax.", {SD: 1, PTX: 0}),
    ("No acute cardiopulmonary process, with stable mild cardiomegaly.", {CM: 1, NF: None}),
    ("No definite focal consolidation is seen, though the left base is obscured by the heart.", {CO: 0}),
    ("Heart size is enlarged but stable.", {CM: 1}),
    ("1. Interval worsening of bibasilar opacities which may reflect atelectasis, though superimposed "
     "infection cannot be excluded. 2. Small bilateral pleural effusions.", {LO: 1, AT: -1, PN: -1, PE: 1}),
    ("Questionable mediastinal widening.", {EC: -1}),
    ("RIGHT APICAL PLEURAL THICKENING CANNOT BE EXCLUDED.", {PO: -1}),
    ("Pleural plaques are not seen.", {PO: 0}),
    ("Multiple pulmonary nodules are again seen.", {LL: 1}),
    ("Displaced fracture of the left clavicle.", {FX: 1}),
    ("Linear density in the right neck, possibly a catheter.", {SD: -1}),
    ("Left lower lobe pneumonia.", {PN: 1}),
    ("Consolidative opacity in the lingula.", {CO: 1, LO: 1}),
    ("Atelectasis is no longer present.", {AT: 0}),
    ("Possible mild interstitial edema.", {ED: -1}),
    ("It is not possible to exclude a small pneumothorax.", {PTX: -1}),
    ("A small pneumothorax is not entirely excluded.", {PTX: -1}),
    ("There is no cardiomegaly or widening of the mediastinum.", {CM: 0, EC: 0}),
    ("The cardiac, mediastinal and hilar contours are normal.", {CM: 0, EC: 0}),
]


def _failures(labeler: ReportLabeler) -> list[str]:
    bad = []
    for text, expected in TABLE:
        got = labeler.label(text)
        want = {label: expected.get(label) for label in FINDINGS}
        if NF in expected:
            want[NF] = expected[NF]
        diff = {k: (want[k], got[k]) for k in want if got[k] != want[k]}
        if diff:
            why = [(m.label, m.value, m.text, m.cue) for m in labeler.explain(text)]
            bad.append(f"{text!r}\n    (expected, got): {diff}\n    mentions: {why}")
    return bad


def test_hand_written_table_is_read_exactly() -> None:
    bad = _failures(ReportLabeler())
    assert not bad, f"{len(bad)} of {len(TABLE)} rows wrong:\n" + "\n".join(bad)


def test_table_covers_every_label_every_way() -> None:
    for label in FINDINGS:
        rows = [exp[label] for _, exp in TABLE if exp.get(label) is not None]
        assert len(rows) >= 6, f"{label}: {len(rows)} rows"
        assert {1, 0, -1} <= set(rows), f"{label}: values {set(rows)}"


def test_sentence_splitting() -> None:
    text = ("IMPRESSION:\n 1. Small left effusion measuring approx. 2 cm. 2. A 1.2 cm nodule, vs.\n artifact."
            "\n\n 3. Discussed with Dr. Smith. Tip is 4 cm. above the carina? No")
    assert split_sentences(report_sections(text)) == [
        "Small left effusion measuring approx. 2 cm.", "A 1.2 cm nodule, vs. artifact.",
        "Discussed with Dr. Smith.", "Tip is 4 cm. above the carina?", "No"]
    assert split_sentences("line one\nwraps here. Next") == ["line one wraps here.", "Next"]


def test_sections_ignore_indication_and_notification() -> None:
    text = ("INDICATION: eval for pneumonia, ? effusion\nFINDINGS: Heart size is normal.\n"
            "IMPRESSION: Normal chest radiograph.\nNOTIFICATION: pneumothorax discussed.")
    assert report_sections(text).split() == "Heart size is normal. Normal chest radiograph.".split()
    assert label_report(text)[PN] is None and label_report(text)[PTX] is None


def test_no_finding_rules() -> None:
    devices_only = "Endotracheal tube in standard position. No pneumothorax."
    hedged_only = "Possible small left pleural effusion."
    fracture = "Old healed left rib fractures."
    chexpert, project = ReportLabeler(), ReportLabeler(no_finding="positive_only")
    assert chexpert.label(devices_only)[NF] == 1 and project.label(devices_only)[NF] is None
    assert chexpert.label(hedged_only)[NF] is None and project.label(hedged_only)[NF] == 1
    assert chexpert.label(fracture)[NF] is None and project.label(fracture)[NF] is None
    with pytest.raises(ValueError, match="no_finding"):
        ReportLabeler(no_finding="sometimes")


def test_api_shapes_and_configurable_vocabulary() -> None:
    out = label_reports(["No pneumothorax.", "Mild cardiomegaly."])
    assert [list(o) for o in out] == [list(CHEXPERT_LABELS)] * 2
    assert out[0][PTX] == 0 and out[1][CM] == 1 and out[1][NF] is None
    assert ReportLabeler().label("Calcified granuloma.")[LL] is None
    assert ReportLabeler(extra_mentions={LL: [r"\bgranulomas?\b"]}).label("Calcified granuloma.")[LL] == 1
    with pytest.raises(ValueError, match="unknown label"):
        ReportLabeler(extra_mentions={"Cancer": ["x"]})
    with pytest.raises(TypeError):
        label_report(None)  # type: ignore[arg-type]


def test_degenerate_text_is_read() -> None:
    """A generated report that repeats itself without full stops (its speed: benchmarks/labeler.py)."""
    out = label_report("FINDINGS: " + "no effusion, possible small pneumothorax and the heart is enlarged " * 800)
    assert out[PE] == 0 and out[PTX] == -1 and out[CM] == 1


# ----------------------------------------------------------------------------------------------
# Real-report style (issue 15): the issue's examples, and the hand-written sentence sets
# ----------------------------------------------------------------------------------------------

DATA = Path(__file__).parent / "data"
DEV_SET, HELDOUT_SET = DATA / "labeler_sentences.tsv", DATA / "labeler_sentences_heldout.tsv"

# each example of the issue, with every label it must give (all others None)
ISSUE_EXAMPLES: list[tuple[str, dict[str, int | None]]] = [
    # negation scope across coordination
    ("There is no pneumothorax or definite pleural effusion.", {PTX: 0, PE: 0, NF: 1}),
    ("No other nodules or masses.", {LL: 0, NF: 1}),
    # hedges are uncertain
    ("Pneumonia is in the differential.", {PN: -1}),
    ("Left lower lobe opacity; atelectasis and pneumonia are in the differential.", {LO: 1, AT: -1, PN: -1}),
    ("Correlate clinically for pneumonia.", {PN: -1}),
    ("Early pneumonia is difficult to completely exclude.", {PN: -1}),
    ("Question mild pulmonary vascular congestion.", {ED: -1}),
    # normal and historical statements are not positive
    ("The pulmonary vascularity is within limits of normal.", {ED: 0, NF: 1}),
    ("Cardiac and mediastinal contours and pulmonary vascularity are within limits of normal.",
     {CM: 0, EC: 0, ED: 0, NF: 1}),
    ("Pulmonary vascular congestion is not present; the vasculature is within limits of normal.",
     {ED: 0, NF: 1}),
    ("Calcified granulomas consistent with prior granulomatous infection.", {NF: 1}),
    ("Prior granulomatous infection.", {NF: 1}),
    ("History of pneumonia.", {PN: 0, NF: 1}),
    # missing mentions
    ("Aspiration pneumonitis in the right lower lobe.", {PN: 1}),
    ("Mild pulmonary vascular prominence.", {ED: -1}),
]


@pytest.mark.parametrize("text,expected", ISSUE_EXAMPLES, ids=[t[:40] for t, _ in ISSUE_EXAMPLES])
def test_issue_examples_are_read_exactly(text: str, expected: dict) -> None:
    got = label_report(text)
    want = {k: expected.get(k) for k in FINDINGS}
    if NF in expected:
        want[NF] = expected[NF]
    assert {k: got[k] for k in want} == want, ReportLabeler().explain(text)


def _load_set(path: Path) -> list[tuple[str, dict[str, int | None]]]:
    rows = [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    header = rows[0].split("\t")
    assert header == ["text", *CHEXPERT_LABELS], header
    out = []
    for line in rows[1:]:
        cells = line.split("\t")
        assert len(cells) == len(header), line
        out.append((cells[0], {k: int(v) if v else None for k, v in zip(header[1:], cells[1:])}))
    return out


def test_sentence_sets_are_well_formed() -> None:
    dev, held = _load_set(DEV_SET), _load_set(HELDOUT_SET)
    assert len(dev) + len(held) >= 300 and len(held) >= 80
    texts = [t for t, _ in dev + held]
    assert len(set(texts)) == len(texts), "a sentence is repeated (within or across the splits)"
    for text, gold in dev + held:
        assert all(v in (None, 1, 0, -1) for v in gold.values()), text
        # No Finding is CheXpert's rule over the other labels, never written by hand
        assert gold[NF] == _chexpert_no_finding(gold), text
    for label in FINDINGS:  # every label is seen positive, negative and uncertain
        assert {g[label] for _, g in dev} >= {1, 0, -1}, label


def _set_scores(rows: list[tuple[str, dict]],
                ) -> tuple[dict[str, tuple[float, float, float, int]], float, list[str]]:
    pred = [label_report(t) for t, _ in rows]
    scores = {}
    for label in CHEXPERT_LABELS:
        right = sum(p[label] is not None and p[label] == g[label] for (_, g), p in zip(rows, pred))
        n_pred = sum(p[label] is not None for p in pred)
        n_true = sum(g[label] is not None for _, g in rows)
        scores[label] = (right / n_pred if n_pred else 0.0, right / n_true if n_true else 0.0,
                         2 * right / (n_pred + n_true) if n_pred + n_true else 0.0, n_true)
    supported = [f for _, _, f, n in scores.values() if n]
    wrong = [f"{t!r}: " + str({k: (g[k], p[k]) for k in CHEXPERT_LABELS if g[k] != p[k]})
             for (t, g), p in zip(rows, pred) if g != p]
    return scores, sum(supported) / len(supported), wrong


def _score_report(name: str, scores: dict, macro: float, wrong: list[str]) -> str:
    lines = [f"{k:28s} P={p:.3f} R={r:.3f} F1={f:.3f} n={n}" for k, (p, r, f, n) in scores.items()]
    return f"{name}: macro F1 {macro:.4f}\n" + "\n".join(lines) + "\nwrong:\n" + "\n".join(wrong)


def test_sentence_set_precision_recall_f1() -> None:
    """Per-label exact-value P/R/F1 (benchmarks/labeler.py prints the same). Floors sit a little under
    what the rules reach (development split 1.000, held-out 0.971, all 409 sentences 0.993, lowest
    label on all: Lung Lesion 0.923); the held-out split was written after the rule fixes, untuned."""
    dev, held = _load_set(DEV_SET), _load_set(HELDOUT_SET)
    for name, rows, macro_floor, label_floor in (("development", dev, 0.98, 0.95),
                                                 ("held-out", held, 0.94, 0.6),  # Lung Lesion 0.667, n=6
                                                 ("all", dev + held, 0.97, 0.9)):
        scores, macro, wrong = _set_scores(rows)
        report = _score_report(name, scores, macro, wrong)
        print(report)
        assert macro >= macro_floor, report
        assert all(f >= label_floor for _, _, f, n in scores.values() if n), report


# ----------------------------------------------------------------------------------------------
# The phantom's reports
# ----------------------------------------------------------------------------------------------

N_PRIOR = 380  # prior-sampled studies (seeds 10_000+)
N_FORCED = 3  # studies per (label, value) with one finding forced to 1, -1 or 0


def _chexpert_no_finding(labels: dict) -> int | None:
    """CheXpert's No Finding derived from the other labels (devices excluded; uncertain counts)."""
    return None if any(labels[k] in (1, -1) for k in FINDINGS if k != SD) else 1


@pytest.fixture(scope="module")
def phantom_cases() -> list:
    from medmint.generators.phantom import sample_case

    cases = [sample_case(10_000 + i, size=64) for i in range(N_PRIOR)]
    for i, label in enumerate(FINDINGS):
        for v in (1, -1, 0):
            cases += [sample_case(20_000 + 100 * i + 10 * (v + 1) + k, size=64, findings={label: v})
                      for k in range(N_FORCED)]
    cases += [sample_case(30_000 + k, size=64, findings={NF: 1}) for k in range(3)]
    cases += [sample_case(31_000 + k, size=64, phi=True) for k in range(8)]  # PHI header and sign-off
    return cases


def _f1_table(truth: list[dict], pred: list[dict], labels: list[str]) -> dict[str, tuple[float, int]]:
    """Per label F1 of the exact value over mentioned labels: a prediction is right when it is the
    true value; precision over predictions that are not None, recall over truths that are not None."""
    out = {}
    for label in labels:
        right = sum(p[label] is not None and p[label] == t[label] for t, p in zip(truth, pred))
        n_pred = sum(p[label] is not None for p in pred)
        n_true = sum(t[label] is not None for t in truth)
        out[label] = (2 * right / (n_pred + n_true) if n_pred + n_true else float("nan"), n_true)
    return out


def test_phantom_reports_are_read_back(phantom_cases: list) -> None:
    default = [label_report(c.report) for c in phantom_cases]
    project = ReportLabeler(no_finding="positive_only").label_many(c.report for c in phantom_cases)
    truth = [c.labels for c in phantom_cases]

    # the 13 findings with the default labeler; No Finding under the phantom's own convention
    # (1 unless another label is positive), which is the 'positive_only' rule
    scores = _f1_table(truth, default, FINDINGS)
    scores[NF] = _f1_table(truth, project, [NF])[NF]
    # and the default (CheXpert) No Finding against CheXpert's rule applied to the phantom's labels
    chexpert_truth = [{NF: _chexpert_no_finding(t)} for t in truth]
    chexpert_nf = _f1_table(chexpert_truth, default, [NF])[NF]

    with_support = {k: v for k, v in scores.items() if v[1] > 0}
    macro = sum(f for f, _ in with_support.values()) / len(with_support)
    lines = [f"{k:28s} F1={f:.4f} support={n}" for k, (f, n) in scores.items()]
    report = (f"{len(phantom_cases)} phantom reports\n" + "\n".join(lines)
              + f"\nmacro F1 = {macro:.4f}; CheXpert-rule No Finding F1 = {chexpert_nf[0]:.4f}")
    print(report)
    wrong = [(c.report, {k: (c.labels[k], d[k]) for k in FINDINGS if c.labels[k] != d[k]})
             for c, d in zip(phantom_cases, default) if any(c.labels[k] != d[k] for k in FINDINGS)]
    assert macro >= 0.98, report + "".join(f"\n---\n{r}\n{w}" for r, w in wrong[:5])
    assert all(f >= 0.95 for f, _ in with_support.values()), report + "".join(
        f"\n---\n{r}\n{w}" for r, w in wrong[:5])
    assert chexpert_nf[0] >= 0.95, report


def test_every_forced_finding_reads_back_exactly(phantom_cases: list) -> None:
    forced = phantom_cases[N_PRIOR: N_PRIOR + len(FINDINGS) * 3 * N_FORCED]
    bad = []
    for case in forced:
        got = label_report(case.report)
        diff = {k: (case.labels[k], got[k]) for k in FINDINGS if case.labels[k] != got[k]}
        if diff:
            bad.append(f"{case.findings} | {case.impression}\n    (phantom, labeler): {diff}")
    assert not bad, "\n".join(bad)


def test_one_line_generated_layout_reads_the_same(phantom_cases: list) -> None:
    """The diffusion model writes 'FINDINGS: ... IMPRESSION: ...' on one line (numbered items inline)."""
    for case in phantom_cases:
        one_line = f"FINDINGS: {' '.join(case.findings.split())} IMPRESSION: {' '.join(case.impression.split())}"
        assert label_report(one_line) == label_report(case.report), one_line
