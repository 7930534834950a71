"""run.json: what a run is (config, hashes, versions) and how far it got.

One OUT folder holds one run. The manifest is what makes a rerun a resume instead of a merge:
the same config hash resumes, a different one is refused before anything is written.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from medmint.config import MedmintConfig, config_dict, config_sha256
from medmint.atomic import atomic_write_bytes

RUN_JSON = "run.json"


class OutputFolderError(ValueError):
    """OUT cannot hold this run; the message is the one line the user sees."""


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    import medmint

    deps = ("apache-beam", "pyarrow", "pydicom", "highdicom", "numpy", "pydantic", "torch")
    return {"medmint": medmint.__version__, "python": platform.python_version(), **{d: _version(d) for d in deps}}


@dataclass
class RunManifest:
    path: Path
    data: dict[str, Any]

    @property
    def complete(self) -> bool:
        return self.data.get("status") == "complete"

    @property
    def created_at(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.data["created_at"])

    def save(self) -> None:
        self.data["updated_at"] = _now().isoformat()
        atomic_write_bytes(self.path, (json.dumps(self.data, indent=2, sort_keys=False) + "\n").encode())


def created_at() -> dt.datetime:
    """The run's start time, written into every row; ``SOURCE_DATE_EPOCH`` (the reproducible-builds
    convention) pins it, so two runs of the same config and seed give byte-identical shards."""
    pinned = os.environ.get("SOURCE_DATE_EPOCH")
    if pinned is None:
        return _now()
    try:
        return dt.datetime.fromtimestamp(int(pinned), dt.timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise OutputFolderError(f"SOURCE_DATE_EPOCH={pinned!r}: not a whole number of seconds since 1970") from None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".medmint-write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except FileExistsError:
        raise OutputFolderError(f"{out}: exists and is not a folder") from None
    except OSError as exc:
        raise OutputFolderError(f"{out}: output folder is not writable ({exc.strerror or exc})") from None


def load_run(out: Path, cfg: MedmintConfig) -> RunManifest:
    """The run in OUT, which must be this config's."""
    path = Path(out) / RUN_JSON
    digest = config_sha256(cfg)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        held = data["config_sha256"]
    except FileNotFoundError:
        raise OutputFolderError(f"{path}: no run manifest; start the run with medmint generate") from None
    except (OSError, ValueError, KeyError, TypeError):
        raise OutputFolderError(f"{path}: unreadable run manifest; refusing to write into this folder") from None
    if held != digest:
        raise OutputFolderError(
            f"{out}: holds another run (config sha256 {held[:12]}, this config {digest[:12]}); use a new --out folder"
        )
    return RunManifest(path, data)


def open_run(out: Path, cfg: MedmintConfig, checkpoint_sha256: str | None) -> RunManifest:
    """Start a run in OUT, or resume the one there; refuse an OUT holding something else."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f"{out}: exists and is not a folder")
    path = out / RUN_JSON
    if path.exists():
        manifest = load_run(out, cfg)
        check_writable(out)
        return manifest
    if out.exists() and any(p.name != ".medmint-lock" for p in out.iterdir()):
        raise OutputFolderError(f"{out}: folder is not empty and holds no medmint run; use a new --out folder")
    check_writable(out)
    digest = config_sha256(cfg)
    manifest = RunManifest(
        path,
        {
            "medmint_run": 1,
            "status": "running",
            "created_at": created_at().isoformat(),
            "config_sha256": digest,
            "checkpoint_sha256": checkpoint_sha256,
            "config": config_dict(cfg),
            "versions": versions(),
            "target": config_dict(cfg)["target"],
            "validators": [],
            "rounds": [],
        },
    )
    manifest.save()
    return manifest
