"""MaskGIT-style confidence unmasking for the three tasks, with classifier-free guidance.

Tasks are not flags but the MASK pattern of the initial sequence (build it with
:func:`init_sequence` or ``layout.assemble``): ``joint`` masks image and text,
``image_from_report`` masks the image, ``report_from_image`` masks the text; conditions are any
subset of findings/view/sex/age (NULL = not given). Every non-MASK position is a prompt and is
never changed; every MASK position is filled, so the result never contains MASK.

Per step, for each sample: t = (masked generated positions) / (generated positions), which is the
MDLM masking level the model was trained on; logits are guided
    cond + w * (1 - t) * (cond - uncond)
where the unconditional branch has all conditions NULL (the token condition dropout trains) and the
prompt modality (a modality with no MASK at start) re-masked, is fed the same t, and otherwise
follows the conditional state; tokens are drawn from softmax(logits / temperature) restricted to the
position's allowed ids (temperature 0: argmax); confidence = log p(token) + Gumbel noise scaled by
confidence_temperature * t; the most confident masked positions are kept until the count still
masked follows the arccos schedule. A final argmax pass fills anything left masked.

Reproducibility: each sample draws from its own ``torch.Generator`` seeded with its own seed, in a
fixed per-sample order, so its randomness does not depend on its batch neighbours. The network
itself is run batched; equal outputs for a sample in batches of different sizes additionally need
batch-invariant numerics (true for the CPU kernels in the tests; bf16 / cuBLAS may pick
batch-size-dependent kernels).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from medmint.generators.diffusion.layout import MASK, NULL, SEG_IMAGE, SEG_TEXT, VocabLayout

TASKS = ("joint", "image_from_report", "report_from_image")


@dataclass(frozen=True)
class SamplerConfig:
    steps: int = 32
    temperature: float = 1.0  # token sampling temperature; 0 = greedy
    confidence_temperature: float = 4.5  # Gumbel noise on confidences, times t (MeDiM: 10, MaskGIT: 4.5)
    guidance: float = 0.0  # classifier-free guidance weight w; 0 skips the unconditional pass
    bf16: bool = True  # autocast to bfloat16 on CUDA (ignored on CPU)
    # each modality's masked count follows the schedule on its own, so both stay at the masking level
    # t the model was trained on (one level for the whole sequence); False: one joint confidence ranking,
    # where the less confident modality (text, early on) is left masked until the last steps
    per_modality: bool = False

    def __post_init__(self) -> None:
        for name, field in self.__dataclass_fields__.items():
            value, kind = getattr(self, name), field.type
            ok = isinstance(value, bool) if kind == "bool" else (
                isinstance(value, int) and not isinstance(value, bool) if kind == "int" else
                isinstance(value, (int, float)) and not isinstance(value, bool) if kind == "float" else True)
            if not ok:
                raise ValueError(f"sampler {name} {value!r}: expected {kind}")
        if self.steps < 1:
            raise ValueError(f"sampler steps {self.steps!r}: expected >= 1")
        if self.temperature < 0 or self.confidence_temperature < 0:
            raise ValueError("sampler temperature and confidence_temperature must be >= 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SamplerConfig":
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            known = sorted(cls.__dataclass_fields__)
            raise ValueError(f"sampler config: unknown keys {sorted(unknown)}; expected {known}")
        return cls(**data)


def arccos_schedule(progress: float) -> float:
    """Fraction still masked after ``progress`` in [0, 1] of the steps: arccos(r) / (pi / 2)."""
    return math.acos(min(max(progress, 0.0), 1.0)) / (math.pi / 2)


def init_sequence(
    layout: VocabLayout,
    task: str,
    conditions: np.ndarray,
    image_codes: np.ndarray | None = None,
    text_ids: Sequence[int] | None = None,
) -> np.ndarray:
    """The initial sequence of one sample for ``task`` (the masked modality is all MASK)."""
    if task not in TASKS:
        raise ValueError(f"task {task!r}: expected one of {TASKS}")
    if task == "image_from_report" and text_ids is None:
        raise ValueError("task image_from_report needs text_ids (the report prompt)")
    if task == "report_from_image" and image_codes is None:
        raise ValueError("task report_from_image needs image_codes (the image prompt)")
    image = image_codes if task == "report_from_image" else None
    text = text_ids if task == "image_from_report" else None
    return layout.assemble(conditions, image, text)


def _gumbel(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> torch.Tensor:
    u = torch.rand(shape, generator=generator, device=device).clamp_(1e-20, 1.0 - 1e-7)
    return -torch.log(-torch.log(u))


def sample(
    model: nn.Module,
    init_ids: torch.Tensor | np.ndarray,
    seeds: Sequence[int],
    layout: VocabLayout,
    cfg: SamplerConfig,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Fill every MASK of ``init_ids`` [B, L]; returns a CPU LongTensor [B, L] without MASK.

    ``model``: ``forward(ids, t, restrict=False) -> raw logits`` and an ``allowed`` [L, V] bool
    buffer (``MeDiMModel``); it must already live on ``device`` (default: its parameters' device).
    The model is run in eval mode and its training flag restored afterwards."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    x = torch.as_tensor(init_ids if torch.is_tensor(init_ids) else np.asarray(init_ids))
    x = x.to(device=device, dtype=torch.long, copy=True)  # filled in place: never the caller's tensor
    if x.dim() != 2 or x.shape[1] != layout.seq_len:
        raise ValueError(f"init_ids shape {tuple(x.shape)}: expected [B, {layout.seq_len}]")
    batch = x.shape[0]
    if len(seeds) != batch:
        raise ValueError(f"{len(seeds)} seeds for a batch of {batch}")
    segments = torch.as_tensor(layout.segments(), device=device)
    is_img, is_txt = segments == SEG_IMAGE, segments == SEG_TEXT
    gen = x == MASK
    if (gen & ~(is_img | is_txt)[None]).any():
        raise ValueError("MASK outside the image and text segments: conditions and markers are not generated")
    n_gen = gen.sum(1)
    allowed = model.allowed.to(device)
    generators = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]

    uncond = None  # (positions forced in the unconditional branch, their values)
    if cfg.guidance != 0.0:
        img_given = ~(gen & is_img[None]).any(1, keepdim=True)
        txt_given = ~(gen & is_txt[None]).any(1, keepdim=True)
        remask = ((img_given & is_img[None]) | (txt_given & is_txt[None])) & (n_gen > 0)[:, None]
        is_cond = (torch.arange(layout.seq_len, device=device) < layout.n_conditions)[None]
        force = remask | is_cond.expand_as(remask)
        uncond = (force, torch.where(is_cond, torch.full_like(x, NULL), torch.full_like(x, MASK)))

    autocast = (
        torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        if cfg.bf16 and device.type == "cuda"
        else contextlib.nullcontext()
    )
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), autocast:
            for step in range(cfg.steps):
                masked = x == MASK
                n_masked = masked.sum(1)
                if int(n_masked.max()) == 0:
                    break
                t = n_masked.float() / n_gen.clamp(min=1).float()
                logits = _guided_logits(model, x, uncond, t, cfg.guidance, allowed)
                still = 0.0 if step == cfg.steps - 1 else arccos_schedule((step + 1) / cfg.steps)
                for b, rows, total in _unmask_groups(masked, gen, (is_img, is_txt) if cfg.per_modality else None):
                    k = min(rows.numel(), max(1, rows.numel() - int(math.floor(total * still))))
                    lg = logits[b, rows]
                    logp = torch.log_softmax(lg, dim=-1)
                    if cfg.temperature == 0:
                        tokens = lg.argmax(-1)
                    else:
                        probs = torch.softmax(lg / cfg.temperature, dim=-1)
                        tokens = torch.multinomial(probs, 1, generator=generators[b]).squeeze(1)
                    conf = logp.gather(1, tokens[:, None]).squeeze(1)
                    noise = _gumbel((rows.numel(),), generators[b], device)
                    conf = conf + cfg.confidence_temperature * float(t[b]) * noise
                    keep = conf.topk(k).indices
                    x[b, rows[keep]] = tokens[keep]
            masked = x == MASK
            if masked.any():  # final argmax pass (only if the steps left anything)
                t = masked.sum(1).float() / n_gen.clamp(min=1).float()
                logits = _guided_logits(model, x, uncond, t, cfg.guidance, allowed)
                x = torch.where(masked, logits.argmax(-1), x)
    finally:
        model.train(was_training)
    return x.cpu()


def _unmask_groups(masked: torch.Tensor, gen: torch.Tensor, segments: tuple[torch.Tensor, ...] | None):
    """(sample, its masked positions, how many positions the group generates) per group that still
    has masks: one group per sample, or one per modality of it."""
    for b in range(masked.shape[0]):
        for seg in segments if segments is not None else (None,):
            rows = (masked[b] if seg is None else masked[b] & seg).nonzero().squeeze(1)
            if rows.numel():
                yield b, rows, int((gen[b] if seg is None else gen[b] & seg).sum())


def _guided_logits(
    model: nn.Module,
    x: torch.Tensor,
    uncond: tuple[torch.Tensor, torch.Tensor] | None,
    t: torch.Tensor,
    guidance: float,
    allowed: torch.Tensor,
) -> torch.Tensor:
    """Restricted float32 logits [B, L, V]; with guidance the uncond branch shares the batch."""
    if uncond is None:
        logits = model(x, t, restrict=False).float()
    else:
        force, values = uncond  # conditions -> NULL, prompt modality -> MASK; the rest follows x
        u = torch.where(force, values, x)
        both = model(torch.cat([x, u]), torch.cat([t, t]), restrict=False).float()
        cond, unc = both.chunk(2)
        logits = cond + guidance * (1.0 - t)[:, None, None] * (cond - unc)
    return logits.masked_fill(~allowed, float("-inf"))
