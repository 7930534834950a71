"""Which Beam runner a run uses, and the options it gets: config first, command line on top.

``runner_args`` runs before OUT is touched (``driver.prepare``). Beam itself only logs a warning
for an option it does not know ("Discarding unparseable args") and finds a missing job endpoint,
project or worker image late (after OUT exists, or after minutes of cluster start-up), with a
traceback. Here each of those is one ``ValueError`` naming the option, which the CLI prints as
one line.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import typing
from typing import NoReturn, Sequence

from medmint.config import MedmintConfig, RunnerConfig

KNOWN_RUNNERS: tuple[str, ...] = typing.get_args(RunnerConfig.model_fields["runner"].annotation)
# Run in this process (or --workers local processes); --direct_num_workers applies.
LOCAL_RUNNERS = ("FnApiRunner", "DirectRunner", "PrismRunner")
# Talk to a job service; the SDK harness runs where --environment_type says.
PORTABLE_RUNNERS = ("PortableRunner", "FlinkRunner", "SparkRunner")
# `medmint generate`'s own options, for "did you mean" when one is misspelt and falls through to Beam.
MEDMINT_OPTIONS = ("--out", "--set", "--runner", "--workers")
# Options medmint.pipeline.job sets itself (per round and part); one given by the user would clash.
JOB_OPTIONS = ("--config", "--out", "--set", "--round", "--part")


def runner_args(cfg: MedmintConfig, beam_args: Sequence[str]) -> list[str]:
    """Config runner settings, with any Beam option given on the command line winning.

    Raises ``ValueError`` (one line) for an unknown runner, an option neither medmint nor Beam
    knows, or a runner whose required options are missing.
    """
    args = list(beam_args)
    parser = _beam_parser()
    known, unknown = parser.parse_known_args(args)
    runner = known.runner or cfg.runner.runner
    if runner not in KNOWN_RUNNERS:
        raise ValueError(f"--runner: unknown runner '{runner}' (known: {', '.join(KNOWN_RUNNERS)})")
    _check_unknown(unknown, parser, strict=runner in LOCAL_RUNNERS)
    if runner in PORTABLE_RUNNERS:
        _check_portable(runner, known)
    elif runner == "DataflowRunner":
        _check_dataflow(known)
    if known.runner is None:
        args.append(f"--runner={runner}")
    return args + _workers_args(runner, cfg.runner.workers, given=_option_names(args))


def warm_workers(args: Sequence[str]) -> int:
    """Worker processes to keep warm across a run's jobs (``pipeline/worker_pool.py``): FnApiRunner
    with more than one worker and no running mode or environment of the user's own. 0: none.

    ``--direct_running_mode=multi_processing`` still gets Beam's own worker processes, started
    afresh for every job."""
    known, _ = _beam_parser().parse_known_args(list(args))
    if known.runner != "FnApiRunner" or known.direct_running_mode != "in_memory" or known.environment_type:
        return 0
    given = _option_names(args)
    if "--direct_running_mode" in given:
        return 0
    workers = known.direct_num_workers or 1
    return workers if workers > 1 else 0


def _beam_parser() -> argparse.ArgumentParser:
    """Beam's own parser, with every option class registered by now (the same one PipelineOptions
    uses), made to raise instead of printing usage and exiting."""
    from apache_beam.options.pipeline_options import PipelineOptions

    captured: list[argparse.ArgumentParser] = []
    PipelineOptions([]).get_all_options(add_extra_args_fn=captured.append)
    parser = captured[0]

    def _error(message: str) -> NoReturn:
        raise ValueError(f"Beam options: {message}")

    parser.error = _error  # type: ignore[method-assign]
    return parser


def _option_names(args: Sequence[str]) -> set[str]:
    return {a.split("=", 1)[0] for a in args if a.startswith("--")}


def _check_unknown(unknown: Sequence[str], parser: argparse.ArgumentParser, *, strict: bool) -> None:
    """Refuse what would be silently dropped. Local runners read nothing else, so any unknown option
    is an error there; portable runners and Dataflow receive options Python does not declare (the
    Java job server's own), so there only a near-miss of a known option is refused."""
    known = sorted({s for action in parser._actions for s in action.option_strings if s.startswith("--")}
                   | set(MEDMINT_OPTIONS))
    for item in unknown:
        if not item.startswith("-"):
            if strict:
                raise ValueError(f"unexpected argument {item!r} (Beam options are written --name=value)")
            continue
        name = item.split("=", 1)[0]
        if name in JOB_OPTIONS:
            raise ValueError(f"{name}: set by medmint itself for each job; not a Beam option to pass")
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6 if strict else 0.8)
        if strict or close:
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ValueError(f"{name}: not a medmint or Beam option{hint}")


