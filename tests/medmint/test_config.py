from pathlib import Path

import pytest

from medmint.config import ConfigError, config_sha256, load_config
from tests.conftest import CONFIGS


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("name, generator", [("demo.yaml", "diffusion"), ("demo-phantom.yaml", "phantom"),
                                             ("demo-balanced.yaml", "phantom"),
                                             ("demo-balanced-diffusion.yaml", "diffusion")])
def test_demo_configs_merge_their_defaults_tree(name, generator):
    cfg = load_config(CONFIGS / name)
    assert cfg.generator.name == generator  # from generator/<name>.yaml
    assert cfg.runner.runner == "FnApiRunner"  # from runner/local.yaml
    assert cfg.output.shard_rows == 256  # from output/default.yaml
    assert cfg.target.total >= 32
    if generator == "diffusion":
        assert cfg.generator.checkpoint == "checkpoints/default"


def test_own_keys_win_over_defaults_and_set_wins_over_both(tmp_path):
    write(tmp_path / "base.yaml", "generator: {batch_size: 4, phantom: {size: 128}}\n")
    top = write(tmp_path / "top.yaml", "defaults: [base.yaml]\ngenerator: {batch_size: 8}\ntarget: {total: 5}\n")
    cfg = load_config(top)
    assert (cfg.generator.batch_size, cfg.generator.phantom.size) == (8, 128)
    cfg = load_config(top, ["generator.phantom.size=64", "target.views={PA: 1.0}"])
    assert cfg.generator.phantom.size == 64 and cfg.target.views == {"PA": 1.0}


def test_unknown_key_names_the_file_that_set_it(tmp_path):
    write(tmp_path / "base.yaml", "generator: {batchsize: 4}\n")
    top = write(tmp_path / "top.yaml", "defaults: [base.yaml]\ntarget: {total: 5}\n")
    with pytest.raises(ConfigError) as err:
        load_config(top)
    msg = str(err.value)
    assert msg.startswith(str(tmp_path / "base.yaml")) and "unknown key 'generator.batchsize'" in msg
    assert "\n" not in msg


@pytest.mark.parametrize("override, message", [
    ("nosuch.deep.key=1", "--set nosuch.deep.key: unknown key 'nosuch'"),
    ("target.nosuch.deep=1", "--set target.nosuch.deep: unknown key 'target.nosuch'"),
    ("generator.phantom.nosuch=1", "--set generator.phantom.nosuch: unknown key 'generator.phantom.nosuch'"),
])
def test_an_unknown_key_that_set_adds_is_blamed_on_set_not_the_file(override, message):
    with pytest.raises(ConfigError) as err:
        load_config(CONFIGS / "demo-phantom.yaml", [override])
    assert str(err.value) == message


@pytest.mark.parametrize(
    "override, expected",
    [
        ("generator.batch_size=many", "'generator.batch_size'"),
        ("generator.phantom.size=4096", "'generator.phantom.size'"),
        ("output.uid_root=1.2.3", "'output.uid_root'"),
        ("target.views={PA: -1}", "'target.views'"),
        ("generator.name=gan", "'generator.name'"),
    ],
)
def test_wrong_values_name_key_and_source(override, expected):
    with pytest.raises(ConfigError) as err:
        load_config(CONFIGS / "demo.yaml", [override])
    assert str(err.value).startswith(f"--set {override.split('=')[0]}:") and expected in str(err.value)


def test_missing_required_key_and_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="missing required key 'target'"):
        load_config(write(tmp_path / "a.yaml", "seed: 1\n"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"b.yaml: line \d+ not valid YAML"):
        load_config(write(tmp_path / "b.yaml", "seed: 1\ntarget: {total: [\n"))
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(write(tmp_path / "c.yaml", "- 1\n- 2\n"))
    with pytest.raises(ConfigError, match="includes itself"):
        load_config(write(tmp_path / "d.yaml", "defaults: [d.yaml]\n"))
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_config(CONFIGS / "demo.yaml", ["seed"])


def test_hash_depends_on_effective_values_only(tmp_path):
    a = write(tmp_path / "a.yaml", "seed: 3\ntarget: {total: 5, task: joint}\n")
    b = write(tmp_path / "b.yaml", "target: {task: joint, total: 5}\nseed: 3\ngenerator: {name: phantom}\n")
    assert config_sha256(load_config(a)) == config_sha256(load_config(b))
    assert config_sha256(load_config(a)) != config_sha256(load_config(a, ["seed=4"]))


@pytest.mark.parametrize("name", sorted(p.name for p in (CONFIGS / "train").glob("*.yaml")))
def test_every_training_recipe_validates(name):
    from medmint.config import load_train_config

    cfg = load_train_config(CONFIGS / "train" / name)
    assert cfg.model.steps >= 1 and cfg.image_tokenizer.resolution % cfg.image_tokenizer.downsample == 0
