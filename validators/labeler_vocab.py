"""Phrase tables of the rule-based report labeler (``report_labeler.py``): mentions and cues.

Everything is a regular expression matched against one lower-cased sentence. Three kinds of entry:

* ``MENTIONS``: label -> patterns whose match is a mention of the finding (``cardiomegaly``,
  ``pleural effusion``, ``blunting of the costophrenic angle``...). Its certainty then comes from the
  cues around it (``no``, ``possible``, ``cannot be excluded``...).
* ``FIXED``: label(s) -> patterns whose match states the finding's value by itself ("the lungs are
  clear" -> Lung Opacity and Consolidation 0; "sharp costophrenic angles" -> Pleural Effusion 0). Cues
  do not touch them.
* ``ATTRIBUTES``: an anatomical subject ("heart size", "cardiac silhouette", "mediastinal contours")
  read through the nearest predicate in its clause: a normal predicate ("normal", "within normal
  limits") makes a negative mention, a borderline one ("borderline", "top normal") an uncertain one, an
  abnormal one ("enlarged", "widened") a mention whose certainty the cues decide ("is not enlarged",
  "may be widened"). A subject with no predicate ("heart size is stable") says nothing.

Cues have a kind (``neg``, ``unc``, ``relay`` or ``pseudo``) and a direction: ``pre`` cues scope
forward over the mentions after them, ``post`` cues backward over the mentions before them, ``bi``
both ways. ``pseudo`` cues are phrases that contain a negation word but negate nothing ("no change
in", "not significantly changed"); they only mask the shorter cues they overlap. A ``relay`` cue ("to
suggest") is a negation when a negation cue governs it ("no opacity to suggest pneumonia") and an
uncertainty cue otherwise. Where two cue matches overlap, the longer wins ("cannot be ruled out" is
uncertainty, not the negation "ruled out").

Deliberate choices (documented in ``report_labeler``):

* "density"/"densities" alone is not Lung Opacity (the phantom and real reports use it for lines,
  nipple shadows and atelectasis: "streaky densities may represent atelectasis"); "increased
  density", "airspace density" are. "haziness" is Lung Opacity except "perihilar/hilar haziness",
  which is read as Edema.
* "granuloma" is not a Lung Lesion (CheXpert's lesion list has no granuloma: calcified granulomas are
  benign and incidental); "pericardial effusion" is not a Pleural Effusion; "mass effect",
  "bone/lytic/skin lesion" are not Lung Lesions; "pleural line", "Kerley B lines", "midline" are not
  support lines (a line is a device only with a qualifier: central, PICC, arterial, "lines and tubes").
"""

from __future__ import annotations

_CPA = r"costophrenic\s+(?:angles?|sulc[iu]s|recess(?:es)?)"

