"""The audit's HTML report on a small phantom corpus: self-contained, honest, and it renders.

One corpus (with some rejects: a strict report-length gate) and one report per module; the
Chromium test drives Debian's /usr/bin/chromium through playwright, never a downloaded browser.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import CONFIGS, medmint_cli

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SUITE = [
    {"name": "unique_sop_instance_uid", "passed": True, "column": "sop_instance_uid", "observed": 0,
     "expected": 0, "details": "no duplicate"},
    {"name": "prevalence_within_tolerance", "passed": False, "column": "requested_pneumothorax",
     "observed": 1, "expected": ">= 3", "details": "Pneumothorax short by 2"},
]
SECTIONS = ("verdict", "counts", "acceptance", "scores", "montage", "rejected", "images", "text", "memorization",
            "expectations", "provenance")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("audit") / "run"
    medmint_cli("generate", str(CONFIGS / "demo-phantom.yaml"), "--out", str(out), "--set", "target.total=24",
                "--set", "generator.phantom.size=64", "--set", "target.balance.mode=at_least",
                "--set", "target.balance.prevalence=0.1", "--set", "validators.report_length.threshold=30",
                "--no-audit", check=True)
    return out


@pytest.fixture(scope="module")
def report(corpus: Path) -> Path:
    from medmint.pipeline.audit_report import write_report

    # passing first on purpose: the report must put the failing one first
    return write_report(corpus, suite=SUITE, manifest=json.loads((corpus / "run.json").read_text()))


def _section(doc: str, key: str) -> str:
    m = re.search(rf'<section id="{key}">(.*?)</section>', doc, re.S)
    assert m, f"section {key} missing"
    return m.group(1)


def _cells(row: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]


def test_report_is_self_contained_and_complete(report: Path) -> None:
    doc = report.read_text(encoding="utf-8")
    assert report == report.parent.parent / "report" / "index.html"
    assert "http://" not in doc and "https://" not in doc
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*//""", doc), "protocol-relative URL"
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?!data:|#)[a-z]+:""", doc, re.I), "external reference"
    assert "<script" not in doc.lower() and "<link" not in doc.lower() and "@import" not in doc
    for key in SECTIONS:
        _section(doc, key)
    assert "data:image/png;base64," in _section(doc, "montage")
    assert "<svg" in _section(doc, "scores")
    # the verdict says FAIL and names the failing expectation; the passing one is further down, after it
    verdict = _section(doc, "verdict")
    assert ">FAIL<" in verdict and "prevalence_within_tolerance" in verdict
    assert "unique_sop_instance_uid" not in verdict
    expectations = _section(doc, "expectations")
    assert expectations.index("prevalence_within_tolerance") < expectations.index("unique_sop_instance_uid")
    assert doc.index('id="verdict"') < doc.index('id="counts"') < doc.index('id="expectations"')
    # fitness that a phantom run cannot measure is listed as such, not passed in silence
    assert "Not measured" in verdict and "fidelity:frechet_ratio" in verdict
    # phantom run, no reference: said plainly, not faked
    assert "Not computed: the run has no checkpoint" in _section(doc, "images")
    assert "Not computed: run has no privacy index" in _section(doc, "memorization")
    assert "Not computed: no reference reports" in _section(doc, "text")
    assert "micro F1" in _section(doc, "text")
    prov = _section(doc, "provenance")
    run = json.loads((report.parent.parent / "run.json").read_text())
    assert run["config_sha256"] in prov and run["created_at"] in prov


def test_counts_match_duckdb(report: Path, corpus: Path) -> None:
    import duckdb

    from medmint.records import CHEXPERT_LABELS, label_slug

    doc = report.read_text(encoding="utf-8")
    rows = {c[0]: c for c in map(_cells, re.findall(r"<tr>(.*?)</tr>", _section(doc, "counts"), re.S)) if c}
    con = duckdb.connect()
    accepted = f"read_parquet('{corpus}/data/accepted-*.parquet')"
    rejected = f"read_parquet('{corpus}/data/rejected-*.parquet')"
    for label in CHEXPERT_LABELS:
        col = f"requested_{label_slug(label)}"
        n_acc = con.execute(f"SELECT count(*) FROM {accepted} WHERE {col} = 1").fetchone()[0]
        n_rep = con.execute(f"SELECT count(*) FROM {accepted} WHERE report_{label_slug(label)} = 1").fetchone()[0]
        assert rows[label][6] == str(n_acc), (label, rows[label])
        assert rows[label][7] == str(n_rep), (label, rows[label])
    # acceptance per requested finding, against both shard kinds
    acc_rows = {c[0]: c for c in map(_cells, re.findall(r"<tr>(.*?)</tr>", _section(doc, "acceptance"), re.S)) if c}
    for label in ("Cardiomegaly", "Support Devices"):
        col = f"requested_{label_slug(label)}"
        n_all = sum(con.execute(f"SELECT count(*) FROM {t} WHERE {col} = 1").fetchone()[0] for t in (accepted, rejected))
        assert acc_rows[label][1] == str(n_all)
    # the reject reasons shown are the rejected shards' validator names
    reasons = con.execute(f"SELECT split_part(unnest(reject_reasons), ':', 1) AS v, count(*) FROM {rejected} "
                          "GROUP BY v").fetchall()
    assert reasons, "the strict report_length gate should reject some samples"
    metrics = json.loads((report.parent / "metrics.json").read_text())
    assert metrics["acceptance"]["reasons"] == {v: n for v, n in reasons}


