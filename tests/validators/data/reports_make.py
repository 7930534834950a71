"""Writes the three report sets ``test_report_wellformed.py`` reads (run once; the .txt files are committed):

- ``reports_real_train.txt``: 1000 chest radiograph reports in the style of MIMIC-CXR / Open-i
  (FINDINGS + IMPRESSION), composed from a hand-written pool of sentences (``TRAIN``), with
  slot fills (side, lobe, severity, device, size), an optional comparison line, numbered
  impressions and de-identified notifications (``___``).
- ``reports_real_heldout.txt``: 150 reports written the same way but with about half of their
  sentences drawn from a separate hand-written pool (``HELDOUT``) whose phrasings, and some of
  whose words, the training reports never use.
- ``reports_broken.txt``: 150 broken reports: the issue's four examples, hand-written ones, and
  held-out reports with exactly one fault each (truncated sentence, doubled word, orphan
  fragment, empty section, word salad, doubled punctuation, stray letter, sentence glued on in
  lowercase), each line prefixed with its fault class and a tab.

One report per line: ``FINDINGS: ... IMPRESSION: ...``.

    python tests/validators/data/reports_make.py
"""

from __future__ import annotations

import random
import re
from pathlib import Path

HERE = Path(__file__).parent

SIDE = ["left", "right"]
LOBE = ["right upper lobe", "right middle lobe", "right lower lobe", "left upper lobe", "left lower lobe", "lingula"]
ZONE = ["left base", "right base", "left lung base", "right lung base", "left apex", "right apex",
        "left mid lung", "right mid lung", "retrocardiac region", "left perihilar region", "right infrahilar region"]
SEV = ["mild", "moderate", "severe"]
SIZE = ["small", "moderate", "large", "trace", "small to moderate", "moderate to large"]
TUBE = ["endotracheal tube", "ET tube"]

