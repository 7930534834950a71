"""A ``transformers`` decoder used as a bidirectional denoiser with zero-initialised adaLN.

Why a stock decoder: the Llama / Qwen2 / Gemma blocks are well tested, fast kernels exist for them,
and a local pretrained checkpoint (MeDiM starts from Liquid/Gemma) can be dropped in. Two changes
turn a causal LM body into a diffusion denoiser:

1. **No causal mask.** Every forward passes an explicit 4-D mask ``[B, 1, 1, L]`` (bool for
   ``sdpa``: True = may attend; additive float for ``eager``: 0 / dtype-min). In transformers 5.x
   ``create_causal_mask`` returns a 4-D mask unchanged (``_preprocess_mask_arguments`` early exit),
   and ``sdpa_attention_forward`` only sets ``is_causal=True`` when the mask is ``None``; so the
   explicit mask alone makes attention bidirectional. As defence in depth we also set
   ``config.is_causal = False`` (selects ``create_bidirectional_mask`` should a mask ever be
   rebuilt), ``config.use_bidirectional_attention = True`` (Gemma reads it) and ``is_causal = False``
   on every attention module (read by sdpa / flash when no mask is given). Measured on 5.23: each
   flag alone is not enough for every attention implementation (the module flag alone stays causal
   under ``eager``), the explicit mask is.
2. **adaLN timestep conditioning.** Per decoder layer a ``Linear(cond -> 6 * hidden)`` (after SiLU)
   gives shift/scale/gate for the attention and MLP branches. It is attached with forward hooks on
   the layer's ``input_layernorm`` / ``post_attention_layernorm`` (output -> x * (1 + scale) + shift)
   and ``self_attn`` / ``mlp`` (branch output -> out * (1 + gate)). Hooks leave the HF module tree
   and its state-dict keys untouched (a pretrained body loads as-is; the wrapped model can still be
   ``save_pretrained``) and do not depend on the layer's ``forward`` code, only on the four
   submodule names shared by the three families. The projections are zero-initialised, so at init
   the network is exactly the plain backbone and independent of t.

The per-forward modulation tensors live in a slot that is kept after the forward (gradient
checkpointing re-runs the layer during backward and must see them again) but is never deep-copied
or pickled (an EMA ``deepcopy`` of a model right after a training step would otherwise fail).
"""

from __future__ import annotations

import copy
import json
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

FAMILIES = ("llama", "qwen2", "gemma")
ATTN_IMPLEMENTATIONS = ("sdpa", "eager")
_LAYER_PARTS = ("input_layernorm", "self_attn", "post_attention_layernorm", "mlp")


