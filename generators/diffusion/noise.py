"""Absorbing-state (MASK) diffusion in continuous time (MDLM), log-linear schedule, and the loss.

Schedule: sigma(t) = -log(1 - (1 - eps) t); a token is masked with probability
1 - exp(-sigma(t)) = (1 - eps) t; the NELBO weight is sigma'(t) / expm1(sigma(t)), which for this
schedule equals exactly 1 / t (1 at t = 1). t is drawn antithetically (stratified: one uniform
offset plus i / B) on [t_min, 1] so the 1 / t weight never sees t = 0.

Masking modes, drawn per sample (why: the sampler runs three tasks and each needs its states seen
in training):
  - ``joint``: image and text masked at one shared t (joint generation);
  - ``image_only``: image fully masked, text clean (report -> image, first step); the model gets t = 1;
  - ``text_only``: text fully masked, image clean (image -> report, first step); t = 1;
  - ``image_at_t``: image masked at t, text clean (report -> image, every later step);
  - ``text_at_t``: text masked at t, image clean (image -> report, every later step).
Text positions include EOT and PAD, which are trained like any report token, so report length is
learned (MeDiM never trains padding). Conditions and markers are never masked or predicted.

Condition dropout (independent of the mode): with ``p_drop_all`` every condition becomes NULL
(the unconditional branch of classifier-free guidance); otherwise each condition slot becomes NULL
independently with ``p_drop_each`` (multi-prompt: any subset of findings/view/sex/age prompts).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from medmint.generators.diffusion.layout import MASK, NULL, SEG_IMAGE, SEG_TEXT, VocabLayout

MODES = ("joint", "image_only", "text_only", "image_at_t", "text_at_t")
DEFAULT_MODE_PROBS: dict[str, float] = {
    "joint": 0.5, "image_only": 0.1, "text_only": 0.1, "image_at_t": 0.15, "text_at_t": 0.15,
}


@dataclass(frozen=True)
class NoiseConfig:
    eps: float = 1e-4  # log-linear schedule floor: sigma(1) = -log(eps); must match the model's sigma_eps
    t_min: float = 1e-3  # t ~ U[t_min, 1]
    antithetic: bool = True
    mode_probs: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MODE_PROBS))
    p_drop_all: float = 0.1
    p_drop_each: float = 0.3

    def __post_init__(self) -> None:
        if not 0.0 < self.eps < 1.0:
            raise ValueError(f"noise eps {self.eps!r}: expected 0 < eps < 1")
        if not 0.0 < self.t_min < 1.0:
            raise ValueError(f"noise t_min {self.t_min!r}: expected 0 < t_min < 1")
        unknown = set(self.mode_probs) - set(MODES)
        if unknown:
            raise ValueError(f"noise mode_probs: unknown modes {sorted(unknown)}; expected some of {MODES}")
        if any(p < 0 for p in self.mode_probs.values()) or sum(self.mode_probs.values()) <= 0:
            raise ValueError(f"noise mode_probs {dict(self.mode_probs)}: need values >= 0, sum > 0")
        for name in ("p_drop_all", "p_drop_each"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"noise {name} {getattr(self, name)!r}: expected a probability in [0, 1]")

    def mode_weights(self) -> torch.Tensor:
        """Probabilities in ``MODES`` order (missing modes: 0)."""
        w = torch.tensor([float(self.mode_probs.get(m, 0.0)) for m in MODES], dtype=torch.float64)
        return w / w.sum()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "mode_probs": dict(self.mode_probs)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "NoiseConfig":
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"noise config: unknown keys {sorted(unknown)}; expected {sorted(known)}")
        return cls(**data)


# --- schedule ---------------------------------------------------------------------------------
def sigma(t: torch.Tensor, eps: float) -> torch.Tensor:
    return -torch.log1p(-(1.0 - eps) * t)


def dsigma(t: torch.Tensor, eps: float) -> torch.Tensor:
    return (1.0 - eps) / (1.0 - (1.0 - eps) * t)


def move_chance(t: torch.Tensor, eps: float) -> torch.Tensor:
    """P(token masked at t) = 1 - exp(-sigma(t)) = (1 - eps) t."""
    return (1.0 - eps) * t


def loss_weight(t: torch.Tensor, eps: float) -> torch.Tensor:
    """dsigma / expm1(sigma) (= 1 / t for the log-linear schedule), computed in float64."""
    t64 = t.double()
    return (dsigma(t64, eps) / torch.expm1(sigma(t64, eps))).to(t.dtype)


def sample_t(
    batch: int, generator: torch.Generator, cfg: NoiseConfig, device: torch.device | str
) -> torch.Tensor:
    if cfg.antithetic:
        u = torch.rand(1, generator=generator, device=device)
        u = (u + torch.arange(batch, device=device) / batch) % 1.0
    else:
        u = torch.rand(batch, generator=generator, device=device)
    return cfg.t_min + (1.0 - cfg.t_min) * u


# --- corruption -------------------------------------------------------------------------------
class Corrupted(NamedTuple):
    noisy_ids: torch.Tensor  # [B, L]
    loss_mask: torch.Tensor  # [B, L] bool: MASKed image/text positions (the loss positions)
    t: torch.Tensor  # [B] the time fed to the model (1.0 for image_only / text_only)
    modes: torch.Tensor  # [B] index into MODES
    dropped: torch.Tensor  # [B, n_conditions] bool: condition slots set to NULL by dropout


def corrupt_detailed(
    ids: torch.Tensor,
    layout: VocabLayout,
    generator: torch.Generator,
    cfg: NoiseConfig,
    t: torch.Tensor | None = None,
    modes: torch.Tensor | None = None,
) -> Corrupted:
    """Mask ``ids`` [B, L] (clean sequences); ``t`` / ``modes`` override the random draws (tests).

    Random draws, in a fixed order from ``generator`` (on ids' device): t, modes, per-position
    uniforms, drop-all uniforms, drop-each uniforms."""
    if ids.dim() != 2 or ids.shape[1] != layout.seq_len:
        raise ValueError(f"ids shape {tuple(ids.shape)}: expected [B, {layout.seq_len}]")
    batch, device = ids.shape[0], ids.device
    t_draw = sample_t(batch, generator, cfg, device)
    weights = cfg.mode_weights().float().to(device)
    mode_draw = torch.multinomial(weights, batch, replacement=True, generator=generator)
    t = t_draw if t is None else t.to(device=device, dtype=torch.float32)
    modes = mode_draw if modes is None else modes.to(device)

    segments = torch.as_tensor(layout.segments(), device=device)
    is_img, is_txt = (segments == SEG_IMAGE)[None], (segments == SEG_TEXT)[None]
    mode = {name: (modes == i)[:, None] for i, name in enumerate(MODES)}
    partial = torch.rand(ids.shape, generator=generator, device=device) < move_chance(t, cfg.eps)[:, None]
    img_mask = is_img & (mode["image_only"] | (partial & (mode["joint"] | mode["image_at_t"])))
    txt_mask = is_txt & (mode["text_only"] | (partial & (mode["joint"] | mode["text_at_t"])))
    loss_mask = img_mask | txt_mask
    noisy = ids.masked_fill(loss_mask, MASK)
    full = (mode["image_only"] | mode["text_only"])[:, 0]
    t_model = torch.where(full, torch.ones_like(t), t)

    n = layout.n_conditions
    drop_all = torch.rand(batch, generator=generator, device=device) < cfg.p_drop_all
    drop_each = torch.rand((batch, n), generator=generator, device=device) < cfg.p_drop_each
    dropped = drop_all[:, None] | drop_each
    noisy[:, :n] = noisy[:, :n].masked_fill(dropped, NULL)
    return Corrupted(noisy, loss_mask, t_model, modes, dropped)


def corrupt(
    ids: torch.Tensor, layout: VocabLayout, generator: torch.Generator, cfg: NoiseConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(noisy_ids [B, L], loss_mask [B, L] bool, t [B]); see :func:`corrupt_detailed`."""
    c = corrupt_detailed(ids, layout, generator, cfg)
    return c.noisy_ids, c.loss_mask, c.t


# --- loss -------------------------------------------------------------------------------------
def diffusion_loss(
    model: nn.Module,
    ids: torch.Tensor,
    layout: VocabLayout,
    generator: torch.Generator,
    cfg: NoiseConfig,
    t: torch.Tensor | None = None,
    modes: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """SUBS-parameterised, NELBO-weighted cross entropy over the masked positions.

    SUBS: the model never outputs MASK (restricted logits) and unmasked positions are carried over
    unchanged, so only masked positions contribute. Normalisation:
        loss = sum_{b, i masked} w(t_b) * -log p(x_{b,i}) / (B * (image_tokens + text_length))
    i.e. the NELBO per predicted position, with the same denominator for every batch and mode (the
    value does not depend on how many tokens happened to be masked). It is finite for t in
    [t_min, 1]: w(t) = 1 / t is bounded by 1 / t_min and is 1 at t = 1.
    Stats (floats): loss, nll and acc (unweighted, over masked positions), image_nll, text_nll,
    mask_frac (masked / predicted positions), and mode/<name> (fraction of the batch)."""
    model_eps = getattr(model, "sigma_eps", cfg.eps)
    if abs(model_eps - cfg.eps) > 1e-12:
        raise ValueError(f"noise eps {cfg.eps} differs from the model's sigma_eps {model_eps}")
    c = corrupt_detailed(ids, layout, generator, cfg, t=t, modes=modes)
    sel = c.loss_mask
    picked = model(c.noisy_ids, c.t, select=sel).float()
    target = ids[sel]
    nll = F.cross_entropy(picked, target, reduction="none")
    if torch.isinf(nll).any():
        raise ValueError("clean ids hold a token not allowed at its position (MASK, or another segment's id)")
    weight = loss_weight(c.t, cfg.eps)[:, None].expand_as(sel)[sel]
    n_pred = ids.shape[0] * (layout.image_tokens + layout.text_length)
    loss = (weight * nll).sum() / n_pred

    with torch.no_grad():
        segments = torch.as_tensor(layout.segments(), device=ids.device)[None].expand_as(sel)[sel]
        is_img = (segments == SEG_IMAGE).float()
        correct = (picked.argmax(-1) == target).float()
        n_mask = sel.sum().clamp(min=1).float()
        values = [
            loss.detach(),
            nll.sum() / n_mask,
            correct.sum() / n_mask,
            (nll * is_img).sum() / is_img.sum().clamp(min=1),
            (nll * (1 - is_img)).sum() / (1 - is_img).sum().clamp(min=1),
            sel.sum().float() / n_pred,
            *[(c.modes == i).float().mean() for i in range(len(MODES))],
        ]
        names = ["loss", "nll", "acc", "image_nll", "text_nll", "mask_frac", *[f"mode/{m}" for m in MODES]]
        stats = dict(zip(names, torch.stack([v.float() for v in values]).tolist()))
    return loss, stats
