"""Warm SDK worker processes for a local run with ``--workers N``, kept for every part of the run.

FnApiRunner's ``multi_processing`` mode starts fresh ``sdk_worker_main`` processes for every Beam
job, and medmint runs one job per part: each time, every worker imports Beam, torch and medmint and
loads the checkpoint again (about 10 CPU-seconds, as long as sampling 10 studies on one core). Here
``generate`` starts N worker processes once. Each loads the generator while the driver plans, then
serves Beam's external worker pool API with in-process (thread) SDK harnesses, so a job's harness
finds everything imported and the model loaded (``handler.load_model`` keeps it per process). A
dispatcher in the driver gives each job's N workers one process apiece; FnApiRunner then runs the
job with an ``ExternalEnvironment`` pointing at the dispatcher.

    python -m medmint.pipeline.worker_pool --generator JSON --threads T

is one worker process: it prints its address once the model is loaded, and exits when its standard
input closes, so a driver killed with SIGKILL leaves no worker behind.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import subprocess
import sys
import threading
import traceback
from contextlib import nullcontext
from typing import Any, ContextManager, Sequence

if __name__ == "__main__":  # a worker process: stderr as quiet as the CLI's before Beam's imports log notices
    from medmint.errors import quiet_logging

    quiet_logging()

import grpc  # noqa: E402
from apache_beam.portability.api import beam_fn_api_pb2, beam_fn_api_pb2_grpc  # noqa: E402

from medmint.config import GeneratorConfig, MedmintConfig  # noqa: E402

# How long a worker process may take to import and load its model before the run gives up.
START_TIMEOUT_S = 300.0


# FnApiRunner warns that N workers "in_memory" run no parallelism, not knowing that its external
# environment gives each worker a process of its own.
FN_RUNNER_LOGGER = "apache_beam.runners.portability.fn_api_runner.fn_runner"


def _not_the_running_mode_warning(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("If direct_num_workers is not equal to 1")


def pool_for(cfg: MedmintConfig, beam_args: Sequence[str]) -> ContextManager[WorkerPool | None]:
    """The warm worker processes a run (or a part run alone) with these Beam options gets, if any
    (``runners.warm_workers``): use it as ``with pool_for(cfg, args) as pool``."""
    from medmint.pipeline.handler import torch_threads
    from medmint.pipeline.runners import warm_workers

    workers = warm_workers(beam_args)
    return WorkerPool(workers, cfg.generator, threads=torch_threads(cfg)) if workers else nullcontext(None)


class WorkerPoolError(ChildProcessError):
    """A worker process could not start; the message names it and what it printed last."""


class WorkerPool:
    """N warm worker processes and the dispatcher in front of them; a context manager.

    Start it early (``start``): the processes load the model while the driver plans. ``runner()``
    waits for them and returns a FnApiRunner for one job.
    """

    def __init__(self, workers: int, generator: GeneratorConfig, *, threads: int | None) -> None:
        self.workers = workers
        self._generator = generator
        self._threads = threads
        self._procs: list[subprocess.Popen[str]] = []
        self._addresses: list[str] | None = None
        self._server: Any = None
        self._dispatcher: _Dispatcher | None = None
        self.address: str | None = None

    def start(self) -> "WorkerPool":
        command = [sys.executable, "-m", "medmint.pipeline.worker_pool",
                   "--generator", self._generator.model_dump_json()]
        if self._threads is not None:
            command += ["--threads", str(self._threads)]
        for _ in range(self.workers):
            self._procs.append(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        return self

    def __enter__(self) -> "WorkerPool":
        return self.start() if not self._procs else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def runner(self) -> Any:
        """A FnApiRunner whose SDK harnesses run in the warm processes (one per process per job)."""
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner
        from apache_beam.transforms.environments import ExternalEnvironment

        if self.address is None:
            self._serve(self._wait_ready())
            logging.getLogger(FN_RUNNER_LOGGER).addFilter(_not_the_running_mode_warning)
        return FnApiRunner(default_environment=ExternalEnvironment(self.address))

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def dead(self) -> str | None:
        """Which worker process has exited mid-run, if one has: what a failed job is then explained by."""
        for i, proc in enumerate(self._procs):
            if proc.poll() is not None:
                return f"worker process {i + 1} of {self.workers} exited (status {proc.returncode})"
        return None

    def harnesses_started(self) -> list[int]:
        """Per process, the SDK harnesses it has been asked to run (one per job when all is well)."""
        return list(self._dispatcher.started) if self._dispatcher else [0] * self.workers

    def close(self) -> None:
        """Closes the workers' standard input (they exit on it) and waits for them."""
        if self._server is not None:
            self._server.stop(0)
            self._server = None
        for proc in self._procs:
            if proc.stdin and not proc.stdin.closed:
                proc.stdin.close()
        for proc in self._procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()
        self._procs = []

    def _wait_ready(self) -> list[str]:
        addresses: list[str] = []
        for i, proc in enumerate(self._procs):
            line = _read_line(proc, START_TIMEOUT_S)
            if line is None or not line.startswith("ready "):
                if line is None:
                    why = f"was not ready after {START_TIMEOUT_S:.0f} s"
                else:
                    try:
                        code: int | str = proc.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        code = "unknown"
                    said = line.removeprefix("error ").strip() or "nothing (its errors are printed above)"
                    why = f"exited with status {code}: {said}"
                self.close()
                raise WorkerPoolError(f"worker process {i + 1} of {self.workers} {why}")
            addresses.append(line.split(" ", 1)[1].strip())
        return addresses

    def _serve(self, addresses: list[str]) -> None:
        server = grpc.server(_thread_pool())
        port = server.add_insecure_port("localhost:0")
        self._dispatcher = _Dispatcher(addresses, self._procs)
        beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(self._dispatcher, server)
        server.start()
        self._server, self.address = server, f"localhost:{port}"


