"""Write-then-rename, so a crash never leaves a half-written file under a final name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

TMP_MARK = ".medmint-tmp-"
_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary sibling, fsync it, then rename it onto ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_MARK}{os.getpid()}-{path.name}")
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # some writers (safetensors) create 0600 files
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def remove_stale_temporaries(root: Path) -> int:
    """Delete temporaries a killed run left behind; returns how many."""
    count = 0
    for tmp in root.rglob(f"{TMP_MARK}*"):
        tmp.unlink(missing_ok=True)
        count += 1
    return count
