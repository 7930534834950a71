"""The diffusion core on tiny configs: backbone, adaLN, logits, noise, loss, sampler, a toy fit."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch

from medmint.generators.diffusion.backbone import attention_mask_4d
from medmint.generators.diffusion.layout import (
    EOT, LABEL_STATES, MASK, NULL, PAD, SEG_COND, SEG_IMAGE, SEG_MARK, SEG_TEXT, VocabLayout,
)
from medmint.generators.diffusion.model import MeDiMModel
from medmint.generators.diffusion.noise import (
    MODES, NoiseConfig, corrupt, corrupt_detailed, diffusion_loss, loss_weight, move_chance, sample_t, sigma,
)
from medmint.generators.diffusion.sampler import SamplerConfig, init_sequence, sample

LAYOUT = VocabLayout(labels=("A", "B", "C"), text_vocab=50, image_codes=20, image_tokens=16, text_length=12)


def tiny_arch(family: str = "llama", attn: str = "sdpa", hidden: int = 32, **extra) -> dict:
    backbone = {"family": family, "hidden_size": hidden, "num_hidden_layers": 2, "num_attention_heads": 4,
                "num_key_value_heads": 2, "intermediate_size": 2 * hidden, "attn_implementation": attn}
    return {"backbone": backbone, **extra}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_model(family: str = "llama", attn: str = "sdpa", seed: int = 0, **extra) -> MeDiMModel:
    torch.manual_seed(seed)
    return MeDiMModel(LAYOUT, tiny_arch(family, attn, **extra)).eval()


def random_clean(layout: VocabLayout, batch: int, seed: int) -> torch.Tensor:
    """Valid clean sequences: random conditions, codes and report lengths (EOT then PAD)."""
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(batch):
        findings = {label: LABEL_STATES[rng.integers(4)] for label in layout.labels}
        cond = layout.condition_ids(findings, "PA", "F", "40-49")
        text = rng.integers(0, layout.text_vocab, rng.integers(0, layout.text_length)).tolist()
        seqs.append(layout.assemble(cond, rng.integers(0, layout.image_codes, layout.image_tokens), text))
    return torch.as_tensor(np.stack(seqs))


def perturb_adaln(model: MeDiMModel, std: float = 0.2, seed: int = 1) -> None:
    """Biases ~ N(0, std), weights ~ N(0, 25 std) (the timestep vector is small at init)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in [*model.backbone.adaln.named_parameters(), *model.final_adaln.named_parameters()]:
            p.copy_(torch.randn(p.shape, generator=g) * std * (25 if name.endswith("weight") else 1))


# --- backbone -------------------------------------------------------------------------------------
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
@pytest.mark.parametrize("family", ["llama", "qwen2", "gemma"])
def test_backbone_builds_runs_and_is_bidirectional(family, attn):
    model = tiny_model(family, attn)
    assert model.backbone.model.config.model_type == family
    ids = random_clean(LAYOUT, 2, seed=0)
    t = torch.tensor([0.3, 0.9])
    with torch.no_grad():
        logits = model(ids, t)
        assert logits.shape == (2, LAYOUT.seq_len, LAYOUT.vocab_size)
        assert torch.isfinite(logits[:, LAYOUT.text_start]).any(-1).all()
        # Only the last token changes: a causal model would leave position 0 untouched.
        changed = ids.clone()
        changed[:, -1] = LAYOUT.text_offset + (changed[:, -1] - LAYOUT.text_offset + 1) % LAYOUT.text_vocab
        emb, emb2 = model.token_embedding(ids), model.token_embedding(changed)
        cond = model.timestep(model.sigma(t))
        h, h2 = model.backbone(emb, cond), model.backbone(emb2, cond)
    assert (h[:, 0] - h2[:, 0]).abs().max() > 1e-5
    assert (model(changed, t)[:, 0] - logits[:, 0]).abs().max() > 1e-5


