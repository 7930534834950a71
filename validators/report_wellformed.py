"""``report_wellformed``: a report must be made of whole sentences, judged against how the
training reports are written.

A diffusion text decoder that is unsure fills its slots with plausible words in implausible
places: a sentence cut off after a word that never ends one ("No consolidation is.", "Frontal
and lateral views of."), a word said twice ("pleural pleural"), a sentence glued onto the end of
another ("... of the chest. is no pneumothorax."), a stray letter ("F is edema."), doubled
punctuation (".."), an empty section, an orphan fragment ("Moderate."). None of these is a
garbled token, so ``report_garbled`` lets them through.

Each sentence is checked for a small set of *events*; every event has a probability measured on
the training reports (``ReportNgrams``, built by ``medmint validators calibrate`` from the reports
the model was trained on, stored in the checkpoint as ``report_ngrams.safetensors``):

- ``ends``: the sentence ends on word w: P(sentence ends | w) = (ends(w) + 1/2) / (count(w) + 1).
  "of" seen 3,000 times and never last gives 1 in 6,000; a rare word that ended once gives 1/2.
  Where the statistics know the last word pair (a, w), the end is conditioned on it too (Witten-
  Bell): the pair's ends plus the chance of a follower never seen after it times the more permissive
  of P(ends | w) and P(the word after a ends). ", or" written 24 times, always followed by
  "pneumothorax", makes "..., or." 1 in 10^2.9, not 1 in 10^2.4; "... is new." stays 1 in 10^2.2
  though training wrote "is new" only before "opacity", since the word after 'is' ends a sentence
  28 % of the time. The pair only ever adds evidence (the smaller probability counts).
- ``starts``: the same for the first word, and for a lowercase first letter.
- ``pairs``: a word pair the training reports never wrote. Its probability is the chance (Witten-
  Bell) that the first word is followed, and the second preceded, by a word never seen next to
  it: distinct neighbours over uses, geometric mean of the two. "the" is followed by hundreds of
  different words, so "the <new word>" is unremarkable; "view" is followed by "of" alone in the
  phantom's 9,000 reports, so "view the" is not. The sentence's least likely pair counts.
- ``letter``: a single letter the training reports never use: the chance of an unseen word times
  the share of single letters among the words seen ("Kerley B" is fine where training says it); a
  letter the training reports use, between two words it was never next to ("since the b study"):
  the chance of a new previous word times that of a new next word.
- ``short``: a sentence of at most two words that no training report holds (Witten-Bell over the
  short sentences seen: "Moderate." where training only ever wrote "Cardiomegaly.").
- ``doubled``, ``punctuation``, ``empty``, ``unterminated``: a doubled word (a pair never in
  training), doubled punctuation or a sentence ending on a comma, an empty sentence or section, a
  section without final punctuation -- each at its rate in the training reports.

A sentence with several *faults* (events rarer than 1 in 10) gets one more event: the worst fault
in full plus, for each further one, its surprise beyond 1 (a sentence has about ten chances to show
one unremarkable novelty, so only the excess is evidence): word salad and orphan fragments show a
never-first first word, a never-last last word and unseen pairs together. The score is the surprise
of the report's least likely event, -log10 of its probability (3 = an event seen once in a thousand
chances in the training reports); the reason quotes the sentence and says which event(s) and how
often training showed them. Evidence grows with the training reports:
"ends on 'or'" is 1 in 10^2.3 after 110 uses, 1 in 10^4 after 5,000. Without statistics (the
phantom, an uncalibrated checkpoint) only the language-free events are checked (doubled words and
punctuation, empty sentences and sections, a sentence opening on a stray letter), each at a fixed
1 in 10^4.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, ClassVar, Iterable, Mapping

import numpy as np

from medmint.validators.base import Batch, ValidationContext, Validator

BOS, EOS = "<s>", "</s>"
MAX_UNIGRAMS = 8192  # most frequent words kept (24 bytes each)
MAX_BIGRAMS = 32768  # most frequent word pairs kept (8 bytes each)
MAX_SHORT = 8192  # most frequent short sentences kept (8 bytes each)
SHORT = 2  # a sentence of at most this many words must be one the training reports hold
NO_STATS_SURPRISE = 4.0  # a structural event with no statistics to weigh it
SCALARS = ("sentences", "tokens", "sections", "empty_sections", "unterminated_sections", "punctuation",
           "empty_sentences", "doubled", "letter_tokens", "letter_types", "alpha_starts", "lower_starts",
           "short_sentences", "short_types", "bigram_min_count")

# sentence terminators: a run of . ! ? followed by whitespace or the end (not a decimal point)
_TERMINATOR = re.compile(r"([.!?]+)(?=\s|$)")
_TOKEN = re.compile(r"_{2,}|[A-Za-z]+(?:['\u2019-][A-Za-z]+)*|\d+(?:[.,:/x-]\d+)*|[,;:]")
_PUNCT = frozenset(",;:")
_OK_TERMINATORS = frozenset({".", "!", "?", "..."})
_UNSEEN = (0, 0, 0, 0, 0)


@lru_cache(maxsize=1 << 16)
def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "little", signed=True)


def _norm(token: str) -> str:
    if token.startswith("__"):
        return "<deid>"
    if token[0].isdigit():
        return "<num>"
    return token.lower()


@dataclass(frozen=True)
class Sentence:
    text: str  # as written, terminator included
    tokens: tuple[str, ...]  # normalised
    terminator: str  # "" when the section ends without one
    first_char: str  # first alphabetic character as written ("" if none)


def sentences(section: str) -> list[Sentence]:
    """Split a section into sentences at terminators followed by space (so 1.5 cm stays whole).
    Abbreviations ("Dr.") split too, the same way in training and checking, so they are no event."""
    text = " ".join((section or "").split())
    out, start = [], 0
    for m in _TERMINATOR.finditer(text):
        out.append((text[start : m.start()], m.group(1), text[start : m.end()].strip()))
        start = m.end()
    if text[start:].strip():
        out.append((text[start:], "", text[start:].strip()))
    result = []
    for body, term, shown in out:
        raw = _TOKEN.findall(body)
        first = re.search(r"[A-Za-z]", body)
        result.append(Sentence(shown, tuple(_norm(t) for t in raw), term,
                               first.group(0) if first and raw and raw[0][0].isalpha() else ""))
    return result


def _alpha(token: str) -> bool:
    return token[0].isalpha()


def _short_key(s: Sentence) -> str:
    return " ".join(s.tokens)


@dataclass(frozen=True)
class Event:
    surprise: float  # -log10 of its probability in the training reports
    section: str
    sentence: str
    says: str | Callable[[], str]  # written only when a reason needs it (most events are unremarkable)

    @property
    def what(self) -> str:
        """"ends on 'is' (last in 0 of its 3,120 training uses)"."""
        return self.says if isinstance(self.says, str) else self.says()


class ReportNgrams:
    """Word statistics of the training reports: per word its count, how often it starts and ends a
    sentence, how many different words follow / precede it exactly once (Good-Turing); the word
    pairs seen (hashed, the most frequent ``MAX_BIGRAMS``); the short sentences seen; and counts of
    the structural events. Words are hashed to 32 bits; nothing stores report text."""

    def __init__(self, tensors: Mapping[str, Any]) -> None:
        arr = {k: np.asarray(v.numpy() if hasattr(v, "numpy") else v, np.int64) for k, v in tensors.items()}
        self.scalars = {name: int(v) for name, v in zip(SCALARS, arr["scalars"])}
        # per word: count, starts, ends, distinct next words, distinct previous words
        self._uni = dict(zip(arr["unigram_keys"].tolist(), map(tuple, arr["unigram_stats"].reshape(-1, 5).tolist())))
        self._bi = dict(zip(arr["bigram_keys"].tolist(), arr["bigram_counts"].tolist()))
        # per kept word pair (optional: statistics written before it lack it): how often it ends a
        # sentence and how many different words (or the end) follow it, packed as ends << 16 | types
        nxt = arr.get("bigram_next")
        self._bi_next = ({} if nxt is None else
                         dict(zip(arr["bigram_keys"].tolist(), ((v >> 16, v & 0xFFFF) for v in nxt.tolist()))))
        # per kept word (optional, as above): how often the word after it ends a sentence
        pen = arr.get("unigram_penult")
        self._penult = {} if pen is None else dict(zip(arr["unigram_keys"].tolist(), pen.tolist()))
        self._short = dict(zip(arr["short_keys"].tolist(), arr["short_counts"].tolist()))
        self.tensors = arr

    @classmethod
    def build(cls, reports: Iterable[str], *, max_unigrams: int = MAX_UNIGRAMS,
              max_bigrams: int = MAX_BIGRAMS) -> "ReportNgrams":
        from collections import Counter

        from medmint.generators.diffusion.text_tokenizer import split_sections

        sc = dict.fromkeys(SCALARS, 0)
        count, starts, ends, pairs, short = Counter(), Counter(), Counter(), Counter(), Counter()
        triples, penult = Counter(), Counter()
        for report in reports:
            for section in split_sections(report):
                sc["sections"] += 1
                sents = sentences(section)
                if not any(s.tokens for s in sents):
                    sc["empty_sections"] += 1
                    continue
                sc["unterminated_sections"] += sents[-1].terminator == ""
                for s in sents:
                    sc["sentences"] += 1
                    sc["punctuation"] += _punctuation(s) is not None
                    if not s.tokens:
                        sc["empty_sentences"] += 1
                        continue
                    sc["tokens"] += len(s.tokens)
                    count.update(s.tokens)
                    starts[s.tokens[0]] += 1
                    ends[s.tokens[-1]] += 1
                    seq = (BOS, *s.tokens, EOS)
                    pairs.update(zip(seq, seq[1:]))
                    triples.update(zip(seq, seq[1:], seq[2:]))
                    if len(s.tokens) > 1:
                        penult[s.tokens[-2]] += 1
                    sc["doubled"] += sum(a == b and _alpha(a) for a, b in zip(s.tokens, s.tokens[1:]))
                    if s.first_char:
                        sc["alpha_starts"] += 1
                        sc["lower_starts"] += s.first_char.islower()
                    if sum(map(_alpha, s.tokens)) <= SHORT:
                        sc["short_sentences"] += 1
                        short[_short_key(s)] += 1
        letters = [c for w, c in count.items() if len(w) == 1 and w.isalpha()]
        sc["letter_tokens"], sc["letter_types"] = sum(letters), len(letters)
        sc["short_types"] = len(short)
        types_follow, types_prec = Counter(), Counter()
        for a, b in pairs:
            types_follow[a] += 1
            types_prec[b] += 1
        pair_ends, pair_types = Counter(), Counter()
        for a, b, c in triples:
            pair_types[a, b] += 1
            if c == EOS:
                pair_ends[a, b] = triples[a, b, c]
        words = sorted(count, key=lambda w: (-count[w], w))[:max_unigrams]
        kept_pairs = sorted((p for p in pairs if BOS not in p and EOS not in p),
                            key=lambda p: (-pairs[p], p))[:max_bigrams]
        sc["bigram_min_count"] = pairs[kept_pairs[-1]] if len(kept_pairs) == max_bigrams else 1
        kept_short = sorted(short, key=lambda k: (-short[k], k))[:MAX_SHORT]
        tensors = {
            "scalars": np.array([sc[k] for k in SCALARS], np.int64),
            "unigram_keys": np.array([_hash(w) for w in words], np.int32),
            "unigram_stats": np.array([[count[w], starts[w], ends[w], types_follow[w], types_prec[w]] for w in words],
                                      np.int32).reshape(-1, 5),
            "unigram_penult": np.array([penult[w] for w in words], np.int32),
            "bigram_keys": np.array([_hash(f"{a} {b}") for a, b in kept_pairs], np.int32),
            "bigram_counts": np.array([pairs[p] for p in kept_pairs], np.int32),
            "bigram_next": np.array([min(pair_ends[p], 0x7FFF) << 16 | min(pair_types[p], 0xFFFF) for p in kept_pairs],
                                    np.int64).astype(np.int32),
            "short_keys": np.array([_hash(k) for k in kept_short], np.int32),
            "short_counts": np.array([short[k] for k in kept_short], np.int32),
        }
        return cls(tensors)

    def to_tensors(self) -> dict[str, Any]:
        import torch

        return {k: torch.from_numpy(np.ascontiguousarray(v.astype(np.int32 if k != "scalars" else np.int64)))
                for k, v in self.tensors.items()}

    def describe(self) -> dict[str, int]:
        return {"sentences": self.scalars["sentences"], "words": len(self._uni), "word_pairs": len(self._bi),
                "bigram_min_count": self.scalars["bigram_min_count"]}

    def __len__(self) -> int:
        """Distinct words seen (those kept)."""
        return len(self._uni)

    # -- lookups -------------------------------------------------------------------------------
    def word(self, w: str) -> tuple[int, int, int, int, int]:
        return self._uni.get(_hash(w), _UNSEEN)

    def pair(self, a: str, b: str) -> int:
        return self._bi.get(_hash(f"{a} {b}"), 0)

    def pair_next(self, a: str, b: str) -> tuple[int, int] | None:
        """(sentences the pair ends, different words or the end that follow it), None where unknown."""
        return self._bi_next.get(_hash(f"{a} {b}"))

    def penult(self, w: str) -> int | None:
        """How often the word after w ends a sentence, None where unknown."""
        return self._penult.get(_hash(w)) if self._penult else None

    def short(self, s: Sentence) -> int:
        return self._short.get(_hash(_short_key(s)), 0)


def _rate(k: int, n: int) -> float:
    """Probability of an event seen k times in n chances (Krichevsky-Trofimov: never seen is not never)."""
    return (k + 0.5) / (n + 1)


def _novel(types: int, n: int) -> float:
    """Witten-Bell: the chance that the next of n observations that showed ``types`` distinct values
    is a value not seen before (robust where nothing was seen once, as in templated reports)."""
    return (types + 0.5) / (n + types + 1)


def _surprise(p: float) -> float:
    return -math.log10(max(p, 1e-12))


_BAD_PUNCT = re.compile(r"[.!?][,;:]|[,;:]\s*[.!?,;:]|^\s*[,;:]")


def _punctuation(s: Sentence) -> str | None:
    """Doubled punctuation ("..", ",.", ".,", ";,"), or a sentence opening or closing on a comma."""
    if s.terminator and s.terminator not in _OK_TERMINATORS:
        return s.terminator
    m = _BAD_PUNCT.search(s.text)
    if m:
        return m.group(0).strip()
    if s.tokens and s.tokens[-1] in _PUNCT:
        return s.tokens[-1] + s.terminator
    return None


def _n(x: int) -> str:
    return f"{x:,}"


def check_report(findings: str, impression: str, stats: ReportNgrams | None) -> list[Event]:
    """Every event in the report, each with its surprise."""
    events: list[Event] = []
    sc = stats.scalars if stats is not None else {}

    def add(k: int | None, n: int | None, section: str, sentence: str, what: str | Callable[[], str],
            p: float | None = None) -> None:
        """An event seen k times in n chances in training (or of probability p)."""
        s = NO_STATS_SURPRISE if stats is None else _surprise(p if p is not None else _rate(k or 0, n or 0))
        events.append(Event(s, section, sentence, what))

    for name, section in (("FINDINGS", findings), ("IMPRESSION", impression)):
        sents = sentences(section)
        if not any(s.tokens for s in sents):
            add(sc.get("empty_sections"), sc.get("sections"), name, "", f"{name} is empty")
            continue
        if stats is not None and sents[-1].terminator == "" and sents[-1].tokens:
            add(sc["unterminated_sections"], sc["sections"], name, sents[-1].text,
                f"has no final punctuation (in {_n(sc['unterminated_sections'])} of {_n(sc['sections'])} "
                "training sections)")
        for s in sents:
            p = _punctuation(s)
            if p is not None:
                add(sc.get("punctuation"), sc.get("sentences"), name, s.text, f"has {p!r}")
            if not s.tokens:
                add(sc.get("empty_sentences"), sc.get("sentences"), name, s.text, "is an empty sentence")
                continue
            for a, b in zip(s.tokens, s.tokens[1:]):
                if a == b and _alpha(a) and (stats is None or stats.pair(a, b) == 0):
                    add(sc.get("doubled"), sc.get("tokens"), name, s.text, f"doubles {a!r}")
            if stats is None:
                t = s.tokens[0]
                if len(s.tokens) > 1 and len(t) == 1 and t.isalpha() and t not in "ai":
                    add(None, None, name, s.text, f"starts with a stray letter {t!r}")
                continue
            before = len(events)
            _statistical(s, stats, name, add)
            _accumulate(events, before, name, s.text)
    return events


FAULT = 1.0  # an event more likely than 1 in 10^FAULT is no fault


def _accumulate(events: list[Event], start: int, section: str, sentence: str) -> None:
    """A sentence with several faults: the worst counts in full, each further fault by how much
    rarer it is than 1 in 10^FAULT (a sentence has about that many chances -- its word pairs, first
    and last word -- to show one unremarkable novelty, so only the excess is evidence). Appended as
    one more event, so the report's score stays the surprise of its least likely event."""
    faults = sorted((e for e in events[start:] if e.surprise > FAULT), key=lambda e: -e.surprise)
    if len(faults) < 2:
        return
    total = faults[0].surprise + sum(e.surprise - FAULT for e in faults[1:])
    parts = list(faults)
    events.append(Event(total, section, sentence,
                        lambda: f"{parts[0].what} (1 in 10^{parts[0].surprise:.1f}), and {len(parts) - 1} more "
                        f"fault{'s' if len(parts) > 2 else ''}: " + "; ".join(
                            f"{e.what} (1 in 10^{e.surprise:.1f})" for e in parts[1:])))


