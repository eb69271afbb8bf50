# Configuration, resolved and validated before any job runs, and shared names. Jobs run
# `python -m fipbench.cli` from the repository root, so they import this checkout's code.
import json
import os
import sys

from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, workflow.basedir)

from fipbench.config import load  # noqa: E402
from fipbench.layout import sparsity_seeds  # noqa: E402
from fipbench.studies.bert_paths import all_paths  # noqa: E402
from fipbench.workflow import (bert_start, job_config, lth_part_levels, method_config, network_config,  # noqa: E402
                                part_count, reach_part_count, release_stale_locks, robustness_config,
                                tune_grid)

CFG = load(config)  # raises ConfigError naming the key: the workflow stops before any job
if workflow.is_main_process and (stale := release_stale_locks(os.getcwd())):
    print(f"fipbench: removed {len(stale)} stale Snakemake lock(s) (no Snakemake runs in this folder; "
          "a run killed mid-way leaves them)", file=sys.stderr)
SCALE = CFG["scale"]
RESULTS = f"results/{SCALE}"
CFG_JSON = json.dumps(CFG, sort_keys=True)
GPU = 1 if SCALE == "paper" else 0  # resource request for the SLURM profile


def sp_previous_part(wc, last=False):
    """The saved state a part of the dense training resumes from ([] for the first part)."""
    part = part_count(SP[wc.network]["train"]) - 1 if last else int(wc.part)
    return [] if part == 0 else [f"{SP_WORK}/{wc.network}/dense/seed{wc.seed}/part{part - 1}.pt"]


def sp_lth_previous(wc, last=False):
    """The saved state a part of LTH's levels goes on from ([] for the first part, and for
    every method but lth at the last)."""
    if last and wc.method != "lth":
        return []
    part = lth_part_levels(SP[wc.network])[1] - 1 if last else int(wc.part)
    return [] if part == 0 else [f"{SP_WORK}/{wc.network}/lth/seed{wc.seed}/part{part - 1}.pt"]


def sp_lth_parts(wc):
    """An LTH job's folder of its parts (lth.levels_per_part), as a command-line option."""
    if not SP[wc.network]["lth"].get("levels_per_part"):
        return ""
    return f"--work {SP_WORK}/{wc.network}/lth/seed{wc.seed}"


def rb_previous_part(wc, last=False):
    """The saved state a part of a network's training resumes from ([] for the first part)."""
    part = part_count(RB["train"]) - 1 if last else int(wc.part)
    return [] if part == 0 else [f"{RB_WORK}/network/seed{wc.seed}/part{part - 1}.pt"]


def rb_reach_previous(wc, last=False):
    """The marker of the part of FIP's reach walk a part goes on from ([] for the first
    part, and for every method but fip at the last)."""
    if last and wc.ensemble != "fip":
        return []
    part = reach_part_count(RB["fip"]["reach"]) - 1 if last else int(wc.part)
    return [] if part == 0 else [f"{RB_WORK}/fip/seed{wc.trial}/reach_part{part - 1}.json"]


def rb_starts(wc) -> list[str]:
    """The pool networks a trial of an ensemble method starts from: DeepNet's members
    (baselines/deepnet.py: disjoint trials), pool network trial % pool for FIP and FGE;
    ADP trains its members itself."""
    trial = int(wc.trial)
    if wc.ensemble == "deepnet":
        return [RB_MODEL.format(seed=s) for s in members_of_trial(list(range(RB["pool"])), RB["members"], trial)]
    return [] if wc.ensemble == "adp" else [RB_MODEL.format(seed=trial % RB["pool"])]
