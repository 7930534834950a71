"""Procedural chest-radiograph phantom with templated reports (training data, fixtures, PHI tests)."""

from medmint.generators.phantom.case import PhantomCase, PhiSpan
from medmint.generators.phantom.sampler import sample_case

__all__ = ["PhantomCase", "PhiSpan", "sample_case"]