MENTIONS: dict[str, list[str]] = {
    "Enlarged Cardiomediastinum": [
        r"\bwidened\s+(?:superior\s+)?mediastin(?:um|al\s+(?:contours?|silhouette))\b",
        r"\bmediastinal\s+widening\b",
        r"\bmediastinal\s+(?:enlargement|prominence)\b",
    ],
    "Cardiomegaly": [
        r"\bcardiomegaly\b",
        r"\bcardiac\s+enlargement\b",
    ],
    "Lung Opacity": [
        r"\bopaci(?:ty|ties|fication|fications|fied)\b",
        r"\binfiltrat(?:e|es|ion|ions|ive)\b",
        r"\bair[\s-]?space\s+(?:disease|process|densit(?:y|ies)|filling)\b",
        r"\bground[\s-]glass\b",
        r"\b(?<!perihilar )(?<!hilar )haziness\b",
        r"\bincreased\s+(?:density|densities|interstitial\s+markings?|lung\s+markings?)\b",
        r"\binterstitial\s+(?:markings?|pattern|prominence|abnormalit(?:y|ies)|thickening)\b",
        r"\breticula(?:r|tion)\b",
        r"\breticulonodular\b",
        r"\bparenchymal\s+(?:scarring|abnormalit(?:y|ies))\b",
    ],
    "Lung Lesion": [
        r"\bnodules?\b",
        r"\bnodular\s+(?:densit(?:y|ies)|opacit(?:y|ies)|lesions?|foc(?:us|i))\b",
        r"\bmass(?:es)?\b(?!\s+effect)",
        r"(?<!lytic )(?<!sclerotic )(?<!blastic )(?<!osseous )(?<!bone )(?<!bony )(?<!skin )(?<!cutaneous )"
        r"\blesions?\b",
        r"\btumou?rs?\b",
        r"\bneoplasms?\b",
        r"\bcarcinoma\b",
        r"\bcavitary\s+(?:lesion|mass|opacity)\b",
    ],
    "Edema": [
        r"(?<!soft tissue )(?<!subcutaneous )(?<!chest wall )(?<!extremity )\bedema\b",
        r"\bedematous\b",
        r"\b(?:vascular|venous|pulmonary|interstitial|hilar|perihilar)\s+congestion\b",
        r"\bvascular\s+(?:engorgement|redistribution|plethora)\b",
        r"\bcephali[sz]ation\b",
        r"\bkerley\b(?:\s+b)?(?:\s+lines?)?",
        r"\b(?:perihilar|hilar)\s+haziness\b",
        r"\bfluid\s+overload\b",
    ],
    "Consolidation": [
        r"\bconsolidat(?:ion|ions|ive|ed|ing)\b",
    ],
    "Pneumonia": [
        r"\b(?:broncho)?pneumonias?\b",
        r"\bpneumonic\b",
        r"\binfectious\s+process(?:es)?\b",
        r"\binfections?\b",
        r"\bpna\b",
    ],
    "Atelectasis": [
        r"\batelecta(?:sis|ses|tic)\b",
        r"(?<!vertebral )(?<!compression )(?<!body )\bcollapsed?\b",
    ],
    "Pneumothorax": [
        r"\bpneumothora(?:x|ces|xes)\b",
        r"\bhydropneumothora(?:x|ces|xes)\b",
        r"\bptx\b",
        r"\bpleural\s+air\b",
        r"\bair\s+in\s+the\s+pleural\s+space\b",
    ],
    "Pleural Effusion": [
        r"(?<!pericardial )(?<!joint )\beffusions?\b",
        r"\bpleural\s+fluid\b",
        r"\bhydro(?:pneumo)?thora(?:x|ces)\b",
        r"\bblunt(?:ing|ed)\s+(?:of\s+)?(?:the\s+|both\s+)?(?:(?:left|right|bilateral|posterior|lateral)\s+)*"
        + _CPA,
        _CPA + r"\s+blunting\b",
        r"\blayering\s+(?:pleural\s+)?fluid\b",
    ],
    "Pleural Other": [
        r"\bpleural\s+(?:thickening|plaques?|scarring|calcifications?|fibrosis)\b",
        r"\bpleuro-?parenchymal\s+(?:scarring|thickening|fibrosis)\b",
        r"\bthickened\s+pleura\b",
        r"\bthickening\s+of\s+the\s+pleura\b",
        r"\bapical\s+(?:pleural\s+)?caps?\b",
        r"\bfibrothorax\b",
    ],
    "Fracture": [
        r"\bfractures?\b",
        r"\bfractured\b",
        r"\bfx\b",
    ],
    "Support Devices": [
        r"\btubes?\b",
        r"\bett\b",
        r"\btrach(?:eostomy)?\b",
        r"\bcatheters?\b",
        r"\bpicc\b",
        r"\bport(?:-a-cath)?s?\b",
        r"\b(?:portacath|mediport|powerport)s?\b",
        r"\bpace(?:maker|r)s?\b",
        r"\b(?:a?icd|defibrillator)s?\b",
        r"\b(?:central|venous|arterial|picc|midline|dialysis|hemodialysis|swan[\s-]ganz|swan|ij|subclavian"
        r"|femoral|jugular|support|monitoring)\s+lines?\b",
        r"\blines?\s+(?:and|or|/)\s+tubes?\b",
        r"\b(?:sternotomy|sternal|surgical|epicardial|pacing|pacer)\s+wires?\b",
        r"\b(?:surgical\s+)?clips?\b",
        r"\bstents?\b",
        r"\bdevices?\b",
        r"\bleads?\b(?!\s+to\b)",
        r"\bdrains?\b",
        r"\b(?:valve\s+(?:replacement|prosthesis)|prosthetic\s+valve|mechanical\s+valve)\b",
        r"\bhardware\b",
        r"\b(?:intra-?aortic\s+)?balloon\s+pump\b",
        r"\b(?:iabp|lvad|impella)\b",
        r"\bcoils?\b",
        r"\bintubated\b",
        r"\bstimulator\b",
    ],
}

