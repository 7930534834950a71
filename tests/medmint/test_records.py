from medmint.records import (
    CHEXPERT_LABELS,
    LABEL_PREFIXES,
    age_bin,
    label_columns,
    parquet_schema,
    sample_id_for,
    seed_for,
)


def test_schema_has_one_int8_column_per_label_and_source():
    import pyarrow as pa

    schema = parquet_schema()
    for prefix in LABEL_PREFIXES:
        cols = label_columns(prefix)
        assert len(cols) == len(CHEXPERT_LABELS) == 14
        assert all(schema.field(c).type == pa.int8() for c in cols)
    assert "requested_pleural_effusion" in schema.names and "image_no_finding" in schema.names


def test_every_column_is_described_and_provenance_is_present():
    schema = parquet_schema()
    assert all(f.metadata and f.metadata[b"description"] for f in schema)
    for col in ("generator", "checkpoint_sha256", "config_sha256", "medmint_version", "seed", "created_at"):
        assert col in schema.names
    assert "image_png" in schema.names and "image_png" not in parquet_schema(with_pixels=False).names


def test_domain_labels_drive_the_columns():
    schema = parquet_schema(("Tumor", "Necrosis"))
    assert {"requested_tumor", "report_necrosis", "image_tumor"} <= set(schema.names)
    assert "requested_pneumothorax" not in schema.names


def test_ids_and_seeds_are_deterministic_and_distinct():
    ids = {sample_id_for(7, r, i) for r in range(3) for i in range(500)}
    assert len(ids) == 1500
    assert sample_id_for(7, 1, 2) == sample_id_for(7, 1, 2) != sample_id_for(8, 1, 2)
    assert seed_for("x") == seed_for("x") and 0 <= seed_for("x") < 2**63


def test_age_bins():
    assert [age_bin(a) for a in (18, 29, 30, 59, 89, 90, 104)] == [
        "18-29", "18-29", "30-39", "50-59", "80-89", "90+", "90+"
    ]


def test_readme_documents_every_column():
    from tests.conftest import REPO

    readme = (REPO / "README.md").read_text()
    for name in parquet_schema().names:
        prefix = name.split("_", 1)[0]
        documented = f"`{name}`" in readme or (prefix in LABEL_PREFIXES and f"`{prefix}_<label>`" in readme)
        assert documented, name
