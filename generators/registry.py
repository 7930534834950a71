"""Build a generator from its config (the one place that knows every generator's name)."""

from __future__ import annotations

from medmint.config import GeneratorConfig
from medmint.generators.base import Generator


def create_generator(cfg: GeneratorConfig) -> Generator:
    if cfg.name == "phantom":
        from medmint.generators.phantom.generator import PhantomGenerator

        return PhantomGenerator(size=cfg.phantom.size, phi=cfg.phantom.phi)
    if cfg.name == "diffusion":
        from medmint.generators.diffusion.generator import DiffusionGenerator

        return DiffusionGenerator()
    raise ValueError(f"generator.name: unknown generator '{cfg.name}'")