# (labels, pattern, value): the match states the value by itself.
FIXED: list[tuple[tuple[str, ...], str, int]] = [
    (("Lung Opacity", "Consolidation"),
     r"\blungs?\b:?(?:\s+(?:are|is|remain|appear|now|otherwise|again|essentially|grossly|well|expanded|and|"
     r"fully|hyperinflated|hyperexpanded|but|low|volumes?|bilaterally|both))*\s+clear\b", 0),
    (("Lung Opacity", "Consolidation"), r"\bclear\s+lungs\b", 0),
    (("Pleural Effusion",), r"\bsharp\s+" + _CPA, 0),
    (("Pleural Effusion",), r"\b" + _CPA + r"\s+(?:are|is|remain)\s+(?:\w+\s+)?sharp\b", 0),
]

# Attribute readings: (labels, subject pattern, {predicate kind: pattern}); kinds: neg / unc / pos.
# A predicate reads a subject when it is the nearest one in the clause, at most ATTRIBUTE_WINDOW
# characters away, with only ATTRIBUTE_GLUE words between them ("the heart is mildly enlarged",
# "enlargement of the cardiac silhouette", "heart size and mediastinal contours are within normal
# limits"); "cardiac silhouette obscured by increased opacity" is no reading.
_NORMAL = r"\b(?:normal|within\s+normal\s+limits|unremarkable)\b"
_BORDERLINE = (r"\b(?:borderline|top(?:-|\s+)(?:of\s+)?normal|upper\s+(?:limits?|range)\s+of\s+normal|"
               r"high(?:-|\s+)normal|at\s+the\s+upper\s+limits?)\b")
ATTRIBUTES: list[tuple[tuple[str, ...], str, dict[str, str]]] = [
    (("Cardiomegaly",),
     r"\b(?:heart|cardiac)\b(?:\s+(?:size|silhouette|shadow|contours?|diameter|dimensions?))?"
     r"(?!\s+(?:failure|device|pacemaker|monitor\w*|leads?|valve\w*|surgery|catheter\w*|apex|border|rate|"
     r"rhythm|transplant|sternotomy|wires?))",
     {"neg": _NORMAL, "unc": _BORDERLINE + r"|\b(?:prominent|prominence)\b",
      "pos": r"\b(?:enlarged|enlargement|increased|enlarging)\b"}),
    (("Enlarged Cardiomediastinum",),
     r"\b(?:cardio)?mediastin(?:um|al)\b(?:\s+(?:contours?|silhouettes?|width|shadow|structures))?"
     r"(?!\s+(?:lymph|nodes?|adenopathy|lymphadenopathy|shift|air|emphysema|drain|mass|clips?|wires?))",
     {"neg": _NORMAL, "unc": _BORDERLINE,
      "pos": r"\b(?:widened|widening|wide|enlarged|enlargement|prominent|prominence)\b"}),
    (("Edema",),
     r"\b(?:pulmonary\s+)?vascula(?:rity|ture)\b",
     {"neg": _NORMAL, "unc": r"\b(?:borderline|mildly\s+prominent)\b",
      "pos": r"\b(?:engorged|congested|cephali[sz]ed|indistinct|redistributed)\b"}),
]
ATTRIBUTE_WINDOW = 60  # characters between subject and predicate, at most
ATTRIBUTE_GLUE = frozenset("""
    is are was were appears appear remains remain seems seem looks look be been has have had become becomes
    again now still stably not no longer may might could likely probably possibly perhaps slightly mildly
    moderately markedly severely minimally mild moderate marked severe minimal somewhat at least in size
    grossly overall of the and also both silhouette silhouettes contour contours mediastinal cardiomediastinal
    cardiac heart hilar hila hilum mediastinum superior upper top limits limit within stable unchanged
    otherwise bilaterally a an its there pulmonary vascularity vasculature configuration , to
""".split())

