"""Findings classifier: a small CNN that reads the drawable findings off an image.

It is the "critic" bundled with each checkpoint. The consistency validator compares its reading of
a generated image with the report's labels, and its penultimate layer is the embedding for the
Fréchet distance and the privacy nearest-neighbour gate.

    clf = FindingsClassifier(cfg)
    clf.predict_proba(images uint16 [B, H, W], bits_stored) -> float32 [B, n_labels]
    clf.predict(images, bits_stored)                        -> bool [B, n_labels] (calibrated thresholds)
    clf.predict_labels(images, bits_stored)                 -> [{label: 1 | 0, ..., "No Finding": 1 | 0}]
    clf.features(images, bits_stored)                       -> float32 [B, feature_dim]

Targets are "positive" (CheXpert 1) versus everything else (0, -1, unmentioned); ``No Finding`` is
derived: positive when no drawable finding is. Preprocessing is ``medmint.imaging`` (the same as the
image tokenizer's), at ``cfg.resolution`` px. Augmentation never flips left/right: laterality is
part of what a finding is. The spatial layout survives to the feature layer (a coarse ``pool x
pool`` grid rather than one global average), so left- and right-sided findings embed differently.

Decision thresholds are per label, chosen on held-out data to maximise F1
(``calibrate_thresholds``) and stored in the config (``to_json``); weights are saved by the caller
with safetensors (``FindingsClassifier.load(config_json, state_dict)`` restores them).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from medmint.imaging import prepare_images
from medmint.records import DRAWABLE_FINDINGS
from medmint.schedules import contiguous_state, epoch_batch, warmup_cosine

__all__ = [
    "DRAWABLE_FINDINGS",
    "FindingsClassifierConfig",
    "FindingsClassifier",
    "train_findings_classifier",
    "calibrate_thresholds",
    "label_certain",
    "label_targets",
    "roc_auc",
    "classifier_report",
]

Images = np.ndarray | Iterable[Any]  # see medmint.imaging.prepare_images
Bits = int | Sequence[int] | None
LabelRows = np.ndarray | Sequence[Mapping[str, Any]]



@dataclass(frozen=True)
class FindingsClassifierConfig:
    resolution: int = 128
    labels: tuple[str, ...] = DRAWABLE_FINDINGS
    channels: tuple[int, ...] = (32, 64, 128, 256)  # stage i runs at resolution / stem_stride / 2**i
    stem_stride: int = 2  # 1 keeps full resolution in the first stage (small inputs, subtle findings)
    feature_dim: int = 256  # penultimate width = embedding size for FD / nearest neighbours
    pool: int = 4  # the last feature map is averaged to pool x pool cells, then flattened
    global_max: bool = True  # also feed the channel-wise global max (small, localized findings)
    dropout: float = 0.1
    bits_stored: int = 12  # default bits for bare training arrays
    thresholds: tuple[float, ...] | None = None  # per label; None -> 0.5 each
    # --- training recipe -------------------------------------------------------------------
    weight_decay: float = 0.05
    warmup_steps: int = 50  # capped at steps // 10
    min_lr_ratio: float = 0.05
    grad_clip: float = 1.0
    max_pos_weight: float = 5.0  # BCE positive weight = clamp(negatives / positives, 1, this)
    # share of each batch drawn from the rows positive for a rare label (prevalence < rare_below): at 2 %
    # a batch of 64 holds about one lesion, too few to learn a small finding from in a short run
    rare_share: float = 0.0
    rare_below: float = 0.1
    augment: bool = True
    aug_shift: float = 0.04  # fraction of the image side
    aug_scale: float = 0.06
    aug_rotate_deg: float = 5.0
    aug_contrast: float = 0.15
    aug_gamma: float = 0.2
    aug_noise: float = 0.02
    aug_blur_p: float = 0.25  # chance of a 2x down/up blur (decoded images are softer than real ones)

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if not self.labels or len(set(self.labels)) != len(self.labels):
            raise ValueError(f"labels must be non-empty and unique, got {self.labels}")
        if not 0.0 <= self.rare_share < 1.0:
            raise ValueError(f"rare_share must be in [0, 1), got {self.rare_share}")
        if self.stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {self.stem_stride}")
        if self.resolution % (self.stem_stride * 2 ** (len(self.channels) - 1)):
            raise ValueError(f"resolution {self.resolution} must be a multiple of "
                             f"{self.stem_stride * 2 ** (len(self.channels) - 1)}")
        if self.thresholds is not None:
            th = tuple(float(t) for t in self.thresholds)
            if len(th) != len(self.labels):
                raise ValueError(f"{len(th)} thresholds for {len(self.labels)} labels")
            object.__setattr__(self, "thresholds", th)

    @property
    def decision_thresholds(self) -> np.ndarray:
        if self.thresholds is None:
            return np.full(len(self.labels), 0.5, dtype=np.float64)
        return np.asarray(self.thresholds, dtype=np.float64)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["labels"], d["channels"] = list(self.labels), list(self.channels)
        d["thresholds"] = None if self.thresholds is None else list(self.thresholds)
        return d

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "FindingsClassifierConfig":
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown findings classifier config keys: {sorted(unknown)}")
        d = dict(data)
        for key in ("labels", "channels", "thresholds"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        return cls(**d)


def label_certain(labels: np.ndarray | Sequence[Mapping[str, Any]], names: Sequence[str]) -> np.ndarray:
    """bool [N, len(names)]: False where a label is uncertain (CheXpert -1). An uncertain finding is
    drawn, fainter, and is neither a positive nor a negative: it is left out of the loss, the
    thresholds and the held-out figures (CheXpert's 'U-Ignore')."""
    if isinstance(labels, np.ndarray):
        arr = labels.astype(np.float64)
        if arr.ndim != 2 or arr.shape[1] != len(names):
            raise ValueError(f"label matrix must be [N, {len(names)}], got {arr.shape}")
        return arr != -1
    return np.array([[d.get(n) != -1 for n in names] for d in labels], dtype=bool).reshape(-1, len(names))


def label_targets(labels: np.ndarray | Sequence[Mapping[str, Any]], names: Sequence[str]) -> np.ndarray:
    """Binary targets [N, len(names)] (float32): 1 where a label is positive (CheXpert 1), else 0.

    ``labels`` is an [N, len(names)] array (CheXpert coding with NaN for unmentioned, or 0/1/bool)
    or a sequence of label dicts (missing keys and ``None`` are 'not positive').
    """
    if isinstance(labels, np.ndarray):
        arr = labels.astype(np.float64)
        if arr.ndim != 2 or arr.shape[1] != len(names):
            raise ValueError(f"label matrix must be [N, {len(names)}], got {arr.shape}")
        return (arr == 1).astype(np.float32)
    rows = [[1.0 if d.get(n) == 1 else 0.0 for n in names] for d in labels]
    return np.array(rows, dtype=np.float32).reshape(-1, len(names))


# --- network ------------------------------------------------------------------------------


def _norm(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(32, max(1, c // 4)), c)


class _ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.c1, self.n1 = nn.Conv2d(c, c, 3, padding=1, bias=False), _norm(c)
        self.c2, self.n2 = nn.Conv2d(c, c, 3, padding=1, bias=False), _norm(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.n1(self.c1(x)))
        return F.silu(x + self.n2(self.c2(h)))


class FindingsClassifier(nn.Module):
    def __init__(self, cfg: FindingsClassifierConfig | None = None):
        super().__init__()
        self.cfg = cfg or FindingsClassifierConfig()
        ch = self.cfg.channels
        stem = nn.Conv2d(1, ch[0], 3, stride=self.cfg.stem_stride, padding=1, bias=False)
        layers: list[nn.Module] = [stem, _norm(ch[0]), nn.SiLU(), _ResBlock(ch[0])]
        for prev, c in zip(ch[:-1], ch[1:]):
            down = nn.Conv2d(prev, c, 3, stride=2, padding=1, bias=False)
            layers += [down, _norm(c), nn.SiLU(), _ResBlock(c)]
        self.body = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(self.cfg.pool)
        width = ch[-1] * self.cfg.pool**2 + (ch[-1] if self.cfg.global_max else 0)
        self.embed = nn.Linear(width, self.cfg.feature_dim)
        self.drop = nn.Dropout(self.cfg.dropout)
        self.head = nn.Linear(self.cfg.feature_dim, len(self.cfg.labels))

    @property
    def labels(self) -> tuple[str, ...]:
        return self.cfg.labels

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # --- tensors ------------------------------------------------------------------------------
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, 1, res, res] (or [B, res, res]) in [-1, 1] -> embedding [B, feature_dim]."""
        if x.dim() == 3:
            x = x[:, None]
        if tuple(x.shape[-2:]) != (self.cfg.resolution, self.cfg.resolution):
            raise ValueError(f"expected {self.cfg.resolution} px input, got {tuple(x.shape[-2:])}")
        h = self.body(x)
        parts = [self.pool(h).flatten(1)]
        if self.cfg.global_max:
            parts.append(h.amax(dim=(2, 3)))
        return F.silu(self.embed(torch.cat(parts, dim=1)))

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The output of every stage (after its residual block), fine to coarse: the feature space a
        tokenizer's perceptual loss compares images in (what this critic looks at to read findings)."""
        if x.dim() == 3:
            x = x[:, None]
        maps, h = [], x
        for layer in self.body:
            h = layer(h)
            if isinstance(layer, _ResBlock):
                maps.append(h)
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits [B, n_labels]."""
        return self.head(self.drop(self.forward_features(x)))

    @torch.no_grad()
    def _run(self, images: Any, bits_stored: Any, fn: Callable[[torch.Tensor], torch.Tensor],
             batch_size: int) -> np.ndarray:
        bits = self.cfg.bits_stored if bits_stored is None else bits_stored
        x = prepare_images(images, self.cfg.resolution, bits)
        was_training = self.training
        self.eval()
        try:
            out = [fn(torch.from_numpy(x[i:i + batch_size]).to(self.device)).float().cpu()
                   for i in range(0, len(x), batch_size)]
        finally:
            self.train(was_training)
        return torch.cat(out).numpy()

    # --- numpy API ----------------------------------------------------------------------------
    def predict_proba(self, images: Images, bits_stored: Bits = None, *, batch_size: int = 128) -> np.ndarray:
        """Per-label probability of 'positive', float32 [B, n_labels] (columns = ``cfg.labels``)."""
        return self._run(images, bits_stored, lambda x: torch.sigmoid(self(x)), batch_size)

    def features(self, images: Images, bits_stored: Bits = None, *, batch_size: int = 128) -> np.ndarray:
        """Penultimate-layer embedding, float32 [B, feature_dim] (for FD and nearest neighbours)."""
        return self._run(images, bits_stored, self.forward_features, batch_size)

    def features_and_proba(self, images: Images, bits_stored: Bits = None, *,
                           batch_size: int = 128) -> tuple[np.ndarray, np.ndarray]:
        """``features`` and ``predict_proba`` from one pass of the network, as a validated batch
        needs both: the same numbers (in eval mode dropout is the identity) at half the cost."""
        width = self.cfg.feature_dim

        def both(x: torch.Tensor) -> torch.Tensor:
            f = self.forward_features(x)
            return torch.cat([f, torch.sigmoid(self.head(self.drop(f)))], dim=1)

        out = self._run(images, bits_stored, both, batch_size)
        return out[:, :width], out[:, width:]

    def predict(self, images: Images, bits_stored: Bits = None) -> np.ndarray:
        """bool [B, n_labels]: probability >= the label's decision threshold."""
        return self.predict_proba(images, bits_stored) >= self.cfg.decision_thresholds[None, :]

    def predict_labels(self, images: Images, bits_stored: Bits = None) -> list[dict[str, int]]:
        """Per image, CheXpert-coded readings: each label 1 or 0, plus ``No Finding`` = 1 iff none is 1."""
        out = []
        for row in self.predict(images, bits_stored):
            d = {label: int(v) for label, v in zip(self.cfg.labels, row)}
            d["No Finding"] = int(not row.any())
            out.append(d)
        return out

    def calibrate(self, images: Images, label_matrix: LabelRows, bits_stored: Bits = None) -> np.ndarray:
        """Choose per-label F1-optimal thresholds on held-out data and store them in ``cfg``."""
        probs = self.predict_proba(images, bits_stored)
        certain = label_certain(label_matrix, self.labels)
        th = calibrate_thresholds(np.where(certain, probs, np.nan), label_targets(label_matrix, self.labels))
        self.cfg = replace(self.cfg, thresholds=tuple(float(t) for t in th))
        return th

    # --- persistence --------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return self.cfg.to_json()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "FindingsClassifier":
        return cls(FindingsClassifierConfig.from_json(data))

    @classmethod
    def load(cls, config: Mapping[str, Any], state_dict: Mapping[str, torch.Tensor],
             device: str | torch.device = "cpu") -> "FindingsClassifier":
        model = cls.from_json(config)
        model.load_state_dict(dict(state_dict))
        return model.to(device).eval()


# --- metrics ------------------------------------------------------------------------------


def roc_auc(scores: np.ndarray, targets: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties count one half); NaN if a class is absent."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    targets = np.asarray(targets).ravel() == 1
    n_pos, n_neg = int(targets.sum()), int((~targets).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[targets].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def calibrate_thresholds(probs: np.ndarray, labels: np.ndarray, *, default: float = 0.5) -> np.ndarray:
    """Per-label threshold maximising F1 of ``probs >= threshold`` against ``labels``.

    ``probs`` [N, L] (NaN leaves a row out for that label); ``labels`` [N, L] (positive iff == 1). The threshold sits halfway between the
    lowest score called positive and the next lower distinct score, so it generalises a little
    better than cutting exactly at a training score. A label with no positives or no negatives
    in the held-out set keeps ``default``.
    """
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64) == 1
    if probs.shape != y.shape or probs.ndim != 2:
        raise ValueError(f"probs and labels must both be [N, L], got {probs.shape} and {y.shape}")
    out = np.full(probs.shape[1], default, dtype=np.float64)
    for j in range(probs.shape[1]):
        keep = ~np.isnan(probs[:, j])  # NaN: a row left out for this label (uncertain)
        p, t = probs[keep, j], y[keep, j]
        n_pos = int(t.sum())
        if n_pos == 0 or n_pos == len(t):
            continue
        order = np.argsort(-p, kind="mergesort")
        ps, ts = p[order], t[order]
        tp = np.cumsum(ts)
        k = np.arange(1, len(ps) + 1)
        # only cut where the next score differs (a threshold cannot split tied scores)
        valid = np.r_[ps[:-1] > ps[1:], True]
        f1 = np.where(valid, 2.0 * tp / (k + n_pos), -1.0)
        best = int(np.argmax(f1))
        lower = ps[best + 1] if best + 1 < len(ps) else 0.0
        out[j] = 0.5 * (ps[best] + lower)
    return out


def classifier_report(model: FindingsClassifier, images: Images, label_matrix: LabelRows,
                      bits_stored: Bits = None) -> dict[str, Any]:
    """Held-out quality: per-label AUC, F1 at the stored thresholds, prevalence (uncertain labels left
    out); plus means."""
    probs = model.predict_proba(images, bits_stored)
    y = label_targets(label_matrix, model.labels) == 1
    certain = label_certain(label_matrix, model.labels)
    pred = probs >= model.cfg.decision_thresholds[None, :]
    per: dict[str, dict[str, float]] = {}
    for j, label in enumerate(model.labels):
        k = certain[:, j]
        tp = float((pred[k, j] & y[k, j]).sum())
        denom = float(pred[k, j].sum() + y[k, j].sum())
        per[label] = {"auc": roc_auc(probs[k, j], y[k, j]), "f1": 2 * tp / denom if denom else float("nan"),
                      "prevalence": float(y[k, j].mean()), "uncertain_left_out": int((~k).sum()),
                      "threshold": float(model.cfg.decision_thresholds[j])}
    aucs = [v["auc"] for v in per.values() if not math.isnan(v["auc"])]
    f1s = [v["f1"] for v in per.values() if not math.isnan(v["f1"])]
    return {"labels": per, "mean_auc": float(np.mean(aucs)) if aucs else float("nan"),
            "mean_f1": float(np.mean(f1s)) if f1s else float("nan"), "n_images": int(len(probs))}


# --- training -----------------------------------------------------------------------------






def augment_batch(x: torch.Tensor, cfg: FindingsClassifierConfig, gen: torch.Generator) -> torch.Tensor:
    """Light, laterality-preserving augmentation of x [B, 1, H, W] in [-1, 1].

    Small rotation, isotropic scale and shift (never a mirror), contrast/brightness/gamma jitter,
    an occasional 2x blur, and a little Gaussian noise. Random numbers come from ``gen`` (CPU).
    """
    b = x.shape[0]

    def u(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return (lo + (hi - lo) * torch.rand(b, *shape, generator=gen)).to(x.device)

    ang = u(-1, 1) * math.radians(cfg.aug_rotate_deg)
    scale = 1.0 + u(-1, 1) * cfg.aug_scale  # > 0: no flip
    shift = u(-1, 1, 2) * cfg.aug_shift * 2  # normalised coordinates span 2
    cos, sin = torch.cos(ang) / scale, torch.sin(ang) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    blur = (u(0, 1) < cfg.aug_blur_p).view(b, 1, 1, 1)
    soft = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="bilinear", align_corners=False)
    x = torch.where(blur, soft, x)

    unit = ((x + 1) * 0.5).clamp(0, 1)
    gamma = torch.exp(u(-1, 1) * cfg.aug_gamma).view(b, 1, 1, 1)
    unit = unit.clamp_min(1e-6) ** gamma
    contrast = (1 + u(-1, 1) * cfg.aug_contrast).view(b, 1, 1, 1)
    bright = (u(-1, 1) * cfg.aug_contrast * 0.5).view(b, 1, 1, 1)
    mean = unit.mean(dim=(2, 3), keepdim=True)
    unit = (unit - mean) * contrast + mean + bright
    sigma = (u(0, 1) * cfg.aug_noise).view(b, 1, 1, 1)
    noise = torch.randn(x.shape, generator=gen).to(x.device)
    return (unit * 2 - 1 + sigma * noise).clamp(-1, 1)


def train_findings_classifier(
    images: np.ndarray | Iterable[Any],
    label_matrix: np.ndarray | Sequence[Mapping[str, Any]],
    cfg: FindingsClassifierConfig | None = None,
    *,
    steps: int,
    batch_size: int = 64,
    lr: float = 2e-3,
    device: str | torch.device = "cpu",
    seed: int = 0,
    bits_stored: int | Sequence[int] | None = None,
    log: Callable[[dict[str, float]], None] | None = None,
    log_every: int = 50,
    resume_state: Mapping[str, Any] | None = None,
    stop_at: int | None = None,
) -> tuple[FindingsClassifier, dict[str, Any]]:
    """Train the classifier from scratch (or resume it) with BCE on 'positive vs not' (uncertain labels
    left out of the loss).

    ``images`` as for ``medmint.imaging.prepare_images``; ``label_matrix`` an [N, n_labels] array in
    ``cfg.labels`` order (CheXpert coding or 0/1) or N label dicts. Positives of rare labels are
    up-weighted (``cfg.max_pos_weight``). AdamW, warmup + cosine LR over ``steps`` (the run's
    total; ``stop_at`` and ``resume_state`` chunk a run exactly as for the image tokenizer), bf16
    autocast on CUDA only, deterministic on CPU for a seed. Thresholds stay unset (0.5): call
    ``model.calibrate`` on held-out data afterwards.

    Returns ``(model, history)``: per-step ``step, loss, lr`` lists, ``seconds``, ``pos_weight``,
    and ``state`` (pass back as ``resume_state``).
    """
    cfg = cfg or FindingsClassifierConfig()
    device = torch.device(device)
    if steps < 0 or batch_size < 1:
        raise ValueError("steps must be >= 0 and batch_size >= 1")
    data = prepare_images(images, cfg.resolution, cfg.bits_stored if bits_stored is None else bits_stored)
    y = label_targets(label_matrix, cfg.labels)
    known = label_certain(label_matrix, cfg.labels).astype(np.float32)
    if len(y) != len(data):
        raise ValueError(f"{len(data)} images but {len(y)} label rows")
    n = len(data)
    pos = y.sum(axis=0)
    pos_weight = np.clip((n - pos) / np.maximum(pos, 1.0), 1.0, cfg.max_pos_weight).astype(np.float32)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = FindingsClassifier(cfg)
    fmt = torch.channels_last if device.type == "cpu" else torch.contiguous_format
    model.to(device=device, memory_format=fmt)
    no_decay = [p for name, p in model.named_parameters() if p.dim() < 2]
    decay = [p for name, p in model.named_parameters() if p.dim() >= 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.99))
    start = 0
    if resume_state is not None:
        if dict(resume_state.get("config", {})) != cfg.to_json():
            raise ValueError("resume_state was trained with a different FindingsClassifierConfig")
        model.load_state_dict(resume_state["model"])
        opt.load_state_dict(copy.deepcopy(resume_state["optimizer"]))
        start = int(resume_state["step"])
        seed = int(resume_state.get("seed", seed))

    rare_rows = np.flatnonzero(y[:, pos / n < cfg.rare_below].any(axis=1))
    n_rare = int(round(batch_size * cfg.rare_share)) if len(rare_rows) else 0
    if n_rare:  # the oversampled positives already weigh more: the loss weight goes by the batch mix
        seen = (pos * (batch_size - n_rare) / n + y[rare_rows].mean(axis=0) * n_rare) / batch_size
        pos_weight = np.clip((1 - seen) / np.maximum(seen, 1e-6), 1.0, cfg.max_pos_weight).astype(np.float32)
    crit = nn.BCEWithLogitsLoss(pos_weight=torch.from_numpy(pos_weight).to(device), reduction="none")
    warmup = min(cfg.warmup_steps, steps // 10)
    use_amp = device.type == "cuda"
    history: dict[str, Any] = {"step": [], "loss": [], "lr": []}
    model.train()
    t0 = time.perf_counter()
    end = steps if stop_at is None else max(start, min(steps, int(stop_at)))
    for step in range(start, end):
        cur_lr = warmup_cosine(step, steps, lr, warmup, cfg.min_lr_ratio)
        for g in opt.param_groups:
            g["lr"] = cur_lr
        idx = epoch_batch(n, batch_size - n_rare, step, seed)
        if n_rare:
            idx = np.concatenate([idx, np.random.default_rng([seed, step, 7]).choice(rare_rows, n_rare)])
        x = torch.from_numpy(data[idx])[:, None].to(device)
        t = torch.from_numpy(y[idx]).to(device)
        w = torch.from_numpy(known[idx]).to(device)
        gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + step)
        if cfg.augment:
            x = augment_batch(x, cfg, gen)
        x = x.contiguous(memory_format=fmt)
        with torch.random.fork_rng(devices=[]):  # dropout: seeded per step, global RNG untouched
            torch.manual_seed(int(seed) * 1_000_003 + step)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
                logits = model(x)
        loss = (crit(logits.float(), t) * w).sum() / w.sum().clamp(min=1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        rec = {"step": step + 1, "loss": loss.item(), "lr": cur_lr}
        for k, v in rec.items():
            history[k].append(v)
        if log is not None and ((step + 1) % log_every == 0 or step + 1 == end):
            log({**rec, "seconds": time.perf_counter() - t0})
    history["seconds"] = time.perf_counter() - t0
    history["pos_weight"] = pos_weight.tolist()
    model.to(memory_format=torch.contiguous_format)
    model.eval()
    state_opt = copy.deepcopy(opt.state_dict())
    history["state"] = {
        "model": {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()},
        "optimizer": contiguous_state(state_opt),
        "step": max(start, end),
        "seed": seed,
        "config": cfg.to_json(),
    }
    return model, history