def build_hf_backbone(spec: Mapping[str, Any]) -> "nn.Module":
    """A base decoder (``LlamaModel`` / ``Qwen2Model`` / ``GemmaModel``), never touching a hub.

    ``spec`` is one of:
      - ``{"family": "llama" | "qwen2" | "gemma", **config kwargs}`` (family defaults to llama);
      - ``{"family": ..., "config": {full config dict}}`` (what :func:`backbone_spec` writes);
      - ``{"pretrained": "/local/path"}`` (``AutoModel.from_pretrained(..., local_files_only=True)``).
    Optional ``attn_implementation``: ``sdpa`` (default) or ``eager``.
    The backbone's own token embedding is replaced by a 1-row placeholder: the diffusion model
    feeds ``inputs_embeds`` from its own vocabulary, so a 256k-row pretrained table is dead weight.
    """
    from transformers import CONFIG_MAPPING, AutoConfig, AutoModel

    spec = dict(spec)
    attn = spec.pop("attn_implementation", "sdpa")
    if attn not in ATTN_IMPLEMENTATIONS:
        raise ValueError(f"backbone attn_implementation {attn!r}: expected one of {ATTN_IMPLEMENTATIONS}")
    pretrained = spec.pop("pretrained", None)
    family = spec.pop("family", None)
    if pretrained is not None:
        if spec:
            raise ValueError(f"backbone: 'pretrained' takes no config keys, got {sorted(spec)}")
        model = AutoModel.from_pretrained(
            str(pretrained), local_files_only=True, attn_implementation=attn, dtype=torch.float32
        )
        family = model.config.model_type
    else:
        family = family or "llama"
        if family not in FAMILIES:
            raise ValueError(f"backbone family {family!r}: expected one of {FAMILIES}")
        full = spec.pop("config", None)
        if full is not None:
            if spec:
                raise ValueError(f"backbone: 'config' excludes other keys, got {sorted(spec)}")
            if full.get("model_type", family) != family:
                raise ValueError(f"backbone family {family!r} but config model_type {full['model_type']!r}")
            config = CONFIG_MAPPING[family].from_dict(dict(full))
        else:
            spec.setdefault("vocab_size", 1)
            for key in ("bos_token_id", "eos_token_id", "pad_token_id"):  # no token table: no special ids
                spec.setdefault(key, None)
            if "head_dim" not in spec and "hidden_size" in spec and "num_attention_heads" in spec:
                spec["head_dim"] = spec["hidden_size"] // spec["num_attention_heads"]  # Gemma defaults to 256
            config = AutoConfig.for_model(family, **spec)
        model = AutoModel.from_config(config, attn_implementation=attn)
    if model.config.model_type not in FAMILIES:
        raise ValueError(f"backbone model_type {model.config.model_type!r}: expected one of {FAMILIES}")
    _check_structure(model)
    _make_bidirectional(model)
    if model.get_input_embeddings().num_embeddings != 1:
        model.set_input_embeddings(nn.Embedding(1, model.config.hidden_size))
        model.config.vocab_size = 1
        model.config.bos_token_id = model.config.eos_token_id = model.config.pad_token_id = None
    model.config.use_cache = False
    return model


def backbone_spec(model: nn.Module) -> dict[str, Any]:
    """The JSON-able spec that rebuilds ``model``'s architecture (not its weights)."""
    config = model.config
    return {
        "family": config.model_type,
        "attn_implementation": config._attn_implementation,
        "config": json.loads(json.dumps(config.to_dict())),  # JSON-normal (int dict keys become str)
    }


def _check_structure(model: nn.Module) -> None:
    layers = getattr(model, "layers", None)
    if not isinstance(layers, nn.ModuleList) or len(layers) == 0:
        raise ValueError(f"backbone {type(model).__name__}: no decoder layers at .layers")
    for part in _LAYER_PARTS:
        if not isinstance(getattr(layers[0], part, None), nn.Module):
            raise ValueError(f"backbone {type(model).__name__}: decoder layer has no .{part}; adaLN needs it")


def _make_bidirectional(model: nn.Module) -> None:
    model.config.is_causal = False
    model.config.use_bidirectional_attention = True
    for module in model.modules():
        if hasattr(module, "is_causal"):
            module.is_causal = False


def attention_mask_4d(
    batch: int,
    length: int,
    key_padding_mask: torch.Tensor | None,
    attn_implementation: str,
    device: torch.device,
) -> torch.Tensor:
    """All-visible 4-D mask ``[B, 1, 1, L]``; keys where ``key_padding_mask`` is True are hidden."""
    visible = torch.ones(batch, 1, 1, length, dtype=torch.bool, device=device)
    if key_padding_mask is not None:
        visible = visible & ~key_padding_mask.to(device=device, dtype=torch.bool)[:, None, None, :]
    if attn_implementation == "sdpa":
        return visible
    return torch.zeros(visible.shape, device=device).masked_fill(~visible, torch.finfo(torch.float32).min)


class _Slot:
    """Holds one forward's modulation tensors; copies and pickles come back empty."""

    def __init__(self) -> None:
        self.value: tuple[torch.Tensor, ...] | None = None

    def __deepcopy__(self, memo: dict) -> "_Slot":
        return _Slot()

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.value = None


