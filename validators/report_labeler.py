"""Rule-based CheXpert-style report labeler: mentions, negation and uncertainty, sentence by sentence.

    label_report(text)            -> {label: 1 | 0 | -1 | None} over the 14 CHEXPERT_LABELS
    label_reports(texts)          -> [label_report(t) for t in texts]
    ReportLabeler(...).explain(t) -> every mention found, with its sentence, value and deciding cue

Pure Python + ``re``; the phrase tables live in ``labeler_vocab.py``. The steps, after CheXpert /
NegBio but with regular expressions and clause scopes instead of a dependency parse:

1. **Sections.** Only FINDINGS and IMPRESSION (also CONCLUSION, OPINION, "FINDINGS/IMPRESSION") are
   labeled when such a heading (``NAME:``, any case, at a line start or after a space) is present, as
   CheXpert labels only the report's findings/impression: INDICATION ("evaluate for pneumonia"),
   HISTORY, COMPARISON, TECHNIQUE, NOTIFICATION and sign-off lines ("Dictated by:") say nothing about
   this film. Without those headings, the known non-finding sections are dropped and the rest is
   labeled (such a section ends at a blank line or at a line end after a full stop, so "COMPARISON:
   None.\nThere is a small effusion." keeps the effusion); a text without any heading is labeled whole.
2. **Sentences.** Split at ``.``/``!`` (and ``?`` right after a word) followed by white space, at blank
   lines and at line starts of numbered or bulleted items ("1." "2)" "-"), never inside decimals
   ("1.2 cm"), never after titles and similar abbreviations ("Dr.", "vs.", "approx.", "e.g."), and
   after units ("cm.", "mm.") only when the next word is capitalised. Item numbers are stripped; line
   wraps inside a sentence are joined. Everything is then lower-cased.
3. **Mentions** per label from the phrase table (synonyms), fixed statements ("the lungs are clear" ->
   Lung Opacity 0 and Consolidation 0; "sharp costophrenic angles" -> Pleural Effusion 0) and attribute
   readings ("heart size is normal" / "normal heart size" / "the cardiac silhouette is normal" ->
   Cardiomegaly 0; "heart size is borderline" / "top-normal" -> -1; "heart size is stable", "unchanged
   mediastinal contours" -> -1, CheXpert's stable-silhouette rule; "the heart is mildly enlarged",
   "enlargement of the cardiac silhouette" -> 1 unless a cue says otherwise). Hedged mentions are -1 by
   themselves unless negated: CheXpert's "vascular congestion", "pulmonary congestion", "vascular
   prominence", "indistinctness" (and engorgement, cephalization, perihilar haziness) are uncertain Edema.
   A positive or uncertain "CHF" / "heart failure" is Edema and also Cardiomegaly -1 (CheXpert's
   exception). Unmentions: "calcified nodule" (a granuloma), "granulomatous infection".
4. **Cues and scopes.** Negation cues ("no", "without", "no evidence of", "negative for", "free of",
   "clear of", "absence of", "rather than", "resolution of", "resolved", "removed", "not", "no longer",
   "absent") and uncertainty cues ("possible", "possibly", "probable", "likely", "suspected",
   "questionable", "suspicious for", "concerning for", "suggestive of", "may"/"might"/"could" (+
   be/represent/reflect), "versus"/"vs", "cannot be excluded", "cannot exclude", "not excluded", "not
   ruled out", "difficult to exclude", "differential", "equivocal", "indeterminate", "borderline",
   "unlikely", "?", "in the differential", "correlate clinically for", "question", "not well seen", "no
   new" -- CheXpert's pre-negation uncertainty) have a direction: forward ("no effusion", "possible
   effusion"), backward ("effusion is not seen", "effusion has resolved", "effusion cannot be excluded")
   or both ("versus"). Phrases that merely contain a negation word negate nothing ("no change in the small
   left effusion" stays positive; "not significantly changed"); overlapping cue matches resolve
   longest-first, so "cannot be ruled out" is uncertainty, never the negation "ruled out" (no double
   negations); a hedge right after "no" belongs to the negation ("no suspicious nodule", "no definite
   pneumothorax" -> 0), and so does a qualifier after "or"/"nor" in a negated list ("no pneumothorax or
   definite pleural effusion", "no opacities or suspicious nodules" -> 0); "to suggest" negates when
   governed by a negation ("no opacity to suggest pneumonia", "nothing to suggest pneumonia" -> 0) and
   hedges otherwise. A scope ends at a clause boundary (";", ":", "but", "however", "although", "which",
   "except", "other than", "otherwise" ...), at a restart of a new statement ("... and there is", "...,
   the heart", "... and a small effusion", "... with moderate ...", and ", small left effusion" unless a
   later "or"/"nor" shows a negated list as in "no consolidation, large effusion, or pneumothorax"), after
   110 characters forward / 80 backward, and a backward scope also at a comma. So "No pleural effusion or
   pneumothorax" and "no effusion, pneumothorax, or consolidation" negate every item; "without evidence of
   pneumothorax but small effusion" negates only the pneumothorax; "opacity in the lingula, which may
   represent pneumonia" hedges only the pneumonia. A mention takes the **nearest** applicable cue
   (negation on a tie): uncertain if it is an uncertainty cue, negative if a negation cue, positive if
   none ("possible small effusion, no pneumothorax" -> -1 and 0). "No new consolidation" is uncertain
   (CheXpert's pre-negation uncertainty: an old one may remain). Some cues carry a shorter scope or apply
   to some labels only: "history of" / "sequelae of" negate (CheXpert's "history of" rule),
   "prior"/"previous"/"old" negate a pneumonia right after them ("scarring from prior pneumonia"); "within
   limits of normal", "unremarkable" negate backward; "removal" right after a device negates it. A
   ``pred`` hedge ("may represent", "could be", "is likely") hedges what follows it, and what precedes
   only when no mention of another label follows ("the opacity may represent atelectasis" -> Lung Opacity
   1, Atelectasis -1; "a nodular density may represent a nipple shadow" -> -1). An affirmative "or" hedges
   the mentions right beside it when no other cue decides them (CheXpert's "X or Y": "atelectasis or
   consolidation" -> -1 and -1).
5. **Aggregation** over all mentions of a label, as CheXpert does: positive (1) beats uncertain (-1)
   beats negative (0); never mentioned -> None. No implications between labels (a consolidation or
   pneumonia does not make a Lung Opacity unless an opacity is written).
6. **No Finding** (``no_finding="chexpert"``, the default, CheXpert's rule): 1 when no label other
   than Support Devices is positive or uncertain, else None (never 0). Fracture counts as a finding,
   Support Devices does not; "No acute cardiopulmonary process" is not needed (an empty or all-negative
   report gets No Finding = 1 too). ``no_finding="positive_only"`` is the convention of this project's
   phantom labels (``generators/phantom/prevalence.finalize_no_finding``, also applied to requested
   findings by ``sample_case(findings=...)``): 1 when no other label, Support Devices included, is
   positive (uncertain ones do not count), else None.

Vocabulary choices (see ``labeler_vocab``): "the lungs are clear" is read as Lung Opacity 0 and
Consolidation 0 (a choice: it is what radiologists mean by it, and the phantom writes it so);
"density" alone, "granuloma" and "pericardial effusion" are not mentions; "likely" is uncertainty,
as in CheXpert; surgical clips and sternotomy wires are not Support Devices (CheXpert's device list has
neither). Checked on hand-written real-report sentences: ``tests/validators/data/labeler_sentences*.tsv``
(``benchmarks/labeler.py`` prints per-label precision / recall / F1).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from medmint.records import CHEXPERT_LABELS
from medmint.validators import labeler_vocab as vocab

__all__ = ["Mention", "ReportLabeler", "label_report", "label_reports", "report_sections", "split_sentences"]

NO_FINDING = "No Finding"
_MAX_CUE_CHARS = 80  # longest cue match considered when looking for cues before a mention
SUPPORT_DEVICES = "Support Devices"

# ----------------------------------------------------------------------------------------------
# Sections
# ----------------------------------------------------------------------------------------------

KEPT_SECTIONS = ("findings and impression", "findings/impression", "findings", "impressions", "impression",
                 "conclusions", "conclusion", "opinion")
OTHER_SECTIONS = (
    "examination", "exam", "indications", "indication", "clinical history", "clinical information",
    "clinical indication", "history", "reason for examination", "reason for exam", "reason for study",
    "technique", "comparisons", "comparison", "procedure", "notification", "recommendations",
    "recommendation", "addendum", "wet read", "dictated by", "reported by", "electronically signed by",
    "signed by", "attending", "reference exam",
)
_HEADING_NAMES = sorted(KEPT_SECTIONS + OTHER_SECTIONS, key=len, reverse=True)
_HEADING = re.compile(
    r"(?:^|(?<=[\s.]))(?P<name>" + "|".join(re.escape(h).replace(r"\ ", r"\s+") for h in _HEADING_NAMES)
    + r")\s*:", re.IGNORECASE)


# a non-finding section (INDICATION, COMPARISON ...) ends at its first blank line or sentence-final line end
_OTHER_SECTION_END = re.compile(r"\n[ \t]*\n|(?<=[.!?])[ \t]*\n")


def report_sections(text: str) -> str:
    """The part of a report to label: FINDINGS + IMPRESSION when headed, else all but known other sections."""
    heads = list(_HEADING.finditer(text))
    if not heads:
        return text
    parts: list[tuple[str, str]] = [("", text[: heads[0].start()])]
    for h, nxt in zip(heads, heads[1:] + [None]):
        name = " ".join(h.group("name").lower().split())
        body = text[h.end(): nxt.start() if nxt is not None else len(text)]
        end = _OTHER_SECTION_END.search(body) if name not in KEPT_SECTIONS else None
        if end is not None:  # "COMPARISON: None.\nThere is a small effusion." -- the rest is unheaded
            parts += [(name, body[: end.start()]), ("", body[end.end():])]
        else:
            parts.append((name, body))
    kept = [body for name, body in parts if name in KEPT_SECTIONS]
    if kept:
        return "\n\n".join(kept)
    return "\n\n".join(body for name, body in parts if name == "")


# ----------------------------------------------------------------------------------------------
# Sentences
# ----------------------------------------------------------------------------------------------

_NEVER_SPLIT_AFTER = frozenset({"dr", "mr", "mrs", "ms", "st", "vs", "eg", "ie", "e.g", "i.e", "approx",
                                "apprx", "cf", "fig", "prof", "sr", "jr"})
_SPLIT_IF_CAPITAL_AFTER = frozenset({"cm", "mm", "m", "in", "ft", "kg", "etc", "pt", "hx", "sq", "no", "nos",
                                     "al"})
_ITEM_START = r"(?:\d{1,2}[.)]|[-*\u2022])\s"
_CHUNKS = re.compile(r"\n[ \t]*\n|\n(?=[ \t]*" + _ITEM_START + ")")
_STOP = re.compile(r"[.!]+(?=\s|$)|(?<=\w)\?+(?=\s|$)")
_ITEM = re.compile(r"^\s*(?:\(?\d{1,2}[.)]|[-*\u2022])\s+")
_EMPTY = re.compile(r"^[\s\W\d]*$")


def split_sentences(text: str) -> list[str]:
    """Sentences of a report section (original case, white space normalised, item numbers stripped)."""
    out: list[str] = []
    for chunk in _CHUNKS.split(text.replace("\r", "")):
        chunk = " ".join(chunk.split())
        start = 0
        for m in _STOP.finditer(chunk):
            word = re.search(r"([A-Za-z][A-Za-z.]*)$", chunk[start: m.start()])
            token = word.group(1).lower().rstrip(".") if word and m.group().startswith(".") else ""
            rest = chunk[m.end():].lstrip()
            if token in _NEVER_SPLIT_AFTER:
                continue
            if (token in _SPLIT_IF_CAPITAL_AFTER or len(token) == 1) and rest and not (
                    rest[0].isupper() or re.match(_ITEM_START, rest)):
                continue
            out.append(chunk[start: m.end()])
            start = m.end()
        out.append(chunk[start:])
    sentences = []
    for s in out:
        s = _ITEM.sub("", s.strip())
        if s and not _EMPTY.match(s):
            sentences.append(s)
    return sentences


# ----------------------------------------------------------------------------------------------
# Mentions and cues
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mention:
    """One mention of a label in one sentence, with the value it got and why."""

    label: str
    value: int  # 1 | 0 | -1
    text: str  # the matched words
    sentence: str  # lower-cased sentence
    cue: str  # the deciding cue: '' when none (positive), 'fixed' when the phrase carries its value


@dataclass(frozen=True)
class _Span:
    label: str
    start: int
    end: int
    fixed: int | None  # a value the phrase carries by itself
    hedged: bool = False  # uncertain unless negated ("vascular congestion")


@dataclass(frozen=True)
class _Cue:
    kind: str  # neg | unc | relay | pseudo | weak
    direction: str  # pre | post | bi | pred
    start: int
    end: int
    scope: int | None = None  # a shorter scope than the table's default
    labels: frozenset[str] | None = None  # the only labels it applies to
    otherwise: str = "unc"  # what a relay cue is when no negation governs it


def _compile(patterns: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


class ReportLabeler:
    """CheXpert-style labeler; ``extra_mentions`` adds synonyms (regexes) per label.

    ``no_finding``: ``"chexpert"`` (default) or ``"positive_only"`` (the phantom's convention); see the
    module docstring.
    """

    def __init__(self, *, extra_mentions: Mapping[str, Sequence[str]] | None = None,
                 no_finding: str = "chexpert", sections: bool = True) -> None:
        if no_finding not in ("chexpert", "positive_only"):
            raise ValueError(f"no_finding={no_finding!r}: expected 'chexpert' or 'positive_only'")
        extra = dict(extra_mentions or {})
        unknown = sorted(set(extra) - set(vocab.MENTIONS))
        if unknown:
            raise ValueError(f"extra_mentions: unknown label(s) {unknown}; expected {list(vocab.MENTIONS)}")
        self.no_finding = no_finding
        self.use_sections = sections
        self._mentions = {label: _compile([*pats, *extra.get(label, [])])
                          for label, pats in vocab.MENTIONS.items()}
        self._fixed = [(labels, re.compile(p, re.I), v) for labels, p, v in vocab.FIXED]
        self._attributes = [
            (labels, re.compile(subj, re.I), {k: re.compile(p, re.I) for k, p in preds.items()})
            for labels, subj, preds in vocab.ATTRIBUTES]
        self._hedged = {label: _compile(pats) for label, pats in vocab.HEDGED_MENTIONS.items()}
        self._chf = re.compile(vocab.CHF, re.I)
        self._cues = [(c[0], c[1], re.compile(c[2], re.I), dict(c[3]) if len(c) > 3 else {})
                      for c in vocab.CUES]
        self._hard = _compile(vocab.HARD_BOUNDARIES)
        self._restart = _compile(vocab.RESTARTS)
        self._comma_restart = re.compile(vocab.COMMA_RESTART, re.I)
        self._list_end = re.compile(vocab.LIST_END, re.I)

    # -- public API ----------------------------------------------------------------------------

    def label(self, text: str) -> dict[str, int | None]:
        """The 14 CheXpert labels of one report (1 positive, 0 negative, -1 uncertain, None unmentioned)."""
        return self._aggregate(self.explain(text))

    def label_many(self, texts: Iterable[str]) -> list[dict[str, int | None]]:
        return [self.label(t) for t in texts]

    def explain(self, text: str) -> list[Mention]:
        """Every mention found in the labeled part of ``text``, in reading order."""
        if not isinstance(text, str):
            raise TypeError(f"report text must be str, got {type(text).__name__}")
        body = report_sections(text) if self.use_sections else text
        out: list[Mention] = []
        for sentence in split_sentences(body):
            out += self.sentence_mentions(sentence.lower())
        return out

    def sentence_mentions(self, s: str) -> list[Mention]:
        """Mentions of one lower-cased sentence with their values."""
        spans = self._spans(s)
        if not spans:
            return []
        hard = [(m.start(), m.end()) for m in self._hard.finditer(s)]
        restarts = [(m.start(), m.end()) for m in self._restart.finditer(s)]
        hard_starts = [b for b, _ in hard]
        for m in self._comma_restart.finditer(s):
            i = bisect.bisect_left(hard_starts, m.end())
            clause_end = hard_starts[i] if i < len(hard_starts) else len(s)
            if not self._list_end.search(s, m.end(), clause_end):
                restarts.append((m.start(), m.end()))
        commas = [(i, i + 1) for i, ch in enumerate(s) if ch == ","]
        stops = sorted(b for b, _ in hard + restarts)  # starts of what ends any scope
        back_stops = sorted(stops + [b for b, _ in commas])  # ... and a backward one
        cues = [c for c in self._resolve_relays(s, self._find_cues(s), hard, restarts) if c.kind != "pseudo"]
        cue_starts = [c.start for c in cues]
        span_starts = [sp.start for sp in spans]
        out = []
        for sp in spans:
            text = s[sp.start: sp.end]
            if sp.fixed is not None:
                out.append(Mention(sp.label, sp.fixed, text, s, "fixed"))
                continue
            best: tuple[int, int, _Cue] | None = None  # (distance, tie-break, cue)
            weak: _Cue | None = None
            lo = bisect.bisect_left(cue_starts, sp.start - vocab.PRE_SCOPE_CHARS - _MAX_CUE_CHARS)
            hi = bisect.bisect_right(cue_starts, sp.end + vocab.POST_SCOPE_CHARS)
            for cue in cues[lo:hi]:
                if cue.labels is not None and sp.label not in cue.labels:
                    continue
                if cue.start >= sp.start and cue.end <= sp.end:  # inside an attribute reading
                    dist = 0
                elif cue.end <= sp.start and cue.direction in ("pre", "bi", "pred"):
                    dist = sp.start - cue.end
                    if dist > (cue.scope or vocab.PRE_SCOPE_CHARS) or _any_in(stops, cue.end, sp.start):
                        continue
                elif cue.start >= sp.end and cue.direction in ("post", "bi", "pred"):
                    dist = cue.start - sp.end
                    if dist > (cue.scope or vocab.POST_SCOPE_CHARS) or _any_in(back_stops, sp.end, cue.start):
                        continue
                    if cue.direction == "pred" and self._predicate_follows(cue, sp, spans, stops):
                        continue  # "the opacity may represent atelectasis": the hedge is atelectasis's
                else:
                    continue
                if cue.kind == "weak":
                    # an affirmative "or" hedges only the mentions right next to it
                    lo_, hi_ = (cue.end, sp.start) if cue.end <= sp.start else (sp.end, cue.start)
                    if not _any_in(span_starts, lo_, hi_) and not _any_in(back_stops, lo_, hi_):
                        weak = cue
                    continue
                key = (dist, 0 if cue.kind == "neg" else 1, cue)
                if best is None or key[:2] < best[:2]:
                    best = key
            cue = best[2] if best is not None else weak
            if cue is None:
                value, why = (-1, "hedged") if sp.hedged else (1, "")
            else:
                value, why = (0 if cue.kind == "neg" else -1), s[cue.start: cue.end]
            out.append(Mention(sp.label, value, text, s, why))
            if sp.label == "Edema" and value != 0 and self._chf.search(text):
                out.append(Mention("Cardiomegaly", -1, text, s, "chf"))  # CheXpert's CHF exception
        return out

    # -- internals -----------------------------------------------------------------------------

    @staticmethod
    def _predicate_follows(cue: _Cue, sp: _Span, spans: list[_Span], stops: list[int]) -> bool:
        """Whether a mention of another label follows a ``pred`` cue within its forward scope."""
        for other in spans:
            if other.start >= cue.end and other.label != sp.label:
                return (other.start - cue.end <= vocab.PRE_SCOPE_CHARS
                        and not _any_in(stops, cue.end, other.start))
        return False

    def _spans(self, s: str) -> list[_Span]:
        spans: list[_Span] = []
        for label, rx in self._mentions.items():
            spans += [_Span(label, m.start(), m.end(), None) for m in rx.finditer(s)]
        for label, rx in self._hedged.items():
            spans += [_Span(label, m.start(), m.end(), None, True) for m in rx.finditer(s)]
        for labels, rx, value in self._fixed:
            for m in rx.finditer(s):
                spans += [_Span(label, m.start(), m.end(), value) for label in labels]
        for labels, subject, predicates in self._attributes:
            for m in subject.finditer(s):
                reading = self._read_attribute(s, m.start(), m.end(), predicates)
                if reading is not None:
                    start, end, value, hedged = reading
                    spans += [_Span(label, start, end, value, hedged) for label in labels]
        return sorted(spans, key=lambda sp: (sp.start, sp.label))

    def _read_attribute(self, s: str, start: int, end: int,
                        predicates: Mapping[str, re.Pattern[str]],
                        ) -> tuple[int, int, int | None, bool] | None:
        """The nearest predicate glued to the subject at [start, end): (span start, span end, fixed value)."""
        found: list[tuple[int, int, str]] = []
        window = (max(0, start - vocab.ATTRIBUTE_WINDOW - 40), min(len(s), end + vocab.ATTRIBUTE_WINDOW + 40))
        for kind, rx in predicates.items():
            found += [(m.start(), m.end(), kind) for m in rx.finditer(s, *window)]
        # a longer predicate hides those inside it ("top normal" is borderline, not normal)
        found = [f for f in found if not any(g != f and g[0] <= f[0] and f[1] <= g[1] for g in found)]
        best = None
        for p_start, p_end, kind in found:
            if p_end <= start:
                gap = s[p_end: start]
            elif p_start >= end:
                gap = s[end: p_start]
            else:
                continue
            if len(gap) > vocab.ATTRIBUTE_WINDOW or self._hard.search(gap):
                continue
            if any(w not in vocab.ATTRIBUTE_GLUE for w in re.findall(r"[a-z]+|,", gap)):
                continue
            if best is None or len(gap) < best[0]:
                best = (len(gap), p_start, p_end, kind)
        if best is None:
            return None
        _, p_start, p_end, kind = best
        fixed = {"neg": 0, "unc": -1, "pos": None, "hedged": None}[kind]
        return min(start, p_start), max(end, p_end), fixed, kind == "hedged"

    def _find_cues(self, s: str) -> list[_Cue]:
        found = []
        for order, (kind, direction, rx, opts) in enumerate(self._cues):
            labels = frozenset(opts["labels"]) if "labels" in opts else None
            for m in rx.finditer(s):
                if m.end() > m.start():
                    found.append((-(m.end() - m.start()), order,
                                  _Cue(kind, direction, m.start(), m.end(), opts.get("scope"), labels,
                                       opts.get("otherwise", "unc"))))
        kept: list[_Cue] = []
        taken = bytearray(len(s))
        for _, _, cue in sorted(found, key=lambda t: (t[0], t[1], t[2].start)):
            if not any(taken[cue.start: cue.end]):
                kept.append(cue)
                taken[cue.start: cue.end] = b"\x01" * (cue.end - cue.start)
        return sorted(kept, key=lambda c: c.start)

    @staticmethod
    def _resolve_relays(s: str, cues: list[_Cue], hard: list[tuple[int, int]],
                        restarts: list[tuple[int, int]]) -> list[_Cue]:
        """A relay cue ("to suggest") negates when a negation cue scopes over it, else it hedges;
        "no new opacity to suggest pneumonia" negates too (a "no"/"without" that is a hedge itself)."""
        out = []
        for cue in cues:
            if cue.kind == "relay":
                governed = any(
                    (n.kind == "neg"
                     or (n.kind == "unc" and s[n.start: n.end].startswith(("no ", "without "))))
                    and n.labels is None and n.direction in ("pre", "bi") and n.end <= cue.start
                    and cue.start - n.end <= vocab.PRE_SCOPE_CHARS
                    and not _crosses(n.end, cue.start, hard, restarts)
                    for n in cues)
                cue = _Cue("neg" if governed else cue.otherwise, cue.direction, cue.start, cue.end, cue.scope)
            out.append(cue)
        return out

    def _aggregate(self, mentions: Iterable[Mention]) -> dict[str, int | None]:
        values: dict[str, set[int]] = {}
        for m in mentions:
            values.setdefault(m.label, set()).add(m.value)
        out: dict[str, int | None] = {}
        for label in CHEXPERT_LABELS:
            if label == NO_FINDING:
                continue
            got = values.get(label, set())
            out[label] = 1 if 1 in got else -1 if -1 in got else 0 if 0 in got else None
        if self.no_finding == "chexpert":
            finding = any(v in (1, -1) for k, v in out.items() if k != SUPPORT_DEVICES)
        else:
            finding = any(v == 1 for v in out.values())
        out[NO_FINDING] = None if finding else 1
        return {label: out[label] for label in CHEXPERT_LABELS}


def _any_in(sorted_starts: list[int], lo: int, hi: int) -> bool:
    """Whether a boundary in ``sorted_starts`` starts inside [lo, hi)."""
    i = bisect.bisect_left(sorted_starts, lo)
    return i < len(sorted_starts) and sorted_starts[i] < hi


def _crosses(lo: int, hi: int, *boundary_lists: list[tuple[int, int]]) -> bool:
    """Whether a boundary starts inside [lo, hi) (it would cut a cue's scope)."""
    return any(lo <= b_start < hi for spans in boundary_lists for b_start, _ in spans)


_DEFAULT: ReportLabeler | None = None


def _default() -> ReportLabeler:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = ReportLabeler()
    return _DEFAULT


def label_report(text: str) -> dict[str, int | None]:
    """CheXpert labels of one free-text report (see the module docstring for the rules)."""
    return _default().label(text)


def label_reports(texts: Iterable[str]) -> list[dict[str, int | None]]:
    """``label_report`` over many reports."""
    return _default().label_many(texts)
