"""The RunInference handler: torch threads per worker, where the model lives, and batched sampling."""

from __future__ import annotations

import math
import pickle

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.ml.inference.base import RunInference
from apache_beam.testing.util import assert_that, equal_to

from medmint.config import GeneratorConfig, MedmintConfig
from medmint.pipeline.handler import GeneratorModelHandler, torch_threads
from medmint.records import SampleRequest


def config(workers: int = 1, threads: int | None = None) -> MedmintConfig:
    return MedmintConfig.model_validate(
        {"target": {"total": 4}, "runner": {"workers": workers}, "generator": {"threads": threads}})


def test_threads_split_the_cores_among_workers(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert torch_threads(config(workers=1)) is None  # one worker: torch's own default
    assert torch_threads(config(workers=2)) == 4
    assert torch_threads(config(workers=3)) == 2
    assert torch_threads(config(workers=16)) == 1  # never zero
    assert torch_threads(config(workers=2, threads=3)) == 3  # the config wins
    assert torch_threads(config(workers=1, threads=1)) == 1


def test_load_model_sets_the_workers_torch_threads(monkeypatch):
    torch = pytest.importorskip("torch")

    class Stub:
        def load(self, checkpoint_dir, device):
            self.loaded = (checkpoint_dir, device)

    monkeypatch.setattr("medmint.generators.registry.create_generator", lambda cfg: Stub())
    before = torch.get_num_threads()
    want = 1 if before != 1 else 2
    try:
        cfg = GeneratorConfig(name="diffusion", checkpoint="ckpt", device="cpu")
        model = GeneratorModelHandler(cfg, threads=want).load_model()
        assert torch.get_num_threads() == want
        assert model.loaded[1] == "cpu"
        torch.set_num_threads(before)
        GeneratorModelHandler(cfg).load_model()  # no threads given: torch's setting is left alone
        assert torch.get_num_threads() == before
    finally:
        torch.set_num_threads(before)


def test_only_a_cuda_model_is_shared_across_worker_processes(monkeypatch):
    torch = pytest.importorskip("torch")
    assert not GeneratorModelHandler(GeneratorConfig(name="phantom")).share_model_across_processes()
    assert not GeneratorModelHandler(GeneratorConfig(name="diffusion", device="cpu")).share_model_across_processes()
    assert GeneratorModelHandler(GeneratorConfig(name="diffusion", device="cuda")).share_model_across_processes()
    for available in (False, True):  # "auto" resolves as the diffusion loader does
        monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
        handler = GeneratorModelHandler(GeneratorConfig(name="diffusion", device="auto"))
        assert handler.share_model_across_processes() is available
        assert handler.model_copies() == 1
        assert pickle.loads(pickle.dumps(handler)).share_model_across_processes() is available


def test_batches_are_the_configured_size():
    handler = GeneratorModelHandler(GeneratorConfig(batch_size=16))
    assert handler.batch_elements_kwargs() == {"min_batch_size": 16, "max_batch_size": 16}


def test_run_inference_samples_every_request_in_batches():
    n, batch_size = 10, 4
    requests = [SampleRequest(sample_id=f"r{i}", seed=100 + i, task="joint", findings={"Cardiomegaly": i % 2},
                              view="PA" if i % 3 else "AP", sex="F", age=40 + i, index=i) for i in range(n)]
    handler = GeneratorModelHandler(GeneratorConfig(name="phantom", phantom={"size": 64}, batch_size=batch_size))
    p = beam.Pipeline(runner="FnApiRunner")
    samples = p | beam.Create(requests) | RunInference(handler)
    got = samples | beam.Map(lambda s: (s.request.sample_id, s.generator, s.image.shape))
    assert_that(got, equal_to([(r.sample_id, "phantom", (64, 64)) for r in requests]))
    result = p.run()
    result.wait_until_finish()

    query = result.metrics().query(MetricsFilter().with_namespace("medmint_generator"))
    counters = {m.key.metric.name: m.committed for m in query["counters"]}
    sizes = next(m.committed for m in query["distributions"]
                 if m.key.metric.name == "inference_request_batch_size")
    assert counters["num_inferences"] == n
    assert counters.get("failed_batches_counter", 0) == 0
    assert (sizes.count, sizes.sum, sizes.max) == (math.ceil(n / batch_size), n, batch_size)
