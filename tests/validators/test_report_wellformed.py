"""``report_wellformed``: whole sentences, judged against the training reports' word statistics.

Real-style reports (``data/reports_real_*.txt``, written in the style of MIMIC-CXR / Open-i, see
``data/reports_make.py``): statistics fitted on the training set accept the held-out set, whose
phrasing is half new, and reject the broken set (truncated sentences, doubled words, orphan
fragments, empty sections, word salad, doubled punctuation, stray letters, the issue's examples).
The phantom: statistics of its training reports accept its held-out reports and reject what the
default checkpoint wrote wrong."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medmint.generators.diffusion.text_tokenizer import split_sections
from medmint.validators.base import Batch, ValidationContext
from medmint.validators.report_wellformed import ReportNgrams, WellFormed, check_report, sentences
from tests.conftest import REPO, phantom_samples

DATA = Path(__file__).parent / "data"
ISSUE = [  # the issue's examples, as the default checkpoint wrote them (findings, impression)
    ("Single portable AP view of the chest. F is edema.", "Mild cardiomegaly."),
    ("AP portable upright view of the chest. No consolidation is.", "Mild mediastinal widening."),
    ("Small left pleural effusion.", "Possible small pleural pleural effusion.."),
    ("Frontal and lateral views of.", "No acute cardiopulmonary process."),
]


def _score(stats, findings, impression):
    return max((e.surprise for e in check_report(findings, impression, stats)), default=0.0)


@pytest.fixture(scope="module")
def real():
    train = (DATA / "reports_real_train.txt").read_text().splitlines()
    held = (DATA / "reports_real_heldout.txt").read_text().splitlines()
    broken = [line.split("\t", 1) for line in (DATA / "reports_broken.txt").read_text().splitlines()]
    return ReportNgrams.build(train), held, broken


def test_real_held_out_reports_pass_and_broken_ones_fail(real):
    stats, held, broken = real
    t = WellFormed.default_threshold
    held_scores = np.array([_score(stats, *split_sections(r)) for r in held])
    kinds = np.array([k for k, _ in broken])
    broken_scores = np.array([_score(stats, *split_sections(r)) for _, r in broken])
    accepted = float((held_scores <= t).mean())
    rejected = float((broken_scores > t).mean())
    per_kind = {k: float((broken_scores[kinds == k] > t).mean()) for k in sorted(set(kinds))}
    print(json.dumps({"held_out_accepted": accepted, "broken_rejected": rejected, "per_kind": per_kind}))
    assert len(held) >= 100 and len(broken) >= 100
    assert accepted >= 0.99, [(r, s) for r, s in zip(held, held_scores) if s > t]
    # the structural faults are caught whatever the training set's size; orphan fragments and stray
    # letters (a letter the training reports use, "Kerley B", by its two unseen neighbours) by their
    # faults added up; truncations and word salad only as far as 1,000 training reports give evidence
    # (see the README)
    for kind in ("issue", "doubled", "punctuation", "empty_section", "glued", "letter", "orphan"):
        assert per_kind[kind] == 1.0, (kind, per_kind)
    assert per_kind["truncated"] >= 0.9 and per_kind["salad"] >= 0.88, per_kind
    assert rejected >= 0.97, per_kind


def test_each_class_of_fault_is_named(real):
    stats = real[0]
    cases = {
        "ends on 'of'": ("Frontal and lateral views of the chest. The lungs are clear. Heart size is within normal limits of.",
                         "No acute process."),
        "starts with 'is'": ("The lungs are clear. Is no pneumothorax.", "No acute process."),
        "doubles 'pleural'": ("There is a small left pleural pleural effusion.", "Small left pleural effusion."),
        "has '..'": ("The lungs are clear..", "No acute process."),
        "stray letter 'f'": ("F is edema.", "No acute process."),
        "FINDINGS is empty": ("", "No acute process."),
        "starts lowercase": ("The lungs are clear. there is no pneumothorax.", "No acute process."),
        "stray letter 'b' between words": ("The lungs are clear.", "Little change since the b study."),
        "ends on 'or' (last in 0 of its 110 training uses) after ','": (
            "No focal consolidation, pleural effusion, or.", "No acute process."),
        "1 more fault": ("Bibasilar atelectasis is present.", "Bibasilar. No acute process."),
    }
    for what, (findings, impression) in cases.items():
        worst = max(check_report(findings, impression, stats), key=lambda e: e.surprise)
        assert what in worst.what and worst.surprise > WellFormed.default_threshold, (what, worst)


def test_reason_quotes_the_sentence_and_the_evidence(real):
    stats = real[0]
    gate = WellFormed(ValidationContext(data_summary={"report_ngrams": stats}))
    sample = _sample("AP portable upright view of the chest. No consolidation is.", "Mild cardiomegaly.")
    (verdict,) = gate.judge(Batch([sample], gate.context))
    assert not verdict.passed
    assert verdict.reason.startswith("report_wellformed: 'No consolidation is.' ends on 'is' (last in 0 of its ")
    assert "training uses)" in verdict.reason and "> 1 in 10^2.4" in verdict.reason


def test_without_statistics_only_language_free_faults_are_checked():
    gate = WellFormed(ValidationContext())
    good = _sample("Single frontal view of the chest. Kerley B lines. The lungs are clear.", "1. No acute process. 2. Stable.")
    bad = [_sample("The lungs are clear clear.", "No acute process."),
           _sample("The lungs are clear..", "No acute process."),
           _sample("The lungs are clear.", ""),
           _sample("F is edema.", "No acute process."),
           _sample("The lungs are clear,.", "No acute process.")]
    verdicts = gate.judge(Batch([good, *bad], gate.context))
    assert [v.passed for v in verdicts] == [True] + [False] * len(bad), [v.reason for v in verdicts]
    assert gate.describe()["statistics"] == "none: structural checks only"


def test_statistics_round_trip_and_stay_small(real):
    stats, held, _ = real
    again = ReportNgrams(stats.to_tensors())
    assert [_score(again, *split_sections(r)) for r in held[:30]] == [_score(stats, *split_sections(r)) for r in held[:30]]
    pruned = ReportNgrams.build((DATA / "reports_real_train.txt").read_text().splitlines(), max_unigrams=50,
                                max_bigrams=100)
    assert len(pruned) == 50 and pruned.describe()["word_pairs"] == 100 and pruned.scalars["bigram_min_count"] > 1
    assert sum(t.numel() * t.element_size() for t in stats.to_tensors().values()) < 64 * 1024
    # statistics written before the word pairs' followers were counted (the default checkpoint's)
    older = ReportNgrams({k: v for k, v in stats.to_tensors().items() if k != "bigram_next"})
    assert older.pair_next(",", "or") is None and stats.pair_next(",", "or") == (0, 1)
    assert _score(older, "No focal consolidation, pleural effusion, or.", "No acute process.") < \
        _score(stats, "No focal consolidation, pleural effusion, or.", "No acute process.")
    # "is new" is always "is new opacity" in training, but the word after 'is' often ends a sentence
    assert _score(stats, "Plate-like atelectasis at the right base is new.", "No acute process.") \
        <= WellFormed.default_threshold


def test_sentences_keep_decimals_and_split_abbreviations_consistently():
    s = sentences("The tube tip is 2.5 cm above the carina. Discussed with Dr. ___ at 10:30. No pneumothorax")
    assert [x.text for x in s] == ["The tube tip is 2.5 cm above the carina.", "Discussed with Dr.", "___ at 10:30.",
                                   "No pneumothorax"]
    assert s[0].tokens[4] == "<num>" and s[2].tokens[0] == "<deid>" and s[-1].terminator == ""


@pytest.fixture(scope="module")
def phantom():
    """The default checkpoint's statistics (its training reports) and held-out phantom reports."""
    from safetensors.numpy import load_file

    ckpt = REPO / "checkpoints" / "default"
    manifest = json.loads((ckpt / "medmint.json").read_text())
    stats = ReportNgrams(load_file(str(ckpt / "report_ngrams.safetensors")))
    threshold = manifest["validators"]["settings"]["report_wellformed"]["threshold"]
    return stats, threshold, phantom_samples(200, seed=11, size=64, prefix="wf")


def test_the_default_checkpoint_accepts_phantom_reports_and_rejects_the_issues_examples(phantom):
    stats, threshold, samples = phantom
    assert threshold <= WellFormed.default_threshold
    scores = np.array([_score(stats, s.report_findings, s.report_impression) for s in samples])
    assert (scores <= threshold).mean() >= 0.98, sorted(scores)[-5:]
    for findings, impression in ISSUE:
        assert _score(stats, findings, impression) > threshold, (findings, impression)


def _sample(findings, impression):
    from medmint.records import GeneratedSample, SampleRequest

    request = SampleRequest(sample_id="wf", seed=1, task="joint", findings={}, view="PA", sex="F", age=60)
    return GeneratedSample(request=request, image=np.zeros((8, 8), np.uint16), bits_stored=12,
                           report_findings=findings, report_impression=impression, generator="test",
                           checkpoint_sha256=None, sampling={}, seconds=0.0)

