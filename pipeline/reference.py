"""The reference: which label combinations occur together, and how often, for the planner to draw from.

Rebalancing asks for more of a rare finding, but a pneumothorax study drawn on its own would be
unrealistic (in real reports it comes with chest tubes, rib fractures, ICU lines). So the planner
never invents combinations: it draws whole rows of the reference, conditioned on the finding it
needs. Three sources:

- ``phantom``: the phantom's MIMIC-like prior (``generators.phantom.sample_labels``), drawn once per
  process with a fixed seed (so plans are reproducible) and cached.
- a CSV / Parquet manifest with CheXpert label columns (exact names or snake_case, any subset):
  the distinct rows of full label values (1, 0, -1, unmentioned) and their counts.
- ``checkpoint``: ``data_summary["combinations"]`` in the checkpoint's ``medmint.json``, a list of
  ``{"labels": [positive labels], "count": n}``. Prevalence and pairwise co-occurrence alone cannot
  give whole combinations, so a checkpoint without it falls back to the phantom prior, and says so.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import numpy as np

from medmint.config import ConfigError
from medmint.records import CHEXPERT_LABELS, LabelValue

if TYPE_CHECKING:
    from medmint.config import MedmintConfig

log = logging.getLogger(__name__)

UNMENTIONED = -9  # the int8 code of an unmentioned (None) label
PHANTOM_DRAWS = 100_000
PHANTOM_SEED = 20240601
NO_FINDING = "No Finding"


@dataclass(frozen=True)
class Reference:
    """Distinct label combinations over ``CHEXPERT_LABELS`` and how many studies carry each."""

    source: str
    values: np.ndarray  # (combinations, 14) int8: 1, 0, -1 or UNMENTIONED
    counts: np.ndarray  # (combinations,) int64, all > 0
    fallback: str | None = None  # why the configured reference was replaced, for run.json and the log

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, LabelValue]], source: str) -> Reference:
        """Count distinct rows (labels missing from a row are unmentioned)."""
        return cls.from_counted(((row, 1) for row in rows), source)

    @classmethod
    def from_counted(cls, rows: Iterable[tuple[Mapping[str, LabelValue], int]], source: str,
                     fallback: str | None = None) -> Reference:
        """Like ``from_rows`` for rows that come with their count."""
        tally: Counter[tuple[int, ...]] = Counter()
        for row, count in rows:
            tally[tuple(UNMENTIONED if row.get(k) is None else int(row[k]) for k in CHEXPERT_LABELS)] += count
        if not tally:
            raise ConfigError(f"target.reference: {source} holds no label rows")
        keys = sorted(tally)  # a fixed order, so draws do not depend on reading order
        return cls(source, np.array(keys, dtype=np.int8).reshape(len(keys), len(CHEXPERT_LABELS)),
                   np.array([tally[k] for k in keys], dtype=np.int64), fallback)

    @functools.cached_property
    def positives(self) -> np.ndarray:
        """(combinations, 14) bool: which labels are positive in each combination."""
        return self.values == 1

    @property
    def studies(self) -> int:
        return int(self.counts.sum())

    def prevalence(self) -> dict[str, float]:
        """Share of studies in which each label is positive."""
        shares = (self.positives * self.counts[:, None]).sum(axis=0) / self.studies
        return {label: float(s) for label, s in zip(CHEXPERT_LABELS, shares)}

    def findings(self, index: int) -> dict[str, LabelValue]:
        """Combination ``index`` as a request's findings (label -> 1 / 0 / -1 / None)."""
        row = self.values[index]
        return {label: None if v == UNMENTIONED else int(v) for label, v in zip(CHEXPERT_LABELS, row)}


def positive_row(labels: Iterable[str]) -> dict[str, LabelValue]:
    """A positives-only combination as a full row: listed labels 1, others unmentioned, and
    'No Finding' 1 exactly when nothing else is positive (as the phantom and the labeler do)."""
    row: dict[str, LabelValue] = {label: 1 for label in labels if label != NO_FINDING}
    row[NO_FINDING] = None if row else 1
    return row


