"""``medmint train``: data -> critic -> image tokenizer -> text tokenizer -> codes -> ceilings -> model.

Every stage leaves its result in ``CKPT/.work`` before the next starts, and the model stage saves
its full state every ``save_every`` steps, so a killed run restarted with the same command goes
on from its last save. The finished checkpoint is written last (SHA256SUMS last of all) and the
work folder is removed, so a folder either verifies or is visibly unfinished.
"""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from medmint.atomic import atomic_write, atomic_write_bytes
from medmint.config import TrainConfig, config_dict, config_sha256
from medmint.generators.diffusion.checkpoint import SUMS, save_checkpoint
from medmint.generators.diffusion.layout import VocabLayout
from medmint.generators.diffusion.text_tokenizer import TextTokenizer, join_sections
from medmint.records import CHEXPERT_LABELS, age_bin
from medmint.schedules import warmup_cosine

Log = Callable[[dict[str, Any]], None]
WORK = ".work"
_NONE = -2  # "unmentioned" in int8 label arrays


class TrainingError(ValueError):
    """Training cannot start or go on; the message names the folder, file or setting at fault."""


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------


@dataclass
class TrainingSet:
    images: np.ndarray  # uint16 [N, S, S]
    bits_stored: int
    reports: list[str]  # "FINDINGS: ... IMPRESSION: ..."
    labels: np.ndarray  # int8 [N, 14], CheXpert coding, _NONE for unmentioned
    views: list[str]
    sexes: list[str]
    ages: np.ndarray  # int16 [N]
    holdout: np.ndarray  # bool [N]

    def label_dicts(self, rows: np.ndarray | None = None) -> list[dict[str, int | None]]:
        idx = np.arange(len(self.reports)) if rows is None else rows
        return [
            {lab: (None if v == _NONE else int(v)) for lab, v in zip(CHEXPERT_LABELS, self.labels[i])} for i in idx
        ]


def _phantom_case(args: tuple[int, int]) -> tuple[np.ndarray, str, list[int], str, str, int]:
    from medmint.generators.phantom import sample_case

    seed, size = args
    case = sample_case(seed, size=size)
    labels = [_NONE if case.labels[k] is None else int(case.labels[k]) for k in CHEXPERT_LABELS]
    return case.image, join_sections(case.findings, case.impression), labels, case.view, case.sex, case.age


def _rare_case(args: tuple[int, int, str]) -> tuple[np.ndarray, str, list[int], str, str, int]:
    """A phantom study whose prior labels are kept but one rare finding is made present (its usual
    companions stay as drawn; where the prior contradicts it, the finding alone is requested)."""
    from medmint.generators.phantom import sample_case
    from medmint.generators.phantom.sampler import labels_for_seed

    seed, size, label = args
    prior = {**labels_for_seed(seed), label: 1, "No Finding": None}
    try:
        case = sample_case(seed, size=size, findings=prior)
    except ValueError:
        case = sample_case(seed, size=size, findings={label: 1})
    labels = [_NONE if case.labels[k] is None else int(case.labels[k]) for k in CHEXPERT_LABELS]
    return case.image, join_sections(case.findings, case.impression), labels, case.view, case.sex, case.age


def rare_finding_set(seed: int, size: int, labels: list[str], n: int, workers: int = 1) -> TrainingSet:
    """``n`` phantom studies, each with one of ``labels`` present (in turn): positives for the critic
    where the prior draws too few to learn a small finding from. Seeds never meet the training set's."""
    from medmint.records import seed_for

    jobs = [(seed_for(f"rare:{seed}:{i}"), size, labels[i % len(labels)]) for i in range(n)]
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers) as pool:
            rows = pool.map(_rare_case, jobs, chunksize=64)
    else:
        rows = [_rare_case(j) for j in jobs]
    return _rows_to_set(rows, np.zeros(len(rows), dtype=bool))


def _rows_to_set(rows: list[tuple], holdout: np.ndarray) -> TrainingSet:
    return TrainingSet(
        images=np.stack([r[0] for r in rows]).astype(np.uint16),
        bits_stored=12,
        reports=[r[1] for r in rows],
        labels=np.array([r[2] for r in rows], dtype=np.int8),
        views=[r[3] for r in rows],
        sexes=[r[4] for r in rows],
        ages=np.array([r[5] for r in rows], dtype=np.int16),
        holdout=holdout,
    )


