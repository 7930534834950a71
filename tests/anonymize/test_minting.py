import datetime as dt
import re

import pytest

from medmint.anonymize.minting import mint_identity, mint_uids

UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


@pytest.mark.parametrize("age", [18, 45, 67, 89, 95])
def test_birth_date_gives_the_requested_age_at_the_study(age):
    for i in range(300):
        ident = mint_identity(f"s-{age}-{i}", age, "F" if i % 2 else "M")
        born = dt.datetime.strptime(ident.birth_date, "%Y%m%d").date()
        study = dt.datetime.strptime(ident.study_date, "%Y%m%d").date()
        assert study.year - born.year - ((study.month, study.day) < (born.month, born.day)) == age


def test_identity_is_deterministic_and_distinct_per_sample():
    a, b = mint_identity("s1", 50, "F"), mint_identity("s2", 50, "F")
    assert a == mint_identity("s1", 50, "F")
    assert a.patient_id != b.patient_id and a.accession_number != b.accession_number
    assert re.fullmatch(r"[A-Z][a-z]+\^[A-Z][a-z]+", a.patient_name)
    assert re.fullmatch(r"[0-2][0-9][0-5][0-9][0-5][0-9]", a.study_time)


@pytest.mark.parametrize("root", [None, "1.2.826.0.1.3680043.10.999."])
def test_uids_are_valid_unique_and_stable(root):
    uids = [mint_uids(f"s{i}", root) for i in range(200)]
    flat = [u for x in uids for u in (x.study, x.image_series, x.image_sop, x.sr_series, x.sr_sop)]
    assert len(set(flat)) == len(flat)
    assert all(UID.match(u) and len(u) <= 64 for u in flat)
    assert all(u.startswith(root or "2.25.") for u in flat)
    assert mint_uids("s3", root) == uids[3]
