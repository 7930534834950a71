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
* "granuloma" and "calcified nodule" are not Lung Lesions (CheXpert's lesion list has no granuloma and
  unmentions "calcified nodul": calcified granulomas are benign and incidental); "granulomatous
  infection" is not a Pneumonia; "pericardial effusion" is not a Pleural Effusion; "mass effect",
  "bone/lytic/skin lesion" are not Lung Lesions; "pleural line", "Kerley B lines", "midline" are not
  support lines (a line is a device only with a qualifier: central, PICC, arterial, "lines and tubes");
  surgical clips and sternotomy wires are not devices (CheXpert's device list has neither).
* ``HEDGED_MENTIONS`` are uncertain by themselves unless negated (CheXpert's congestion rules).
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
        r"(?<!pleuro-)\bparenchymal\s+(?:scarring|abnormalit(?:y|ies))\b",
        # CheXpert's "scar": parenchymal scars (pleural and pleuroparenchymal ones are Pleural Other)
        r"(?<!pleural )(?<!pleuroparenchymal )(?<!pleuro-parenchymal )(?<!parenchymal )"
        r"\bscar(?:s|ring|red)?\b",
        r"\b(?:peribronchial|bronchial\s+wall)\s+(?:thickening|cuffing)\b",
    ],
    "Lung Lesion": [
        r"(?<!calcified )(?<!calcified pulmonary )(?<!calcified lung )(?<!calcified granulomatous )"
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
        r"\b(?:congestive\s+)?(?:heart|cardiac)\s+failure\b",
        r"\bchf\b",
        r"\bkerley\b(?:\s+b)?(?:\s+lines?)?",
        r"\bfluid\s+overload\b",
    ],
    "Consolidation": [
        r"\bconsolidat(?:ion|ions|ive|ed|ing)\b",
    ],
    "Pneumonia": [
        r"\b(?:broncho)?pneumonias?\b",
        r"\bpneumonic\b",
        r"\binfectious\b",
        r"(?<!granulomatous )\binfections?\b",
        r"\bpneumonitis\b",
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
        r"\b(?:epicardial|pacing|pacer|temporary\s+pacing)\s+wires?\b",
        r"\bstents?\b",
        r"\bdevices?\b",
        r"\bleads?\b(?!\s+to\b)",
        r"\bdrains?\b",
        r"\b(?:valve\s+(?:replacements?|prosthes[ie]s|repair)|"
        r"(?:prosthetic|mechanical|bioprosthetic|artificial)\s+(?:(?:mitral|aortic|tricuspid|pulmonic)\s+)?"
        r"valves?|avr|mvr|tavr|tavi)\b",
        r"\b(?:annuloplasty\s+ring|watchman|loop\s+recorder|vp\s+shunt|ventriculoperitoneal\s+shunt)\b",
        r"\bhardware\b",
        r"\b(?:intra-?aortic\s+)?balloon\s+pump\b",
        r"\b(?:iabp|lvad|impella)\b",
        r"\bcoils?\b",
        r"\bintubated\b",
        r"\bstimulator\b",
    ],
}

