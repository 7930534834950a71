"""Continuous timestep conditioning: DiT-style sinusoidal features of sigma(t) through an MLP.

The network sees the noise level, not the step index, so any sampler schedule (and any number of
steps) maps onto the same conditioning the model was trained with.
"""

from __future__ import annotations

import math

import torch
from torch import nn

FREQ_DIM = 256


def sinusoidal_embedding(x: torch.Tensor, dim: int = FREQ_DIM, max_period: float = 10_000.0) -> torch.Tensor:
    """[B] float -> [B, dim] (cos | sin) features, as in DiT / MDLM (x is sigma, not t * 1000)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=x.device, dtype=torch.float32) / half)
    args = x.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


class TimestepEmbedder(nn.Module):
    """sigma [B] -> conditioning vector [B, hidden] (the input of every adaLN projection)."""

    def __init__(self, hidden_size: int, freq_dim: int = FREQ_DIM) -> None:
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(
            nn.Linear(freq_dim, hidden_size), nn.SiLU(), nn.Linear(hidden_size, hidden_size)
        )
        for layer in (self.mlp[0], self.mlp[2]):
            nn.init.normal_(layer.weight, std=0.02)
            nn.init.zeros_(layer.bias)

    def forward(self, sigma: torch.Tensor) -> torch.Tensor:
        emb = sinusoidal_embedding(sigma, self.freq_dim)
        return self.mlp(emb.to(self.mlp[0].weight.dtype))
