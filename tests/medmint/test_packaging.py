"""The wheel installs one namespace, ``medmint``, and works on its own."""

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

FOLDERS = {"medmint": "medmint", "generators": "medmint.generators", "validators": "medmint.validators",
           "anonymize": "medmint.anonymize", "pipeline": "medmint.pipeline", "configs": "medmint.configs"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    src = tmp_path_factory.mktemp("src") / "medmint"  # a clean copy: no stale build/ can leak in
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".venv", ".git", "build", "out", "__pycache__", "*.egg-info"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        check=True, capture_output=True, text=True,
    )
    (whl,) = out.glob("medmint-*.whl")
    return whl


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for folder, namespace in FOLDERS.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder).parts
            found.add(".".join((namespace, *rel)))
    assert found == listed


def test_wheel_holds_only_the_medmint_namespace_and_the_configs(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"medmint"}
    assert "medmint/configs/demo.yaml" in names and "medmint/configs/generator/phantom.yaml" in names
    assert not any(re.match(r"(pipeline|validators|generators|anonymize|tests)/", n) for n in names)


def test_code_imports_from_the_built_wheel(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import medmint, medmint.pipeline.job, medmint.generators.phantom, medmint.anonymize.minting; "
        "from medmint.anonymize.profile import load_table; assert len(load_table().rules) == 655; "
        "from importlib.resources import files; "
        "print(medmint.__file__); print(files('medmint.configs').joinpath('demo.yaml').is_file())"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r}); {code}"],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.split()
    assert first.startswith(str(site)) and second == "True"
