"""Validation cost against generation cost: seconds to validate N samples (each gate timed), next to
seconds to generate a few samples with the same checkpoint on this machine.

    python benchmarks/validators.py --checkpoint CKPT [--n 1000] [--generate 16] [--batch-size 32]

The samples validated are held-out-style phantom studies at the checkpoint's image size (the
validators' cost does not depend on who drew the image). CKPT should be calibrated
(``medmint validators calibrate``) so every gate runs. Prints one JSON object; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    import numpy as np

    from medmint.generators.phantom import sample_labels
    from medmint.generators.phantom.generator import PhantomGenerator
    from medmint.records import SampleRequest, seed_for
    from medmint.validators.base import Batch
    from medmint.validators.context import load_context
    from medmint.validators.registry import plan_validators

    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--generate", type=int, default=16, help="samples to generate for the comparison (0: skip)")
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()

    ctx, calibrated = load_context(args.checkpoint)
    validators, record = plan_validators({}, calibrated, ctx)
    size = int(ctx.data_summary.get("image", {}).get("size", 128))
    rng = np.random.default_rng(0)
    requests = [SampleRequest(sample_id=f"bench-{i:05d}", seed=seed_for(f"bench-{i}"), task="joint",
                              findings=sample_labels(rng), view="PA", sex="F", age=60) for i in range(args.n)]
    phantom = PhantomGenerator(size=size)
    phantom.load()
    samples = phantom.sample(requests)

    per_gate = {v.name: 0.0 for v in validators}
    shared = {"report_labels": 0.0, "critic": 0.0}
    start_all = time.perf_counter()
    for i in range(0, len(samples), args.batch_size):
        batch = Batch(samples[i : i + args.batch_size], ctx)
        t = time.perf_counter()
        batch.report_labels
        shared["report_labels"] += time.perf_counter() - t
        if ctx.critic is not None:
            t = time.perf_counter()
            batch.critic_probs, batch.critic_features
            shared["critic"] += time.perf_counter() - t
        for v in validators:
            t = time.perf_counter()
            v.judge(batch)
            per_gate[v.name] += time.perf_counter() - t
    validate_s = time.perf_counter() - start_all
    # report_wellformed alone, every report checked afresh (the gate caches a report's events for its reason)
    from medmint.validators.report_wellformed import _cached_events, check_report

    stats = ctx.data_summary.get("report_ngrams")
    _cached_events.cache_clear()
    t = time.perf_counter()
    for s in samples:
        check_report(s.report_findings, s.report_impression, stats)
    wellformed_us = (time.perf_counter() - t) / len(samples) * 1e6

    out = {"checkpoint": args.checkpoint, "image_size": size, "n_validated": args.n, "cpu_count": os.cpu_count(),
           "gates_used": [r["name"] for r in record if r["used"]],
           "gates_skipped": [r["name"] for r in record if not r["used"]],
           "validate_seconds": round(validate_s, 2), "validate_seconds_per_sample": round(validate_s / args.n, 5),
           "shared_seconds": {k: round(v, 2) for k, v in shared.items()},
           "per_gate_seconds": {k: round(v, 3) for k, v in per_gate.items()},
           "report_wellformed_us_per_report": round(wellformed_us, 1),
           "report_wellformed_statistics": stats.describe() if stats is not None else None}
    if args.generate:
        from medmint.generators.diffusion.generator import DiffusionGenerator

        gen = DiffusionGenerator()
        gen.load(args.checkpoint, "auto")
        gen.sample(requests[:2])  # warm-up
        t = time.perf_counter()
        for i in range(0, args.generate, args.batch_size):
            gen.sample(requests[i : min(args.generate, i + args.batch_size)])
        per_sample = (time.perf_counter() - t) / args.generate
        out.update(generate_seconds_per_sample=round(per_sample, 4),
                   generate_seconds_for_n_estimated=round(per_sample * args.n, 1),
                   validation_over_generation=round(validate_s / (per_sample * args.n), 4), device=str(gen.device))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
