"""``medmint generate``: open (or resume) the run in OUT, run its rounds, record what happened.

Each round plans requests from what the earlier rounds accepted (``pipeline/rebalance.py``), runs
them as parts (one Beam job each, ``pipeline/job.py``), reads the accepted ids back from the parts'
shards, and records the round in run.json. The loop stops when every target is met, when the samples
or hours budget is spent, or when the planner has nothing left it may ask for; run.json then says
which targets were missed and why.
"""

from __future__ import annotations

import fcntl
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from medmint.atomic import remove_stale_temporaries
from medmint.config import MedmintConfig, load_config
from medmint.pipeline.run_manifest import OutputFolderError, RunManifest, open_run
from medmint.pipeline.runners import runner_args

TARGETS_MET = "every target met"
SAMPLES_SPENT = "the samples budget is spent"
HOURS_SPENT = "the hours budget is spent"
NOTHING_TO_PLAN = "the planner may ask for nothing more"


@contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """One job per OUT at a time: a second job on the same folder fails instead of interleaving."""
    lock_path = out / ".medmint-lock"
    out.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputFolderError(f"{out}: another medmint job is writing to this folder") from None
        yield


def beam_metrics(result: object) -> dict[str, int]:
    """The job's ``medmint`` counters (generated, accepted, rejected per gate, accepted per finding)."""
    from apache_beam.metrics.metric import MetricsFilter

    counters = result.metrics().query(MetricsFilter().with_namespace("medmint"))["counters"]  # type: ignore[attr-defined]
    totals: Counter[str] = Counter()
    for c in counters:
        totals[c.key.metric.name] += int(c.committed or c.attempted or 0)
    return dict(sorted(totals.items()))


@dataclass(frozen=True)
class RoundEvent:
    """What the CLI shows after each round: the round's record and where the targets stand."""

    record: dict[str, Any]
    progress: dict[str, Any]


@dataclass
class Prepared:
    """A run checked against everything that can be checked before work starts."""

    cfg: MedmintConfig
    args: list[str]
    reference: Any
    goal: Any
    validators: list[dict[str, Any]]
    checkpoint_sha256: str | None


def prepare(config_path: str | Path, overrides: Sequence[str], beam_args: Sequence[str]) -> Prepared:
    """Config, runner, generator, checkpoint, reference and target: any problem raises here, before OUT."""
    cfg = load_config(config_path, list(overrides))
    args = runner_args(cfg, beam_args)
    from medmint.generators.registry import create_generator

    create_generator(cfg.generator)  # an unavailable generator fails here
    checkpoint_sha256 = None
    if cfg.generator.checkpoint:
        from medmint.generators.diffusion.checkpoint import preflight_checkpoint

        # hashes, headers, every tensor's shape against medmint.json: a checkpoint that would fail to load fails now
        checkpoint_sha256 = preflight_checkpoint(cfg.generator.checkpoint).sha256
    from medmint.pipeline.rebalance import Goal, check_reference
    from medmint.pipeline.reference import load_reference
    from medmint.pipeline.stages import plan_for

    reference = load_reference(cfg)
    goal = Goal.of(cfg.target, reference.prevalence())
    check_reference(goal, reference)
    _, _, validators = plan_for(cfg)  # a bad validator setting fails here
    return Prepared(cfg, args, reference, goal, validators, checkpoint_sha256)


