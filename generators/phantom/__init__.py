"""Procedural chest-radiograph phantom with templated reports (training data, fixtures, PHI tests)."""

from medmint.generators.phantom.case import PhantomCase, PhiSpan
from medmint.generators.phantom.prevalence import REFERENCE_PREVALENCE, estimate_prevalence
from medmint.generators.phantom.sampler import labels_for_seed, sample_case, sample_labels

__all__ = [
    "PhantomCase",
    "PhiSpan",
    "REFERENCE_PREVALENCE",
    "estimate_prevalence",
    "labels_for_seed",
    "sample_case",
    "sample_labels",
]
