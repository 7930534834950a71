"""Ceilings before training: how well the critic reads each drawable finding on held-out phantom images
at a resolution, and how many of those images keep their critic labels through an image tokenizer's
round trip. A finding the critic cannot see can be neither generated on purpose nor checked, so
these figures bound every conditional figure of the model trained under them.

    python benchmarks/ceilings.py --n 6000 --size 128 --critic-steps 1500 [--tokenizer-steps 1500 ...]

Prints one JSON object. The phantom set is cached in --work (keyed by n, size, seed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np


def phantom_version() -> str:
    """A digest of the phantom's source: a cached set drawn by an older rendering is not reused."""
    from medmint.generators import phantom

    h = hashlib.sha256()
    for f in sorted(Path(phantom.__file__).parent.glob("*.py")):
        h.update(f.read_bytes())
    return h.hexdigest()[:10]


def phantom_set(n: int, size: int, seed: int, holdout: float, work: Path):
    from medmint.config import load_train_config
    from medmint.generators.diffusion.training import _load_set, _save_set, build_training_set

    path = work / f"phantom-{n}-{size}-{seed}-{holdout}-{phantom_version()}.npz"
    if not path.exists():
        cfg = load_train_config(Path(__file__).parents[1] / "configs/train/phantom-cpu.yaml",
                                [f"data.n={n}", f"data.size={size}", f"seed={seed}",
                                 f"data.holdout={holdout}"])
        work.mkdir(parents=True, exist_ok=True)
        _save_set(path, build_training_set(cfg, lambda _: None))
    return _load_set(path)


def rare_set(ts, ccfg, args):
    """The critic's extra positives, as ``medmint train`` draws them (``classifier.extra_rare``)."""
    from medmint.generators.diffusion.training import _load_set, _save_set, rare_finding_set, rare_labels

    rare = rare_labels(ts.labels[~ts.holdout], ccfg.labels, ccfg.rare_below)
    path = args.work / (f"rare-{args.extra_rare}-{args.size}-{args.seed}-{'-'.join(rare)}-{phantom_version()}.npz"
                        .replace(" ", "_"))
    if not path.exists():
        _save_set(path, rare_finding_set(args.seed, args.size, rare, args.extra_rare, workers=2))
    return _load_set(path)


