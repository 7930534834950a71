"""``medmint audit OUT``: run the expectation suite over a finished run and say whether to trust it.

Reads OUT/run.json and the accepted / rejected shards (pixels left on disk), runs the suite of
``validators/expectations.py``, writes Great Expectations' results and Data Docs under
OUT/report/expectations/, hands the outcome to the HTML report (``pipeline/audit_report.py``), which
also judges fitness for use (``validators/fitness.py``), and returns an ``AuditResult``: its verdict
decides the exit code (0 PASS or WARN, 1 FAIL; 2 is bad input).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from medmint.atomic import atomic_write_bytes
from medmint.pipeline.run_manifest import RUN_JSON

EXIT_PASSED, EXIT_FAILED = 0, 1
REPORT_DIR = "report"
EXPECTATIONS_DIR = "report/expectations"
RESULTS_JSON = "report/expectations/validation_results.json"
DATA_DOCS = "report/expectations/data_docs"
PIXELS = "image_png"


class AuditInputError(ValueError):
    """OUT cannot be audited; the message is the one line the user sees (exit 2)."""


@dataclass
class AuditResult:
    passed: bool  # not FAIL: no schema fault, no fitness miss at severity "fail"
    expectations: list[dict[str, Any]]  # {name, passed, column, observed, expected, details}; failing first
    counts: dict[str, int]
    paths: dict[str, str] = field(default_factory=dict)  # what was written, relative to OUT
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    verdict: str = ""  # PASS | WARN | FAIL; set from the suite alone when the report is not written
    fitness: list[dict[str, Any]] = field(default_factory=list)  # validators/fitness.py checks, as dicts

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [e for e in self.expectations if not e["passed"]]

    @property
    def missed(self) -> list[dict[str, Any]]:
        """Fitness checks that warned or failed."""
        return [c for c in self.fitness if c["status"] in ("warn", "fail")]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict.lower()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False, default=str)


@dataclass
class Corpus:
    """A run as the suite reads it: run.json and every shard's rows without pixels."""

    out: Path
    run: dict[str, Any]
    accepted: Any  # pa.Table
    rejected: Any  # pa.Table
    schemas: dict[str, Any]  # shard path relative to OUT -> pa.Schema
    files: dict[str, list[str]]  # kind -> shard of each row, in table order
    pixel_nulls: Any  # np.ndarray[bool], one per accepted row


def read_run(out: Path) -> dict[str, Any]:
    """run.json of a finished run, or ``AuditInputError`` naming what is wrong with OUT."""
    if not out.exists():
        raise AuditInputError(f"{out}: no such folder")
    if not out.is_dir():
        raise AuditInputError(f"{out}: not a folder")
    path = out / RUN_JSON
    if not path.is_file():
        raise AuditInputError(f"{path}: missing (not a medmint generate output folder)")
    try:
        run = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AuditInputError(f"{path}: unreadable ({exc})") from None
    if not isinstance(run, dict) or "target" not in run:
        raise AuditInputError(f"{path}: not a medmint run manifest")
    if run.get("status") != "complete":
        raise AuditInputError(f"{path}: status is {run.get('status')!r}, not 'complete' "
                              "(rerun medmint generate to finish the run)")
    return run


def _pixel_nulls(pf: Any) -> Any:
    """Which rows have no image, read from the row groups' statistics (pixels are read only for a
    row group whose statistics say it has nulls or say nothing)."""
    import numpy as np

    meta = pf.metadata
    names = pf.schema_arrow.names
    if PIXELS not in names:
        return np.ones(meta.num_rows, bool)
    col = names.index(PIXELS)
    parts = []
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(col).statistics
        n = meta.row_group(g).num_rows
        if stats is not None and stats.has_null_count and stats.null_count == 0:
            parts.append(np.zeros(n, bool))
        else:
            parts.append(pf.read_row_group(g, columns=[PIXELS])[PIXELS].is_null().to_numpy(zero_copy_only=False))
    return np.concatenate(parts) if parts else np.zeros(0, bool)


