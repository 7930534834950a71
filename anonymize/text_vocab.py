"""Word lists for report PHI detection: name lists (package data) and the words that are never names.

The given/family name lists (``names/given.txt``, ``names/family.txt``) are short lists of common
US names, written for this project; names that are also clinical or everyday words a report may
capitalise (May, Mark, Grace, Small, Wall, Foley, Walker, ...) are left out of them on purpose.
Everything here is lower case; callers compare ``token.lower()``.

``CLINICAL`` and ``EPONYMS`` protect clinical text from the context-free name rules: the 14
CheXpert findings and their phrasings, laterality, anatomy, devices, report section words and the
eponyms radiologists use as ordinary words (Kerley B lines, Swan-Ganz, Foley, Jackson-Pratt).
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files


def _words(text: str) -> frozenset[str]:
    return frozenset(text.lower().split())


@lru_cache(maxsize=None)
def name_list(which: str) -> frozenset[str]:
    """``"given"`` or ``"family"``: the shipped list, lower case, comment lines skipped."""
    if which not in ("given", "family"):
        raise ValueError(f"name list {which!r}: expected 'given' or 'family'")
    text = files("medmint.anonymize").joinpath("names", f"{which}.txt").read_text(encoding="utf-8")
    lines = (line.strip() for line in text.splitlines())
    return frozenset(line.lower() for line in lines if line and not line.startswith("#"))


@lru_cache(maxsize=1)
def listed_names() -> frozenset[str]:
    """Given and family names together."""
    return name_list("given") | name_list("family")


FUNCTION_WORDS = _words("""
    a an the and or nor but of in on at to for with without by from into onto over under about above below
    after before during since until via per as than then there here this that these those it its is are
    was were be been being am has have had do does did not no yes all any both each either neither few
    many more most much other some such only own same so too very can could may might must shall should
    will would he she they we i you him her them us me his hers their theirs our ours my your who whom
    whose which what when where why how please thank thanks also again today tonight yesterday tomorrow
    now later morning evening afternoon night noon midnight am pm hours hour minutes minute seconds call
    called page paged mr mrs ms dr doctor miss prof sir madam
""")

CREDENTIALS = _words("md m.d. do d.o. phd ph.d. rn np pa pa-c mbbs facr frcr frcp mph dds pharmd crna rt rrt "
                     "jr sr ii iii iv")

ROLE_WORDS = _words("""
    nurse practitioner physician assistant resident fellow attending intern hospitalist intensivist
    radiologist technologist tech team service covering primary care provider staff surgeon house officer
    consult consultant on-call oncall charge
""")

MONTH_WORDS = _words("""
    january february march april may june july august september october november december jan feb mar apr
    jun jul aug sep sept oct nov dec
""")

DAY_WORDS = _words("monday tuesday wednesday thursday friday saturday sunday "
                   "mon tue tues wed thu thur thurs fri sat sun")

SECTION_WORDS = _words("""
    final report examination exam indication history technique comparison comparisons findings impression
    impressions conclusion conclusions recommendation recommendations notification addendum clinical
    reason procedure study studies wet read preliminary prelim signed attending radiologist dictated
    transcribed reviewed verified electronically page patient name date time accession mrn dob sex age
    unit room bed medical record number referring ordering physician provider images questions reading
