"""The audit report's numbers: histograms, feature-space comparisons, report metrics, memorization.

Everything here takes plain arrays and strings and returns JSON-ready dicts; the report
(``medmint.pipeline.audit_report``) reads the shards and draws. Feature metrics reuse
``validators.metrics`` (Fréchet distance, k-NN precision/recall) on whatever embedding the caller
declares; text metrics reuse its BLEU (sacrebleu) and ROUGE-L (rouge-score). METEOR is NLTK's
(stems and WordNet synonyms) when a WordNet database can be found offline, else the exact-match
module of ``validators.metrics`` and the result says which.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from medmint.validators.metrics import (
    METEOR_FALLBACK, bleu, frechet_distance, label_f1, meteor_exact, precision_recall_knn, rouge_l,
)

# Debian's wordnet-base (+ wordnet-sense-index) installs the WordNet 3.0 database here
WORDNET_DIRS = ("/usr/share/wordnet",)
MAX_TEXT_PAIRS = 2000  # report metrics on at most this many accepted reports (deterministic sample)
MAX_METEOR_PAIRS = 500  # NLTK METEOR with WordNet costs about a millisecond a pair


def histogram(values: np.ndarray, *, bins: int = 30, lo: float | None = None, hi: float | None = None,
              extra: Sequence[float] = ()) -> dict[str, Any]:
    """Counts over ``bins`` equal bins spanning the finite values (and ``extra`` points such as a
    threshold, so it is inside the drawn range)."""
    v = np.asarray(values, np.float64)
    finite = v[np.isfinite(v)]
    points = np.concatenate([finite, np.asarray([e for e in extra if e is not None and np.isfinite(e)], float)])
    if lo is None:
        lo = float(points.min()) if len(points) else 0.0
    if hi is None:
        hi = float(points.max()) if len(points) else 1.0
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(finite, bins=bins, range=(lo, hi))
    return {"counts": counts.tolist(), "edges": edges.tolist(), "n": int(len(finite)),
            "non_finite": int(len(v) - len(finite))}


def quantiles(values: np.ndarray, qs: Sequence[float] = (0.01, 0.05, 0.5, 0.95, 0.99)) -> dict[str, float]:
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    return {f"p{round(q * 100):02d}": float(np.quantile(v, q)) for q in qs} if len(v) else {}


# --- images in a declared feature space ----------------------------------------------------


def feature_metrics(generated: np.ndarray, real: np.ndarray, real_baseline: np.ndarray | None = None,
                    *, k: int = 3) -> dict[str, Any]:
    """Fréchet distance and k-NN precision/recall (Kynkäänniemi et al. 2019) of generated vs real
    features, and the same two numbers for a second real set against the first (the floor that the
    sample sizes alone give)."""
    out: dict[str, Any] = {"n_generated": int(len(generated)), "n_real": int(len(real)), "k": k}
    out["frechet_distance"] = frechet_distance(generated, real)
    out.update(precision_recall_knn(real, generated, k=k))
    if real_baseline is not None and len(real_baseline) > k:
        out["baseline"] = {"n": int(len(real_baseline)),
                           "frechet_distance": frechet_distance(real_baseline, real),
                           **precision_recall_knn(real, real_baseline, k=k)}
    return out


# --- memorization --------------------------------------------------------------------------


def memorization(generated: np.ndarray, baseline: np.ndarray | None, threshold: float | None) -> dict[str, Any]:
    """Nearest-training distances of generated images against the held-out real ones: quantiles of
    both, how many generated samples sit closer than the real 1st / 5th percentile, and how many
    fall at or under the gate's threshold (those were rejected)."""
    g = np.asarray(generated, np.float64)
    g = g[np.isfinite(g)]
    out: dict[str, Any] = {"n_generated": int(len(g)), "generated": quantiles(g), "threshold": threshold}
    if threshold is not None:
        out["at_or_below_threshold"] = int((g <= threshold).sum())
    if baseline is not None and len(baseline):
        b = np.asarray(baseline, np.float64)
        out["n_baseline"] = int(len(b))
        out["baseline"] = quantiles(b)
        for q in (1, 5):
            cut = float(np.quantile(b, q / 100))
            out[f"share_below_real_p{q:02d}"] = float((g < cut).mean()) if len(g) else None
        out["median_ratio"] = float(np.median(g) / np.median(b)) if len(g) and np.median(b) > 0 else None
    return out


# --- report text ---------------------------------------------------------------------------


def positive_keys(rows: Sequence[Mapping[str, int | None]], names: Sequence[str]) -> list[frozenset[str]]:
    return [frozenset(n for n in names if row.get(n) == 1) for row in rows]


def pair_references(generated: Sequence[frozenset[str]], reference: Sequence[frozenset[str]]) -> tuple[list[int], int]:
    """For each generated report, a reference report to score it against: one with the same positive
    findings (taken in turn, so no single reference is reused while others with the key wait), else
    the one sharing most findings (Jaccard). Returns (reference index per generated report, exact
    matches)."""
    by_key: dict[frozenset[str], list[int]] = {}
    for j, key in enumerate(reference):
        by_key.setdefault(key, []).append(j)
    used: dict[frozenset[str], int] = {}
    keys = list(by_key)
    out, exact = [], 0
    for key in generated:
        if key in by_key:
            pool = by_key[key]
            i = used.get(key, 0)
            used[key] = i + 1
            out.append(pool[i % len(pool)])
            exact += 1
            continue
        best = max(keys, key=lambda k: (len(k & key) / max(1, len(k | key)), -len(k ^ key)))
        out.append(by_key[best][0])
    return out, exact


