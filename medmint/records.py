"""Record types that flow through a job, and the one Parquet schema every shard follows.

Each stage adds fields and never mutates earlier ones, so a record is built by wrapping the
previous one (``GeneratedSample.request``, ``ValidatedSample.generated`` ...). Everything here
is plain data (dataclasses + numpy) so Beam can pickle it and generators, validators and
anonymize can meet without importing each other.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Mapping

if TYPE_CHECKING:  # pyarrow is only needed by the sinks and tests
    import numpy as np
    import pyarrow as pa

CHEXPERT_LABELS: tuple[str, ...] = (
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
)

# The findings the phantom draws (so a generated image can show them): the default findings of a
# rebalancing target and of the findings classifier.
DRAWABLE_FINDINGS: tuple[str, ...] = (
    "Cardiomegaly",
    "Pleural Effusion",
    "Pneumothorax",
    "Consolidation",
    "Lung Lesion",
    "Atelectasis",
    "Edema",
    "Support Devices",
    "Fracture",
)

# CheXpert coding, as in MIMIC-CXR's chexpert label file: 1 positive, 0 negative, -1 uncertain,
# None (blank) unmentioned.
POSITIVE, NEGATIVE, UNCERTAIN = 1, 0, -1
LabelValue = int | None
Labels = Mapping[str, LabelValue]

Task = Literal["joint", "image_from_report", "report_from_image"]
View = Literal["PA", "AP", "LATERAL"]
Sex = Literal["F", "M"]
AGE_BINS: tuple[str, ...] = ("18-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80-89", "90+")


def label_slug(label: str) -> str:
    """Column-safe name of a label: 'Pleural Effusion' -> 'pleural_effusion'."""
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def age_bin(age: int) -> str:
    """The age bin of an age in years (ages over 89 collapse to '90+', as HIPAA asks)."""
    if age >= 90:
        return "90+"
    if age < 30:
        return "18-29"
    lo = (age // 10) * 10
    return f"{lo}-{lo + 9}"


def sample_id_for(run_seed: int, round_index: int, index: int) -> str:
    """Deterministic sample id: the same run seed, round and index always give the same id."""
    digest = hashlib.sha256(f"medmint:{run_seed}:{round_index}:{index}".encode()).hexdigest()
    return f"s{round_index:02d}-{digest[:20]}"


def seed_for(sample_id: str) -> int:
    """A 63-bit sampling seed derived from the sample id (so a resumed run draws the same sample)."""
    return int.from_bytes(hashlib.sha256(sample_id.encode()).digest()[:8], "big") >> 1


def report_text(findings: str, impression: str) -> str:
    """The report as one text, the way the SR and the ``report_text`` column hold it."""
    return f"FINDINGS: {findings}\n\nIMPRESSION: {impression}\n"


@dataclass(frozen=True)
class SampleRequest:
    """What to generate: the prompt and the demographic / view conditions."""

    sample_id: str
    seed: int
    task: Task
    findings: dict[str, LabelValue]
    view: View
    sex: Sex
    age: int
    round: int = 0
    index: int = 0
    report_prompt: str | None = None
    image_prompt: "np.ndarray | None" = field(default=None, compare=False, repr=False)

    @property
    def age_bin(self) -> str:
        return age_bin(self.age)


@dataclass(frozen=True)
class GeneratedSample:
    """A sampled image + report pair with what made it."""

    request: SampleRequest
    image: "np.ndarray" = field(compare=False, repr=False)  # uint16, rows x cols, MONOCHROME2
    bits_stored: int
    report_findings: str
    report_impression: str
    generator: str
    checkpoint_sha256: str | None
    sampling: dict[str, float | int | str]
    seconds: float

    @property
    def report_text(self) -> str:
        return report_text(self.report_findings, self.report_impression)


@dataclass(frozen=True)
class ValidatedSample:
    """A generated sample with every enabled validator's score and, when rejected, every reason."""

    generated: GeneratedSample
    scores: dict[str, float]
    accepted: bool
    reject_reasons: tuple[str, ...]
    report_labels: dict[str, LabelValue] | None
    image_labels: dict[str, LabelValue] | None


@dataclass(frozen=True)
class SyntheticIdentity:
    patient_id: str
    patient_name: str  # DICOM PN form: Family^Given
    birth_date: str  # YYYYMMDD
    study_date: str  # YYYYMMDD
    study_time: str  # HHMMSS
    accession_number: str


@dataclass(frozen=True)
class Uids:
    study: str
    image_series: str
    image_sop: str
    sr_series: str
    sr_sop: str


@dataclass(frozen=True)
class OutputRecord:
    """What gets written: identity, UIDs, file locations (relative to OUT) and shard."""

    validated: ValidatedSample
    identity: SyntheticIdentity
    uids: Uids
    image_path: str | None
    sr_path: str | None
    shard: str
    report_findings: str  # the generated report after PHI scrubbing: what gets written
    report_impression: str
    phi_scrubbed: int = 0

    @property
    def report_text(self) -> str:
        return report_text(self.report_findings, self.report_impression)


# ----------------------------------------------------------------------------------------------
# Parquet schema
# ----------------------------------------------------------------------------------------------

