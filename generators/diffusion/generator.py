"""The diffusion model behind the ``Generator`` interface: checkpoint in, image + report out."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from medmint.records import GeneratedSample, SampleRequest


class DiffusionGenerator:
    """Loads a verified checkpoint once; samples any task for a batch of requests.

    Requests condition on the findings they carry (a label missing from ``findings`` is not a
    condition, so any subset of findings can prompt), view, sex and age bin.
    """

    name = "diffusion"

    def __init__(self, sampler_overrides: dict[str, Any] | None = None) -> None:
        self._overrides = dict(sampler_overrides or {})
        self.checkpoint_sha256: str | None = None

    def load(self, checkpoint_dir: Path | None, device: str = "auto") -> None:
        import torch

        from medmint.generators.diffusion.checkpoint import CheckpointError, verify_checkpoint
        from medmint.generators.diffusion.image_tokenizer import ImageTokenizer
        from medmint.generators.diffusion.layout import VocabLayout
        from medmint.generators.diffusion.model import MeDiMModel
        from medmint.generators.diffusion.sampler import SamplerConfig
        from medmint.generators.diffusion.text_tokenizer import TextTokenizer
        from medmint.generators.diffusion.training import resolve_device

        if checkpoint_dir is None:
            raise CheckpointError("generator.checkpoint: the diffusion generator needs a checkpoint folder")
        ckpt = verify_checkpoint(checkpoint_dir)
        m = ckpt.manifest
        self.device = resolve_device(device)
        self.layout = VocabLayout.from_json(m["layout"])
        try:
            self.model = MeDiMModel.from_json(m["model"])
            state = {k: v.float() if v.is_floating_point() else v for k, v in ckpt.tensors("model.safetensors").items()}
            self.model.load_state_dict(state)
            self.image_tokenizer = ImageTokenizer.load(
                m["image_tokenizer"]["config"], ckpt.tensors("image_tokenizer.safetensors"), device=self.device
            )
        except (KeyError, RuntimeError, TypeError) as exc:
            raise CheckpointError(f"{ckpt.directory}: weights do not match medmint.json ({str(exc)[:200]})") from None
        self.model.to(self.device).eval().requires_grad_(False)
        self.text_tokenizer = TextTokenizer.from_file(ckpt.path("text_tokenizer.json"))
        self.sampler = SamplerConfig.from_dict({**m.get("sampler", {}), **self._overrides})
        self.bits_stored = int(self.image_tokenizer.cfg.bits_stored)
        self.checkpoint = ckpt
        self.checkpoint_sha256 = ckpt.sha256

    def initial_sequences(self, requests: Sequence[SampleRequest]) -> np.ndarray:
        from medmint.generators.diffusion.sampler import init_sequence
        from medmint.generators.diffusion.text_tokenizer import join_sections

        rows = []
        for req in requests:
            findings = {k: v for k, v in req.findings.items() if k in self.layout.labels}
            cond = self.layout.condition_ids(findings or None, req.view, req.sex, req.age_bin)
            codes = text = None
            if req.task == "report_from_image":
                if req.image_prompt is None:
                    raise ValueError(f"request {req.sample_id}: task report_from_image needs an image prompt")
                codes = self.image_tokenizer.encode(req.image_prompt[None], self.bits_stored)[0]
            if req.task == "image_from_report":
                if not req.report_prompt:
                    raise ValueError(f"request {req.sample_id}: task image_from_report needs a report prompt")
                prompt = req.report_prompt
                if "IMPRESSION:" not in prompt:
                    prompt = join_sections(prompt, "")
                text = self.text_tokenizer.encode(prompt)
            rows.append(init_sequence(self.layout, req.task, cond, codes, text))
        return np.stack(rows)

    def sample(self, requests: Sequence[SampleRequest]) -> list[GeneratedSample]:
        from medmint.generators.diffusion.sampler import sample
        from medmint.generators.diffusion.text_tokenizer import split_sections

        if not requests:
            return []
        start = time.perf_counter()
        init = self.initial_sequences(requests)
        out = sample(self.model, init, [r.seed for r in requests], self.layout, self.sampler, self.device).numpy()
        codes, texts = zip(*(self.layout.split(seq) for seq in out))
        images = self.image_tokenizer.decode(np.stack(codes))
        per_sample = (time.perf_counter() - start) / len(requests)
        samples = []
        for req, image, text_ids in zip(requests, images, texts):
            findings, impression = split_sections(self.text_tokenizer.decode(text_ids))
            samples.append(
                GeneratedSample(
                    request=req,
                    image=np.ascontiguousarray(image, dtype=np.uint16),
                    bits_stored=self.bits_stored,
                    report_findings=findings,
                    report_impression=impression,
                    generator=self.name,
                    checkpoint_sha256=self.checkpoint_sha256,
                    sampling={**self.sampler.to_dict(), "task": req.task},
                    seconds=per_sample,
                )
            )
        return samples