# ---- the training pool: (section, sentence template) ------------------------------------------
TRAIN_FINDINGS = """
PA and lateral views of the chest were obtained.
PA and lateral views of the chest.
Frontal and lateral views of the chest were obtained.
Single frontal view of the chest.
Single portable AP view of the chest.
Portable semi-upright radiograph of the chest.
AP upright and lateral views of the chest were provided.
The lungs are clear.
The lungs are clear without focal consolidation.
Lungs are clear bilaterally.
The lungs are well expanded and clear.
Lungs are hyperinflated but clear.
The lungs are hyperinflated, suggestive of emphysema.
There is no focal consolidation, pleural effusion, or pneumothorax.
No focal consolidation, pleural effusion, or pneumothorax is seen.
There is no pleural effusion or pneumothorax.
No pleural effusion or pneumothorax.
No pneumothorax is seen.
There is no pneumothorax.
No pneumothorax.
No pleural effusion.
No large pleural effusion.
No focal airspace consolidation is seen.
No focal consolidation to suggest pneumonia.
No evidence of pneumonia.
There is no evidence of pulmonary edema.
No pulmonary edema.
No pulmonary vascular congestion.
There is mild pulmonary vascular congestion.
There is {sev} pulmonary edema.
{Sev} interstitial pulmonary edema is present.
There is {sev} interstitial edema with small bilateral pleural effusions.
Pulmonary vascular congestion with mild interstitial edema.
Perihilar haziness and vascular indistinctness suggest mild edema.
The heart size is normal.
Heart size is normal.
The heart is normal in size.
Heart size is at the upper limits of normal.
The heart is mildly enlarged.
The cardiac silhouette is moderately enlarged.
There is {sev} cardiomegaly.
{Sev} cardiomegaly is unchanged.
The cardiomediastinal silhouette is normal.
The cardiomediastinal and hilar contours are normal.
Cardiomediastinal and hilar contours are within normal limits.
The mediastinal and hilar contours are unremarkable.
Mediastinal contours are normal.
The aorta is tortuous.
The thoracic aorta is tortuous and calcified.
There is calcification of the aortic knob.
Hilar contours are unremarkable.
The hila are prominent, likely vascular.
There is a {size} {side} pleural effusion.
A {size} {side} pleural effusion is present.
{Size} bilateral pleural effusions are present.
There are small bilateral pleural effusions.
{Size} {side} pleural effusion is similar to prior.
Blunting of the {side} costophrenic angle likely reflects a small effusion.
Blunting of the {side} costophrenic angle may reflect a small pleural effusion or pleural thickening.
There is {side} basilar atelectasis.
Bibasilar atelectasis is present.
Mild bibasilar atelectasis.
Linear opacity at the {zone} likely reflects atelectasis.
Patchy opacity in the {zone} may reflect atelectasis, though infection is not excluded.
There is a focal opacity in the {lobe} concerning for pneumonia.
Focal consolidation in the {lobe} is concerning for pneumonia.
Airspace opacity in the {lobe} could reflect pneumonia in the appropriate clinical setting.
There is increased opacity at the {zone}.
Retrocardiac opacity likely reflects atelectasis.
There is a {num} mm nodule in the {lobe}.
A {num} cm nodular opacity projects over the {zone}.
A rounded opacity in the {lobe} measures {num} cm.
There is a small {side} apical pneumothorax.
A {size} {side} pneumothorax is present.
A small {side} apical pneumothorax measures {num} mm.
There is no evidence of tension.
The {tube} terminates {num} cm above the carina.
The {tube} tip is {num} cm above the carina.
An enteric tube courses below the diaphragm with the tip in the stomach.
A nasogastric tube is in the stomach.
The tip of the nasogastric tube is in the stomach, with the side port near the GE junction.
A {side} internal jugular central venous catheter terminates in the mid SVC.
{Side} PICC line tip is in the low SVC.
A {side} subclavian catheter ends at the cavoatrial junction.
A {side}-sided pacemaker is present with leads in the right atrium and right ventricle.
A dual-chamber pacemaker is in unchanged position.
Median sternotomy wires and mediastinal clips are noted.
Sternotomy wires are intact.
Surgical clips are present in the right upper quadrant.
There are no acute osseous abnormalities.
No acute osseous abnormality.
No displaced rib fracture is seen.
Degenerative changes are seen in the thoracic spine.
Multilevel degenerative changes of the thoracic spine are noted.
There is an old healed fracture of the {side} {num}th rib.
The visualized upper abdomen is unremarkable.
There is no free air under the diaphragm.
There is elevation of the {side} hemidiaphragm.
The {side} hemidiaphragm is elevated.
Low lung volumes accentuate the bronchovascular markings.
Lung volumes are low.
Lung volumes are low, with crowding of the bronchovascular markings.
There is mild peribronchial cuffing.
Chronic interstitial markings are again seen.
Coarse interstitial markings are compatible with chronic lung disease.
Calcified granulomas are seen in the {zone}.
A calcified granuloma is noted in the {lobe}.
Scarring is seen at the {zone}.
Apical pleural thickening is noted bilaterally.
Soft tissues are unremarkable.
The soft tissues are within normal limits.
Compared to the prior study, there is no significant interval change.
Compared to the prior radiograph from ___, the {size} {side} pleural effusion has increased.
As compared to the previous radiograph, the lung volumes are lower.
In comparison with the study of ___, there is little change.
Since the prior exam, there has been interval placement of a {side} PICC.
The {side} pleural effusion has decreased in size since ___.
Opacity at the {zone} has improved.
Pulmonary edema has improved compared to ___.
There is no new focal opacity.
Findings are unchanged from ___.
Patient is rotated, limiting evaluation.
Evaluation of the lung bases is limited by overlying soft tissue.
Overlying EKG leads and wires obscure the left lung base.
There is mild atherosclerotic calcification of the aortic arch.
There is a hiatal hernia.
A small hiatal hernia is noted.
The trachea is midline.
Mild prominence of the pulmonary arteries suggests pulmonary hypertension.
Kerley B lines are present at the {side} base.
There are scattered Kerley B lines.
No definite focal consolidation is identified.
There is no definite pneumothorax.
There is no focal airspace opacity to suggest pneumonia.
No acute focal pneumonia is seen.
No large effusion is seen.
No effusion or pneumothorax is appreciated.
There is no evidence of pneumothorax or pleural effusion.
A tiny {side} pleural effusion cannot be excluded.
Trace {side} pleural fluid is noted.
There is a {size} {side} effusion with overlying atelectasis.
The {side} effusion is slightly smaller.
The {side} effusion is unchanged.
Bilateral effusions are unchanged.
A {side} basilar opacity is most consistent with atelectasis.
The lungs are otherwise clear.
The remainder of the lungs is clear.
Otherwise, the lungs are clear.
The right lung is clear.
The left lung is clear.
The lungs are clear except for minimal {side} basilar atelectasis.
Clear lungs.
The lungs are grossly clear.
Lungs are clear without consolidation or edema.
There is no interstitial edema.
Vascular congestion is mild.
Mild vascular congestion has improved.
Moderate pulmonary edema has worsened since ___.
The heart is enlarged.
The heart remains mildly enlarged.
Heart size is top normal.
Heart size is stable.
The heart size is unchanged.
Mild cardiomegaly is stable.
The cardiomediastinal silhouette is stable.
The cardiomediastinal silhouette is within normal limits.
The cardiac and mediastinal contours are stable.
Mediastinal and hilar contours are stable.
The mediastinum is midline.
Hilar and mediastinal contours are normal.
The aorta is unfolded.
The descending aorta is tortuous.
Aortic knob calcifications are present.
Atherosclerotic calcifications are seen in the aortic arch.
Unremarkable cardiomediastinal silhouette.
Osseous structures are unremarkable.
The osseous structures are grossly intact.
No acute fracture is identified.
Bony structures are intact.
Degenerative changes are noted in both shoulders.
There are old healed {side} rib fractures.
Anterior cervical fusion hardware is partially imaged.
Postoperative changes of the {side} shoulder are noted.
Nipple shadows are noted.
A nipple shadow projects over the {side} lung base.
Overlying monitoring leads are noted.
External pacing pads are present.
Cardiac monitoring leads overlie the chest.
The {tube} is in appropriate position.
The {tube} has been removed.
The {tube} is {num} cm above the carina, in standard position.
The endotracheal tube terminates at the level of the clavicles.
The nasogastric tube has been removed.
The enteric tube has been advanced and now terminates in the stomach.
An orogastric tube courses into the stomach.
A {side} chest tube is in place.
There is a {side} chest tube with tip at the apex.
No pneumothorax after chest tube removal.
The {side} PICC has been removed.
A {side}-sided central venous catheter is in place with tip in the SVC.
The {side} internal jugular line has been removed.
A {side} pectoral pacemaker device is seen with leads in standard position.
An AICD is present.
There is a prosthetic mitral valve.
Status post CABG.
Patient is status post median sternotomy and CABG.
There are postoperative changes from prior CABG.
Clips are seen in the left upper quadrant.
Unchanged appearance of the chest.
The appearance of the chest is unchanged.
There has been no significant change since ___.
No significant change from prior.
The {side} lower lobe opacity has resolved.
Interval improvement of the {side} lower lobe opacity.
Interval development of a {side} lower lobe opacity.
There is new opacity in the {lobe}.
There is persistent opacity in the {lobe}.
Persistent {side} basilar opacity may reflect atelectasis or pneumonia.
Ill-defined opacity at the {zone} is concerning for infection.
Patchy bibasilar opacities likely reflect atelectasis.
There is patchy airspace disease in the {lobe}.
Opacity in the {lobe} has increased.
There is volume loss in the {lobe}.
There is mild volume loss at the {side} base.
The {side} costophrenic angle is not included on the image.
The {side} costophrenic angle is excluded from the field of view.
Lateral view is limited by motion.
Exam is limited by low lung volumes.
Portable technique limits evaluation.
A {num} mm calcified nodule is seen in the {lobe}, likely a granuloma.
There is a small nodule projecting over the {side} fifth rib.
No suspicious pulmonary nodule is identified.
A nodular density at the {zone} may represent a nipple shadow.
Hyperexpanded lungs are consistent with COPD.
The lungs are hyperexpanded.
There is flattening of the diaphragms.
Emphysematous changes are noted.
There is apical scarring.
Biapical pleural thickening is unchanged.
Pleural plaques are seen bilaterally.
There is a moderate hiatal hernia.
Air-fluid level is seen in the hiatal hernia.
No subdiaphragmatic free air.
Gas-distended bowel loops are seen in the upper abdomen.
The stomach is distended with air.
Mild thoracic dextroscoliosis.
There is a mild levoscoliosis of the thoracic spine.
Multiple old rib fractures are present.
The trachea is deviated to the {side}.
There is mild {side} tracheal deviation.
Widening of the mediastinum is likely due to patient positioning.
The pulmonary arteries are enlarged.
Pulmonary vascular markings are within normal limits.
There is mild perihilar haziness.
Perihilar opacities are consistent with edema.
Diffuse bilateral opacities are present.
Bilateral airspace opacities have progressed.
Linear atelectasis is seen in the {zone}.
Subsegmental atelectasis at the {zone}.
There is minimal atelectasis at the {zone}.
Dependent atelectasis at the lung bases.
""".strip().splitlines()

