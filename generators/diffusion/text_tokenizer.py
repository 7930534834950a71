"""Report text <-> token ids: byte-level BPE trained on the training reports with ``tokenizers``.

Byte-level so nothing is ever unknown; the report is one string ``FINDINGS: ... IMPRESSION: ...``
so the model learns the sections as text. A pretrained backbone's own ``tokenizer.json`` can be
used instead (``from_file``), which keeps its embedding rows meaningful.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

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
    def train(cls, reports: Iterable[str], vocab_size: int = 2048, min_frequency: int = 2) -> "TextTokenizer":
        tok = Tokenizer(models.BPE())
        tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(r"\s+", " ")])
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
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
