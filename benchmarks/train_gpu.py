"""Train every stage of the default checkpoint on one lent GPU, and bring the checkpoint back in parts.

    python benchmarks/train_gpu.py --out DIR [--config configs/train/phantom-gpu.yaml] [--minutes 9]
        [--work DIR2] [--part-mib 16] [--set KEY=VALUE ...]
    python benchmarks/train_gpu.py --join DIR --dest CKPT

Why: a GPU is lent to a task only now and then, for minutes, and the machine returns only files of
at most 16 MiB from its $OUT folder. So the recipe (configs/train/phantom-gpu.yaml) and this script
are ready before one is lent: one call trains every stage in-process with ``training.train`` within
``--minutes`` (the whole run's wall-time cap, passed as ``max_minutes``: the model stage, last,
anneals its learning rate to finish in time), then copies the finished checkpoint into ``--out``:
every file of at most ``--part-mib`` MiB as it is, a bigger file F as F.part000, F.part001, ...
(each at most the limit), with PARTS.json listing every file's size and SHA-256 and each split
file's parts. ``--work`` holds the training folder (default: a temporary folder, removed when
the call ends); rerunning with the same ``--work`` resumes an interrupted run.

It also writes train_gpu.json into ``--out`` and prints it: wall seconds per stage, the total, the
device's name, torch's version, the config path and ``--set`` overrides, the model steps done and
the checkpoint's SHA-256 (the hash of its SHA256SUMS). train.log.jsonl records no times for most
stages, so each stage's wall seconds are measured in-process at each of its log entries (the same
entries, in the same order, as the log file; from the previous stage's last entry to this stage's
last one); the seconds the log itself records (classifier, image tokenizer and model loops, the
total) are reported beside them as ``logged_seconds``.

``--join DIR --dest CKPT`` (here, after the files come back) reassembles the checkpoint: parts are
concatenated and every file is checked against PARTS.json, then the folder against its own
SHA256SUMS (``verify_checkpoint``) and against the hash train_gpu.json recorded. Any mismatch
fails with one line naming the file at fault.

Works on CPU too (``--set device=cpu``; the tests run it with configs/train/tiny.yaml). CI never
runs the GPU recipe.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import importlib.util
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "configs" / "train" / "phantom-gpu.yaml"
PARTS = "PARTS.json"
RESULT = "train_gpu.json"
LOG = "train.log.jsonl"
PARTS_FORMAT = "medmint-parts"
_PART = re.compile(r"^(?P<file>.+)\.part(?P<index>\d{3,})$")
_BLOCK = 1 << 20
STAGE_NOTE = ("wall seconds from the previous stage's last log entry to this stage's last one, measured in "
              "this call; 'start' is opening the folder, 'done' saving the checkpoint")


class PartsError(ValueError):
    """A checkpoint cannot be cut into parts, or its parts do not make it; the message names the file."""


class JoinError(PartsError):
    """The parts do not make the checkpoint they were cut from; the message names the file at fault."""


# ----------------------------------------------------------------------------------------------
# Splitting and joining
# ----------------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_BLOCK), b""):
            h.update(chunk)
    return h.hexdigest()


def _part_names(name: str, count: int) -> list[str]:
    width = max(3, len(str(count - 1)))
    return [f"{name}.part{i:0{width}d}" for i in range(count)]


def split_into(checkpoint: Path, out: Path, part_bytes: int) -> dict[str, Any]:
    """Copy every file of ``checkpoint`` into ``out``, cutting those over ``part_bytes`` into parts;
    writes and returns the PARTS.json manifest (every file's size and SHA-256, so a join can name
    the one file or part that changed on the way)."""
    if part_bytes < 1:
        raise PartsError(f"part size {part_bytes} bytes: must be at least 1 byte")
    copied: list[dict[str, Any]] = []
    split: list[dict[str, Any]] = []
    for src in sorted(p for p in checkpoint.iterdir()):
        if not src.is_file():
            raise PartsError(f"{src}: not a plain file (a checkpoint folder holds files only)")
        if src.name in (PARTS, RESULT) or _PART.match(src.name):
            raise PartsError(f"{src}: its name is reserved for the parts and their manifest")
        size = src.stat().st_size
        if size <= part_bytes:
            shutil.copyfile(src, out / src.name)
            copied.append({"name": src.name, "size": size, "sha256": _sha256(out / src.name)})
            continue
        names = _part_names(src.name, -(-size // part_bytes))
        whole = hashlib.sha256()
        parts: list[dict[str, Any]] = []
        with open(src, "rb") as fh:
            for name in names:
                chunk = fh.read(part_bytes)
                whole.update(chunk)
                (out / name).write_bytes(chunk)
                parts.append({"name": name, "size": len(chunk), "sha256": hashlib.sha256(chunk).hexdigest()})
            if fh.read(1):
                raise PartsError(f"{src}: grew while it was being split")
        split.append({"name": src.name, "size": size, "sha256": whole.hexdigest(), "parts": parts})
    manifest = {"format": PARTS_FORMAT, "format_version": 1, "part_bytes": part_bytes, "split": split,
                "copied": copied}
    (out / PARTS).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def _read_parts(folder: Path) -> dict[str, Any]:
    path = folder / PARTS
    if not path.is_file():
        raise JoinError(f"{path}: missing (not a folder written by benchmarks/train_gpu.py)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise JoinError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != PARTS_FORMAT:
        raise JoinError(f"{path}: not a {PARTS_FORMAT} manifest")
    try:
        entries = list(manifest["copied"]) + list(manifest["split"])
        files = entries + [part for entry in manifest["split"] for part in entry["parts"]]
        for entry in files:
            name, size, digest = entry["name"], entry["size"], entry["sha256"]
            if not isinstance(name, str) or not name or "/" in name or "\\" in name or name in (".", ".."):
                raise JoinError(f"{path}: lists a bad file name {name!r}")
            if not isinstance(size, int) or size < 0 or not isinstance(digest, str) or len(digest) != 64:
                raise JoinError(f"{path}: bad size or sha256 for {name}")
    except (KeyError, TypeError) as exc:
        raise JoinError(f"{path}: malformed ({exc!r} missing or of the wrong type)") from None
    return manifest


def join_parts(folder: Path, dest: Path) -> Path:
    """``join_and_verify``, returning the rebuilt checkpoint's folder."""
    return join_and_verify(folder, dest).directory


