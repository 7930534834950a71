"""medmint: synthetic, anonymized, class-balanced medical training corpora."""

__version__ = "0.1.0"
