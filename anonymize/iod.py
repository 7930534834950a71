"""What a file's IOD requires of an attribute: its Type (1, 1C, 2, 2C, 3) at a path, from PS3.3's module tables.

Table E.1-1's actions ("X", "Z", "X/Z" ...) assume the attribute may go or be empty; an IOD may say
otherwise (Presentation Creation Date is Type 1 in presentation states; a Type 3 sequence that is present
needs at least one item). The de-identifier asks this module so that no output is less valid than its
input. The module tables are the ones highdicom (a dependency) ships as data, parsed from the standard.

``attribute_type`` answers per SOP Class and keyword path (the keywords of the enclosing sequences, then
the attribute's own): a Type; ``NOT_IN_IOD`` when the IOD describes the enclosing level and does not list
the attribute (its removal cannot make the file invalid); ``UNKNOWN`` when the IOD or the level is not
described (an unknown SOP Class, a nested content item deeper than the tables go, highdicom absent).
"""

from __future__ import annotations

import json
import pkgutil
from functools import lru_cache
from typing import Any

NOT_IN_IOD = "absent"
UNKNOWN = "unknown"
REQUIRED = frozenset({"1", "1C"})  # present means non-empty (Type 1C: present only when required, then as 1)
PRESENCE = frozenset({"1", "1C", "2", "2C"})  # must stay present when the input has it
_STRICTNESS = {"1": 0, "1C": 1, "2": 2, "2C": 3, "3": 4}


@lru_cache(maxsize=1)
def _standard() -> tuple[dict[str, str], dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]] | None:
    """(SOP Class -> IOD, IOD -> modules, module -> attributes), or None when the tables cannot be read."""
    try:
        maps = [json.loads(pkgutil.get_data("highdicom", f"_standard/{name}.json") or b"")
                for name in ("sop_class_iod_map", "iod_module_map", "module_attribute_map")]
    except Exception:  # noqa: BLE001  highdicom missing or its data moved: every answer becomes UNKNOWN
        return None
    return maps[0], maps[1], maps[2]


@lru_cache(maxsize=256)
def _iod_index(sop_class_uid: str) -> tuple[dict[tuple[str, ...], str], frozenset[tuple[str, ...]]] | None:
    """path -> the strictest Type any module of the IOD gives it; and the sequence levels described."""
    standard = _standard()
    if standard is None:
        return None
    sop_iod, iod_modules, module_attributes = standard
    iod = sop_iod.get(sop_class_uid)
    if iod is None or iod not in iod_modules:
        return None
    types: dict[tuple[str, ...], str] = {}
    levels: set[tuple[str, ...]] = {()}
    for module in iod_modules[iod]:
        for attribute in module_attributes.get(module["key"], []):
            path = (*attribute["path"], attribute["keyword"])
            levels.add(tuple(attribute["path"]))
            kind = attribute["type"]
            if path not in types or _STRICTNESS.get(kind, 9) < _STRICTNESS.get(types[path], 9):
                types[path] = kind
    return types, frozenset(levels)


def attribute_type(sop_class_uid: str, path: tuple[str, ...]) -> str:
    """The Type of the attribute at ``path`` in the IOD of ``sop_class_uid`` (see the module docstring)."""
    index = _iod_index(str(sop_class_uid or "").strip())
    if index is None or not path or not all(path):
        return UNKNOWN
    types, levels = index
    found = types.get(path)
    if found is not None:
        return found
    return NOT_IN_IOD if path[:-1] in levels else UNKNOWN
