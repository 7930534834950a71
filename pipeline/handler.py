"""RunInference model handler: any medmint generator, loaded once per worker, batched."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Iterable, Sequence

from apache_beam.ml.inference.base import ModelHandler

from medmint.config import GeneratorConfig, MedmintConfig
from medmint.records import GeneratedSample, SampleRequest


def torch_threads(cfg: MedmintConfig) -> int | None:
    """Torch threads per Beam worker: the configured count, else the cores split among the workers.

    Every worker process would otherwise start one thread per core, so two workers on two cores run
    four busy threads and slow each other down. None keeps torch's own default (one worker).
    """
    if cfg.generator.threads is not None:
        return cfg.generator.threads
    if cfg.runner.workers > 1:
        return max(1, (os.cpu_count() or 1) // cfg.runner.workers)
    return None


def resolve_device(cfg: GeneratorConfig) -> str:
    """The device ``generator.load`` will pick: the phantom draws on the CPU; the diffusion model
    resolves "auto" as its loader does (CUDA when torch sees a GPU, else the CPU)."""
    if cfg.name != "diffusion":
        return "cpu"
    if cfg.device != "auto":
        return cfg.device
    from medmint.generators.diffusion.training import resolve_device as torch_device

    return torch_device("auto").type


_LOADED: dict[str, Any] = {}
_LOADED_LOCK = threading.Lock()


def _checkpoint_stamp(checkpoint: str | None) -> tuple[tuple[str, int, int], ...]:
    """Name, size and mtime of each checkpoint file: a checkpoint rewritten in place is loaded anew."""
    if not checkpoint or not Path(checkpoint).is_dir():
        return ()
    return tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in sorted(Path(checkpoint).iterdir()) if f.is_file())


class GeneratorModelHandler(ModelHandler[SampleRequest, GeneratedSample, Any]):
    """Wraps ``generators.registry.create_generator`` so the phantom and the model share one path.

    ``threads`` (see ``torch_threads``) is applied in each worker process when it loads the model.
    """

    def __init__(self, cfg: GeneratorConfig, *, threads: int | None = None) -> None:
        super().__init__()
        self._cfg = cfg
        self._threads = threads
        self._device: str | None = None  # resolved on first use: it may import torch

    @property
    def device(self) -> str:
        if self._device is None:
            self._device = resolve_device(self._cfg)
        return self._device

    def load_model(self) -> Any:
        """The generator, loaded once per process for a given config and checkpoint: medmint runs one
        Beam job per part, and the in-process runner and the warm workers (``worker_pool``) would
        otherwise load the checkpoint again for every part. Sampling keeps no state between calls
        (each request carries its seed), so one loaded generator serves every part."""
        from medmint.generators.registry import create_generator

        if self._threads is not None and self._cfg.name == "diffusion":
            import torch

            torch.set_num_threads(self._threads)  # per process: this worker's share of the cores
        key = (self._cfg.model_dump_json(), _checkpoint_stamp(self._cfg.checkpoint))
        with _LOADED_LOCK:
            if _LOADED.get("key") != key:
                generator = create_generator(self._cfg)
                generator.load(Path(self._cfg.checkpoint) if self._cfg.checkpoint else None, self._cfg.device)
                _LOADED.clear()  # one model per process: a new config or checkpoint replaces it
                _LOADED.update(key=key, generator=generator)
            return _LOADED["generator"]

    def run_inference(
        self, batch: Sequence[SampleRequest], model: Any, inference_args: dict[str, Any] | None = None
    ) -> Iterable[GeneratedSample]:
        return model.sample(batch)

    def batch_elements_kwargs(self) -> dict[str, int]:
        """Batches of exactly ``generator.batch_size`` (a bundle's last batch may be short).

        Beam's adaptive sizing starts at ``min_batch_size`` and at most doubles per batch (timing
        the fused stages downstream too); each part is a short job with a fresh estimator, so on a
        GPU most batches would run far below the size the sampler is set for. min = max turns the
        estimator off. (On the CPU the cost per sample hardly depends on the batch size.)
        """
        return {"min_batch_size": self._cfg.batch_size, "max_batch_size": self._cfg.batch_size}

    def share_model_across_processes(self) -> bool:
        """One model in GPU memory serves every worker process; on the CPU each worker keeps its own
        copy, so the workers sample in parallel instead of queueing on one process's model."""
        return self.device == "cuda"

    def get_metrics_namespace(self) -> str:
        return "medmint_generator"
