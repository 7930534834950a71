"""One part as a Beam job, in process: dead letters for generator failures, PHI scrubbed on both branches."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import pyarrow.parquet as pq
import pytest

from medmint.config import load_config
from medmint.pipeline import job
from medmint.pipeline.handler import GeneratorModelHandler
from medmint.pipeline.parts import ACCEPTED, REJECTED, shard_counts, split
from medmint.pipeline.planning import plan_requests
from tests.conftest import CONFIGS

WHEN = dt.datetime(2026, 11, 23, tzinfo=dt.timezone.utc)


def _cfg(*sets: str):
    return load_config(CONFIGS / "demo-phantom.yaml",
                       ["target.total=6", "generator.phantom.size=64", "generator.batch_size=1", *sets])


def test_a_generator_failure_goes_to_the_dead_letters_and_the_rest_is_written(tmp_path, monkeypatch):
    cfg = _cfg()
    (part,) = split(plan_requests(cfg), 0, 16)
    doomed = part.requests[2].sample_id

    class Flaky(GeneratorModelHandler):
        def run_inference(self, batch, model, inference_args=None):
            if any(r.sample_id == doomed for r in batch):
                raise RuntimeError("CUDA error: an illegal memory access was encountered")
            return super().run_inference(batch, model, inference_args)

    monkeypatch.setattr(job, "GeneratorModelHandler", Flaky)
    job.run_part(cfg, tmp_path, part, ["--runner=FnApiRunner"], created_at=WHEN)
    (line,) = (tmp_path / part.failures).read_text().splitlines()
    letter = json.loads(line)
    assert letter["sample_id"] == doomed and "CUDA error: an illegal memory access" in letter["error"]
    counts, accepted = shard_counts(tmp_path, [part])
    assert counts["generation_failed"] == 1 and counts["generated"] == len(part.requests) - 1
    assert doomed not in accepted and part.done(tmp_path)


def test_phi_in_reports_is_scrubbed_before_any_shard(tmp_path, monkeypatch):
    """A generator that regurgitates PHI: the privacy gate rejects those samples, and their rows (which
    keep the report text for the audit) hold tags, not the identifiers."""
    cfg = _cfg()
    (part,) = split(plan_requests(cfg), 0, 16)
    leaky = {r.sample_id for r in part.requests[::2]}
    phi = " Findings discussed with Dr. John Smith on 03/14/2024, MRN 4455667."

    class Leaky(GeneratorModelHandler):
        def run_inference(self, batch, model, inference_args=None):
            return [dataclasses.replace(s, report_findings=s.report_findings + phi)
                    if s.request.sample_id in leaky else s for s in super().run_inference(batch, model, inference_args)]

    monkeypatch.setattr(job, "GeneratorModelHandler", Leaky)
    job.run_part(cfg, tmp_path, part, ["--runner=FnApiRunner"], created_at=WHEN)
    rows = {r["sample_id"]: r for kind in (ACCEPTED, REJECTED) for r in pq.read_table(tmp_path / part.shard(kind)).to_pylist()}
    assert set(rows) == {r.sample_id for r in part.requests}
    for sample_id, r in rows.items():
        assert "Smith" not in r["report_text"] and "03/14/2024" not in r["report_text"] and "4455667" not in r["report_text"]
        if sample_id in leaky:
            assert not r["accepted"] and any(x.startswith("privacy_phi") for x in r["reject_reasons"])
            assert r["phi_scrubbed"] >= 3 and "[NAME]" in r["report_findings"] and "[DATE]" in r["report_text"]
        else:
            assert r["phi_scrubbed"] == 0
