"""``MeDiMModel``: token + segment embeddings -> adaLN backbone -> per-segment restricted logits.

Why the restriction lives in the model: the image codes, report tokens and condition tokens share
one id space, and a position may only ever hold ids of its own modality. Masking the other ids to
-inf in the model (not in the loss or the sampler) keeps training and sampling consistent, and is
MDLM's SUBS "zero masking probability" for free (MASK is never an allowed output).

Forward: token embedding (* embed_scale) + segment embedding -> bidirectional adaLN backbone (which
applies its own final norm) -> zero-initialised final adaLN shift/scale -> Linear head to the whole
vocabulary -> restriction. t enters as sigma(t) of the log-linear schedule (``sigma_eps``).

Logit restriction, per position (from ``VocabLayout.allowed_ids()``):
  - image positions: image code ids only;
  - text positions: text ids plus EOT and PAD (report length is predicted);
  - condition and marker positions (never predicted): unrestricted raw logits — their values are
    meaningless and nothing should read them.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from medmint.generators.diffusion.backbone import AdaLNBackbone, backbone_spec, build_hf_backbone
from medmint.generators.diffusion.layout import VocabLayout
from medmint.generators.diffusion.timestep import FREQ_DIM, TimestepEmbedder

DEFAULT_BACKBONE: dict[str, Any] = {
    "family": "llama",
    "hidden_size": 384,
    "num_hidden_layers": 8,
    "num_attention_heads": 6,
    "num_key_value_heads": 6,
    "intermediate_size": 1024,
}
DEFAULT_ARCH: dict[str, Any] = {
    "backbone": DEFAULT_BACKBONE,
    "segment_embedding": True,
    "freq_dim": FREQ_DIM,
    "sigma_eps": 1e-4,  # log-linear schedule: must match the noise config's eps
    "embed_scale": None,  # None: sqrt(hidden) for gemma (its embedding convention), 1.0 otherwise
    "init_std": 0.02,
}
_N_SEGMENTS = 4


def allowed_mask(layout: VocabLayout) -> torch.Tensor:
    """[L, V] bool: which ids each position may output (all True where nothing is predicted)."""
    segments = torch.as_tensor(layout.segments())
    allowed = torch.ones(layout.seq_len, layout.vocab_size, dtype=torch.bool)
    for seg, (first, end, extra) in layout.allowed_ids().items():
        row = torch.zeros(layout.vocab_size, dtype=torch.bool)
        row[first:end] = True
        row[list(extra)] = True
        allowed[segments == seg] = row
    return allowed


class MeDiMModel(nn.Module):
    """forward(ids [B, L], t [B] in [0, 1]) -> logits [B, L, V] (restricted per segment)."""

    def __init__(self, layout: VocabLayout, arch: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        arch = dict(arch or {})
        unknown = set(arch) - set(DEFAULT_ARCH)
        if unknown:
            raise ValueError(f"model arch: unknown keys {sorted(unknown)}; expected {sorted(DEFAULT_ARCH)}")
        arch = {**copy.deepcopy(DEFAULT_ARCH), **arch}
        hf = build_hf_backbone(arch["backbone"])
        hidden = hf.config.hidden_size
        family = hf.config.model_type
        if arch["embed_scale"] is None:
            arch["embed_scale"] = math.sqrt(hidden) if family == "gemma" else 1.0
        if not 0.0 < float(arch["sigma_eps"]) < 1.0:
            raise ValueError(f"model arch sigma_eps {arch['sigma_eps']!r}: expected 0 < eps < 1")
        arch["backbone"] = backbone_spec(hf)
        self.arch: dict[str, Any] = arch
        self.layout = layout
        self.sigma_eps = float(arch["sigma_eps"])
        self.embed_scale = float(arch["embed_scale"])
        std = float(arch["init_std"])

        self.token_embedding = nn.Embedding(layout.vocab_size, hidden)
        nn.init.normal_(self.token_embedding.weight, std=std)
        self.segment_embedding: nn.Embedding | None = None
        if arch["segment_embedding"]:
            self.segment_embedding = nn.Embedding(_N_SEGMENTS, hidden)
            nn.init.normal_(self.segment_embedding.weight, std=std)
        self.timestep = TimestepEmbedder(hidden, int(arch["freq_dim"]))
        self.backbone = AdaLNBackbone(hf, cond_dim=hidden)
        self.final_adaln = nn.Linear(hidden, 2 * hidden)  # shift/scale after the backbone's final norm
        nn.init.zeros_(self.final_adaln.weight)
        nn.init.zeros_(self.final_adaln.bias)
        self.head = nn.Linear(hidden, layout.vocab_size)
        nn.init.normal_(self.head.weight, std=std)
        nn.init.zeros_(self.head.bias)

        self.register_buffer("segments", torch.as_tensor(layout.segments()), persistent=False)
        self.register_buffer("allowed", allowed_mask(layout), persistent=False)

    # --- schedule -----------------------------------------------------------------------------
    def sigma(self, t: torch.Tensor) -> torch.Tensor:
        """Log-linear total noise sigma(t) = -log(1 - (1 - eps) t)."""
        return -torch.log1p(-(1.0 - self.sigma_eps) * t.float().clamp(0.0, 1.0))

    # --- forward ------------------------------------------------------------------------------
    def forward(
        self,
        ids: torch.Tensor,
        t: torch.Tensor,
        *,
        restrict: bool = True,
        key_padding_mask: torch.Tensor | None = None,
        select: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """ids [B, L] (L = layout.seq_len), t [B] -> logits [B, L, V].

        ``restrict=False`` returns raw logits (the sampler combines guided logits first and
        restricts after: -inf - -inf would be NaN). ``key_padding_mask`` [B, L] True = hidden key;
        the layout has no true padding (PAD is a predicted token), so it is normally None.
        ``select`` [B, L] bool: logits [N, V] of the selected positions only (row-major order) -- the
        loss reads only the masked positions, and the head over the whole vocabulary at every
        position is the largest single matmul of a small model."""
        if ids.dim() != 2 or ids.shape[1] != self.layout.seq_len:
            raise ValueError(f"ids shape {tuple(ids.shape)}: expected [B, {self.layout.seq_len}]")
        if t.shape != ids.shape[:1]:
            raise ValueError(f"t shape {tuple(t.shape)}: expected [{ids.shape[0]}]")
        x = self.token_embedding(ids)
        if self.embed_scale != 1.0:
            x = x * self.embed_scale
        if self.segment_embedding is not None:
            x = x + self.segment_embedding(self.segments)[None]
        cond = self.timestep(self.sigma(t))
        h = self.backbone(x, cond, key_padding_mask)
        shift, scale = self.final_adaln(F.silu(cond))[:, None, :].chunk(2, dim=-1)
        h = h * (1 + scale) + shift
        if select is not None:
            logits = self.head(h[select])
            allowed = self.allowed[select.nonzero()[:, 1]]
        else:
            logits, allowed = self.head(h), self.allowed
        if restrict:
            logits = logits.masked_fill(~allowed, float("-inf"))
        return logits

    # --- accounting ---------------------------------------------------------------------------
    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def flops_per_forward(self, seq_len: int | None = None, head_positions: float | None = None) -> int:
        """Approximate matmul FLOPs of one forward of ONE sequence (multiply by batch).

        2 * (per-token weight-matrix params) * tokens   [attention/MLP projections, head]
        + 2 * (per-sequence params)                     [timestep MLP, adaLN projections]
        + 4 * L^2 * (heads * head_dim) per layer        [QK^T and AV]
        Embedding lookups, norms, softmax and elementwise work are not counted. ``head_positions``:
        positions the head runs on (training runs it on the masked ones only); default all."""
        length = self.layout.seq_len if seq_len is None else int(seq_len)
        def weights(modules) -> int:
            return sum(m.weight.numel() for m in modules if isinstance(m, nn.Linear))

        per_token = weights(self.backbone.model.layers.modules())
        head = 2 * self.head.weight.numel() * (length if head_positions is None else head_positions)
        per_seq = weights([*self.timestep.mlp, *self.backbone.adaln.modules(), self.final_adaln])
        cfg = self.backbone.model.config
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        attention = 4 * length * length * cfg.num_attention_heads * head_dim * cfg.num_hidden_layers
        return int(2 * per_token * length + head + 2 * per_seq + attention)

    # --- serialisation ------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """{"layout": ..., "arch": ...}: rebuilds this architecture (weights go to safetensors)."""
        return {"layout": self.layout.to_json(), "arch": copy.deepcopy(self.arch)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "MeDiMModel":
        return cls(VocabLayout.from_json(data["layout"]), data["arch"])


__all__ = ["DEFAULT_ARCH", "DEFAULT_BACKBONE", "MeDiMModel", "allowed_mask"]
