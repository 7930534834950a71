"""The Beam job for one generation round, shaped like Beam's RunInference examples.

    python -m medmint.pipeline.job --config configs/demo-phantom.yaml --out OUT --runner=FnApiRunner

``medmint generate`` wraps this with the run manifest (resume, run.json, progress); calling the
job directly runs one round into an OUT that ``open_run`` has already accepted.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Sequence

import apache_beam as beam
from apache_beam.ml.inference.base import RunInference
from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions
from apache_beam.runners.runner import PipelineResult

from medmint.config import MedmintConfig, config_sha256, load_config
from medmint.pipeline import sinks
from medmint.pipeline.handler import GeneratorModelHandler
from medmint.pipeline.planning import plan_requests
from medmint.pipeline.dedupe import NAME as NEAR_DUPLICATE
from medmint.pipeline.dedupe import MarkNearDuplicates
from medmint.pipeline.stages import ACCEPTED, REJECTED, Anonymize, ToRow, Validate, WriteDicom, WriteShard, plan_for


def parse_known_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="medmint.pipeline.job")
    parser.add_argument("--config", required=True, help="medmint YAML config")
    parser.add_argument("--out", required=True, help="output folder (one run per folder)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="KEY=VALUE override")
    parser.add_argument("--round", dest="round_index", type=int, default=0)
    parser.add_argument("--created-at", default=None, help="run start time (ISO 8601), from run.json")
    return parser.parse_known_args(list(argv) if argv is not None else None)


def shard_counts(cfg: MedmintConfig) -> dict[str, int]:
    """Rejected rows carry no pixels, so they pack eight times denser than accepted rows."""
    return {
        ACCEPTED: sinks.shard_count(cfg.target.total, cfg.output.shard_rows),
        REJECTED: sinks.shard_count(cfg.target.total, cfg.output.shard_rows * 8),
    }


def build(
    p: beam.Pipeline, cfg: MedmintConfig, out: str, *, round_index: int, created_at: dt.datetime
) -> dict[str, beam.PCollection]:
    """Adds the labelled steps of one round to ``p``; returns the written shard names per branch."""
    requests = plan_requests(cfg, round_index)
    digest = config_sha256(cfg)
    shards = shard_counts(cfg)
    generated, failed = (
        p
        | "CreateRequests" >> beam.Create(requests, reshuffle=True)
        | "Generate" >> RunInference(GeneratorModelHandler(cfg.generator)).with_exception_handling()
    )
    _ = failed.failed_inferences | "CountFailures" >> beam.Map(_count_failure)
    validated = generated | "Validate" >> beam.ParDo(Validate(cfg))
    near_duplicate = next((r for r in plan_for(cfg)[2] if r["name"] == NEAR_DUPLICATE and r["used"]), None)
    if near_duplicate:
        validated = validated | "RejectNearDuplicates" >> MarkNearDuplicates(near_duplicate["threshold"])
    branches = validated | "Anonymize" >> beam.ParDo(Anonymize(cfg, shards)).with_outputs(ACCEPTED, REJECTED)
    written = {}
    for kind in (ACCEPTED, REJECTED):
        records = branches[kind]
        if kind == ACCEPTED:
            records = records | "WriteDicom" >> beam.ParDo(WriteDicom(cfg, out))
        written[kind] = (
            records
            | f"ToRow[{kind}]" >> beam.ParDo(ToRow(cfg, digest, created_at, with_pixels=kind == ACCEPTED))
            | f"GroupByShard[{kind}]" >> beam.GroupByKey()
            | f"WriteParquet[{kind}]" >> beam.ParDo(WriteShard(cfg.labels, out, with_pixels=kind == ACCEPTED))
        )
    return written


def _count_failure(failure: object) -> object:
    from apache_beam.metrics import Metrics

    Metrics.counter("medmint", "generation_failed").inc()
    return failure


def run(argv: Sequence[str] | None = None, test_pipeline: beam.Pipeline | None = None) -> PipelineResult:
    known, beam_args = parse_known_args(argv)
    cfg = load_config(known.config, known.overrides)
    created_at = (
        dt.datetime.fromisoformat(known.created_at) if known.created_at else dt.datetime.now(dt.timezone.utc)
    )
    options = PipelineOptions(beam_args)
    options.view_as(SetupOptions).save_main_session = False
    p = test_pipeline or beam.Pipeline(options=options)
    build(p, cfg, known.out, round_index=known.round_index, created_at=created_at)
    result = p.run()
    result.wait_until_finish()
    return result


if __name__ == "__main__":
    run()
