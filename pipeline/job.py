"""The Beam job for one part of one generation round, shaped like Beam's RunInference examples.

    python -m medmint.pipeline.job --config CONFIG --out OUT --round R --part P --runner=FnApiRunner

``medmint generate`` (``pipeline/driver.py``) plans the rounds, records them in OUT/run.json and runs
one job per part; run directly, the job reruns part P of the round under way in OUT's run.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any, Iterator, Sequence

import apache_beam as beam
from apache_beam.ml.inference.base import RunInference
from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions
from apache_beam.runners.runner import PipelineResult

from medmint.config import MedmintConfig, config_sha256, load_config
from medmint.pipeline import sinks
from medmint.pipeline.handler import GeneratorModelHandler, torch_threads
from medmint.pipeline.parts import Part, earlier_accepted
from medmint.pipeline.reference import load_reference
from medmint.pipeline.rounds import RunState, round_parts
from medmint.pipeline.run_manifest import load_run
from medmint.pipeline.runners import warm_workers
from medmint.pipeline.worker_pool import WorkerPool, WorkerPoolError, pool_for
from medmint.pipeline.dedupe import NAME as NEAR_DUPLICATE
from medmint.pipeline.dedupe import MarkNearDuplicates, RejectNearEarlierParts
from medmint.pipeline.stages import ACCEPTED, REJECTED, Anonymize, ToRow, Validate, WriteDicom, WriteShard, plan_for


def parse_known_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="medmint.pipeline.job")
    parser.add_argument("--config", required=True, help="medmint YAML config")
    parser.add_argument("--out", required=True, help="output folder holding the run's run.json")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="KEY=VALUE override")
    parser.add_argument("--round", dest="round_index", type=int, default=0)
    parser.add_argument("--part", type=int, default=0)
    return parser.parse_known_args(list(argv) if argv is not None else None)


def build(p: beam.Pipeline, cfg: MedmintConfig, out: str, part: Part, *, created_at: dt.datetime,
          validators: list[dict[str, Any]] | None = None, earlier: Sequence[str] = ()) -> None:
    """Adds the labelled steps of one part to ``p``: requests in, one accepted and one rejected shard
    out (written even when empty), DICOM per accepted sample, dead letters for generator failures.
    ``validators``: the run's validator record (``plan_for``), so the launcher loads the checkpoint's
    critic and index once per run rather than once per part. ``earlier``: the accepted shards of the
    parts before this one (``parts.earlier_accepted``), for the run-wide near-duplicate check."""
    digest = config_sha256(cfg)
    handler = GeneratorModelHandler(cfg.generator, threads=torch_threads(cfg))
    generated, failed = (
        p
        | "CreateRequests" >> beam.Create(list(part.requests), reshuffle=True)
        | "Generate" >> RunInference(handler).with_exception_handling()
    )
    _ = (
        failed.failed_inferences
        | "DeadLetters" >> beam.FlatMap(_dead_letters)
        | "GroupFailures" >> beam.combiners.ToList()
        | "WriteFailures" >> beam.Map(_write_failures, out=out, path=part.failures)
    )
    validated = generated | "Validate" >> beam.ParDo(Validate(cfg))
    validators = plan_for(cfg)[2] if validators is None else validators
    near_duplicate = next((r for r in validators if r["name"] == NEAR_DUPLICATE and r["used"]), None)
    if near_duplicate:
        validated = validated | "RejectNearDuplicates" >> MarkNearDuplicates(near_duplicate["threshold"])
        if earlier:
            validated = validated | "RejectNearEarlierParts" >> beam.ParDo(
                RejectNearEarlierParts(out, earlier, near_duplicate["threshold"]))
    branches = validated | "Anonymize" >> beam.ParDo(Anonymize(cfg, part)).with_outputs(ACCEPTED, REJECTED)
    for kind in (ACCEPTED, REJECTED):
        records = branches[kind]
        if kind == ACCEPTED:
            records = records | "WriteDicom" >> beam.ParDo(WriteDicom(cfg, out))
        _ = (
            records
            | f"ToRow[{kind}]" >> beam.ParDo(ToRow(cfg, digest, created_at, with_pixels=kind == ACCEPTED))
            | f"CollectShard[{kind}]" >> beam.combiners.ToList()  # one (maybe empty) list: the shard
            | f"WriteParquet[{kind}]" >> beam.ParDo(
                WriteShard(cfg.labels, out, part.shard(kind), with_pixels=kind == ACCEPTED))
        )


def _dead_letters(failure: tuple[Any, Any]) -> Iterator[dict[str, str]]:
    """A failed batch names every request in it, with the error, so the part's failures file says which."""
    from apache_beam.metrics import Metrics

    batch, error = failure
    if isinstance(error, tuple) and len(error) >= 2:  # Beam hands (type, repr, traceback lines)
        error = error[1]
    text = (str(error).strip().splitlines() or ["unknown error"])[-1][:500]
    for req in batch if isinstance(batch, (list, tuple)) else [batch]:
        Metrics.counter("medmint", "generation_failed").inc()
        yield {"sample_id": getattr(req, "sample_id", str(req)), "error": text}


