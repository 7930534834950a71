"""Where records land: DICOM per element (idempotent) and Parquet per deterministic shard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from medmint.atomic import atomic_write, atomic_write_bytes


def part_count(requests: int, shard_rows: int) -> int:
    return max(1, -(-requests // shard_rows))


def shard_name(kind: str, round_index: int, part: int, parts: int) -> str:
    """One accepted and one rejected shard per part of a round; sortable, and globbed by readers as
    ``data/accepted-*.parquet``."""
    return f"data/{kind}-r{round_index:03d}-{part:05d}-of-{parts:05d}.parquet"


def dicom_paths(study: str, series: str, sop: str, sr_series: str, sr_sop: str) -> tuple[str, str]:
    return f"dicom/{study}/{series}/{sop}.dcm", f"dicom/{study}/{sr_series}/{sr_sop}.dcm"


def write_dicom(path: Path, dataset: Any) -> bool:
    """Write one DICOM file unless it is already there; returns whether it wrote."""
    if path.exists():
        return False
    from pydicom import dcmwrite

    atomic_write(path, lambda tmp: dcmwrite(tmp, dataset, enforce_file_format=True))
    return True


def write_parquet_shard(path: Path, rows: Iterable[dict[str, Any]], schema: Any) -> int:
    """Rows sorted by sample id, so the same rows give the same file whatever order they came in."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ordered = sorted(rows, key=lambda r: r["sample_id"])
    table = pa.Table.from_pylist(ordered, schema=schema)
    atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd", write_statistics=True))
    return len(ordered)


def write_failures(path: Path, failures: Iterable[dict[str, Any]]) -> int:
    """The dead letters of one part (requests the generator raised on), as JSON lines."""
    ordered = sorted(failures, key=lambda f: f["sample_id"])
    text = "".join(json.dumps(f, sort_keys=True) + "\n" for f in ordered)
    atomic_write_bytes(path, text.encode())
    return len(ordered)
