"""Configs: a tree of small YAML files, merged, overridden from the CLI, validated by pydantic.

A config file may list other files under ``defaults:`` (paths relative to itself); they are
merged first, in order, and the file's own keys win. ``--set a.b=value`` overrides come last.
Every leaf remembers which file set it, so a bad key or value is reported against the file the
user has to edit, in one line.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from medmint.records import CHEXPERT_LABELS


class ConfigError(ValueError):
    """A config problem, already phrased as the one line the user sees."""


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
    phantom: PhantomConfig = PhantomConfig()


class TargetConfig(_Strict):
    total: int = Field(..., ge=1, description="accepted samples wanted")
    task: Literal["joint", "image_from_report", "report_from_image"] = "joint"
    views: dict[Literal["PA", "AP"], float] = Field(default_factory=lambda: {"PA": 0.6, "AP": 0.4})

    @field_validator("views")
    @classmethod
    def _weights_positive(cls, v: dict[str, float]) -> dict[str, float]:
        if not v or any(w < 0 for w in v.values()) or sum(v.values()) <= 0:
            raise ValueError("view weights must be non-negative and not all zero")
        return v


class OutputConfig(_Strict):
    shard_rows: int = Field(256, ge=1, description="rows per Parquet shard (the shard count follows)")
    uid_root: str | None = Field(
        None, pattern=r"^[0-9]+(\.[0-9]+)*\.$", description="org UID root ending in '.', else 2.25. UUID UIDs"
    )
    institution: str = "medmint synthetic"


class RunnerConfig(_Strict):
    runner: Literal["FnApiRunner", "PortableRunner", "DirectRunner", "FlinkRunner", "SparkRunner", "DataflowRunner"] = (
        "FnApiRunner"
    )
    workers: int = Field(1, ge=1, le=256)


class MedmintConfig(_Strict):
    seed: int = Field(0, ge=0, lt=2**63)
    labels: tuple[str, ...] = CHEXPERT_LABELS
    generator: GeneratorConfig = GeneratorConfig()
    target: TargetConfig
    output: OutputConfig = OutputConfig()
    runner: RunnerConfig = RunnerConfig()

    @model_validator(mode="after")
    def _labels_known(self) -> "MedmintConfig":
        if len(set(self.labels)) != len(self.labels):
            raise ValueError("labels must be unique")
        if self.generator.name == "diffusion" and not self.generator.checkpoint:
            raise ValueError("generator.checkpoint is required when generator.name is 'diffusion'")
        return self


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
    for part in parts[:-1]:
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


def load_config(path: str | Path, overrides: list[str] | None = None) -> MedmintConfig:
    """Load, merge and validate a config; raises ConfigError with one line naming file and key."""
    path = Path(path)
    origins: Origins = {}
    data = _load_tree(path, origins)
    for ov in overrides or []:
        _apply_override(data, ov, origins)
    try:
        return MedmintConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(str(p) for p in first["loc"])
        where = _origin_of(loc, origins, str(path.resolve()))
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{where}: {_describe(first)}{more}") from None


def config_dict(cfg: MedmintConfig) -> dict[str, Any]:
    return cfg.model_dump(mode="json")


def config_sha256(cfg: MedmintConfig) -> str:
    """Hash of the effective config (canonical JSON), so equal configs hash equal however written."""
    canonical = json.dumps(config_dict(cfg), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
