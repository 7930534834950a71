"""Checkpoint = a folder that loads without surgery, or fails saying which file is wrong.

    medmint.json                 format + medmint version, layout, architectures, training config,
                                 data summary (label prevalence, co-occurrence, image statistics)
    model.safetensors            the diffusion model
    image_tokenizer.safetensors  the FSQ autoencoder
    text_tokenizer.json          the BPE tokenizer
    critic_<name>.safetensors    critics (the findings classifier)
    SHA256SUMS                   one line per file; loading checks every one

The checkpoint's identity (``checkpoint_sha256``) is the hash of SHA256SUMS, so it names the
exact bytes of every part.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from medmint.atomic import atomic_write, atomic_write_bytes

FORMAT = "medmint-checkpoint"
FORMAT_VERSION = 1
MANIFEST, SUMS = "medmint.json", "SHA256SUMS"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the folder or file at fault."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _finite(obj: Any) -> Any:
    """NaN/inf (e.g. an AUC with no positives) become null: medmint.json stays strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:  # numpy / torch scalars
        return _finite(obj.item())
    return obj


def save_checkpoint(
    directory: str | Path,
    manifest: Mapping[str, Any],
    tensors: Mapping[str, Mapping[str, Any]],
    texts: Mapping[str, str],
) -> str:
    """Write every part atomically, SHA256SUMS last; returns the checkpoint hash.

    ``tensors`` maps a file name (``model.safetensors`` ...) to a state dict; ``texts`` maps a
    file name to its text content (``text_tokenizer.json``).
    """
    from safetensors.torch import save_file

    import medmint

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / SUMS).unlink(missing_ok=True)  # a half-rewritten folder must not verify
    data = {"format": FORMAT, "format_version": FORMAT_VERSION, "medmint_version": medmint.__version__, **manifest}
    files: dict[str, Path] = {}
    text = json.dumps(_finite(data), indent=2, sort_keys=True, allow_nan=False)
    atomic_write_bytes(directory / MANIFEST, (text + "\n").encode())
    files[MANIFEST] = directory / MANIFEST
    for name, state in tensors.items():
        contiguous = {k: v.detach().contiguous().cpu() for k, v in state.items()}
        atomic_write(directory / name, lambda tmp, s=contiguous: save_file(s, str(tmp), metadata={"format": FORMAT}))
        files[name] = directory / name
    for name, text in texts.items():
        atomic_write_bytes(directory / name, text.encode())
        files[name] = directory / name
    sums = "".join(f"{_sha256(p)}  {name}\n" for name, p in sorted(files.items()))
    atomic_write_bytes(directory / SUMS, sums.encode())
    return hashlib.sha256(sums.encode()).hexdigest()


def update_checkpoint(
    directory: str | Path,
    manifest_updates: Mapping[str, Any],
    tensors: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """Add or replace parts of a verified checkpoint (calibration writes its thresholds and the
    privacy index this way); every other file is kept and re-listed in SHA256SUMS."""
    from safetensors.torch import save_file

    ckpt = verify_checkpoint(directory)
    directory = ckpt.directory
    listed = [line.partition("  ")[2] for line in (directory / SUMS).read_text().splitlines()]
    (directory / SUMS).unlink()  # a half-updated folder must not verify
    data = {**ckpt.manifest, **manifest_updates}
    text = json.dumps(_finite(data), indent=2, sort_keys=True, allow_nan=False)
    atomic_write_bytes(directory / MANIFEST, (text + "\n").encode())
    for name, state in (tensors or {}).items():
        contiguous = {k: v.detach().contiguous().cpu() for k, v in state.items()}
        atomic_write(directory / name, lambda tmp, s=contiguous: save_file(s, str(tmp), metadata={"format": FORMAT}))
    names = sorted(set(listed) | set(tensors or {}))
    sums = "".join(f"{_sha256(directory / name)}  {name}\n" for name in names)
    atomic_write_bytes(directory / SUMS, sums.encode())
    return hashlib.sha256(sums.encode()).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    directory: Path
    manifest: dict[str, Any]
    sha256: str

    def path(self, name: str) -> Path:
        return self.directory / name

    def tensors(self, name: str, device: str = "cpu") -> dict[str, Any]:
        from safetensors.torch import load_file

        try:
            return load_file(str(self.path(name)), device=device)
        except Exception as exc:  # safetensors raises its own error types
            raise CheckpointError(f"{self.path(name)}: unreadable tensors ({exc})") from None


def verify_checkpoint(directory: str | Path) -> Checkpoint:
    """Check presence, hashes and versions before anything is loaded."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: checkpoint folder not found")
    sums_path = directory / SUMS
    if not sums_path.is_file():
        raise CheckpointError(f"{sums_path}: missing (not a medmint checkpoint, or an interrupted save)")
    sums_text = sums_path.read_text(encoding="utf-8", errors="replace")
    listed: dict[str, str] = {}
    for n, line in enumerate(sums_text.splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name or "/" in name or name.startswith("."):
            raise CheckpointError(f"{sums_path}: line {n} is not '<sha256>  <file>'")
        listed[name] = digest
    if MANIFEST not in listed:
        raise CheckpointError(f"{sums_path}: does not list {MANIFEST}")
    for name, digest in listed.items():
        path = directory / name
        if not path.is_file():
            raise CheckpointError(f"{path}: missing (listed in {SUMS})")
        if _sha256(path) != digest:
            raise CheckpointError(f"{path}: SHA-256 mismatch (file changed or corrupt)")
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise CheckpointError(f"{directory / MANIFEST}: not valid JSON ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise CheckpointError(f"{directory / MANIFEST}: not a medmint checkpoint (format={manifest.get('format')!r})")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{directory / MANIFEST}: format_version {manifest.get('format_version')} is not supported by this "
            f"medmint (reads version {FORMAT_VERSION})"
        )
    return Checkpoint(directory, manifest, hashlib.sha256(sums_text.encode()).hexdigest())
