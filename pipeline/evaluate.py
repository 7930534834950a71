"""``medmint evaluate CKPT``: the checkpoint's figures, measured the same way every time.

Reference data are fresh phantom studies (seeds disjoint from training, so held out by
construction). Images are read by the checkpoint's own findings classifier (the declared feature
extractor, also used for Fréchet distance) and reports by the rule-based report labeler.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from medmint.records import CHEXPERT_LABELS, DRAWABLE_FINDINGS, SampleRequest, seed_for

DRAWABLE = DRAWABLE_FINDINGS


def _reference(n: int, size: int, offset: int) -> list[Any]:
    from medmint.generators.phantom import sample_case

    return [sample_case(seed_for(f"evaluate:{offset + i}"), size=size) for i in range(n)]


def _batched(generator: Any, requests: list[SampleRequest], batch_size: int, tick: Callable[[int], None]) -> list:
    out = []
    for i in range(0, len(requests), batch_size):
        out += generator.sample(requests[i : i + batch_size])
        tick(len(out))
    return out


def _request(i: int, task: str, findings: dict, case: Any | None = None, **extra: Any) -> SampleRequest:
    sid = f"eval-{task}-{i}"
    rng = np.random.default_rng(seed_for(sid))
    view = case.view if case is not None else ("PA" if rng.random() < 0.6 else "AP")
    sex = case.sex if case is not None else ("F" if rng.random() < 0.5 else "M")
    age = case.age if case is not None else int(np.clip(rng.normal(62, 16), 18, 95))
    return SampleRequest(sample_id=sid, seed=seed_for(sid), task=task, findings=findings, view=view, sex=sex, age=age,
                         **extra)


def _roundtrip(gen: Any, images: np.ndarray, read_on_original: np.ndarray, names: list[str],
               image_positive: Callable[[np.ndarray], np.ndarray]) -> dict[str, Any]:
    """PSNR of decode(encode(image)) and how often the critic reads the same labels on it as on the
    original: generated images can only show what the tokenizer can represent."""
    from medmint.generators.diffusion.image_tokenizer import reconstruction_report

    tok = gen.image_tokenizer
    codes = tok.encode(images, gen.bits_stored)
    read_on_rec = image_positive(tok.decode(codes))
    return {**reconstruction_report(tok, images, gen.bits_stored),
            "critic_label_agreement": float(np.mean((read_on_rec == read_on_original).all(axis=1))),
            "critic_per_label_agreement": dict(zip(names, (read_on_rec == read_on_original).mean(0).round(4).tolist()))}


def _validator_summary(checkpoint: str, samples: list, names: list[str]) -> dict[str, Any]:
    """The run's gates (as ``medmint generate`` would apply them) on the conditional joint samples:
    acceptance, rejections by gate, and per requested finding the share rejected and why."""
    from collections import Counter

    from medmint.validators.context import load_context
    from medmint.validators.registry import plan_validators, validate

    context, calibrated = load_context(checkpoint)
    validators, record = plan_validators({}, calibrated, context)
    out = validate(samples, validators, context)
    gate = lambda reason: reason.split(":")[0]  # noqa: E731
    per_finding = {}
    for name in names:
        asked = [v for v in out if v.generated.request.findings.get(name) == 1]
        if asked:
            per_finding[name] = {
                "requested": len(asked), "rejected": sum(not v.accepted for v in asked),
                "reasons": dict(Counter(gate(r) for v in asked for r in v.reject_reasons).most_common())}
    return {"calibrated": bool(calibrated), "gates_skipped": [r["name"] for r in record if not r["used"]],
            "accepted": float(np.mean([v.accepted for v in out])),
            "rejected_by_gate": dict(Counter(gate(r) for v in out for r in v.reject_reasons).most_common()),
            "per_requested_finding": per_finding}


def evaluate(
    checkpoint: str, *, n: int = 500, device: str = "auto", batch_size: int = 32,
    sampler: dict[str, Any] | None = None, progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    from medmint.generators.diffusion.generator import DiffusionGenerator
    from medmint.generators.phantom import sample_labels
    from medmint.validators.findings_classifier import FindingsClassifier, label_certain, roc_auc
    from medmint.validators.metrics import binary_scores, frechet_distance, positive_sets
    from medmint.validators.report_labeler import label_report

    gen = DiffusionGenerator(sampler)
    gen.load(checkpoint, device)
    critic_cfg = gen.checkpoint.manifest["critics"]["findings"]
    classifier = FindingsClassifier.load(critic_cfg["config"], gen.checkpoint.tensors(critic_cfg["file"]),
                                         device=str(gen.device))
    names = [n for n in DRAWABLE if n in classifier.labels]
    size = int(gen.checkpoint.manifest["data_summary"]["image"]["size"])
    tick = (lambda task: (lambda done: progress(task, done, n))) if progress else (lambda task: (lambda done: None))

    def image_positive(images: np.ndarray) -> np.ndarray:
        return positive_sets(classifier.predict_labels(images, gen.bits_stored), names)

    results: dict[str, Any] = {"checkpoint": str(checkpoint), "checkpoint_sha256": gen.checkpoint_sha256,
                               "n_per_task": n, "device": str(gen.device), "sampler": gen.sampler.to_dict(),
                               "feature_extractor": "medmint findings classifier (checkpoint critic), penultimate layer",
                               "report_reader": "medmint rule-based report labeler"}
    timings = {}

    # joint, prompted with findings drawn from the reference prior (every label given as a condition)
    rng = np.random.default_rng(seed_for("evaluate:joint-prior"))
    requested = [sample_labels(rng) for _ in range(n)]
    start = time.perf_counter()
    joint = _batched(gen, [_request(i, "joint", f) for i, f in enumerate(requested)], batch_size, tick("joint"))
    timings["joint"] = time.perf_counter() - start
    req_pos = positive_sets(requested, names)
    img_pos = image_positive(np.stack([s.image for s in joint]))
    report_labels = [label_report(s.report_text) for s in joint]
    # No Finding is derived, and the phantom and CheXpert derive it differently: compare the 13 findings.
    findings13 = [k for k in CHEXPERT_LABELS if k != "No Finding"]
    exact = [all((r.get(k) == 1) == (q.get(k) == 1) for k in findings13) for r, q in zip(report_labels, requested)]
    image_vs_request = binary_scores(img_pos, req_pos, names)
    recalls = [v["recall"] for v in image_vs_request["per_label"].values() if v["recall"] is not None]
    fprs = [v["fpr"] for v in image_vs_request["per_label"].values() if v["fpr"] is not None]
    results["joint_conditional"] = {
        "image_vs_requested": image_vs_request,
        "macro_recall": float(np.mean(recalls)) if recalls else None,
        "mean_fpr": float(np.mean(fprs)) if fprs else None,
        "report_label_exact_match": float(np.mean(exact)),
        "report_vs_requested": binary_scores(positive_sets(report_labels, names), req_pos, names),
    }

    # joint, unconditional on findings: do image and report agree with each other?
    start = time.perf_counter()
    uncond = _batched(gen, [_request(i, "joint", {}) for i in range(n)], batch_size, tick("joint_unconditional"))
    timings["joint_unconditional"] = time.perf_counter() - start
    u_img = image_positive(np.stack([s.image for s in uncond]))
    u_rep = positive_sets([label_report(s.report_text) for s in uncond], names)
    results["joint_unconditional"] = {"image_report_agreement": float(np.mean((u_img == u_rep).all(axis=1))),
                                      "prevalence_in_reports": dict(zip(names, u_rep.mean(0).round(4).tolist()))}

    # report_from_image on held-out phantom images; image_from_report on held-out phantom reports
    ref = _reference(n, size, 0)
    true_pos = positive_sets([c.labels for c in ref], names)
    start = time.perf_counter()
    r2 = _batched(gen, [_request(i, "report_from_image", {}, c, image_prompt=c.image) for i, c in enumerate(ref)],
                  batch_size, tick("report_from_image"))
    timings["report_from_image"] = time.perf_counter() - start
    results["report_from_image"] = binary_scores(positive_sets([label_report(s.report_text) for s in r2], names),
                                                 true_pos, names)
    start = time.perf_counter()
    prompts = [f"FINDINGS: {' '.join(c.findings.split())} IMPRESSION: {' '.join(c.impression.split())}" for c in ref]
    i2 = _batched(gen, [_request(i, "image_from_report", {}, c, report_prompt=p) for i, (c, p) in
                        enumerate(zip(ref, prompts))], batch_size, tick("image_from_report"))
    timings["image_from_report"] = time.perf_counter() - start
    prompt_pos = positive_sets([label_report(p) for p in prompts], names)
    results["image_from_report"] = binary_scores(image_positive(np.stack([s.image for s in i2])), prompt_pos, names)

    results["validators_on_joint"] = _validator_summary(checkpoint, joint, names)

    # the ceilings the figures above live under: the critic on real images, and on tokenizer round trips
    ref_images = np.stack([c.image for c in ref])
    results["critic_on_real"] = binary_scores(true_pos_read := image_positive(ref_images), true_pos, names)
    probs = classifier.predict_proba(ref_images, gen.bits_stored)
    certain = label_certain([c.labels for c in ref], names)  # uncertain findings are neither (U-Ignore)
    aucs = {name: roc_auc(probs[certain[:, j], classifier.labels.index(name)], true_pos[certain[:, j], j])
            for j, name in enumerate(names)}
    for name, auc in aucs.items():
        results["critic_on_real"]["per_label"][name]["auc"] = None if np.isnan(auc) else round(float(auc), 4)
    known = [a for a in aucs.values() if not np.isnan(a)]
    results["critic_on_real"]["min_auc"] = float(min(known)) if known else None
    # as measured when the checkpoint was trained (its own held-out images; absent in older checkpoints)
    results["ceilings_at_training"] = gen.checkpoint.manifest.get("ceilings")
    results["image_tokenizer_roundtrip"] = _roundtrip(gen, np.stack([c.image for c in ref]), true_pos_read, names,
                                                      image_positive)

    # Fréchet distance on the classifier's features, against a real-vs-real baseline of the same size
    real_a = np.stack([c.image for c in ref])
    real_b = np.stack([c.image for c in _reference(n, size, 10 * n)])
    feats = lambda images: classifier.features(images, gen.bits_stored)  # noqa: E731
    f_gen, f_a, f_b = feats(np.stack([s.image for s in joint])), feats(real_a), feats(real_b)
    fd_gen, fd_real = frechet_distance(f_gen, f_a), frechet_distance(f_b, f_a)
    results["frechet"] = {"generated_vs_real": fd_gen, "real_vs_real": fd_real,
                          "ratio": fd_gen / fd_real if fd_real > 0 else None}
    results["seconds_per_sample"] = {k: round(v / n, 4) for k, v in timings.items()}
    return results