""")

CLINICAL = _words("""
    no finding findings enlarged cardiomediastinum cardiomegaly lung lungs opacity opacities opacification
    lesion lesions edema consolidation consolidative pneumonia atelectasis atelectatic pneumothorax
    pneumothoraces pleural effusion effusions other fracture fractures support devices device nodule
    nodules nodular mass masses infiltrate infiltrates granuloma granulomas calcification calcified
    emphysema emphysematous fibrosis scarring scar thickening congestion vascular vasculature
    hyperinflation hyperinflated collapse air airspace bronchograms bronchiectasis cavitation cavity cyst
    cysts bleb bullae bulla hernia hiatal free subdiaphragmatic subcutaneous emphysema pneumomediastinum
    pneumoperitoneum widening widened silhouette contour contours blunting meniscus loculated loculation
    hydropneumothorax left right bilateral bilaterally unilateral both midline central peripheral upper
    lower middle mid apical basal basilar bibasilar retrocardiac perihilar hilar parahilar anterior
    posterior lateral medial superior inferior proximal distal frontal ipsilateral contralateral dependent
    chest thorax thoracic heart cardiac mediastinum mediastinal hilum hila hilus lobe lobes lobar segment
    segmental subsegmental lingula lingular apex apices base bases costophrenic cardiophrenic angle angles
    hemidiaphragm hemidiaphragms diaphragm diaphragmatic hemithorax trachea tracheal carina bronchus
    bronchi bronchial aorta aortic arch knob ventricle ventricular atrium atrial pulmonary artery arteries
    vein veins vena cava svc ivc azygos rib ribs clavicle clavicles scapula scapulae sternum sternal spine
    spinal vertebra vertebrae vertebral thoracolumbar cervical humerus humeral shoulder shoulders
    glenohumeral acromioclavicular soft tissue tissues bone bones osseous bony skeletal abdomen abdominal
    stomach bowel colon liver spleen kidney breast axilla axillary neck fissure fissures pleura parenchyma
    parenchymal interstitial interstitium alveolar septal airway airways esophagus esophageal thyroid
    gastric picc catheter catheters tube tubes line lines lead leads wire wires pacemaker pacer
    defibrillator icd aicd port portacath mediport sheath drain drains chest-tube endotracheal
    tracheostomy trach enteric nasogastric orogastric feeding dobhoff og ng ett ij cvc cvl stent stents
    valve valves prosthesis prosthetic sternotomy clip clips coil coils filter pump balloon iabp impella
    lvad ecmo cannula staples sutures hardware plate screws fixation arthroplasty electrode electrodes
    monitoring leads tip mild mildly moderate moderately severe severely marked markedly small large tiny
    trace minimal minimally borderline stable unchanged improved improving worsened worsening increased
    increasing decreased decreasing new old chronic acute subacute possible possibly probable probably
    likely unlikely questionable suspected suspicious concerning compatible consistent suggestive cannot
    excluded excluded evidence normal abnormal unremarkable intact clear expected standard appropriate
    satisfactory interval persistent persistently resolved resolving redemonstrated again visualized seen
    noted present there is are without within limits size sized heart-size configuration position
    positioned terminates terminating projects projecting overlying overlies extending extends courses
    coursing view views portable upright supine semi-upright semi erect ap pa lat radiograph radiographs
    film films image images imaging study exam ct mri cxr x-ray xray ultrasound us fluoroscopy comparison
    prior previous recommend recommended followup follow-up correlation clinical clinically icu micu sicu
    ccu ed er or pacu ward floor unit emergency department radiology medicine surgery cardiology
    pulmonology oncology infectious disease hospice rehab rehabilitation nursing home outside osh status
    post s/p history hx indication reason eval evaluate evaluation assess assessment rule out shortness
    breath cough fever hypoxia dyspnea pain weakness fall sepsis trauma degenerative changes change
    spondylosis osteopenia kyphosis scoliosis deformity healed healing displaced nondisplaced physical
    occupational respiratory speech therapy therapist social work worker interventional neuroradiology
    vascular thoracic cardiothoracic transplant critical anesthesia anesthesiology neurology nephrology
    urology gastroenterology gi hematology pathology psychiatry pediatrics obstetrics gynecology
    orthopedics orthopedic ent dermatology endocrinology rheumatology pharmacy lab laboratory admitting
    triage
""")

EPONYMS = _words("""
    kerley swan ganz swan-ganz foley hampton westermark fleischner felson chilaiditi pancoast bochdalek
    morgagni luschka valsalva trendelenburg seldinger hounsfield doppler bucky kohn lambert ghon ranke
    virchow mallory weiss mallory-weiss boerhaave zenker schatzki hill-sachs sachs colles jones-fracture
    tietze erb klumpke golden macklin kartagener marfan mounier-kuhn wegener hodgkin kaposi ewing paget
    horner cushing barrett graves parkinson alzheimer crohn poland jackson-pratt pratt hickman groshong
    dobhoff salem sengstaken blakemore sengstaken-blakemore minnesota levin tenckhoff quinton permacath
    penrose blake pleurx heimlich greenfield angio-seal watchman medtronic medfusion walker foley baker
    bennett murphy wells carina fallot eisenmenger ebstein kussmaul cheyne stokes cheyne-stokes
    adams-stokes mayo cleveland
""")

# A name-list word followed by one of these is a clinical eponym ("Jones fracture", "Wilson disease").
EPONYM_NOUNS = _words("""
    fracture fractures sign signs line lines catheter catheters tube tubes drain drains filter filters
    cyst cysts syndrome disease hump tumor tumour sump valve valves unit units maneuver manoeuvre position
    technique classification criteria score node nodes pouch space angle triangle ligament hernia
    diverticulum lesion lesions sarcoma lymphoma clip clips stent stents device devices pump balloon blade
    needle port ports procedure operation repair shunt tract view views splint brace collar frame tongs
    pin pins test grade scale index ratio law effect phenomenon artifact method approach incision flap
    loop reflex stage staging type patch traction clamp graft
