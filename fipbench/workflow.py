"""Helpers of the Snakemake rules (kept out of the .smk files, which hold rules only)."""

import functools
import json
import os
from pathlib import Path

from fipbench.config import CONFIG_DIR
from fipbench.layout import seed_folder
from fipbench.studies.bert_paths import path_spec


def job_config(cfg: dict, *sections: str) -> str:
    """JSON of the config sections a job depends on (with scale, device, threads, precision and data),
    passed to the job as its overrides: a change elsewhere in the config does not make
    Snakemake rerun it. A study's `tune` grid and its `methods`, `networks` and `states`
    lists are left out: they decide which jobs exist (a job sees its grid's choice through
    its chosen.json input), so adding a method, a network or a grid value does not rerun
    the other jobs."""
    return json.dumps(_job_settings(cfg, *sections), sort_keys=True)


COMMON_KEYS = ("scale", "device", "threads", "precision", "data")  # in every job's config
# a study's keys that decide which jobs exist, not what one job does
WHICH_JOBS = ("tune", "methods", "networks", "states")


def _job_settings(cfg: dict, *sections: str) -> dict:
    selected = {key: cfg[key] for key in COMMON_KEYS}
    for section in sections:
        selected[section] = {k: v for k, v in cfg[section].items() if k not in WHICH_JOBS}
    return selected