TRAIN_IMPRESSION = """
No acute cardiopulmonary process.
No acute cardiopulmonary abnormality.
No acute intrathoracic process.
No evidence of acute disease.
Normal chest radiograph.
No acute findings.
No radiographic evidence of pneumonia.
{Size} {side} pleural effusion.
{Size} bilateral pleural effusions with adjacent atelectasis.
{Sev} pulmonary edema.
{Sev} cardiomegaly with pulmonary vascular congestion.
Mild pulmonary vascular congestion without frank edema.
{Lobe} pneumonia.
Findings concerning for {lobe} pneumonia.
Opacity in the {lobe} concerning for pneumonia.
Bibasilar atelectasis.
{Side} basilar atelectasis, though infection cannot be excluded.
{Size} {side} pneumothorax.
Small {side} apical pneumothorax.
Tubes and lines in appropriate position.
Lines and tubes are in standard position.
The {tube} is in standard position.
Interval placement of a {side} PICC with tip in the low SVC.
Stable cardiomegaly without acute process.
Cardiomegaly without evidence of pulmonary edema.
Emphysema without acute process.
Chronic changes without acute process.
{Num} mm nodule in the {lobe}; recommend CT for further evaluation.
Recommend follow-up radiographs after treatment to document resolution.
Recommend CT of the chest for further evaluation.
Improved pulmonary edema.
Unchanged {size} {side} pleural effusion.
Increased {side} pleural effusion.
No significant interval change.
Little change since the prior study.
Low lung volumes without acute process.
Old {side} rib fracture.
No acute cardiopulmonary findings.
No evidence of pneumonia.
No pneumonia.
Clear lungs.
No acute process.
No pneumothorax.
Stable chest radiograph.
Stable appearance of the chest.
No significant change.
Unchanged.
No change.
No new focal opacity.
Mild pulmonary edema.
Mild interstitial edema.
Pulmonary edema has improved.
Worsening pulmonary edema.
Congestive heart failure.
Mild congestive heart failure.
Cardiomegaly.
Mild cardiomegaly.
Moderate cardiomegaly.
Stable cardiomegaly.
{Size} {side} pleural effusion, unchanged.
Small bilateral pleural effusions.
Bilateral pleural effusions and bibasilar atelectasis.
{Side} lower lobe pneumonia.
Pneumonia in the {lobe}.
Atelectasis versus pneumonia at the {zone}.
Bibasilar opacities, likely atelectasis.
Likely atelectasis at the {zone}.
{Side} pneumothorax.
No pneumothorax following chest tube removal.
Interval removal of the {tube}.
Appropriately positioned {tube}.
{Tube} in appropriate position.
Enteric tube in the stomach.
{Side} PICC tip in the mid SVC.
Hyperinflation without acute process.
COPD without acute process.
Emphysema.
Hiatal hernia.
Pulmonary nodule in the {lobe}; CT is recommended.
Nodular opacity at the {zone} could be further evaluated with CT.
Possible early pneumonia at the {zone}.
Findings may reflect aspiration.
Right middle lobe syndrome is a consideration.
Improving {side} lower lobe opacity.
Resolution of the {side} lower lobe pneumonia.
""".strip().splitlines()

