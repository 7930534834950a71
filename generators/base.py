"""The one interface every sample producer implements, so the pipeline never cares which it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

from medmint.records import GeneratedSample, SampleRequest


@runtime_checkable
class Generator(Protocol):
    name: str

    def load(self, checkpoint_dir: Path | None, device: str = "auto") -> None:
        """Load weights (or nothing, for the phantom) once per worker."""

    def sample(self, requests: Sequence[SampleRequest]) -> list[GeneratedSample]:
        """Produce one sample per request, deterministically from each request's seed."""
