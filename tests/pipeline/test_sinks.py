import random

import pyarrow.parquet as pq
import pytest

from medmint.atomic import TMP_MARK, atomic_write, remove_stale_temporaries
from medmint.pipeline.sinks import shard_name, write_dicom, write_parquet_shard
from medmint.records import parquet_schema


def test_a_failed_write_leaves_neither_the_file_nor_a_temporary(tmp_path):
    target = tmp_path / "a" / "f.bin"

    def boom(tmp):
        tmp.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, boom)
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_a_failed_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"good")
    with pytest.raises(RuntimeError):
        atomic_write(target, lambda tmp: (tmp.write_bytes(b"bad"), (_ for _ in ()).throw(RuntimeError())))
    assert target.read_bytes() == b"good"


def test_stale_temporaries_are_swept(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / f"{TMP_MARK}123-a.dcm").write_bytes(b"half")
    (tmp_path / "x" / "b.dcm").write_bytes(b"keep")
    assert remove_stale_temporaries(tmp_path) == 1
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["b.dcm"]


def test_existing_dicom_is_not_rewritten(tmp_path):
    path = tmp_path / "x.dcm"
    path.write_bytes(b"already there")
    assert write_dicom(path, object()) is False
    assert path.read_bytes() == b"already there"


def test_parts_cover_the_round_in_order_and_name_sortable_shards():
    from medmint.pipeline.parts import split
    from medmint.records import SampleRequest

    requests = [SampleRequest(f"s{i:03d}", i, "joint", {}, "PA", "F", 50, 2, i) for i in range(21)]
    parts = split(requests, 2, 8)
    assert [len(p.requests) for p in parts] == [8, 8, 5] and {p.count for p in parts} == {3}
    assert [r for p in parts for r in p.requests] == requests
    assert parts[1].shard("accepted") == shard_name("accepted", 2, 1, 3) == "data/accepted-r002-00001-of-00003.parquet"
    names = [shard_name("rejected", r, i, 12) for r in (0, 1, 10) for i in range(12)]
    assert names == sorted(names)
    assert len(split(requests[:1], 0, 8)) == 1


def test_parquet_shard_is_the_same_file_whatever_the_row_order(tmp_path):
    schema = parquet_schema(with_pixels=False)
    rows = [{n: None for n in schema.names} for _ in range(20)]
    for i, r in enumerate(rows):
        r.update(sample_id=f"s{i:03d}", round=0, sample_index=i, seed=i, task="joint", view="PA", sex="F", age=50,
                 age_bin="50-59", report_findings="f", report_impression="i", report_text="t", phi_scrubbed=0, rows=8, columns=8,
                 bits_stored=12, image_dhash=bytes(72), accepted=False, reject_reasons=["x"], scores=[("x", 1.0)], patient_id="p",
                 patient_name="A^B", patient_birth_date="19700101", study_date="20200101", accession_number="a",
                 study_instance_uid="1", series_instance_uid="2", sop_instance_uid="3", sr_series_instance_uid="4",
                 sr_sop_instance_uid="5", shard="s", generator="phantom", sampling=[], config_sha256="c",
                 medmint_version="0", created_at=__import__("datetime").datetime(2026, 1, 1))
    write_parquet_shard(tmp_path / "a.parquet", rows, schema)
    random.Random(1).shuffle(rows)
    write_parquet_shard(tmp_path / "b.parquet", rows, schema)
    a, b = pq.read_table(tmp_path / "a.parquet"), pq.read_table(tmp_path / "b.parquet")
    assert a.equals(b) and a.column("sample_id").to_pylist() == sorted(a.column("sample_id").to_pylist())
    assert a.schema.equals(schema, check_metadata=False)