def test_key_padding_mask_hides_keys_in_both_attention_implementations():
    for attn in ("sdpa", "eager"):
        model = tiny_model("llama", attn)
        x = torch.randn(1, LAYOUT.seq_len, 32)
        x2 = x.clone()
        x2[:, -1] += 3.0
        pad = torch.zeros(1, LAYOUT.seq_len, dtype=torch.bool)
        pad[:, -1] = True
        with torch.no_grad():
            h, h2 = model.backbone(x, None, pad), model.backbone(x2, None, pad)
        torch.testing.assert_close(h[:, :-1], h2[:, :-1])
    mask = attention_mask_4d(2, 5, None, "eager", torch.device("cpu"))
    assert mask.shape == (2, 1, 1, 5) and mask.dtype == torch.float32 and (mask == 0).all()


def test_adaln_is_zero_initialised_identity_and_t_independent():
    model = tiny_model("llama")
    plain = model.backbone.plain_copy().eval()
    x = torch.randn(3, LAYOUT.seq_len, 32)
    cond = model.timestep(model.sigma(torch.tensor([0.05, 0.5, 1.0])))
    mask = attention_mask_4d(3, LAYOUT.seq_len, None, "sdpa", x.device)
    with torch.no_grad():
        hooked = model.backbone(x, cond)
        reference = plain(inputs_embeds=x, attention_mask=mask).last_hidden_state
        ids = random_clean(LAYOUT, 2, seed=1)
        a, b = model(ids, torch.tensor([0.01, 0.02])), model(ids, torch.tensor([0.97, 1.0]))
    assert torch.equal(hooked, reference)
    assert torch.equal(a, b)


def test_adaln_after_perturbation_depends_on_t_in_every_layer():
    model = tiny_model("qwen2")
    x = torch.randn(2, LAYOUT.seq_len, 32)
    lo, hi = (model.timestep(model.sigma(torch.full((2,), t))) for t in (0.2, 0.9))
    with torch.no_grad():
        base = model.backbone(x, lo)
        for layer in range(len(model.backbone.adaln)):
            m = copy.deepcopy(model)
            m.backbone.adaln[layer].proj.bias.normal_(0, 0.2)  # t-independent part: is the hook applied?
            m.backbone.adaln[layer].proj.weight.normal_(0, 5.0)  # the conditioning vector is small at init
            out_lo, out_hi = m.backbone(x, lo), m.backbone(x, hi)
            assert (out_lo - base).abs().max() > 1e-3, f"layer {layer} hook not applied"
            assert (out_lo - out_hi).abs().max() > 1e-3, f"layer {layer} ignores t"
        perturb_adaln(model)
        ids = random_clean(LAYOUT, 2, seed=2)
        a, b = (model(ids, torch.full((2,), t), restrict=False) for t in (0.2, 0.9))
        assert (a - b).abs().max() > 1e-3


def test_deepcopy_after_a_training_forward_keeps_hooks_on_the_copy():
    model = tiny_model("gemma").train()
    ids = random_clean(LAYOUT, 2, seed=3)
    model(ids, torch.tensor([0.5, 0.5])).sum().backward()
    ema = copy.deepcopy(model)  # an EMA copy right after a step must work
    perturb_adaln(ema)
    with torch.no_grad():
        t = torch.tensor([0.3, 0.7])
        assert not torch.equal(ema(ids, t), model(ids, t))
        assert torch.equal(model(ids, t), model(ids, torch.tensor([0.9, 0.1])))  # original still zero-init


# --- model ----------------------------------------------------------------------------------------
def test_logits_are_restricted_per_segment():
    model = tiny_model("llama")
    ids = random_clean(LAYOUT, 2, seed=4)
    with torch.no_grad():
        logits = model(ids, torch.tensor([0.4, 0.8]))
    finite = torch.isfinite(logits)
    seg = torch.as_tensor(LAYOUT.segments())
    vocab = torch.arange(LAYOUT.vocab_size)
    image_ids = (vocab >= LAYOUT.image_offset)
    text_ids = (vocab >= LAYOUT.text_offset) & (vocab < LAYOUT.image_offset)
    text_ids |= (vocab == EOT) | (vocab == PAD)
    assert torch.equal(finite[:, seg == SEG_IMAGE], image_ids.expand_as(finite[:, seg == SEG_IMAGE]))
    assert torch.equal(finite[:, seg == SEG_TEXT], text_ids.expand_as(finite[:, seg == SEG_TEXT]))
    assert not finite[:, (seg == SEG_IMAGE) | (seg == SEG_TEXT)][..., MASK].any()
    assert finite[:, (seg == SEG_COND) | (seg == SEG_MARK)].all()  # never predicted: unrestricted
    raw = model(ids, torch.tensor([0.4, 0.8]), restrict=False)
    assert torch.isfinite(raw).all()


