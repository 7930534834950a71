"""The README's "Two commands on a fresh machine", as written there.

The main command once generated a whole run and then exited 2 in its audit, because every test
passed an absolute ``--out`` and the README's is relative (``out/demo``). Here the command is read
out of the README itself and run from a fresh directory laid out as a clone is (``configs/`` and
``checkpoints/`` beside it), relative OUT and all.

Cost: the diffusion demo itself (32 accepted, a few rounds) takes 5 to 15 minutes on the 2-core CI
machine, more than the rest of the suite can spare, so CI runs the same command line on
``configs/demo-phantom.yaml`` (the README's "same job with the procedural phantom", seconds), and
``tests/e2e/test_default_checkpoint.py`` runs ``configs/demo.yaml`` on a smaller target. Set
``MEDMINT_README_DEMO=1`` to run the diffusion command verbatim too (measured on 2 busy cores from a
fresh clone: 13 minutes, exit 0, report/index.html written; the install before it 4 minutes).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.e2e

README = REPO / "README.md"
MAIN_COMMAND = "medmint generate configs/demo.yaml --out out/demo"


def readme_blocks(section: str) -> list[str]:
    """The ```bash blocks of a README section, in order."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {section}")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```bash\n(.*?)```", text[start:end if end > 0 else None], flags=re.S)


def readme_main_command() -> list[str]:
    """The ``medmint generate ...`` at the end of the install line, split as the shell would."""
    install = readme_blocks("Two commands on a fresh machine")[0].strip()
    return shlex.split(install.split("&&")[-1].strip())


def fresh_checkout(tmp_path: Path) -> Path:
    """A directory laid out as a clone is, for what the command reads (configs and checkpoints)."""
    root = tmp_path / "clone"
    root.mkdir()
    for name in ("configs", "checkpoints"):
        (root / name).symlink_to(REPO / name, target_is_directory=True)
    return root


def run_as_a_user(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which(argv[0], path=str(Path(sys.executable).parent)) or argv[0]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    return subprocess.run([exe, *argv[1:]], capture_output=True, text=True, cwd=cwd, env=env, timeout=3600)


def test_the_readme_names_the_main_command_and_ci_runs_the_test_command():
    assert shlex.join(readme_main_command()) == MAIN_COMMAND
    test_command = readme_blocks("Two commands on a fresh machine")[1].strip().splitlines()
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert all(line in ci for line in test_command), "the README's test command is what .ci/run runs, verbatim"


def check_the_run(proc: subprocess.CompletedProcess[str], root: Path) -> None:
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = root / "out" / "demo"
    assert (out / "run.json").is_file() and (out / "report" / "index.html").is_file()
    assert "-> out/demo" in proc.stdout
    stray = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith(("medmint: ", "note: "))]
    assert not stray, stray  # no library log lines (Beam's apitools notice, Great Expectations' INFO)


def test_the_readme_main_command_line_from_a_fresh_checkout_on_the_phantom(tmp_path):
    argv = readme_main_command()
    argv[argv.index("configs/demo.yaml")] = "configs/demo-phantom.yaml"
    root = fresh_checkout(tmp_path)
    check_the_run(run_as_a_user(argv + ["--set", "target.total=16", "--set", "generator.phantom.size=64"], root), root)


@pytest.mark.skipif(os.environ.get("MEDMINT_README_DEMO") != "1",
                    reason="the diffusion demo takes 5-15 minutes on 2 cores; MEDMINT_README_DEMO=1 runs it")
def test_the_readme_main_command_verbatim_from_a_fresh_checkout(tmp_path):
    root = fresh_checkout(tmp_path)
    check_the_run(run_as_a_user(readme_main_command(), root), root)
