"""What the Beam job costs around the diffusion sampler, and what a second worker process buys.

    python benchmarks/pipeline.py [--n 64] [--repeat 2] [--shard-rows R] [--checkpoint checkpoints/default] [--out-json FILE]

In one run, on configs/demo.yaml with the given checkpoint and N requests:
  bare       the handler's own model (``GeneratorModelHandler.load_model``) sampling the planned
             requests in batches of generator.batch_size, torch's default threads; load not timed;
  job        ``medmint generate`` with target.total = target.budget.samples = N (so exactly N are
             generated however many pass), wall seconds including Beam start-up, and job / bare
             (the model is already loaded in this process, as it is for every part after a run's first);
             both alternated --repeat times, the fastest of each;
  workers    ``medmint generate`` in a fresh process with 1 and with 2 worker processes, one torch
             thread each (wall seconds from launch: imports and model load included for both),
             alternated --repeat times, the fastest of each, and the speed-up.
--shard-rows below N splits the run into parts of R requests, one Beam job each, as an overnight run
is (default: the config's output.shard_rows, 256, so N <= 256 is one part).
Prints one JSON object. Timings are measurements, never assertions. Other work on the machine skews
wall times, so each phase also gives the load average before and after it, and its CPU seconds
(this process and the SDK worker processes it started), with job / bare by CPU per sample.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "demo.yaml"


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (the Beam SDK workers), which
    other work on the machine does not inflate the way it inflates wall time."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def bare_sampler(cfg, n: int) -> dict:
    import torch

    from medmint.pipeline.handler import GeneratorModelHandler
    from medmint.pipeline.planning import plan_requests

    requests = plan_requests(cfg)[:n]
    load_before = load_average()
    t0 = time.perf_counter()
    generator = GeneratorModelHandler(cfg.generator).load_model()
    load_s = time.perf_counter() - t0
    bs = cfg.generator.batch_size
    t0, c0 = time.perf_counter(), cpu_seconds()
    done = sum(len(generator.sample(requests[i : i + bs])) for i in range(0, len(requests), bs))
    seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    return {"samples": done, "batch_size": bs, "torch_threads": torch.get_num_threads(),
            "load_model_s": round(load_s, 2), "seconds": round(seconds, 2), "cpu_s": round(cpu, 1),
            "samples_per_s": round(done / seconds, 3), "cpu_s_per_sample": round(cpu / done, 3),
            "load_average": [load_before, load_average()]}


def job(overrides: list[str], *, fresh_process: bool = False) -> dict:
    """``medmint generate`` on N requests: in this process (``driver.generate``), or with
    ``fresh_process`` as a user runs it, where wall seconds include the imports and the model load
    whichever way the workers run (in this process one worker would find torch imported and the
    model cached, while fresh worker processes pay for both)."""
    import subprocess
    import sys

    from medmint.pipeline.driver import generate

    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="medmint-bench-") as tmp:
        out = Path(tmp) / "out"
        t0, c0 = time.perf_counter(), cpu_seconds()
        if fresh_process:
            sets = [a for o in overrides for a in ("--set", o)]
            proc = subprocess.run([str(Path(sys.executable).parent / "medmint"), "generate", str(CONFIG), "--out",
                                   str(out), "--no-audit", *sets], capture_output=True, text=True)
            if proc.returncode not in (0, 3):  # 3: short of the target, which N = budget makes likely
                raise SystemExit(f"medmint generate failed ({proc.returncode}): {proc.stderr[-2000:]}")
        else:
            generate(CONFIG, out, overrides=overrides)
        seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        counts = json.loads((out / "run.json").read_text()).get("counts", {})
    generated = counts.get("generated", 0)
    return {"overrides": [o for o in overrides if o.startswith(("runner.", "generator.threads"))],
            "fresh_process": fresh_process, "generated": generated, "accepted": counts.get("accepted"),
            "seconds": round(seconds, 2), "cpu_s": round(cpu, 1), "samples_per_s": round(generated / seconds, 3),
            "cpu_s_per_sample": round(cpu / max(generated, 1), 3), "load_average": [load_before, load_average()]}


def best(runs: list[dict]) -> dict:
    """The fastest of the repeats (as timeit reports): other work on the machine only slows a run."""
    return {**max(runs, key=lambda r: r["samples_per_s"]), "repeats_samples_per_s": [r["samples_per_s"] for r in runs]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=64, help="requests (and samples generated) per measurement")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each measurement (the fastest is reported)")
    ap.add_argument("--shard-rows", type=int, help="requests per part (one Beam job each)")
    ap.add_argument("--checkpoint", default=str(REPO / "checkpoints" / "default"))
    ap.add_argument("--out-json", help="also write the JSON object here")
    args = ap.parse_args()

    import torch

    from medmint.config import load_config
    from medmint.pipeline.handler import resolve_device

    base = [f"target.total={args.n}", f"target.budget.samples={args.n}",
            f"generator.checkpoint={Path(args.checkpoint).resolve()}"]
    if args.shard_rows:
        base.append(f"output.shard_rows={args.shard_rows}")
    cfg = load_config(CONFIG, base)
    threads = torch.get_num_threads()  # before any in-process job applies generator.threads here
    bares, jobs = [], []
    for _ in range(args.repeat):  # alternated, as the worker counts below
        bares.append(bare_sampler(cfg, args.n))
        jobs.append(job(base))
    bare, default_job = best(bares), best(jobs)
    ones, twos = [], []
    for _ in range(args.repeat):  # alternated, so a slow spell of the machine hits both
        ones.append(job(base + ["runner.workers=1", "generator.threads=1"], fresh_process=True))
        twos.append(job(base + ["runner.workers=2", "generator.threads=1"], fresh_process=True))
    one, two = best(ones), best(twos)
    result = {
        "benchmark": "pipeline",
        "config": str(CONFIG.relative_to(REPO)),
        "checkpoint": args.checkpoint,
        "n": args.n,
        "shard_rows": cfg.output.shard_rows,
        "parts": -(-args.n // cfg.output.shard_rows),
        "device": resolve_device(cfg.generator),
        "torch_threads": threads,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__},
        "bare": bare,
        "job": default_job,
        "job_over_bare": round(default_job["samples_per_s"] / bare["samples_per_s"], 3),
        "job_over_bare_by_cpu": round(bare["cpu_s_per_sample"] / default_job["cpu_s_per_sample"], 3),
        "workers_1": one,
        "workers_2": two,
        "speedup_2_over_1": round(two["samples_per_s"] / one["samples_per_s"], 3),
    }
    text = json.dumps(result, indent=2)
    if args.out_json:
        Path(args.out_json).write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
