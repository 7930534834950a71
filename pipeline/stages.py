"""The in-line stages between the generator and the sinks, as Beam DoFns."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from medmint.config import MedmintConfig
from medmint.pipeline import sinks
from medmint.pipeline.acceptance import positives_of
from medmint.pipeline.parts import ACCEPTED, REJECTED, Part, finding_counter
from medmint.records import GeneratedSample, OutputRecord, ValidatedSample

NAMESPACE = "medmint"


class Validate(beam.DoFn):
    """Scores each sample with the run's validators (``plan_for``); every failing reason is kept."""

    def __init__(self, cfg: MedmintConfig) -> None:
        self._cfg = cfg
        self._generated = Metrics.counter(NAMESPACE, "generated")

    def setup(self) -> None:
        self._context, validators, _ = plan_for(self._cfg)
        # near-duplicates are a run-wide question: pipeline.dedupe answers it after this step
        self._validators = [v for v in validators if v.name != "image_near_duplicate"]

    def process(self, sample: GeneratedSample) -> Iterator[ValidatedSample]:
        from medmint.validators.registry import validate

        self._generated.inc()
        yield from validate([sample], self._validators, self._context)


def plan_for(cfg: MedmintConfig) -> tuple[Any, list[Any], list[dict[str, Any]]]:
    """(context, validators, run.json record) for a run: the checkpoint's critic, privacy index and
    calibrated thresholds when the generator has a checkpoint, overridden by the config."""
    from medmint.validators.context import load_context
    from medmint.validators.registry import plan_validators

    context, calibrated = load_context(cfg.generator.checkpoint if cfg.generator.name == "diffusion" else None)
    validators, record = plan_validators(cfg.validators, calibrated, context)
    return context, validators, record


class Anonymize(beam.DoFn):
    """Scrubs PHI from the report, mints the synthetic identity and UIDs, names the files and the
    shard, and branches. Rejected rows are written too (with their report text), so both are scrubbed."""

    def __init__(self, cfg: MedmintConfig, part: Part) -> None:
        self._cfg = cfg
        self._part = part
        self._counters = {k: Metrics.counter(NAMESPACE, k) for k in (ACCEPTED, REJECTED, "phi_scrubbed")}

    def process(self, sample: ValidatedSample) -> Iterator[Any]:
        from medmint.anonymize.minting import mint_identity, mint_uids
        from medmint.anonymize.text import scrub_report

        gen = sample.generated
        req = gen.request
        identity = mint_identity(req.sample_id, req.age, req.sex)
        uids = mint_uids(req.sample_id, self._cfg.output.uid_root)
        kind = ACCEPTED if sample.accepted else REJECTED
        findings, impression = (scrub_report(text, mode="tag") for text in (gen.report_findings, gen.report_impression))
        scrubbed = len(findings.hits) + len(impression.hits)
        self._counters["phi_scrubbed"].inc(scrubbed)
        image_path = sr_path = None
        if sample.accepted:
            image_path, sr_path = sinks.dicom_paths(uids.study, uids.image_series, uids.image_sop, uids.sr_series, uids.sr_sop)
            for label in positives_of(req.findings):
                Metrics.counter(NAMESPACE, finding_counter(label)).inc()
        else:
            for gate in sorted({reason.split(":")[0] for reason in sample.reject_reasons}):
                Metrics.counter(NAMESPACE, f"rejected_{gate}").inc()
        self._counters[kind].inc()
        record = OutputRecord(
            validated=sample,
            identity=identity,
            uids=uids,
            image_path=image_path,
            sr_path=sr_path,
            shard=self._part.shard(kind),
            report_findings=findings.text,
            report_impression=impression.text,
            phi_scrubbed=scrubbed,
        )
        yield beam.pvalue.TaggedOutput(kind, record)


class WriteDicom(beam.DoFn):
    """Image (DX for presentation) and report (Comprehensive SR) in one study; skip if present."""

    def __init__(self, cfg: MedmintConfig, out: str) -> None:
        self._cfg = cfg
        self._out = out
        self._written = Metrics.counter(NAMESPACE, "dicom_written")
        self._skipped = Metrics.counter(NAMESPACE, "dicom_skipped")

    def process(self, rec: OutputRecord) -> Iterator[OutputRecord]:
        from medmint.pipeline.dicom_objects import DiagnosticReportSR, DigitalXRayImage

        gen = rec.validated.generated
        req = gen.request
        out = Path(self._out)
        image_file, sr_file = out / rec.image_path, out / rec.sr_path
        if image_file.exists() and sr_file.exists():
            self._skipped.inc()
            yield rec
            return
        institution = self._cfg.output.institution
        image = DigitalXRayImage(
            pixel_array=gen.image,
            bits_stored=gen.bits_stored,
            patient_id=rec.identity.patient_id,
            patient_name=rec.identity.patient_name,
            patient_birth_date=rec.identity.birth_date,
            patient_sex=req.sex,
            patient_age=req.age,
            study_instance_uid=rec.uids.study,
            series_instance_uid=rec.uids.image_series,
            sop_instance_uid=rec.uids.image_sop,
            study_date=rec.identity.study_date,
            study_time=rec.identity.study_time,
            accession_number=rec.identity.accession_number,
            view_position=req.view,
            institution_name=institution,
        )
        report = DiagnosticReportSR(
            image=image,
            findings=rec.report_findings,
            impression=rec.report_impression,
            series_instance_uid=rec.uids.sr_series,
            sop_instance_uid=rec.uids.sr_sop,
            institution_name=institution,
        )
        sinks.write_dicom(image_file, image)
        sinks.write_dicom(sr_file, report)
        self._written.inc()
        yield rec


class ToRow(beam.DoFn):
    """One record as one Parquet row of ``medmint.records.parquet_schema``."""

    def __init__(self, cfg: MedmintConfig, config_sha256: str, created_at: dt.datetime, with_pixels: bool) -> None:
        self._cfg = cfg
        self._sha = config_sha256
        self._created_at = created_at
        self._with_pixels = with_pixels

    def process(self, rec: OutputRecord) -> Iterator[dict[str, Any]]:
        import medmint
        from medmint.pipeline.rows import to_row

        yield to_row(
            rec,
            labels=self._cfg.labels,
            config_sha256=self._sha,
            medmint_version=medmint.__version__,
            created_at=self._created_at,
            with_pixels=self._with_pixels,
        )


class WriteShard(beam.DoFn):
    """Writes the part's shard for one branch from all its rows (an empty list writes an empty shard)."""

    def __init__(self, labels: tuple[str, ...], out: str, shard: str, with_pixels: bool) -> None:
        self._labels = labels
        self._out = out
        self._shard = shard
        self._with_pixels = with_pixels

    def process(self, rows: list[dict[str, Any]]) -> Iterator[str]:
        from medmint.records import parquet_schema

        schema = parquet_schema(self._labels, with_pixels=self._with_pixels)
        sinks.write_parquet_shard(Path(self._out) / self._shard, rows, schema)
        yield self._shard
