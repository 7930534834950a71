"""What every loader shares: the on_error policy, the LoadReport, and read-once-per-iteration.

A loader's ``_items`` yields a ``TrainingExample`` or, for a bad item, the ``DatasetError`` that
describes it; this base raises it (on_error="raise") or counts it by reason and goes on
(on_error="skip"). Errors about a whole file (unreadable, missing required column) are raised by
``_items`` itself in both modes: such a file has no good items to keep.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Literal

from medmint.generators.datasets.errors import DatasetError
from medmint.generators.datasets.example import TrainingExample
from medmint.generators.datasets.values import check_views

OnError = Literal["raise", "skip"]
_KEEP_MESSAGES = 5


@dataclass
class LoadReport:
    """Counts of one pass over a dataset: loaded, skipped (by reason) and filtered out (by filter)."""

    source: str
    loaded: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    filtered: Counter[str] = field(default_factory=Counter)
    messages: dict[str, list[str]] = field(default_factory=dict)  # first few messages per reason
    complete: bool = False  # True once the iteration ran to the end

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())

    @property
    def n_filtered(self) -> int:
        return sum(self.filtered.values())

    def skip(self, error: DatasetError) -> None:
        self.skipped[error.reason] += 1
        kept = self.messages.setdefault(error.reason, [])
        if len(kept) < _KEEP_MESSAGES:
            kept.append(str(error))

    def summary(self) -> str:
        """One line for a log: 'loaded 20, skipped 3 (missing_image 2, bad_label 1), filtered 4 (view 4)'."""
        def detail(counts: Counter[str]) -> str:
            return " (" + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ")" if counts else ""

        return (f"{self.source}: loaded {self.loaded}, skipped {self.n_skipped}{detail(self.skipped)}, "
                f"filtered {self.n_filtered}{detail(self.filtered)}")

    def as_dict(self) -> dict[str, object]:
        return {"source": self.source, "loaded": self.loaded, "skipped": dict(self.skipped),
                "filtered": dict(self.filtered), "messages": {k: list(v) for k, v in self.messages.items()},
                "complete": self.complete}


class BaseDataset(Iterable[TrainingExample]):
    """Iterable of ``TrainingExample``; each iteration re-reads the source and starts a fresh ``report``."""

    def __init__(self, root: str | os.PathLike[str], *, on_error: OnError = "raise",
                 views: Iterable[str] | None = None) -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
        self.root = Path(root)
        self.on_error: OnError = on_error
        self.views = check_views(views)
        self.report = LoadReport(source=os.fspath(self.root))

    def __iter__(self) -> Iterator[TrainingExample]:
        report = LoadReport(source=os.fspath(self.root))
        self.report = report
        for item in self._items(report):
            if isinstance(item, DatasetError):
                if self.on_error == "raise":
                    raise item
                report.skip(item)
                continue
            report.loaded += 1
            yield item
        report.complete = True

    def _items(self, report: LoadReport) -> Iterator[TrainingExample | DatasetError]:
        raise NotImplementedError

    def _view_selected(self, view: str | None) -> bool:
        return self.views is None or view in self.views

    def __repr__(self) -> str:
        views = "None" if self.views is None else tuple(sorted(self.views))
        return f"{type(self).__name__}({os.fspath(self.root)!r}, on_error={self.on_error!r}, views={views})"