NOTIFY = [
    "These findings were communicated to Dr. ___ by telephone at ___.",
    "Findings were discussed with Dr. ___ at ___ on ___.",
    "The referring physician was notified of the findings at ___.",
    "Dr. ___ was paged with the results at the time of interpretation.",
]

# ---- the held-out pool: phrasings (and some words) the training reports never use ------------
HELDOUT_FINDINGS = """
Two views of the chest demonstrate clear lungs.
The lungs demonstrate no confluent consolidation.
Both lungs are clear and well aerated.
Lung parenchyma is clear.
There is no consolidation, effusion, or pneumothorax.
Neither pneumothorax nor pleural effusion is present.
The costophrenic angles are sharp.
Costophrenic angles are clear.
There is no evidence of a pneumothorax on this semi-upright image.
Cardiac size is within normal limits.
The cardiac silhouette is stable in size.
Heart is borderline enlarged.
The heart remains enlarged.
The mediastinum is not widened.
Mediastinal silhouette is stable.
The aortic arch is calcified.
Pulmonary vascularity is normal.
Pulmonary vasculature is mildly engorged.
There is cephalization of the pulmonary vasculature.
Septal lines are seen at both bases.
Streaky opacities at both bases are likely atelectatic.
Subsegmental atelectasis is seen at the {zone}.
Plate-like atelectasis at the {zone} is new.
There is dense consolidation in the {lobe} with air bronchograms.
Ill-defined airspace disease in the {lobe} is suspicious for aspiration.
Multifocal patchy opacities are worrisome for multifocal pneumonia.
Nodular densities are scattered throughout both lungs.
A spiculated mass in the {lobe} measures {num} cm.
There is a {size} layering {side} effusion.
Small amount of fluid tracks along the {side} major fissure.
Loculated fluid is seen at the {side} lateral chest wall.
A thin pleural line is visible at the {side} apex, consistent with a small pneumothorax.
The {side} chest tube is in place with no residual pneumothorax.
A {side} chest tube remains in place.
The feeding tube tip lies in the proximal duodenum.
The Dobhoff tube terminates in the stomach.
Tracheostomy tube is in satisfactory position.
The Swan-Ganz catheter tip is in the right pulmonary artery.
An implantable cardiac defibrillator is in place.
Right-sided Port-A-Cath ends in the distal SVC.
Prosthetic aortic valve is noted.
Osseous structures are intact.
Bony thorax is intact.
There is a compression deformity of a lower thoracic vertebral body.
Mild dextroscoliosis of the thoracic spine is noted.
Postsurgical changes of the {side} breast are noted.
Cholecystectomy clips are seen.
Air is present under the right hemidiaphragm, concerning for free air.
Relative to yesterday, the opacities have worsened.
The appearance is similar to the examination from ___.
Since yesterday, the edema has largely resolved.
The right heart border is obscured by adjacent opacity.
Evaluation is limited due to patient positioning.
Overlying skin folds project over the {side} hemithorax.
The diaphragms are flattened.
There is blunting of both costophrenic angles.
Vascular congestion has slightly worsened.
No new infiltrate is identified.
There is mild prominence of the interstitial markings bilaterally.
The bronchial walls are thickened.
""".strip().splitlines()