def _thread_pool() -> Any:
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="medmint-pool")


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str | None:
    """The worker's first line ("" if it exited first), or None if it stays silent past ``timeout``."""
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline() if proc.stdout else ""), daemon=True)
    reader.start()
    reader.join(timeout)
    return line[0] if line else None


class _Dispatcher(beam_fn_api_pb2_grpc.BeamFnExternalWorkerPoolServicer):
    """Beam's external worker pool API in front of the warm processes: a job asks for N workers in a
    row, and they go round the N processes, so each process hosts one harness per job."""

    def __init__(self, addresses: list[str], procs: list[subprocess.Popen[str]]) -> None:
        self._procs = procs
        self._stubs = [beam_fn_api_pb2_grpc.BeamFnExternalWorkerPoolStub(grpc.insecure_channel(a)) for a in addresses]
        self._turn = itertools.cycle(range(len(addresses)))
        self._owner: dict[str, int] = {}
        self._lock = threading.Lock()
        self.started = [0] * len(addresses)  # harnesses each process was asked to run

    def StartWorker(self, request: Any, context: Any) -> Any:  # noqa: N802 (gRPC method name)
        with self._lock:
            index = next(self._turn)
            self._owner[request.worker_id] = index
            self.started[index] += 1
        code = self._procs[index].poll()
        if code is not None:  # Beam raises this as "Error starting worker: ..."
            return beam_fn_api_pb2.StartWorkerResponse(
                error=f"medmint worker process {index + 1} of {len(self._procs)} has exited (status {code}); "
                      "rerun the same command to resume with new workers")
        return self._stubs[index].StartWorker(request)

    def StopWorker(self, request: Any, context: Any) -> Any:  # noqa: N802
        with self._lock:
            index = self._owner.pop(request.worker_id, None)
        if index is None:
            return beam_fn_api_pb2.StopWorkerResponse()
        return self._stubs[index].StopWorker(request)


def serve(generator: GeneratorConfig, threads: int | None) -> None:
    """One worker process: import, load the model, serve harness threads until stdin closes."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    from apache_beam.runners.worker.worker_pool_main import BeamFnExternalWorkerPoolServicer

    import medmint.pipeline.job  # noqa: F401  (the stages every job unpickles)
    from medmint.pipeline.handler import GeneratorModelHandler

    try:
        GeneratorModelHandler(generator, threads=threads).load_model()
    except Exception as exc:  # the driver reports it as one line; the traceback goes to stderr
        traceback.print_exc()
        print(f"error {type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}", flush=True)
        raise SystemExit(1) from None
    address, server = BeamFnExternalWorkerPoolServicer.start(use_process=False)
    print(f"ready {address}", flush=True)
    sys.stdin.read()
    server.stop(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="medmint.pipeline.worker_pool")
    parser.add_argument("--generator", required=True, help="generator section of the run's config, as JSON")
    parser.add_argument("--threads", type=int, help="torch threads in this worker")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    serve(GeneratorConfig.model_validate_json(args.generator), args.threads)


if __name__ == "__main__":
    main()
