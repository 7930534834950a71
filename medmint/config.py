"""Configs: a tree of small YAML files, merged, overridden from the CLI, validated by pydantic.

A config file may list other files under ``defaults:`` (paths relative to itself); they are
merged first, in order, and the file's own keys win. ``--set a.b=value`` overrides come last.
Every leaf remembers which file set it, so a bad key or value is reported against the file the
user has to edit, in one line.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from pathlib import Path
from typing import Any, Iterable, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from medmint.records import CHEXPERT_LABELS, DRAWABLE_FINDINGS


class ConfigError(ValueError):
    """A config problem, already phrased as the one line the user sees."""


# Without a samples budget, a run stops after this many times target.total generated samples.
DEFAULT_BUDGET_FACTOR = 10


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PhantomConfig(_Strict):
    size: int = Field(256, ge=64, le=1024, description="image rows = columns, in pixels")
    phi: bool = Field(False, description="inject PHI into reports and headers (anonymization tests only)")


class GeneratorConfig(_Strict):
    name: Literal["phantom", "diffusion"] = "phantom"
    checkpoint: str | None = Field(None, description="checkpoint folder (diffusion)")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    batch_size: int = Field(16, ge=1, le=4096)
    threads: int | None = Field(
        None, ge=1, le=1024, description="torch threads per worker; default: cores / runner.workers when workers > 1")
    phantom: PhantomConfig = PhantomConfig()


def share_count(share: float, total: int) -> int:
    """Samples that make ``share`` of ``total``, rounded up ("at least p" must not round down)."""
    return math.ceil(share * total - 1e-9)


def _unknown_findings(names: Iterable[str]) -> str | None:
    """The one-line complaint about the first name that is not a CheXpert label, else None."""
    for name in names:
        if name not in CHEXPERT_LABELS:
            close = difflib.get_close_matches(name, CHEXPERT_LABELS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(CHEXPERT_LABELS)}"
            return f"unknown finding {name!r} ({hint})"
    return None


class BalanceConfig(_Strict):
    """Per-finding minimums of the accepted corpus; a finding "has" a sample when it is positive (1).

    - ``none``: no per-finding goal; label combinations follow the reference.
    - ``at_least``: every finding in ``findings`` in at least ``prevalence`` x total samples.
    - ``raise_rare``: the reference distribution with rare findings raised to ``prevalence``: every
      finding in ``findings`` in at least max(prevalence, its reference prevalence) x total samples.
    - ``uniform``: every finding in ``findings`` in the same number of samples, share x total, where
      share is ``prevalence`` or, when omitted, 1 / len(findings) (the flat class histogram). It is a
      minimum and, within ``target.tolerance``, a maximum the planner avoids overshooting.
    - ``counts``: ``counts[finding]`` samples for each finding named there (``findings`` is ignored);
      like ``uniform``, the count is aimed at exactly, within the tolerance.
    """

    mode: Literal["none", "uniform", "at_least", "counts", "raise_rare"] = "none"
    prevalence: float | None = Field(None, description="share of target.total (at_least, raise_rare, uniform)")
    counts: dict[str, int] = Field(default_factory=dict, description="finding -> accepted samples (counts)")
    findings: tuple[str, ...] = Field(DRAWABLE_FINDINGS, description="findings the goal applies to")

    @field_validator("prevalence")
    @classmethod
    def _share(cls, v: float | None) -> float | None:
        if v is not None and not 0 < v <= 1:
            raise ValueError("a prevalence is a share of target.total, above 0 and at most 1")
        return v

    @field_validator("counts")
    @classmethod
    def _counts_known(cls, v: dict[str, int]) -> dict[str, int]:
        problem = _unknown_findings(v)
        if problem:
            raise ValueError(problem)
        for name, n in v.items():
            if n < 0:
                raise ValueError(f"counts[{name!r}] = {n} is negative")
        return v

    @field_validator("findings")
    @classmethod
    def _findings_known(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        problem = _unknown_findings(v)
        if problem:
            raise ValueError(problem)
        if len(set(v)) != len(v):
            raise ValueError(f"{sorted({f for f in v if v.count(f) > 1})[0]!r} is listed twice")
        return v

    @model_validator(mode="after")
    def _mode_needs(self) -> "BalanceConfig":
        needs_share = self.mode in ("at_least", "raise_rare")
        if needs_share and self.prevalence is None:
            raise ValueError(f"mode {self.mode!r} needs a prevalence (e.g. prevalence: 0.15)")
        if self.mode in ("none", "counts") and self.prevalence is not None:
            raise ValueError(f"prevalence {self.prevalence} is not used by mode {self.mode!r}")
        if self.mode == "counts" and not self.counts:
            raise ValueError("mode 'counts' needs counts, e.g. counts: {Pneumothorax: 100}")
        if self.mode != "counts" and self.counts:
            raise ValueError(f"counts are only used by mode 'counts' (mode is {self.mode!r})")
        if self.mode not in ("none", "counts") and not self.findings:
            raise ValueError(f"mode {self.mode!r} needs at least one finding in findings")
        return self

    def minimums(self, total: int) -> dict[str, int]:
        """Accepted samples each finding needs, before any reference is known (raise_rare adds that)."""
        if self.mode == "counts":
            return dict(self.counts)
        if self.mode == "none":
            return {}
        share = self.prevalence if self.prevalence is not None else 1.0 / len(self.findings)
        return {f: share_count(share, total) for f in self.findings}

    @property
    def exact(self) -> bool:
        """Whether the wanted counts are also maxima (within the tolerance) the planner steers under."""
        return self.mode in ("uniform", "counts")


class BudgetConfig(_Strict):
    samples: int | None = Field(
        None, description=f"most samples generated over all rounds; default {DEFAULT_BUDGET_FACTOR} x total")
    hours: float | None = Field(None, description="most wall-clock hours over all rounds; default no limit")

    @field_validator("samples", "hours")
    @classmethod
    def _not_zero(cls, v: float | None) -> float | None:
        if v is not None and v <= 0:
            raise ValueError("a budget of zero (or less) generates nothing; give more or leave it out")
        return v


class TargetConfig(_Strict):
    total: int = Field(..., ge=1, description="accepted samples wanted")
    task: Literal["joint", "image_from_report", "report_from_image"] = "joint"
    views: dict[Literal["PA", "AP"], float] = Field(default_factory=lambda: {"PA": 0.6, "AP": 0.4})
    balance: BalanceConfig = BalanceConfig()
    tolerance: StrictInt | StrictFloat = Field(
        0.01, description="slack for 'met': a whole number is a count, a number below 1 a share of total")
    max_surplus: float = Field(0.05, ge=0, le=1, description="most accepted beyond total, as a share of it")
    budget: BudgetConfig = BudgetConfig()
    reference: str = Field(
        "auto", description="label combinations to draw from: checkpoint, phantom, a CSV/Parquet manifest "
                            "path, or auto (checkpoint when generator.checkpoint is set, else phantom)")

    @field_validator("views")
    @classmethod
    def _weights_positive(cls, v: dict[str, float]) -> dict[str, float]:
        if not v or any(w < 0 for w in v.values()) or sum(v.values()) <= 0:
            raise ValueError("view weights must be non-negative and not all zero")
        return v

    @field_validator("tolerance")
    @classmethod
    def _tolerance(cls, v: int | float) -> int | float:
        if v < 0:
            raise ValueError("tolerance cannot be negative")
        if isinstance(v, float) and v >= 1:
            raise ValueError("a share of total must be below 1; write a whole number (e.g. 4) for a count")
        return v

    @model_validator(mode="after")
    def _possible(self) -> "TargetConfig":
        mins = self.balance.minimums(self.total)
        for name, n in mins.items():
            if n > self.total:
                raise ValueError(f"balance.counts[{name!r}] = {n} is more than total = {self.total}")
        limit = self.budget.samples
        for name, n in mins.items():
            if limit is not None and n > limit:
                raise ValueError(f"balance: {name} needs at least {n} accepted samples "
                                 f"but budget.samples is {limit}")
        if limit is not None and self.total > limit:
            raise ValueError(f"total = {self.total} needs at least that many generated samples "
                             f"but budget.samples is {limit}")
        normal = mins.get("No Finding", 0)
        other = max(((n, f) for f, n in mins.items() if f != "No Finding"), default=(0, ""))
        if normal and other[0] and normal + other[0] > self.total:
            raise ValueError(f"balance: 'No Finding' excludes every other finding, so No Finding {normal} + "
                             f"{other[1]} {other[0]} cannot fit in total = {self.total}")
        return self

    @property
    def tolerance_count(self) -> int:
        """The tolerance in samples (a share is taken of ``total``, rounded down)."""
        if isinstance(self.tolerance, int):
            return self.tolerance
        return math.floor(self.tolerance * self.total + 1e-9)

    @property
    def surplus_count(self) -> int:
        """Most accepted samples allowed beyond ``total``."""
        return math.floor(self.max_surplus * self.total + 1e-9)

    @property
    def max_samples(self) -> int:
        """The samples budget, or the default multiple of ``total`` (the job must stop somewhere)."""
        return self.budget.samples if self.budget.samples is not None else DEFAULT_BUDGET_FACTOR * self.total


class OutputConfig(_Strict):
    shard_rows: int = Field(256, ge=1, description="requests per part of a round: one Beam job, one accepted and "
                            "one rejected Parquet shard; a crash redoes at most one part")
    uid_root: str | None = Field(
        None, pattern=r"^[0-9]+(\.[0-9]+)*\.$", description="org UID root ending in '.', else 2.25. UUID UIDs"
    )
    institution: str = "medmint synthetic"


class RunnerConfig(_Strict):
    """Where the Beam job runs. Runner-specific options (--job_endpoint, --project, ...) go on the
    command line, not here; ``medmint.pipeline.runners`` checks them before any work."""

    # The one list of runners: pipeline/runners.py reads it from this Literal.
    runner: Literal[
        "FnApiRunner", "PortableRunner", "FlinkRunner", "SparkRunner", "DataflowRunner", "DirectRunner",
        "PrismRunner",
    ] = Field("FnApiRunner", description="Beam runner; FnApiRunner runs in-process (or --workers processes)")
    workers: int = Field(1, ge=1, le=256, description="local worker processes (FnApiRunner, DirectRunner, "
                         "PrismRunner); SDK worker processes per node on Flink, Spark and PortableRunner")


class AuditConfig(_Strict):
    """When the audit verdict says WARN: fitness for use, not schema. Each figure is read against a
    baseline the run itself measures (real-vs-real in the same feature space, the critic's held-out
    F1, the share the planner asked for), so the thresholds are ratios and gaps, not absolutes."""

    frechet_ratio_max: float = Field(2.0, gt=0, description="Frechet distance of accepted images vs real, at "
                                     "most this many times the real-vs-real baseline of the same size")
    precision_ratio_min: float = Field(0.75, ge=0, le=1, description="k-NN precision (fidelity) at least this "
                                       "share of the real-vs-real baseline's")
    recall_ratio_min: float = Field(0.75, ge=0, le=1, description="k-NN recall (coverage) at least this share "
                                    "of the real-vs-real baseline's")
    label_agreement_ratio_min: float = Field(0.7, ge=0, le=1, description="per finding, F1 of the critic's "
                                             "reading of accepted images vs the request, at least this share of "
                                             "the critic's F1 on held-out real images (its ceiling)")
    label_min_support: int = Field(5, ge=1, description="accepted rows requesting a finding before its "
                                   "label agreement is judged")
    prevalence_gap_max: float = Field(0.10, ge=0, le=1, description="largest gap between a finding's accepted "
                                      "share and the share asked for (and, without a balance target, the "
                                      "reference share), beyond two binomial standard errors")
    severity: Literal["warn", "fail"] = Field("warn", description="verdict when a fitness check fails: WARN "
                                              "(exit 0) or FAIL (exit 1, as a schema fault)")


class MedmintConfig(_Strict):
    seed: int = Field(0, ge=0, lt=2**63)
    labels: tuple[str, ...] = CHEXPERT_LABELS
    generator: GeneratorConfig = GeneratorConfig()
    target: TargetConfig
    output: OutputConfig = OutputConfig()
    runner: RunnerConfig = RunnerConfig()
    audit: AuditConfig = AuditConfig()
    validators: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="per validator: enabled (true/false/auto), threshold and parameters; "
                    "wins over the checkpoint's calibrated values")

    @field_validator("validators")
    @classmethod
    def _validators_known(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from medmint.validators.registry import VALIDATORS

        for name, opts in value.items():
            if name not in VALIDATORS:
                raise ValueError(f"unknown validator {name!r}; known: {', '.join(sorted(VALIDATORS))}")
            if opts.get("enabled", "auto") not in (True, False, "auto"):
                raise ValueError(f"{name}.enabled: {opts['enabled']!r} is not true, false or auto")
            threshold = opts.get("threshold")
            if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))):
                raise ValueError(f"{name}.threshold: {threshold!r} is not a number")
        return value

    @model_validator(mode="after")
    def _labels_known(self) -> "MedmintConfig":
        if len(set(self.labels)) != len(self.labels):
            raise ValueError("labels must be unique")
        if self.generator.name == "diffusion" and not self.generator.checkpoint:
            raise ValueError("generator.checkpoint is required when generator.name is 'diffusion'")
        if self.target.reference == "checkpoint" and not self.generator.checkpoint:
            raise ValueError("target.reference is 'checkpoint' but generator.checkpoint is not set")
        balance = self.target.balance
        outside = [f for f in balance.minimums(self.target.total) if f not in self.labels]
        if outside:
            raise ValueError(f"target.balance names {outside[0]!r}, which is not in labels")
        return self


# ----------------------------------------------------------------------------------------------
# Training configs (``medmint train``)
# ----------------------------------------------------------------------------------------------


class TrainDataConfig(_Strict):
    source: str = Field("phantom", description="'phantom', or a MIMIC-CXR-JPG folder / manifest / DICOM folder")
    n: int = Field(2000, ge=8, description="phantom studies to draw (source: phantom)")
    size: int = Field(256, ge=64, le=1024, description="phantom image size")
    holdout: float = Field(0.1, gt=0.0, lt=0.5, description="fraction held out for calibration and evaluation")
    on_error: Literal["raise", "skip"] = "raise"
    workers: int = Field(1, ge=1, le=256, description="processes drawing phantom studies")


class ImageTokenizerTrainConfig(_Strict):
    resolution: int = Field(128, ge=32, le=1024)
    downsample: int = Field(8, ge=2, le=32)
    levels: tuple[int, ...] = (8, 5, 5, 5)
    channels: tuple[int, ...] = (64, 128, 256)
    steps: int = Field(2000, ge=0)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(1e-3, gt=0)
    perceptual_weight: float = Field(0.0, ge=0, description="weight of a loss in the findings critic's feature "
                                     "space (the critic is trained first); keeps small findings through the tokens")

    @model_validator(mode="after")
    def _shape(self) -> "ImageTokenizerTrainConfig":
        stages = self.downsample.bit_length() - 1
        if 2**stages != self.downsample:
            raise ValueError(f"downsample {self.downsample} must be a power of two")
        if len(self.channels) != stages:
            raise ValueError(f"channels needs one width per 2x stage ({stages} for downsample {self.downsample})")
        if self.resolution % self.downsample:
            raise ValueError(f"resolution {self.resolution} is not a multiple of downsample {self.downsample}")
        return self


class TextTokenizerTrainConfig(_Strict):
    vocab_size: int = Field(1024, ge=260, le=65536)
    text_length: int = Field(128, ge=8, le=2048, description="report positions incl. EOT and padding")
    unit: Literal["word", "sentence"] = Field("word", description="word: merges stop at spaces; sentence: a "
                                              "repeated sentence may become one token (far shorter reports)")
    pretrained: str | None = Field(None, description="a local tokenizer.json to use instead of training BPE")


class ModelTrainConfig(_Strict):
    family: Literal["llama", "qwen2", "gemma"] = "llama"
    pretrained: str | None = Field(None, description="local pretrained backbone folder (no hub)")
    hidden_size: int = Field(320, ge=16)
    num_layers: int = Field(8, ge=1)
    num_heads: int = Field(5, ge=1)
    intermediate_size: int = Field(896, ge=16)
    steps: int = Field(20000, ge=0)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(3e-4, gt=0)
    warmup: int = Field(500, ge=0)
    weight_decay: float = Field(0.01, ge=0)
    ema: float = Field(0.999, ge=0, lt=1, description="EMA decay of the saved weights (0 = no EMA)")
    t_min: float = Field(0.02, gt=0, lt=1, description="smallest diffusion time drawn (tames the 1/t weight)")
    p_drop_all: float = Field(0.1, ge=0, le=1)
    p_drop_each: float = Field(0.3, ge=0, le=1)
    save_dtype: Literal["float32", "float16", "bfloat16"] = "float16"
    autocast: Literal["auto", "bf16", "off"] = Field(
        "auto", description="bf16 autocast of the model's steps (weights stay float32): auto = on a GPU only; bf16 "
        "also on a CPU with native bf16 (AVX512-BF16 / AMX: +22 % tokens/s on 2 cores, benchmarks/train_throughput.py)")

    @model_validator(mode="after")
    def _heads_divide(self) -> "ModelTrainConfig":
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        return self


class ClassifierTrainConfig(_Strict):
    resolution: int = Field(128, ge=32, le=1024)
    steps: int = Field(1500, ge=0)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(2e-3, gt=0)
    rare_share: float = Field(0.25, ge=0, lt=1, description="batch share drawn from positives of rare findings")
    extra_rare: int = Field(0, ge=0, description="phantom only: extra studies drawn with one rare finding present, "
                            "seen by the critic alone (a few hundred positives are too few to learn a small finding)")


class SamplerDefaults(_Strict):
    steps: int = Field(24, ge=1, le=1024)
    temperature: float = Field(1.0, ge=0)
    confidence_temperature: float = Field(4.5, ge=0)
    per_modality: bool = Field(False, description="each modality unmasks on its own schedule")
    guidance: float = Field(1.0, ge=0)


class TrainConfig(_Strict):
    seed: int = Field(0, ge=0, lt=2**63)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    save_every: int = Field(500, ge=1, description="model steps between resumable saves")
    data: TrainDataConfig = TrainDataConfig()
    image_tokenizer: ImageTokenizerTrainConfig = ImageTokenizerTrainConfig()
    text_tokenizer: TextTokenizerTrainConfig = TextTokenizerTrainConfig()
    model: ModelTrainConfig = ModelTrainConfig()
    classifier: ClassifierTrainConfig = ClassifierTrainConfig()
    sampler: SamplerDefaults = SamplerDefaults()


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------

Origins = dict[tuple[str, ...], str]


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} not valid YAML ({getattr(exc, 'problem', exc)})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys, got {type(data).__name__}")
    return data


def _merge(dst: dict, src: dict, origin: str, origins: Origins, prefix: tuple[str, ...] = ()) -> None:
    for key, value in src.items():
        path = prefix + (str(key),)
        if isinstance(value, dict) and isinstance(dst.get(key), dict):
            origins[path] = origin  # the last source to touch a section answers for it
            _merge(dst[key], value, origin, origins, path)
        else:
            dst[key] = json.loads(json.dumps(value, default=str)) if isinstance(value, (dict, list)) else value
            for old in [p for p in origins if p[: len(path)] == path]:
                del origins[old]
            origins[path] = origin


def _load_tree(path: Path, origins: Origins, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"{path}: 'defaults' includes itself ({' -> '.join(p.name for p in seen + (path,))})")
    raw = _read_yaml(path)
    defaults = raw.pop("defaults", [])
    if not isinstance(defaults, list) or not all(isinstance(d, str) for d in defaults):
        raise ConfigError(f"{path}: 'defaults' must be a list of file paths")
    merged: dict[str, Any] = {}
    for rel in defaults:
        sub = _load_tree(path.parent / rel, origins, seen + (path,))
        _merge(merged, sub, str(path.parent / rel), origins)
    _merge(merged, raw, str(path), origins)
    return merged


def _apply_override(data: dict, override: str, origins: Origins) -> None:
    key, sep, value = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {override!r}: expected KEY=VALUE, e.g. target.total=500")
    parts = tuple(key.strip().split("."))
    try:
        parsed = yaml.safe_load(value) if value.strip() else value
    except yaml.YAMLError:
        parsed = value
    node = data
    for depth, part in enumerate(parts[:-1], 1):
        if part not in node:  # a section --set creates answers to --set (an unknown one is blamed on it)
            origins[parts[:depth]] = f"--set {key.strip()}"
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {override!r}: '{part}' is a value, not a section")
        node = child
    _merge(node, {parts[-1]: parsed}, f"--set {key.strip()}", origins, parts[:-1])


def _origin_of(loc: tuple[str, ...], origins: Origins, fallback: str) -> str:
    for n in range(len(loc), 0, -1):
        if loc[:n] in origins:
            return origins[loc[:n]]
    return fallback


def _describe(err: dict[str, Any]) -> str:
    key = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"unknown key '{key}'"
    if err["type"] == "missing":
        return f"missing required key '{key}'"
    msg = err["msg"].removeprefix("Value error, ")
    given = err.get("input")
    shown = "" if isinstance(given, (dict, list)) else f" (got {given!r})"
    return f"'{key}': {msg}{shown}"


def load_config(
    path: str | Path, overrides: list[str] | None = None, model: type[BaseModel] = MedmintConfig
) -> Any:
    """Load, merge and validate a config; raises ConfigError with one line naming file and key."""
    path = Path(path)
    origins: Origins = {}
    data = _load_tree(path, origins)
    for ov in overrides or []:
        _apply_override(data, ov, origins)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(str(p) for p in first["loc"])
        where = _origin_of(loc, origins, str(path.resolve()))
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{where}: {_describe(first)}{more}") from None


def load_train_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    return load_config(path, overrides, TrainConfig)


_TRAIN_SECTIONS = {"data", "image_tokenizer", "text_tokenizer", "model", "classifier", "sampler", "save_every"}


def load_any_config(path: str | Path, overrides: list[str] | None = None) -> BaseModel:
    """A generation config, or a training config when the file has training sections and no target."""
    data = _load_tree(Path(path), {})
    is_train = "target" not in data and bool(_TRAIN_SECTIONS & set(data))
    return load_config(path, overrides, TrainConfig if is_train else MedmintConfig)


def config_dict(cfg: BaseModel) -> dict[str, Any]:
    return cfg.model_dump(mode="json")


def config_sha256(cfg: BaseModel) -> str:
    """Hash of the effective config (canonical JSON), so equal configs hash equal however written.

    A run's ``runner`` section and torch threads are left out: where, on how many workers and threads
    the job runs changes no record (checked: the same samples at 1 and 2 threads), so a run may be
    resumed with other ``--workers`` and its rows carry the same hash. The ``audit`` thresholds judge
    the corpus after it is written and change no record either."""
    data = config_dict(cfg)
    if isinstance(cfg, MedmintConfig):
        data.pop("runner")
        data.pop("audit")
        data["generator"].pop("threads", None)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
