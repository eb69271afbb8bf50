"""Configuration: config/default.yaml <- config/scales/<scale>.yaml <- overrides, validated
against config/schema.json before anything runs."""

import copy
import hashlib
import json

import jsonschema
import yaml

from fipbench import REPO_ROOT

CONFIG_DIR = REPO_ROOT / "config"


class ConfigError(ValueError):
    """A configuration that does not match config/schema.json; the message names the key."""


# Keys renamed so that each quantity has one name (old dotted key -> new name, same place):
# the continual FIP step's Euclidean length, the ensemble walk's perturbation relative to
# |w| (the attack's strength keeps `epsilons`), the memory kept per task (memory_per_task)
# and the memory drawn per step (memory_batch, A-GEM's too). An old key in a config fails
# naming its new one; configs recorded before the rename are read through `renamed`
# (fipbench.audit).
RENAMED = {
    **{f"continual_2task.{block}.epsilon": "step_length"
       for block in ("fip", "fip_normalised", "fip_exact", "fip_smooth")},
    "task_sequence.fip.epsilon": "step_length",
    "robustness.fip.epsilon": "relative_perturbation",
    "geometry.fip.epsilon": "relative_perturbation",
    "continual_2task.memory_size": "memory_per_task",
    "task_sequence.agem.sample_size": "memory_batch",
}


def renamed(cfg: dict) -> dict:
    """cfg (a resolved config, as a job records it) with every old key of RENAMED under its
    new name."""
    cfg = copy.deepcopy(cfg)
    for old, new in RENAMED.items():
        *parents, key = old.split(".")
        block = cfg
        for parent in parents:
            block = block.get(parent) if isinstance(block, dict) else None
        if isinstance(block, dict) and key in block:
            block[new] = block.pop(key)
    return cfg


def deep_merge(base: dict, override: dict) -> dict:
    """Return base updated by override, recursing into nested dicts."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


_SPELLS_NOTHING = object()
_MATCHES = {"integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "boolean": lambda v: isinstance(v, bool), "null": lambda v: v is None}


def _parsed(text: str):
    """text as the null, boolean, integer or float it spells, else _SPELLS_NOTHING."""
    lowered = text.strip().lower()
    if lowered in ("null", "none", "~"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return _SPELLS_NOTHING


def typed(value, schema: dict, root: dict):
    """value with every string that stands where `schema` wants a number, an integer, a
    boolean or null (and no string) replaced by the value it spells, recursing through
    mappings and lists. Snakemake's --config hands nested values over as strings
    (`'seeds=[0,1]'` arrives as ["0", "1"]); a string that spells nothing is left for
    validation to name."""
    while "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    if isinstance(value, dict):
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        return {key: typed(item, properties.get(key, extra if isinstance(extra, dict) else {}), root)
                for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item, schema.get("items", {}), root) for item in value]
    if not isinstance(value, str) or (parsed := _parsed(value)) is _SPELLS_NOTHING:
        return value
    if "enum" in schema:
        return parsed if value not in schema["enum"] and parsed in schema["enum"] else value
    kinds = schema.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    return parsed if "string" not in kinds and any(_MATCHES[k](parsed) for k in kinds if k in _MATCHES) else value


def validate(cfg: dict) -> None:
    """Raise ConfigError naming the first offending key (dotted path) of cfg."""
    schema = json.loads((CONFIG_DIR / "schema.json").read_text())
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(cfg), key=lambda e: list(e.path))
    if not errors:
        return
    error = errors[0]
    where = ".".join(str(p) for p in error.path)
    if error.validator == "additionalProperties":
        unknown = [f"{where}.{k}" if where else k
                   for k in sorted(set(error.instance) - set(error.schema.get("properties", {})))]
        for key in unknown:
            if key in RENAMED:
                new = key.rsplit(".", 1)[0] + "." + RENAMED[key]
                raise ConfigError(f"config key {key} was renamed: use {new} (config/default.yaml)")
        keys = ", ".join(unknown)
        raise ConfigError(f"unknown config key {keys} (see config/default.yaml for the known keys)")
    raise ConfigError(f"config key {where or '<root>'}: {error.message}")


def load(overrides: dict | None = None) -> dict:
    """Resolve the configuration: defaults, then the scale named in overrides (or the
    default scale), then the overrides themselves (their strings typed where the schema
    wants numbers, booleans or null: typed). Validated; raises ConfigError."""
    schema = json.loads((CONFIG_DIR / "schema.json").read_text())
    overrides = typed(overrides or {}, schema, schema)
    cfg = yaml.safe_load((CONFIG_DIR / "default.yaml").read_text())
    scale = overrides.get("scale", cfg["scale"])
    scale_file = CONFIG_DIR / "scales" / f"{scale}.yaml"
    if not scale_file.exists():
        raise ConfigError(f"config key scale: no scale file config/scales/{scale}.yaml")
    cfg = deep_merge(cfg, yaml.safe_load(scale_file.read_text()) or {})
    cfg = deep_merge(cfg, overrides)
    validate(cfg)
    return cfg


def config_hash(cfg: dict) -> str:
    """SHA-256 (hex, first 16 characters) of the canonical JSON of cfg."""
    return hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]