HELDOUT_IMPRESSION = """
Lungs are free of focal disease.
No acute chest abnormality.
No active disease in the chest.
No evidence of acute cardiopulmonary disease.
Unremarkable chest radiograph.
Findings consistent with congestive heart failure.
Progressive pulmonary edema.
Multifocal pneumonia.
Aspiration in the {lobe} is a consideration.
Interval resolution of the {side} pneumothorax.
Small {side} pneumothorax, not substantially changed.
Feeding tube tip in the proximal duodenum.
Tracheostomy tube in satisfactory position.
Enlarging {side} effusion.
No interval change in the appearance of the chest.
Hyperinflated lungs compatible with chronic obstructive pulmonary disease.
Spiculated {lobe} mass, concerning for malignancy; CT is recommended.
Free air under the right hemidiaphragm; clinical correlation is advised.
""".strip().splitlines()


# how radiologists vary the same statement: synonyms, and a trailing comparison
SYNONYMS = [
    (" is seen", [" is noted", " is identified", " is present", " is demonstrated", " is visualized"]),
    (" are seen", [" are noted", " are identified", " are present"]),
    (" likely ", [" probably ", " most likely ", " likely "]),
    (" consistent with ", [" compatible with ", " suggestive of ", " in keeping with "]),
    (" concerning for ", [" worrisome for ", " suspicious for ", " concerning for "]),
    (" unchanged", [" stable", " not significantly changed", " unchanged"]),
    (" prior ", [" previous ", " prior "]),
    ("There is no ", ["No ", "There is no ", "There is no evidence of "]),
    (" mild ", [" minimal ", " slight ", " mild "]),
    (" may reflect ", [" could reflect ", " may represent ", " likely represents "]),
]
TAILS = [", unchanged from prior", " since the prior study", ", as before", ", similar to prior", ", new since ___",
         " compared to ___", ", not significantly changed", " on the current study"]


