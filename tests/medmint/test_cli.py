import json
import subprocess
import sys

from tests.conftest import CONFIGS, error_line, medmint_cli

HEAVY = ("torch", "apache_beam", "great_expectations", "pyarrow", "pydicom", "highdicom", "numpy", "pydantic")


def test_help_imports_nothing_heavy():
    code = (
        "import sys; from typer.testing import CliRunner; from medmint.cli import app; "
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output; "
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_help_lists_the_commands():
    proc = medmint_cli("--help", check=True)
    for cmd in ("generate", "config", "data", "version"):
        assert cmd in proc.stdout


def test_version():
    import medmint

    assert medmint_cli("version", check=True).stdout.strip() == medmint.__version__


def test_config_show_prints_effective_config_and_hash():
    from medmint.config import config_sha256, load_config

    proc = medmint_cli("config", "show", str(CONFIGS / "demo-phantom.yaml"), "--set", "target.total=7", "--json", check=True)
    data = json.loads(proc.stdout)
    assert data["config"]["target"]["total"] == 7
    assert data["config_sha256"] == config_sha256(load_config(CONFIGS / "demo-phantom.yaml", ["target.total=7"]))
    yaml_out = medmint_cli("config", "show", str(CONFIGS / "demo-phantom.yaml"), check=True).stdout
    assert "# config_sha256: " in yaml_out and "generator:" in yaml_out


def test_config_show_bad_input_is_one_line_and_nonzero(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("target: {total: 3}\ngenerator: {batch_size: lots}\n")
    proc = medmint_cli("config", "show", str(bad))
    assert proc.returncode == 2 and str(bad) in error_line(proc) and "generator.batch_size" in error_line(proc)
    proc = medmint_cli("config", "show", str(tmp_path / "missing.yaml"))
    assert proc.returncode == 2 and "config file not found" in error_line(proc)
