import json

import pytest
import torch

from medmint.generators.diffusion.checkpoint import CheckpointError, save_checkpoint, verify_checkpoint
from medmint.generators.diffusion.text_tokenizer import TextTokenizer, join_sections, split_sections

REPORTS = [
    join_sections("Small left pleural effusion. No pneumothorax.", "Small left effusion."),
    join_sections("The lungs are clear. Heart size is normal.", "No acute cardiopulmonary process."),
    join_sections("Moderate cardiomegaly with mild pulmonary edema.", "Cardiomegaly and mild edema."),
] * 30


def test_bpe_round_trips_and_compresses():
    tok = TextTokenizer.train(REPORTS, vocab_size=400)
    for text in set(REPORTS):
        ids = tok.encode(text)
        assert tok.decode(ids) == text and len(ids) < len(text.split()) * 2
    unseen = join_sections("Ünïcode and 42 unseen wörds!", "OK.")
    assert tok.decode(tok.encode(unseen)) == unseen  # byte-level: nothing is unknown
    assert split_sections(unseen) == ("Ünïcode and 42 unseen wörds!", "OK.")
    assert split_sections("no headings at all") == ("no headings at all", "")


def test_tokenizer_saves_and_loads_identically(tmp_path):
    tok = TextTokenizer.train(REPORTS, vocab_size=300)
    tok.save(tmp_path / "t.json")
    again = TextTokenizer.from_file(tmp_path / "t.json")
    assert again.encode(REPORTS[0]) == tok.encode(REPORTS[0]) and again.vocab_size == tok.vocab_size


@pytest.fixture
def ckpt(tmp_path):
    d = tmp_path / "ckpt"
    sha = save_checkpoint(d, {"layout": {"x": 1}}, {"model.safetensors": {"w": torch.arange(6.0).reshape(2, 3)}},
                          {"text_tokenizer.json": "{}"})
    return d, sha


def test_checkpoint_round_trip_and_identity(ckpt, tmp_path):
    d, sha = ckpt
    loaded = verify_checkpoint(d)
    assert loaded.sha256 == sha and loaded.manifest["layout"] == {"x": 1}
    assert torch.equal(loaded.tensors("model.safetensors")["w"], torch.arange(6.0).reshape(2, 3))
    other = save_checkpoint(tmp_path / "other", {"layout": {"x": 2}}, {}, {})
    assert other != sha


def test_missing_corrupt_and_incompatible_checkpoints_name_the_file(ckpt, tmp_path):
    d, _ = ckpt
    with pytest.raises(CheckpointError, match="checkpoint folder not found"):
        verify_checkpoint(tmp_path / "nope")
    data = bytearray((d / "model.safetensors").read_bytes())
    data[-1] ^= 1
    (d / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"model\.safetensors: SHA-256 mismatch"):
        verify_checkpoint(d)
    (d / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"model\.safetensors: missing"):
        verify_checkpoint(d)
    (d / "SHA256SUMS").unlink()
    with pytest.raises(CheckpointError, match="SHA256SUMS: missing"):
        verify_checkpoint(d)


def test_newer_format_is_refused(tmp_path):
    d = tmp_path / "c"
    save_checkpoint(d, {"format_version": 99}, {}, {})
    with pytest.raises(CheckpointError, match="format_version 99 is not supported"):
        verify_checkpoint(d)
    assert json.loads((d / "medmint.json").read_text())["format_version"] == 99
