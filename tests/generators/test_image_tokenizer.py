"""FSQ image tokenizer: sizes, code range, determinism, training, resume; and the shared pixel helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from medmint.generators.diffusion.image_tokenizer import (
    FSQ,
    ImageTokenizer,
    ImageTokenizerConfig,
    psnr,
    reconstruction_report,
    train_image_tokenizer,
)
from medmint.generators.diffusion.layout import VocabLayout
from medmint.generators.phantom import sample_case
from medmint.imaging import from_unit, prepare_images, resize_area, to_unit

# Small enough for CI (2 cores, tests in 2 workers), big enough to learn something in ~100 steps.
SMALL = ImageTokenizerConfig(resolution=64, channels=(16, 32, 64), stem_channels=8, warmup_steps=10)
TINY = ImageTokenizerConfig(resolution=32, channels=(8, 8, 8), stem_channels=4)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def phantom() -> np.ndarray:
    """48 phantom chest films, 128 px, 12-bit (the tokenizer area-resizes them to 64)."""
    return np.stack([sample_case(seed, size=128).image for seed in range(48)])


@pytest.fixture(scope="module")
def trained(phantom):
    untrained = ImageTokenizer(SMALL)
    model, history = train_image_tokenizer(phantom[:36], SMALL, steps=120, batch_size=16, lr=2e-3, seed=0)
    return untrained, model, history


# --- the shared pixel helpers (medmint.imaging) ------------------------------------------------


def test_unit_round_trip_is_exact_for_every_12_bit_value():
    values = np.arange(4096, dtype=np.uint16).reshape(64, 64)
    x = to_unit(values, 12)
    assert x.dtype == np.float32 and x.min() == -1.0 and x.max() == 1.0
    assert np.array_equal(from_unit(x, 12), values)
    assert to_unit(np.array([[5000]], dtype=np.uint16), 12)[0, 0] == 1.0  # above 2**bits - 1: clipped


def test_per_image_bits_stored():
    imgs = np.array([[[255]], [[4095]]], dtype=np.uint16)
    assert np.allclose(to_unit(imgs, [8, 12]), 1.0)
    with pytest.raises(ValueError):
        to_unit(imgs, [8, 12, 16])
    with pytest.raises(ValueError):
        to_unit(imgs.astype(np.float32), 12)


def test_resize_area_is_a_box_filter():
    rng = np.random.default_rng(0)
    x = rng.random((3, 100, 70)).astype(np.float32)
    for size in [(50, 35), (30, 20), (64, 64)]:
        y = resize_area(x, size)
        assert y.shape == (3, *size)
        assert np.allclose(y.mean(axis=(1, 2)), x.mean(axis=(1, 2)), atol=1e-5)  # area preserved
    ref = F.interpolate(torch.from_numpy(x)[:, None], size=(50, 35), mode="area")[:, 0].numpy()
    assert np.allclose(resize_area(x, (50, 35)), ref, atol=1e-5)
    # a one-pixel line survives a 3.3x reduction with its energy intact (no aliasing away)
    line = np.zeros((100, 100), np.float32)
    line[:, 47] = 1.0
    assert np.isclose(resize_area(line, 30).sum(axis=1), 30 / 100).all()


def test_prepare_images_accepts_cases_pairs_and_mixed_sizes():
    a = sample_case(1, size=64)
    out = prepare_images([a, (np.full((40, 30), 255, np.uint16), 8), np.zeros((128, 128), np.uint16)], 32, 12)
    assert out.shape == (3, 32, 32) and out.dtype == np.float32
    assert np.allclose(out[1], 1.0) and np.allclose(out[2], -1.0)
    with pytest.raises(ValueError):
        prepare_images(np.zeros((2, 8, 8), np.uint16), 4)  # an array needs bits_stored


# --- config and FSQ ---------------------------------------------------------------------------


def test_default_config_matches_the_vocab_layout():
    cfg = ImageTokenizerConfig()
    layout = VocabLayout()
    assert cfg.codebook_size == layout.image_codes == 1000
    assert cfg.tokens_per_image == layout.image_tokens == 256
    assert ImageTokenizerConfig.from_json(cfg.to_json()) == cfg


@pytest.mark.parametrize("bad", [dict(downsample=6, channels=(8, 8)), dict(channels=(8, 8)),
                                 dict(resolution=100), dict(levels=(8, 1, 5))])
def test_bad_configs_are_refused(bad):
    with pytest.raises(ValueError):
        ImageTokenizerConfig(**bad)


def test_fsq_reaches_every_code_and_round_trips():
    fsq = FSQ((8, 5, 5, 5))
    z = torch.randn(200_000, 4, generator=torch.Generator().manual_seed(0)) * 3
    values, codes = fsq(z)
    assert codes.dtype == torch.int64 and int(codes.min()) == 0 and int(codes.max()) == 999
    assert len(torch.unique(codes)) == 1000  # even and odd levels alike: no dead or extra digit
    assert values.abs().max() <= 1.0
    assert torch.equal(fsq.codes_to_values(codes), values)
    with pytest.raises(ValueError):
        fsq.codes_to_values(torch.tensor([1000]))


def test_fsq_passes_gradients_straight_through():
    fsq = FSQ((8, 5))
    z = torch.randn(16, 2, requires_grad=True)
    fsq(z)[0].sum().backward()
    assert z.grad is not None and (z.grad != 0).all()


# --- encode / decode ----------------------------------------------------------------------------


def test_codes_shape_range_and_determinism(phantom):
    model = ImageTokenizer(SMALL)
    codes = model.encode(phantom[:5], 12)
    assert codes.shape == (5, SMALL.tokens_per_image) == (5, 64) and codes.dtype == np.int64
    assert codes.min() >= 0 and codes.max() < model.codebook_size
    assert np.array_equal(codes, model.encode(phantom[:5], 12))
    assert np.array_equal(codes[2:3], model.encode(phantom[2:3], 12))  # batching does not matter
    images = model.decode(codes)
    assert images.shape == (5, 64, 64) and images.dtype == np.uint16 and images.max() <= 4095
    assert np.array_equal(images, model.decode(codes))
    assert model.training  # encode/decode restore the mode they found


def test_encode_normalises_bits_and_size(phantom):
    model = ImageTokenizer(SMALL)
    img12 = phantom[:2]
    img8 = (img12 >> 4).astype(np.uint16)
    same = (model.encode(img12, 12) == model.encode(img8, 8)).mean()
    assert same > 0.9  # same picture at 8 bits: (nearly) the same codes
    small = from_unit(resize_area(to_unit(img12, 12), 64), 12)
    assert (model.encode(small, 12) == model.encode(img12, 12)).mean() > 0.9


def test_decode_refuses_bad_codes():
    model = ImageTokenizer(TINY)
    with pytest.raises(ValueError):
        model.decode(np.full((1, TINY.tokens_per_image), TINY.codebook_size))
    with pytest.raises(ValueError):
        model.decode(np.zeros((1, TINY.tokens_per_image + 1), np.int64))
    with pytest.raises(ValueError):
        model.decode(np.zeros((1, TINY.tokens_per_image), np.float32))


def test_psnr_helper():
    a = np.zeros((2, 8, 8), np.uint16)
    b = a.copy()
    b[0] += 10
    b[1] += 100
    p = psnr(a, b, 12)
    assert np.allclose(p, [20 * np.log10(4095 / 10), 20 * np.log10(4095 / 100)])
    assert psnr(a[0], a[0], 12) == np.inf
    with pytest.raises(ValueError):
        psnr(a, a[:1], 12)


# --- training -------------------------------------------------------------------------------


def test_training_raises_psnr_clearly(trained, phantom):
    untrained, model, history = trained
    held_out = phantom[36:]
    before = reconstruction_report(untrained, held_out, 12)
    after = reconstruction_report(model, held_out, 12)
    assert after["psnr_db"] > before["psnr_db"] + 8, (before, after)
    assert after["psnr_db"] > 22 and after["edge_psnr_db"] > before["edge_psnr_db"] + 5
    assert after["n_images"] == 12 and 0 < after["codebook_usage"] <= 1
    assert np.mean(history["loss"][-10:]) < 0.6 * np.mean(history["loss"][:10])
    assert history["step"] == list(range(1, 121)) and history["state"]["step"] == 120
    assert not model.training


def test_trained_weights_survive_safetensors_and_json(trained, phantom, tmp_path):
    from safetensors.torch import load_file, save_file

    _, model, _ = trained
    save_file(model.state_dict(), tmp_path / "image_tokenizer.safetensors")
    loaded = ImageTokenizer.load(model.to_json(), load_file(tmp_path / "image_tokenizer.safetensors"))
    codes = model.encode(phantom[36:40], 12)
    assert np.array_equal(loaded.encode(phantom[36:40], 12), codes)
    assert np.array_equal(loaded.decode(codes), model.decode(codes))


def test_same_seed_same_weights_on_cpu(phantom):
    runs = [train_image_tokenizer(phantom[:8], TINY, steps=3, batch_size=4, seed=s)[0] for s in (5, 5, 6)]
    a, b, c = (r.state_dict() for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_resume_continues_exactly_where_it_stopped(phantom):
    data = phantom[:10]
    kwargs = dict(batch_size=4, lr=3e-3, seed=1)
    straight, h_straight = train_image_tokenizer(data, TINY, steps=6, **kwargs)
    _, h_first = train_image_tokenizer(data, TINY, steps=6, stop_at=3, **kwargs)
    assert h_first["step"] == [1, 2, 3] and h_first["loss"] == h_straight["loss"][:3]
    saved = {k: v.clone() for k, v in h_first["state"]["model"].items()}
    resumed, h_rest = train_image_tokenizer(data, TINY, steps=6, resume_state=h_first["state"], **kwargs)
    assert h_rest["step"] == [4, 5, 6] and h_rest["state"]["step"] == 6
    assert h_rest["loss"] == h_straight["loss"][3:]
    assert all(torch.equal(v, resumed.state_dict()[k]) for k, v in straight.state_dict().items())
    # the caller's state is untouched
    assert all(torch.equal(v, h_first["state"]["model"][k]) for k, v in saved.items())
    # a finished run resumed to the same step count trains no further
    again, h_none = train_image_tokenizer(data, TINY, steps=6, resume_state=h_rest["state"], **kwargs)
    assert h_none["step"] == []
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in resumed.state_dict().items())
    with pytest.raises(ValueError, match="different ImageTokenizerConfig"):
        train_image_tokenizer(data, ImageTokenizerConfig(resolution=32, channels=(8, 8, 16), stem_channels=4),
                              steps=6, resume_state=h_first["state"], **kwargs)


def test_perceptual_loss_trains_through_a_frozen_critic(phantom):
    from dataclasses import replace

    from medmint.generators.diffusion.image_tokenizer import frozen_feature_maps
    from medmint.validators.findings_classifier import FindingsClassifier, FindingsClassifierConfig

    critic = FindingsClassifier(FindingsClassifierConfig(resolution=32, channels=(8, 16)))
    before = {k: v.clone() for k, v in critic.state_dict().items()}
    cfg = replace(TINY, perceptual_weight=1.0)
    with pytest.raises(ValueError, match="perceptual network"):
        train_image_tokenizer(phantom[:8], cfg, steps=2, batch_size=4)
    _, history = train_image_tokenizer(phantom[:8], cfg, steps=3, batch_size=4, seed=0,
                                       perceptual=frozen_feature_maps(critic))
    assert all(p > 0 for p in history["perceptual"])
    # the loss adds the weighted perceptual term to the pixel terms
    assert history["loss"][0] == pytest.approx(history["l1"][0] + history["mse"][0] + history["edge"][0]
                                               + history["perceptual"][0], rel=1e-5)
    assert all(torch.equal(v, critic.state_dict()[k]) for k, v in before.items())  # the critic stays fixed
    # a critic at another resolution sees the reconstruction resized to its own
    other = FindingsClassifier(FindingsClassifierConfig(resolution=64, channels=(8, 16)))
    _, h2 = train_image_tokenizer(phantom[:8], cfg, steps=1, batch_size=4, perceptual=frozen_feature_maps(other))
    assert h2["perceptual"][0] > 0