# Mentions that are uncertain by themselves (CheXpert's post-negation uncertainty rules for "vascular
# congestion", "pulmonary congestion", "indistinctness", "vascular prominence"): -1 unless a negation
# applies ("no vascular congestion" -> 0); a hedge leaves them -1.
_VESSELS = r"(?:(?:pulmonary|hilar|central)\s+)?(?:vessels|vasculature|vascularity|vascular\s+markings?)"
HEDGED_MENTIONS: dict[str, list[str]] = {
    "Edema": [
        r"(?<!nasal )(?<!sinus )\bcongestion\b",
        r"\bvascular\s+(?:engorgement|redistribution|plethora|prominence|fullness|indistinctness)\b",
        r"\bindistinct(?:ness)?\b(?:\s+(?:of\s+)?(?:the\s+)?" + _VESSELS + r")?",
        r"\b(?:prominence|engorgement|distension|distention|redistribution|fullness)\s+of\s+(?:the\s+)?"
        + _VESSELS + r"\b",
        r"\b(?:engorged|prominent|distended|congested|redistributed)\s+" + _VESSELS + r"\b",
        r"\bcephali[sz]ation\b",
        r"\b(?:perihilar|hilar)\s+haziness\b",
    ],
}
# Edema and CHF: CheXpert reads a positive or uncertain "CHF" / "heart failure" as Cardiomegaly -1 too.
CHF = r"\b(?:(?:congestive\s+)?(?:heart|cardiac)\s+failure|chf)\b"

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
# "heart size is stable", "unchanged cardiomediastinal silhouette": uncertain, as in CheXpert
_STABLE = r"\b(?:stable|unchanged|similar|not\s+(?:significantly\s+)?changed)\b"
ATTRIBUTES: list[tuple[tuple[str, ...], str, dict[str, str]]] = [
    (("Cardiomegaly",),
     r"\b(?:heart|cardiac)\b(?:\s+(?:size|silhouette|shadow|contours?|diameter|dimensions?))?"
     r"(?!\s+(?:failure|device|pacemaker|monitor\w*|leads?|valve\w*|surgery|catheter\w*|apex|border|rate|"
     r"rhythm|transplant|sternotomy|wires?))",
     {"neg": _NORMAL, "unc": _BORDERLINE + r"|\b(?:prominent|prominence)\b|" + _STABLE,
      "pos": r"\b(?:enlarged|enlargement|increased|enlarging)\b"}),
    (("Enlarged Cardiomediastinum",),
     r"\b(?:cardio)?mediastin(?:um|al)\b(?:\s+(?:contours?|silhouettes?|width|shadow|structures))?"
     r"(?!\s+(?:lymph|nodes?|adenopathy|lymphadenopathy|shift|air|emphysema|drain|mass|clips?|wires?))",
     {"neg": _NORMAL, "unc": _BORDERLINE + "|" + _STABLE,
      "pos": r"\b(?:widened|widening|wide|enlarged|enlargement|prominent|prominence)\b"}),
    (("Edema",),
     r"\b(?:pulmonary\s+)?(?:vascula(?:rity|ture)|vascular\s+(?:markings?|pattern)|vessels)\b",
     {"neg": _NORMAL + r"|\bwithin\s+(?:the\s+)?limits\s+of\s+normal\b",
      "hedged": r"\b(?:borderline|prominent|engorged|congested|cephali[sz]ed|indistinct|redistributed|"
                r"distended|plethoric)\b"}),
]
ATTRIBUTE_WINDOW = 90  # characters between subject and predicate, at most
ATTRIBUTE_GLUE = frozenset("""
    is are was were appears appear remains remain seems seem looks look be been has have had become becomes
    again now still stably not no longer in appearance
    may might could likely probably possibly perhaps slightly mildly
    moderately markedly severely minimally mild moderate marked severe minimal somewhat at least in size
    grossly overall of the and also both silhouette silhouettes contour contours mediastinal cardiomediastinal
    cardiac heart hilar hila hilum mediastinum superior upper top limits limit within stable unchanged
    otherwise bilaterally a an its there pulmonary vascularity vasculature configuration , to
""".split())