def join_and_verify(folder: Path, dest: Path) -> Any:
    """Rebuild the checkpoint cut by ``split_into`` from ``folder`` into ``dest`` (absent or empty):
    parts concatenated in order, every file and part checked against PARTS.json, then the whole
    folder against its SHA256SUMS (``verify_checkpoint``) and the hash train_gpu.json recorded.
    Raises ``JoinError`` (or ``CheckpointError``) with one line naming the file at fault; nothing
    is left under ``dest`` unless the files matched PARTS.json."""
    from medmint.generators.diffusion.checkpoint import verify_checkpoint

    folder, dest = Path(folder), Path(dest)
    manifest = _read_parts(folder)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise JoinError(f"{dest}: already exists and is not an empty folder; give a new --dest")
    listed_parts = {p["name"] for e in manifest.get("split", []) for p in e["parts"]}
    for path in sorted(folder.iterdir()):
        if _PART.match(path.name) and path.name not in listed_parts:
            raise JoinError(f"{path}: a part that {folder / PARTS} does not list")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.joining-", dir=dest.parent))
    try:
        for entry in manifest.get("copied", []):
            src = folder / entry["name"]
            if not src.is_file():
                raise JoinError(f"{src}: missing (listed in {PARTS})")
            if src.stat().st_size != entry["size"] or _sha256(src) != entry["sha256"]:
                raise JoinError(f"{src}: size or SHA-256 differs from {PARTS} (file changed or corrupt)")
            shutil.copyfile(src, tmp / entry["name"])
        for entry in manifest.get("split", []):
            whole, size = hashlib.sha256(), 0
            with open(tmp / entry["name"], "wb") as fh:
                for part in entry["parts"]:
                    src = folder / part["name"]
                    if not src.is_file():
                        raise JoinError(f"{src}: missing (part of {entry['name']} in {PARTS})")
                    data = src.read_bytes()
                    if len(data) != part["size"] or hashlib.sha256(data).hexdigest() != part["sha256"]:
                        raise JoinError(f"{src}: size or SHA-256 differs from {PARTS} "
                                        f"(part changed or corrupt)")
                    whole.update(data)
                    size += len(data)
                    fh.write(data)
            if size != entry["size"] or whole.hexdigest() != entry["sha256"]:
                raise JoinError(f"{folder / entry['name']}: its joined parts differ from the file "
                                f"{PARTS} lists (size {size} vs {entry['size']}, or SHA-256)")
        os.chmod(tmp, 0o755)  # mkdtemp's 0700 is for the unfinished folder only
        if dest.exists():
            dest.rmdir()
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    ckpt = verify_checkpoint(dest)
    result = folder / RESULT
    if result.is_file():
        try:
            expected = json.loads(result.read_text(encoding="utf-8")).get("checkpoint_sha256")
        except (UnicodeDecodeError, ValueError, AttributeError) as exc:
            raise JoinError(f"{result}: not the JSON object train_gpu.py writes ({exc})") from None
        if expected and expected != ckpt.sha256:
            raise JoinError(f"{dest / 'SHA256SUMS'}: the checkpoint hash {ckpt.sha256} is not the one "
                            f"training returned ({expected}, in {result})")
    return ckpt


