"""RunInference model handler: any medmint generator, loaded once per worker, batched."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

from apache_beam.ml.inference.base import ModelHandler

from medmint.config import GeneratorConfig
from medmint.records import GeneratedSample, SampleRequest


class GeneratorModelHandler(ModelHandler[SampleRequest, GeneratedSample, Any]):
    """Wraps ``generators.registry.create_generator`` so the phantom and the model share one path."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self._cfg = cfg

    def load_model(self) -> Any:
        from medmint.generators.registry import create_generator

        generator = create_generator(self._cfg)
        generator.load(Path(self._cfg.checkpoint) if self._cfg.checkpoint else None, self._cfg.device)
        return generator

    def run_inference(
        self, batch: Sequence[SampleRequest], model: Any, inference_args: dict[str, Any] | None = None
    ) -> Iterable[GeneratedSample]:
        return model.sample(batch)

    def batch_elements_kwargs(self) -> dict[str, int]:
        return {"min_batch_size": 1, "max_batch_size": self._cfg.batch_size}

    def get_metrics_namespace(self) -> str:
        return "medmint_generator"
