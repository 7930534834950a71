"""Report text <-> token ids: BPE trained on the training reports with ``tokenizers``.

The report is one string ``FINDINGS: ... IMPRESSION: ...`` so the model learns the sections as
text. Two units:

- ``word`` (byte-level BPE, merges stop at spaces): nothing is ever unknown; a report costs at least
  one token per word (a templated chest X-ray report: median 40 tokens, 1 % over 133).
- ``sentence`` (merges may span the words of one sentence, never a sentence end): a sentence the
  training reports repeat becomes one token, so the same report costs a median 8 tokens (25 at most).
  A masked-diffusion decoder unmasks several tokens per step; fewer, larger tokens leave it fewer
  mutually dependent choices to make at once, which is where garbled text comes from. Text never
  seen still encodes, from smaller pieces down to single characters of the training alphabet.

A pretrained backbone's own ``tokenizer.json`` can be used instead (``from_file``), which keeps its
embedding rows meaningful.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

UNITS = ("word", "sentence")
_SPACE = "\u2581"  # what a space becomes inside a sentence-unit token
# characters a sentence-unit tokenizer always knows, whatever its training reports held
_FALLBACK = "".join(chr(c) for c in range(32, 127))
_SECTIONS = re.compile(r"^\s*FINDINGS:\s*(?P<findings>.*?)\s*IMPRESSION:\s*(?P<impression>.*?)\s*$", re.S)


def join_sections(findings: str, impression: str) -> str:
    return f"FINDINGS: {' '.join(findings.split())} IMPRESSION: {' '.join(impression.split())}"


def split_sections(text: str) -> tuple[str, str]:
    """(findings, impression) of a generated report; a report missing a heading keeps all text as findings."""
    match = _SECTIONS.match(text)
    if match:
        return match["findings"], match["impression"]
    return text.replace("FINDINGS:", "").strip(), ""


class TextTokenizer:
    """A ``tokenizers.Tokenizer`` with no special tokens of its own: the layout adds EOT/PAD."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tok = tokenizer

    @classmethod
    def train(cls, reports: Iterable[str], vocab_size: int = 2048, min_frequency: int = 2,
              unit: str = "word") -> "TextTokenizer":
        if unit not in UNITS:
            raise ValueError(f"unit: {unit!r} is not one of {', '.join(UNITS)}")
        reports = list(reports)
        tok = Tokenizer(models.BPE(unk_token=None if unit == "word" else "\ufffd"))
        tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(r"\s+"), " ")])
        if unit == "word":
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
            tok.decoder = decoders.ByteLevel()
            alphabet = pre_tokenizers.ByteLevel.alphabet()
        else:
            # a sentence (or section heading) is one pre-token; spaces inside it may be merged over
            tok.pre_tokenizer = pre_tokenizers.Sequence([
                pre_tokenizers.Split(Regex(r"(?<=[.:;!?])\s"), behavior="merged_with_next"),
                pre_tokenizers.Metaspace(replacement=_SPACE, prepend_scheme="always", split=False),
            ])
            tok.decoder = decoders.Metaspace(replacement=_SPACE, prepend_scheme="always", split=False)
            alphabet = sorted(set("".join(reports)) | set(_FALLBACK) | {_SPACE})
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, initial_alphabet=alphabet,
                                      special_tokens=[] if unit == "word" else ["\ufffd"], show_progress=False)
        tok.train_from_iterator(reports, trainer=trainer)
        return cls(tok)

    @classmethod
    def from_file(cls, path: str | Path) -> "TextTokenizer":
        return cls(Tokenizer.from_file(str(path)))

    def save(self, path: str | Path) -> None:
        self._tok.save(str(path))

    def to_str(self) -> str:
        return self._tok.to_str()

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Iterable[int]) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=False).strip()
