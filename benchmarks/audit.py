"""What ``medmint audit`` costs on a 10 000-row corpus.

    python benchmarks/audit.py [--rows 10000] [--work /tmp/medmint-audit-bench] [--out-json FILE]

Builds (or reuses, when WORK/corpus already holds ROWS accepted rows) a corpus the way a real run
lays it out: a small phantom run (``medmint generate``, total 48, 64 px, at_least 0.1) is replicated
to ROWS accepted rows with fresh sample ids and UIDs, written in shards of 256 rows with their
pixels, and every row's DICOM image and SR exist under dicom/<study>/<series>/<sop>.dcm (hard links
to the source files, so the audit's file checks stat ROWS x 2 real paths). run.json's target and
counts are scaled to ROWS. Then times, in this process:

  suite      ``audit(out, write_html=False)``: read, expectation suite, GX results + Data Docs;
  with_html  ``audit(out)``: the same plus report/index.html (when pipeline/audit_report exists);
  cli        ``medmint audit OUT --json`` in a fresh process (imports included), wall seconds;
  phi        ``find_phi`` over the distinct report texts, uncached (the suite caches repeats).

Prints one JSON object (seconds, rows, rows/s); timings are measurements, never assertions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "demo-phantom.yaml"
SHARD_ROWS = 256
UID_COLUMNS = ("study_instance_uid", "series_instance_uid", "sop_instance_uid", "sr_series_instance_uid",
               "sr_sop_instance_uid")


def medmint() -> str:
    return str(Path(sys.executable).parent / "medmint")


def source_run(work: Path) -> Path:
    src = work / "source"
    if not (src / "run.json").is_file() or json.loads((src / "run.json").read_text()).get("status") != "complete":
        shutil.rmtree(src, ignore_errors=True)
        subprocess.run([medmint(), "generate", str(CONFIG), "--out", str(src), "--set", "target.total=48",
                        "--set", "generator.phantom.size=64", "--set", "target.balance.mode=at_least",
                        "--set", "target.balance.prevalence=0.1"], check=True, capture_output=True)
    return src


def uid(kind: str, i: int) -> str:
    return "2.25." + str(int.from_bytes(hashlib.sha256(f"bench:{kind}:{i}".encode()).digest()[:16], "big"))


def replicate(src: Path, out: Path, rows: int) -> None:
    """ROWS accepted rows cycled from the source run's, each a new sample with its own files."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from medmint.records import label_slug, sample_id_for

    base = pa.concat_tables(pq.read_table(p) for p in sorted((src / "data").glob("accepted-*.parquet")))
    run = json.loads((src / "run.json").read_text())
    shutil.rmtree(out, ignore_errors=True)
    (out / "data").mkdir(parents=True)
    take = pa.array([i % base.num_rows for i in range(rows)])
    table = base.take(take)
    n_shards = -(-rows // SHARD_ROWS)
    shard_names = [f"data/accepted-r000-{k:05d}-of-{n_shards:05d}.parquet" for k in range(n_shards)]
    new = {"sample_id": [sample_id_for(run["config"]["seed"] + 1, 0, i) for i in range(rows)],
           "sample_index": list(range(rows)), "shard": [shard_names[i // SHARD_ROWS] for i in range(rows)]}
    new.update({c: [uid(c, i) for i in range(rows)] for c in UID_COLUMNS})
    # images are cycled, but a real corpus holds no near-duplicates (the run rejects them): distinct
    # hashes, so near_duplicate:run does the work it does on a real corpus
    width = len(table["image_dhash"][0].as_py())
    new["image_dhash"] = [b"".join(hashlib.sha256(f"{i}:{k}".encode()).digest() for k in range(-(-width // 32)))[:width]
                          for i in range(rows)]
    new["image_path"] = [f"dicom/{a}/{b}/{c}.dcm" for a, b, c in zip(new["study_instance_uid"],
                                                                   new["series_instance_uid"], new["sop_instance_uid"])]
    new["sr_path"] = [f"dicom/{a}/{b}/{c}.dcm" for a, b, c in zip(new["study_instance_uid"],
                                                                new["sr_series_instance_uid"],
                                                                new["sr_sop_instance_uid"])]
    for name, values in new.items():
        i = table.schema.get_field_index(name)
        table = table.set_column(i, table.schema.field(i), pa.array(values, table.schema.field(i).type))
    src_image = base["image_path"].take(take).to_pylist()  # each new file links its source row's
    src_sr = base["sr_path"].take(take).to_pylist()
    for i in range(rows):
        for rel, origin in ((new["image_path"][i], src_image[i]), (new["sr_path"][i], src_sr[i])):
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(src / origin, target)
    for k, name in enumerate(shard_names):
        pq.write_table(table.slice(k * SHARD_ROWS, SHARD_ROWS), out / name)
    (out / "data" / "rejected-r000-00000-of-00001.parquet").write_bytes(
        next((src / "data").glob("rejected-*.parquet")).read_bytes())
    positives = {f: int(pc.sum(pc.equal(table[f"requested_{label_slug(f)}"], 1)).as_py() or 0)
                 for f in run["progress"]["findings"]}
    for target in (run["target"], run["config"]["target"]):
        target["total"] = rows
    rejected = pq.read_metadata(next((out / "data").glob("rejected-*.parquet"))).num_rows
    run["counts"] = {"accepted": rows, "rejected": rejected, "generated": rows + rejected}
    run["progress"]["total"].update(wanted=rows, have=rows)
    for f, status in run["progress"]["findings"].items():
        status["have"] = positives[f]
    (out / "run.json").write_text(json.dumps(run, indent=2))


def corpus(work: Path, rows: int) -> tuple[Path, float]:
    out = work / "corpus"
    run_json = out / "run.json"
    if run_json.is_file() and json.loads(run_json.read_text())["counts"]["accepted"] == rows:
        return out, 0.0
    t = time.perf_counter()
    replicate(source_run(work), out, rows)
    return out, time.perf_counter() - t


def timed_audit(out: Path, write_html: bool) -> dict:
    from medmint.pipeline.audit import audit

    t = time.perf_counter()
    result = audit(out, write_html=write_html)
    seconds = time.perf_counter() - t
    rows = result.counts["accepted"] + result.counts["rejected"]
    return {"seconds": round(seconds, 2), "rows": rows, "rows_per_s": round(rows / seconds),
            "passed": result.passed, "failed": [e["details"] for e in result.failed][:5],
            "expectations": result.counts["expectations"], "breakdown": result.seconds, "notes": result.notes}


def phi_cost(out: Path) -> dict:
    import pyarrow.parquet as pq

    from medmint.anonymize.phi_text import find_phi

    texts = [t for p in sorted((out / "data").glob("*.parquet"))
             for t in pq.read_table(p, columns=["report_text"])["report_text"].to_pylist()]
    distinct = sorted(set(texts))
    t = time.perf_counter()
    for text in distinct:
        find_phi(text)
    seconds = time.perf_counter() - t
    return {"reports": len(texts), "distinct": len(distinct), "seconds_distinct": round(seconds, 3),
            "ms_per_report": round(1000 * seconds / max(1, len(distinct)), 3),
            "uncached_estimate_s": round(seconds / max(1, len(distinct)) * len(texts), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/medmint-audit-bench"))
    parser.add_argument("--out-json", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("PYTHONWARNINGS", "ignore")

    out, build_s = corpus(args.work, args.rows)
    figures = {"rows": args.rows, "corpus": str(out), "build_s": round(build_s, 1), "cpus": os.cpu_count()}
    t = time.perf_counter()
    proc = subprocess.run([medmint(), "audit", str(out), "--json"], capture_output=True, text=True)
    cli_s = time.perf_counter() - t
    figures["cli"] = {"seconds": round(cli_s, 2), "rows_per_s": round(args.rows / cli_s), "exit": proc.returncode}
    figures["suite"] = timed_audit(out, write_html=False)
    figures["with_html"] = timed_audit(out, write_html=True)
    figures["phi"] = phi_cost(out)
    text = json.dumps(figures, indent=2)
    if args.out_json:
        args.out_json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