def _workers_args(runner: str, workers: int, *, given: set[str]) -> list[str]:
    """runner.workers (``--workers``) in the runner's own terms: local processes for FnApiRunner,
    SDK worker processes per node for portable runners. Dataflow sizes its pool itself."""
    if workers <= 1:
        return []
    if runner in LOCAL_RUNNERS:
        if "--direct_num_workers" in given:
            return []
        if runner == "FnApiRunner" and not given & {"--direct_running_mode", "--environment_type"}:
            return [f"--direct_num_workers={workers}"]  # warm workers: see warm_workers
        return ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]
    if runner in PORTABLE_RUNNERS:
        return [] if "--sdk_worker_parallelism" in given else [f"--sdk_worker_parallelism={workers}"]
    raise ValueError(f"runner.workers={workers} (--workers): local worker processes do not apply to "
                     f"{runner}; size its worker pool with --num_workers / --max_num_workers")


def _check_portable(runner: str, opts: argparse.Namespace) -> None:
    """A portable job needs a job service, and workers that can import medmint."""
    if runner == "PortableRunner" and not opts.job_endpoint:
        raise ValueError(
            "--runner PortableRunner needs --job_endpoint=HOST:PORT of a running job service (locally: "
            "python -m apache_beam.runners.portability.local_job_service_main --port 8099), or use "
            "--runner FlinkRunner / SparkRunner, which start their own")
    if runner != "PortableRunner" and not opts.job_endpoint:
        jar_submit = opts.flink_submit_uber_jar if runner == "FlinkRunner" else opts.spark_submit_uber_jar
        if not jar_submit and not (shutil.which("java") or os.environ.get("JAVA_HOME")):
            raise ValueError(f"--runner {runner} starts Beam's {runner[:-6]} job server, a Java program, "
                             "and no java is on PATH: install Java 11+ or pass --job_endpoint=HOST:PORT of a "
                             "running job server")
    # Beam picks LOOPBACK itself for an embedded Flink ([auto]/[local]) or a local[...] Spark master;
    # anything else defaults to DOCKER with Beam's stock image, which has no medmint in it.
    embedded = (runner == "FlinkRunner" and opts.flink_master in ("[auto]", "[local]")) or (
        runner == "SparkRunner" and re.match(r"^local(\[.+\])?$", opts.spark_master_url or "") is not None)
    docker = (opts.environment_type or ("LOOPBACK" if embedded else "DOCKER")).upper() == "DOCKER"
    image = opts.environment_config or any(
        o.startswith("docker_container_image=") for o in (opts.environment_options or []))
    if docker and not image:
        raise ValueError(
            f"--runner {runner}: workers run in Beam's stock SDK container, which lacks medmint; pass "
            "--environment_type=DOCKER --environment_config=IMAGE (built from deploy/Dockerfile), "
            "or --environment_type=LOOPBACK for a job service on this machine")


def _check_dataflow(opts: argparse.Namespace) -> None:
    """The options Dataflow refuses a job without and a worker image that holds medmint, then the
    refusal: the options are checked first so the command is right once the sinks write gs://."""
    missing = [f"--{name}" for name in ("project", "region", "temp_location") if not getattr(opts, name)]
    if missing:
        raise ValueError(f"--runner DataflowRunner needs {', '.join(missing)} "
                         "(e.g. --project P --region us-central1 --temp_location gs://BUCKET/tmp)")
    if not str(opts.temp_location).startswith("gs://"):
        raise ValueError(f"--temp_location {opts.temp_location}: DataflowRunner needs a gs:// path")
    if not (opts.sdk_container_image or opts.setup_file or opts.extra_packages or opts.requirements_file):
        raise ValueError("--runner DataflowRunner: workers need medmint; pass --sdk_container_image=IMAGE "
                         "(built from deploy/Dockerfile)")
    # Refused while the sinks write local paths: Dataflow workers share no filesystem with OUT, so the
    # job would run (GPU hours and all) and its files land on the workers' disks and be lost.
    raise ValueError("--runner DataflowRunner: not supported yet: its workers cannot write OUT (the sinks write "
                     "local paths, not gs://); use FlinkRunner or SparkRunner with an OUT every worker shares")