def _write_failures(failures: list[dict[str, str]], *, out: str, path: str) -> None:
    if failures:
        sinks.write_failures(Path(out) / path, failures)


def run(argv: Sequence[str] | None = None, test_pipeline: beam.Pipeline | None = None) -> PipelineResult:
    known, beam_args = parse_known_args(argv)
    cfg = load_config(known.config, known.overrides)
    manifest = load_run(Path(known.out), cfg)
    parts = round_parts(cfg, load_reference(cfg), RunState(manifest.data), known.round_index)
    if not 0 <= known.part < len(parts):
        raise ValueError(f"--part {known.part}: round {known.round_index} has parts 0..{len(parts) - 1}")
    part = parts[known.part]
    return run_part(cfg, known.out, part, beam_args, created_at=manifest.created_at, test_pipeline=test_pipeline,
                    earlier=earlier_accepted(RunState(manifest.data).rounds, parts, part))


def run_part(cfg: MedmintConfig, out: str | Path, part: Part, beam_args: Sequence[str], *,
             created_at: dt.datetime, validators: list[dict[str, Any]] | None = None, earlier: Sequence[str] = (),
             pool: WorkerPool | None = None, test_pipeline: beam.Pipeline | None = None) -> PipelineResult:
    """One part as one Beam job. With ``--workers N`` on FnApiRunner the harnesses run in ``pool``'s
    warm processes (the driver keeps one for the whole run); a part run alone starts its own."""
    if pool is None and test_pipeline is None and warm_workers(beam_args):
        with pool_for(cfg, beam_args) as own:
            return run_part(cfg, out, part, beam_args, created_at=created_at, validators=validators,
                            earlier=earlier, pool=own)
    missing = next((shard for shard in earlier if not (Path(out) / shard).exists()), None)
    if missing:
        raise FileNotFoundError(f"{Path(out) / missing}: part {part.name} is checked for near-duplicates against "
                                "the parts before it, and this one's accepted shard is missing: run that part first")
    options = PipelineOptions(list(beam_args))
    options.view_as(SetupOptions).save_main_session = False
    p = test_pipeline or beam.Pipeline(runner=pool.runner() if pool else None, options=options)
    build(p, cfg, str(out), part, created_at=created_at, validators=validators, earlier=earlier)
    try:
        result = p.run()
        result.wait_until_finish()
    except Exception as exc:
        dead = pool.dead() if pool else None
        if dead:  # Beam only says "Channel closed prematurely" or "Error starting worker"
            raise WorkerPoolError(f"{dead} during part {part.name}; the parts before it are kept: rerun the "
                                  "same command to resume") from exc
        raise
    return result


if __name__ == "__main__":
    try:
        run()
    except (ValueError, OSError) as exc:  # bad arguments or OUT: one line, as medmint itself prints
        from medmint.errors import first_line

        raise SystemExit(f"medmint.pipeline.job: error: {first_line(exc)}") from None