def read_corpus(out: Path, run: dict[str, Any]) -> Corpus:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from medmint.records import CHEXPERT_LABELS, parquet_schema

    labels = tuple(run.get("config", {}).get("labels") or CHEXPERT_LABELS)
    data = out / "data"
    shards = {kind: sorted(data.glob(f"{kind}-*.parquet")) for kind in ("accepted", "rejected")}
    if not any(shards.values()):
        raise AuditInputError(f"{data}: no accepted-*.parquet or rejected-*.parquet shards")
    tables: dict[str, list[pa.Table]] = {"accepted": [], "rejected": []}
    files: dict[str, list[str]] = {"accepted": [], "rejected": []}
    schemas: dict[str, pa.Schema] = {}
    pixel_nulls = []
    for kind, paths in shards.items():
        for path in paths:
            rel = path.relative_to(out).as_posix()
            try:
                pf = pq.ParquetFile(path)
                schemas[rel] = pf.schema_arrow
                table = pf.read(columns=[n for n in pf.schema_arrow.names if n != PIXELS])
                if kind == "accepted":
                    pixel_nulls.append(_pixel_nulls(pf))
            except (OSError, pa.ArrowException) as exc:
                raise AuditInputError(f"{path}: unreadable Parquet ({str(exc).splitlines()[0]})") from None
            tables[kind].append(table)
            files[kind] += [rel] * table.num_rows
    joined = {}
    for kind in tables:
        empty = parquet_schema(labels, with_pixels=False).empty_table()
        try:
            joined[kind] = pa.concat_tables([empty, *tables[kind]], promote_options="permissive")
        except (pa.ArrowException, ValueError) as exc:
            raise AuditInputError(f"{data}: {kind} shards do not combine ({str(exc).splitlines()[0]})") from None
    nulls = np.concatenate(pixel_nulls) if pixel_nulls else np.zeros(0, bool)
    return Corpus(out, run, joined["accepted"], joined["rejected"], schemas, files, nulls)


def _write_data_docs(context: Any, out: Path) -> Path:
    """Build GX's Data Docs into a fresh folder and swap it in, so no stale page survives."""
    final = out / DATA_DOCS
    building = final.with_name(f".data_docs-building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    context.add_data_docs_site("medmint", {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(building)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    context.build_data_docs(site_names=["medmint"])
    old = final.with_name(f".data_docs-old-{os.getpid()}")
    if final.exists():
        final.rename(old)
    building.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final / "index.html"


def audit(out: Path, *, reference: Path | None = None, write_html: bool = True) -> AuditResult:
    """Run the expectation suite over OUT, write its results (and the HTML report), say pass / fail."""
    from medmint.validators.expectations import run_suite

    out = Path(out)
    started = time.perf_counter()
    run = read_run(out)
    if reference is not None and not Path(reference).exists():
        raise AuditInputError(f"{reference}: no such reference manifest")
    corpus = read_corpus(out, run)
    read_s = time.perf_counter() - started

    t = time.perf_counter()
    suite = run_suite(out, run, corpus.accepted, corpus.rejected, corpus.schemas, corpus.files,
                      pixel_nulls=corpus.pixel_nulls)
    suite_s = time.perf_counter() - t

    t = time.perf_counter()
    results = {"success": suite.passed, "suites": {k: r.to_json_dict() for k, r in suite.gx_results.items()}}
    atomic_write_bytes(out / RESULTS_JSON, (json.dumps(results, indent=2, default=str) + "\n").encode())
    docs = _write_data_docs(suite.context, out)
    docs_s = time.perf_counter() - t

    result = AuditResult(
        passed=suite.passed,
        expectations=suite.expectations,
        counts={"accepted": corpus.accepted.num_rows, "rejected": corpus.rejected.num_rows,
                "shards": len(corpus.schemas), "expectations": len(suite.expectations),
                "failed": sum(not e["passed"] for e in suite.expectations)},
        paths={"validation_results": RESULTS_JSON, "data_docs": docs.relative_to(out).as_posix()},
        seconds={"read": round(read_s, 3), "suite": round(suite_s, 3), "expectations_output": round(docs_s, 3)},
        verdict="PASS" if suite.passed else "FAIL",
    )
    if write_html:
        from medmint.pipeline.audit_report import build_report

        t = time.perf_counter()
        written, judged = build_report(out, suite=suite.expectations, manifest=run, reference=reference)
        result.paths["report"] = _relative(out, written)
        result.verdict, result.fitness = judged["verdict"], judged["fitness"]
        result.passed = result.verdict != "FAIL"
        result.seconds["report"] = round(time.perf_counter() - t, 3)
    else:
        result.notes.append("fitness not judged (report not written): the verdict covers the expectation suite only")
    result.seconds["total"] = round(time.perf_counter() - started, 3)
    return result


def _relative(out: Path, written: Path) -> str:
    path = Path(written)
    try:
        return path.resolve().relative_to(out.resolve()).as_posix()
    except ValueError:
        return str(path)