def _statistical(s: Sentence, stats: ReportNgrams, name: str, add: Any) -> None:
    sc = stats.scalars
    for t in s.tokens:
        if len(t) == 1 and t.isalpha() and stats.word(t)[0] < 2:
            # a word never seen (Witten-Bell over all words) that is a single letter (as the share of
            # single letters among the words seen)
            words = len(stats)
            add(None, None, name, s.text,
                f"has a stray letter {t!r} (training reports use {_n(sc['letter_types'])} single letters "
                f"among {_n(words)} words)",
                p=_novel(words, sc["tokens"]) * (sc["letter_types"] + 0.5) / (words + 1))
    for i, t in enumerate(s.tokens[1:-1], 1):
        w = stats.word(t)
        if len(t) == 1 and t.isalpha() and w[0] >= 2 and not stats.pair(s.tokens[i - 1], t) \
                and not stats.pair(t, s.tokens[i + 1]):
            # a single letter the training reports use only in set phrases ("Kerley B"), here between
            # two words it never stood next to: both of its neighbours are new to it
            add(None, None, name, s.text,
                f"has a stray letter {t!r} between words it never follows or precedes in training ({t!r} "
                f"{_n(w[0])} times, {_n(w[4])} different previous and {_n(w[3])} different next words)",
                p=_novel(w[4], w[0]) * _novel(w[3], w[0]))
    first, last = stats.word(s.tokens[0]), stats.word(s.tokens[-1])
    if first[0]:
        add(first[1], first[0], name, s.text,
            lambda: f"starts with {s.tokens[0]!r} (first in {_n(first[1])} of its {_n(first[0])} training uses)")
    if last[0]:
        p_end = _rate(last[2], last[0])
        tail = stats.pair_next(*s.tokens[-2:]) if len(s.tokens) > 1 else None
        n_tail = stats.pair(*s.tokens[-2:]) if tail is not None else 0
        if tail is not None and n_tail:
            # Witten-Bell on the last two words: "... effusion, or." -- training wrote ", or" 24 times,
            # always followed by "pneumothorax", so the end after it is the chance of a new follower
            # times the chance that 'or' ends a sentence at all
            # times the chance that the sentence ends there at all: that 'or' ends one, or -- the more
            # permissive -- that the word after ',' does ("... is new." after "is new opacity": 'new'
            # never ended a sentence, but the word after 'is' ends one 28 % of the time)
            e, types = tail
            before, pen = stats.word(s.tokens[-2]), stats.penult(s.tokens[-2])
            p_low = max(p_end, _rate(pen, before[0])) if pen is not None else p_end
            # the pair only ever adds evidence: where it was seen a few times, the last word alone says more
            p_pair = min(p_end, (e + (types + 0.5) * p_low) / (n_tail + types + 1))
            add(None, None, name, s.text,
                lambda: f"ends on {s.tokens[-1]!r} (last in {_n(last[2])} of its {_n(last[0])} training uses) after "
                f"{s.tokens[-2]!r} ({' '.join(s.tokens[-2:])!r} last in {_n(e)} of its {_n(n_tail)} uses, followed "
                f"by {_n(types)} different words or the end)", p=p_pair)
        else:
            add(last[2], last[0], name, s.text,
                lambda: f"ends on {s.tokens[-1]!r} (last in {_n(last[2])} of its {_n(last[0])} training uses)")
    if s.first_char.islower():
        add(sc["lower_starts"], sc["alpha_starts"], name, s.text,
            f"starts lowercase (as {_n(sc['lower_starts'])} of {_n(sc['alpha_starts'])} training sentences)")
    if sum(map(_alpha, s.tokens)) <= SHORT and not stats.short(s):
        add(None, None, name, s.text, f"is a fragment no training report holds ({_n(sc['short_types'])} different "
            f"short sentences in {_n(sc['short_sentences'])})", p=_novel(sc["short_types"], sc["short_sentences"]))
    # word pairs the training reports never wrote: the chance that a's next word is one never seen
    # after it, and b's previous one (geometric mean); the sentence's least likely pair counts
    novel = []
    for a, b in zip(s.tokens, s.tokens[1:]):
        if a == b or stats.pair(a, b):
            continue
        wa, wb = stats.word(a), stats.word(b)
        if not wa[0] or not wb[0]:
            continue  # a word the training reports never used: report_garbled's business
        novel.append((math.sqrt(_novel(wa[3], wa[0]) * _novel(wb[4], wb[0])), a, b, wa, wb))
    if novel:
        p, a, b, wa, wb = min(novel)
        more = f" and {len(novel) - 1} more" if len(novel) > 1 else ""
        add(None, None, name, s.text,
            f"pairs {a!r} {b!r}{more}, never in training ({a!r} {_n(wa[0])} times, {_n(wa[3])} different next "
            f"words; {b!r} {_n(wb[0])} times, {_n(wb[4])} different previous words)",
            p=p)


