"""``medmint generate``: open (or resume) the run in OUT, run the Beam job, record what happened."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

from medmint.config import MedmintConfig, config_sha256, load_config
from medmint.atomic import remove_stale_temporaries
from medmint.pipeline.run_manifest import OutputFolderError, RunManifest, open_run
from medmint.pipeline.runners import runner_args


@contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """One job per OUT at a time: a second job on the same folder fails instead of interleaving."""
    lock_path = out / ".medmint-lock"
    out.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputFolderError(f"{out}: another medmint job is writing to this folder") from None
        yield


def _count_written(out: Path) -> int:
    root = out / "dicom"
    if not root.exists():
        return 0
    return sum(len(files) for _, _, files in os.walk(root)) // 2


def _metrics(result: object) -> dict[str, int]:
    from apache_beam.metrics.metric import MetricsFilter

    counters = result.metrics().query(MetricsFilter().with_namespace("medmint"))["counters"]  # type: ignore[attr-defined]
    totals: dict[str, int] = {}
    for c in counters:
        totals[c.key.metric.name] = totals.get(c.key.metric.name, 0) + int(c.committed or c.attempted or 0)
    return dict(sorted(totals.items()))


def _fill_empty_shards(out: Path, cfg: MedmintConfig) -> None:
    """Every shard named ``-of-N`` exists, even when no row hashed to it (readers glob them)."""
    from medmint.pipeline.job import shard_counts
    from medmint.pipeline.sinks import shard_name, write_parquet_shard
    from medmint.records import parquet_schema

    for kind, count in shard_counts(cfg).items():
        for index in range(count):
            path = out / shard_name(kind, index, count)
            if not path.exists():
                write_parquet_shard(path, [], parquet_schema(cfg.labels, with_pixels=kind == "accepted"))


def generate(
    config_path: str | Path,
    out: str | Path,
    *,
    overrides: Sequence[str] = (),
    beam_args: Sequence[str] = (),
    on_progress: Callable[[int, int], None] | None = None,
) -> RunManifest:
    """Run (or resume) the job; returns the manifest. Config and OUT problems raise before any work."""
    cfg = load_config(config_path, list(overrides))
    args = runner_args(cfg, beam_args)
    from medmint.generators.registry import create_generator

    create_generator(cfg.generator)  # an unavailable generator fails here, before OUT is touched
    checkpoint_sha256 = None
    if cfg.generator.checkpoint:
        from medmint.generators.diffusion.checkpoint import verify_checkpoint

        checkpoint_sha256 = verify_checkpoint(cfg.generator.checkpoint).sha256  # missing/corrupt: fail now
    out = Path(out)
    from medmint.pipeline.stages import plan_for

    _, _, validators = plan_for(cfg)  # a bad validator setting fails here, before anything is written
    manifest = open_run(out, cfg, checkpoint_sha256=checkpoint_sha256)
    manifest.data["validators"] = validators
    if manifest.complete:
        return manifest
    with _exclusive(out):
        remove_stale_temporaries(out)
        manifest.data["status"] = "running"
        manifest.save()
        result_box: dict[str, object] = {}

        def _run() -> None:
            from medmint.pipeline import job

            try:
                argv = ["--config", str(config_path), "--out", str(out), "--created-at", manifest.data["created_at"]]
                argv += [a for ov in overrides for a in ("--set", ov)]
                result_box["result"] = job.run(argv + args)
            except BaseException as exc:  # re-raised in the calling thread
                result_box["error"] = exc

        started = time.perf_counter()
        worker = threading.Thread(target=_run, name="medmint-beam", daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(0.5)
            if on_progress:
                on_progress(_count_written(out), cfg.target.total)
        if "error" in result_box:
            raise result_box["error"]  # type: ignore[misc]
        _fill_empty_shards(out, cfg)
        counts = _metrics(result_box["result"])
        seconds = round(time.perf_counter() - started, 3)
        manifest.data["rounds"] = [
            {"round": 0, "requested": cfg.target.total, "counts": counts, "seconds": seconds,
             "acceptance_rate": round(counts.get("accepted", 0) / max(1, counts.get("generated", 0)), 4)}
        ]
        manifest.data["config_sha256"] = config_sha256(cfg)
        manifest.data["counts"] = counts
        manifest.data["runner_args"] = args
        manifest.data["status"] = "complete"
        manifest.save()
        if on_progress:
            on_progress(_count_written(out), cfg.target.total)
    return manifest