# ----------------------------------------------------------------------------------------------
# Stage timings
# ----------------------------------------------------------------------------------------------


def read_log(path: Path) -> list[dict[str, Any]]:
    """The entries of a train.log.jsonl (Python's json reads the NaN it may hold)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def stage_seconds(entries: list[dict[str, Any]], times: list[float]) -> dict[str, float]:
    """Wall seconds per stage: ``times[i]`` is when ``entries[i]`` was logged (seconds since the
    call began); a stage runs from the previous stage's last entry (or 0) to its own last entry.
    A stage logged twice apart (a resumed run) adds up."""
    if len(entries) != len(times):
        raise ValueError(f"{len(entries)} log entries but {len(times)} times")
    out: dict[str, float] = {}
    begin = 0.0
    for i, (entry, t) in enumerate(zip(entries, times)):
        stage = str(entry.get("stage"))
        if i + 1 == len(entries) or entries[i + 1].get("stage") != stage:
            out[stage] = round(out.get(stage, 0.0) + t - begin, 3)
            begin = t
    return out


def logged_seconds(entries: list[dict[str, Any]]) -> dict[str, float]:
    """The largest ``seconds`` each stage itself logged (its training loop's time; "done": the run's)."""
    out: dict[str, float] = {}
    for entry in entries:
        seconds = entry.get("seconds")
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and "stage" in entry:
            out[entry["stage"]] = round(max(out.get(entry["stage"], 0.0), float(seconds)), 3)
    return out


def _device_name(device: str) -> str:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    spec = importlib.util.spec_from_file_location("_medmint_bench_train_throughput", REPO / "benchmarks" / "train_throughput.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.cpu_model()


def _progress(entry: dict[str, Any]) -> None:
    """Training's log entries on stderr, cut short (the classifier's report is long); stdout is
    for the JSON."""
    line = json.dumps(entry, default=str)
    print(line if len(line) <= 240 else line[:237] + "...", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="folder the checkpoint's files and parts go to (new or empty)")
    ap.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                    help="training YAML (default: %(default)s)")
    ap.add_argument("--minutes", type=float, default=9.0,
                    help="wall-time cap of the whole training run, passed to train() as max_minutes")
    ap.add_argument("--work", type=Path,
                    help="training folder's parent; the same --work again resumes (default: a temporary one)")
    ap.add_argument("--part-mib", dest="part_mib", type=float, default=16.0,
                    help="largest file in --out, in MiB (fractions allowed); bigger files are split")
    ap.add_argument("--set", dest="overrides", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                    help="config overrides, e.g. --set device=cpu model.steps=100")
    ap.add_argument("--join", type=Path, metavar="FOLDER", help="reassemble the checkpoint in FOLDER instead")
    ap.add_argument("--dest", type=Path, help="with --join: the checkpoint folder to write")
    args = ap.parse_args(argv)
    if args.join is not None:
        if args.dest is None:
            ap.error("--join needs --dest")
    elif args.out is None:
        ap.error("--out is required (or --join FOLDER --dest DEST)")
    if args.minutes <= 0:
        ap.error("--minutes must be above 0")
    if int(args.part_mib * 2**20) < 1024:
        ap.error("--part-mib must be at least 1 KiB (0.001 MiB)")
    return args


def run(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Train, split the checkpoint into ``args.out``, write and return train_gpu.json's content.
    A temporary work folder is removed either way (its random name could not be resumed); an
    ``--out`` this call created is removed again if training fails before anything is copied."""
    from medmint.config import load_train_config

    out: Path = args.out
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise PartsError(f"{out}: already exists and is not an empty folder; give a new --out")
    cfg = load_train_config(args.config, args.overrides)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    temporary = args.work is None
    work = Path(tempfile.mkdtemp(prefix="medmint-train-gpu-")) if temporary else args.work
    try:
        return _train_and_split(args, cfg, work / "checkpoint", command)
    finally:
        if temporary:
            shutil.rmtree(work, ignore_errors=True)
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()


