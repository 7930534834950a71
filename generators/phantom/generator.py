"""The phantom behind the ``Generator`` interface, so the pipeline runs it like a model."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from medmint.generators.phantom.sampler import sample_case
from medmint.records import GeneratedSample, SampleRequest


class PhantomGenerator:
    """Draws each request's findings procedurally; there are no weights, so no checkpoint hash."""

    name = "phantom"

    def __init__(self, size: int = 256, phi: bool = False) -> None:
        self.size = size
        self.phi = phi

    def load(self, checkpoint_dir: Path | None = None, device: str = "auto") -> None:
        return None

    def sample(self, requests: Sequence[SampleRequest]) -> list[GeneratedSample]:
        out = []
        for req in requests:
            start = time.perf_counter()
            case = sample_case(
                req.seed, size=self.size, phi=self.phi, findings=req.findings, view=req.view, sex=req.sex, age=req.age
            )
            out.append(
                GeneratedSample(
                    request=req,
                    image=case.image,
                    bits_stored=case.bits_stored,
                    report_findings=case.findings,
                    report_impression=case.impression,
                    generator=self.name,
                    checkpoint_sha256=None,
                    sampling={"size": self.size, "phi": int(self.phi)},
                    seconds=time.perf_counter() - start,
                )
            )
        return out
