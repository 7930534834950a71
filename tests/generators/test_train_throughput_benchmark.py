"""benchmarks/train_throughput.py runs end to end on a tiny model and prints the JSON it promises.

No timing thresholds: the numbers are measurements; only their presence and sanity are checked."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.conftest import load_script

torch = pytest.importorskip("torch")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "train_throughput.py"
TINY = ["--hidden", "32", "--layers", "1", "--heads", "2", "--intermediate", "64", "--image-tokens", "16",
        "--text-length", "16", "--text-vocab", "300", "--batch-sizes", "2", "--warmup", "1", "--steps", "2",
        "--threads", "1", "--pool", "8", "--peak-n", "256", "--peak-repeats", "2"]
RUN_KEYS = {"threads", "batch_size", "dtype", "compile", "steps", "seconds", "seconds_per_step", "tokens_per_s",
            "sequences_per_s", "seconds_per_step_split", "model_flops_per_step", "achieved_flops_per_s",
            "fraction_of_fp32_matmul_peak"}


@pytest.fixture(scope="module")
def bench():
    return load_script(SCRIPT, "_train_throughput_under_test")


@pytest.fixture(autouse=True)
def _keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_tiny_run_prints_the_promised_json(bench, capsys):
    result = bench.main(TINY)
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(result))
    for key in ("benchmark", "machine", "layout", "backbone", "model_parameters", "flops_per_forward", "flops_note",
                "matmul_peak_flops_per_s", "runs"):
        assert key in printed
    assert {"cpu_model", "torch", "cpus"} <= set(printed["machine"])
    assert printed["layout"]["seq_len"] == 17 + 1 + 16 + 2 + 16
    assert printed["matmul_peak_flops_per_s"]["float32"]["1"] > 0
    (run,) = printed["runs"]
    assert RUN_KEYS <= set(run)
    assert run["tokens_per_s"] > 0 and run["sequences_per_s"] > 0
    # the head runs on the masked positions only: fewer FLOPs than a forward over every position
    assert 0 < run["head_positions"] < printed["layout"]["image_tokens"] + printed["layout"]["text_length"]
    assert run["model_flops_per_step"] < 3 * printed["flops_per_forward"] * 2
    assert set(run["seconds_per_step_split"]) == {"data", "forward", "backward", "optimizer", "ema"}
    fraction = run["fraction_of_fp32_matmul_peak"]
    assert isinstance(fraction, float) and math.isfinite(fraction) and 0 < fraction < 10
    assert math.isfinite(run["last_loss"])


def test_variants_loop_and_bf16_autocast(bench, capsys):
    result = bench.main([*TINY, "--batch-sizes", "1", "2", "--dtype", "float32", "bfloat16", "--warmup", "0",
                         "--steps", "1"])
    capsys.readouterr()
    assert [(r["dtype"], r["batch_size"]) for r in result["runs"]] == [
        ("float32", 1), ("float32", 2), ("bfloat16", 1), ("bfloat16", 2)]
    assert "bfloat16" in result["matmul_peak_flops_per_s"]
    assert all(0 < r["fraction_of_bf16_matmul_peak"] < 10 for r in result["runs"] if r["dtype"] == "bfloat16")


def test_config_sets_the_layout(bench, capsys):
    config = Path(__file__).resolve().parents[2] / "configs" / "train" / "phantom-cpu.yaml"
    result = bench.main([*TINY[:8], "--config", str(config), "--batch-sizes", "1", "--warmup", "0", "--steps", "1",
                         "--threads", "1", "--pool", "2", "--peak-n", "128", "--peak-repeats", "1"])
    capsys.readouterr()
    # (resolution / downsample)^2 codes, the product of the FSQ levels, the recipe's text tokenizer; flags
    # still set the backbone
    from medmint.config import load_train_config

    cfg = load_train_config(config)
    tok = cfg.image_tokenizer
    layout = result["layout"]
    assert (layout["image_tokens"], layout["image_codes"], layout["text_vocab"], layout["text_length"]) == (
        (tok.resolution // tok.downsample) ** 2, math.prod(tok.levels), cfg.text_tokenizer.vocab_size,
        cfg.text_tokenizer.text_length)
    assert result["backbone"]["hidden_size"] == 32
    assert result["optimizer"]["ema"] == cfg.model.ema


@pytest.mark.parametrize("where", ["build", "first_step"])
def test_compile_failure_falls_back_to_eager_with_a_note(bench, capsys, monkeypatch, where):
    def broken_compile(model, *a, **k):
        if where == "build":
            raise RuntimeError("no compiler here")

        def forward(*args, **kwargs):
            raise RuntimeError("no compiler here")

        return forward

    monkeypatch.setattr(torch, "compile", broken_compile)
    result = bench.main([*TINY, "--compile", "--steps", "1"])
    capsys.readouterr()
    (run,) = result["runs"]
    assert run["compile"] is True
    assert "measured eager" in run["compile_note"] and "no compiler here" in run["compile_note"]
    assert run["tokens_per_s"] > 0