""")

# Role words after which a name follows without a title ("nurse practitioner Tamsin Achterberg",
# "daughter, Mireille Fontaine", "The patient, Esperanza Villanueva,"). Multi-word roles are written
# with spaces; matching is case-insensitive. Edit freely: every entry is a cue for the next words.
NAME_ROLES = tuple(sorted({r.strip() for r in """
    nurse|nurse practitioner|np|pa|pa-c|physician assistant|rn|lpn|cna|resident|fellow|intern|attending|
    attending physician|attending radiologist|hospitalist|intensivist|surgeon|physician|radiologist|
    technologist|tech|radiographer|sonographer|therapist|respiratory therapist|rt|pharmacist|midwife|
    case manager|social worker|chaplain|interpreter|transporter|provider|ordering provider|referring provider|
    covering provider|clinician|pcp|oncologist|cardiologist|pulmonologist|intensivist|anesthesiologist|
    colleague|moonlighter|night float|charge nurse|dr|doctor|
    patient|pt|daughter|son|wife|husband|spouse|partner|mother|father|mom|dad|sister|brother|niece|nephew|
    granddaughter|grandson|grandmother|grandfather|aunt|uncle|cousin|friend|neighbor|neighbour|roommate|
    caregiver|guardian|proxy|health care proxy|hcp|girlfriend|boyfriend|fiance|fiancee|stepson|stepdaughter|
    son-in-law|daughter-in-law|landlord|employer|coworker
""".split("|") if r.strip()}, key=lambda r: (-len(r), r)))

# Verbs and phrases of communication after which a name follows ("relayed to Quintanilla", "paged
# Abernathy", "acknowledged by Wojciechowski"); case-insensitive, regular-expression fragments.
NAME_CUES = tuple(line.strip() for line in r"""
    discussed(?:\s+(?:this|these\s+findings|the\s+findings|the\s+results|results|the\s+case))?\s+with|d/w|per
    (?:called|notified|paged|informed|told|telephoned|phoned|texted|messaged|e-?mailed|alerted|contacted)(?:\s+(?:to|with))?
    (?:reviewed|confirmed|spoke|spoken|talked|met|consulted|conferred)\s+with
    (?:communicated|conveyed|relayed|reported|given|provided|handed\s+off|signed\s+out|texted|sent|faxed|paged)\s+to
    (?:left\s+(?:a\s+)?(?:message|voicemail|note)|message\s+left)\s+(?:for|with)
    (?:read|seen|reviewed|interpreted|performed|dictated|signed|approved|verified|transcribed|examined|evaluated|obtained|acquired|requested|ordered|finalized|acknowledged|accompanied|brought(?:\s+in)?|referred|received|read\s+back|confirmed|witnessed)\s+by
    cc
""".strip().splitlines())

# Lower-case words that never start a name after a lower-case title ("dr notified", "doctor was")
# or a cue ("discussed with radiology").
COMMON_WORDS = frozenset("""
    notified aware informed called paged agreed agrees agree said says stated states reports reported
    will would was were is are has had have who which that at on in by of to for via regarding about
    re this these the findings results case team service aware office via phone telephone person bedside
    secure chat page email text message voicemail read wet prelim preliminary final and or but from with
    radiology team covering ordering referring primary on-call oncall night day overnight evening morning
    group staff nurse nursing family patient pt prior outside regarding concerning