def vary(sentence: str, rng: random.Random) -> str:
    for old, news in SYNONYMS:
        if old in sentence and rng.random() < 0.3:
            sentence = sentence.replace(old, rng.choice(news), 1)
    if rng.random() < 0.06 and sentence.endswith(".") and not re.search(r"\d\.|prior|___|compar", sentence):
        sentence = sentence[:-1] + rng.choice(TAILS) + "."
    return sentence[0].upper() + sentence[1:]


def fill(template: str, rng: random.Random) -> str:
    values = {"side": rng.choice(SIDE), "lobe": rng.choice(LOBE), "zone": rng.choice(ZONE),
              "sev": rng.choice(SEV), "size": rng.choice(SIZE), "tube": rng.choice(TUBE),
              "num": str(rng.choice([2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 15, 1.5, 2.5, 3.5]))}
    out = template
    for key, v in values.items():
        out = out.replace("{" + key + "}", v).replace("{" + key.capitalize() + "}", v[0].upper() + v[1:])
    return vary(out[0].upper() + out[1:], rng)


def report(rng: random.Random, findings_pool: list[str], impression_pool: list[str],
           alt_findings: list[str] | None = None, alt_impression: list[str] | None = None, p_alt: float = 0.0) -> str:
    def pick(pool: list[str], alt: list[str] | None) -> str:
        return fill(rng.choice(alt if alt and rng.random() < p_alt else pool), rng)

    n_find = rng.choice([1, 2, 3, 3, 4, 4, 5, 5, 6, 7])
    findings = []
    if rng.random() < 0.6:
        findings.append(fill(rng.choice([f for f in findings_pool if "view" in f or "radiograph of" in f]), rng))
    while len(findings) < n_find:
        s = pick(findings_pool, alt_findings)
        if s not in findings:
            findings.append(s)
    n_imp = rng.choice([1, 1, 1, 2, 2, 3])
    impression: list[str] = []
    while len(impression) < n_imp:
        s = pick(impression_pool, alt_impression)
        if s not in impression:
            impression.append(s)
    if n_imp > 1 and rng.random() < 0.5:
        impression = [f"{i}. {s}" for i, s in enumerate(impression, 1)]
    if rng.random() < 0.12:
        impression.append(rng.choice(NOTIFY))
    return f"FINDINGS: {' '.join(findings)} IMPRESSION: {' '.join(impression)}"


