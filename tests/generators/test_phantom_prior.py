"""The phantom's label prior: MIMIC-like prevalence, realistic co-occurrence, exposed as data."""

from __future__ import annotations

import numpy as np
import pytest

from medmint.generators.phantom import REFERENCE_PREVALENCE, labels_for_seed, sample_case, sample_labels
from medmint.records import CHEXPERT_LABELS

N = 4000


@pytest.fixture(scope="module")
def draws() -> list[dict[str, int | None]]:
    rng = np.random.default_rng(2024)
    return [sample_labels(rng) for _ in range(N)]


def rate(draws: list[dict[str, int | None]], label: str, given: str | None = None) -> float:
    rows = [d for d in draws if given is None or d[given] == 1]
    return sum(d[label] == 1 for d in rows) / len(rows)


def test_labels_are_complete_and_in_chexpert_coding(draws: list[dict[str, int | None]]) -> None:
    for d in draws[:500]:
        assert list(d) == list(CHEXPERT_LABELS)
        assert all(v in (1, 0, -1, None) for v in d.values())
        assert d["No Finding"] == (1 if not any(v == 1 for k, v in d.items() if k != "No Finding") else None)


@pytest.mark.parametrize(
    ("label", "lo", "hi"),
    [
        ("Pneumothorax", 0.02, 0.07),
        ("Fracture", 0.005, 0.04),
        ("Lung Lesion", 0.01, 0.05),
        ("No Finding", 0.25, 0.45),
        ("Support Devices", 0.22, 0.33),
        ("Pleural Effusion", 0.17, 0.28),
        ("Cardiomegaly", 0.13, 0.23),
        ("Atelectasis", 0.13, 0.23),
        ("Edema", 0.08, 0.16),
        ("Consolidation", 0.03, 0.09),
    ],
)
def test_prevalence_is_mimic_like(draws: list[dict[str, int | None]], label: str, lo: float, hi: float) -> None:
    assert lo <= rate(draws, label) <= hi


def test_reference_prevalence_describes_the_sampler(draws: list[dict[str, int | None]]) -> None:
    assert set(REFERENCE_PREVALENCE) == set(CHEXPERT_LABELS)
    for label, p in REFERENCE_PREVALENCE.items():
        assert abs(rate(draws, label) - p) < 0.025, label


def test_findings_travel_with_their_companions(draws: list[dict[str, int | None]]) -> None:
    assert rate(draws, "Edema", given="Pleural Effusion") > 1.5 * rate(draws, "Edema")
    assert rate(draws, "Cardiomegaly", given="Pleural Effusion") > 1.3 * rate(draws, "Cardiomegaly")
    assert rate(draws, "Pleural Effusion", given="Support Devices") > 1.3 * rate(draws, "Pleural Effusion")
    assert rate(draws, "Atelectasis", given="Support Devices") > 1.3 * rate(draws, "Atelectasis")
    assert rate(draws, "Support Devices", given="Pneumothorax") > 1.3 * rate(draws, "Support Devices")
    assert rate(draws, "Fracture", given="Pneumothorax") > 3 * rate(draws, "Fracture")


def test_reports_hedge_and_negate_like_real_ones(draws: list[dict[str, int | None]]) -> None:
    def share(label: str, value: int) -> float:
        return sum(d[label] == value for d in draws) / N

    assert share("Pneumothorax", 0) > 0.5  # "no pneumothorax" is said in most reports
    assert share("Atelectasis", -1) > 0.01 and share("Edema", -1) > 0.01  # hedged findings exist
    assert share("Lung Lesion", None) > 0.8  # most reports never mention nodules
    assert all(d["Pneumonia"] != 1 or d["Lung Opacity"] == 1 for d in draws)  # pneumonia is read from an opacity


def test_sample_case_draws_from_the_prior_per_seed() -> None:
    for seed in range(5):
        assert sample_case(seed, size=64).labels == labels_for_seed(seed)
    assert len({tuple(labels_for_seed(s).items()) for s in range(40)}) > 10


def test_devices_make_portable_ap_films_likelier() -> None:
    with_devices = [sample_case(s, size=64, findings={"Support Devices": 1}).view for s in range(30)]
    without = [sample_case(s, size=64, findings={"No Finding": 1}).view for s in range(30)]
    assert with_devices.count("AP") > without.count("AP")
