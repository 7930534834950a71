"""Which Beam runner a run uses, and the options it gets: config first, command line on top."""

from __future__ import annotations

from typing import Sequence

from medmint.config import MedmintConfig

KNOWN_RUNNERS = ("FnApiRunner", "PortableRunner", "DirectRunner", "FlinkRunner", "SparkRunner", "DataflowRunner",
                 "PrismRunner")


def runner_args(cfg: MedmintConfig, beam_args: Sequence[str]) -> list[str]:
    """Config runner settings, with any Beam option given on the command line winning."""
    args = list(beam_args)
    given = {a.split("=", 1)[0] for a in args if a.startswith("--")}
    if "--runner" not in given:
        args.append(f"--runner={cfg.runner.runner}")
    runner = next(a.split("=", 1)[1] for a in args if a.startswith("--runner="))
    if runner not in KNOWN_RUNNERS:
        raise ValueError(f"--runner: unknown runner '{runner}' (known: {', '.join(KNOWN_RUNNERS)})")
    if cfg.runner.workers > 1 and "--direct_num_workers" not in given:
        args += ["--direct_running_mode=multi_processing", f"--direct_num_workers={cfg.runner.workers}"]
    return args
