"""The audit's expectation suite: it passes on a real (small) phantom run and, on copies of that run
corrupted one fault at a time, fails naming the fault; bad OUT folders are one error line, exit 2.

One corpus is generated per module (the CLI, ~20 s); each corruption is a copy with one shard
rewritten by pyarrow. Most cases call ``audit()`` in-process (Great Expectations is imported once);
the exit codes and --json are checked through the installed ``medmint`` command.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import CONFIGS, error_line, medmint_cli

PHI = "Dr. John Smith called on 03/14/2024."


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("audit") / "run"
    medmint_cli("generate", str(CONFIGS / "demo-phantom.yaml"), "--out", str(out),
                "--set", "target.total=24", "--set", "generator.phantom.size=64",
                "--set", "target.balance.mode=at_least", "--set", "target.balance.prevalence=0.1",
                "--set", "target.tolerance=0", "--no-audit", check=True)
    return out


def corrupted(corpus: Path, tmp_path: Path, change: Callable[[pa.Table, Path], pa.Table]) -> Path:
    """A copy of the corpus whose first accepted shard is rewritten by ``change(table, out)``."""
    out = tmp_path / "run"
    shutil.copytree(corpus, out, ignore=shutil.ignore_patterns("report"))
    shard = sorted((out / "data").glob("accepted-*.parquet"))[0]
    table = change(pq.read_table(shard), out)
    pq.write_table(table, shard)
    return out


def set_cell(table: pa.Table, column: str, row: int, value: Any, *, nullable: bool = False) -> pa.Table:
    i = table.schema.get_field_index(column)
    values = table[column].to_pylist()
    values[row] = value
    field = table.schema.field(i).with_nullable(nullable or table.schema.field(i).nullable)
    return table.set_column(i, field, pa.array(values, field.type))


def failures(out: Path) -> dict[str, str]:
    from medmint.pipeline.audit import audit

    result = audit(out, write_html=False)
    assert result.passed is False
    failed = {e["name"]: e["details"] for e in result.expectations if not e["passed"]}
    first = [e["passed"] for e in result.expectations]
    assert first == sorted(first), "failing expectations come first"
    return failed


def test_suite_passes_on_a_generated_run(corpus: Path) -> None:
    proc = medmint_cli("audit", str(corpus), "--json")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    names = {e["name"] for e in result["expectations"]}
    assert result["passed"] and result["verdict"] == "pass" and result["counts"]["failed"] == 0
    assert result["counts"]["accepted"] == 24
    for name in ("schema", "not_null:patient_id", "unique:sop_instance_uid", "unique:study_instance_uid",
                 "prevalence:Pneumothorax", "score:image_entropy", "phi:report_text", "exists:image_path",
                 "exists:sr_path", "provenance:config_sha256", "provenance:created_at"):
        assert name in names
    results = json.loads((corpus / result["paths"]["validation_results"]).read_text())
    assert results["success"] is True and set(results["suites"]) == {"schema", "rows", "accepted"}
    assert (corpus / result["paths"]["data_docs"]).is_file()


def test_duplicate_uid(corpus: Path, tmp_path: Path) -> None:
    seen: dict[str, str] = {}

    def change(t: pa.Table, _out: Path) -> pa.Table:
        seen["uid"], seen["a"], seen["b"] = (t["sop_instance_uid"][0].as_py(), t["sample_id"][0].as_py(),
                                             t["sample_id"][1].as_py())
        return set_cell(t, "sop_instance_uid", 1, seen["uid"])

    out = corrupted(corpus, tmp_path, change)
    proc = medmint_cli("audit", str(out))  # through the command: exit 1, the fault on stdout
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.startswith("audit FAIL:")
    line = next(x for x in proc.stdout.splitlines() if "unique:sop_instance_uid" in x)
    assert "1 duplicated value" in line and seen["uid"][:20] in line and "in 2 rows" in line
    assert seen["a"] in line and seen["b"] in line
    assert set(failures(out)) == {"unique:sop_instance_uid"}


def test_phi_in_a_report(corpus: Path, tmp_path: Path) -> None:
    from medmint.anonymize.phi_text import find_phi

    assert {h.kind for h in find_phi(PHI)} >= {"name", "date"}
    sample: dict[str, str] = {}

    def change(t: pa.Table, _out: Path) -> pa.Table:
        sample["id"] = t["sample_id"][0].as_py()
        return set_cell(t, "report_text", 0, t["report_text"][0].as_py() + PHI + "\n")

    failed = failures(corrupted(corpus, tmp_path, change))
    assert set(failed) == {"phi:report_text"}
    assert failed["phi:report_text"].startswith("report_text: PHI (")
    assert "name" in failed["phi:report_text"] and sample["id"] in failed["phi:report_text"]


def test_missing_dicom_file(corpus: Path, tmp_path: Path) -> None:
    gone: dict[str, str] = {}

    def change(t: pa.Table, out: Path) -> pa.Table:
        gone["path"], gone["id"] = t["image_path"][2].as_py(), t["sample_id"][2].as_py()
        (out / gone["path"]).unlink()
        return t

    failed = failures(corrupted(corpus, tmp_path, change))
    assert set(failed) == {"exists:image_path"}
    assert failed["exists:image_path"] == f"image_path: {gone['path']} missing for sample {gone['id']}"


def test_prevalence_outside_tolerance(corpus: Path, tmp_path: Path) -> None:
    run = json.loads((corpus / "run.json").read_text())
    wanted = run["progress"]["findings"]["Pneumothorax"]["wanted"]

    def change(t: pa.Table, _out: Path) -> pa.Table:
        i = t.schema.get_field_index("requested_pneumothorax")
        return t.set_column(i, t.schema.field(i), pa.array([0] * t.num_rows, pa.int8()))

    failed = failures(corrupted(corpus, tmp_path, change))
    assert set(failed) == {"prevalence:Pneumothorax"}
    assert failed["prevalence:Pneumothorax"] == f"Pneumothorax: 0 of {wanted} wanted (tolerance 0)"


def test_null_in_a_required_column(corpus: Path, tmp_path: Path) -> None:
    sample: dict[str, str] = {}

    def change(t: pa.Table, _out: Path) -> pa.Table:
        sample["id"] = t["sample_id"][0].as_py()
        return set_cell(t, "patient_id", 0, None, nullable=True)

    failed = failures(corrupted(corpus, tmp_path, change))
    assert set(failed) == {"not_null:patient_id", "schema"}  # pyarrow writes a null only in a nullable field
    assert failed["not_null:patient_id"] == f"patient_id: 1 null in rows (sample {sample['id']})"
    assert "column patient_id is string, the schema says string not null" in failed["schema"]


def test_provenance_changed_in_one_row(corpus: Path, tmp_path: Path) -> None:
    sample: dict[str, str] = {}

    def change(t: pa.Table, _out: Path) -> pa.Table:
        sample["id"] = t["sample_id"][3].as_py()
        return set_cell(t, "config_sha256", 3, "0" * 64)

    failed = failures(corrupted(corpus, tmp_path, change))
    assert set(failed) == {"provenance:config_sha256"}
    line = failed["provenance:config_sha256"]
    assert line.startswith("config_sha256: 1 row differs from run.json's") and sample["id"] in line


@pytest.mark.parametrize("case", ["missing", "no run.json", "running", "no shards", "reference"])
def test_bad_out_is_one_line_exit_2(corpus: Path, tmp_path: Path, case: str) -> None:
    out, extra = tmp_path / "run", []
    if case != "missing":
        out.mkdir()
    if case in ("running", "no shards", "reference"):
        run = json.loads((corpus / "run.json").read_text())
        run["status"] = "running" if case == "running" else run["status"]
        (out / "run.json").write_text(json.dumps(run))
    if case == "reference":
        shutil.copytree(corpus / "data", out / "data")
        extra = ["--reference", str(tmp_path / "nowhere.csv")]
    proc = medmint_cli("audit", str(out), *extra)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = error_line(proc)
    expect = {"missing": f"{out}: no such folder", "no run.json": "run.json: missing", "running": "'running'",
              "no shards": "no accepted-*.parquet or rejected-*.parquet shards", "reference": "nowhere.csv"}[case]
    assert expect in line


def test_near_duplicate_images_in_the_run(corpus: Path, tmp_path: Path) -> None:
    """Two accepted images whose hashes differ in 3 bits: the pipeline would have rejected one, so the
    audit names the pair."""
    seen: dict[str, str] = {}

    def change(t: pa.Table, _out: Path) -> pa.Table:
        copied = t["image_dhash"][1].as_py()
        seen["a"], seen["b"] = t["sample_id"][0].as_py(), t["sample_id"][1].as_py()
        return set_cell(t, "image_dhash", 0, bytes([copied[0] ^ 0b111]) + copied[1:])

    failed = failures(corrupted(corpus, tmp_path, change))
    assert set(failed) == {"near_duplicate:run"}
    later, earlier = max(seen.values()), min(seen.values())
    assert f"sample {later} at dHash distance {3 / 576:.4g} to {earlier}" in failed["near_duplicate:run"]


def test_near_duplicates_name_the_closest_smaller_id_and_copies_stay_cheap() -> None:
    import random

    from medmint.validators.expectations import near_duplicates

    rng = random.Random(3)
    a, b = (rng.getrandbits(576).to_bytes(72, "little") for _ in range(2))
    a_near = bytes([a[0] ^ 0b1]) + a[1:]  # 1 bit from a
    ids = ["s5", "s1", "s3", "s4", "s2"]
    hashes = [a_near, a, b, a, b]
    assert near_duplicates(ids, hashes, 0.07) == [f"{1 / 576:.4g} to s1", None, "0 to s2", "0 to s1", None]
    assert near_duplicates(ids[:3], hashes[:3], 0.001) == [None, None, None]  # 1 bit > 0 allowed at 0.1 %
    copies = near_duplicates([f"s{i:05d}" for i in range(20000)], [a] * 20000, 0.07)  # linear, not 20000^2
    assert copies[0] is None and set(copies[1:]) == {"0 to s00000"}
