"""End-to-end samples/s of `medmint generate` with the phantom, vs the bare phantom, in one run.

    python benchmarks/generate_throughput.py [--n 200] [--size 256]

Prints one JSON object. Timings are measurements, never assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()

    from medmint.config import load_config
    from medmint.generators.registry import create_generator
    from medmint.pipeline.driver import generate
    from medmint.pipeline.planning import plan_requests

    overrides = [f"target.total={args.n}", f"generator.phantom.size={args.size}"]
    cfg = load_config(REPO / "configs" / "demo-phantom.yaml", overrides)
    gen = create_generator(cfg.generator)
    requests = plan_requests(cfg)
    t0 = time.perf_counter()
    gen.sample(requests)
    bare = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        manifest = generate(REPO / "configs" / "demo-phantom.yaml", Path(tmp) / "out", overrides=overrides)
        job = time.perf_counter() - t0
        out_bytes = sum(p.stat().st_size for p in (Path(tmp) / "out").rglob("*") if p.is_file())
    print(json.dumps({
        "benchmark": "generate_throughput",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "n": args.n, "size": args.size,
        "bare_phantom_samples_per_s": round(args.n / bare, 2),
        "job_samples_per_s": round(args.n / job, 2),
        "job_seconds": round(job, 2),
        "job_over_bare": round(bare / job, 3),
        "output_mib": round(out_bytes / 2**20, 2),
        "counts": manifest.data["counts"],
    }, indent=2))


if __name__ == "__main__":
    main()