# Cues: (kind, direction, pattern).  kind: neg | unc | relay | pseudo.  direction: pre | post | bi.
_EXCLUDED = r"(?:entirely\s+|completely\s+|totally\s+|definitely\s+)?(?:excluded|ruled\s+out)"
CUES: list[tuple[str, str, str]] = [
    # -- phrases that look negative but negate nothing (mask shorter cues they overlap)
    ("pseudo", "bi", r"\b(?:no|without)\s+(?:(?:significant|appreciable|substantial|definite|marked|major|"
                     r"apparent|real|relevant|significant\s+interval|appreciable\s+interval|interval)\s+)?"
                     r"(?:change|changes|increase|decrease|progression|worsening|improvement|difference)\b"),
    ("pseudo", "bi", r"\bnot\s+(?:\w+ly\s+)?(?:changed|increased|decreased|improved|worsened|only)\b"),
    ("pseudo", "bi", r"\bnot\s+(?:been\s+)?(?:well\s+)?(?:imaged|included)\b"),
    ("pseudo", "bi", r"\bno\s+other\b"),
    ("pseudo", "bi", r"\b(?:tip|end)\s+of\s+the\s+[^.;]{0,40}?\s+(?:is|are)\s+not\s+(?:well\s+|clearly\s+)?"
                     r"(?:seen|visualized|identified|imaged|included)\b"),
    # -- uncertainty
    ("unc", "post", r"\b(?:can\s*not|can't|could\s*not|couldn't)\s+be\s+"
                    r"(?:entirely\s+|completely\s+|totally\s+)?"
                    r"(?:excluded|ruled\s+out|assessed|evaluated)\b"),
    ("unc", "post", r"\b(?:(?:is|are|was|were|has|have)\s+)?not\s+(?:been\s+|be\s+)?" + _EXCLUDED + r"\b"),
    ("unc", "pre", r"\b(?:can\s*not|can't|could\s*not|couldn't|unable\s+to)\s+"
                   r"(?:entirely\s+|completely\s+|totally\s+|definitely\s+)?(?:exclude|rule\s+out)\b"),
    ("unc", "bi", r"\b(?:difficult|hard|not\s+possible)\s+to\s+(?:exclude|rule\s+out)\b"),
    ("unc", "bi", r"\b(?:is|are|was|were)\s+(?:also\s+|still\s+)?(?:possible|possibly|probably|suspected|"
                  r"questioned|considered|(?:most\s+|more\s+)?likely|a\s+possibility|probable)\b"),
    ("unc", "pre", r"\b(?:possible|possibly|probable|probably|likely|presumed|presumably|presumptive|"
                   r"suspected|questionable|query|perhaps|potential|potentially|favou?red|favou?rs?)\b"),
    # "to suggest" hedges, unless a negation governs it ("no opacity to suggest pneumonia")
    ("relay", "pre", r"\b(?:to|that\s+would|which\s+would)\s+(?:suggest|indicate)\b"),
    ("unc", "pre", r"\b(?:suspicious|suspicion|concerning|concern|worrisome|worry)(?:\s+(?:for|of))?\b"),
    ("unc", "pre", r"\b(?:suggestive\s+of|suggests?|suggesting|suggestion\s+of|question\s+of|"
                   r"differential\s+(?:diagnosis\s+)?"
                   r"(?:includes?|of|would\s+include|considerations?\s+include)?|"
                   r"(?:to\s+)?rule\s+out|r/o|(?:evaluate|evaluation|assess|assessment)\s+for|"
                   r"cannot\s+(?:be\s+)?(?:differentiated|distinguished)\s+from|not\s+definitely)\b"),
    ("unc", "bi", r"\b(?:may|might|could)(?:\s+(?:be|represent|reflect|indicate|relate|also|well|have|"
                  r"signify|correspond|include))?\b"),
    ("unc", "bi", r"\b(?:versus|vs\.?|equivocal|indeterminate|uncertain|unclear|borderline|unlikely|"
                  r"less\s+likely)\b"),
    ("unc", "bi", r"\?"),
    # -- negation ("no suspicious nodule": a hedge right after "no" is part of the negation)
    ("neg", "pre", r"\b(?:no|without)\s+(?:[a-z-]+\s+){0,2}?(?:suspicious|suspected|possible|probable|likely|"
                   r"questionable|concerning|worrisome|potential|definite|convincing)(?:\s+(?:for|of))?\b"),
    ("neg", "pre", r"\b(?:no|nothing|none|without|nor|absence\s+of|negative\s+for|free\s+of|clear\s+of|"
                   r"rather\s+than|resolution\s+of|removal\s+of)\b"),
    ("neg", "bi", r"\b(?:not|no\s+longer|resolved|removed|has\s+been\s+removed|have\s+been\s+removed)\b"),
    ("neg", "post", r"\b(?:absent|(?:has|have)\s+(?:since\s+)?resolved|(?:has|have)\s+been\s+ruled\s+out|"
                    r"(?:is|are)\s+ruled\s+out|(?:is|are)\s+negative)\b"),
]

