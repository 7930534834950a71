"""Build a generator from its config (the one place that knows every generator's name)."""

from __future__ import annotations

from medmint.config import GeneratorConfig
from medmint.generators.base import Generator


def create_generator(cfg: GeneratorConfig) -> Generator:
    if cfg.name == "phantom":
        from medmint.generators.phantom.generator import PhantomGenerator

        return PhantomGenerator(size=cfg.phantom.size, phi=cfg.phantom.phi)
    raise ValueError(f"generator.name: '{cfg.name}' is not available yet in this version of medmint")
