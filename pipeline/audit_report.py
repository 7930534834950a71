"""``OUT/report/index.html``: the self-contained audit report a data engineer reads in the morning.

One HTML file, inline CSS, plots as hand-written inline SVG, thumbnails as PNG data URIs: it opens
offline and references nothing outside itself. Sections: verdict (the expectation suite, failing
first), counts vs targets per finding (the reference distribution before rebalancing, the accepted
corpus after), acceptance and reject reasons per finding and per round, validator score histograms
with thresholds, a montage per finding, image metrics in the checkpoint critic's feature space,
report metrics and label agreement, memorization distances, provenance. A metric that cannot be
computed says so and why. The numbers also go to ``report/metrics.json``.
"""

from __future__ import annotations

import base64
import html
import io
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from medmint.records import CHEXPERT_LABELS, label_slug

MONTAGE_PER_FINDING = 4
THUMB = 192  # thumbnail edge in pixels (labels and report beside it)
MAX_FEATURE_SAMPLES = 1000  # accepted images embedded for FD / precision-recall (evenly sampled)
PHANTOM_REFERENCE = 200  # held-out phantom studies per real set (two sets: reference and baseline)
MAX_REFERENCE_IMAGES = 1000
UNMENTIONED = -9
NO_FINDING = "No Finding"
FEATURE_EXTRACTOR = "medmint findings classifier (checkpoint critic), penultimate layer"


class Corpus:
    """The shards without pixels, as numpy columns: accepted and rejected rows together."""

    def __init__(self, out: Path, labels: Sequence[str]) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        self.out, self.labels = out, list(labels)
        files = sorted((out / "data").glob("accepted-*.parquet")) + sorted((out / "data").glob("rejected-*.parquet"))
        self.accepted_files = [f for f in files if f.name.startswith("accepted-")]
        tables = []
        for f in files:
            names = pq.read_schema(f).names
            tables.append(pq.read_table(f, columns=[c for c in names if c != "image_png"]))
        table = pa.concat_tables(tables, promote_options="default") if tables else None
        self.n = 0 if table is None else table.num_rows
        get = (lambda c, fill=None: np.asarray([]) if table is None or c not in table.column_names else
               (table.column(c) if fill is None else pc.fill_null(table.column(c), fill)).to_numpy(zero_copy_only=False))
        self.sample_id = get("sample_id").astype(str)
        self.accepted = get("accepted").astype(bool)
        self.round = get("round").astype(np.int64)
        self.report_text = get("report_text")
        self.label = {prefix: np.stack([get(f"{prefix}_{label_slug(lab)}", UNMENTIONED).astype(np.int8)
                                        if self.n else np.zeros(0, np.int8) for lab in self.labels], axis=1)
                      if self.n else np.zeros((0, len(self.labels)), np.int8)
                      for prefix in ("requested", "report", "image")}
        self.has_image_labels = np.array([self.n > 0 and (self.label["image"][:, j] != UNMENTIONED).any()
                                          for j in range(len(self.labels))], bool)
        self.scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # validator -> (values, row index)
        self.reasons: list[tuple[int, str]] = []  # (row index, validator name)
        self.reason_texts: dict[int, list[str]] = {}  # row index -> every "validator: why"
        self.provenance: dict[str, list[str]] = {}
        if table is None:
            return
        scores = table.column("scores").combine_chunks()
        keys = scores.keys.to_numpy(zero_copy_only=False).astype(str)
        values = scores.items.to_numpy(zero_copy_only=False).astype(np.float64)
        parent = np.repeat(np.arange(self.n), np.diff(scores.offsets.to_numpy()))
        for key in np.unique(keys):
            at = keys == key
            self.scores[str(key)] = (values[at], parent[at])
        reasons = table.column("reject_reasons").combine_chunks()
        flat = reasons.flatten().to_numpy(zero_copy_only=False)
        rows = pc.list_parent_indices(reasons).to_numpy()
        self.reasons = [(int(r), str(text).split(":", 1)[0]) for r, text in zip(rows, flat)]
        for r, text in zip(rows, flat):
            self.reason_texts.setdefault(int(r), []).append(str(text))
        for c in ("generator", "checkpoint_sha256", "config_sha256", "medmint_version"):
            if c in table.column_names:
                self.provenance[c] = sorted({str(v) for v in table.column(c).unique().to_pylist()})

    def positive(self, prefix: str, label: str) -> np.ndarray:
        return self.label[prefix][:, self.labels.index(label)] == 1

    def label_rows(self, prefix: str, mask: np.ndarray, names: Sequence[str]) -> list[dict[str, int | None]]:
        cols = [self.labels.index(n) for n in names]
        block = self.label[prefix][mask][:, cols]
        return [{n: (None if v == UNMENTIONED else int(v)) for n, v in zip(names, row)} for row in block]

    def images(self, wanted: Iterable[str]) -> dict[str, tuple[np.ndarray, int]]:
        """Pixels and bits stored of the accepted rows ``wanted`` (sample ids), read from the shards."""
        import pyarrow.dataset as ds

        wanted = sorted(set(wanted))
        if not wanted or not self.accepted_files:
            return {}
        dataset = ds.dataset([str(f) for f in self.accepted_files], format="parquet")
        table = dataset.to_table(columns=["sample_id", "image_png", "bits_stored"],
                                 filter=ds.field("sample_id").isin(wanted))
        return {sid: (decode_png(png), int(bits)) for sid, png, bits in
                zip(table.column("sample_id").to_pylist(), table.column("image_png").to_pylist(),
                    table.column("bits_stored").to_pylist())}


def decode_png(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im).astype(np.uint16)