def generate(
    config_path: str | Path,
    out: str | Path,
    *,
    overrides: Sequence[str] = (),
    beam_args: Sequence[str] = (),
    on_progress: Callable[[int, int], None] | None = None,
    on_round: Callable[[RoundEvent], None] | None = None,
) -> RunManifest:
    """Run (or resume) the rounds; returns the manifest. Config and OUT problems raise before any work."""
    run = prepare(config_path, overrides, beam_args)
    out = Path(out)
    manifest = open_run(out, run.cfg, checkpoint_sha256=run.checkpoint_sha256)
    if manifest.complete:
        return manifest
    held = manifest.data.get("checkpoint_sha256")
    if held != run.checkpoint_sha256:  # generator.checkpoint is a path (relative to where you run): same hash, other weights
        raise OutputFolderError(f"{out}: its run was started with checkpoint {str(held)[:12]}, but "
                                f"{run.cfg.generator.checkpoint} is {str(run.checkpoint_sha256)[:12]}; resume with "
                                "that checkpoint (from the same folder) or use a new --out folder")
    with _exclusive(out):
        remove_stale_temporaries(out)
        manifest.data.update(
            status="running",
            validators=run.validators,
            runner_args=run.args,
            reference={"source": run.reference.source, "studies": run.reference.studies,
                       "prevalence": {f: round(p, 4) for f, p in run.reference.prevalence().items()},
                       "wanted": run.goal.wanted},
        )
        manifest.save()
        from medmint.pipeline.worker_pool import WorkerPoolError, pool_for

        with pool_for(run.cfg, run.args) as pool:  # started now: the workers load the model while round 0 is planned
            rounds = _Rounds(run, out, manifest, pool, on_progress, on_round)
            try:
                rounds.run()
            except (OutputFolderError, WorkerPoolError):
                raise
            except Exception as exc:
                raise RunStopped(rounds.where, exc) from exc
    return manifest


class RunStopped(RuntimeError):
    """An error once the rounds were under way (a full disk, a bug): unlike bad input it comes after
    files were written, which are kept, and the same command resumes once the cause is fixed."""

    def __init__(self, where: str, cause: BaseException) -> None:
        from medmint.errors import described

        super().__init__(f"stopped {where}: {described(cause)}")