# Cues: (kind, direction, pattern[, options]).
#   kind: neg | unc | relay | pseudo | weak.  direction: pre | post | bi | pred.
#   options: {"scope": chars} a shorter scope than PRE_/POST_SCOPE_CHARS; {"labels": (...)} the only
#   labels the cue applies to.
# ``pred`` is a hedge on a predicate ("the opacity may represent atelectasis", "X is likely Y"): it
# scopes forward, and backward only when no mention of another label follows it in its clause ("a small
# effusion may be present", "the nodule may represent a nipple shadow"), so the subject of "may
# represent <another finding>" stays positive, as in CheXpert. ``weak`` (an "or" in an
# affirmative clause: "atelectasis or consolidation") hedges the mentions right next to it when no
# other cue decides them, CheXpert's "XXX or YYY" rule.
_EXCLUDED = r"(?:entirely\s+|completely\s+|totally\s+|definitely\s+)?(?:excluded|ruled\s+out)"
_ADV = r"(?:(?:entirely|completely|totally|definitely|fully|confidently|reliably)\s+)?"
_HIST_LABELS = ("Pneumonia",)
CUES: list[tuple] = [
    # -- phrases that look negative or hedged but negate nothing (mask shorter cues they overlap)
    ("pseudo", "bi", r"\b(?:no|without)\s+(?:other\s+)?(?:(?:significant|appreciable|substantial|definite|"
                     r"marked|major|apparent|real|relevant|significant\s+interval|appreciable\s+interval|"
                     r"interval)\s+)?"
                     r"(?:change|changes|increase|decrease|progression|worsening|improvement|difference)\b"),
    ("pseudo", "bi", r"\bnot\s+(?:\w+ly\s+)?(?:changed|increased|decreased|improved|worsened|only)\b"),
    ("pseudo", "bi", r"\bnot\s+(?:been\s+)?(?:well\s+)?(?:imaged|included)\b"),
    ("pseudo", "bi", r"\b(?:tip|end)\s+of\s+the\s+[^.;]{0,40}?\s+(?:is|are)\s+not\s+(?:well\s+|clearly\s+)?"
                     r"(?:seen|visualized|identified|imaged|included)\b"),
    # "could be advanced 2 cm", "age indeterminate": no hedge on the tube or the fracture
    ("pseudo", "bi", r"\b(?:may|might|could|can|should)\s+(?:be\s+)?(?:advanced|withdrawn|retracted|"
                     r"pulled\s+back|"
                     r"repositioned|confirmed|further\s+evaluated|assessed|evaluated)\b"),
    ("pseudo", "bi", r"\b(?:(?:of\s+)?(?:indeterminate|uncertain|unknown|undetermined)\s+(?:age|chronicity)|"
                     r"age\s+(?:indeterminate|undetermined|unknown|uncertain))\b"),
    # -- uncertainty
    ("unc", "post", r"\b(?:can\s*not|can't|could\s*not|couldn't)\s+be\s+" + _ADV +
                    r"(?:excluded|ruled\s+out|assessed|evaluated)\b"),
    ("unc", "post", r"\b(?:(?:is|are|was|were|has|have)\s+)?not\s+(?:been\s+|be\s+)?" + _EXCLUDED + r"\b"),
    ("unc", "pre", r"\b(?:can\s*not|can't|could\s*not|couldn't|unable\s+to)\s+" + _ADV
     + r"(?:exclude|rule\s+out)\b"),
    ("unc", "bi", r"\b(?:difficult|hard|not\s+possible|impossible)\s+to\s+" + _ADV
     + r"(?:exclude|rule\s+out)\b"),
    # "no new X" is uncertain in CheXpert (pre-negation uncertainty): an old X may remain
    ("unc", "pre", r"\b(?:no|without)\s+(?:definite\s+|other\s+|significant\s+)?new\b"),
    ("unc", "pred", r"\b(?:is|are|was|were)\s+(?:also\s+|still\s+)?(?:possible|possibly|probably|suspected|"
                    r"questioned|considered|(?:most\s+|more\s+)?likely|a\s+possibility|probable)\b"),
    ("unc", "pre", r"\b(?:possible|possibly|probable|probably|likely|presumed|presumably|presumptive|"
                   r"suspected|questionable|query|perhaps|potential|potentially|favou?red|favou?rs?|"
                   r"question)\b"),
    # "to suggest" hedges, unless a negation governs it ("no opacity to suggest pneumonia")
    ("relay", "pre", r"\b(?:to|that\s+would|which\s+would)\s+(?:suggest|indicate)\b"),
    # a qualifier inside a negated list belongs to the negation ("no opacities or suspicious nodules",
    # "no effusion or definite pneumothorax"); outside one, a hedge hedges and "definite" says nothing
    ("relay", "pre", r"\b(?:or|nor)\s+(?:other\s+)?(?:suspicious|suspected|possible|probable|likely|"
                     r"questionable|concerning|worrisome|potential)(?:\s+(?:for|of))?\b"),
    ("relay", "pre", r"\b(?:or|nor)\s+(?:other\s+)?(?:definite|convincing|obvious|discrete|"
                     r"significant|appreciable)\b", {"otherwise": "pseudo"}),
    ("unc", "pre", r"\b(?:suspicious|suspicion|concerning|concern|worrisome|worry)(?:\s+(?:for|of))?\b"),
    ("unc", "pre", r"\b(?:suggestive\s+of|suggests?|suggesting|suggestion\s+of|question\s+of|"
                   r"differential\s+(?:diagnosis\s+|considerations?\s+)?"
                   r"(?:includes?|of|would\s+include|considerations?\s+include)?|considerations\s+include|"
                   r"(?:to\s+)?rule\s+out|r/o|(?:evaluate|evaluation|assess|assessment)\s+for|"
                   r"cannot\s+(?:be\s+)?(?:differentiated|distinguished)\s+from|not\s+definitely)\b"),
    # "pneumonia is in the differential"
    ("unc", "post", r"\b(?:(?:is|are)\s+)?(?:also\s+)?(?:included\s+)?(?:in|within)\s+the\s+differential"
                    r"(?:\s+diagnosis)?\b"),
    # "correlate clinically for pneumonia", "clinical correlation for infection"
    ("unc", "pre", r"\b(?:correlate|correlation)\s+(?:clinically\s+)?(?:is\s+(?:recommended|advised)\s+)?"
                   r"(?:for|with|to\s+(?:exclude|evaluate\s+for|assess\s+for))\b"),
    ("unc", "pre", r"\bclinical(?:ly)?\s+correlat\w*\s+(?:is\s+(?:recommended|advised)\s+)?"
                   r"(?:for|with|to\s+(?:exclude|evaluate\s+for|assess\s+for))\b"),
    # "X may represent Y" hedges Y, and X too unless Y is another finding: "the opacity may represent
    # atelectasis" -> opacity 1, atelectasis -1; "a nodular density may represent a nipple shadow" -> -1
    ("unc", "pred", r"\b(?:may|might|could|can|would|possibly|probably)\s+"
                    r"(?:also\s+|well\s+|partly\s+|in\s+part\s+)?"
                   r"(?:represent|reflect|indicate|relate|signify|correspond|include|be\s+(?:due|related|"
                   r"secondary|compatible|consistent|attributable|from|caused))\w*(?:\s+(?:to|with|by))?\b"),
    ("unc", "pred", r"\b(?:may|might|could)(?:\s+(?:be|also|well|have|appear))?\b"),
    ("unc", "bi", r"\b(?:versus|vs\.?|equivocal|indeterminate|uncertain|unclear|borderline|unlikely|"
                  r"less\s+likely)\b"),
    ("unc", "bi", r"\?"),
    # CheXpert: "XXX is not well visualized / not clearly seen / poorly evaluated" is uncertain
    ("unc", "bi", r"\b(?:not\s+(?:well|clearly|definitely|confidently)|poorly|incompletely)\s+"
                  r"(?:seen|visualized|"
                  r"visualised|evaluated|assessed|appreciated|demonstrated|identified)\b"),
    # an affirmative "X or Y" (CheXpert's conj:or rule) -- only when nothing else decides
    ("weak", "bi", r"\bor\b", {"scope": 30}),
    # -- negation ("no suspicious nodule": a hedge right after "no" is part of the negation)
    ("neg", "pre", r"\b(?:no|without)\s+(?:(?!(?:or|and|nor)\b)[a-z-]+\s+){0,2}?"
                   r"(?:suspicious|suspected|possible|"
                   r"probable|likely|questionable|concerning|worrisome|potential|definite|convincing)"
                   r"(?:\s+(?:for|of))?\b"),
    ("neg", "pre", r"\b(?:no|nothing|none|neither|without|nor|absence\s+of|negative\s+for|free\s+of|"
                   r"clear\s+of|"
                   r"rather\s+than|resolution\s+of|removal\s+of|clearing\s+of|disappearance\s+of)\b"),
    ("neg", "bi", r"\b(?:not|no\s+longer|resolved|removed|has\s+been\s+removed|have\s+been\s+removed|"
                  r"cleared)\b"),
    ("neg", "post", r"\b(?:absent|(?:has|have)\s+(?:since\s+)?(?:resolved|cleared)|"
                    r"(?:has|have)\s+been\s+ruled\s+out|"
                    r"(?:is|are)\s+ruled\s+out|(?:is|are)\s+negative)\b"),
    # "the vasculature is within limits of normal", "pulmonary vascular congestion: unremarkable"
    ("neg", "post", r"\b(?:(?:is|are|appears?|remains?)\s+(?:otherwise\s+|now\s+|again\s+)?)?"
                    r"(?:within\s+(?:the\s+)?"
                    r"(?:normal\s+limits|limits\s+of\s+normal)|unremarkable)\b", {"scope": 60}),
    # "chest tube removal"
    ("neg", "post", r"\bremoval\b", {"scope": 12}),
    # history: CheXpert's "history of XXX" is a negation; "prior/previous pneumonia", "sequelae of prior
    # infection", "treated pneumonia" are past infections, not this film's
    ("neg", "pre", r"\b(?:(?:known\s+|remote\s+|prior\s+|past\s+)?(?:history|hx)\s+of|h/o|sequela[e]?\s+of|"
                   r"(?:status\s+post|s/p)\s+(?:treatment|therapy)\s+for|treated\s+for)\b", {"scope": 60}),
    ("neg", "pre", r"\b(?:prior|previous|remote|old|past|healed|treated)\b",
     {"scope": 28, "labels": _HIST_LABELS}),
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
    r"(?:\band\b|(?<!compatible )(?<!consistent )\bwith\b)\s+(?:(?:a|an|the)\s+)?" + _SEVERITY,
]
PRE_SCOPE_CHARS = 110  # forward scope of a pre cue, at most
POST_SCOPE_CHARS = 80  # backward scope of a post cue, at most