@functools.lru_cache(maxsize=2)
def phantom_reference(n: int = PHANTOM_DRAWS, seed: int = PHANTOM_SEED) -> Reference:
    """``n`` draws of the phantom prior from one fixed-seed stream (about 2 s for 100 000; cached)."""
    from medmint.generators.phantom import sample_labels

    rng = np.random.default_rng(seed)
    source = f"phantom prior ({n} draws, seed {seed})"
    return Reference.from_rows((sample_labels(rng) for _ in range(n)), source)


def manifest_reference(path: str | os.PathLike[str]) -> Reference:
    """Distinct label rows of a CSV / Parquet manifest (reusing the training-data table readers)."""
    from medmint.generators.datasets.errors import DatasetError
    from medmint.generators.datasets.tables import open_table
    from medmint.generators.datasets.values import Bad, label_columns, read_labels

    def rows() -> Iterable[dict[str, LabelValue]]:
        for row in table.rows():
            if isinstance(row, DatasetError):
                raise row
            try:
                yield read_labels(row.cells, columns)
            except Bad as exc:
                raise table.bad(row, exc) from None

    try:
        table = open_table(path)
        columns = label_columns(table.header, required=False, path=os.fspath(path))
        if not columns:
            raise ConfigError(f"target.reference: {os.fspath(path)}: no CheXpert label columns (e.g. "
                              f"'Pneumothorax' or 'pneumothorax'; columns: {', '.join(table.header)[:200]})")
        return Reference.from_rows(rows(), f"manifest {os.fspath(path)}")
    except DatasetError as exc:
        raise ConfigError(f"target.reference: {exc}") from None


def _combinations(raw: Any, where: str) -> list[tuple[list[str], int]]:
    """Validate ``data_summary.combinations``; every problem is one line naming the entry."""
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}: expected a non-empty list of {{'labels': [...], 'count': n}}")
    out = []
    for i, entry in enumerate(raw):
        labels = entry.get("labels") if isinstance(entry, dict) else None
        count = entry.get("count") if isinstance(entry, dict) else None
        if not isinstance(labels, list) or isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigError(f"{where}[{i}]: expected {{'labels': [positive labels], 'count': n >= 1}}, "
                              f"got {entry!r:.80}")
        unknown = [lab for lab in labels if lab not in CHEXPERT_LABELS]
        if unknown:
            raise ConfigError(f"{where}[{i}]: unknown label {unknown[0]!r}")
        out.append((labels, count))
    return out


def checkpoint_reference(checkpoint: str | os.PathLike[str]) -> Reference:
    """The checkpoint's training combinations, or the phantom prior with the reason logged."""
    manifest = Path(checkpoint) / "medmint.json"
    try:
        summary = json.loads(manifest.read_text(encoding="utf-8")).get("data_summary") or {}
    except FileNotFoundError:
        raise ConfigError(f"{manifest}: no such file (target.reference is the checkpoint)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
        raise ConfigError(f"{manifest}: unreadable ({str(exc)[:120]})") from None
    if "combinations" in summary:
        combos = _combinations(summary["combinations"], f"{manifest}: data_summary.combinations")
        return Reference.from_counted(((positive_row(labels), n) for labels, n in combos),
                                      f"checkpoint {os.fspath(checkpoint)} (training combinations)")
    reason = (f"{manifest} has no data_summary.combinations (prevalence and pairwise co-occurrence "
              f"cannot give whole label combinations); drawing from the phantom prior instead")
    log.warning(reason)
    phantom = phantom_reference()
    return Reference(phantom.source, phantom.values, phantom.counts, fallback=reason)


def load_reference(cfg: MedmintConfig) -> Reference:
    """The reference ``cfg.target.reference`` names (``auto``: the checkpoint's when there is one)."""
    choice = cfg.target.reference
    if choice == "auto":
        choice = "checkpoint" if cfg.generator.checkpoint else "phantom"
    if choice == "phantom":
        return phantom_reference()
    if choice == "checkpoint":
        return checkpoint_reference(cfg.generator.checkpoint or "")
    if not Path(choice).is_file():
        raise ConfigError(f"target.reference: {choice!r} is not auto, checkpoint, phantom or an existing "
                          f"CSV / Parquet manifest")
    return manifest_reference(choice)