class LayerAdaLN(nn.Module):
    """One layer's shift/scale/gate projection and the four hooks that apply it."""

    def __init__(self, cond_dim: int, hidden_size: int) -> None:
        super().__init__()
        self.proj = nn.Linear(cond_dim, 6 * hidden_size)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)
        self._slot = _Slot()

    def set(self, cond: torch.Tensor | None) -> None:
        """cond: [B, cond_dim] (already SiLU-activated) or None (hooks become no-ops)."""
        self._slot.value = None if cond is None else tuple(self.proj(cond)[:, None, :].chunk(6, dim=-1))

    def _get(self, i: int) -> torch.Tensor | None:
        mods = self._slot.value
        return None if mods is None else mods[i]

    # hooks: (module, args, output) -> new output
    def modulate_attn_input(self, module: nn.Module, args: Any, out: torch.Tensor) -> torch.Tensor:
        return self._modulate(out, 0)

    def gate_attn_output(self, module: nn.Module, args: Any, out: Any) -> Any:
        return self._gate(out, 2)

    def modulate_mlp_input(self, module: nn.Module, args: Any, out: torch.Tensor) -> torch.Tensor:
        return self._modulate(out, 3)

    def gate_mlp_output(self, module: nn.Module, args: Any, out: Any) -> Any:
        return self._gate(out, 5)

    def _modulate(self, x: torch.Tensor, i: int) -> torch.Tensor:
        shift, scale = self._get(i), self._get(i + 1)
        if shift is None:
            return x
        return (x * (1 + scale) + shift).to(x.dtype)

    def _gate(self, out: Any, i: int) -> Any:
        gate = self._get(i)
        if gate is None:
            return out
        if isinstance(out, tuple):
            return ((out[0] * (1 + gate)).to(out[0].dtype), *out[1:])
        return (out * (1 + gate)).to(out.dtype)


class AdaLNBackbone(nn.Module):
    """Bidirectional decoder body + per-layer adaLN driven by a conditioning vector."""

    def __init__(self, model: nn.Module, cond_dim: int) -> None:
        super().__init__()
        _check_structure(model)
        _make_bidirectional(model)
        self.model = model
        hidden = model.config.hidden_size
        self.adaln = nn.ModuleList(LayerAdaLN(cond_dim, hidden) for _ in model.layers)
        for layer, ada in zip(model.layers, self.adaln):
            layer.input_layernorm.register_forward_hook(ada.modulate_attn_input)
            layer.self_attn.register_forward_hook(ada.gate_attn_output)
            layer.post_attention_layernorm.register_forward_hook(ada.modulate_mlp_input)
            layer.mlp.register_forward_hook(ada.gate_mlp_output)

    @property
    def hidden_size(self) -> int:
        return self.model.config.hidden_size

    @property
    def attn_implementation(self) -> str:
        return self.model.config._attn_implementation

    def set_condition(self, cond: torch.Tensor | None) -> None:
        act = None if cond is None else F.silu(cond)
        for ada in self.adaln:
            ada.set(act)

    def forward(
        self,
        inputs_embeds: torch.Tensor,
        cond: torch.Tensor | None,
        key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """[B, L, H] embeddings, [B, C] condition (None = plain backbone) -> [B, L, H] (final-normed)."""
        batch, length = inputs_embeds.shape[:2]
        device = inputs_embeds.device
        mask = attention_mask_4d(batch, length, key_padding_mask, self.attn_implementation, device)
        self.set_condition(cond)
        return self.model(inputs_embeds=inputs_embeds, attention_mask=mask, use_cache=False).last_hidden_state

    def plain_copy(self) -> nn.Module:
        """A hook-free copy of the HF body with the same weights (for tests and export)."""
        from transformers import AutoModel

        config = copy.deepcopy(self.model.config)
        plain = AutoModel.from_config(config, attn_implementation=self.attn_implementation)
        plain.set_input_embeddings(nn.Embedding(1, self.hidden_size))
        plain.load_state_dict(self.model.state_dict())
        return plain.to(next(self.model.parameters()).device)