def _phantom_set(cfg: TrainConfig, log: Log) -> list[tuple]:
    from medmint.records import seed_for

    jobs = [(seed_for(f"train:{cfg.seed}:{i}"), cfg.data.size) for i in range(cfg.data.n)]
    if cfg.data.workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(cfg.data.workers) as pool:
            rows = pool.map(_phantom_case, jobs, chunksize=64)
    else:
        rows = [_phantom_case(j) for j in jobs]
    log({"stage": "data", "source": "phantom", "studies": len(rows)})
    return rows


def _dataset_set(cfg: TrainConfig, log: Log) -> list[tuple]:
    from PIL import Image

    from medmint.generators.datasets import open_dataset

    dataset = open_dataset(cfg.data.source, on_error=cfg.data.on_error)
    rows = []
    for ex in dataset:
        img = ex.image
        if img.shape != (cfg.data.size, cfg.data.size):
            img = np.asarray(Image.fromarray(img.astype(np.float32)).resize((cfg.data.size,) * 2, Image.BILINEAR))
        scale = (2**12 - 1) / (2**ex.bits_stored - 1)
        img = np.clip(np.rint(img.astype(np.float64) * scale), 0, 4095).astype(np.uint16)
        labels = [_NONE if ex.labels.get(k) is None else int(ex.labels[k]) for k in CHEXPERT_LABELS]
        rows.append((img, join_sections(ex.findings, ex.impression), labels, ex.view or "PA", ex.sex or "F",
                     int(ex.age or 60)))
    log({"stage": "data", "source": cfg.data.source, **dataset.report.as_dict()})
    if len(rows) < 8:
        raise TrainingError(f"{cfg.data.source}: only {len(rows)} usable examples; need at least 8")
    return rows


def build_training_set(cfg: TrainConfig, log: Log) -> TrainingSet:
    rows = _phantom_set(cfg, log) if cfg.data.source == "phantom" else _dataset_set(cfg, log)
    n = len(rows)
    order = np.random.default_rng(cfg.seed).permutation(n)
    holdout = np.zeros(n, dtype=bool)
    holdout[order[: max(2, int(round(n * cfg.data.holdout)))]] = True
    return _rows_to_set(rows, holdout)


def _save_set(path: Path, ts: TrainingSet) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, images=ts.images, labels=ts.labels, ages=ts.ages, holdout=ts.holdout,
                     reports=np.array(ts.reports), views=np.array(ts.views), sexes=np.array(ts.sexes))

    atomic_write(path, write)


def _load_set(path: Path) -> TrainingSet:
    z = np.load(path)
    return TrainingSet(z["images"], 12, [str(r) for r in z["reports"]], z["labels"], [str(v) for v in z["views"]],
                       [str(s) for s in z["sexes"]], z["ages"], z["holdout"])


def label_combinations(labels: np.ndarray) -> list[dict[str, Any]]:
    """Each distinct set of positive findings and how many studies have it: the rebalancer draws
    whole combinations from this, so a raised rare finding keeps its realistic companions."""
    combos = Counter(tuple(lab for lab, p in zip(CHEXPERT_LABELS, row) if p and lab != "No Finding")
                     for row in labels == 1)
    return [{"labels": list(k), "count": int(v)} for k, v in sorted(combos.items(), key=lambda kv: (-kv[1], kv[0]))]


