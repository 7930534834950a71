"""Sampling throughput of a checkpoint, and how much of the machine's matmul peak it uses.

    python benchmarks/sampling.py [--checkpoint checkpoints/default] [--batch-sizes 1 8 32] [--steps 8 16]

Prints one JSON object: samples/s and seconds/sample per (batch size, steps), model FLOPs per
sample (forward FLOPs x forwards per sample, the unconditional guidance pass included), achieved
FLOP/s, and that as a fraction of a dense matmul peak measured in the same run (fp32 on CPU; on a
GPU also bf16). Measurements only; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def matmul_peak(device: str, dtype_name: str, n: int = 2048, repeats: int = 5) -> float:
    import torch

    dtype = getattr(torch, dtype_name)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default=str(REPO / "checkpoints" / "default"))
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--steps", type=int, nargs="+", default=[8, 16])
    ap.add_argument("--samples", type=int, default=32, help="samples per measurement")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()

    import torch

    from medmint.generators.diffusion.generator import DiffusionGenerator
    from medmint.records import SampleRequest

    gen = DiffusionGenerator()
    gen.load(Path(args.checkpoint), args.device)
    device = gen.device.type
    flops_forward = gen.model.flops_per_forward()
    base = gen.sampler
    rows = []
    for steps in args.steps:
        for bs in args.batch_sizes:
            gen.sampler = replace(base, steps=steps)
            n = max(bs, (args.samples // bs) * bs)
            reqs = [SampleRequest(sample_id=f"b{i}", seed=i, task="joint", findings={"Cardiomegaly": 1}, view="PA",
                                  sex="F", age=60) for i in range(n)]
            gen.sample(reqs[:bs])  # warm-up
            start = time.perf_counter()
            for i in range(0, n, bs):
                gen.sample(reqs[i : i + bs])
            seconds = time.perf_counter() - start
            forwards = steps * (2 if base.guidance > 0 else 1)
            flops_sample = flops_forward * forwards
            rows.append({"batch_size": bs, "steps": steps, "samples": n, "samples_per_s": round(n / seconds, 3),
                         "seconds_per_sample": round(seconds / n, 4), "model_flops_per_sample": flops_sample,
                         "achieved_flops_per_s": round(flops_sample * n / seconds, 1)})
    peak = {"float32": matmul_peak(device, "float32")}
    if device == "cuda":
        peak["bfloat16"] = matmul_peak(device, "bfloat16", n=8192)
    for row in rows:
        row["fraction_of_fp32_matmul_peak"] = round(row["achieved_flops_per_s"] / peak["float32"], 4)
    print(json.dumps({
        "benchmark": "sampling",
        "checkpoint_sha256": gen.checkpoint_sha256,
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__},
        "model_parameters": gen.model.num_parameters(),
        "flops_per_forward": flops_forward,
        "sequence_length": gen.layout.seq_len,
        "guidance": base.guidance,
        "matmul_peak_flops_per_s": {k: round(v, 1) for k, v in peak.items()},
        "results": rows,
    }, indent=2))


if __name__ == "__main__":
    main()