def part_count(sgd: dict) -> int:
    """Jobs a training recipe is split into: ceil(epochs / part_epochs), 1 without part_epochs."""
    return -(-sgd["epochs"] // sgd["part_epochs"]) if sgd.get("part_epochs") else 1


def reach_part_count(reach: dict) -> int:
    """Jobs FIP's reach walk is split into: ceil(max_cycles / cycles_per_part), 1 without
    cycles_per_part (which must be a multiple of record_every, so that a part ends on a
    saved point)."""
    per_part = reach.get("cycles_per_part")
    if not per_part:
        return 1
    if per_part % reach["record_every"]:
        raise ValueError(f"robustness.fip.reach.cycles_per_part ({per_part}) must be a multiple of its "
                         f"record_every ({reach['record_every']})")
    return -(-reach["max_cycles"] // per_part)


def lth_levels(targets: list[float], fraction: float) -> list[float]:
    """Sparsities (%) of LTH's pruning levels (baselines/lth.py): each level prunes `fraction`
    of the weights that remain, except that a level which would pass a target stops exactly
    on it. lth_levels([50], 0.2) -> [20, 36, 48.8, 50]."""
    sequence, current = [], 0.0
    for target in sorted(targets):
        while current < target:
            current = min(100 - (100 - current) * (1 - fraction), target)
            sequence.append(round(current, 6))
    return sequence


def lth_part_levels(settings: dict, part: int | None = None) -> tuple[range, int]:
    """(the levels, numbered from 1, that part `part` of a network's LTH runs, the number of
    parts) when its lth.levels_per_part splits the levels into jobs; one part without it;
    part None: the last."""
    count = len(lth_levels(settings["sparsities"], settings["lth"]["fraction"]))
    per_part = settings["lth"].get("levels_per_part") or count
    parts = -(-count // per_part)
    part = parts - 1 if part is None else part
    if not 0 <= part < parts:
        raise ValueError(f"LTH has parts 0..{parts - 1} ({count} levels, {per_part} a part), not {part}")
    return range(part * per_part + 1, min((part + 1) * per_part, count) + 1), parts


def tune_grid(study_cfg: dict, method: str) -> list[tuple[str, float]]:
    """[(parameter, value)] of a method's validation grid; [] when it has none."""
    return [(name, value) for name, values in study_cfg["tune"].get(method, {}).items() for value in values]


# The keys of a sparsity network's settings its dense training (each part of it) reads,
# and of its lth block the iterate it keeps for LTH's rewinding
SPARSITY_DENSE_KEYS = ("dataset", "train_images", "train")


def network_config(cfg: dict, network: str, dense: bool = False) -> str:
    """job_config of a sparsity job: only its network's settings from the sparsity section,
    so that changing another network's settings does not rerun it; for its dense training
    (dense) only the keys that training reads, so that changing a method's settings does
    not retrain the dense network."""
    selected = _job_settings(cfg)
    settings = cfg["sparsity"][network]
    if dense:
        settings = {**{key: settings[key] for key in SPARSITY_DENSE_KEYS},
                    "lth": {"rewind_step": settings["lth"]["rewind_step"]}}
    selected["sparsity"] = {network: settings}
    return json.dumps(selected, sort_keys=True)


# The keys of the robustness section each kind of its jobs reads (the others belong to other
# jobs, or decide which jobs exist: methods, trials).
ROBUSTNESS_NETWORK = ("network", "width", "dataset", "train")
ROBUSTNESS_JOB_KEYS = {
    "network": ROBUSTNESS_NETWORK,
    "calibration": ROBUSTNESS_NETWORK + ("attack", "calibration"),
    "transfer": ROBUSTNESS_NETWORK + ("attack", "surrogate_seed"),
    "attack": ROBUSTNESS_NETWORK + ("attack", "analysis"),
}
# and a build job's, by method (FIP's reach is scored under attack and by diversity)
ENSEMBLE_KEYS = {"fip": ("fip", "attack", "analysis"), "fge": ("fge",), "adp": ("adp",), "deepnet": ()}


def robustness_config(cfg: dict, job: str, method: str | None = None) -> str:
    """job_config of a robustness job: of its section, the keys a job of kind `job`
    (ROBUSTNESS_JOB_KEYS, or "build" for the members of ensemble `method`) reads, so that
    changing one method's or the attack's settings does not rerun the networks and the
    other methods."""
    keys = (ROBUSTNESS_NETWORK + ("bn_images", "members", "pool") + ENSEMBLE_KEYS[method] if job == "build"
            else ROBUSTNESS_JOB_KEYS[job])
    selected = _job_settings(cfg)
    selected["robustness"] = {key: cfg["robustness"][key] for key in keys}
    return json.dumps(selected, sort_keys=True)


CONTINUAL_STUDIES = ("continual_2task", "task_sequence")  # a job per method x seed; a job sees only its method's block


@functools.cache
def method_names(study: str) -> tuple[str, ...]:
    """Every method a study's `methods` list may name (config/schema.json, read once)."""
    schema = json.loads((CONFIG_DIR / "schema.json").read_text())
    return tuple(schema["properties"][study]["properties"]["methods"]["items"]["enum"])


def method_config(cfg: dict, study: str, method: str | None = None) -> str:
    """job_config of a job of a continual-learning study: its section keeps, of the methods'
    blocks, only `method`'s (none for the network every method starts from) and FIP's
    (every method's memory distance is measured in FIP's distance), so that adding a
    method or changing another baseline's settings does not rerun this job."""
    selected = _job_settings(cfg, study)
    others = set(method_names(study)) - {method, "fip"}
    selected[study] = {key: value for key, value in selected[study].items() if key not in others}
    return json.dumps(selected, sort_keys=True)


def expected_job_config(cfg: dict, folder: Path) -> dict:
    """What the rules pass today to the job whose results folder is `folder` (relative to
    results/<scale>: <study>/..., sparsity/<network>/...): job_config of its study's
    section, network_config for a sparsity job (dense=True under <network>/dense/), robustness_config for a robustness job
    (network/, calibration/, transfer/, build/<method>/, or <method>/ for its attack job),
    method_config (for the first folder that names a method) in CONTINUAL_STUDIES."""
    study, *rest = Path(folder).parts
    if study == "sparsity":
        return json.loads(network_config(cfg, rest[0], dense=rest[1:2] == ["dense"]))
    if study == "robustness":
        kind = rest[0] if rest[0] in ROBUSTNESS_JOB_KEYS or rest[0] == "build" else "attack"
        return json.loads(robustness_config(cfg, kind, rest[1] if kind == "build" else None))
    if study in CONTINUAL_STUDIES:
        method = next((part for part in rest if part in method_names(study)), None)
        return json.loads(method_config(cfg, study, method))
    return json.loads(job_config(cfg, *([study] if study in cfg else [])))


def bert_start(results: str, work: str, seed: int, path: str) -> list[str]:
    """The inputs a BERT path job starts from: its start path's metrics.json and the
    tasks.json its node folder ends with; [] for the base path."""
    start = path_spec(path)[2]
    if start is None:
        return []
    return [str(seed_folder(results, start, seed=seed) / "metrics.json"), str(seed_folder(work, start, seed=seed) / "tasks.json")]


def release_stale_locks(workdir: Path) -> list[Path]:
    """Remove Snakemake's lock files under workdir/.snakemake/locks when no other Snakemake
    process runs in workdir: they are what a Snakemake killed mid-run leaves, and the
    README's command would stop on them until `snakemake --unlock`. A lock held by a live
    run is kept, so a second run on overlapping targets is still refused. Linux only (it
    reads /proc); elsewhere nothing is removed. Returns the files removed."""
    locks = sorted((Path(workdir) / ".snakemake" / "locks").glob("*.lock"))
    if not locks or not Path("/proc").is_dir():
        return []
    here = Path(workdir).resolve()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")[:3]
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:  # gone, or not ours to read
            continue
        if any(b"snakemake" in part for part in command) and cwd == here:
            return []
    for lock in locks:
        lock.unlink(missing_ok=True)
    return locks
