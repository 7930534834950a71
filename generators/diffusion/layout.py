"""One token space and one sequence layout shared by image codes, report text and conditions.

    [conditions][BOI] image codes [EOI][BOT] report tokens [EOT][PAD]... 

Conditions are one slot per label (value: negative / positive / uncertain / unmentioned), then
view, sex and age bin; a dropped condition is the NULL token (multi-prompt training and the
unconditional branch of classifier-free guidance). Everything about where a token lives and which
ids a position may take is answered here, so the model, noise and sampler never hard-code it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from medmint.records import AGE_BINS, CHEXPERT_LABELS

PAD, MASK, BOI, EOI, BOT, EOT, NULL = range(7)
SPECIAL_NAMES = ("[PAD]", "[MASK]", "[BOI]", "[EOI]", "[BOT]", "[EOT]", "[NULL]")
LABEL_STATES = (0, 1, -1, None)  # CheXpert coding, in slot order
VIEWS = ("PA", "AP", "LATERAL")
SEXES = ("F", "M")

# Segment ids per position (for embeddings and for masking logic).
SEG_COND, SEG_MARK, SEG_IMAGE, SEG_TEXT = 0, 1, 2, 3


@dataclass(frozen=True)
class VocabLayout:
    """Sizes fix every offset; stored in the checkpoint's medmint.json and checked on load."""

    labels: tuple[str, ...] = CHEXPERT_LABELS
    text_vocab: int = 2048
    image_codes: int = 1000
    image_tokens: int = 256  # h * w codes per image
    text_length: int = 128  # report positions, EOT and padding included

    # --- token id ranges ------------------------------------------------------------------
    @property
    def label_offset(self) -> int:
        return len(SPECIAL_NAMES)

    @property
    def view_offset(self) -> int:
        return self.label_offset + len(self.labels) * len(LABEL_STATES)

    @property
    def sex_offset(self) -> int:
        return self.view_offset + len(VIEWS)

    @property
    def age_offset(self) -> int:
        return self.sex_offset + len(SEXES)

    @property
    def text_offset(self) -> int:
        return self.age_offset + len(AGE_BINS)

    @property
    def image_offset(self) -> int:
        return self.text_offset + self.text_vocab

    @property
    def vocab_size(self) -> int:
        return self.image_offset + self.image_codes

    # --- positions --------------------------------------------------------------------------
    @property
    def n_conditions(self) -> int:
        return len(self.labels) + 3  # labels, view, sex, age bin

    @property
    def image_start(self) -> int:
        return self.n_conditions + 1  # after BOI

    @property
    def text_start(self) -> int:
        return self.image_start + self.image_tokens + 2  # after EOI, BOT

    @property
    def seq_len(self) -> int:
        return self.text_start + self.text_length

    def segments(self) -> np.ndarray:
        seg = np.full(self.seq_len, SEG_MARK, dtype=np.int64)
        seg[: self.n_conditions] = SEG_COND
        seg[self.image_start : self.image_start + self.image_tokens] = SEG_IMAGE
        seg[self.text_start :] = SEG_TEXT
        return seg

    def allowed_ids(self) -> dict[int, tuple[int, int, tuple[int, ...]]]:
        """Per predicted segment: (first id, end id, extra ids) a position of it may take."""
        return {
            SEG_IMAGE: (self.image_offset, self.vocab_size, ()),
            SEG_TEXT: (self.text_offset, self.image_offset, (EOT, PAD)),
        }

    # --- conditions -------------------------------------------------------------------------
    def condition_ids(
        self,
        findings: Mapping[str, int | None] | None,
        view: str | None,
        sex: str | None,
        age_bin: str | None,
    ) -> np.ndarray:
        """Condition tokens; ``None`` for a whole argument (or a label absent from ``findings``
        when findings is None) gives NULL, i.e. 'not given'. A label present with value None is
        'unmentioned', which is a given condition."""
        ids = np.full(self.n_conditions, NULL, dtype=np.int64)
        if findings is not None:
            for i, label in enumerate(self.labels):
                if label in findings:
                    state = LABEL_STATES.index(findings[label])
                    ids[i] = self.label_offset + i * len(LABEL_STATES) + state
        n = len(self.labels)
        if view is not None:
            ids[n] = self.view_offset + VIEWS.index(view)
        if sex is not None:
            ids[n + 1] = self.sex_offset + SEXES.index(sex)
        if age_bin is not None:
            ids[n + 2] = self.age_offset + AGE_BINS.index(age_bin)
        return ids

    def assemble(self, conditions: np.ndarray, image_codes: np.ndarray | None, text_ids: Sequence[int] | None) -> np.ndarray:
        """One full sequence; a missing modality is all MASK (to be generated)."""
        seq = np.full(self.seq_len, PAD, dtype=np.int64)
        seq[: self.n_conditions] = conditions
        seq[self.n_conditions] = BOI
        img = seq[self.image_start : self.image_start + self.image_tokens]
        img[:] = MASK if image_codes is None else np.asarray(image_codes) + self.image_offset
        seq[self.image_start + self.image_tokens] = EOI
        seq[self.image_start + self.image_tokens + 1] = BOT
        txt = seq[self.text_start :]
        if text_ids is None:
            txt[:] = MASK
        else:
            body = [t + self.text_offset for t in list(text_ids)[: self.text_length - 1]] + [EOT]
            txt[: len(body)] = body
        return seq

    def split(self, seq: np.ndarray) -> tuple[np.ndarray, list[int]]:
        """(image codes, text ids up to EOT) of a finished sequence."""
        img = seq[self.image_start : self.image_start + self.image_tokens] - self.image_offset
        text = []
        for tok in seq[self.text_start :]:
            if tok in (EOT, PAD):
                break
            text.append(int(tok) - self.text_offset)
        return img, text

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "labels": list(self.labels)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "VocabLayout":
        return cls(**{**data, "labels": tuple(data["labels"])})