""".split())

# Capitalised words that start no name in reports (brands, services, drugs, document words): the
# capitalised-pair rule and the cue rules skip them, as they skip ``CLINICAL`` and ``EPONYMS``.
NOT_NAMES = _words("""
    structures structure identification position portable rotated comment comments note notes history
    report reports result results view results series image images scan scans protocol guidelines
    guideline criteria society radiology imaging services service team unit department division clinic
    medical surgical intensive care emergency cardiac thoracic surgery surgical oncology pulmonary
    micra heartmate heartware sapien corevalve mitraclip amplatzer watchman impella pleurx aspira corpak
    cortrak shiley bivona portex passy muir passy-muir ommaya denver codman medtronic boston scientific
    abbott biotronik jude cook bard arrow covidien kendall cordis angio-seal angioseal quinton
    permcath trialysis mahurkar vascath groshong powerport port-a-cath bair hugger omnipaque isovue
    visipaque eliquis coumadin xarelto zosyn keppra bactrim lovenox humira keytruda lasix vanc vancomycin
    cefepime heparin insulin lung-rads bi-rads li-rads ti-rads pi-rads acr aapm lung rads covid covid-19
    sars influenza legionella klebsiella nocardia candida pneumocystis aspergillus staphylococcus
    streptococcus pseudomonas mycobacterium haemophilus moraxella escherichia listeria
    hodgkin non-hodgkin ivor blalock taussig bentall fontan ross whipple nissen glenn norwood
    rastelli mustard senning jatene konno ravitch nuss clagett eloesser
    birt hogg dube erdheim churg strauss sjogren lofgren lemierre dressler caplan swyer
    scimitar fallot ebstein ghon naclerio segond chance hangman jefferson monteggia galeazzi maisonneuve
    bankart aschoff reid felson luftsichel golden westermark chilaiditi kartagener marfan poland
    takotsubo goodpasture ehlers danlos klinefelter noonan digeorge
    addendum impression findings technique indication comparison examination exam
    american british european national international university state federal county city
    english spanish portuguese french german italian chinese mandarin cantonese russian arabic haitian
    creole vietnamese korean japanese hindi polish greek somali amharic
    monday tuesday wednesday thursday friday saturday sunday christmas thanksgiving easter
    north south east west northern southern eastern western new old
    oxygen ventilator bipap cpap nasal cannula mask face high-flow non-rebreather
    ct mri pet spect echo ekg ecg eeg
""")

# Countries, continents and US states: larger than a state, so no PHI (and common in travel and
# exposure history: "recent travel to Guatemala").
REGIONS = _words("""
    africa asia europe america americas australia oceania antarctica caribbean
    afghanistan albania algeria angola argentina armenia austria bangladesh belarus belgium bolivia bosnia
    brazil bulgaria cambodia cameroon canada chile china colombia congo croatia cuba cyprus czechia
    denmark dominican ecuador egypt eritrea ethiopia finland france georgia germany ghana greece
    guatemala guinea haiti honduras hungary iceland india indonesia iran iraq ireland israel italy jamaica
    japan jordan kazakhstan kenya korea kosovo laos lebanon liberia libya lithuania malaysia mali mexico
    moldova mongolia morocco mozambique myanmar nepal netherlands nicaragua niger nigeria norway pakistan
    panama paraguay peru philippines poland portugal romania russia rwanda salvador senegal serbia
    sierra leone singapore slovakia somalia spain sudan sweden switzerland syria taiwan tanzania thailand
    tunisia turkey uganda ukraine uruguay uzbekistan venezuela vietnam yemen zambia zimbabwe
    england scotland wales britain uk usa
    alabama alaska arizona arkansas california colorado connecticut delaware florida hawaii idaho illinois
    indiana iowa kansas kentucky louisiana maine maryland massachusetts michigan minnesota mississippi
    missouri montana nebraska nevada hampshire jersey mexico york carolina dakota ohio oklahoma oregon
    pennsylvania rhode island tennessee texas utah vermont virginia washington wisconsin wyoming
    puerto rico
""")

# Words of institution and street names: never a person's name on their own ("Jackson Memorial",
# "Wilson Street").
PLACE_WORDS = _words("""
    hospital hospitals medical center centre clinic clinics health healthcare institute university
    memorial general regional community infirmary system college school street avenue road boulevard lane
    drive court way place parkway highway terrace circle square plaza trail row pike turnpike alley
    crescent st ave rd blvd ln ct pl
""")

US_STATES = frozenset(("AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV "
                       "NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR").split())

# Leading words that make "X Hospital" a generic phrase, not a hospital's name ("Outside Hospital").
HOSPITAL_STOP = _words("outside the a an this our same another other local referring nearby osh any")

NEVER_NAMES = (FUNCTION_WORDS | CREDENTIALS | ROLE_WORDS | MONTH_WORDS | DAY_WORDS | SECTION_WORDS | CLINICAL
               | EPONYMS | PLACE_WORDS)
# What the cue and capitalised-pair rules never take for a name word.
NOT_A_NAME_WORD = NEVER_NAMES | NOT_NAMES | REGIONS | COMMON_WORDS


__all__ = ["CLINICAL", "COMMON_WORDS", "CREDENTIALS", "DAY_WORDS", "EPONYMS", "EPONYM_NOUNS", "FUNCTION_WORDS",
           "HOSPITAL_STOP", "MONTH_WORDS", "NAME_CUES", "NAME_ROLES", "NEVER_NAMES", "NOT_A_NAME_WORD", "NOT_NAMES",
           "PLACE_WORDS", "REGIONS", "ROLE_WORDS", "SECTION_WORDS", "US_STATES", "listed_names", "name_list"]
