"""Configuration: every scale resolves and validates; bad keys are named."""

import json
from pathlib import Path

import pytest

from fipbench.config import RENAMED, ConfigError, config_hash, load, renamed
from fipbench.workflow import expected_job_config, network_config


@pytest.mark.parametrize("scale", ["smoke", "laptop", "paper"])
def test_every_scale_validates(scale):
    cfg = load({"scale": scale})
    assert cfg["scale"] == scale


def test_paper_scale_has_the_papers_settings():
    cfg = load({"scale": "paper"})
    assert len(cfg["seeds"]) == 5
    base = cfg["continual_2task"]["base"]
    assert (base["epochs"], base["lr"], base["momentum"]) == (10, 0.001, 0.9)
    assert cfg["data"]["n_train"] is None


@pytest.mark.parametrize("scale", ["laptop", "paper"])
def test_every_tuned_method_searches_the_same_number_of_values(scale):
    """The tuning budget is the same for FIP and every baseline with a knob, in both
    continual-learning studies, and wide enough (5 values) to have an inside."""
    cfg = load({"scale": scale})
    for study in ("continual_2task", "task_sequence"):
        sizes = {method: len(values) for method, grid in cfg[study]["tune"].items() for values in grid.values()}
        assert set(sizes.values()) == {5} and {"fip", "ewc", "gem"} <= set(sizes), (study, sizes)


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match="continual_2task.fip.betta"):
        load({"continual_2task": {"fip": {"betta": 1.0}}})


def test_wrong_type_is_named():
    with pytest.raises(ConfigError, match="continual_2task.memory_per_task"):
        load({"continual_2task": {"memory_per_task": "many"}})


@pytest.mark.parametrize("old", sorted(RENAMED))
def test_an_old_key_fails_naming_its_new_one(old):
    *parents, key = old.split(".")
    override = {key: 1}
    for parent in reversed(parents):
        override = {parent: override}
    new = ".".join(parents + [RENAMED[old]])
    with pytest.raises(ConfigError, match=f"config key {old} was renamed: use {new}"):
        load(override)


def test_a_config_recorded_before_the_renames_reads_as_todays():
    """Old keys of a recorded config move to their new names; nothing else changes."""
    today = load({"scale": "laptop"})
    recorded = renamed(today)
    assert recorded == today
    for old, new in RENAMED.items():
        *parents, key = old.split(".")
        block = recorded
        for parent in parents:
            block = block[parent]
        block[key] = block.pop(new)
    assert recorded != today and renamed(recorded) == today


def test_hash_follows_the_config():
    assert config_hash(load({})) == config_hash(load({}))
    assert config_hash(load({})) != config_hash(load({"seeds": [7]}))


def test_override_strings_become_numbers_only_where_the_schema_wants_numbers():
    """Snakemake's --config gives nested values as strings: they are typed by the schema
    (numbers, integers, null), strings stay strings where a string is wanted, and a
    string that spells no number is still named by validation."""
    cfg = load({"scale": "smoke", "seeds": ["0", "1"], "data": {"n_train": "null"},
                "continual_2task": {"fip": {"beta": "0.5"}, "new_task": {"lr": "1e-3"}},
                "bert": {"model": "123"}})
    assert cfg["seeds"] == [0, 1] and cfg["data"]["n_train"] is None
    assert cfg["continual_2task"]["fip"]["beta"] == 0.5 and cfg["continual_2task"]["new_task"]["lr"] == 0.001
    assert cfg["bert"]["model"] == "123"
    with pytest.raises(ConfigError, match="continual_2task.fip.beta: 'half' is not of type 'number'"):
        load({"scale": "smoke", "continual_2task": {"fip": {"beta": "half"}}})


def test_a_dense_sparsity_network_is_configured_by_its_training_only():
    """The dense training's jobs get their network's dataset, recipe and LTH's rewind step,
    so that a change to a method's settings (FIP, fine-tuning, LTH's schedule) leaves the
    trained network standing, while a change to the recipe retrains it; the audit expects
    the same of a committed dense result."""
    cfg = load({"scale": "paper"})
    methods_changed = load({"scale": "paper", "sparsity": {"resnet20": {
        "finetune": {"augment": False}, "fip": {"steps": 10}, "lth": {"fraction": 0.5}}}})
    assert network_config(cfg, "resnet20", dense=True) == network_config(methods_changed, "resnet20", dense=True)
    assert network_config(cfg, "resnet20") != network_config(methods_changed, "resnet20")
    for retrained in ({"train": {"epochs": 100}}, {"lth": {"rewind_step": 10}}, {"train_images": 100}):
        changed = load({"scale": "paper", "sparsity": {"resnet20": retrained}})
        assert network_config(cfg, "resnet20", dense=True) != network_config(changed, "resnet20", dense=True)
    assert expected_job_config(cfg, Path("sparsity/resnet20/dense/seed0")) == json.loads(
        network_config(cfg, "resnet20", dense=True))
    assert expected_job_config(cfg, Path("sparsity/resnet20/fip/seed0")) == json.loads(network_config(cfg, "resnet20"))


def test_the_audit_compares_a_dense_result_on_what_its_training_reads():
    """A dense network recorded with its network's whole section (as the jobs were given it
    before the narrowing) is current when only a method's settings differ, stale when its
    recipe does; a key today's config has dropped is reported at any depth."""
    from fipbench.audit import first_difference, projected

    cfg = load({"scale": "paper"})
    expected = json.loads(network_config(cfg, "resnet20", dense=True))
    recorded = json.loads(network_config(load({"scale": "paper", "sparsity": {"resnet20": {"fip": {"steps": 10}}}}),
                                         "resnet20"))
    assert first_difference(projected(recorded, expected, cfg), expected) is None
    recorded["sparsity"]["resnet20"]["train"]["epochs"] = 100
    assert "sparsity.resnet20.train.epochs" in first_difference(projected(recorded, expected, cfg), expected)
    recorded["sparsity"]["resnet20"]["train"] = {**expected["sparsity"]["resnet20"]["train"], "dropped_knob": 1}
    assert "dropped_knob" in first_difference(projected(recorded, expected, cfg), expected)
