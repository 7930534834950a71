"""``medmint anonymize IN OUT``: de-identify every DICOM file of a folder tree into a mirror of it.

IN is only ever opened for reading. Each output is written to a temporary name and renamed, then its
audit record is journaled; a rerun skips files already journaled, so an interrupted run resumes and a
repeated run writes identical bytes (every value is a function of the input, the key and the options).
Files run in a process pool; a bad file stops the run with one line naming it, unless ``skip_bad``.

Decisions a user may ask about:
- Objects without pixel data (SR, KOS, presentation states, RT plans, waveforms) are de-identified
  like images: they carry the same identifiers and are legitimate parts of a corpus.
- A DICOMDIR is not written (an index of a medium, whose byte offsets break when UIDs change): it is
  listed as excluded; rebuild one from OUT if needed.
- Inputs are files named .dcm / .dicom and files whose bytes are DICOM, with or without the preamble
  (``inputs``). One that is empty or not DICOM, cannot be read, is truncated, has no SOP Class /
  Instance UID, or is an image object without Pixel Data (cut short, or stripped: no valid output
  either way) is bad: skipped with its reason, never passed over in silence.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import medmint
from medmint.anonymize.cleaning import Cleaned, clean_text
from medmint.anonymize.dicom_deid import DeidOptions, DeidResult, deidentify, profile_description
from medmint.anonymize.inputs import iter_inputs, not_dicom_reason, read_forced
from medmint.anonymize.keys import DeidKey
from medmint.anonymize.run_state import (
    Journal, append_originals, claim_out_dir, read_journal, write_audit,
)
from medmint.anonymize.screening import exclusion, flags, has_pixels, is_media_directory
from medmint.atomic import atomic_write, atomic_write_bytes, remove_stale_temporaries

DONE = ("ok", "excluded")


class AnonymizeError(ValueError):
    """Bad arguments or a bad input file: the message is the one line the CLI prints."""


class BadFile(Exception):
    """One input file that cannot be de-identified (the reason, without the path)."""


@dataclass
class Outcome:
    """What one file came to: its audit record, and its original values when they were asked for."""

    file: str
    status: str  # ok | excluded | bad
    record: dict[str, Any]
    originals: dict[str, Any] | None = None


@dataclass(frozen=True)
class _Job:
    src: Path
    out: Path
    key: DeidKey
    options: DeidOptions
    keep_originals: bool


def _check_paths(src: Path, out: Path, originals: Path | None) -> None:
    if not src.is_dir():
        raise AnonymizeError(f"{src}: IN is not a folder (no such folder)")
    s, o = src.resolve(), out.resolve()
    if o == s:
        raise AnonymizeError(f"{out}: OUT is IN; write to another folder (IN is never modified)")
    if s in o.parents:
        raise AnonymizeError(f"{out}: OUT is inside IN; choose a folder outside {src}")
    if o in s.parents:
        raise AnonymizeError(f"{out}: IN is inside OUT; choose a folder that does not contain {src}")
    if originals is not None:
        p = originals.resolve()
        if p == o or o in p.parents:
            raise AnonymizeError(f"{originals}: --originals must be outside OUT (OUT is shared without originals)")
        if p == s or s in p.parents:
            raise AnonymizeError(f"{originals}: --originals must be outside IN (IN is never modified)")
        if p.is_dir():
            raise AnonymizeError(f"{originals}: --originals is a folder; give a file path")


def _read(path: Path):  # -> pydicom.Dataset
    import pydicom
    from medmint.generators.datasets.images import truncated_elements  # the loader's check, shared

    why = not_dicom_reason(path)  # empty, text, anything that does not start like DICOM: no guessing
    if why is not None:
        raise BadFile(why)
    try:
        with open(path, "rb") as fh:  # read-only: IN is never modified
            # force: a data set without the preamble and file meta (legal in old files) is read too; the
            # check above already saw that it starts with a data element.
            ds = pydicom.dcmread(fh, force=read_forced(path))
        cut = truncated_elements(ds)
    except Exception as exc:  # noqa: BLE001  pydicom raises many types on bad bytes; all mean "unreadable"
        raise BadFile(f"unreadable DICOM ({type(exc).__name__}: {_one_line(exc)})") from None
    if cut:
        raise BadFile(f"truncated DICOM (file ends inside element {cut[0]})")
    meta = getattr(ds, "file_meta", None)
    sop = ds.get("SOPClassUID") or (meta.get("MediaStorageSOPClassUID") if meta is not None else None)
    name = str(getattr(sop, "name", "") or sop or "")
    if not has_pixels(ds) and ("Rows" in ds or "Image Storage" in name):
        # Pixel Data comes last and is Type 1 in every image IOD: without it the file was cut (pydicom
        # stops silently when a cut falls in an element's header) or stripped; either way no valid output.
        raise BadFile(f"image object without Pixel Data (truncated, or pixels stripped; SOP Class {name!r})")
    return ds


def _one_line(exc: BaseException) -> str:
    return (" ".join(str(exc).split()) or type(exc).__name__)[:200]


def _fix_file_meta(ds) -> None:  # noqa: ANN001
    """Fill the file meta a valid Part 10 file needs from the dataset itself (old writers leave it out)."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    if meta is None:
        meta = ds.file_meta = FileMetaDataset()
    for keyword, meta_keyword in (("SOPClassUID", "MediaStorageSOPClassUID"),
                                  ("SOPInstanceUID", "MediaStorageSOPInstanceUID")):
        value = str(ds.get(keyword, "") or meta.get(meta_keyword, "") or "").strip()
        if not value:
            raise BadFile(f"no {keyword} (in the dataset or its file meta): not a storage instance")
        setattr(meta, meta_keyword, value)
    if not str(meta.get("TransferSyntaxUID", "") or ""):
        implicit, little = ds.original_encoding
        meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else \
            ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def _save(ds, tmp: Path) -> None:  # noqa: ANN001
    """A valid Part 10 file; a value pydicom cannot encode makes the file bad, a full disk stops the run."""
    try:
        ds.save_as(tmp, enforce_file_format=True)
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise BadFile(f"cannot be written as valid DICOM ({type(exc).__name__}: {_one_line(exc)})") from None


