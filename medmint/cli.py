"""The ``medmint`` command. Heavy imports live inside the commands so ``--help`` stays instant."""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, NoReturn

import typer

app = typer.Typer(
    name="medmint",
    help="Mint synthetic, anonymized, class-balanced medical training corpora.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
config_app = typer.Typer(help="Inspect configs.", no_args_is_help=True)
data_app = typer.Typer(help="Make and inspect training data.", no_args_is_help=True)
app.add_typer(config_app, name="config")
validators_app = typer.Typer(help="Calibrate the validators.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(validators_app, name="validators")

EXIT_USAGE = 2
EXIT_AUDIT_FAILED = 1  # the audit found a fault; its FAIL lines and report/index.html say which
EXIT_SHORTFALL = 3  # the run finished but missed a target; run.json "shortfall" says which and why
EXIT_INTERRUPTED = 4  # a worker process died or could not start; rerunning the same command resumes
EXIT_STOPPED = 5  # an error once the rounds were under way (full disk, a bug); the traceback precedes the line

GENERATE_EPILOG = (
    "Exit codes: 0 run complete, every target met, audit verdict PASS or WARN (WARN: a fitness check missed, "
    "its WARN lines and OUT/report/index.html say which; audit.severity=fail makes it 1); "
    "1 the audit failed (its FAIL lines and OUT/report/index.html say which); "
    "2 bad input, found before any work (one 'medmint: error:' line; OUT not created or not changed); "
    "3 a target was missed (the 'shortfall:' lines and run.json say which and why); "
    "4 a worker process died or could not start (rerun the same command to resume); "
    "5 stopped once work had started (written files are kept: fix the cause, rerun the same command to resume)."
    "\n\n"
    "Example: medmint generate configs/demo.yaml --out out/demo --set target.total=64 --workers 2"
)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """One line on stderr naming what is at fault, and a non-zero exit."""
    typer.echo(f"medmint: error: {message}", err=True)
    raise typer.Exit(code)


def _absolute(path: Path | None) -> Path | None:
    """A path the user gave, made absolute against the working directory once, here: libraries below
    (Great Expectations' file stores, Beam workers) need not agree on what a relative path means."""
    return None if path is None else Path(os.path.abspath(path))


def _guarded(fn: Callable[[], Any]) -> Any:
    """Turns the errors we expect from bad input into one line; anything else is a real bug."""
    from medmint.config import ConfigError

    expected: tuple[type[BaseException], ...] = (ConfigError, ValueError, OSError)
    try:
        return fn()
    except typer.Exit:
        raise
    except expected as exc:
        from medmint.errors import first_line

        fail(first_line(exc))


@app.command()
def version() -> None:
    """Print medmint's version."""
    from medmint import __version__

    typer.echo(__version__)


@config_app.command("show")
def config_show(
    config: Path = typer.Argument(..., help="YAML config file"),
    set_: list[str] = typer.Option([], "--set", help="override KEY=VALUE (repeatable)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of YAML"),
) -> None:
    """Print the effective config (after defaults and --set) and its SHA-256."""

    def _show() -> None:
        import yaml

        from medmint.config import config_dict, config_sha256, load_any_config

        cfg = load_any_config(config, set_)
        data = config_dict(cfg)
        if as_json:
            typer.echo(json.dumps({"config": data, "config_sha256": config_sha256(cfg)}, indent=2))
        else:
            typer.echo(yaml.safe_dump(data, sort_keys=False).rstrip())
            typer.echo(f"# config_sha256: {config_sha256(cfg)}")

    _guarded(_show)


@data_app.command("phantom")
def data_phantom(
    n: int = typer.Option(..., "--n", min=1, help="number of studies"),
    out: Path = typer.Option(..., "--out", help="output folder (MIMIC-CXR-JPG layout)"),
    seed: int = typer.Option(0, "--seed", min=0),
    size: int = typer.Option(256, "--size", min=64, max=1024),
    image_format: str = typer.Option("png", "--format", help="png (16-bit, lossless), jpg (8-bit, as MIMIC-CXR-JPG) "
                                     "or dicom (DX files, as MIMIC-CXR)"),
    phi: bool = typer.Option(False, "--phi", help="inject PHI (for anonymization tests)"),
) -> None:
    """Write a phantom training set in the MIMIC-CXR-JPG layout (or MIMIC-CXR's DICOM layout)."""
    if image_format not in ("png", "jpg", "dicom"):
        fail(f"--format: expected png, jpg or dicom, got '{image_format}'")

    def _write() -> dict[str, Any]:
        from medmint.generators.datasets import write_phantom_dataset, write_phantom_dicom

        with _progress("phantom studies", n) as advance:
            if image_format == "dicom":
                return write_phantom_dicom(_absolute(out), n, seed=seed, size=size, phi=phi,
                                           progress=lambda _step: advance())
            return write_phantom_dataset(
                _absolute(out), n, seed=seed, size=size, image_format=image_format, phi=phi, progress=lambda _step: advance()
            )

    summary = _guarded(_write)
    typer.echo(json.dumps(summary, indent=2, default=str))


@data_app.command("check")
def data_check(
    path: Path = typer.Argument(..., help="MIMIC-CXR-JPG folder, CSV/Parquet manifest, or folder of DICOM files"),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="skip and count bad items instead of stopping at the first"),
) -> None:
    """Read every example of a training set once, as training would, and print what was loaded."""

    def _check() -> dict[str, Any]:
        from medmint.generators.datasets import open_dataset

        dataset = open_dataset(_absolute(path), on_error="skip" if skip_bad else "raise")
        with _progress("examples read", None) as advance:
            for _ in dataset:
                advance()
        return dataset.report.as_dict()

    report = _guarded(_check)
    typer.echo(json.dumps(report, indent=2))


@app.command()
def anonymize(
    src: Path = typer.Argument(..., metavar="IN", help="folder of real DICOM files (any depth); never modified"),
    out: Path = typer.Argument(..., metavar="OUT", help="new folder for the de-identified mirror; rerun to resume"),
    key_file: Path = typer.Option(None, "--key-file", help="file holding the secret key (else $MEDMINT_DEID_KEY)"),
    workers: int = typer.Option(1, "--workers", min=1, help="worker processes"),
    shift_dates: bool = typer.Option(False, "--shift-dates", help="Retain Longitudinal Temporal Information "
                                     "with Modified Dates: shift dates per patient instead of removing them"),
    clean_descriptors: bool = typer.Option(False, "--clean-descriptors", help="Clean Descriptors: keep "
                                           "descriptions and comments, scrubbed, instead of removing them"),
    exclude_burned_in: bool = typer.Option(False, "--exclude-burned-in", help="write no output for "
                                           "BurnedInAnnotation=YES (always flagged in the audit log)"),
    exclude_suspicious: bool = typer.Option(False, "--exclude-suspicious", help="write no output for modalities "
                                            "that often burn text into pixels (SC, OT, US, XC, DOC, ...)"),
    keep_private: list[str] = typer.Option([], "--keep-private", help="safe private element CREATOR:XX "
                                           "(XX: hex element byte; repeatable); all other private tags go"),
    originals: Path = typer.Option(None, "--originals", help="also write original values here (outside OUT)"),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="go on past bad files; list them at the end"),
) -> None:
    """De-identify a DICOM corpus (PS3.15 Annex E Basic Profile) and its <stem>.txt reports into OUT."""

    def _run() -> dict[str, Any]:
        from medmint.anonymize.corpus import anonymize_folder
        from medmint.anonymize.dicom_deid import DeidOptions, parse_safe_private
        from medmint.anonymize.keys import load_key

        key = load_key(_absolute(key_file))
        options = DeidOptions(retain_modified_dates=shift_dates, clean_descriptors=clean_descriptors,
                              exclude_burned_in=exclude_burned_in, exclude_suspicious=exclude_suspicious,
                              safe_private=parse_safe_private(keep_private))
        with _progress("files anonymized", None) as advance:
            return anonymize_folder(_absolute(src), _absolute(out), key, options, workers=workers, skip_bad=skip_bad,
                                    originals=_absolute(originals),
                                    progress=lambda done, total: advance(done, total))

    summary = _guarded(_run)
    for bad in summary["bad"]:
        typer.echo(f"medmint: skipped bad file: {src / bad['file']}: {bad['reason']}", err=True)
    typer.echo(json.dumps(summary, indent=2))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, epilog=GENERATE_EPILOG)
