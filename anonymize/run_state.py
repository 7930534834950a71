"""What an ``anonymize`` run keeps in OUT so it can be resumed: its settings, a journal, the audit log.

``OUT/.medmint-anonymize/run.json`` holds the settings a rerun must match (source, profile, options, a
key check value - never the key). ``journal.jsonl`` gets one line per finished file, appended as
files finish; a torn last line from a crash is ignored. At the end the journal is compiled
into ``OUT/anonymize-audit.jsonl``, sorted by file, with no timestamps: a rerun writes the same bytes.
Hidden names, so loaders that walk OUT for DICOM files never see them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from medmint.atomic import atomic_write_bytes
from medmint.pipeline.run_manifest import check_writable

STATE_DIR = ".medmint-anonymize"
RUN_FILE = "run.json"
JOURNAL_FILE = "journal.jsonl"
AUDIT_FILE = "anonymize-audit.jsonl"


class RunStateError(ValueError):
    """OUT holds something a run cannot resume from or safely write beside."""


def _dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def claim_out_dir(out: Path, settings: dict[str, Any]) -> None:
    """Create OUT (or accept an earlier run of the same settings there) and prove it is writable."""
    state = out / STATE_DIR
    marker = state / RUN_FILE
    if out.exists() and not out.is_dir():
        raise RunStateError(f"{out}: exists and is not a folder")
    if marker.is_file():
        try:
            previous = json.loads(marker.read_text())
        except ValueError:
            raise RunStateError(f"{marker}: unreadable run settings; choose a new OUT folder") from None
        if previous != settings:
            changed = sorted(k for k in set(previous) | set(settings) if previous.get(k) != settings.get(k))
            raise RunStateError(f"{out}: holds an anonymize run with other settings ({', '.join(changed)} differ); "
                                "choose a new OUT folder")
    elif out.is_dir() and any(p.name != STATE_DIR for p in out.iterdir()):
        raise RunStateError(f"{out}: folder is not empty and holds no anonymize run; choose an empty or new folder")
    check_writable(out)  # the generate job's check: one line naming OUT
    state.mkdir(exist_ok=True)
    if not marker.is_file():
        atomic_write_bytes(marker, (json.dumps(settings, indent=2, sort_keys=True) + "\n").encode())


def read_journal(out: Path) -> dict[str, dict[str, Any]]:
    """file -> its last journaled record (lines a crash tore are skipped)."""
    path = out / STATE_DIR / JOURNAL_FILE
    records: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return records
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("file"), str):
            records[record["file"]] = record
    return records


class Journal:
    """Append-only, flushed per record; starts on a fresh line if a crash tore the last one.

    Not fsynced: outputs are (``atomic_write``), so a record lost with the OS only means that file is
    done again, to the same bytes.
    """

    def __init__(self, out: Path) -> None:
        path = out / STATE_DIR / JOURNAL_FILE
        self._fh = open(path, "a+b")
        self._fh.seek(0, os.SEEK_END)
        if self._fh.tell():
            self._fh.seek(-1, os.SEEK_END)
            if self._fh.read(1) != b"\n":
                self._fh.write(b"\n")

    def append(self, record: dict[str, Any]) -> None:
        self._fh.write((_dumps(record) + "\n").encode("utf-8"))
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def append_originals(path: Path, record: dict[str, Any]) -> None:
    """One line of original values, written before the file counts as done (owner-only permissions)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "ab") as fh:
        fh.write((_dumps(record) + "\n").encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())


def write_audit(out: Path, header: dict[str, Any], records: Iterable[dict[str, Any]]) -> Path:
    """The audit log: a header line, then one line per file in path order."""
    lines = [_dumps({"audit": header})] + [_dumps(r) for r in sorted(records, key=lambda r: r["file"])]
    path = out / AUDIT_FILE
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))
    return path