def data_summary(ts: TrainingSet) -> dict[str, Any]:
    """What the checkpoint learned from: the planner's reference and the validators' statistics."""
    train = ~ts.holdout
    pos = ts.labels[train] == 1
    n = int(train.sum())
    img = ts.images[train].astype(np.float64)
    means = img.reshape(n, -1).mean(axis=1)
    return {
        "n_train": n,
        "n_holdout": int(ts.holdout.sum()),
        "labels": list(CHEXPERT_LABELS),
        "prevalence": {lab: round(float(pos[:, i].mean()), 5) for i, lab in enumerate(CHEXPERT_LABELS)},
        "uncertain_rate": {
            lab: round(float((ts.labels[train][:, i] == -1).mean()), 5) for i, lab in enumerate(CHEXPERT_LABELS)
        },
        "cooccurrence": (pos.T.astype(np.int64) @ pos.astype(np.int64)).tolist(),
        "combinations": label_combinations(ts.labels[train]),
        "views": {v: int(sum(1 for x, t in zip(ts.views, train) if t and x == v)) for v in sorted(set(ts.views))},
        "sexes": {s: int(sum(1 for x, t in zip(ts.sexes, train) if t and x == s)) for s in sorted(set(ts.sexes))},
        "age": {"mean": round(float(ts.ages[train].mean()), 2), "std": round(float(ts.ages[train].std()), 2)},
        "image": {
            "size": int(ts.images.shape[1]),
            "bits_stored": ts.bits_stored,
            "pixel_mean": round(float(img.mean()), 3),
            "pixel_std": round(float(img.std()), 3),
            "image_mean_percentiles": {str(p): round(float(np.percentile(means, p)), 3) for p in (1, 5, 50, 95, 99)},
        },
    }


# ----------------------------------------------------------------------------------------------
# Stages
# ----------------------------------------------------------------------------------------------


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("device: 'cuda' requested but no CUDA device is available")
    return torch.device(name)


def _torch_save(path: Path, obj: Any) -> None:
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def train_image_tokenizer_stage(cfg: TrainConfig, ts: TrainingSet, work: Path, device: torch.device, log: Log,
                                critic: Any = None):
    from medmint.generators.diffusion.image_tokenizer import (
        ImageTokenizer,
        ImageTokenizerConfig,
        frozen_feature_maps,
        reconstruction_report,
        train_image_tokenizer,
    )

    c = cfg.image_tokenizer
    tcfg = ImageTokenizerConfig(resolution=c.resolution, downsample=c.downsample, levels=c.levels, channels=c.channels,
                                perceptual_weight=c.perceptual_weight)
    path = work / "image_tokenizer.pt"
    if path.exists():
        saved = torch.load(path, map_location="cpu", weights_only=False)
        model = ImageTokenizer.load(saved["config"], saved["model"], device=device)
        return model, saved["report"]
    model, history = train_image_tokenizer(
        ts.images[~ts.holdout], tcfg, steps=c.steps, batch_size=c.batch_size, lr=c.lr, device=device, seed=cfg.seed,
        bits_stored=ts.bits_stored, log=lambda d: log({"stage": "image_tokenizer", **d}),
        perceptual=frozen_feature_maps(copy.deepcopy(critic)) if c.perceptual_weight else None,
    )
    report = reconstruction_report(model, ts.images[ts.holdout][:512], bits_stored=ts.bits_stored)
    report = {k: v for k, v in report.items() if isinstance(v, (int, float, str))}
    report["steps"] = c.steps
    report["seconds"] = round(float(history.get("seconds", 0.0)), 1)
    log({"stage": "image_tokenizer", "done": True, **report})
    _torch_save(path, {"config": model.to_json(), "model": model.state_dict(), "report": report})
    return model, report


def train_text_tokenizer_stage(cfg: TrainConfig, ts: TrainingSet, work: Path, log: Log) -> TextTokenizer:
    path = work / "text_tokenizer.json"
    if not path.exists():
        if cfg.text_tokenizer.pretrained:
            tok = TextTokenizer.from_file(cfg.text_tokenizer.pretrained)
        else:
            tok = TextTokenizer.train([r for r, h in zip(ts.reports, ts.holdout) if not h], cfg.text_tokenizer.vocab_size,
                                      unit=cfg.text_tokenizer.unit)
        atomic_write_bytes(path, tok.to_str().encode())
        log({"stage": "text_tokenizer", "vocab_size": tok.vocab_size})
    return TextTokenizer.from_file(path)