class _Rounds:
    def __init__(self, run: Prepared, out: Path, manifest: RunManifest, pool: Any,
                 on_progress: Callable[[int, int], None] | None, on_round: Callable[[RoundEvent], None] | None) -> None:
        from medmint.pipeline.rounds import RunState

        self.prep, self.cfg, self.out, self.manifest, self.pool = run, run.cfg, out, manifest, pool
        self.state = RunState(manifest.data)
        self.on_progress, self.on_round = on_progress, on_round
        self.started = time.perf_counter()
        self.seconds_before = self.state.seconds  # earlier invocations of this run
        self.where = "before round 0"  # what was under way, for RunStopped

    def spent(self) -> float:
        return self.seconds_before + time.perf_counter() - self.started

    def check_finished_rounds(self) -> None:
        """A finished round's shards are what the ledger was built from: if one went missing, the folder
        was changed behind medmint's back, and resuming would silently drop rows."""
        for record in self.state.rounds:
            for shard in record.get("shards", []):
                if not (self.out / shard).exists():
                    raise OutputFolderError(f"{self.out / shard}: missing, but run.json says round {record['round']} "
                                            "finished; restore it or start again in a new --out folder")

    def run(self) -> None:
        from medmint.pipeline.rebalance import final_shortfall

        self.check_finished_rounds()
        target = self.cfg.target
        limited_by = None
        while True:
            ledger = self.state.ledger
            assessment = self.prep.goal.assess(ledger.accepted, ledger.n_accepted)
            samples_left = target.max_samples - ledger.n_requested
            hours_left = None if target.budget.hours is None else target.budget.hours * 3600 - self.spent()
            stop = (TARGETS_MET if assessment.done else SAMPLES_SPENT if samples_left <= 0
                    else HOURS_SPENT if hours_left is not None and hours_left <= 0 else None)
            if stop is None:
                plan_size, limited_by = self.run_round(samples_left, hours_left)
                if plan_size:
                    continue
                stop = NOTHING_TO_PLAN
            break
        shortfall = final_shortfall(assessment, ledger.acceptance(), budget_left=samples_left,
                                    hours_spent=stop == HOURS_SPENT, limited_by=limited_by)
        totals: Counter[str] = Counter()
        for r in self.state.rounds:
            totals.update(r["counts"])
        self.manifest.data.update(status="complete", stopped_because=stop, progress=assessment.to_dict(),
                                  shortfall=shortfall, counts=dict(sorted(totals.items())),
                                  seconds=round(self.spent(), 3))
        self.manifest.data.pop("planning", None)
        self.manifest.save()

    def round_cap(self, round_index: int, samples_left: int, hours_left: float | None) -> int:
        """The samples this round may plan: what the budget leaves, and with an hours budget what the
        time left allows at the pace of the rounds so far. Recorded, so a resumed round replans the same."""
        cap = self.state.planned_cap(round_index)
        if cap is not None:
            return cap
        cap = samples_left
        done = [r for r in self.state.rounds if r["counts"].get("generated")]
        if hours_left is not None and done:
            pace = sum(r["seconds"] for r in done) / sum(r["counts"]["generated"] for r in done)
            cap = min(cap, max(1, int(hours_left / max(pace, 1e-6))))
        self.manifest.data["planning"] = {"round": round_index, "budget_left": cap, "seconds": 0.0, "metrics": {}}
        self.manifest.save()
        return cap

    def run_round(self, samples_left: int, hours_left: float | None) -> tuple[int, str | None]:
        """Plans and runs the next round (its parts not yet on disk); returns (requests, limited_by)."""
        from medmint.pipeline import rounds
        from medmint.pipeline.job import run_part
        from medmint.pipeline.parts import ACCEPTED, REJECTED, earlier_accepted, shard_counts, split

        r = self.state.next_round
        self.where = f"planning round {r}"
        cap = self.round_cap(r, samples_left, hours_left)
        ledger = self.state.ledger
        plan = rounds.plan(self.cfg, self.prep.reference, ledger, r, cap)
        planning = self.manifest.data["planning"]
        if not plan.requests:
            return 0, plan.limited_by
        parts = split(plan.requests, r, self.cfg.output.shard_rows)
        for part in parts:
            if part.done(self.out):
                continue
            self.where = f"during part {part.name}"
            began = time.perf_counter()
            result = run_part(self.cfg, self.out, part, self.prep.args, created_at=self.manifest.created_at,
                              validators=self.prep.validators, pool=self.pool,
                              earlier=earlier_accepted(self.state.rounds, parts, part))
            planning["metrics"][part.name] = beam_metrics(result)
            planning["seconds"] = round(planning["seconds"] + time.perf_counter() - began, 3)
            self.manifest.save()
            if self.on_progress:
                self.on_progress(ledger.n_accepted + shard_counts(self.out, [part])[0]["accepted"], self.cfg.target.total)
        self.where = f"recording round {r}"
        counts, accepted_ids = shard_counts(self.out, parts)
        ledger.record_all(plan.requests, accepted_ids)
        metrics: Counter[str] = Counter()
        for part_metrics in planning["metrics"].values():
            metrics.update(part_metrics)
        record = {
            "round": r,
            "requested": len(plan.requests),
            "parts": len(parts),
            "budget_left": cap,
            "limited_by": plan.limited_by,
            "expected_accepted": round(plan.expected_total, 2),
            "counts": counts,
            "acceptance_rate": round(counts.get("accepted", 0) / max(1, counts.get("generated", 0)), 4),
            "beam_metrics": dict(sorted(metrics.items())),
            "beam_metrics_parts": len(planning["metrics"]),
            "seconds": planning["seconds"],
            "shards": [part.shard(kind) for part in parts for kind in (ACCEPTED, REJECTED)],
        }
        self.state.rounds.append(record)
        self.manifest.data["ledger"] = ledger.to_dict()
        self.manifest.data.pop("planning")
        progress = self.prep.goal.assess(ledger.accepted, ledger.n_accepted).to_dict()
        self.manifest.data["progress"] = progress
        self.manifest.save()
        if self.on_round:
            self.on_round(RoundEvent(record, progress))
        return len(plan.requests), plan.limited_by
