"""Shared helpers for the whole suite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"


def medmint_cli(*args: str, cwd: Path | None = None, check: bool = False,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed ``medmint`` entry point as a user would (``env`` adds to the environment)."""
    exe = shutil.which("medmint", path=str(Path(sys.executable).parent)) or "medmint"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})}
    proc = subprocess.run([exe, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"medmint {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def load_script(path: Path, name: str):
    """A script (benchmarks/...) loaded by path as a module, so its functions can be tested."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install Debian's dicom3tools and dcmtk (the README's test command does)")
    return path


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The one line medmint prints on bad input (stderr may also hold library warnings)."""
    lines = [line for line in proc.stderr.splitlines() if line.startswith("medmint: error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def one_torch_thread():
    """Two pytest workers share two cores: more torch threads than cores (or OpenMP spin-waits on
    tiny tensors) make both crawl. Modules that train or sample use it with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def phantom_samples(n: int, *, seed: int, size: int, prefix: str) -> list:
    """``n`` held-out phantom studies as generated samples (labels drawn from the phantom's prior):
    the "real" reports and images the gates and the report checks must accept."""
    import numpy as np

    from medmint.generators.phantom import sample_labels
    from medmint.generators.phantom.generator import PhantomGenerator
    from medmint.records import SampleRequest, seed_for

    gen = PhantomGenerator(size=size)
    gen.load()
    rng = np.random.default_rng(seed)
    return gen.sample([SampleRequest(sample_id=f"{prefix}-{i:04d}", seed=seed_for(f"{prefix}-{i}"), task="joint",
                                     findings=sample_labels(rng), view=("PA", "AP")[i % 2], sex="MF"[i % 2],
                                     age=30 + i % 60) for i in range(n)])