# ---- broken reports ---------------------------------------------------------------------------
ISSUE = [
    ("issue", "FINDINGS: Single portable AP view of the chest. F is edema. IMPRESSION: Mild cardiomegaly."),
    ("issue", "FINDINGS: AP portable upright view of the chest. No consolidation is. IMPRESSION: Mild mediastinal widening."),
    ("issue", "FINDINGS: Small left pleural effusion. IMPRESSION: Possible small pleural pleural effusion.."),
    ("issue", "FINDINGS: Frontal and lateral views of. IMPRESSION: No acute cardiopulmonary process."),
]
HAND = [
    ("truncated", "FINDINGS: The lungs are clear. There is a small left. IMPRESSION: No acute process."),
    ("truncated", "FINDINGS: Heart size is. The lungs are clear. IMPRESSION: No acute cardiopulmonary process."),
    ("truncated", "FINDINGS: PA and lateral views of the chest. No focal consolidation, pleural effusion, or. IMPRESSION: No acute cardiopulmonary process."),
    ("truncated", "FINDINGS: The endotracheal tube terminates 4 cm above the. IMPRESSION: Tubes and lines in appropriate position."),
    ("truncated", "FINDINGS: There is mild pulmonary edema. IMPRESSION: Mild pulmonary edema and."),
    ("truncated", "FINDINGS: Lungs are clear bilaterally. IMPRESSION: No acute cardiopulmonary process. Recommend CT of the."),
    ("orphan", "FINDINGS: Moderate. The lungs are clear. IMPRESSION: No acute process."),
    ("orphan", "FINDINGS: The lungs are clear. Of the chest. IMPRESSION: No acute cardiopulmonary abnormality."),
    ("orphan", "FINDINGS: There is no pneumothorax. The. IMPRESSION: No acute intrathoracic process."),
    ("orphan", "FINDINGS: Heart size is normal. With. IMPRESSION: Normal chest radiograph."),
    ("orphan", "FINDINGS: Single frontal view of the chest. Is seen. IMPRESSION: No acute findings."),
    ("orphan", "FINDINGS: Single frontal view of the chest. is no pneumothorax. IMPRESSION: No acute findings."),
    ("orphan", "FINDINGS: Bibasilar atelectasis is present. IMPRESSION: Bibasilar. No acute process."),
    ("empty_section", "FINDINGS: IMPRESSION: No acute cardiopulmonary process."),
    ("empty_section", "FINDINGS: The lungs are clear. Heart size is normal. IMPRESSION:"),
    ("empty_section", "FINDINGS: . IMPRESSION: Normal chest radiograph."),
    ("punctuation", "FINDINGS: The lungs are clear.. Heart size is normal. IMPRESSION: No acute process."),
    ("punctuation", "FINDINGS: There is no pleural effusion,. IMPRESSION: No acute intrathoracic process."),
    ("punctuation", "FINDINGS: The lungs are clear. . Heart size is normal. IMPRESSION: No acute process."),
    ("punctuation", "FINDINGS: No pneumothorax;, no effusion. IMPRESSION: Normal chest radiograph."),
    ("doubled", "FINDINGS: The the lungs are clear. IMPRESSION: No acute process."),
    ("doubled", "FINDINGS: There is a small left left pleural effusion. IMPRESSION: Small left pleural effusion."),
    ("doubled", "FINDINGS: No focal consolidation consolidation is seen. IMPRESSION: No acute cardiopulmonary abnormality."),
    ("salad", "FINDINGS: Effusion the lung left is mild no. IMPRESSION: No acute process."),
    ("salad", "FINDINGS: The lungs are clear. IMPRESSION: Process cardiopulmonary acute no."),
    ("salad", "FINDINGS: Clear are the lungs heart normal size is. IMPRESSION: Normal chest radiograph."),
    ("letter", "FINDINGS: The lungs are clear. P heart size is normal. IMPRESSION: No acute process."),
    ("letter", "FINDINGS: There is a small q pleural effusion. IMPRESSION: Small pleural effusion."),
]

# words a reader recognises as unable to end a sentence
NON_FINAL = {"the", "a", "an", "of", "in", "on", "at", "to", "with", "and", "or", "is", "are", "there", "small",
             "left", "right", "mild", "moderate", "no", "for", "by", "from", "than", "pleural", "which", "but",
             "without", "has", "was", "were", "be", "may", "likely", "within", "above", "below", "bilateral"}
# words that cannot open a sentence
NON_INITIAL = {"of", "is", "are", "and", "or", "with", "to", "in", "at", "without", "by", "from", "seen",
               "has", "was", "present", "noted", "for", "which"}


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s]