def _progress(stage: str):
    started = time.perf_counter()
    return lambda d: print(json.dumps({"stage": stage, "seconds": round(time.perf_counter() - started, 1), **d}),
                           file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--size", type=int, default=128, help="phantom render size (px)")
    ap.add_argument("--resolution", type=int, default=128, help="critic and tokenizer resolution (px)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--critic-steps", type=int, default=1500)
    ap.add_argument("--critic-batch", type=int, default=64)
    ap.add_argument("--stem-stride", type=int, default=2)
    ap.add_argument("--rare-share", type=float, default=0.25, help="batch share of rare-finding positives")
    ap.add_argument("--extra-rare", type=int, default=0,
                    help="extra phantom studies with one rare finding present, for the critic only")
    ap.add_argument("--holdout", type=float, default=0.25, help="held-out share (half calibrates, half tests)")
    ap.add_argument("--tokenizer-steps", type=int, default=0, help="0 skips the round trip")
    ap.add_argument("--downsample", type=int, default=8)
    ap.add_argument("--levels", default="8,5,5,5")
    ap.add_argument("--channels", default="32,64,128")
    ap.add_argument("--perceptual", type=float, default=0.0, help="weight of the critic-feature loss")
    ap.add_argument("--tokenizer-batch", type=int, default=32)
    ap.add_argument("--work", type=Path, default=Path(".runs/ceilings"))
    args = ap.parse_args(argv)

    import torch

    from medmint.generators.diffusion.training import _holdout_halves
    from medmint.validators.findings_classifier import (
        FindingsClassifierConfig,
        classifier_report,
        label_targets,
        train_findings_classifier,
    )

    torch.set_num_threads(max(1, torch.get_num_threads()))
    t0 = time.perf_counter()
    ts = phantom_set(args.n, args.size, args.seed, args.holdout, args.work)
    data_s = time.perf_counter() - t0
    train = np.flatnonzero(~ts.holdout)
    cal, test = _holdout_halves(ts)  # the split `medmint train` uses for its recorded ceilings
    from medmint.validators.findings_classifier import FindingsClassifier

    t0 = time.perf_counter()
    ccfg = FindingsClassifierConfig(resolution=args.resolution, stem_stride=args.stem_stride,
                                    rare_share=args.rare_share)
    key = (f"critic-{args.n}-{args.size}-{args.seed}-{args.holdout}-{args.critic_steps}-{args.critic_batch}"
           f"-{args.extra_rare}-{phantom_version()}")
    cached = args.work / f"{key}-{hashlib.sha256(json.dumps(ccfg.to_json(), sort_keys=True).encode()).hexdigest()[:10]}.pt"
    if cached.exists():  # a tokenizer experiment reuses the critic of an earlier run
        saved = torch.load(cached, weights_only=False)
        critic = FindingsClassifier.load(saved["config"], saved["model"])
    else:
        images, labels = ts.images[train], ts.label_dicts(train)
        if args.extra_rare:
            extra = rare_set(ts, ccfg, args)
            images, labels = np.concatenate([images, extra.images]), labels + extra.label_dicts()
        critic, _ = train_findings_classifier(
            images, labels, ccfg, steps=args.critic_steps, batch_size=args.critic_batch,
            seed=args.seed, bits_stored=ts.bits_stored, log=_progress("critic"), log_every=100)
        torch.save({"config": critic.to_json(), "model": critic.state_dict()}, cached)
    critic_s = time.perf_counter() - t0
    critic.calibrate(ts.images[cal], ts.label_dicts(cal), bits_stored=ts.bits_stored)
    report = classifier_report(critic, ts.images[test], ts.label_dicts(test), bits_stored=ts.bits_stored)
    out: dict = {
        "n": args.n, "size": args.size, "resolution": args.resolution, "data_seconds": round(data_s, 1),
        "critic": {"steps": args.critic_steps, "extra_rare": args.extra_rare, "seconds": round(critic_s, 1), "mean_auc": report["mean_auc"],
                   "macro_f1": report["mean_f1"], "n_test": report["n_images"],
                   "labels": {k: {m: round(v[m], 4) for m in ("auc", "f1", "prevalence")}
                              for k, v in report["labels"].items()}},
    }
    if args.tokenizer_steps:
        from medmint.generators.diffusion.image_tokenizer import (
            ImageTokenizerConfig,
            frozen_feature_maps,
            reconstruction_report,
            train_image_tokenizer,
        )

        tcfg = ImageTokenizerConfig(resolution=args.resolution, downsample=args.downsample,
                                    levels=tuple(int(v) for v in args.levels.split(",")),
                                    channels=tuple(int(v) for v in args.channels.split(",")),
                                    perceptual_weight=args.perceptual)
        t0 = time.perf_counter()
        tok, _ = train_image_tokenizer(ts.images[train], tcfg, steps=args.tokenizer_steps, seed=args.seed,
                                       batch_size=args.tokenizer_batch, bits_stored=ts.bits_stored,
                                       log=_progress("tokenizer"), perceptual=frozen_feature_maps(critic))
        tok_s = time.perf_counter() - t0
        real = ts.images[test]
        recon = tok.reconstruct(real, ts.bits_stored)
        a, b = critic.predict(real, ts.bits_stored), critic.predict(recon, ts.bits_stored)
        y = label_targets(ts.label_dicts(test), critic.labels) == 1
        rr = reconstruction_report(tok, real, bits_stored=ts.bits_stored)
        out["tokenizer"] = {
            "steps": args.tokenizer_steps, "seconds": round(tok_s, 1), "tokens": tok.tokens_per_image,
            "codebook": tok.codebook_size, "psnr_db": round(float(rr["psnr_db"]), 2),
            "same_labels": round(float((a == b).all(axis=1).mean()), 4),
            "per_label_agreement": {k: round(float((a[:, j] == b[:, j]).mean()), 4)
                                    for j, k in enumerate(critic.labels)},
            "recall_on_real": {k: round(float(a[y[:, j], j].mean()), 4) if y[:, j].any() else None
                               for j, k in enumerate(critic.labels)},
            "recall_on_recon": {k: round(float(b[y[:, j], j].mean()), 4) if y[:, j].any() else None
                                for j, k in enumerate(critic.labels)},
        }
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