def test_selected_logits_equal_the_full_logits_at_those_positions():
    model = tiny_model("llama", seed=2)
    ids = random_clean(LAYOUT, 3, seed=5)
    t = torch.tensor([0.2, 0.5, 0.9])
    sel = torch.rand(ids.shape, generator=torch.Generator().manual_seed(0)) < 0.4
    full = model(ids, t)
    picked = model(ids, t, select=sel)
    assert picked.shape == (int(sel.sum()), LAYOUT.vocab_size)
    torch.testing.assert_close(picked, full[sel], rtol=1e-5, atol=1e-5)
    assert torch.equal(torch.isinf(picked), torch.isinf(full[sel]))  # the same restriction per position


def test_arch_round_trip_parameter_count_and_flops():
    model = tiny_model("llama", segment_embedding=False)
    data = json.loads(json.dumps(model.to_json()))
    clone = MeDiMModel.from_json(data)
    clone.load_state_dict(model.state_dict(), strict=True)
    ids = random_clean(LAYOUT, 2, seed=5)
    t = torch.tensor([0.3, 0.6])
    with torch.no_grad():
        assert torch.equal(clone.eval()(ids, t), model(ids, t))
    assert clone.to_json() == data and clone.segment_embedding is None
    assert clone.num_parameters() == model.num_parameters() == sum(p.numel() for p in model.parameters())

    h, i, layers, v, length = 32, 64, 2, LAYOUT.vocab_size, LAYOUT.seq_len
    kv = 2 * (h // 4)  # 2 kv heads of head_dim 8
    per_token = layers * (2 * h * h + 2 * h * kv + 3 * h * i) + h * v
    per_seq = 256 * h + h * h + layers * h * 6 * h + h * 2 * h
    expected = 2 * per_token * length + 2 * per_seq + 4 * length * length * h * layers
    assert model.flops_per_forward() == expected
    assert model.flops_per_forward(2 * length) > 2 * model.flops_per_forward(length)


def test_unknown_arch_and_family_fail_clearly():
    with pytest.raises(ValueError, match="unknown keys"):
        MeDiMModel(LAYOUT, {"hidden": 32})
    with pytest.raises(ValueError, match="family"):
        MeDiMModel(LAYOUT, {"backbone": {"family": "gpt2"}})
    with pytest.raises(ValueError, match=r"ids shape"):
        tiny_model()(torch.zeros(1, 5, dtype=torch.long), torch.zeros(1))


def test_local_pretrained_backbone_loads_without_a_hub(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(7)
    lm = LlamaForCausalLM(LlamaConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, head_dim=8,
                                      num_key_value_heads=2, intermediate_size=64, vocab_size=300))
    lm.save_pretrained(tmp_path / "lm")
    model = MeDiMModel(LAYOUT, {"backbone": {"pretrained": str(tmp_path / "lm")}})
    loaded = model.backbone.model.layers[1].self_attn.q_proj.weight
    assert torch.equal(loaded, lm.model.layers[1].self_attn.q_proj.weight)
    assert model.backbone.model.get_input_embeddings().num_embeddings == 1  # 300-row table dropped
    spec = model.to_json()["arch"]["backbone"]
    assert "pretrained" not in spec and spec["family"] == "llama"
    MeDiMModel.from_json(model.to_json())  # rebuilds from the recorded config, no path needed
    with pytest.raises(OSError):
        MeDiMModel(LAYOUT, {"backbone": {"pretrained": str(tmp_path / "missing")}})


# --- noise ----------------------------------------------------------------------------------------
def test_log_linear_schedule():
    eps = 1e-4
    t = torch.tensor([1e-3, 0.25, 0.5, 1.0], dtype=torch.float64)
    assert torch.allclose(move_chance(t, eps), 1 - torch.exp(-sigma(t, eps)))
    w = loss_weight(t, eps)
    assert torch.isfinite(w).all() and torch.allclose(w, 1 / t, rtol=1e-6)
    assert sigma(torch.tensor(1.0, dtype=torch.float64), eps).item() == pytest.approx(-math.log(eps))
    ts = sample_t(64, torch.Generator().manual_seed(0), NoiseConfig(), "cpu")
    gaps = ts.sort().values.diff()
    assert ts.min() >= 1e-3 and ts.max() <= 1
    assert torch.allclose(gaps, torch.full_like(gaps, gaps.mean()), atol=1e-5)  # antithetic: evenly spaced


def test_masking_rate_follows_t_and_only_touches_image_and_text():
    ids = random_clean(LAYOUT, 300, seed=6)
    seg = torch.as_tensor(LAYOUT.segments())
    pred = (seg == SEG_IMAGE) | (seg == SEG_TEXT)
    cfg = NoiseConfig(p_drop_all=0.0, p_drop_each=0.0)
    for t in (0.1, 0.5, 0.9):
        c = corrupt_detailed(ids, LAYOUT, torch.Generator().manual_seed(1), cfg,
                             t=torch.full((300,), t), modes=torch.zeros(300, dtype=torch.long))
        rate = c.loss_mask[:, pred].float().mean().item()
        assert rate == pytest.approx(t, abs=0.02)
        assert torch.equal(c.loss_mask, c.noisy_ids == MASK)
        assert not c.loss_mask[:, ~pred].any()
        assert torch.equal(c.noisy_ids[~c.loss_mask], ids[~c.loss_mask])
        # EOT / PAD positions are masked like any report token
        assert (c.loss_mask & ((ids == PAD) | (ids == EOT))).any()


def test_masking_modes_and_their_rates():
    n = 4000
    ids = random_clean(LAYOUT, n, seed=7)
    cfg = NoiseConfig(p_drop_all=0.0, p_drop_each=0.0)
    c = corrupt_detailed(ids, LAYOUT, torch.Generator().manual_seed(2), cfg)
    seg = torch.as_tensor(LAYOUT.segments())
    img, txt = seg == SEG_IMAGE, seg == SEG_TEXT
    probs = cfg.mode_weights()
    for i, name in enumerate(MODES):
        sel = c.modes == i
        assert sel.float().mean().item() == pytest.approx(probs[i].item(), abs=0.025), name
        lm = c.loss_mask[sel]
        if name == "image_only":
            assert lm[:, img].all() and not lm[:, txt].any() and (c.t[sel] == 1).all()
        elif name == "text_only":
            assert lm[:, txt].all() and not lm[:, img].any() and (c.t[sel] == 1).all()
        elif name == "image_at_t":
            assert not lm[:, txt].any() and lm[:, img].float().mean().item() == pytest.approx(
                c.t[sel].mean().item(), abs=0.05)
        elif name == "text_at_t":
            assert not lm[:, img].any() and lm[:, txt].any()
        else:
            assert lm[:, img].any() and lm[:, txt].any()
    only_image = NoiseConfig(mode_probs={"image_only": 1.0})
    noisy, loss_mask, t = corrupt(ids[:8], LAYOUT, torch.Generator().manual_seed(3), only_image)
    assert (noisy[:, img] == MASK).all() and torch.equal(noisy[:, txt], ids[:8][:, txt]) and (t == 1).all()


def test_condition_dropout_rates():
    n = 4000
    ids = random_clean(LAYOUT, n, seed=8)
    cfg = NoiseConfig(p_drop_all=0.1, p_drop_each=0.3)
    c = corrupt_detailed(ids, LAYOUT, torch.Generator().manual_seed(4), cfg)
    nc = LAYOUT.n_conditions
    is_null = c.noisy_ids[:, :nc] == NULL
    assert torch.equal(is_null, c.dropped)  # the clean conditions hold no NULL here
    slot_rate = 0.1 + 0.9 * 0.3
    all_rate = 0.1 + 0.9 * 0.3 ** nc
    assert is_null.float().mean(0).sub(slot_rate).abs().max().item() < 0.035
    assert is_null.all(1).float().mean().item() == pytest.approx(all_rate, abs=0.015)
    kept = ~is_null
    assert torch.equal(c.noisy_ids[:, :nc][kept], ids[:, :nc][kept])
    again = corrupt_detailed(ids, LAYOUT, torch.Generator().manual_seed(4), cfg)
    assert torch.equal(again.noisy_ids, c.noisy_ids) and torch.equal(again.t, c.t)


def test_loss_is_finite_near_t_0_and_1_and_backpropagates():
    model = tiny_model("llama").train()
    ids = random_clean(LAYOUT, 4, seed=9)
    g = torch.Generator().manual_seed(5)
    cfg = NoiseConfig()
    for t in (1e-3, 0.5, 1.0):
        model.zero_grad()
        loss, stats = diffusion_loss(model, ids, LAYOUT, g, cfg, t=torch.full((4,), t),
                                     modes=torch.zeros(4, dtype=torch.long))
        assert torch.isfinite(loss) and math.isfinite(stats["nll"])
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    loss, stats = diffusion_loss(model, ids, LAYOUT, g, cfg)
    assert loss.item() > 0 and set(stats) >= {"loss", "nll", "acc", "mask_frac", "mode/joint"}
    # at t = 1 the weight is 1: the loss is the summed CE over the predicted positions / their count
    joint = torch.zeros(4, dtype=torch.long)
    loss1, stats1 = diffusion_loss(model, ids, LAYOUT, g, cfg, t=torch.ones(4), modes=joint)
    assert stats1["mask_frac"] == pytest.approx(1.0, abs=1e-3)
    assert loss1.item() == pytest.approx(stats1["nll"] * stats1["mask_frac"], rel=1e-4)

    bad = ids.clone()
    bad[:, LAYOUT.text_start] = LAYOUT.image_offset  # an image code in the report
    with pytest.raises(ValueError, match="not allowed"):
        diffusion_loss(model, bad, LAYOUT, g, cfg, t=torch.ones(4), modes=torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="sigma_eps"):
        diffusion_loss(model, ids, LAYOUT, g, NoiseConfig(eps=1e-3))
    with pytest.raises(ValueError, match="unknown modes"):
        NoiseConfig(mode_probs={"joint": 1.0, "everything": 1.0})


# --- sampler --------------------------------------------------------------------------------------
def task_inits(layout: VocabLayout, seed: int = 0) -> dict[str, np.ndarray]:
    clean = random_clean(layout, 1, seed).numpy()[0]
    image, text = layout.split(clean)
    cond = layout.condition_ids({"A": 1}, "AP", None, None)
    return {
        "joint": init_sequence(layout, "joint", cond),
        "image_from_report": init_sequence(layout, "image_from_report", cond, text_ids=text),
        "report_from_image": init_sequence(layout, "report_from_image", cond, image_codes=image),
    }


@pytest.mark.parametrize("task", ["joint", "image_from_report", "report_from_image"])
def test_sampler_is_deterministic_fills_every_mask_and_keeps_prompts(task):
    model = tiny_model("llama", seed=3)
    init = torch.as_tensor(np.stack([task_inits(LAYOUT, s)[task] for s in range(3)]))
    cfg = SamplerConfig(steps=5, temperature=1.0, guidance=1.5)
    before = init.clone()
    out = sample(model, init, [11, 12, 13], LAYOUT, cfg)
    assert torch.equal(init, before)  # the caller's tensor is not filled in place
    assert out.dtype == torch.long and out.shape == init.shape
    assert not (out == MASK).any()
    given = init != MASK
    assert torch.equal(out[given], init[given])
    assert model.allowed[torch.arange(LAYOUT.seq_len), out].all()  # every token allowed where it sits
    assert torch.equal(sample(model, init, [11, 12, 13], LAYOUT, cfg), out)
    other = sample(model, init, [21, 22, 23], LAYOUT, cfg)
    assert not torch.equal(other, out)


def test_sample_does_not_depend_on_batch_neighbours():
    model = tiny_model("llama", seed=4)
    inits = task_inits(LAYOUT, 1)
    tasks = ("joint", "report_from_image", "image_from_report")
    batch = torch.as_tensor(np.stack([inits[task] for task in tasks]))
    cfg = SamplerConfig(steps=6, temperature=1.0, guidance=2.0)
    together = sample(model, batch, [5, 6, 7], LAYOUT, cfg)
    for i, seed in enumerate([5, 6, 7]):
        alone = sample(model, batch[i : i + 1], [seed], LAYOUT, cfg)
        assert torch.equal(alone[0], together[i]), f"sample {i} changed with its batch neighbours"


def test_guidance_changes_the_output_and_training_flag_is_restored():
    model = tiny_model("llama", seed=5).train()
    perturb_adaln(model, std=0.05)
    init = torch.as_tensor(np.stack([task_inits(LAYOUT, s)["image_from_report"] for s in range(4)]))
    plain = sample(model, init, [1, 2, 3, 4], LAYOUT, SamplerConfig(steps=4, guidance=0.0))
    guided = sample(model, init, [1, 2, 3, 4], LAYOUT, SamplerConfig(steps=4, guidance=4.0))
    assert not torch.equal(plain, guided)
    assert model.training


@pytest.mark.parametrize("per_modality", [False, True])
def test_per_modality_schedule_unmasks_each_modality_at_the_same_level(per_modality):
    """The model's forward sees the masked count of image and text at each step: with ``per_modality``
    both follow the arccos schedule on their own; without it, a model sure of the image and unsure
    of the text leaves the text masked while the image fills."""
    from medmint.generators.diffusion.sampler import arccos_schedule

    model = tiny_model("llama", seed=6)
    seg = torch.as_tensor(LAYOUT.segments())
    seen: list[tuple[int, int]] = []
    forward = model.forward

    def spy(ids, t, *args, **kwargs):
        masked = ids[0] == MASK
        seen.append((int((masked & (seg == SEG_IMAGE)).sum()), int((masked & (seg == SEG_TEXT)).sum())))
        logits = forward(ids, t, *args, **kwargs).clone()
        logits[:, seg == SEG_IMAGE] *= 50.0  # sharp (confident) on the image, flat on the text
        logits[:, seg == SEG_TEXT] *= 0.01
        return logits

    model.forward = spy
    init = torch.as_tensor(task_inits(LAYOUT)["joint"])[None]
    steps = 4
    out = sample(model, init, [3], LAYOUT, SamplerConfig(steps=steps, confidence_temperature=0.0,
                                                         per_modality=per_modality))
    assert not (out == MASK).any()
    n_img, n_txt = seen[0]
    assert (n_img, n_txt) == (LAYOUT.image_tokens, LAYOUT.text_length)
    after = seen[1:steps]
    if per_modality:
        want = [(math.floor(n_img * arccos_schedule(s / steps)), math.floor(n_txt * arccos_schedule(s / steps)))
                for s in range(1, steps)]
        assert after == want
    else:
        assert after[-1][1] > math.floor(n_txt * arccos_schedule((steps - 1) / steps))  # the text lags behind


def test_sampler_rejects_bad_inputs():
    model = tiny_model("llama")
    init = torch.as_tensor(task_inits(LAYOUT)["joint"])[None].clone()
    with pytest.raises(ValueError, match="seeds"):
        sample(model, init, [1, 2], LAYOUT, SamplerConfig())
    init[0, 0] = MASK
    with pytest.raises(ValueError, match="outside the image and text"):
        sample(model, init, [1], LAYOUT, SamplerConfig())
    with pytest.raises(ValueError, match="needs text_ids"):
        init_sequence(LAYOUT, "image_from_report", LAYOUT.condition_ids(None, None, None, None))
    with pytest.raises(ValueError):
        SamplerConfig(steps=0)


# --- a toy the model must learn -------------------------------------------------------------------
TOY = VocabLayout(labels=("A", "B"), text_vocab=50, image_codes=20, image_tokens=8, text_length=6)


def toy_sequence(code: int, finding_a, finding_b, view: str) -> tuple[np.ndarray, list[int]]:
    """Image: one code everywhere; report: [20 + code, 40 + state of A] (+ EOT, PAD)."""
    text = [20 + code, 40 + LABEL_STATES.index(finding_a)]
    cond = TOY.condition_ids({"A": finding_a, "B": finding_b}, view, None, None)
    return TOY.assemble(cond, np.full(TOY.image_tokens, code), text), text


@pytest.fixture(scope="module")
def toy_model() -> MeDiMModel:
    torch.manual_seed(0)
    model = MeDiMModel(TOY, {"backbone": {"family": "llama", "hidden_size": 64, "num_hidden_layers": 2,
                                          "num_attention_heads": 4, "num_key_value_heads": 4,
                                          "intermediate_size": 128}})
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    # t_min 0.05: with 32 samples the 1 / t weight of a t ~ 1e-3 draw dominates a clipped step and
    # can stall the condition lookup for hundreds of steps (seen across seeds); large batches average it out.
    rng, g, cfg = np.random.default_rng(0), torch.Generator().manual_seed(0), NoiseConfig(t_min=0.05)
    model.train()
    for _ in range(250):
        batch = [toy_sequence(int(rng.integers(20)), LABEL_STATES[rng.integers(4)],
                              LABEL_STATES[rng.integers(4)], ("PA", "AP", "LATERAL")[rng.integers(3)])[0]
                 for _ in range(32)]
        loss, _ = diffusion_loss(model, torch.as_tensor(np.stack(batch)), TOY, g, cfg)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return model.eval()


def toy_prompts(n: int = 16):
    rng = np.random.default_rng(123)
    return [(int(rng.integers(20)), LABEL_STATES[i % 4], LABEL_STATES[rng.integers(4)]) for i in range(n)]


def test_toy_report_from_image_copies_the_image_and_follows_the_condition(toy_model):
    prompts = toy_prompts()
    inits, wanted = [], []
    for code, a, b in prompts:
        seq, text = toy_sequence(code, a, b, "PA")
        image, _ = TOY.split(seq)
        inits.append(init_sequence(TOY, "report_from_image", seq[: TOY.n_conditions], image_codes=image))
        wanted.append(text)
    out = sample(toy_model, np.stack(inits), list(range(16)), TOY, SamplerConfig(steps=6, temperature=0.5))
    texts = [TOY.split(o.numpy())[1] for o in out]
    assert sum(t == w for t, w in zip(texts, wanted)) >= 14, list(zip(texts, wanted))
    report = out[:, TOY.text_start :]
    assert (report[:, 2] == EOT).float().mean() >= 14 / 16 and (report[:, 3:] == PAD).float().mean() >= 0.9


def test_toy_joint_and_image_from_report_are_consistent(toy_model):
    prompts = toy_prompts()
    joint = [init_sequence(TOY, "joint", TOY.condition_ids({"A": a, "B": b}, "AP", None, None))
             for _, a, b in prompts]
    # 14 steps = one token per step for 8 codes + 6 report positions: no two image codes are drawn
    # in the same step from a still-undecided image (parallel-decoding incoherence)
    cfg = SamplerConfig(steps=14, temperature=0.5)
    out = sample(toy_model, np.stack(joint), list(range(100, 116)), TOY, cfg)
    good = 0
    for o, (_, a, _) in zip(out.numpy(), prompts):
        image, text = TOY.split(o)
        good += len(set(image.tolist())) == 1 and text == [20 + int(image[0]), 40 + LABEL_STATES.index(a)]
    assert good >= 14

    from_report = [init_sequence(TOY, "image_from_report", TOY.condition_ids(None, None, None, None),
                                 text_ids=[20 + code, 40 + LABEL_STATES.index(a)]) for code, a, _ in prompts]
    cfg = SamplerConfig(steps=4, temperature=0.5)
    out = sample(toy_model, np.stack(from_report), list(range(16)), TOY, cfg)
    images = [TOY.split(o.numpy())[0] for o in out]
    assert sum((img == code).all() for img, (code, _, _) in zip(images, prompts)) >= 14