def _report_paths(path: Path) -> list[Path]:
    """The sibling report: '<stem>.txt', or '<name>.txt' for files named without extension (as the loader)."""
    return list(dict.fromkeys((path.with_name(path.stem + ".txt"), path.with_name(path.name + ".txt"))))


def _scrub_report(job: _Job, rel: Path, result: DeidResult) -> tuple[Path, Cleaned] | None:
    """The sibling report's relative path and cleaned text (header identifiers + the report scrubber)."""
    for report in _report_paths(job.src / rel):
        if report.is_file():
            text = report.read_text(encoding="utf-8", errors="replace")
            return report.relative_to(job.src), clean_text(text, result.identifiers)
    return None


def process_file(job: _Job, rel: Path) -> Outcome:
    """De-identify one file into OUT (and its report); bad input becomes a 'bad' outcome, not an exception."""
    name = rel.as_posix()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = _read(job.src / rel)
            if is_media_directory(ds):
                return Outcome(name, "excluded", {"file": name, "status": "excluded", "reason": "dicomdir"})
            found = flags(ds)
            why = exclusion(found, exclude_burned_in=job.options.exclude_burned_in,
                            exclude_suspicious=job.options.exclude_suspicious)
            if why is not None:
                return Outcome(name, "excluded", {"file": name, "status": "excluded", "reason": why, "flags": found})
            try:
                _fix_file_meta(ds)
                result = deidentify(ds, job.key, job.options, keep_originals=job.keep_originals)
            except BadFile:
                raise
            except Exception as exc:  # noqa: BLE001  an element whose value does not parse
                raise BadFile(f"unreadable element ({type(exc).__name__}: {_one_line(exc)})") from None
            report = _scrub_report(job, rel, result)
            atomic_write(job.out / rel, lambda tmp: _save(ds, tmp))
            if report is not None:  # after the image: a file counts as done when both are there
                atomic_write_bytes(job.out / report[0], report[1].text.encode("utf-8"))
    except BadFile as exc:
        return Outcome(name, "bad", {"file": name, "status": "bad", "reason": str(exc)})
    counts = Counter(change.action for change in result.changes)
    record: dict[str, Any] = {
        "file": name, "status": "ok", "sop_class": str(ds.file_meta.MediaStorageSOPClassUID),
        "modality": str(ds.get("Modality", "")), "pixel_data": has_pixels(ds), "flags": found,
        "counts": dict(sorted(counts.items())),
        "changes": [[c.path, c.tag, c.action, c.rule] for c in result.changes],
        "report": None if report is None else {"file": report[0].as_posix(), "replaced": report[1].hits,
                                               "kinds": list(report[1].kinds)},
    }
    originals = None
    if job.keep_originals:
        originals = {"file": name, "changes": [{"path": c.path, "tag": c.tag, "action": c.action,
                                                "original": c.original} for c in result.changes]}
    return Outcome(name, "ok", record, originals)


