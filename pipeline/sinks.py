"""Where records land: DICOM per element (idempotent) and Parquet per deterministic shard."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterable

from medmint.atomic import atomic_write


def shard_count(total: int, shard_rows: int) -> int:
    return max(1, -(-total // shard_rows))


def shard_name(kind: str, index: int, count: int) -> str:
    return f"data/{kind}-{index:05d}-of-{count:05d}.parquet"


def shard_index(sample_id: str, count: int) -> int:
    """Stable across processes and runs (unlike ``hash``), so a rerun writes the same shards."""
    return int.from_bytes(hashlib.sha256(sample_id.encode()).digest()[:8], "big") % count


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
