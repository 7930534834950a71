"""Is the corpus fit for use? The audit's judgement beyond schema: fidelity, label agreement and
prevalence, each against a baseline the audit measured itself.

A corpus can satisfy every expectation of the suite (types, UIDs, provenance, no PHI) and still be
useless: blurry images far from the real distribution, findings the images do not show, or a corpus
that was asked for the reference mix and came out mostly normal because the validators let normal
samples through more often. Each check here compares one figure with the baseline that makes it
meaningful (Frechet distance with the real-vs-real distance at the same sample size, the critic's
agreement with the request against the critic's own F1 on held-out real images, an accepted share
against the share asked for), so the thresholds in ``AuditConfig`` are ratios and gaps.

Statuses: ``pass``; ``warn`` / ``fail`` (a miss, as ``AuditConfig.severity`` says); ``not measured``
(the run lacks what the check needs, with why). The verdict is FAIL on any schema fault or a check at
severity ``fail``, WARN on any missed check, PASS otherwise; "not measured" never passes silently, it
is listed on the report's first screen.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping, Sequence

PASS, NOT_MEASURED = "pass", "not measured"


@dataclass(frozen=True)
class FitnessCheck:
    name: str  # "fidelity:frechet_ratio"
    status: str  # pass | warn | fail | not measured
    observed: str  # the figure as read, in words
    expected: str  # the threshold, in words
    why: str  # one line for the first screen
    look_at: str  # report section that shows the evidence

    @property
    def missed(self) -> bool:
        return self.status not in (PASS, NOT_MEASURED)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check(name: str, ok: bool, severity: str, observed: str, expected: str, why: str, look_at: str) -> FitnessCheck:
    return FitnessCheck(name, PASS if ok else severity, observed, expected, why, look_at)


def fidelity_checks(images: Mapping[str, Any], cfg: Any) -> list[FitnessCheck]:
    """Frechet distance and k-NN precision / recall of the accepted images against real ones, each
    read against the same figure for a real set of the same size (small-sample bias cancels)."""
    names = ("fidelity:frechet_ratio", "fidelity:precision", "fidelity:recall")
    base = images.get("baseline") or {}
    if not images.get("computed") or not base:
        why = images.get("why") or "no real-vs-real baseline in the image metrics"
        return [FitnessCheck(n, NOT_MEASURED, "—", "—", f"not measured: {why}", "images") for n in names]
    fd, fd0 = float(images["frechet_distance"]), float(base["frechet_distance"])
    ratio = fd / fd0 if fd0 > 0 else math.inf
    out = [_check(names[0], ratio <= cfg.frechet_ratio_max, cfg.severity,
                  f"FD {fd:.4g} = {ratio:.2f} x real-vs-real {fd0:.4g}", f"<= {cfg.frechet_ratio_max:g} x",
                  f"images are {ratio:.1f} x as far from real images as real images are from each other "
                  f"(Frechet distance {fd:.4g} vs {fd0:.4g})", "images")]
    for name, key, floor, meaning in ((names[1], "precision", cfg.precision_ratio_min, "look real (fidelity)"),
                                      (names[2], "recall", cfg.recall_ratio_min, "cover the real variety (coverage)")):
        got, ref = float(images[key]), float(base[key])
        share = got / ref if ref > 0 else (1.0 if got >= ref else 0.0)
        out.append(_check(name, share >= floor, cfg.severity, f"{key} {got:.3f} vs real-vs-real {ref:.3f} ({share:.2f})",
                          f">= {floor:g} of the baseline",
                          f"k-NN {key} {got:.2f} against {ref:.2f} for real images: generated images "
                          f"{'do not ' if share < floor else ''}{meaning}", "images"))
    return out


def label_agreement_check(agreement: Mapping[str, Any], ceilings: Mapping[str, float], cfg: Any) -> FitnessCheck:
    """The critic's reading of accepted images against the request, as a share of the critic's F1 on
    held-out real images (a weak critic cannot demand more than it can see): per finding with
    ``label_min_support`` requests, and pooled over every finding the critic reads (so a small
    corpus is judged too)."""
    name = "labels:image_agreement"
    if not ceilings:
        return FitnessCheck(name, NOT_MEASURED, "—", "—", "not measured: no critic with held-out F1 in the "
                            "checkpoint (the phantom generator has none)", "text")
    per_label, n = agreement.get("per_label") or {}, int(agreement.get("n") or 0)
    low, tp, fp, fn, weighted = [], 0.0, 0.0, 0.0, 0.0
    for label, m in per_label.items():
        ceiling, support = ceilings.get(label), int(m.get("support") or 0)
        if not ceiling:
            continue
        hits = float(m.get("recall") or 0.0) * support
        tp, fn, fp = tp + hits, fn + support - hits, fp + float(m.get("fpr") or 0.0) * (n - support)
        weighted += float(ceiling) * support
        if support >= cfg.label_min_support and m.get("f1") is not None:
            ratio = float(m["f1"]) / float(ceiling)
            if ratio < cfg.label_agreement_ratio_min:
                low.append((ratio, label, float(m["f1"]), float(ceiling), support))
    support = tp + fn
    if support < cfg.label_min_support:
        return FitnessCheck(name, NOT_MEASURED, "—", f">= {cfg.label_min_support} requested findings the critic reads",
                            f"not measured: {support:.0f} requested findings the critic can read among accepted rows "
                            f"(< {cfg.label_min_support})", "text")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    ceiling = weighted / support
    pooled = f1 / ceiling
    if pooled < cfg.label_agreement_ratio_min:
        low.append((pooled, "all findings pooled", f1, ceiling, int(support)))
    low.sort()
    observed = (f"pooled F1 {f1:.2f} of ceiling {ceiling:.2f} over {support:.0f} requested findings"
                + "".join(f"; {lab} F1 {x:.2f} of {c:.2f} (n={k})" for _, lab, x, c, k in low[:3]
                          if lab != "all findings pooled"))
    why = (f"the images do not show what was requested: {low[0][1]} read back at F1 {low[0][2]:.2f} where the "
           f"critic reaches {low[0][3]:.2f} on real images" if low else
           f"requested findings visible in the images (F1 {f1:.2f} of the critic's {ceiling:.2f})")
    return _check(name, not low, cfg.severity, observed, f">= {cfg.label_agreement_ratio_min:g} x critic F1", why,
                  "text")


def _gaps(shares: Mapping[str, float], wanted: Mapping[str, float], n: int, gap_max: float
          ) -> list[tuple[float, str, float, float]]:
    """(excess, label, share, wanted share) where the gap exceeds ``gap_max`` plus two binomial
    standard errors of ``n`` rows (a 32-row corpus cannot match 0.37 to the second digit)."""
    out = []
    for label, want in wanted.items():
        got = shares.get(label, 0.0)
        noise = 2 * math.sqrt(max(want * (1 - want), 1e-12) / max(n, 1))
        excess = abs(got - want) - gap_max - noise
        if excess > 0:
            out.append((excess, label, got, want))
    return sorted(out, reverse=True)


def _gap_words(gaps: Sequence[tuple[float, str, float, float]], against: str) -> str:
    return ", ".join(f"{lab} {got:.0%} vs {want:.0%} {against}" for _, lab, got, want in gaps[:4])


def prevalence_checks(accepted_share: Mapping[str, float], asked_share: Mapping[str, float],
                      reference_share: Mapping[str, float] | None, n_accepted: int, targeted: Iterable[str],
                      cfg: Any) -> list[FitnessCheck]:
    """The validators may skew what the planner asked for (normal samples pass more often); without
    a balance target the reference is what was asked for, so the corpus is also read against it."""
    out = []
    if not n_accepted:
        return [FitnessCheck("prevalence:acceptance_bias", NOT_MEASURED, "—", "—", "not measured: nothing accepted",
                             "counts")]
    gaps = _gaps(accepted_share, asked_share, n_accepted, cfg.prevalence_gap_max)
    out.append(_check("prevalence:acceptance_bias", not gaps, cfg.severity,
                      _gap_words(gaps, "asked") or "accepted shares within the gap of the shares asked for",
                      f"|accepted - asked| <= {cfg.prevalence_gap_max:g} + 2 s.e.",
                      (f"the validators skewed the mix: {_gap_words(gaps[:2], 'of the requests')}" if gaps else
                       "accepted mix as asked"), "acceptance"))
    if reference_share is not None:
        steered = set(targeted)
        ref = {k: v for k, v in reference_share.items() if k not in steered}
        gaps = _gaps(accepted_share, ref, n_accepted, cfg.prevalence_gap_max)
        out.append(_check("prevalence:reference", not gaps, cfg.severity,
                          _gap_words(gaps, "in the reference") or "accepted shares within the gap of the reference",
                          f"|accepted - reference| <= {cfg.prevalence_gap_max:g} + 2 s.e.",
                          (f"the corpus does not follow its reference: "
                           f"{_gap_words(gaps[:2], 'in the reference')}" if gaps else "accepted mix follows the "
                           "reference"), "counts"))
    return out


def target_check(progress: Mapping[str, Mapping[str, Any]], tolerance: int | None, cfg: Any) -> FitnessCheck | None:
    """Every per-finding target met within the tolerance (the run exits 3 when not; the verdict says
    it too, since the report is what is read in the morning)."""
    wanted = {f: s for f, s in progress.items() if s.get("wanted") is not None}
    if not wanted:
        return None
    short = [(f, s) for f, s in wanted.items() if not s.get("met")]
    words = ", ".join(f"{f} {s.get('have')} of {s.get('wanted')}" for f, s in short[:4])
    tol = f" within tolerance {tolerance}" if tolerance else ""
    return _check("prevalence:targets", not short, cfg.severity, words or f"{len(wanted)} targets met{tol}",
                  f"every target met{tol}", f"targets missed: {words}" if short else f"every target met{tol}", "counts")


def verdict(schema_failures: int, checks: Sequence[FitnessCheck]) -> str:
    if schema_failures or any(c.status == "fail" for c in checks):
        return "FAIL"
    if any(c.missed for c in checks):
        return "WARN"
    return "PASS"


__all__ = ["FitnessCheck", "fidelity_checks", "label_agreement_check", "prevalence_checks", "target_check",
           "verdict", "PASS", "NOT_MEASURED"]