_WORKER_JOB: _Job | None = None


def _init_worker(job: _Job) -> None:
    global _WORKER_JOB
    _WORKER_JOB = job


def _work(rel: Path) -> Outcome:
    assert _WORKER_JOB is not None
    return process_file(_WORKER_JOB, rel)


def _outcomes(job: _Job, todo: list[Path], workers: int) -> Iterator[Outcome]:
    """Outcomes in completion order; at most a few files per worker in flight (bounded memory)."""
    if workers <= 1 or len(todo) <= 1:
        for rel in todo:
            yield process_file(job, rel)
        return
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")  # no fork of a process that runs a progress thread
    ctx.set_forkserver_preload([__name__, "medmint.anonymize.text"])  # workers start with modules loaded
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(job,)) as pool:
        pending: set[Future[Outcome]] = set()
        queue = iter(todo)
        try:
            while True:
                for rel in queue:
                    pending.add(pool.submit(_work, rel))
                    if len(pending) >= 4 * workers:
                        break
                if not pending:
                    return
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()


def anonymize_folder(src: str | os.PathLike[str], out: str | os.PathLike[str], key: DeidKey,
                     options: DeidOptions | None = None, *, workers: int = 1, skip_bad: bool = False,
                     originals: str | os.PathLike[str] | None = None,
                     progress: Callable[[int, int], object] | None = None) -> dict[str, Any]:
    """De-identify every DICOM file under ``src`` into ``out``; returns a summary (the audit has details)."""
    src_path, out_path = Path(src), Path(out)
    originals_path = Path(originals) if originals is not None else None
    options = options or DeidOptions()
    _check_paths(src_path, out_path, originals_path)
    description = profile_description(options)
    settings = {"format": "medmint-anonymize/1", "source": os.fspath(src_path.resolve()), **description,
                "exclude_burned_in": options.exclude_burned_in, "exclude_suspicious": options.exclude_suspicious,
                "key_check": key.fingerprint()}
    claim_out_dir(out_path, settings)
    remove_stale_temporaries(out_path)

    files = [p.relative_to(src_path) for p in iter_inputs(src_path)]
    journaled = read_journal(out_path)

    def complete(rel: Path) -> bool:
        """Journaled as done, and every file it wrote still there (a user may have deleted some)."""
        record = journaled.get(rel.as_posix())
        if record is None or record["status"] not in DONE:
            return False
        report = record.get("report")
        return record["status"] == "excluded" or \
            ((out_path / rel).is_file() and (report is None or (out_path / report["file"]).is_file()))

    todo = [rel for rel in files if not complete(rel)]
    job = _Job(src_path, out_path, key, options, originals_path is not None)
    bad: list[dict[str, str]] = []
    done = len(files) - len(todo)
    if progress is not None:
        progress(done, len(files))
    journal = Journal(out_path)
    try:
        with closing(_outcomes(job, todo, workers)) as outcomes:  # a stop cancels what is still queued
            for outcome in outcomes:
                if outcome.status == "bad":
                    bad.append({"file": outcome.file, "reason": outcome.record["reason"]})
                    if not skip_bad:
                        raise AnonymizeError(f"{src_path / outcome.file}: {outcome.record['reason']} "
                                             "(--skip-bad goes on past bad files)")
                if outcome.originals is not None and originals_path is not None:
                    append_originals(originals_path, outcome.originals)  # before the file counts as done
                journal.append(outcome.record)
                journaled[outcome.file] = outcome.record
                done += 1
                if progress is not None:
                    progress(done, len(files))
    finally:
        journal.close()

    records = [journaled[rel.as_posix()] for rel in files if rel.as_posix() in journaled]
    status = Counter(r["status"] for r in records)
    header = {"medmint": medmint.__version__, **description, "exclude_burned_in": options.exclude_burned_in,
              "exclude_suspicious": options.exclude_suspicious, "files": len(files), "ok": status["ok"],
              "excluded": status["excluded"], "bad": status["bad"],
              "values": "none: paths, tags and actions only (original values only in --originals)"}
    audit = write_audit(out_path, header, records)
    return {"in": os.fspath(src_path), "out": os.fspath(out_path), "files": len(files), "ok": status["ok"],
            "resumed": len(files) - len(todo), "excluded": status["excluded"],
            "flagged": sum(bool(r.get("flags")) for r in records),
            "reports": sum(bool(r.get("report")) for r in records), "bad": bad, "audit": os.fspath(audit),
            "originals": os.fspath(originals_path) if originals_path else None}
