import hashlib
import json
import shutil
import struct
import time
from pathlib import Path

import pytest
import torch

from medmint.generators.diffusion.checkpoint import (
    CheckpointError,
    preflight_checkpoint,
    read_safetensors_header,
    save_checkpoint,
    verify_checkpoint,
)
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


def test_sentence_unit_makes_a_repeated_sentence_one_token_and_still_encodes_new_text(tmp_path):
    words = TextTokenizer.train(REPORTS, vocab_size=400)
    sentences = TextTokenizer.train(REPORTS, vocab_size=400, unit="sentence")
    for text in set(REPORTS):
        ids = sentences.encode(text)
        assert sentences.decode(ids) == text
        # a heading and each sentence: one token apiece where training repeated them
        assert len(ids) == text.count(".") + 2 < len(words.encode(text)) / 2
    unseen = join_sections("Zebra stripes over 42 ribs; new words.", "OK.")
    assert sentences.decode(sentences.encode(unseen)) == unseen  # from single characters
    strange = sentences.decode(sentences.encode("FINDINGS: wörd"))
    assert strange == "FINDINGS: w\ufffdrd"  # a character training never showed is one unknown mark
    sentences.save(tmp_path / "s.json")
    again = TextTokenizer.from_file(tmp_path / "s.json")
    assert again.encode(unseen) == sentences.encode(unseen)
    assert TextTokenizer.train(REPORTS, vocab_size=400, unit="sentence").to_str() == sentences.to_str()
    with pytest.raises(ValueError, match="unit"):
        TextTokenizer.train(REPORTS, unit="paragraph")


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


# --- pre-flight: hashes that match are not weights that load ------------------------------------

DEFAULT = Path(__file__).resolve().parents[2] / "checkpoints" / "default"


def _header(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def _pack(header: dict, data: bytes) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def rehash(directory: Path) -> None:
    """Rewrite SHA256SUMS for the files as they now are: the hashes match, whatever the bytes say."""
    names = [line.partition("  ")[2] for line in (directory / "SHA256SUMS").read_text().splitlines()]
    (directory / "SHA256SUMS").write_text(
        "".join(f"{hashlib.sha256((directory / n).read_bytes()).hexdigest()}  {n}\n" for n in names))


def _swap_a_shape(header: dict, data: bytes) -> bytes:
    name = next(k for k, v in header.items() if k != "__metadata__" and len(v["shape"]) == 2
                and v["shape"][0] != v["shape"][1])
    header[name]["shape"] = header[name]["shape"][::-1]  # same bytes, transposed: only the architecture tells
    return _pack(header, data)


def _drop_a_tensor(header: dict, data: bytes) -> bytes:
    from safetensors.torch import load, save

    tensors = load(_pack(header, data))
    tensors.pop(sorted(tensors)[0])
    return save(tensors)


CORRUPTIONS = {
    "shape": (_swap_a_shape, r"model\.safetensors: tensor '.+' has shape \(\d+, \d+\), medmint\.json's architecture "
                             r"needs \(\d+, \d+\)"),
    "header_json": (lambda h, d: b"\x10" + b"\0" * 7 + b"{not json at all" + d,
                    r"model\.safetensors: corrupt safetensors header \(not JSON"),
    "header_length": (lambda h, d: struct.pack("<Q", 1 << 40) + d, r"model\.safetensors: corrupt safetensors header "
                                                                  r"\(declares \d+ header bytes"),
    "truncated": (lambda h, d: _pack(h, d[:-1000]), r"model\.safetensors: truncated: the header describes \d+ bytes"),
    "offsets": (lambda h, d: _pack({**h, **{k: {**v, "data_offsets": [0, v["data_offsets"][1] - v["data_offsets"][0]]}
                                            for k, v in list(h.items())[-1:] if k != "__metadata__"}}, d),
                r"model\.safetensors: tensor '.+': overlaps the tensor before it"),
    "missing": (_drop_a_tensor, r"model\.safetensors: tensor '.+' missing, which medmint\.json's architecture needs"),
}


@pytest.fixture(scope="module")
def default_copy(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("ckpt") / "default"
    shutil.copytree(DEFAULT, d)
    return d


def test_preflight_passes_the_default_checkpoint_in_well_under_a_second(default_copy):
    preflight_checkpoint(default_copy)  # the first call imports torch and transformers
    started = time.perf_counter()
    ckpt = preflight_checkpoint(default_copy)
    assert ckpt.sha256 == verify_checkpoint(DEFAULT).sha256
    assert time.perf_counter() - started < 1.0  # measured: about 40 ms, hashing included


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_preflight_names_the_file_and_fault_of_a_corrupt_tensor_file_whose_hash_matches(kind, default_copy, tmp_path):
    corrupt, message = CORRUPTIONS[kind]
    d = tmp_path / "ckpt"
    shutil.copytree(default_copy, d)
    header, data = _header(d / "model.safetensors")
    (d / "model.safetensors").write_bytes(corrupt(header, data))
    rehash(d)
    verify_checkpoint(d)  # the hashes alone let it through
    with pytest.raises(CheckpointError, match=message) as err:
        preflight_checkpoint(d)
    assert "\n" not in str(err.value)


def test_preflight_checks_every_module_medmint_json_describes(default_copy, tmp_path):
    d = tmp_path / "ckpt"
    shutil.copytree(default_copy, d)
    manifest = json.loads((d / "medmint.json").read_text())
    manifest["critics"]["findings"]["config"]["feature_dim"] *= 2  # the classifier file no longer fits its config
    (d / "medmint.json").write_text(json.dumps(manifest))
    rehash(d)
    with pytest.raises(CheckpointError, match=r"critic_findings\.safetensors: tensor '.+' (has shape|missing)"):
        preflight_checkpoint(d)


def test_read_safetensors_header_of_a_short_file(tmp_path):
    (tmp_path / "x.safetensors").write_bytes(b"abc")
    with pytest.raises(CheckpointError, match=r"x\.safetensors: not a safetensors file \(3 bytes"):
        read_safetensors_header(tmp_path / "x.safetensors")