class WellFormed(Validator):
    """The surprise (-log10 probability in the training reports) of the report's least likely
    sentence-level event; see the module docstring."""

    name: ClassVar[str] = "report_wellformed"
    higher_passes: ClassVar[bool] = False
    default_threshold: ClassVar[float] = 2.4
    what: ClassVar[str] = "surprise of the least likely sentence event (-log10 p in training reports)"

    def __init__(self, context: ValidationContext | None = None, threshold: float | None = None,
                 **params: Any) -> None:
        super().__init__(context, threshold, **params)
        self.stats: ReportNgrams | None = self.context.data_summary.get("report_ngrams")

    def events(self, findings: str, impression: str) -> list[Event]:
        return _cached_events(findings or "", impression or "", self.stats)

    def scores(self, batch: Batch) -> np.ndarray:
        return np.array([max((e.surprise for e in self.events(s.report_findings, s.report_impression)), default=0.0)
                         for s in batch.samples], np.float64)

    def reason(self, batch: Batch, i: int, score: float) -> str:
        s = batch.samples[i]
        worst = max(self.events(s.report_findings, s.report_impression), key=lambda e: e.surprise)
        where = f"{worst.sentence!r} " if worst.sentence else ""
        return f"{self.name}: {where}{worst.what}: 1 in 10^{worst.surprise:.1f} > 1 in 10^{self.threshold:.1f}"

    def describe(self) -> dict[str, Any]:
        return {**super().describe(),
                "statistics": self.stats.describe() if self.stats is not None else "none: structural checks only"}


@lru_cache(maxsize=4096)
def _cached_events(findings: str, impression: str, stats: ReportNgrams | None) -> list[Event]:
    return check_report(findings, impression, stats)


__all__ = ["ReportNgrams", "WellFormed", "check_report", "sentences"]