# Scope limits.  Hard boundaries stop every cue; restarts ("... and a small", ", there is") begin a new
# statement; commas additionally stop the backward scope of post cues.
HARD_BOUNDARIES = [
    r";", r":", r"\bbut\b", r"\bhowever\b", r"\balthough\b", r"\bthough\b", r"\bwhereas\b", r"\bexcept\b",
    r"\bwhich\b", r"\bapart\s+from\b", r"\baside\s+from\b", r"\bother\s+than\b", r"\botherwise\b",
    r"\bwhile\b", r"\bwith\s+the\s+exception\s+of\b", r"\bin\s+addition\b", r"\badditionally\b",
]
_SEVERITY = (r"(?:small|moderate|large|mild|mildly|severe|minimal|trace|tiny|marked|markedly|extensive|"
             r"stable|unchanged|persistent|residual|increased|increasing|new|worsening|worsened|improv\w+|"
             r"decreas\w+|"
             r"layering|loculated|bilateral|left|right|\d)\b")
# ", small left effusion" after a negation restarts unless an "or"/"nor" later shows a negated list
# ("no consolidation, large effusion, or pneumothorax").
COMMA_RESTART = r",\s+(?:and\s+)?(?:(?:a|an)\s+)?" + _SEVERITY
LIST_END = r"\b(?:or|nor)\b"
RESTARTS = [
    r"\bthere\s+(?:is|are|has\s+been|have\s+been|was|were)\b",
    r"(?:,|\band\b|\bwith\b)\s+(?:there\s+(?:is|are)\b|(?:a|an|the)\b)",
    r"(?:\band\b|\bwith\b)\s+(?:(?:a|an|the)\s+)?" + _SEVERITY,
]
PRE_SCOPE_CHARS = 110  # forward scope of a pre cue, at most
POST_SCOPE_CHARS = 80  # backward scope of a post cue, at most