def test_renders_offline_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium; the README's "
                    "test command does)")
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report.as_uri(), wait_until="load")
            shot = page.screenshot(full_page=True)
            text = page.inner_text("body")
            thumbs = page.eval_on_selector_all("#montage img", "els => els.map(e => e.naturalWidth)")
        finally:
            browser.close()
    (tmp_path / "report.png").write_bytes(shot)
    from PIL import Image

    img = np.asarray(Image.open(tmp_path / "report.png").convert("RGB"))
    assert len(shot) > 20_000 and img.shape[0] > 1500 and img.shape[1] >= 1280
    packed = img[::3, ::3].astype(np.int32) @ np.array([1 << 16, 1 << 8, 1], np.int32)
    assert len(np.unique(packed)) > 50 and img.std() > 10, "screenshot is (nearly) one colour"
    assert "FAIL" in text and "prevalence_within_tolerance" in text
    assert "Cardiomegaly" in text and "Provenance" in text and "Samples per finding" in text
    assert thumbs and all(w > 0 for w in thumbs), "montage thumbnails did not decode"
    assert requests and all(u.startswith(("file:", "data:")) for u in requests), requests


def test_report_metrics_against_reference_reports(corpus: Path, tmp_path: Path) -> None:
    """A reference manifest with report text and labels: BLEU/ROUGE-L/METEOR computed, METEOR's
    implementation named (NLTK + WordNet when installed, the exact-match module otherwise)."""
    import pyarrow.parquet as pq

    from medmint.pipeline.audit_report import write_report
    from medmint.records import CHEXPERT_LABELS, label_slug

    # the corpus's own reports as the reference: the pairing and every metric run end to end
    table = pq.read_table(sorted((corpus / "data").glob("accepted-*.parquet"))[0],
                          columns=["report_text", *(f"report_{label_slug(lab)}" for lab in CHEXPERT_LABELS)])
    manifest = tmp_path / "reference.csv"
    _write_csv(table, manifest)
    out = write_report(corpus, suite=SUITE, manifest=json.loads((corpus / "run.json").read_text()),
                       reference=manifest)
    text = _section(out.read_text(encoding="utf-8"), "text")
    assert "BLEU-4" in text and "Not computed: no reference reports" not in text
    metrics = json.loads((out.parent / "metrics.json").read_text())["text"]["text"]
    assert metrics["computed"] and 0 < metrics["bleu1"] <= 1 and 0 < metrics["rouge_l"] <= 1
    assert metrics["meteor"]["implementation"].startswith(("NLTK meteor_score", "WordNet not installed"))


def _write_csv(table, path: Path) -> None:  # noqa: ANN001
    import csv

    from medmint.records import CHEXPERT_LABELS

    rows = table.to_pylist()
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["report_text", *CHEXPERT_LABELS])
        for r in rows:
            values = list(r.values())
            w.writerow([values[0], *("" if v is None else v for v in values[1:])])


def _labels_row(cell: str, title: str) -> set[str]:
    m = re.search(rf"<tr><th>{title}</th><td>(.*?)</td></tr>", cell, re.S)
    assert m, f"no {title!r} row in a montage cell"
    return {html.unescape(re.sub(r"<[^>]+>", "", x)).strip() for x in m.group(1).split(",")} - {"—"}


def test_montage_shows_labels_and_rejected_examples_show_reasons(report: Path, corpus: Path) -> None:
    import duckdb

    from medmint.records import CHEXPERT_LABELS, label_slug

    doc = report.read_text(encoding="utf-8")
    con = duckdb.connect()
    cells = re.findall(r'<div class="cell">(.*?)</pre></div></div>', _section(doc, "montage"), re.S)
    assert cells
    for cell in cells:
        sid = html.unescape(re.search(r'<div class="sid">(.*?)</div>', cell).group(1))
        row = con.execute(f"SELECT * FROM read_parquet('{corpus}/data/accepted-*.parquet') WHERE sample_id = ?",
                          [sid]).fetchone()
        cols = [d[0] for d in con.description]
        rec = dict(zip(cols, row))
        def shown(prefix: str) -> tuple[set[str], set[str]]:  # (positive, shown with "?" when uncertain)
            value = {lab: rec[f"{prefix}_{label_slug(lab)}"] for lab in CHEXPERT_LABELS}
            pos = {lab for lab, v in value.items() if v == 1}
            return pos, pos | {f"{lab}?" for lab, v in value.items() if v == -1}

        asked, asked_shown = shown("requested")
        read, read_shown = shown("report")
        assert _labels_row(cell, "requested") == asked_shown, sid
        # what the report reads, plus (struck through) what was asked and not read back
        assert _labels_row(cell, "report read") == read_shown | (asked - read), sid
        assert "image read" in cell
    rejected = _section(doc, "rejected")
    shown = re.findall(r'<div class="sid">(.*?)</div>', rejected)
    assert shown
    for sid in map(html.unescape, shown):
        reasons = con.execute(f"SELECT reject_reasons FROM read_parquet('{corpus}/data/rejected-*.parquet') "
                              "WHERE sample_id = ?", [sid]).fetchone()[0]
        assert reasons and all(html.escape(r) in rejected for r in reasons), sid
