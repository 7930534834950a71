"""Training throughput of the diffusion model, and how much of the machine's matmul peak it uses.

    python benchmarks/train_throughput.py [--config configs/train/phantom-cpu.yaml]
        [--hidden 192 --layers 6 --heads 4 --intermediate 512]
        [--image-tokens 64 --image-codes 1000 --text-vocab 768 --text-length 160]
        [--batch-sizes 16 32 64] [--threads 1 2] [--dtype float32 bfloat16] [--compile]
        [--warmup 2 --steps 10]

Why: the default checkpoint is trained on a 2-core CPU for hours, so the model stage's speed
decides how many steps a recipe can afford. This measures it without a dataset: random but valid
token sequences (``VocabLayout.assemble`` of random conditions, image codes and report ids), then
optimizer steps done exactly as ``train_model_stage`` does them (batch rows drawn from a pool,
warmup-cosine LR, ``diffusion_loss`` forward, backward, gradient clipping at 1.0, AdamW, the EMA
update of every float tensor). The layout and backbone come from the flags (defaults: the
default checkpoint's) or from a training YAML (``--config``; flags given on the command line win).

Prints one JSON object with one entry per variant in "runs" (threads x dtype x batch size, eager
or ``torch.compile``): tokens/s (batch x seq_len x steps / seconds), sequences/s, seconds/step and
its split (drawing the batch, forward, backward, clip + AdamW, EMA), model FLOPs per training step
(approximated as 3 x flops_per_forward x batch: the backward pass taken as twice the forward, the
head at the masked positions only;
matmul FLOPs only, see ``MeDiMModel.flops_per_forward``), achieved FLOP/s, and that as a fraction
of a dense fp32 matmul peak measured in the same run at the same thread count (bf16 too when a
bf16 variant runs). With ``--compile`` the first warm-up step (which compiles) is reported as
compile seconds; if compiling fails the run goes on eager and says so.
Measurements only; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent

# The default checkpoint's layout and backbone (configs/train/phantom-cpu.yaml).
DEFAULTS: dict[str, Any] = {
    "family": "llama", "hidden": 192, "layers": 6, "heads": 4, "intermediate": 512,
    "image_tokens": 64, "image_codes": 1000, "text_vocab": 768, "text_length": 160,
    "lr": 1e-3, "warmup_lr": 200, "weight_decay": 0.01, "ema": 0.995, "t_min": 0.02, "p_drop_all": 0.1,
    "p_drop_each": 0.3, "batch_sizes": [32], "pretrained": None,
}
FLOPS_NOTE = ("model_flops_per_step ~= 3 x flops_per_forward x batch (backward taken as 2 x forward), with the "
              "head counted at the masked positions only (training runs it there; flops_per_forward counts every "
              "position, as sampling does); "
              "matmul FLOPs of the model only (projections, attention, head): embeddings, norms, softmax, "
              "the loss, clipping, AdamW and EMA are not counted")


def _matmul_peak():
    """``matmul_peak`` of benchmarks/sampling.py, loaded by path (no sys.path changes)."""
    spec = importlib.util.spec_from_file_location("_medmint_bench_sampling", HERE / "sampling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.matmul_peak


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _settings(args: argparse.Namespace) -> tuple[dict[str, Any], str | None]:
    """Flags given > the training YAML > DEFAULTS."""
    s = dict(DEFAULTS)
    source = None
    if args.config:
        from medmint.config import load_train_config

        cfg = load_train_config(args.config)
        it, m = cfg.image_tokenizer, cfg.model
        s.update({
            "family": m.family, "pretrained": m.pretrained, "hidden": m.hidden_size, "layers": m.num_layers,
            "heads": m.num_heads, "intermediate": m.intermediate_size,
            "image_tokens": (it.resolution // it.downsample) ** 2, "image_codes": math.prod(it.levels),
            "text_vocab": cfg.text_tokenizer.vocab_size, "text_length": cfg.text_tokenizer.text_length,
            "lr": m.lr, "warmup_lr": m.warmup, "weight_decay": m.weight_decay, "ema": m.ema, "t_min": m.t_min,
            "p_drop_all": m.p_drop_all, "p_drop_each": m.p_drop_each, "batch_sizes": [m.batch_size],
        })
        source = str(args.config)
    for key in ("family", "hidden", "layers", "heads", "intermediate", "image_tokens", "image_codes", "text_vocab",
                "text_length", "batch_sizes"):
        if getattr(args, key) is not None:
            s[key] = getattr(args, key)
    return s, source


def backbone_arch(s: dict[str, Any]) -> dict[str, Any]:
    """The backbone spec ``train_model_stage`` builds from a model config."""
    if s["pretrained"]:
        return {"pretrained": s["pretrained"]}
    return {"family": s["family"], "hidden_size": s["hidden"], "num_hidden_layers": s["layers"],
            "num_attention_heads": s["heads"], "num_key_value_heads": s["heads"], "intermediate_size": s["intermediate"]}


def random_sequences(layout, n: int, seed: int):
    """``n`` valid clean sequences [n, seq_len] (int64): random conditions, codes and report ids."""
    import numpy as np

    from medmint.generators.diffusion.layout import LABEL_STATES, SEXES, VIEWS
    from medmint.records import AGE_BINS

    rng = np.random.default_rng(seed)
    seqs = np.empty((n, layout.seq_len), dtype=np.int64)
    for i in range(n):
        findings = {lab: LABEL_STATES[rng.integers(len(LABEL_STATES))] for lab in layout.labels}
        cond = layout.condition_ids(findings, VIEWS[rng.integers(len(VIEWS))], SEXES[rng.integers(len(SEXES))],
                                    AGE_BINS[rng.integers(len(AGE_BINS))])
        codes = rng.integers(layout.image_codes, size=layout.image_tokens)
        length = int(rng.integers(max(1, layout.text_length // 4), layout.text_length))
        seqs[i] = layout.assemble(cond, codes, rng.integers(layout.text_vocab, size=length).tolist())
    return seqs


def run_variant(s: dict[str, Any], layout, pool, *, batch: int, threads: int, dtype: str, compile_model: bool,
                warmup: int, steps: int, device: str, seed: int) -> dict[str, Any]:
    import numpy as np
    import torch

    from medmint.generators.diffusion.model import MeDiMModel
    from medmint.generators.diffusion.noise import NoiseConfig, diffusion_loss
    from medmint.generators.diffusion.training import ema_update
    from medmint.schedules import warmup_cosine

    torch.set_num_threads(threads)
    backbone = backbone_arch(s)
    noise = NoiseConfig(t_min=s["t_min"], p_drop_all=s["p_drop_all"], p_drop_each=s["p_drop_each"])
    torch.manual_seed(seed)
    dev = torch.device(device)
    model = MeDiMModel(layout, {"backbone": backbone}).to(dev)
    ema = {k: v.detach().clone().float() for k, v in model.state_dict().items()}
    opt = torch.optim.AdamW(model.parameters(), lr=s["lr"], betas=(0.9, 0.98), weight_decay=s["weight_decay"])
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)
    data = torch.as_tensor(pool, device=dev)
    n_pool = len(pool)
    amp = dtype == "bfloat16"
    total = warmup + steps
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    row: dict[str, Any] = {"threads": threads, "batch_size": batch, "dtype": dtype,
                           "autocast": f"torch.autocast('{dev.type}', bfloat16)" if amp else None,
                           "compile": compile_model}
    runner: Any = model
    if compile_model:
        torch._dynamo.reset()
        try:
            runner = torch.compile(model)
        except Exception as exc:  # noqa: BLE001 - any failure means: measure eager, and say why
            row["compile_note"] = f"torch.compile failed ({type(exc).__name__}: {exc}); measured eager"
            runner = model

    split = {"data": 0.0, "forward": 0.0, "backward": 0.0, "optimizer": 0.0, "ema": 0.0}
    losses: list[float] = []
    masked: list[float] = []  # share of the predicted positions masked (the head runs on those only)
    model.train()

    def one_step(step: int, timed: bool) -> None:
        marks = [time.perf_counter()]
        rows = np.random.default_rng([seed, step]).choice(n_pool, size=batch)
        ids = data[torch.as_tensor(rows, device=dev)]
        for group in opt.param_groups:
            group["lr"] = warmup_cosine(step, total, s["lr"], s["warmup_lr"])
        sync()
        marks.append(time.perf_counter())
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            loss, stats = diffusion_loss(runner, ids, layout, gen, noise)
        sync()
        marks.append(time.perf_counter())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        sync()
        marks.append(time.perf_counter())
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sync()
        marks.append(time.perf_counter())
        ema_update(ema, model, min(s["ema"], (2 + step) / (11 + step)) if s["ema"] > 0 else 0.0)
        sync()
        marks.append(time.perf_counter())
        if timed:
            for name, a, b in zip(split, marks, marks[1:]):
                split[name] += b - a
            losses.append(float(loss.detach()))
            masked.append(stats["mask_frac"])

    step = 0
    if compile_model and runner is not model:
        start = time.perf_counter()
        try:
            one_step(step, timed=False)
            row["compile_seconds"] = round(time.perf_counter() - start, 3)
            row["compile_seconds_note"] = "wall time of the first warm-up step: compiling plus one step"
        except Exception as exc:  # noqa: BLE001
            row["compile_note"] = (f"torch.compile failed at the first step ({type(exc).__name__}: {exc}); "
                                   "measured eager")
            runner = model
        step += 1
    while step < warmup:
        one_step(step, timed=False)
        step += 1
    start = time.perf_counter()
    for _ in range(steps):
        one_step(step, timed=True)
        step += 1
    seconds = time.perf_counter() - start

    head_positions = float(np.mean(masked)) * (layout.image_tokens + layout.text_length) if masked else None
    flops_step = 3 * model.flops_per_forward(head_positions=head_positions) * batch
    row.update({
        "steps": steps,
        "seconds": round(seconds, 4),
        "seconds_per_step": round(seconds / steps, 5),
        "tokens_per_s": round(batch * layout.seq_len * steps / seconds, 1),
        "sequences_per_s": round(batch * steps / seconds, 3),
        "seconds_per_step_split": {k: round(v / steps, 5) for k, v in split.items()},
        "share_of_step": {k: round(v / max(sum(split.values()), 1e-12), 4) for k, v in split.items()},
        "head_positions": round(head_positions, 2) if head_positions is not None else None,
        "model_flops_per_step": flops_step,
        "achieved_flops_per_s": round(flops_step * steps / seconds, 1),
        "last_loss": round(losses[-1], 4) if losses else None,
    })
    return row


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", help="a training YAML (configs/train/...): layout, backbone, optimizer, batch size")
    ap.add_argument("--family", choices=["llama", "qwen2", "gemma"])
    ap.add_argument("--hidden", type=int)
    ap.add_argument("--layers", type=int)
    ap.add_argument("--heads", type=int)
    ap.add_argument("--intermediate", type=int)
    ap.add_argument("--image-tokens", dest="image_tokens", type=int)
    ap.add_argument("--image-codes", dest="image_codes", type=int)
    ap.add_argument("--text-vocab", dest="text_vocab", type=int)
    ap.add_argument("--text-length", dest="text_length", type=int)
    ap.add_argument("--batch-sizes", dest="batch_sizes", type=int, nargs="+")
    ap.add_argument("--threads", type=int, nargs="+", help="torch threads; default: torch's current setting")
    ap.add_argument("--dtype", nargs="+", choices=["float32", "bfloat16"], default=["float32"],
                    help="bfloat16: torch.autocast on the device (weights and AdamW stay fp32)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (eager if it fails)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first (the compile step included)")
    ap.add_argument("--steps", type=int, default=10, help="timed optimizer steps per variant")
    ap.add_argument("--pool", type=int, default=256, help="random sequences the batches are drawn from")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--peak-n", dest="peak_n", type=int, default=2048, help="matmul size of the peak measurement")
    ap.add_argument("--peak-repeats", dest="peak_repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        ap.error("--steps must be >= 1 and --warmup >= 0")

    import torch

    from medmint.generators.diffusion.layout import VocabLayout
    from medmint.generators.diffusion.model import MeDiMModel

    s, source = _settings(args)
    layout = VocabLayout(text_vocab=s["text_vocab"], image_codes=s["image_codes"], image_tokens=s["image_tokens"],
                         text_length=s["text_length"])
    default_threads = torch.get_num_threads()
    threads_list = args.threads or [default_threads]
    pool = random_sequences(layout, max(args.pool, max(s["batch_sizes"])), args.seed)
    matmul_peak = _matmul_peak()

    runs: list[dict[str, Any]] = []
    peaks: dict[str, dict[str, float]] = {}
    for threads in threads_list:
        for dtype in args.dtype:
            for batch in s["batch_sizes"]:
                runs.append(run_variant(s, layout, pool, batch=batch, threads=threads, dtype=dtype,
                                        compile_model=args.compile, warmup=args.warmup, steps=args.steps,
                                        device=args.device, seed=args.seed))
        torch.set_num_threads(threads)
        for name in ["float32"] + (["bfloat16"] if "bfloat16" in args.dtype else []):
            peaks.setdefault(name, {})[str(threads)] = matmul_peak(args.device, name, args.peak_n, args.peak_repeats)
    for row in runs:
        t = str(row["threads"])
        row["fraction_of_fp32_matmul_peak"] = round(row["achieved_flops_per_s"] / peaks["float32"][t], 4)
        if row["dtype"] == "bfloat16":
            row["fraction_of_bf16_matmul_peak"] = round(row["achieved_flops_per_s"] / peaks["bfloat16"][t], 4)

    torch.manual_seed(args.seed)
    backbone = backbone_arch(s)
    model = MeDiMModel(layout, {"backbone": backbone})
    result = {
        "benchmark": "train_throughput",
        "device": args.device,
        "machine": {"cpus": os.cpu_count(), "cpu_model": cpu_model(), "platform": platform.platform(),
                    "python": platform.python_version(), "torch": torch.__version__,
                    "torch_default_threads": default_threads},
        "config": source,
        "layout": {"seq_len": layout.seq_len, "vocab_size": layout.vocab_size, "image_tokens": layout.image_tokens,
                   "image_codes": layout.image_codes, "text_vocab": layout.text_vocab,
                   "text_length": layout.text_length},
        "backbone": backbone,
        "model_parameters": model.num_parameters(),
        "flops_per_forward": model.flops_per_forward(),
        "flops_note": FLOPS_NOTE,
        "optimizer": {"name": "AdamW", "lr": s["lr"], "betas": [0.9, 0.98], "weight_decay": s["weight_decay"],
                      "clip_grad_norm": 1.0, "ema": s["ema"]},
        "warmup_steps": args.warmup,
        "timed_steps": args.steps,
        "matmul_peak": {"n": args.peak_n, "repeats": args.peak_repeats, "note": "dense n x n matmul, per thread count, "
                        "measured after that thread count's runs"},
        "matmul_peak_flops_per_s": {k: {t: round(v, 1) for t, v in d.items()} for k, d in peaks.items()},
        "runs": runs,
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