def generate(
    ctx: typer.Context,
    config: Path = typer.Argument(..., help="YAML config file"),
    out: Path = typer.Option(..., "--out", help="output folder: one run per folder; rerun to resume"),
    set_: list[str] = typer.Option([], "--set", help="override KEY=VALUE (repeatable)"),
    runner: str = typer.Option(None, "--runner", help="Beam runner (default from config: FnApiRunner)"),
    workers: int = typer.Option(None, "--workers", min=1, help="local worker processes"),
    audit_after: bool = typer.Option(True, "--audit/--no-audit", help="audit OUT when the run is complete "
                                     "(report/index.html); exit 1 if the audit fails"),
) -> None:
    """Generate a corpus: sample, validate, anonymize, write DICOM + Parquet + run.json, then audit it.

    Any further --option=value is passed to Beam (e.g. --job_endpoint=... for PortableRunner).

    OUT, like the config's generator.checkpoint, is relative to the working directory.
    """
    beam_args = list(ctx.args)
    if runner:
        beam_args.append(f"--runner={runner}")
    overrides = list(set_) + ([f"runner.workers={workers}"] if workers else [])

    def _generate() -> Any:
        from medmint.pipeline.driver import RunStopped
        from medmint.pipeline.driver import generate as run_generate
        from medmint.pipeline.worker_pool import WorkerPoolError

        try:
            with _progress("samples accepted", None) as advance:
                return run_generate(config, _absolute(out), overrides=overrides, beam_args=beam_args,
                                    on_progress=lambda done, total: advance(done, total), on_round=_print_round)
        except WorkerPoolError as exc:
            fail(str(exc), EXIT_INTERRUPTED)
        except RunStopped as exc:
            traceback.print_exception(exc.__cause__, file=sys.stderr)  # for whoever reads the log in the morning
            fail(f"{exc}; what was written is kept: fix the cause and rerun the same command to resume", EXIT_STOPPED)

    manifest = _guarded(_generate)
    counts = manifest.data.get("counts", {})
    typer.echo(
        f"run {manifest.data['status']} ({manifest.data.get('stopped_because', '')}): "
        f"{counts.get('accepted', 0)} accepted, {counts.get('rejected', 0)} rejected "
        f"in {len(manifest.data.get('rounds', []))} round(s) -> {out}"
    )
    shortfall = manifest.data.get("shortfall") or []
    for line in shortfall:
        typer.echo(f"shortfall: {line}", err=True)
    passed = _audit_and_print(out, None, after_run=True) if audit_after else True
    if shortfall:
        raise typer.Exit(EXIT_SHORTFALL)
    if not passed:
        raise typer.Exit(EXIT_AUDIT_FAILED)


