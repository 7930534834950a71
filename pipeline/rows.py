"""Flatten an OutputRecord into one Parquet row of ``medmint.records.parquet_schema``."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import numpy as np

from medmint.records import LABEL_PREFIXES, OutputRecord, label_slug
from medmint.validators.image_quality import dhash_bytes


def png16(image: np.ndarray) -> bytes:
    """Lossless 16-bit grayscale PNG (deterministic bytes for the same pixels)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint16)).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def _labels(prefix: str, values: dict[str, int | None] | None, labels: tuple[str, ...]) -> dict[str, int | None]:
    values = values or {}
    return {f"{prefix}_{label_slug(label)}": values.get(label) for label in labels}


def to_row(
    rec: OutputRecord,
    *,
    labels: tuple[str, ...],
    config_sha256: str,
    medmint_version: str,
    created_at: dt.datetime,
    with_pixels: bool,
) -> dict[str, Any]:
    val = rec.validated
    gen = val.generated
    req = gen.request
    row: dict[str, Any] = {
        "sample_id": req.sample_id,
        "round": req.round,
        "sample_index": req.index,
        "seed": req.seed,
        "task": req.task,
        "view": req.view,
        "sex": req.sex,
        "age": req.age,
        "age_bin": req.age_bin,
    }
    sources = {"requested": req.findings, "report": val.report_labels, "image": val.image_labels}
    assert set(sources) == set(LABEL_PREFIXES)
    for prefix, values in sources.items():
        row.update(_labels(prefix, values, labels))
    row.update(
        report_findings=rec.report_findings,
        report_impression=rec.report_impression,
        report_text=rec.report_text,
        phi_scrubbed=rec.phi_scrubbed,
        rows=int(gen.image.shape[0]),
        columns=int(gen.image.shape[1]),
        bits_stored=gen.bits_stored,
        image_dhash=dhash_bytes(gen.image),
    )
    if with_pixels:
        row["image_png"] = png16(gen.image)
    row.update(
        accepted=val.accepted,
        reject_reasons=list(val.reject_reasons),
        scores=sorted(val.scores.items()),
        patient_id=rec.identity.patient_id,
        patient_name=rec.identity.patient_name,
        patient_birth_date=rec.identity.birth_date,
        study_date=rec.identity.study_date,
        accession_number=rec.identity.accession_number,
        study_instance_uid=rec.uids.study,
        series_instance_uid=rec.uids.image_series,
        sop_instance_uid=rec.uids.image_sop,
        sr_series_instance_uid=rec.uids.sr_series,
        sr_sop_instance_uid=rec.uids.sr_sop,
        image_path=rec.image_path,
        sr_path=rec.sr_path,
        shard=rec.shard,
        generator=gen.generator,
        checkpoint_sha256=gen.checkpoint_sha256,
        sampling=sorted((k, str(v)) for k, v in gen.sampling.items()),
        config_sha256=config_sha256,
        medmint_version=medmint_version,
        created_at=created_at,
    )
    return row
