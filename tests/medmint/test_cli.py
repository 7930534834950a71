import json
import shutil
import subprocess
import sys

import pytest

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


# --- one format for every bad input -----------------------------------------------------------

PHANTOM = str(CONFIGS / "demo-phantom.yaml")


@pytest.mark.parametrize("args, names", [
    (["generate", PHANTOM, "--out", "OUT", "--workers", "0"], "--workers: input should be greater than or equal to 1"),
    (["generate", PHANTOM, "--out", "OUT", "--workers", "two"], "--workers: input should be a valid integer"),
    (["generate", PHANTOM], "--out: missing"),
    (["generate"], "CONFIG: missing"),
    (["generate", PHANTOM, "--out"], "'--out' requires an argument"),
    (["audit", "OUT", "--bogus"], "No such option: --bogus"),
    (["nosuch"], "No such command 'nosuch'"),
    (["data", "phantom", "--n", "0", "--out", "OUT"], "--n: input should be greater than or equal to 1"),
    (["anonymize", "IN"], "OUT: missing"),
    (["validators", "calibrate", "CKPT", "--target", "2"], "--target: input should be less than or equal to 0.9999"),
    (["generate", PHANTOM, "--out", "OUT", "--set", "nosuch.deep.key=1"], "--set nosuch.deep.key: unknown key 'nosuch'"),
])
def test_every_bad_input_is_one_line_and_exit_2(args, names, tmp_path):
    proc = medmint_cli(*[str(tmp_path / a) if a in ("OUT", "IN", "CKPT") else a for a in args], cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [error_line(proc)], proc.stderr  # that line and nothing else: no box, no usage
    assert names in error_line(proc) and proc.stdout == ""
    assert not (tmp_path / "OUT").exists()


def test_generate_help_names_the_exit_codes_and_gives_an_example():
    text = " ".join(medmint_cli("generate", "--help", check=True).stdout.split())
    for code, meaning in [("0", "run complete"), ("1", "the audit failed"), ("2", "bad input"),
                          ("3", "a target was missed"), ("4", "a worker process died"), ("5", "stopped once work")]:
        assert f"{code} {meaning}" in text, text
    assert "Example: medmint generate configs/demo.yaml --out out/demo" in text


def test_an_audit_that_stops_after_the_run_is_exit_5_not_bad_input(tmp_path, monkeypatch):
    """The work is done when the audit runs: its failure to run is no input error (2), and no FAIL (1)."""
    from types import SimpleNamespace

    from typer.testing import CliRunner

    import medmint.pipeline.audit as audit_module
    import medmint.pipeline.driver as driver
    from medmint.cli import EXIT_STOPPED, app

    manifest = SimpleNamespace(data={"status": "complete", "stopped_because": "every target met", "rounds": [{}],
                                     "counts": {"accepted": 8, "rejected": 0}, "shortfall": []})
    monkeypatch.setattr(driver, "generate", lambda *a, **k: manifest)

    def broken(out, reference=None):
        raise ValueError("base_directory must be an absolute path")

    monkeypatch.setattr(audit_module, "audit", broken)
    result = CliRunner().invoke(app, ["generate", PHANTOM, "--out", str(tmp_path / "out")])
    assert result.exit_code == EXIT_STOPPED, result.output
    assert "medmint: error: the run is complete, but its audit stopped: base_directory must be an absolute path" \
        in result.output


def test_a_corrupt_checkpoint_whose_hashes_match_is_one_line_exit_2_and_no_out(tmp_path):
    """Pre-flight: a safetensors header that does not fit medmint.json fails before OUT is created."""
    from tests.generators.test_checkpoint_and_text import DEFAULT, _header, _swap_a_shape, rehash

    ckpt = tmp_path / "ckpt"
    shutil.copytree(DEFAULT, ckpt)
    header, data = _header(ckpt / "model.safetensors")
    (ckpt / "model.safetensors").write_bytes(_swap_a_shape(header, data))
    rehash(ckpt)
    proc = medmint_cli("generate", str(CONFIGS / "demo.yaml"), "--set", "generator.checkpoint=ckpt", "--out", "out/bad",
                       cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [error_line(proc)], proc.stderr
    assert error_line(proc).startswith("medmint: error: ckpt/model.safetensors: tensor ")
    assert "has shape" in error_line(proc) and not (tmp_path / "out").exists()


def test_a_round_line_says_when_a_target_is_met_only_within_the_tolerance(capsys) -> None:
    from types import SimpleNamespace

    from medmint.cli import _print_round

    status = lambda have, met, short=0: {"wanted": 60, "have": have, "met": met, "shortfall": short}  # noqa: E731
    event = SimpleNamespace(
        record={"round": 1, "requested": 90, "counts": {"accepted": 80}, "acceptance_rate": 0.8},
        progress={"total": {"have": 400, "wanted": 400},
                  "findings": {"A": status(58, True), "B": status(61, True), "C": status(40, False, 20)}})
    _print_round(event)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == ["  A: 58 of 60 (met within the tolerance, 2 short)", "  B: 61 of 60 (met)",
                         "  C: 40 of 60 (short 20)"]