def _print_round(event: Any) -> None:
    """One line for the round, one per target finding: have / wanted, so a log shows the progress."""
    rec, progress = event.record, event.progress
    counts = rec["counts"]
    total = progress["total"]
    typer.echo(f"round {rec['round']}: {rec['requested']} requested, {counts.get('accepted', 0)} accepted "
               f"({rec['acceptance_rate']:.0%}); total {total['have']} of {total['wanted']}")
    for finding, status in progress["findings"].items():
        gap = status["wanted"] - status["have"]
        mark = (f"short {status['shortfall']}" if not status["met"] else
                f"met within the tolerance, {gap} short" if gap > 0 else "met")
        typer.echo(f"  {finding}: {status['have']} of {status['wanted']} ({mark})")


@app.command()
def audit(
    out: Path = typer.Argument(..., metavar="OUT", help="output folder of a finished medmint generate run"),
    reference: Path = typer.Option(None, "--reference", help="reference manifest (real studies) for the "
                                   "report's Frechet distance, precision / recall and report metrics"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON on stdout (nothing else)"),
) -> None:
    """Run the expectation suite and the fitness checks over OUT and write report/; exit 0 on PASS or WARN
    (a fitness check missed: read the WARN lines), 1 on FAIL."""

    def _audit() -> Any:
        from medmint.pipeline.audit import audit as run_audit

        return run_audit(_absolute(out), reference=_absolute(reference))

    if as_json:
        result = _guarded(_audit)
        typer.echo(result.to_json())
        raise typer.Exit(0 if result.passed else EXIT_AUDIT_FAILED)
    raise typer.Exit(0 if _audit_and_print(out, reference) else EXIT_AUDIT_FAILED)


def _audit_and_print(out: Path, reference: Path | None, *, after_run: bool = False) -> bool:
    """The verdict, then one line per failing expectation (the fault named), then notes on stderr.

    ``after_run``: the audit at the end of ``generate``. The run's work is done by then, so an error is
    not bad input (2) but a stop after work (5): the run stays complete, and rerunning the same command
    (which finds it complete) audits it again."""
    from medmint.pipeline.audit import AuditInputError
    from medmint.pipeline.audit import audit as run_audit

    if not after_run:
        result = _guarded(lambda: run_audit(_absolute(out), reference=_absolute(reference)))
    else:
        try:
            result = run_audit(_absolute(out), reference=_absolute(reference))
        except Exception as exc:
            from medmint.errors import first_line

            if not isinstance(exc, AuditInputError):
                traceback.print_exception(exc, file=sys.stderr)  # not a message for the user: a fault to report
            fail(f"the run is complete, but its audit stopped: {first_line(exc)}; fix the cause and rerun the same "
                 f"command (or medmint audit {out}) to audit it", EXIT_STOPPED)
    c = result.counts
    fitness = f", {len(result.missed)} of {len(result.fitness)} fitness checks missed" if result.fitness else ""
    typer.echo(f"audit {result.verdict}: {c['expectations'] - c['failed']} of {c['expectations']} expectations met"
               f"{fitness} on {c['accepted']} accepted + {c['rejected']} rejected rows -> "
               f"{out / 'report' / 'index.html'}")
    for e in result.failed:
        typer.echo(f"  FAIL {e['details']}  [{e['name']}]")
    for check in result.missed:
        typer.echo(f"  {check['status'].upper()} {check['why']}  [{check['name']}]")
    for line in result.notes:
        typer.echo(f"note: {line}", err=True)
    return bool(result.passed)


@app.command()
def train(
    config: Path = typer.Argument(..., help="training YAML config (see configs/train/)"),
    out: Path = typer.Option(..., "--out", help="checkpoint folder to write; rerun the same command to resume"),
    set_: list[str] = typer.Option([], "--set", help="override KEY=VALUE (repeatable)"),
    max_minutes: float = typer.Option(None, "--max-minutes", min=1.0, help="finish (and save) within this time"),
    snapshot: Path = typer.Option(None, "--snapshot", help="write a checkpoint of OUT's last save to this folder "
                                  "(the run in OUT is left alone, even while it trains)"),
) -> None:
    """Train a checkpoint: findings critic, image tokenizer, text tokenizer, ceilings, diffusion model."""

    def _train() -> str:
        from medmint.config import load_train_config
        from medmint.generators.diffusion.training import train as run_train

        cfg = load_train_config(config, set_)
        command = " ".join(["medmint", "train", str(config), "--out", str(out), *(f"--set {s}" for s in set_)]
                           + ([f"--max-minutes {max_minutes}"] if max_minutes else []))
        return run_train(cfg, _absolute(out), command=command, max_minutes=max_minutes,
                         snapshot_to=_absolute(snapshot))

    sha = _guarded(_train)
    typer.echo(f"checkpoint {sha} -> {snapshot or out}")


@app.command()
def evaluate(
    checkpoint: Path = typer.Argument(..., help="checkpoint folder"),
    n: int = typer.Option(500, "--n", min=2, help="samples per task"),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda"),
    batch_size: int = typer.Option(32, "--batch-size", min=1),
    out: Path = typer.Option(None, "--out", help="also write the JSON here"),
    sampler: list[str] = typer.Option([], "--sampler", help="override the checkpoint's sampler KEY=VALUE "
                                      "(steps, temperature, guidance, ...; repeatable)"),
) -> None:
    """Sample every task from a checkpoint and print its figures as JSON."""

    def _evaluate() -> dict[str, Any]:
        from medmint.pipeline.evaluate import evaluate as run_evaluate

        overrides = _key_values(sampler, "--sampler")
        with _progress("evaluating", None) as advance:
            return run_evaluate(str(_absolute(checkpoint)), n=n, device=device, batch_size=batch_size, sampler=overrides,
                                progress=lambda task, done, total: advance(done, total))

    figures = _guarded(_evaluate)
    text = json.dumps(figures, indent=2, allow_nan=False, default=float)
    if out:
        from medmint.atomic import atomic_write_bytes

        atomic_write_bytes(_absolute(out), (text + "\n").encode())
    typer.echo(text)


@validators_app.command("calibrate")
def validators_calibrate(
    checkpoint: Path = typer.Argument(..., help="checkpoint folder (rewritten in place)"),
    n: int = typer.Option(1000, "--n", min=20, help="held-out studies to calibrate on"),
    target: float = typer.Option(0.98, "--target", min=0.5, max=0.9999, help="acceptance wanted on held-out studies"),
) -> None:
    """Set thresholds that accept held-out real studies and build the privacy index, in CKPT."""

    def _calibrate() -> dict[str, Any]:
        from medmint.validators.calibration import calibrate

        return calibrate(_absolute(checkpoint), n=n, target=target, log=lambda line: typer.echo(line, err=True))

    record = _guarded(_calibrate)
    c = record["calibration"]
    typer.echo(json.dumps({"checkpoint_sha256": record["checkpoint_sha256"], "held_out": c["held_out"],
                           "accepted": c["accepted"], "pass_rate": c["pass_rate"],
                           "uncheckable_findings": c["uncheckable_findings"],
                           "thresholds": {k: v.get("threshold") for k, v in record["settings"].items()}}, indent=2))


def _key_values(items: list[str], option: str) -> dict[str, Any]:
    """KEY=VALUE pairs with YAML-typed values (``guidance=2`` is a number, not a string)."""
    import yaml

    from medmint.config import ConfigError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{option} {item!r}: expected KEY=VALUE")
        out[key.strip()] = yaml.safe_load(value)
    return out


class _progress:
    """A rich progress bar on stderr; ``advance(done, total=None)`` sets the absolute position."""

    def __init__(self, what: str, total: int | None) -> None:
        self.what, self.total = what, total

    def __enter__(self) -> Callable[..., None]:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=Console(stderr=True), transient=False, disable=not sys.stderr.isatty(),
        )
        self._bar.__enter__()
        self._task = self._bar.add_task(self.what, total=self.total)
        self._done = 0

        def advance(done: int | None = None, total: int | None = None) -> None:
            self._done = self._done + 1 if done is None else done
            self._bar.update(self._task, completed=self._done, total=total or self.total)

        return advance

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)