def find_wordnet() -> Path | None:
    """A WordNet 3.0 database folder (data.noun, index.noun, lexnames ...), offline: $MEDMINT_WORDNET,
    then NLTK's data path (corpora/wordnet), then Debian's wordnet-base."""
    candidates = [os.environ.get("MEDMINT_WORDNET", "")]
    try:
        import nltk

        candidates += [str(Path(p) / "corpora" / "wordnet") for p in nltk.data.path]
    except ImportError:
        pass
    candidates += list(WORDNET_DIRS)
    for c in candidates:
        if c and (Path(c) / "data.noun").is_file():
            return Path(c) if (Path(c) / "lexnames").is_file() else _with_lexnames(Path(c))
    return None


# WordNet 3.0's lexicographer files (lexnames(5WN)); NLTK's reader needs this file, which Debian's
# wordnet-base leaves out (it ships only the man page)
LEXNAMES = ("adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
            "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
            "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
            "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
            "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
            "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather "
            "adj.ppl").split()
_SYNTACTIC = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
_VIEWS: dict[Path, Path] = {}


def _with_lexnames(src: Path) -> Path:
    """A temporary NLTK data folder holding ``src``'s files plus the lexnames file (once per process)."""
    import shutil
    import tempfile

    if src not in _VIEWS:
        import atexit

        root = Path(tempfile.mkdtemp(prefix="medmint-wordnet-"))
        atexit.register(shutil.rmtree, root, True)
        view = root / "corpora" / "wordnet"
        view.mkdir(parents=True)
        for f in src.iterdir():
            if f.is_file():
                shutil.copyfile(f, view / f.name)  # copies: NLTK refuses links that leave its data path
        (view / "lexnames").write_text("".join(f"{i:02d}\t{name}\t{_SYNTACTIC[name.split('.')[0]]}\n"
                                               for i, name in enumerate(LEXNAMES)))
        _VIEWS[src] = view
    return _VIEWS[src]


def meteor_nltk(hypotheses: Sequence[str], references: Sequence[str], wordnet_dir: Path) -> float:
    """Mean sentence METEOR as NLTK computes it (exact, Porter stem and WordNet synonym matching)."""
    import re

    import warnings

    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader
    from nltk.translate.meteor_score import meteor_score

    data_root = str(wordnet_dir.parent.parent)
    if wordnet_dir.parent.name == "corpora" and data_root not in nltk.data.path:
        nltk.data.path.append(data_root)  # NLTK reads corpora only under its data path

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available": not used here
        wn = WordNetCorpusReader(str(wordnet_dir), None)
    tok = lambda s: re.findall(r"\w+", s.lower())  # noqa: E731
    return float(np.mean([meteor_score([tok(r)], tok(h), wordnet=wn) for h, r in zip(hypotheses, references)]))


def meteor_summary(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    """METEOR on at most ``MAX_METEOR_PAIRS`` pairs, saying which implementation gave it."""
    step = max(1, -(-len(hypotheses) // MAX_METEOR_PAIRS))
    h, r = list(hypotheses)[::step], list(references)[::step]
    wordnet = find_wordnet()
    if wordnet is not None:
        try:
            return {"meteor": meteor_nltk(h, r, wordnet), "n": len(h),
                    "implementation": ("NLTK meteor_score (exact + Porter stem + WordNet synonyms; WordNet 3.0 from "
                                       f"{next((k for k, v in _VIEWS.items() if v == wordnet), wordnet)})")}
        except Exception as exc:  # noqa: BLE001 - a broken WordNet install must not sink the report
            why = f"NLTK METEOR failed ({type(exc).__name__}: {str(exc)[:120]})"
    else:
        why = "WordNet not installed (Debian wordnet-base, or NLTK's wordnet corpus)"
    values = [meteor_exact(a, b) for a, b in zip(h, r)]
    return {"meteor": float(np.mean(values)) if values else None, "n": len(h),
            "implementation": f"{why}: {METEOR_FALLBACK}"}


def text_metrics(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    """Corpus BLEU-1..4, mean ROUGE-L and METEOR of paired reports (at most ``MAX_TEXT_PAIRS``)."""
    step = max(1, -(-len(hypotheses) // MAX_TEXT_PAIRS))
    h, r = list(hypotheses)[::step], list(references)[::step]
    return {"n": len(h), **bleu(h, r), "rouge_l": rouge_l(h, r), "meteor": meteor_summary(h, r)}


def label_agreement(predicted: Sequence[Mapping[str, int | None]], truth: Sequence[Mapping[str, int | None]],
                    names: Sequence[str]) -> dict[str, Any]:
    """Micro/macro F1 and per-label F1 (positive = 1) plus the share of rows agreeing on every label."""
    out = label_f1(predicted, truth, names)
    same = [all((p.get(n) == 1) == (t.get(n) == 1) for n in names) for p, t in zip(predicted, truth)]
    out["exact_match"] = float(np.mean(same)) if same else None
    out["n"] = len(same)
    return out


__all__ = ["histogram", "quantiles", "feature_metrics", "memorization", "positive_keys", "pair_references",
           "find_wordnet", "meteor_summary", "text_metrics", "label_agreement"]
