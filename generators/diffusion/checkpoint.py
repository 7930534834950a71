"""Checkpoint = a folder that loads without surgery, or fails saying which file is wrong.

    medmint.json                 format + medmint version, layout, architectures, training config,
                                 data summary (label prevalence, co-occurrence, image statistics)
    model.safetensors            the diffusion model
    image_tokenizer.safetensors  the FSQ autoencoder
    text_tokenizer.json          the BPE tokenizer
    critic_<name>.safetensors    critics (the findings classifier)
    SHA256SUMS                   one line per file; loading checks every one

The checkpoint's identity (``checkpoint_sha256``) is the hash of SHA256SUMS, so it names the
exact bytes of every part. Matching hashes say the files are the ones SHA256SUMS was written for, not
that they load: ``preflight_checkpoint`` also parses every safetensors header and checks each tensor's
name, dtype, shape and byte span against the modules medmint.json describes (built on torch's meta
device, so no weights are read), which is what ``medmint generate`` runs before it touches OUT.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
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


# ----------------------------------------------------------------------------------------------
# Pre-flight: every tensor file parses and matches the architecture medmint.json describes
# ----------------------------------------------------------------------------------------------

# safetensors dtype -> (bytes per element, kind); kind "float" loads into a float module (the model is
# saved in float16 and cast up), anything else must match exactly.
_DTYPES: dict[str, tuple[int, str]] = {
    "F64": (8, "float"), "F32": (4, "float"), "F16": (2, "float"), "BF16": (2, "float"),
    "F8_E4M3": (1, "float"), "F8_E5M2": (1, "float"),
    "I64": (8, "I64"), "I32": (4, "I32"), "I16": (2, "I16"), "I8": (1, "I8"),
    "U64": (8, "U64"), "U32": (4, "U32"), "U16": (2, "U16"), "U8": (1, "U8"), "BOOL": (1, "BOOL"),
}
_TORCH_KIND = {"int64": "I64", "int32": "I32", "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL"}
_MAX_HEADER = 100 << 20  # the safetensors format's own limit on the JSON header


def read_safetensors_header(path: str | Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """{tensor name: (dtype, shape)} of a safetensors file, after checking what ``load_file`` would
    trip over later: the 8-byte header length, the JSON header, each tensor's dtype, shape and byte
    span, and that the spans tile the data section exactly (a truncated or padded file fails).
    Reads the header only; raises ``CheckpointError`` naming the file and the fault."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            prefix = fh.read(8)
            if len(prefix) < 8:
                raise CheckpointError(f"{path}: not a safetensors file ({size} bytes, no header length)")
            (length,) = struct.unpack("<Q", prefix)
            if length > min(size - 8, _MAX_HEADER):
                raise CheckpointError(f"{path}: corrupt safetensors header (declares {length} header bytes, "
                                      f"the file has {size - 8} after the length)")
            raw = fh.read(length)
    except OSError as exc:
        raise CheckpointError(f"{path}: unreadable ({exc.strerror or exc})") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"{path}: corrupt safetensors header (not JSON: {exc})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: corrupt safetensors header (a JSON {type(header).__name__}, not an object)")
    header.pop("__metadata__", None)
    data_size = size - 8 - length
    tensors: dict[str, tuple[str, tuple[int, ...]]] = {}
    spans: list[tuple[int, int, str]] = []
    for name, info in header.items():
        where = f"{path}: tensor {name!r}"
        if not isinstance(info, dict):
            raise CheckpointError(f"{where}: corrupt header entry ({info!r})")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if dtype not in _DTYPES:
            raise CheckpointError(f"{where}: unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise CheckpointError(f"{where}: corrupt shape {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(isinstance(o, int) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1]):
            raise CheckpointError(f"{where}: corrupt data_offsets {offsets!r}")
        need = math.prod(shape) * _DTYPES[dtype][0]
        if offsets[1] - offsets[0] != need:
            raise CheckpointError(f"{where}: {dtype} {tuple(shape)} needs {need} bytes, the header gives it "
                                  f"{offsets[1] - offsets[0]}")
        tensors[name] = (dtype, tuple(shape))
        spans.append((offsets[0], offsets[1], name))
    end = 0
    for begin, stop, name in sorted(spans):
        if begin != end:
            what = "overlaps the tensor before it" if begin < end else f"leaves a gap of {begin - end} bytes before it"
            raise CheckpointError(f"{path}: tensor {name!r}: {what} (corrupt data_offsets)")
        end = stop
    if end != data_size:
        problem = "truncated" if end > data_size else "has trailing bytes"
        raise CheckpointError(f"{path}: {problem}: the header describes {end} bytes of tensor data, the file "
                              f"holds {data_size}")
    return tensors


def _expected_state(module_factory: Any) -> dict[str, tuple[str, tuple[int, ...]]]:
    """{name: (kind, shape)} of a module's state dict, built on the meta device (no memory, no init)."""
    import torch

    with torch.device("meta"):
        module = module_factory()
    return {k: ("float" if v.is_floating_point() else _TORCH_KIND.get(str(v.dtype).removeprefix("torch."), "?"),
                tuple(v.shape)) for k, v in module.state_dict().items()}


def _compare(path: Path, found: dict[str, tuple[str, tuple[int, ...]]],
             expected: dict[str, tuple[str, tuple[int, ...]]]) -> None:
    missing = [k for k in expected if k not in found]
    if missing:
        more = f" (+{len(missing) - 1} more)" if len(missing) > 1 else ""
        raise CheckpointError(f"{path}: tensor {missing[0]!r} missing{more}, which medmint.json's architecture needs")
    extra = [k for k in found if k not in expected]
    if extra:
        more = f" (+{len(extra) - 1} more)" if len(extra) > 1 else ""
        raise CheckpointError(f"{path}: unexpected tensor {extra[0]!r}{more}, not in medmint.json's architecture")
    for name, (kind, shape) in expected.items():
        dtype, got = found[name]
        if got != shape:
            raise CheckpointError(f"{path}: tensor {name!r} has shape {got}, medmint.json's architecture needs {shape}")
        if _DTYPES[dtype][1] != kind:
            raise CheckpointError(f"{path}: tensor {name!r} is {dtype}, medmint.json's architecture needs "
                                  f"{'a float type' if kind == 'float' else kind}")


def _architectures(ckpt: Checkpoint) -> dict[str, Any]:
    """File name -> a factory of the module whose state dict the file must hold (as the loaders build them)."""
    from medmint.generators.diffusion.image_tokenizer import ImageTokenizer
    from medmint.generators.diffusion.model import MeDiMModel

    m = ckpt.manifest
    modules: dict[str, Any] = {}
    if "model" in m:
        modules["model.safetensors"] = lambda: MeDiMModel.from_json(m["model"])
    if "image_tokenizer" in m:
        modules["image_tokenizer.safetensors"] = lambda: ImageTokenizer.from_json(m["image_tokenizer"]["config"])
    for critic in (m.get("critics") or {}).values():
        if isinstance(critic, dict) and critic.get("file") and "config" in critic:
            from medmint.validators.findings_classifier import FindingsClassifier

            modules[critic["file"]] = lambda c=critic: FindingsClassifier.from_json(c["config"])
    return modules


def preflight_checkpoint(directory: str | Path) -> Checkpoint:
    """``verify_checkpoint``, then every safetensors file's header parsed and each tensor checked
    against the architecture medmint.json describes: a checkpoint that passes here loads. Costs the
    headers and a meta-device build of each module (no weights read); raises ``CheckpointError``
    naming the file and the tensor at fault."""
    ckpt = verify_checkpoint(directory)
    listed = [line.partition("  ")[2] for line in (ckpt.directory / SUMS).read_text().splitlines()]
    headers = {name: read_safetensors_header(ckpt.path(name)) for name in listed if name.endswith(".safetensors")}
    try:
        modules = _architectures(ckpt)
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"{ckpt.path(MANIFEST)}: architecture incomplete ({exc!r} missing)") from None
    for name, factory in modules.items():
        if name not in headers:
            raise CheckpointError(f"{ckpt.path(name)}: missing (medmint.json describes it; not in {SUMS})")
        try:
            expected = _expected_state(factory)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{ckpt.path(MANIFEST)}: cannot build the module for {name} "
                                  f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
        _compare(ckpt.path(name), headers[name], expected)
    return ckpt