def _usage_line(exc: Any) -> str:
    """A click usage error (bad option value, missing argument, unknown option or command) as the
    rest of the one ``medmint: error:`` line every bad input gets."""
    kind = type(exc).__name__
    param = getattr(exc, "param", None)
    name = None
    if param is not None:
        opts = [o for o in getattr(param, "opts", []) if o.startswith("-")]
        name = max(opts, key=len) if opts else (param.metavar or param.name or "").upper()
    if kind == "BadParameter" and name:
        message = getattr(exc, "message", "") or exc.format_message()
        message = f"{name}: {message[:1].lower()}{message[1:]}"
    elif kind == "MissingParameter" and name:
        message = f"{name}: missing ({'an option' if name.startswith('-') else 'an argument'} this command needs)"
    else:
        message = exc.format_message()
    message = " ".join(message.split()).rstrip(".")
    where = exc.ctx.command_path if getattr(exc, "ctx", None) is not None else "medmint"
    return f"{message}; see '{where} --help'"


def main(argv: list[str] | None = None) -> None:
    """The entry point: every bad input, click's usage errors included, is one line and exit 2."""
    try:
        from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
    except ImportError:  # a Typer that uses click itself
        from click.exceptions import ClickException, NoArgsIsHelpError, UsageError  # type: ignore[no-redef]
    from typer.exceptions import Abort

    from medmint.errors import quiet_logging

    quiet_logging()
    try:
        code = app(args=argv, prog_name="medmint", standalone_mode=False)
    except NoArgsIsHelpError as exc:  # the help was printed; a bare group is still not a command
        code = exc.exit_code
    except UsageError as exc:
        typer.echo(f"medmint: error: {_usage_line(exc)}", err=True)
        code = EXIT_USAGE
    except ClickException as exc:
        typer.echo(f"medmint: error: {' '.join(exc.format_message().split())}", err=True)
        code = exc.exit_code
    except Abort:
        typer.echo("medmint: error: aborted", err=True)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
