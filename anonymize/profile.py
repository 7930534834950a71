"""PS3.15 Annex E Table E.1-1 as data: which action the confidentiality profile asks for, per attribute.

The table ships as a CSV in ``data/`` (see ``data/README.md`` for its provenance) so a new edition is a
new file, not a code change, and tests can walk the very rows the de-identifier follows.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

EDITION = "2026c"
TABLE_FILE = f"ps3.15_e1-1_{EDITION}.csv"
# The action codes of Table E.1-1; compound ones ("X/Z/D") are resolved by ``deid.resolve_action``.
ACTIONS = frozenset({"D", "Z", "X", "K", "C", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*"})


@dataclass(frozen=True)
class Rule:
    """One row of Table E.1-1; option columns hold "C" where that option keeps the attribute cleaned."""

    tag: str  # "(0010,0010)", or a masked "(60xx,3000)" for repeating groups
    keyword: str
    name: str
    vr: str
    basic: str
    retain_long_modified_dates: str
    clean_descriptors: str

    def action(self, *, modified_dates: bool = False, clean_descriptors: bool = False) -> str:
        """The action under the Basic Profile with the given options (an option's "C" wins)."""
        if modified_dates and self.retain_long_modified_dates:
            return self.retain_long_modified_dates
        if clean_descriptors and self.clean_descriptors:
            return self.clean_descriptors
        return self.basic

    def matches(self, tag: int) -> bool:
        text = f"{tag:08X}"
        pattern = self.tag[1:5] + self.tag[6:10]
        return all(p in ("x", t) for p, t in zip(pattern, text))


class ProfileTable:
    """The rows of Table E.1-1, looked up by tag (exact first, then masked repeating-group rows)."""

    def __init__(self, edition: str, rules: tuple[Rule, ...]) -> None:
        self.edition, self.rules = edition, rules
        self._exact = {_tag_value(r.tag): r for r in rules if "x" not in r.tag}
        self._masked = tuple(r for r in rules if "x" in r.tag)

    def lookup(self, tag: int) -> Rule | None:
        rule = self._exact.get(tag)
        return rule if rule is not None else next((r for r in self._masked if r.matches(tag)), None)


def _tag_value(tag: str) -> int:
    return int(tag[1:5] + tag[6:10], 16)


def parse_table(text: str, edition: str) -> ProfileTable:
    """Rows of the CSV text (lines starting with '#' are provenance comments)."""
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    rules = []
    for row in csv.DictReader(lines):
        rule = Rule(**{k: (v or "").strip() for k, v in row.items()})
        if rule.basic not in ACTIONS:
            raise ValueError(f"{TABLE_FILE}: {rule.tag}: unknown action {rule.basic!r}")
        rules.append(rule)
    return ProfileTable(edition, tuple(rules))


@lru_cache(maxsize=1)
def load_table() -> ProfileTable:
    """The packaged 2026c table (read once per process)."""
    return parse_table(files("medmint.anonymize").joinpath("data", TABLE_FILE).read_text(encoding="utf-8"), EDITION)