def thumbnail(image: np.ndarray, size: int = THUMB) -> str:
    """A PNG data URI: windowed to the 0.5-99.5 percentiles, 8-bit, longest edge ``size``."""
    from PIL import Image

    img = np.asarray(image, np.float64)
    lo, hi = np.percentile(img, [0.5, 99.5])
    img8 = (np.clip((img - lo) / max(hi - lo, 1e-9), 0, 1) * 255).astype(np.uint8)
    im = Image.fromarray(img8)
    im.thumbnail((size, size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


# --- small HTML / SVG helpers ---------------------------------------------------------------

esc = html.escape


def fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if not np.isfinite(v):
            return str(v)
        return f"{v:.{digits}g}"
    return str(v)


def pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.1f}%"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def note(text: str, cls: str = "na") -> str:
    return f'<p class="{cls}">{esc(text)}</p>'


COLORS = {"accepted": "#2b6cb0", "rejected": "#c53030", "before": "#a0aec0", "after": "#2b6cb0",
          "generated": "#2b6cb0", "held-out real": "#38a169"}


def svg_histogram(series: Mapping[str, Mapping[str, Any]], *, threshold: float | None = None,
                  passes_when: str | None = None, width: int = 340, height: int = 150, title: str = "",
                  density: bool = False) -> str:
    """Overlaid bar histograms sharing bin edges, with a dashed threshold line; ``density`` scales
    each series to its own total (sets of different sizes on one axis)."""
    if density:
        series = {k: {**s, "counts": [c / max(s["n"], 1) for c in s["counts"]]} for k, s in series.items()}
    first = next(iter(series.values()))
    edges = np.asarray(first["edges"], float)
    lo, hi = float(edges[0]), float(edges[-1])
    pad_l, pad_b, pad_t = 34, 28, 28
    w, h = width - pad_l - 20, height - pad_b - pad_t
    peak = max(max(s["counts"]) if s["counts"] else 0 for s in series.values()) or 1
    x = lambda v: pad_l + (v - lo) / (hi - lo) * w  # noqa: E731
    parts = [f'<svg width="{width}" height="{height}" role="img" '
             f'aria-label="{esc(title)}">', f'<text x="{pad_l}" y="11" class="t">{esc(title)}</text>']
    for name, s in series.items():
        colour = COLORS.get(name, "#555")
        for c, a, b in zip(s["counts"], s["edges"][:-1], s["edges"][1:]):
            if c:
                bh = c / peak * h
                parts.append(f'<rect x="{x(a):.1f}" y="{pad_t + h - bh:.1f}" width="{max(x(b) - x(a) - 0.5, 0.5):.1f}" '
                             f'height="{bh:.1f}" fill="{colour}" fill-opacity="0.55"/>')
    parts.append(f'<line x1="{pad_l}" y1="{pad_t + h}" x2="{pad_l + w}" y2="{pad_t + h}" stroke="#333"/>')
    for v in (lo, (lo + hi) / 2, hi):
        parts.append(f'<text x="{x(v):.1f}" y="{pad_t + h + 12}" class="a" text-anchor="middle">{fmt(v, 3)}</text>')
    parts.append(f'<text x="{pad_l - 4}" y="{pad_t + 8}" class="a" text-anchor="end">{fmt(peak, 2)}</text>')
    if threshold is not None and np.isfinite(threshold) and lo <= threshold <= hi:
        tx = x(threshold)
        parts.append(f'<line x1="{tx:.1f}" y1="{pad_t - 2}" x2="{tx:.1f}" y2="{pad_t + h}" stroke="#000" '
                     f'stroke-dasharray="4 3" stroke-width="1.5"/>')
        label = f"threshold {fmt(threshold, 3)}" + (f" (pass {passes_when})" if passes_when else "")
        anchor = "end" if tx > pad_l + w / 2 else "start"
        parts.append(f'<text x="{tx + (-3 if anchor == "end" else 3):.1f}" y="{pad_t + 9}" class="a" '
                     f'text-anchor="{anchor}">{esc(label)}</text>')
    lx = pad_l
    for name, s in series.items():
        parts.append(f'<rect x="{lx}" y="{height - 10}" width="9" height="9" fill="{COLORS.get(name, "#555")}" '
                     f'fill-opacity="0.55"/><text x="{lx + 12}" y="{height - 2}" class="a">{esc(name)} ({s["n"]})</text>')
        lx += 14 + 7 * (len(name) + len(str(s["n"])) + 3)
    parts.append("</svg>")
    return "".join(parts)


def svg_counts(rows: Sequence[tuple[str, float, int, int | None]], width: int = 640) -> str:
    """Horizontal bars per finding: before rebalancing (reference x total), after (accepted), and a
    tick at the wanted count."""
    bar, gap, pad_l, pad_t = 8, 8, 180, 18
    height = pad_t + len(rows) * (2 * bar + gap) + 24
    peak = max([max(b, a, w or 0) for _, b, a, w in rows] + [1])
    w = width - pad_l - 40
    x = lambda v: pad_l + v / peak * w  # noqa: E731
    parts = [f'<svg width="{width}" height="{height}" role="img" '
             f'aria-label="counts per finding before and after rebalancing">']
    for i, (name, before, after, wanted) in enumerate(rows):
        y = pad_t + i * (2 * bar + gap)
        parts.append(f'<text x="{pad_l - 6}" y="{y + bar + 4}" class="a" text-anchor="end">{esc(name)}</text>')
        parts.append(f'<rect x="{pad_l}" y="{y}" width="{max(x(before) - pad_l, 0):.1f}" height="{bar}" '
                     f'fill="{COLORS["before"]}"/>')
        parts.append(f'<rect x="{pad_l}" y="{y + bar}" width="{max(x(after) - pad_l, 0):.1f}" height="{bar}" '
                     f'fill="{COLORS["after"]}"/>')
        parts.append(f'<text x="{x(after) + 3:.1f}" y="{y + 2 * bar - 1}" class="a">{after}</text>')
        if wanted:
            parts.append(f'<line x1="{x(wanted):.1f}" y1="{y - 2}" x2="{x(wanted):.1f}" y2="{y + 2 * bar + 2}" '
                         f'stroke="#000" stroke-width="2"/>')
    y = height - 8
    parts.append(f'<rect x="{pad_l}" y="{y - 8}" width="9" height="9" fill="{COLORS["before"]}"/>'
                 f'<text x="{pad_l + 12}" y="{y}" class="a">before: reference prevalence × total</text>'
                 f'<rect x="{pad_l + 220}" y="{y - 8}" width="9" height="9" fill="{COLORS["after"]}"/>'
                 f'<text x="{pad_l + 232}" y="{y}" class="a">after: accepted</text>'
                 f'<line x1="{pad_l + 330}" y1="{y - 9}" x2="{pad_l + 330}" y2="{y + 1}" stroke="#000" stroke-width="2"/>'
                 f'<text x="{pad_l + 335}" y="{y}" class="a">wanted</text></svg>')
    return "".join(parts)


# --- sections -------------------------------------------------------------------------------


def _expectations(suite: Sequence[Mapping[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The suite's checks, failing first; the passing ones folded (they are schema, not fitness)."""
    ordered = sorted(suite, key=lambda r: bool(r.get("passed")))  # stable: failing first, order kept
    failed = [r for r in ordered if not r.get("passed")]
    short = lambda v: esc(json.dumps(v, default=str)[:300]) if not isinstance(v, str) else esc(v[:300])  # noqa: E731
    row = lambda r: (f'<span class="{"bad" if not r.get("passed") else "ok"}">{"FAIL" if not r.get("passed") else "pass"}</span>',  # noqa: E731
                     esc(str(r.get("name", ""))), esc(str(r.get("column") or "")), short(r.get("observed")),
                     short(r.get("expected")), short(r.get("details") or ""))
    header = ["result", "expectation", "column", "observed", "expected", "details"]
    passing = [r for r in ordered if r.get("passed")]
    body = (f"<p>{len(suite) - len(failed)} of {len(suite)} expectations passed (Great Expectations: schema, "
            "types, uniqueness, provenance, PHI, files, scores within thresholds, counts).</p>")
    if failed:
        body += table(header, [row(r) for r in failed], "suite")
    if passing:
        body += (f"<details><summary>{len(passing)} passing expectations</summary>"
                 + table(header, [row(r) for r in passing], "suite") + "</details>")
    if not suite:
        body += note("No expectation results were given.")
    return body, {"failed": [r.get("name") for r in failed], "expectations": len(suite)}


def _verdict(suite: Sequence[Mapping[str, Any]], checks: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """The first screen: the verdict, why, and where to look."""
    from medmint.validators.fitness import NOT_MEASURED, verdict

    failed = [r for r in suite if not r.get("passed")]
    word = verdict(len(failed), checks)
    missed = [c for c in checks if c.missed]
    unmeasured = [c for c in checks if c.status == NOT_MEASURED]
    items = [f'<li><span class="bad">{esc(c.status.upper())}</span> <b>{esc(c.name)}</b>: {esc(c.why)} '
             f'<a href="#{c.look_at}">look at {esc(dict(SECTIONS).get(c.look_at, c.look_at))}</a></li>' for c in missed]
    if failed:
        items.insert(0, f'<li><span class="bad">FAIL</span> <b>{len(failed)} expectation(s)</b>: '
                        f'{esc(", ".join(str(r.get("name")) for r in failed[:6]))} '
                        '<a href="#expectations">look at Expectations</a></li>')
    head = f'<div class="verdict {word.lower()}">{word}</div>'
    if items:
        head += "<h3>What to look at</h3><ul class=\"why\">" + "".join(items) + "</ul>"
    else:
        head += "<p>Every expectation passed and every fitness check that could be measured passed.</p>"
    if unmeasured:
        head += ("<p class=\"small\">Not measured (this verdict does not cover them): "
                 + "; ".join(f"<b>{esc(c.name)}</b> ({esc(c.why.removeprefix('not measured: '))})" for c in unmeasured)
                 + ".</p>")
    passed = [c for c in checks if c.status == "pass"]
    if passed:
        head += ("<p class=\"small\">Fitness checks passed: "
                 + "; ".join(f"{esc(c.name)} ({esc(c.observed)})" for c in passed) + ".</p>")
    head += (f'<p class="small">{len(suite) - len(failed)} of {len(suite)} expectations passed '
             '(<a href="#expectations">details</a>).</p>')
    rows = [(f'<span class="{"ok" if c.status == "pass" else "na" if c.status == NOT_MEASURED else "bad"}">'
             f"{esc(c.status)}</span>", esc(c.name), esc(c.observed), esc(c.expected)) for c in checks]
    body = head + (table(["fitness", "check", "observed", "threshold"], rows) if rows else "")
    return body, {"verdict": word, "failed": [r.get("name") for r in failed], "expectations": len(suite),
                  "fitness": [c.to_dict() for c in checks]}


def _tolerance(manifest: Mapping[str, Any]) -> int | None:
    from medmint.config import TargetConfig

    try:
        return TargetConfig.model_validate(manifest.get("target") or manifest["config"]["target"]).tolerance_count
    except Exception:  # noqa: BLE001 - an older or hand-edited run.json: show the rest
        return None


def _counts(c: Corpus, manifest: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    ref = manifest.get("reference") or {}
    prevalence = ref.get("prevalence") or {}
    total = int((manifest.get("target") or {}).get("total") or manifest.get("config", {}).get("target", {}).get("total", 0))
    progress = (manifest.get("progress") or {}).get("findings") or {}
    wanted = {**(ref.get("wanted") or {}), **{f: s.get("wanted") for f, s in progress.items()}}
    tol = _tolerance(manifest)
    acc = c.accepted
    rows, chart, data = [], [], {}
    for lab in c.labels:
        before = prevalence.get(lab, 0.0) * total
        after = int((c.positive("requested", lab) & acc).sum())
        rep = int((c.positive("report", lab) & acc).sum())
        img = int((c.positive("image", lab) & acc).sum()) if c.has_image_labels[c.labels.index(lab)] else None
        st = progress.get(lab, {})
        w = wanted.get(lab)
        if w is None:
            status = ""
        elif st.get("over"):
            status = f'<span class="bad">over cap {st.get("cap")}</span>'
        elif st.get("met", after >= w - (tol or 0)):
            status = '<span class="ok">met</span>' if after >= w else \
                f'<span class="ok">met</span> (within tolerance {fmt(tol)})'
        else:
            status = f'<span class="bad">short {max(0, w - after)}</span>'
        rows.append((esc(lab), pct(prevalence.get(lab)) if lab in prevalence else "—", f"{before:.1f}",
                     fmt(w), fmt(st.get("cap")), fmt(tol) if w is not None else "", f"<b>{after}</b>", rep,
                     fmt(img), status))
        chart.append((lab, before, after, w))
        data[lab] = {"before": before, "after": after, "report_read": rep, "image_read": img, "wanted": w,
                     "cap": st.get("cap"), "met": st.get("met")}
    tot = manifest.get("progress", {}).get("total", {})
    n_acc = int(acc.sum())
    head = (f"<p>Total accepted <b>{n_acc}</b> of {total} wanted"
            + (f" (surplus allowed {tot.get('surplus_allowed')})" if tot else "")
            + f". Reference: {esc(str(ref.get('source', 'not recorded')))}. "
            "“After” counts accepted rows whose prompt requested the finding (the count the planner "
            "steers by); the report-read and image-read columns count what the labeler and the critic read back.</p>")
    stopped = manifest.get("stopped_because")
    short = manifest.get("shortfall") or []
    tail = (f"<p>Stopped because: {esc(str(stopped))}.</p>" if stopped else "") + (
        "<ul>" + "".join(f"<li>{esc(str(s))}</li>" for s in short) + "</ul>" if short else "")
    body = head + svg_counts(chart) + table(
        ["finding", "reference prevalence", "before (prev. × total)", "wanted", "cap", "tolerance", "after (accepted)",
         "report-read", "image-read", "status"], rows) + tail
    return body, {"total": total, "accepted": n_acc, "tolerance": tol, "per_finding": data}


def _acceptance(c: Corpus, manifest: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    reasons_by_row: dict[int, list[str]] = {}
    for r, gate in c.reasons:
        reasons_by_row.setdefault(r, []).append(gate)
    all_gates = Counter(g for _, g in c.reasons)
    n = c.n
    overall = float(c.accepted.mean()) if n else None
    rows, data = [], {}
    for lab in c.labels:
        asked = c.positive("requested", lab)
        k = int(asked.sum())
        if not k:
            continue
        a = int((asked & c.accepted).sum())
        gates = Counter(g for r in np.flatnonzero(asked & ~c.accepted) for g in reasons_by_row.get(int(r), []))
        rows.append((esc(lab), k, a, pct(a / k), esc(", ".join(f"{g} {m}" for g, m in gates.most_common(4)) or "—")))
        data[lab] = {"requested": k, "accepted": a, "rate": a / k, "reasons": dict(gates)}
    by_finding = table(["requested finding", "generated", "accepted", "acceptance", "reject reasons (rows)"], rows)
    round_rows, rounds = [], []
    for r in manifest.get("rounds", []):
        i = int(r.get("round", len(rounds)))
        counts = r.get("counts", {})
        in_round = c.round == i
        gates = Counter(g for row in np.flatnonzero(in_round & ~c.accepted) for g in reasons_by_row.get(int(row), []))
        round_rows.append((i, r.get("requested"), counts.get("generated"), counts.get("accepted"), counts.get("rejected"),
                           pct(r.get("acceptance_rate")), esc(str(r.get("limited_by") or "")), fmt(r.get("seconds"), 3),
                           esc(", ".join(f"{g} {m}" for g, m in gates.most_common(4)) or "—")))
        rounds.append({"round": i, "requested": r.get("requested"), "accepted": counts.get("accepted"),
                       "rejected": counts.get("rejected"), "acceptance_rate": r.get("acceptance_rate"),
                       "reasons": dict(gates)})
    by_round = table(["round", "requested", "generated", "accepted", "rejected", "acceptance", "limited by", "seconds",
                      "reject reasons (rows)"], round_rows) if round_rows else note("run.json records no finished round.")
    gates = table(["validator", "rows rejected"], [(esc(g), m) for g, m in all_gates.most_common()]) if all_gates \
        else note("No row was rejected.", "")
    body = (f"<p>{n} samples generated, {int(c.accepted.sum())} accepted ({pct(overall)}), "
            f"{int((~c.accepted).sum())} rejected. A rejected row lists every failing validator, so reasons add up "
            "to more than the rejected rows.</p><h3>Per requested finding</h3>" + by_finding
            + "<h3>Per round</h3>" + by_round + "<h3>All reject reasons</h3>" + gates)
    return body, {"generated": n, "acceptance_rate": overall, "per_finding": data, "per_round": rounds,
                  "reasons": dict(all_gates)}


def _scores(c: Corpus, manifest: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    from medmint.validators.audit_metrics import histogram

    charts, data, skipped, run_wide = [], {}, [], []
    for v in manifest.get("validators", []):
        name = v.get("name")
        if not v.get("used", True):
            skipped.append((esc(name), esc(str(v.get("why", "")))))
            continue
        if name not in c.scores and v.get("scope"):
            n = sum(1 for _, g in c.reasons if g == name)
            run_wide.append((esc(name), esc(str(v["scope"])), n))
            continue
        if name not in c.scores:
            skipped.append((esc(name), "no score in the shards"))
            continue
        values, rows = c.scores[name]
        thr = v.get("threshold")
        acc = c.accepted[rows]
        edges = histogram(values, extra=[thr] if thr is not None else ())
        lo, hi = edges["edges"][0], edges["edges"][-1]
        series = {"accepted": histogram(values[acc], lo=lo, hi=hi)}
        if (~acc).any():
            series["rejected"] = histogram(values[~acc], lo=lo, hi=hi)
        extra = " per-finding bounds (see run.json)" if v.get("per_finding") else ""
        charts.append(f'<figure>{svg_histogram(series, threshold=thr, passes_when=v.get("passes_when"), title=name)}'
                      f'<figcaption>{esc(str(v.get("measures", "")))}{esc(extra)}'
                      f'{" · calibrated" if v.get("calibrated") else ""}</figcaption></figure>')
        data[name] = {"threshold": thr, "passes_when": v.get("passes_when"),
                      **{k: {"counts": s["counts"], "edges": s["edges"]} for k, s in series.items()}}
    body = '<div class="grid">' + "".join(charts) + "</div>" if charts else note("No validator scores in the shards.")
    if run_wide:
        body += ("<h3>Validators run across the run</h3><p>These compare a sample with the others, so they ran "
                 "after the per-sample gates and store no per-sample score; the audit re-checks the finished corpus "
                 "(expectation <code>near_duplicate:run</code>).</p>"
                 + table(["validator", "where it ran", "rows rejected"], run_wide))
    if skipped:
        body += "<h3>Validators not run</h3>" + table(["validator", "why"], skipped)
    return body, data


def _spread(idx: np.ndarray, k: int) -> np.ndarray:
    if len(idx) <= k:
        return idx
    return idx[np.linspace(0, len(idx) - 1, k).round().astype(int)]


def _read_labels(c: Corpus, row: int) -> str:
    """Requested / report-read / image-read positives of one row, a mismatch with the request marked."""
    asked = {lab for lab in c.labels if c.label["requested"][row, c.labels.index(lab)] == 1}
    lines = []
    for prefix, title in (("requested", "requested"), ("report", "report read"), ("image", "image read")):
        if prefix == "image" and not c.has_image_labels.any():
            lines.append(f"<tr><th>{title}</th><td class=\"small\">no critic in this run</td></tr>")
            continue
        values = c.label[prefix][row]
        names = []
        for j, lab in enumerate(c.labels):
            if prefix == "image" and not c.has_image_labels[j]:
                continue
            if values[j] in (1, -1):
                text = esc(lab) + ("?" if values[j] == -1 else "")
                names.append(text if prefix == "requested" or lab in asked else f'<span class="bad">{text}</span>')
        missing = [] if prefix == "requested" else [
            f'<s class="bad">{esc(lab)}</s>' for lab in sorted(asked)
            if (prefix != "image" or c.has_image_labels[c.labels.index(lab)])
            and c.label[prefix][row, c.labels.index(lab)] != 1]
        lines.append(f"<tr><th>{title}</th><td>{', '.join(names + missing) or '—'}</td></tr>")
    return f'<table class="labels">{"".join(lines)}</table>'


def _cell(c: Corpus, r: int, image: str | None, extra: str = "") -> str:
    sid = c.sample_id[r]
    img = (f'<img src="{image}" width="{THUMB}" alt="{esc(sid)}">' if image else
           '<div class="noimg">no pixels kept for rejected rows</div>')
    return (f'<div class="cell">{img}<div class="side"><div class="sid">{esc(sid)}</div>{extra}{_read_labels(c, r)}'
            f'<pre class="rep">{esc(str(c.report_text[r]).strip())}</pre></div></div>')


def _montage(c: Corpus) -> tuple[str, dict[str, Any]]:
    order = np.argsort(c.sample_id, kind="stable")
    acc = order[c.accepted[order]]
    picks: dict[str, np.ndarray] = {}
    for lab in c.labels:
        rows = acc[c.positive("requested", lab)[acc]]
        if len(rows):
            picks[lab] = _spread(rows, MONTAGE_PER_FINDING)
    if not picks:
        return note("No accepted samples to show."), {}
    pixels = c.images(c.sample_id[np.concatenate(list(picks.values()))])
    parts = ['<p class="small">Beside each image: the findings requested, those the report labeler reads in the '
             'report and those the critic reads in the image (red: not requested; struck through: requested but '
             'not read back; "?" uncertain).</p>']
    for lab, rows in picks.items():
        cells = [_cell(c, r, thumbnail(pixels[c.sample_id[r]][0])) for r in rows if c.sample_id[r] in pixels]
        n = int((c.positive("requested", lab) & c.accepted).sum())
        parts.append(f'<div class="finding"><h3>{esc(lab)} <small>({len(cells)} of {n} accepted)</small></h3>'
                     f'<div class="row">{"".join(cells)}</div></div>')
    return "".join(parts), {lab: c.sample_id[rows].tolist() for lab, rows in picks.items()}


def _rejected(c: Corpus, per_reason: int = 2) -> tuple[str, dict[str, Any]]:
    """A few rejected rows per reject reason, with every reason they failed (reports and labels;
    rejected shards keep no pixels)."""
    reasons: dict[int, list[str]] = {}
    for r, gate in c.reasons:
        reasons.setdefault(r, []).append(gate)
    rows = sorted((r for r in reasons if not c.accepted[r]), key=lambda r: c.sample_id[r])
    if not rows:
        return note("No row was rejected.", ""), {}
    picked: dict[str, list[int]] = {}
    shown: set[int] = set()
    for fresh_only in (True, False):  # rows not shown under another reason first, so more rows are seen
        for r in rows:
            for gate in reasons[r]:
                got = picked.setdefault(gate, [])
                if len(got) < per_reason and r not in got and not (fresh_only and r in shown):
                    got.append(r)
                    shown.add(r)
    parts = []
    for gate, rs in sorted(picked.items()):
        cells = [_cell(c, r, None, '<ul class="reasons">' + "".join(f"<li>{esc(t)}</li>" for t in c.reason_texts.get(r, []))
                       + "</ul>") for r in rs]
        parts.append(f'<div class="finding"><h3>{esc(gate)}</h3><div class="row">{"".join(cells)}</div></div>')
    return "".join(parts), {g: c.sample_id[rs].tolist() for g, rs in picked.items()}


# --- reference, checkpoint and the feature space --------------------------------------------


class Reference:
    """A manifest of real studies: labels, optional report text, optional images (read lazily)."""

    def __init__(self, path: Path) -> None:
        from medmint.generators.datasets.sections import parse_sections
        from medmint.generators.datasets.tables import open_table
        from medmint.generators.datasets.values import label_columns, read_labels

        table = open_table(path)
        columns = label_columns(table.header, required=False, path=str(path))
        self.path = path
        self.labels: list[dict[str, int | None]] = []
        self.reports: list[str] = []
        self.image_paths: list[Path] = []
        text_col = next((t for t in ("report_text", "report") if t in table.header), None)
        has_sections = "findings" in table.header or "impression" in table.header
        for row in table.rows():
            if isinstance(row, Exception):
                raise row
            self.labels.append(read_labels(row.cells, columns) if columns else {})
            if text_col or has_sections:
                if text_col:
                    findings, impression = parse_sections(str(row.cells.get(text_col) or ""))
                else:
                    findings, impression = (" ".join(str(row.cells.get(k) or "").split()) for k in ("findings", "impression"))
                self.reports.append(f"FINDINGS: {findings}\n\nIMPRESSION: {impression}\n")
            raw = row.cells.get("image_path")
            if raw:
                p = Path(str(raw))
                self.image_paths.append(p if p.is_absolute() else path.parent / p)
        self.has_labels = bool(columns)

    def images(self, limit: int) -> list[tuple[np.ndarray, int]]:
        from medmint.generators.datasets.images import read_image

        paths = self.image_paths
        if len(paths) > limit:
            paths = [paths[i] for i in np.linspace(0, len(paths) - 1, limit).round().astype(int)]
        return [read_image(p) for p in paths]


def _checkpoint(manifest: Mapping[str, Any], out: Path) -> tuple[Any, str | None]:
    """(checkpoint directory, None) or (None, why not)."""
    ckpt = (manifest.get("config", {}).get("generator") or {}).get("checkpoint")
    if not ckpt:
        return None, "the run has no checkpoint (the phantom generator has no critic to embed images with)"
    candidates = [Path(ckpt)] if Path(ckpt).is_absolute() else [Path.cwd() / ckpt, out.parent / ckpt, out / ckpt]
    found = next((p for p in candidates if (p / "medmint.json").is_file()), None)
    if found is None:
        return None, f"checkpoint {ckpt} not found from {Path.cwd()} (run the audit where generate was run)"
    from medmint.generators.diffusion.checkpoint import verify_checkpoint

    try:
        sha = verify_checkpoint(found).sha256
    except Exception as exc:  # noqa: BLE001
        return None, f"checkpoint {found} does not verify ({str(exc)[:160]})"
    if manifest.get("checkpoint_sha256") and sha != manifest["checkpoint_sha256"]:
        return None, f"checkpoint {found} has sha256 {sha[:12]}, the run used {str(manifest['checkpoint_sha256'])[:12]}"
    return found, None


def _real_images(reference: Reference | None, ckpt_manifest: Mapping[str, Any], n_generated: int
                 ) -> tuple[list[tuple[np.ndarray, int]] | None, list[tuple[np.ndarray, int]] | None, str]:
    """(reference set, baseline set, what they are); sets None when there is none."""
    if reference is not None and reference.image_paths:
        imgs = reference.images(MAX_REFERENCE_IMAGES)
        n_b = min(len(imgs) // 2, n_generated)
        return imgs[n_b:] or imgs, imgs[:n_b] or None, (
            f"{len(imgs)} images of --reference {reference.path} ({len(imgs) - n_b} as the reference, "
            f"{n_b} as a real-vs-real baseline of the generated set's size)")
    data = (ckpt_manifest.get("training", {}).get("config", {}) or {}).get("data", {})
    if data.get("source") == "phantom":
        from medmint.pipeline.evaluate import _reference as held_out

        size = int(ckpt_manifest["data_summary"]["image"]["size"])
        n_b = max(4, min(PHANTOM_REFERENCE, n_generated))
        a = [(case.image, case.bits_stored) for case in held_out(PHANTOM_REFERENCE, size, 0)]
        b = [(case.image, case.bits_stored) for case in held_out(n_b, size, 10 * PHANTOM_REFERENCE)]
        return a, b, (f"{PHANTOM_REFERENCE} + {n_b} held-out phantom studies ({size} px; seeds disjoint from the "
                      "checkpoint's training set, as medmint evaluate draws them)")
    why = "no reference given (pass --reference MANIFEST with an image_path column)"
    return None, None, why


def _images_section(c: Corpus, manifest: Mapping[str, Any], checkpoint: tuple[Path | None, str | None],
                    reference: Reference | None) -> tuple[str, dict[str, Any], str, dict[str, Any]]:
    """Feature metrics and memorization share the critic and the real images, so one function."""
    from medmint.validators.audit_metrics import feature_metrics, histogram, memorization

    thr = next((v.get("threshold") for v in manifest.get("validators", [])
                if v.get("name") == "privacy_nearest_training" and v.get("used")), None)
    gen_dist = c.scores.get("privacy_nearest_training", (np.zeros(0), np.zeros(0, int)))[0]
    ckpt, why = checkpoint
    if ckpt is None:
        mem_why = "run has no privacy index" if not len(gen_dist) else why
        return (note(f"Not computed: {why}."), {"computed": False, "why": why},
                note(f"Not computed: {mem_why}."), {"computed": False, "why": mem_why})
    from medmint.validators.context import load_context

    ctx, _ = load_context(ckpt)
    critic = ctx.critic
    acc = np.flatnonzero(c.accepted)
    acc = _spread(acc[np.argsort(c.sample_id[acc], kind="stable")], MAX_FEATURE_SAMPLES)
    real_a, real_b, what = _real_images(reference, json.loads((ckpt / "medmint.json").read_text()), len(acc))
    pixels = c.images(c.sample_id[acc])
    gen = [pixels[s] for s in c.sample_id[acc] if s in pixels]
    info = {"feature_extractor": FEATURE_EXTRACTOR, "checkpoint": str(ckpt), "reference": what}
    head = (f"<p>Feature extractor: <b>{esc(FEATURE_EXTRACTOR)}</b> ({critic.cfg.feature_dim}-d, "
            f"{critic.cfg.resolution} px input) from {esc(str(ckpt))}. Reference: {esc(what)}.</p>")
    if real_a is None:
        fd_body, fd = note(f"Not computed: {what}."), {"computed": False, "why": what, **info}
    elif len(gen) <= 3 or len(real_a) <= 3:
        why = f"too few images for k-NN precision/recall with k=3 ({len(gen)} generated, {len(real_a)} real)"
        fd_body, fd = head + note(f"Not computed: {why}."), {"computed": False, "why": why, **info}
    else:
        feats = critic.features(gen)
        fa = critic.features(real_a)
        fb = critic.features(real_b) if real_b else None
        m = feature_metrics(feats, fa, fb)
        fd = {"computed": True, **info, **m}
        base = m.get("baseline", {})
        rows = [("generated (accepted) vs reference", m["n_generated"], fmt(m["frechet_distance"]), fmt(m["precision"]),
                 fmt(m["recall"]))]
        if base:
            rows.append(("real vs reference (baseline)", base["n"], fmt(base["frechet_distance"]),
                         fmt(base["precision"]), fmt(base["recall"])))
        fd_body = head + table(["set", "n", "Fréchet distance", "precision (k=3)", "recall (k=3)"], rows) + (
            "<p>Precision: share of generated images inside the real feature manifold (fidelity); recall: share of "
            "real images inside the generated one (coverage); Kynkäänniemi et al. 2019, k = 3. Fréchet distance is "
            "biased upwards for small sets: compare with the baseline row (real images, as many as generated), "
            "not with published Inception FIDs.</p>")
        if m["n_generated"] < 50:
            fd_body += note(f"Only {m['n_generated']} accepted images: these numbers are indicative at best.", "warn")
    # memorization
    if not len(gen_dist) or ctx.train_features is None:
        mem_why = "run has no privacy index"
        return fd_body, fd, note(f"Not computed: {mem_why}."), {"computed": False, "why": mem_why}
    if real_a is None:
        baseline = None
    else:
        from medmint.validators.privacy import nearest_distances

        real = real_a + (real_b or [])
        baseline = nearest_distances(critic.features(real), ctx.train_features)[0]
    mem = memorization(gen_dist, baseline, thr)
    all_v = np.concatenate([gen_dist, baseline if baseline is not None else np.zeros(0)])
    edges = histogram(all_v, extra=[thr] if thr is not None else ())
    lo, hi = edges["edges"][0], edges["edges"][-1]
    series = {"generated": histogram(gen_dist, lo=lo, hi=hi)}
    if baseline is not None:
        series["held-out real"] = histogram(baseline, lo=lo, hi=hi)
    rows = [("generated (accepted + rejected)", mem["n_generated"], *(fmt(mem["generated"].get(k)) for k in
                                                                     ("p01", "p05", "p50", "p95")))]
    if baseline is not None:
        rows.append(("held-out real → training (baseline)", mem["n_baseline"],
                     *(fmt(mem["baseline"].get(k)) for k in ("p01", "p05", "p50", "p95"))))
    mem_body = (f"<p>Distance from each image's critic embedding to its nearest training image (the "
                f"<code>privacy_nearest_training</code> score), against the same distance for real images the model "
                f"never saw ({esc(what if baseline is not None else 'no baseline: ' + what)}). Generated samples "
                f"much closer to the training set than real new studies are would be memorized copies.</p>"
                + svg_histogram(series, threshold=thr, passes_when=">", width=520, height=170,
                                title="nearest training distance (share of each set per bin)", density=True)
                + table(["set", "n", "p01", "p05", "median", "p95"], rows))
    if baseline is not None:
        mem_body += (f"<p>Generated below the real 1st percentile: <b>{pct(mem['share_below_real_p01'])}</b> "
                     f"(≈1% expected if generated images were as new as real ones); below the 5th: "
                     f"{pct(mem['share_below_real_p05'])}. At or under the gate's threshold "
                     f"({fmt(thr)}): {mem.get('at_or_below_threshold', '—')} (rejected).</p>")
    return fd_body, fd, mem_body, {"computed": True, **mem, "baseline_source": what if baseline is not None else None}


def _text_section(c: Corpus, reference: Reference | None, ref_note: str) -> tuple[str, dict[str, Any]]:
    from medmint.validators.audit_metrics import label_agreement, pair_references, positive_keys, text_metrics

    findings = [lab for lab in c.labels if lab != NO_FINDING]
    acc = c.accepted
    everyone = np.ones(c.n, bool)
    rows, data = [], {}
    pairs = [("report-read vs requested", "report", "requested", findings)]
    image_names = [lab for lab, has in zip(c.labels, c.has_image_labels) if has and lab != NO_FINDING]
    if image_names:
        pairs += [("image-read vs requested", "image", "requested", image_names),
                  ("image-read vs report-read", "image", "report", image_names)]
    for title, pred, truth, names in pairs:
        for subset, mask in (("all generated", everyone), ("accepted", acc)):
            if not mask.any():
                continue
            m = label_agreement(c.label_rows(pred, mask, names), c.label_rows(truth, mask, names), names)
            rows.append((esc(title), subset, m["n"], fmt(m["micro_f1"]), fmt(m["macro_f1"]), pct(m["exact_match"])))
            data[f"{title} ({subset})"] = m
    body = ("<h3>Label agreement</h3><p>CheXpert-label F1 (positive = 1) over the findings, No Finding left out. "
            "Accepted rows passed the request-consistency gate, so their report agreement is high by construction; "
            "the all-generated rows show how often the generator said what it was asked.</p>"
            + table(["comparison", "rows", "n", "micro F1", "macro F1", "all labels agree"], rows))
    out: dict[str, Any] = {"label_agreement": data}
    if reference is None or not reference.reports:
        why = "no reference reports" + (f" ({ref_note})" if ref_note else "")
        body += "<h3>BLEU, METEOR, ROUGE-L</h3>" + note(f"Not computed: {why}.")
        out["text"] = {"computed": False, "why": why}
        return body, out
    hyp_idx = np.flatnonzero(acc)
    gen_keys = positive_keys(c.label_rows("requested", acc, findings), findings)
    ref_keys = positive_keys(reference.labels, findings) if reference.has_labels else [frozenset()] * len(reference.reports)
    paired, exact = pair_references(gen_keys, ref_keys)
    hyps = [str(c.report_text[i]) for i in hyp_idx]
    refs = [reference.reports[j] for j in paired]
    if not hyps:
        body += "<h3>BLEU, METEOR, ROUGE-L</h3>" + note("Not computed: no accepted reports.")
        out["text"] = {"computed": False, "why": "no accepted reports"}
        return body, out
    m = text_metrics(hyps, refs)
    m["paired_on_same_findings"] = exact
    out["text"] = {"computed": True, **m}
    met = m["meteor"]
    body += ("<h3>BLEU, METEOR, ROUGE-L</h3>"
             f"<p>Each accepted report is scored against one reference report from {esc(str(reference.path))} with the "
             f"same positive findings ({exact} of {len(hyps)} found one; the rest take the reference sharing most "
             f"findings). Corpus BLEU (sacrebleu, 13a, lowercased), mean ROUGE-L F (rouge-score, stemmed) on "
             f"{m['n']} pairs; METEOR on {met['n']}. Repetitive templated text can score well on n-grams: read "
             "them beside the label F1 above.</p>"
             + table(["BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L"],
                     [[fmt(m[f"bleu{i}"]) for i in range(1, 5)] + [fmt(met["meteor"]), fmt(m["rouge_l"])]])
             + f'<p class="small">METEOR: {esc(met["implementation"])}.</p>')
    return body, out


def _provenance(c: Corpus, manifest: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    keys = ("status", "created_at", "updated_at", "config_sha256", "checkpoint_sha256", "stopped_because", "seconds")
    rows = [(esc(k), f"<code>{esc(fmt(manifest.get(k)))}</code>") for k in keys if k in manifest]
    rows.append(("runner args", f"<code>{esc(' '.join(manifest.get('runner_args') or []) or '—')}</code>"))
    rows.append(("reference", esc(str((manifest.get("reference") or {}).get("source", "—")))))
    for col, values in c.provenance.items():
        rows.append((f"shards: {esc(col)}", esc(", ".join(values)) + ("" if len(values) <= 1 else
                                                                      ' <span class="bad">(not constant)</span>')))
    versions = table(["package", "version"], [(esc(k), esc(str(v))) for k, v in (manifest.get("versions") or {}).items()])
    config = esc(json.dumps(manifest.get("config", {}), indent=2, sort_keys=False, default=str))
    body = table(["field", "value"], rows) + "<h3>Versions</h3>" + versions + f"<h3>Config</h3><pre>{config}</pre>"
    return body, {k: manifest.get(k) for k in keys}


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1a202c;margin:0;background:#f7fafc}
header{background:#1a365d;color:#fff;padding:14px 28px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;opacity:.85}nav{padding:6px 28px;background:#e2e8f0;font-size:13px}
nav a{margin-right:14px;color:#2a4365}main{padding:8px 28px 40px;max-width:1280px}
section{background:#fff;border:1px solid #e2e8f0;border-radius:6px;padding:6px 18px 14px;margin:14px 0}
h2{font-size:17px;border-bottom:1px solid #e2e8f0;padding-bottom:4px}h3{font-size:14px;margin:14px 0 6px}
table{border-collapse:collapse;margin:6px 0;font-size:13px}th,td{border:1px solid #e2e8f0;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#edf2f7}td{max-width:420px;overflow-wrap:anywhere}
.verdict{display:inline-block;font-size:28px;font-weight:700;padding:4px 18px;border-radius:6px;margin:8px 0;color:#fff}
.verdict.pass{background:#2f855a}.verdict.warn{background:#b7791f;color:#fff}.verdict.fail{background:#c53030}
ul.why li{margin:3px 0}.ok{color:#2f855a;font-weight:600}
.bad{color:#c53030;font-weight:700}.na{color:#744210;background:#fffbeb;padding:6px 10px;border-left:3px solid #d69e2e}
.warn{color:#744210}.small{font-size:12px;color:#4a5568}
.grid{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0;border:1px solid #edf2f7;padding:4px}
figcaption{font-size:11px;color:#4a5568;max-width:340px}svg .t{font-size:12px;font-weight:600}svg .a{font-size:10px}
.row{display:flex;flex-wrap:wrap;gap:10px}.cell{width:560px;display:flex;gap:8px;border:1px solid #edf2f7;padding:4px}
.cell img{image-rendering:auto;background:#000;display:block;flex:none}.side{flex:1;min-width:0}
.noimg{width:120px;height:120px;flex:none;background:#edf2f7;color:#718096;font-size:11px;padding:6px}
table.labels{font-size:12px;margin:2px 0}table.labels th{width:80px}ul.reasons{margin:2px 0 4px 16px;padding:0;font-size:12px;color:#9b2c2c}
.sid{font-size:10px;color:#718096}pre{white-space:pre-wrap;font-size:12px}.rep{max-height:130px;overflow:auto;
background:#f7fafc;border:1px solid #edf2f7;padding:4px;margin:2px 0}
"""

SECTIONS = (("verdict", "Verdict"), ("counts", "Counts vs targets"), ("acceptance", "Acceptance and reject reasons"),
            ("montage", "Samples per finding"), ("rejected", "Rejected examples"), ("images", "Image metrics"),
            ("text", "Report metrics"), ("scores", "Validator scores"), ("memorization", "Memorization"),
            ("expectations", "Expectations"), ("provenance", "Provenance"))


def _timed(timings: dict[str, float], name: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    try:
        return fn()
    finally:
        timings[name] = round(time.perf_counter() - start, 3)


def fitness_checks(corpus: Corpus, manifest: Mapping[str, Any], metrics: Mapping[str, Any], ckpt: Path | None
                   ) -> list[Any]:
    """The fitness checks of ``validators/fitness.py`` on what the report measured (``ckpt``: the run's
    verified checkpoint folder, whose critic's held-out F1 is the label-agreement ceiling)."""
    from medmint.config import AuditConfig, TargetConfig
    from medmint.validators import fitness

    cfg = AuditConfig.model_validate((manifest.get("config") or {}).get("audit") or {})
    checks = fitness.fidelity_checks(metrics["images"], cfg)
    ceilings: dict[str, float] = {}
    if ckpt is not None:
        critic = (json.loads((ckpt / "medmint.json").read_text()).get("critics") or {}).get("findings") or {}
        ceilings = {lab: float(v["f1"]) for lab, v in ((critic.get("holdout") or {}).get("labels") or {}).items()
                    if v.get("f1") is not None}
    agreement = metrics["text"]["label_agreement"].get("image-read vs requested (accepted)", {})
    checks.append(fitness.label_agreement_check(agreement, ceilings, cfg))
    acc = corpus.accepted
    n_acc = int(acc.sum())
    share = lambda mask, n: {lab: float((corpus.positive("requested", lab) & mask).sum()) / max(n, 1)  # noqa: E731
                             for lab in corpus.labels}
    progress = (manifest.get("progress") or {}).get("findings") or {}
    try:
        mode = TargetConfig.model_validate(manifest.get("target") or manifest["config"]["target"]).balance.mode
    except Exception:  # noqa: BLE001 - an older or hand-edited run.json: judge against what was asked only
        mode = None
    reference = (manifest.get("reference") or {}).get("prevalence") if mode == "none" else None
    checks += fitness.prevalence_checks(share(acc, n_acc), share(np.ones(corpus.n, bool), corpus.n), reference,
                                        n_acc, [f for f, s in progress.items() if s.get("wanted") is not None], cfg)
    target = fitness.target_check(progress, _tolerance(manifest), cfg)
    return checks + ([target] if target else [])


def write_report(out: Path, *, suite: list[dict], manifest: dict, reference: Path | None = None) -> Path:
    """Write ``out/report/index.html`` (and ``metrics.json`` beside it); returns the HTML's path."""
    return build_report(out, suite=suite, manifest=manifest, reference=reference)[0]


def build_report(out: Path, *, suite: list[dict], manifest: dict, reference: Path | None = None
                 ) -> tuple[Path, dict[str, Any]]:
    """Measure, judge fitness, write the report; returns its path and the verdict section's data
    (``verdict``: PASS / WARN / FAIL, ``fitness``: every check)."""
    from medmint.atomic import atomic_write_bytes

    out = Path(out)
    timings: dict[str, float] = {}
    labels = tuple(manifest.get("config", {}).get("labels") or CHEXPERT_LABELS)
    corpus = _timed(timings, "read", lambda: Corpus(out, labels))
    ref = _timed(timings, "reference", lambda: Reference(Path(reference))) if reference is not None else None
    ref_note = "" if reference is not None else "no --reference given"
    checkpoint = _timed(timings, "checkpoint", lambda: _checkpoint(manifest, out))  # verified once, used twice
    bodies, metrics = {}, {}
    bodies["counts"], metrics["counts"] = _timed(timings, "counts", lambda: _counts(corpus, manifest))
    bodies["acceptance"], metrics["acceptance"] = _timed(timings, "acceptance", lambda: _acceptance(corpus, manifest))
    bodies["scores"], metrics["scores"] = _timed(timings, "scores", lambda: _scores(corpus, manifest))
    bodies["montage"], metrics["montage"] = _timed(timings, "montage", lambda: _montage(corpus))
    bodies["rejected"], metrics["rejected"] = _timed(timings, "rejected", lambda: _rejected(corpus))
    (bodies["images"], metrics["images"], bodies["memorization"], metrics["memorization"]) = _timed(
        timings, "images", lambda: _images_section(corpus, manifest, checkpoint, ref))
    bodies["text"], metrics["text"] = _timed(timings, "text", lambda: _text_section(corpus, ref, ref_note))
    bodies["provenance"], metrics["provenance"] = _provenance(corpus, manifest)
    bodies["expectations"], metrics["expectations"] = _expectations(suite)
    checks = _timed(timings, "fitness", lambda: fitness_checks(corpus, manifest, metrics, checkpoint[0]))
    bodies["verdict"], metrics["verdict"] = _verdict(suite, checks)
    metrics["timings_s"] = timings

    verdict = metrics["verdict"]["verdict"]
    generated = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    nav = "".join(f'<a href="#{key}">{esc(title)}</a>' for key, title in SECTIONS)
    sections = "".join(f'<section id="{key}"><h2>{esc(title)}</h2>{bodies[key]}</section>' for key, title in SECTIONS)
    doc = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
           f'<meta name="viewport" content="width=device-width, initial-scale=1">'
           f"<title>medmint audit: {verdict} · {esc(out.name)}</title><style>{CSS}</style></head><body>"
           f"<header><h1>medmint audit — {verdict}</h1><p>{esc(str(out))} · {corpus.n} rows "
           f"({int(corpus.accepted.sum())} accepted) · report written {generated}</p></header>"
           f"<nav>{nav}</nav><main>{sections}"
           f'<p class="small">Section timings (s): {esc(json.dumps(timings))}</p></main></body></html>')
    target = out / "report" / "index.html"
    atomic_write_bytes(target, doc.encode("utf-8"))
    atomic_write_bytes(out / "report" / "metrics.json",
                       (json.dumps(metrics, indent=2, default=_json_default) + "\n").encode())
    return target, metrics["verdict"]


def _json_default(v: Any) -> Any:
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


__all__ = ["write_report", "build_report", "fitness_checks", "FEATURE_EXTRACTOR"]