LABEL_PREFIXES: dict[str, str] = {
    "requested": "finding requested in the prompt",
    "report": "label read back from the report text by the report labeler",
    "image": "label read back from the image by the findings classifier",
}


def label_columns(prefix: str, labels: tuple[str, ...] = CHEXPERT_LABELS) -> list[str]:
    return [f"{prefix}_{label_slug(label)}" for label in labels]


def _f(name: str, typ: "pa.DataType", doc: str, nullable: bool = True) -> "pa.Field":
    import pyarrow as pa

    return pa.field(name, typ, nullable=nullable, metadata={b"description": doc.encode()})


def parquet_schema(labels: tuple[str, ...] = CHEXPERT_LABELS, *, with_pixels: bool = True) -> "pa.Schema":
    """The Parquet schema of accepted (with pixels) and rejected (without) shards.

    Label columns are int8 in CheXpert coding (1 positive, 0 negative, -1 uncertain, null
    unmentioned) so ``WHERE requested_pneumothorax = 1`` works in DuckDB and Spark.
    """
    import pyarrow as pa

    fields = [
        _f("sample_id", pa.string(), "deterministic id: hash of run seed, round and index", False),
        _f("round", pa.int32(), "generation round that produced the sample", False),
        _f("sample_index", pa.int64(), "index of the request within its round", False),
        _f("seed", pa.int64(), "sampling seed derived from the sample id", False),
        _f("task", pa.string(), "joint, image_from_report or report_from_image", False),
        _f("view", pa.string(), "view position: PA, AP or LATERAL", False),
        _f("sex", pa.string(), "synthetic patient sex: F or M", False),
        _f("age", pa.int16(), "synthetic patient age in years at the study", False),
        _f("age_bin", pa.string(), "age bin used as a condition", False),
    ]
    for prefix, what in LABEL_PREFIXES.items():
        for label, col in zip(labels, label_columns(prefix, labels)):
            fields.append(_f(col, pa.int8(), f"{label}: {what} (1 pos, 0 neg, -1 uncertain, null unmentioned)"))
    fields += [
        _f("report_findings", pa.string(), "FINDINGS section of the report, PHI scrubbed", False),
        _f("report_impression", pa.string(), "IMPRESSION section of the report, PHI scrubbed", False),
        _f("report_text", pa.string(), "full report text as written into the SR, PHI scrubbed", False),
        _f("phi_scrubbed", pa.int16(), "PHI spans replaced by [KIND] tags before writing "
           "(privacy_phi rejects any, so accepted rows hold 0)", False),
        _f("rows", pa.int32(), "image rows", False),
        _f("columns", pa.int32(), "image columns", False),
        _f("bits_stored", pa.int8(), "bits stored per pixel (unsigned, MONOCHROME2)", False),
        _f("image_dhash", pa.binary(), "576-bit difference hash of the image (24x24, little-endian): the "
           "run-wide near-duplicate check compares it with earlier parts' accepted rows", False),
    ]
    if with_pixels:
        fields.append(_f("image_png", pa.binary(), "image as a lossless 16-bit grayscale PNG", False))
    fields += [
        _f("accepted", pa.bool_(), "true when every enabled validator passed", False),
        _f("reject_reasons", pa.list_(pa.string()),
           "one line per failing validator: '<validator>: <what failed>'", False),
        _f("scores", pa.map_(pa.string(), pa.float64()), "score per validator", False),
        _f("patient_id", pa.string(), "synthetic patient id (minted, never real)", False),
        _f("patient_name", pa.string(), "synthetic patient name, DICOM PN form", False),
        _f("patient_birth_date", pa.string(), "synthetic birth date YYYYMMDD", False),
        _f("study_date", pa.string(), "synthetic study date YYYYMMDD", False),
        _f("accession_number", pa.string(), "synthetic accession number", False),
        _f("study_instance_uid", pa.string(), "minted Study Instance UID", False),
        _f("series_instance_uid", pa.string(), "minted Series Instance UID of the image", False),
        _f("sop_instance_uid", pa.string(), "minted SOP Instance UID of the image", False),
        _f("sr_series_instance_uid", pa.string(), "minted Series Instance UID of the report SR", False),
        _f("sr_sop_instance_uid", pa.string(), "minted SOP Instance UID of the report SR", False),
        _f("image_path", pa.string(), "DICOM image path relative to OUT (null for rejected)"),
        _f("sr_path", pa.string(), "DICOM SR path relative to OUT (null for rejected)"),
        _f("shard", pa.string(), "Parquet shard file holding this row", False),
        _f("generator", pa.string(), "generator name (phantom, diffusion)", False),
        _f("checkpoint_sha256", pa.string(), "SHA-256 of the checkpoint (null for the phantom)"),
        _f("sampling", pa.map_(pa.string(), pa.string()), "sampling parameters", False),
        _f("config_sha256", pa.string(), "SHA-256 of the effective config", False),
        _f("medmint_version", pa.string(), "medmint version that wrote the row", False),
        _f("created_at", pa.timestamp("us", tz="UTC"), "start time of the run (UTC)", False),
    ]
    return pa.schema(fields, metadata={b"medmint.labels": "|".join(labels).encode()})