def _split(rep: str) -> tuple[list[str], list[str]]:
    f, i = re.match(r"FINDINGS: (.*) IMPRESSION: (.*)", rep).groups()
    return _sentences(f), _sentences(i)


def _join(f: list[str], i: list[str]) -> str:
    return f"FINDINGS: {' '.join(f)} IMPRESSION: {' '.join(i)}"


def corrupt(rep: str, kind: str, rng: random.Random) -> str | None:
    f, imp = _split(rep)
    sec = f if (kind != "empty_section" and (rng.random() < 0.7 or len(imp) == 0)) else imp
    j = rng.randrange(len(sec))
    words = sec[j].rstrip(".").split()
    if kind == "truncated":
        cuts = [k for k in range(1, len(words)) if words[k - 1].lower().strip(",;") in NON_FINAL]
        if not cuts:
            return None
        sec[j] = " ".join(words[: rng.choice(cuts)]).rstrip(",;") + "."
    elif kind == "doubled":
        k = rng.choice([k for k in range(len(words)) if words[k].isalpha()] or [0])
        words.insert(k, words[k].lower() if k else words[k])
        sec[j] = " ".join(words) + "."
    elif kind == "orphan":
        cuts = [k for k in range(1, len(words)) if words[k].lower() in NON_INITIAL]
        if not cuts:
            return None
        k = rng.choice(cuts)
        # the head stays, the tail is glued on as a sentence of its own (as a decoder drops a chunk)
        sec[j] = " ".join(words[k:]) + "."
        if rng.random() < 0.5:
            sec[j] = sec[j][0].upper() + sec[j][1:]
    elif kind == "empty_section":
        sec.clear()
        if rng.random() < 0.3:
            sec.append(".")
    elif kind == "salad":
        if len(words) < 4:
            return None
        shuffled = words[:]
        while shuffled[:2] == words[:2] or shuffled[-2:] == words[-2:]:
            rng.shuffle(shuffled)
        sec[j] = " ".join(w.lower() for w in shuffled)
        sec[j] = sec[j][0].upper() + sec[j][1:] + "."
    elif kind == "punctuation":
        sec[j] = sec[j].rstrip(".") + rng.choice(["..", ",.", ".,", ". .", ";.", ",,"])
    elif kind == "letter":
        k = rng.randrange(len(words))
        words[k] = rng.choice("bcdefghjklmnopqrtuvwyz")
        if k == 0:
            words[k] = words[k].upper()
        sec[j] = " ".join(words) + "."
    elif kind == "glued":
        if len(sec) < 2:
            return None
        # a sentence whose head was lost: lowercase, starting mid-clause
        cuts = [k for k in range(1, len(words)) if words[k].lower() in NON_INITIAL]
        if not cuts:
            return None
        sec[j] = " ".join(words[rng.choice(cuts):]) + "."
    return _join(f, imp)


KINDS = ["truncated", "doubled", "orphan", "empty_section", "salad", "punctuation", "letter", "glued"]


def main() -> None:
    rng = random.Random(20261207)
    train = [report(rng, TRAIN_FINDINGS, TRAIN_IMPRESSION) for _ in range(1000)]
    held = [report(rng, TRAIN_FINDINGS, TRAIN_IMPRESSION, HELDOUT_FINDINGS, HELDOUT_IMPRESSION, p_alt=0.5)
            for _ in range(150)]
    broken = ISSUE + HAND
    source = [report(rng, TRAIN_FINDINGS, TRAIN_IMPRESSION, HELDOUT_FINDINGS, HELDOUT_IMPRESSION, p_alt=0.5)
              for _ in range(400)]
    k = 0
    while len(broken) < 150:
        kind = KINDS[k % len(KINDS)]
        bad = corrupt(source[k], kind, rng)
        k += 1
        if bad is not None:
            broken.append((kind, bad))
    (HERE / "reports_real_train.txt").write_text("\n".join(train) + "\n")
    (HERE / "reports_real_heldout.txt").write_text("\n".join(held) + "\n")
    (HERE / "reports_broken.txt").write_text("".join(f"{kind}\t{text}\n" for kind, text in broken))


if __name__ == "__main__":
    main()