def _train_and_split(args: argparse.Namespace, cfg: Any, ckpt_dir: Path, command: str) -> dict[str, Any]:
    import torch

    from medmint.generators.diffusion.training import train

    part_bytes = int(args.part_mib * 2**20)
    times: list[float] = []
    stages: list[Any] = []
    t0 = time.perf_counter()

    def log(entry: dict[str, Any]) -> None:
        times.append(time.perf_counter() - t0)
        stages.append(entry.get("stage"))
        _progress(entry)

    sha = train(cfg, ckpt_dir, log=log, max_minutes=args.minutes, command=command)
    total = time.perf_counter() - t0

    entries = read_log(ckpt_dir / LOG)
    mine = entries[-len(times):]  # a resumed run's log starts with the earlier calls' entries
    if [e.get("stage") for e in mine] != stages:
        raise PartsError(f"{ckpt_dir / LOG}: its last {len(times)} entries are not the ones training logged "
                         f"in this call")
    start = next(e for e in mine if e.get("stage") == "start")
    model = next((e for e in reversed(mine) if e.get("stage") == "model" and e.get("done")), {})
    device = str(start.get("device", cfg.device))

    out: Path = args.out
    parts = split_into(ckpt_dir, out, part_bytes)
    result = {
        "benchmark": "train_gpu",
        "device": device,
        "device_name": _device_name(device),
        "torch": torch.__version__,
        "config": str(args.config),
        "overrides": list(args.overrides),
        "config_sha256": start.get("config_sha256"),
        "max_minutes": args.minutes,
        "stage_seconds": stage_seconds(mine, times),
        "stage_seconds_note": STAGE_NOTE,
        "logged_seconds": logged_seconds(mine),
        "total_seconds": round(total, 3),
        "within_minutes": total <= args.minutes * 60,
        "resumed": len(entries) > len(times),
        "model": {k: model.get(k) for k in ("steps_done", "steps_planned", "stopped_early", "parameters")},
        "checkpoint_sha256": sha,
        "part_bytes": part_bytes,
        "split": {e["name"]: len(e["parts"]) for e in parts["split"]},
    }
    (out / RESULT).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    for path in sorted(out.iterdir()):
        if path.stat().st_size > part_bytes:
            raise PartsError(f"{path}: {path.stat().st_size} bytes, over the {part_bytes}-byte limit "
                             f"(raise --part-mib)")
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parse(argv)
    if args.join is not None:
        ckpt = join_and_verify(args.join, args.dest)
        result = {"joined": str(ckpt.directory), "checkpoint_sha256": ckpt.sha256}
    else:
        result = run(args, " ".join(["python", "benchmarks/train_gpu.py", *argv]))
    print(json.dumps(result, indent=1))
    return result


def _expected_errors() -> tuple[type[BaseException], ...]:
    """Errors already phrased as the one line the user sees (anything else keeps its traceback)."""
    from medmint.config import ConfigError
    from medmint.generators.diffusion.checkpoint import CheckpointError
    from medmint.generators.diffusion.training import TrainingError

    return PartsError, ConfigError, CheckpointError, TrainingError, OSError


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:
        if not isinstance(exc, _expected_errors()):
            raise
        sys.exit(f"train_gpu: {exc}")