def encode_stage(ts: TrainingSet, image_tok: Any, text_tok: TextTokenizer, layout: VocabLayout, work: Path, log: Log):
    path = work / "sequences.npy"
    if not path.exists():
        codes = image_tok.encode(ts.images, ts.bits_stored)
        seqs = np.empty((len(ts.reports), layout.seq_len), dtype=np.int64)
        truncated = 0
        for i, (report, labels) in enumerate(zip(ts.reports, ts.label_dicts())):
            ids = text_tok.encode(report)
            truncated += len(ids) > layout.text_length - 1
            cond = layout.condition_ids(labels, ts.views[i], ts.sexes[i], age_bin(int(ts.ages[i])))
            seqs[i] = layout.assemble(cond, codes[i], ids)
        atomic_write(path, lambda tmp: np.save(open(tmp, "wb"), seqs))
        log({"stage": "encode", "sequences": len(seqs), "reports_truncated": truncated})
    return np.load(path)


def train_model_stage(
    cfg: TrainConfig, layout: VocabLayout, seqs: np.ndarray, holdout: np.ndarray, work: Path, device: torch.device,
    log: Log, seconds_budget: float | None = None, train_steps: bool = True,
) -> tuple[Any, dict[str, Any]]:
    """``seconds_budget``: wall time this call may spend; the LR anneals to fit it (not part of the
    config hash, so a time-boxed run and a resumed one share their state). ``train_steps=False``
    only reads the last save (a snapshot of a run that another process may still be training)."""
    from medmint.generators.diffusion.model import MeDiMModel
    from medmint.generators.diffusion.noise import NoiseConfig, diffusion_loss

    m = cfg.model
    backbone: dict[str, Any]
    if m.pretrained:
        backbone = {"pretrained": m.pretrained}
    else:
        backbone = {"family": m.family, "hidden_size": m.hidden_size, "num_hidden_layers": m.num_layers,
                    "num_attention_heads": m.num_heads, "num_key_value_heads": m.num_heads,
                    "intermediate_size": m.intermediate_size}
    noise = NoiseConfig(t_min=m.t_min, p_drop_all=m.p_drop_all, p_drop_each=m.p_drop_each)
    torch.manual_seed(cfg.seed)
    model = MeDiMModel(layout, {"backbone": backbone}).to(device)
    ema = {k: v.detach().clone().float() for k, v in model.state_dict().items()}
    opt = torch.optim.AdamW(model.parameters(), lr=m.lr, betas=(0.9, 0.98), weight_decay=m.weight_decay)
    gen = torch.Generator(device=device)
    gen.manual_seed(cfg.seed)
    step, seconds, history = 0, 0.0, []
    state_path = work / "model_state.pt"
    if state_path.exists():
        state = torch.load(state_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        ema = state["ema"]
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"].cpu())  # a generator's state is a CPU tensor, even a CUDA one's
        step, seconds, history = state["step"], state["seconds"], state["history"]
        log({"stage": "model", "resumed_at": step})

    train_idx = np.flatnonzero(~holdout)
    data = torch.as_tensor(seqs, device=device)
    use_amp = m.autocast == "bf16" or (m.autocast == "auto" and device.type == "cuda")
    started = time.perf_counter() - seconds
    call_started = time.perf_counter()
    stopped_early = False

    def save() -> None:
        _torch_save(state_path, {"model": model.state_dict(), "ema": ema, "optimizer": opt.state_dict(),
                                 "generator": gen.get_state(), "step": step, "history": history,
                                 "seconds": time.perf_counter() - started})

    model.train()
    while train_steps and step < m.steps:
        time_fraction = 0.0
        if seconds_budget is not None:
            time_fraction = (time.perf_counter() - call_started) / seconds_budget
            if time_fraction >= 1.0:
                stopped_early = True
                break
        rows = np.random.default_rng([cfg.seed, step]).choice(train_idx, size=min(m.batch_size, len(train_idx)))
        for group in opt.param_groups:
            group["lr"] = warmup_cosine(step, m.steps, m.lr, m.warmup, time_fraction=time_fraction)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            loss, stats = diffusion_loss(model, data[torch.as_tensor(rows, device=device)], layout, gen, noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        ema_update(ema, model, min(m.ema, (1 + step) / (10 + step)) if m.ema > 0 else 0.0)
        if step % max(1, min(100, m.steps // 20)) == 0 or step == m.steps:
            entry = {"step": step, "loss": round(float(loss.detach()), 4), "nll": round(stats.get("nll", 0.0), 4),
                     "acc": round(stats.get("acc", 0.0), 4), "seconds": round(time.perf_counter() - started, 1)}
            history.append(entry)
            log({"stage": "model", **entry})
        if step % cfg.save_every == 0:
            save()
    if train_steps:
        save()
    model.load_state_dict({k: v.to(model.state_dict()[k].dtype) for k, v in ema.items()})
    model.eval()
    summary = {"steps_done": step, "steps_planned": m.steps, "stopped_early": stopped_early,
               "seconds": round(time.perf_counter() - started, 1), "final": history[-1] if history else None,
               "noise": noise.to_dict(), "parameters": model.num_parameters(),
               "flops_per_forward": model.flops_per_forward()}
    log({"stage": "model", "done": True, **{k: v for k, v in summary.items() if k != "noise"}})
    return model, summary


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


@torch.no_grad()
def ema_update(ema: dict[str, torch.Tensor], model: torch.nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * weights, as one fused update per dtype (a per-tensor loop
    costs a small model a noticeable share of its step on a CPU)."""
    state = model.state_dict()
    floats = [k for k, v in state.items() if v.dtype.is_floating_point]
    if floats:
        weights = [state[k] if state[k].dtype == torch.float32 else state[k].float() for k in floats]
        torch._foreach_lerp_([ema[k] for k in floats], weights, 1.0 - decay)
    for k, v in state.items():
        if not v.dtype.is_floating_point:
            ema[k].copy_(v)


def rare_labels(labels: np.ndarray, names: tuple[str, ...], below: float) -> list[str]:
    """The critic's labels present in fewer than ``below`` of the rows (CheXpert-coded [N, 14])."""
    prevalence = (labels == 1).mean(axis=0)
    return [k for k in names if prevalence[CHEXPERT_LABELS.index(k)] < below]


def _holdout_halves(ts: TrainingSet) -> tuple[np.ndarray, np.ndarray]:
    """Held-out rows split in two: decision thresholds are fitted on the first half and every
    held-out figure is measured on the second, so no figure grades its own calibration."""
    hold = np.flatnonzero(ts.holdout)
    return hold[: len(hold) // 2], hold[len(hold) // 2:]


def ceilings_stage(ts: TrainingSet, image_tok: Any, classifier: Any, classifier_report: dict[str, Any],
                   work: Path, log: Log) -> dict[str, Any]:
    """What the model trained next can at best reach: the critic on held-out real images (a finding it
    cannot read can be neither generated on purpose nor checked), and how many of those images keep
    every critic label through the image tokenizer's round trip (what the tokens cannot carry, the
    model cannot draw). Recorded in the checkpoint; ``medmint evaluate`` prints them."""
    path = work / "ceilings.json"
    if path.exists():
        return json.loads(path.read_text())
    _, test = _holdout_halves(ts)
    real = ts.images[test]
    read_real = classifier.predict(real, ts.bits_stored)
    read_rec = classifier.predict(image_tok.reconstruct(real, ts.bits_stored), ts.bits_stored)
    same = read_real == read_rec
    labels = classifier_report["labels"]
    out = {
        "n_images": int(len(test)),
        "critic": {"min_auc": min((v["auc"] for v in labels.values() if not math.isnan(v["auc"])), default=None),
                   "macro_f1": classifier_report["mean_f1"],
                   "per_label": {k: {"auc": round(v["auc"], 4), "f1": round(v["f1"], 4)} for k, v in labels.items()}},
        "roundtrip": {"same_labels": float(same.all(axis=1).mean()),
                      "per_label_agreement": dict(zip(classifier.labels, same.mean(0).round(4).tolist()))},
    }
    atomic_write_bytes(path, json.dumps(out).encode())
    log({"stage": "ceilings", **out})
    return out


def train_classifier_stage(cfg: TrainConfig, ts: TrainingSet, work: Path, device: torch.device, log: Log):
    from medmint.validators.findings_classifier import (
        FindingsClassifier,
        FindingsClassifierConfig,
        classifier_report,
        train_findings_classifier,
    )

    path = work / "classifier.pt"
    if path.exists():
        saved = torch.load(path, map_location="cpu", weights_only=False)
        return FindingsClassifier.load(saved["config"], saved["model"], device=device), saved["report"]
    c = cfg.classifier
    ccfg = FindingsClassifierConfig(resolution=c.resolution, rare_share=c.rare_share)
    train = np.flatnonzero(~ts.holdout)
    images, labels = ts.images[train], ts.label_dicts(train)
    if c.extra_rare and cfg.data.source == "phantom":
        rare = rare_labels(ts.labels[train], ccfg.labels, ccfg.rare_below)
        extra_path = work / "critic_extra.npz"
        if not extra_path.exists():
            _save_set(extra_path, rare_finding_set(cfg.seed, cfg.data.size, rare, c.extra_rare, cfg.data.workers))
        extra = _load_set(extra_path)
        images, labels = np.concatenate([images, extra.images]), labels + extra.label_dicts()
        log({"stage": "classifier", "extra_rare": len(extra.reports), "labels": rare})
    model, _ = train_findings_classifier(
        images, labels, ccfg, steps=c.steps,
        batch_size=c.batch_size, lr=c.lr, device=device, seed=cfg.seed, bits_stored=ts.bits_stored,
        log=lambda d: log({"stage": "classifier", **d}),
    )
    cal, test = _holdout_halves(ts)
    model.calibrate(ts.images[cal], ts.label_dicts(cal), bits_stored=ts.bits_stored)
    report = classifier_report(model, ts.images[test], ts.label_dicts(test), bits_stored=ts.bits_stored)
    report["thresholds_fitted_on"] = f"the other {len(cal)} held-out images"
    log({"stage": "classifier", "done": True, "report": report})
    _torch_save(path, {"config": model.to_json(), "model": model.state_dict(), "report": report})
    return model, report


# ----------------------------------------------------------------------------------------------
# The whole run
# ----------------------------------------------------------------------------------------------


def _cast(state: dict[str, torch.Tensor], dtype: str) -> dict[str, torch.Tensor]:
    target = getattr(torch, dtype)
    return {k: (v.to(target) if v.dtype.is_floating_point else v) for k, v in state.items()}


def _open_out(out: Path, digest: str) -> Path:
    work = out / WORK
    if (out / SUMS).exists():
        raise TrainingError(f"{out}: already holds a finished checkpoint; use a new --out folder")
    marker = work / "config_sha256"
    if marker.exists() and marker.read_text().strip() != digest:
        raise TrainingError(f"{out}: holds an unfinished training run with another config; use a new --out folder")
    if out.exists() and not marker.exists() and any(out.iterdir()):
        raise TrainingError(f"{out}: folder is not empty and holds no medmint training run")
    try:
        work.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(marker, digest.encode())
    except OSError as exc:
        raise TrainingError(f"{out}: not writable ({exc.strerror or exc})") from None
    return work


def _open_snapshot(out: Path, digest: str, target: Path) -> Path:
    work = out / WORK
    marker = work / "config_sha256"
    if not marker.exists() or marker.read_text().strip() != digest:
        raise TrainingError(f"{out}: holds no unfinished training run of this config to snapshot")
    if not (work / "model_state.pt").exists():
        raise TrainingError(f"{out}: the model stage has not saved yet; it saves every save_every steps")
    if target.exists() and any(target.iterdir()):
        raise TrainingError(f"{target}: snapshot folder is not empty; use a new folder")
    return work


def stderr_log(entry: dict[str, Any]) -> None:
    print(json.dumps(entry, default=str), file=sys.stderr, flush=True)


SAVE_RESERVE_S = 30.0


def train(
    cfg: TrainConfig,
    out: str | Path,
    *,
    log: Log = stderr_log,
    command: str | None = None,
    max_minutes: float | None = None,
    snapshot_to: str | Path | None = None,
) -> str:
    """Run (or resume) every stage; returns the checkpoint's SHA-256.

    ``max_minutes`` bounds the whole call: the model stage (last) gets what is left and anneals
    its learning rate to finish in time; steps done are recorded in medmint.json.
    ``snapshot_to`` writes a checkpoint of the run's last save there instead, touching nothing in
    OUT, so a long run can be evaluated while it goes on."""
    out = Path(out)
    digest = config_sha256(cfg)
    work = _open_snapshot(out, digest, Path(snapshot_to)) if snapshot_to else _open_out(out, digest)
    device = resolve_device(cfg.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    log_file = open(os.devnull if snapshot_to else work / "train.log.jsonl", "a")

    def both(entry: dict[str, Any]) -> None:
        log(entry)
        # the wall time of every entry (stages that log no seconds of their own can be timed), and
        # strict JSON: NaN (an AUC without positives) becomes null
        line = {**entry, "wall_s": round(time.perf_counter() - started, 1)}
        log_file.write(json.dumps(_finite(line), default=str) + "\n")
        log_file.flush()

    started = time.perf_counter()
    both({"stage": "start", "device": str(device), "config_sha256": digest, "torch": torch.__version__})
    data_path = work / "data.npz"
    if not data_path.exists():
        _save_set(data_path, build_training_set(cfg, both))
    ts = _load_set(data_path)
    # the critic first: the image tokenizer may learn in its feature space
    classifier, classifier_report = train_classifier_stage(cfg, ts, work, device, both)
    image_tok, image_report = train_image_tokenizer_stage(cfg, ts, work, device, both, classifier)
    text_tok = train_text_tokenizer_stage(cfg, ts, work, both)
    layout = VocabLayout(text_vocab=text_tok.vocab_size, image_codes=image_tok.codebook_size,
                         image_tokens=image_tok.tokens_per_image, text_length=cfg.text_tokenizer.text_length)
    seqs = encode_stage(ts, image_tok, text_tok, layout, work, both)
    ceilings = ceilings_stage(ts, image_tok, classifier, classifier_report, work, both)
    budget = None
    if max_minutes is not None:
        budget = max_minutes * 60 - (time.perf_counter() - started) - SAVE_RESERVE_S
        if budget <= 0:
            raise TrainingError(f"--max-minutes {max_minutes}: no time left for the model stage")
    model, model_summary = train_model_stage(cfg, layout, seqs, ts.holdout, work, device, both, budget,
                                             train_steps=snapshot_to is None)
    if snapshot_to:
        model_summary["snapshot"] = f"the run in {out} at its last save (step {model_summary['steps_done']})"

    manifest = {
        "layout": layout.to_json(),
        "model": model.to_json(),
        "image_tokenizer": {"config": image_tok.to_json(), "holdout": image_report},
        "text_tokenizer": {"vocab_size": text_tok.vocab_size},
        "critics": {"findings": {"file": "critic_findings.safetensors", "config": classifier.to_json(),
                                 "holdout": classifier_report}},
        "ceilings": ceilings,
        "sampler": config_dict(cfg.sampler),
        "training": {"config": config_dict(cfg), "config_sha256": digest, "model": model_summary,
                     "device": str(device), "torch": torch.__version__,
                     "seconds": round(time.perf_counter() - started, 1), "command": command},
        "data_summary": data_summary(ts),
    }
    sha = save_checkpoint(
        snapshot_to or out,
        manifest,
        {
            "model.safetensors": _cast(model.state_dict(), cfg.model.save_dtype),
            "image_tokenizer.safetensors": _cast(image_tok.state_dict(), cfg.model.save_dtype),
            "critic_findings.safetensors": _cast(classifier.state_dict(), cfg.model.save_dtype),
        },
        {"text_tokenizer.json": text_tok.to_str()},
    )
    both({"stage": "done", "checkpoint_sha256": sha, "seconds": round(time.perf_counter() - started, 1)})
    log_file.close()
    if snapshot_to:
        return sha
    shutil.copy(work / "train.log.jsonl", out / "train.log.jsonl.tmp")
    shutil.rmtree(work)
    os.replace(out / "train.log.jsonl.tmp", out / "train.log.jsonl")
    return sha


__all__ = ["TrainingError", "TrainingSet", "build_training_set", "data_summary", "label_combinations", "train"]
