"""A round's requests cut into parts: one Beam job and one pair of shards each.

Why parts: a Beam batch job writes nothing until its last stage runs, so a round run as one job
would lose all of its work to a crash. A part is small enough (``output.shard_rows`` requests) that a
resumed run redoes at most one, and its shards on disk are the proof it finished.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from medmint.pipeline import sinks
from medmint.records import CHEXPERT_LABELS, SampleRequest, label_slug

ACCEPTED, REJECTED = "accepted", "rejected"


@dataclass(frozen=True)
class Part:
    round: int
    index: int
    count: int  # parts in the round
    requests: tuple[SampleRequest, ...]

    def shard(self, kind: str) -> str:
        return sinks.shard_name(kind, self.round, self.index, self.count)

    @property
    def failures(self) -> str:
        return f"data/failed-r{self.round:03d}-{self.index:05d}-of-{self.count:05d}.jsonl"

    @property
    def name(self) -> str:
        return f"r{self.round:03d}-{self.index:05d}"

    def done(self, out: Path) -> bool:
        """Both shards are on disk (written last, after the part's DICOM files)."""
        return all((out / self.shard(kind)).exists() for kind in (ACCEPTED, REJECTED))


def split(requests: Sequence[SampleRequest], round_index: int, shard_rows: int) -> list[Part]:
    count = sinks.part_count(len(requests), shard_rows)
    return [Part(round_index, i, count, tuple(requests[i * shard_rows : (i + 1) * shard_rows])) for i in range(count)]


def earlier_accepted(finished_rounds: Sequence[dict[str, Any]], parts: Sequence[Part], part: Part) -> list[str]:
    """The accepted shards written before ``part`` in the run's fixed order: the rounds before its
    own, then its round's parts before it. The run-wide near-duplicate check compares with their rows,
    so a part rerun alone, or after a crash, sees the same ones."""
    shards = [s for r in finished_rounds if r["round"] < part.round
              for s in r.get("shards", []) if Path(s).name.startswith(f"{ACCEPTED}-")]
    return shards + [p.shard(ACCEPTED) for p in parts[: part.index]]


def finding_counter(label: str) -> str:
    """The counter of accepted samples requested with ``label``, as in run.json and Beam metrics."""
    return f"accepted_{label_slug(label)}"


def shard_counts(out: Path, parts: Sequence[Part]) -> tuple[dict[str, int], set[str]]:
    """Counts (generated, accepted, rejected, rejected per gate, accepted per finding) read back from
    the parts' shards, and the accepted sample ids: the truth a resumed run rebuilds its ledger from."""
    import pyarrow.parquet as pq

    counts: Counter[str] = Counter()
    accepted: set[str] = set()
    for part in parts:
        path = out / part.shard(ACCEPTED)
        names = set(pq.read_schema(path).names)
        slugs = {label: f"requested_{label_slug(label)}" for label in CHEXPERT_LABELS}
        slugs = {label: col for label, col in slugs.items() if col in names}  # config.labels may be fewer
        rows = pq.read_table(path, columns=["sample_id", *slugs.values()]).to_pylist()
        accepted.update(r["sample_id"] for r in rows)
        for r in rows:
            counts.update(finding_counter(label) for label, col in slugs.items() if r[col] == 1)
        rejected = pq.read_table(out / part.shard(REJECTED), columns=["reject_reasons"]).column(0).to_pylist()
        for reasons in rejected:
            counts.update({f"rejected_{gate}" for gate in (r.split(":")[0] for r in reasons)})
        counts["accepted"] += len(rows)
        counts["rejected"] += len(rejected)
        failed = out / part.failures
        if failed.exists():
            counts["generation_failed"] += sum(1 for line in failed.read_text().splitlines() if line)
    counts["generated"] = counts["accepted"] + counts["rejected"]
    return dict(sorted(counts.items())), accepted
